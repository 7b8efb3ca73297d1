//! Campaigns: an event's list and the form to create one (to send now, at a time, or keep as a
//! draft), a campaign's page with its live counts (polled by htmx while it sends) and what did
//! not go out grouped by reason, and sending and cancelling it.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use herald::domain::{Channel, TemplateCategory};
use serde_json::{Value, json};

use super::events::{attempt, event_utc, here};
use super::{Here, TenantParam, id, issues, not_found};
use crate::ConsoleState;
use crate::form::{Fields, Posted};
use crate::session::Signed;
use crate::view;

/// The reasons a recipient got no message, as the campaign counts them, in words.
const NOT_SENT: &[(&str, &str)] = &[
    ("failed", "every provider failed"),
    (
        "suppressed",
        "on the suppression list (bounced, complained, or added by hand)",
    ),
    ("no_consent", "no consent for this kind of message"),
    ("no_address", "no address for the campaign's channels"),
    ("frequency_capped", "over the guest's frequency cap"),
];

/// A campaign with how many recipients are done (sent or not, by reason), its percentage, and
/// whether it is still live (sending or scheduled).
pub fn with_progress(mut c: Value) -> Value {
    let counts = &c["counts"];
    let total = counts["total"].as_u64().unwrap_or(0);
    let done: u64 = std::iter::once("sent")
        .chain(NOT_SENT.iter().map(|(k, _)| *k))
        .map(|k| counts[k].as_u64().unwrap_or(0))
        .sum();
    let reasons: Vec<Value> = NOT_SENT
        .iter()
        .filter_map(|(k, why)| {
            let n = counts[*k].as_u64().unwrap_or(0);
            (n > 0).then(|| json!({ "reason": k, "why": why, "count": n }))
        })
        .collect();
    c["done"] = done.into();
    c["percent"] = (done * 100).checked_div(total).unwrap_or(0).into();
    c["reasons"] = reasons.into();
    c["live"] = matches!(c["status"].as_str(), Some("sending" | "scheduled")).into();
    c
}

async fn render_list(
    here: &Here<'_>,
    event_id: &str,
    status: StatusCode,
    errors: Vec<Value>,
    typed: Option<&Fields>,
) -> Response {
    let event = attempt!(here.event(event_id).await);
    let list = attempt!(
        here.get(format!(
            "/api/v1/communication/campaigns?event_id={event_id}"
        ))
        .await
    );
    let campaigns: Vec<Value> = list["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .rev()
        .map(with_progress)
        .collect();
    let typed = typed.map(|f| json!({
        "name": f.text("name"), "category": f.text("category"), "channels": f.all("channels"),
        "audience": f.text("audience"), "tags": f.text("tags"), "statuses": f.all("statuses"), "send_at": f.text("send_at"),
    }));
    view::page_status(
        here.who,
        status,
        "console/campaigns.html",
        crate::ctx! {
            q => here.q(), tenant_id => &here.tenant, event, campaigns, errors, typed,
            categories => TemplateCategory::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            channels => Channel::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        },
    )
}

pub async fn list(
    State(state): State<ConsoleState>,
    who: Signed,
    Path(event_id): Path<String>,
    Query(p): Query<TenantParam>,
) -> Response {
    let here = here!(state, who, p);
    render_list(&here, &event_id, StatusCode::OK, Vec::new(), None).await
}

/// The audience the form describes.
fn audience(f: &Fields) -> Value {
    match f.get("audience") {
        Some("tags") => json!({
            "kind": "tags",
            "tags": f.text("tags").split(',').map(str::trim).filter(|t| !t.is_empty()).collect::<Vec<_>>(),
        }),
        Some("rsvp") => json!({ "kind": "rsvp", "statuses": f.all("statuses") }),
        _ => json!({ "kind": "all" }),
    }
}

pub async fn create(
    State(state): State<ConsoleState>,
    Path(event_id): Path<String>,
    Query(q): Query<TenantParam>,
    posted: Posted,
) -> Response {
    let here = here!(state, posted.who, q);
    if id(&event_id).is_none() {
        return not_found(&posted.who);
    }
    let f = &posted.fields;
    let event = attempt!(here.event(&event_id).await);
    // The form's time is the event's local time.
    let send_at = match f.get("send_at") {
        None => None,
        Some(local) => {
            let local = if local.len() == 16 {
                format!("{local}:00")
            } else {
                local.to_owned()
            };
            match event_utc(&local, event["time_zone"].as_str().unwrap_or("UTC")) {
                Some(t) => Some(t),
                None => {
                    let errors = vec![
                        json!({ "field": "send_at", "message": "a date and time, e.g. 2027-04-30T09:00", "anchor": "send_at" }),
                    ];
                    return render_list(
                        &here,
                        &event_id,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        errors,
                        Some(f),
                    )
                    .await;
                }
            }
        }
    };
    let body = json!({
        "event_id": event_id,
        "name": f.get("name"),
        "category": f.get("category"),
        "channels": f.all("channels"),
        "audience": audience(f),
        "send_at": send_at,
    });
    let anchors = [
        ("name", "name"),
        ("category", "category"),
        ("channels", "channels"),
        ("audience", "audience"),
        ("send_at", "send_at"),
    ];
    let created = match here
        .api
        .post(here.uri("/api/v1/communication/campaigns"), &body)
        .await
    {
        Ok(c) => c,
        Err(p) if matches!(p.status.as_u16(), 400 | 409 | 422) => {
            return render_list(&here, &event_id, p.status, issues(&p, &anchors), Some(f)).await;
        }
        Err(p) => return here.problem(&p),
    };
    let cid = created["id"].as_str().unwrap_or_default().to_owned();
    if f.get("then") == Some("send")
        && let Err(p) = here
            .api
            .post(
                here.uri(&format!("/api/v1/communication/campaigns/{cid}/send")),
                &Value::Null,
            )
            .await
    {
        return campaign_page(&here, &cid, p.status, issues(&p, &[])).await;
    }
    view::see_other(&format!("/console/campaigns/{cid}{}", here.q()))
}

async fn campaign_page(
    here: &Here<'_>,
    cid: &str,
    status: StatusCode,
    errors: Vec<Value>,
) -> Response {
    let Some(cid) = id(cid) else {
        return not_found(here.who);
    };
    let campaign = attempt!(
        here.get(format!("/api/v1/communication/campaigns/{cid}"))
            .await
    );
    let event_id = campaign["event_id"].as_str().unwrap_or_default().to_owned();
    let event = attempt!(here.event(&event_id).await);
    view::page_status(
        here.who,
        status,
        "console/campaign.html",
        crate::ctx! { q => here.q(), event, campaign => with_progress(campaign), errors },
    )
}

pub async fn page(
    State(state): State<ConsoleState>,
    who: Signed,
    Path(cid): Path<String>,
    Query(p): Query<TenantParam>,
) -> Response {
    let here = here!(state, who, p);
    campaign_page(&here, &cid, StatusCode::OK, Vec::new()).await
}

/// The live counts (one read of the campaign), polled by htmx while it sends.
pub async fn live(
    State(state): State<ConsoleState>,
    who: Signed,
    Path(cid): Path<String>,
    Query(p): Query<TenantParam>,
) -> Response {
    let here = here!(state, who, p);
    let Some(cid) = id(&cid) else {
        return not_found(&who);
    };
    let campaign = attempt!(
        here.get(format!("/api/v1/communication/campaigns/{cid}"))
            .await
    );
    view::render_status(
        StatusCode::OK,
        "console/campaign_live.html",
        crate::ctx! { q => here.q(), campaign => with_progress(campaign) },
    )
}

async fn act(
    state: ConsoleState,
    cid: String,
    q: TenantParam,
    posted: Posted,
    action: &str,
) -> Response {
    let here = here!(state, posted.who, q);
    let Some(cid) = id(&cid) else {
        return not_found(&posted.who);
    };
    match here
        .api
        .post(
            here.uri(&format!("/api/v1/communication/campaigns/{cid}/{action}")),
            &Value::Null,
        )
        .await
    {
        Ok(_) => view::see_other(&format!("/console/campaigns/{cid}{}", here.q())),
        Err(p) if matches!(p.status.as_u16(), 400 | 409 | 422 | 502) => {
            campaign_page(&here, cid, p.status, issues(&p, &[])).await
        }
        Err(p) => here.problem(&p),
    }
}

pub async fn send(
    State(state): State<ConsoleState>,
    Path(cid): Path<String>,
    Query(q): Query<TenantParam>,
    posted: Posted,
) -> Response {
    act(state, cid, q, posted, "send").await
}

pub async fn cancel(
    State(state): State<ConsoleState>,
    Path(cid): Path<String>,
    Query(q): Query<TenantParam>,
    posted: Posted,
) -> Response {
    act(state, cid, q, posted, "cancel").await
}
