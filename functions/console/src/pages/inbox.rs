//! The inbox: the tenant's conversations by status, queue, priority and channel, searched by
//! words; a conversation's thread with its facts, what Herald did with each message, a form to
//! set status, queue and priority, and a reply box (the reply goes out on the guest's channel
//! through the transactional lane, as the API's route sends it).

use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse as _, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::events::{attempt, here};
use super::{Here, id, issues, not_found, query_string};
use crate::ConsoleState;
use crate::form::Posted;
use crate::session::Signed;
use crate::view;

/// The inbox's filters, as its form sends them.
#[derive(Debug, Default, Deserialize)]
pub struct InboxQuery {
    pub tenant_id: Option<String>,
    pub q: Option<String>,
    pub status: Option<String>,
    pub queue: Option<String>,
    pub priority: Option<String>,
    pub channel: Option<String>,
    /// `true`: escalated conversations only.
    pub escalated: Option<String>,
    pub event_id: Option<String>,
    pub cursor: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

pub async fn list(
    State(state): State<ConsoleState>,
    who: Signed,
    Query(f): Query<InboxQuery>,
) -> Response {
    let here = here!(state, who, f);
    let filters = [
        ("q", given(&f.q)),
        ("status", given(&f.status)),
        ("queue", given(&f.queue)),
        ("priority", given(&f.priority)),
        ("channel", given(&f.channel)),
        ("escalated", given(&f.escalated)),
        ("event_id", given(&f.event_id)),
    ];
    let shown: serde_json::Map<String, Value> = filters
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.unwrap_or_default().into()))
        .collect();
    let mut pairs = filters.to_vec();
    pairs.push(("cursor", given(&f.cursor)));
    pairs.push(("limit", Some("25")));
    let page = match here
        .api
        .get(here.uri(&format!(
            "/api/v1/communication/conversations{}",
            query_string(&pairs)
        )))
        .await
    {
        Ok(p) => p,
        // A filter the API refuses: the inbox says so above an empty list.
        Err(p) if p.status == StatusCode::BAD_REQUEST => {
            return here.page(
                "console/inbox.html",
                crate::ctx! { conversations => Vec::<Value>::new(), errors => issues(&p, &[]), filters => shown },
            );
        }
        Err(p) => return here.problem(&p),
    };
    let next_href = page["next_cursor"].as_str().map(|c| {
        let mut next = filters.to_vec();
        next.push(("cursor", Some(c)));
        next.push(("tenant_id", here.tenant.as_deref()));
        format!("/console/inbox{}", query_string(&next))
    });
    here.page(
        "console/inbox.html",
        crate::ctx! {
            conversations => page["items"].clone(), next_href, filters => shown,
            errors => Vec::<Value>::new(),
        },
    )
}

async fn render_thread(
    here: &Here<'_>,
    cid: &str,
    status: StatusCode,
    errors: Vec<Value>,
    typed: Option<&str>,
) -> Response {
    let Some(cid) = id(cid) else {
        return not_found(here.who);
    };
    let view = attempt!(
        here.get(format!(
            "/api/v1/communication/conversations/{cid}?limit=100"
        ))
        .await
    );
    let mut messages = view["messages"].as_array().cloned().unwrap_or_default();
    // Oldest first, as a thread reads.
    messages.reverse();
    let conversation = &view["conversation"];
    let event = match conversation["event_id"].as_str() {
        Some(e) => here.event(e).await.ok(),
        None => None,
    };
    view::page_status(
        here.who,
        status,
        "console/conversation.html",
        crate::ctx! {
            q => here.q(), tenant_id => &here.tenant, conversation, messages, event, errors,
            typed => typed.unwrap_or_default(),
            channels => ["email", "sms", "whatsapp"],
            statuses => ["open", "waiting", "closed"],
            priorities => ["low", "normal", "high", "urgent"],
        },
    )
}

/// An attachment of a guest's mail: 303 to its signed download URL (valid five minutes).
pub async fn attachment(
    State(state): State<ConsoleState>,
    who: Signed,
    Path((cid, mid, index)): Path<(String, String, String)>,
    Query(p): Query<super::TenantParam>,
) -> Response {
    let here = here!(state, who, p);
    let (Some(cid), Some(mid), Ok(index)) = (id(&cid), id(&mid), index.parse::<u32>()) else {
        return not_found(here.who);
    };
    let link = attempt!(
        here.get(format!(
            "/api/v1/communication/conversations/{cid}/messages/{mid}/attachments/{index}"
        ))
        .await
    );
    match link["url"].as_str() {
        Some(url) => axum::response::Redirect::to(url).into_response(),
        None => not_found(here.who),
    }
}

pub async fn thread(
    State(state): State<ConsoleState>,
    who: Signed,
    Path(cid): Path<String>,
    Query(p): Query<super::TenantParam>,
) -> Response {
    let here = here!(state, who, p);
    render_thread(&here, &cid, StatusCode::OK, Vec::new(), None).await
}

/// Sends the reply box's text.
pub async fn reply(
    State(state): State<ConsoleState>,
    Path(cid): Path<String>,
    Query(p): Query<super::TenantParam>,
    posted: Posted,
) -> Response {
    let here = here!(state, posted.who, p);
    let Some(cid) = id(&cid) else {
        return not_found(&posted.who);
    };
    let f = &posted.fields;
    let mut body = json!({ "text": f.text("text") });
    if let Some(c) = f.get("channel").filter(|c| !c.is_empty()) {
        body["channel"] = c.into();
    }
    let text = f.text("text");
    let sent = here
        .api
        .post(
            here.uri(&format!(
                "/api/v1/communication/conversations/{cid}/messages"
            )),
            &body,
        )
        .await;
    let anchors = [("text", "reply-text"), ("channel", "reply-channel")];
    after(&here, cid, sent, &anchors, Some(&text)).await
}

/// Sets status, queue and priority (with the version the page read).
pub async fn edit(
    State(state): State<ConsoleState>,
    Path(cid): Path<String>,
    Query(p): Query<super::TenantParam>,
    posted: Posted,
) -> Response {
    let here = here!(state, posted.who, p);
    let Some(cid) = id(&cid) else {
        return not_found(&posted.who);
    };
    let f = &posted.fields;
    let body = json!({
        "status": f.get("status"),
        "queue": f.get("queue").map(str::trim),
        "priority": f.get("priority"),
        "version": f.text("version").parse::<u64>().unwrap_or(0),
    });
    let sent = here
        .api
        .send(
            Method::PATCH,
            here.uri(&format!("/api/v1/communication/conversations/{cid}")),
            &body,
        )
        .await;
    after(&here, cid, sent, &[("queue", "queue")], None).await
}

/// After a form's API call: back to the thread (post/redirect/get), or the thread with the
/// problem's issues at their fields and what was typed.
async fn after(
    here: &Here<'_>,
    cid: &str,
    sent: Result<Value, crate::call::Problem>,
    anchors: &[(&str, &str)],
    typed: Option<&str>,
) -> Response {
    match sent {
        Ok(_) => view::see_other(&format!("/console/conversations/{cid}{}", here.q())),
        Err(p) if matches!(p.status.as_u16(), 400 | 409 | 422) => {
            render_thread(here, cid, p.status, issues(&p, anchors), typed).await
        }
        Err(p) => here.problem(&p),
    }
}
