//! A template slot of an event (category × channel): its editor beside the live preview.
//! The preview renders the draft on the server with sample guest data, the event's brand and
//! the platform's compliance blocks (email HTML in a sandboxed frame, SMS text with its
//! segment count); htmx refreshes it as one types, and without JavaScript the Preview button
//! does. Saving customises the slot for the event; a template that does not compile is
//! refused with the error at its line, and the draft is kept.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use herald::config::TemplateContent;
use herald::domain::{Channel, TemplateCategory};
use herald::render::{RenderContext, render_message};
use serde_json::{Value, json};

use super::events::{attempt, here};
use super::{Here, TenantParam, id, issues, not_found};
use crate::ConsoleState;
use crate::call::Problem;
use crate::form::{Fields, Posted};
use crate::session::Signed;
use crate::view;

/// The slot's effective template (`None`: missing at every layer).
async fn effective(
    here: &Here<'_>,
    event: &str,
    category: &str,
    channel: &str,
) -> Result<Option<Value>, Response> {
    let list = here
        .get(&format!(
            "/api/v1/communication/templates/effective?event_id={event}"
        ))
        .await?;
    Ok(list["items"]
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .find(|i| i["category"] == category && i["channel"] == channel)
        })
        .cloned())
}

/// The slot's channel, when the URL names an event id and a real category and channel.
fn slot(event_id: &str, category: &str, channel: &str) -> Option<Channel> {
    id(event_id)?;
    category.parse::<TemplateCategory>().ok()?;
    channel.parse().ok()
}

fn draft_of(fields: &Fields) -> TemplateContent {
    let keep = |name: &str| Some(fields.text(name)).filter(|t| !t.trim().is_empty());
    TemplateContent {
        subject: keep("subject"),
        html: keep("html"),
        text: keep("text"),
    }
}

/// The draft rendered as the preview shows it: the rendered message, or its syntax errors.
async fn preview_of(
    here: &Here<'_>,
    event: &str,
    channel: Channel,
    draft: &TemplateContent,
) -> Value {
    let (compliance, wizard) = tokio::join!(
        here.get("/api/v1/communication/compliance"),
        here.get(format!("/api/v1/events/{event}/wizard")),
    );
    let compliance: Vec<herald::config::ComplianceBlock> = compliance
        .ok()
        .and_then(|c| serde_json::from_value(c["items"].clone()).ok())
        .unwrap_or_default();
    let mut sample = RenderContext::sample();
    if let Ok(w) = wizard {
        let brand: BTreeMap<String, String> = w["steps"]["brand"]
            .as_array()
            .map(|fields| {
                fields
                    .iter()
                    .filter_map(|f| {
                        Some((
                            f["field"].as_str()?.to_owned(),
                            f["value"].as_str()?.to_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        sample.brand.extend(brand);
    }
    match render_message(channel, draft, &sample, &compliance) {
        Ok(rendered) => json!({ "ok": true, "rendered": rendered }),
        Err(errors) => json!({ "ok": false, "errors": errors }),
    }
}

#[allow(clippy::too_many_arguments)]
async fn render_editor(
    here: &Here<'_>,
    event_id: &str,
    category: &str,
    channel: Channel,
    draft: Option<TemplateContent>,
    status: StatusCode,
    errors: Vec<Value>,
    notice: Option<String>,
) -> Response {
    let event = attempt!(here.event(event_id).await);
    let current = attempt!(effective(here, event_id, category, channel.as_str()).await);
    let stored: TemplateContent = current
        .as_ref()
        .and_then(|c| serde_json::from_value(c["template"].clone()).ok())
        .unwrap_or(TemplateContent {
            subject: None,
            html: None,
            text: None,
        });
    let draft = draft.unwrap_or(stored);
    let preview = preview_of(here, event_id, channel, &draft).await;
    view::page_status(
        here.who,
        status,
        "console/template.html",
        crate::ctx! {
            q => here.q(), tenant_id => &here.tenant, event, category, channel => channel.as_str(),
            current, draft, preview, errors, notice,
            email => channel == Channel::Email,
        },
    )
}

pub async fn page(
    State(state): State<ConsoleState>,
    who: Signed,
    Path((event_id, category, channel)): Path<(String, String, String)>,
    Query(p): Query<TenantParam>,
) -> Response {
    let here = here!(state, who, p);
    let Some(channel) = slot(&event_id, &category, &channel) else {
        return not_found(&who);
    };
    render_editor(
        &here,
        &event_id,
        &category,
        channel,
        None,
        StatusCode::OK,
        Vec::new(),
        None,
    )
    .await
}

/// The preview of the posted draft: the fragment for htmx, else the editor with it.
pub async fn preview(
    State(state): State<ConsoleState>,
    Path((event_id, category, channel)): Path<(String, String, String)>,
    Query(q): Query<TenantParam>,
    posted: Posted,
) -> Response {
    let here = here!(state, posted.who, q);
    let Some(channel) = slot(&event_id, &category, &channel) else {
        return not_found(&posted.who);
    };
    let draft = draft_of(&posted.fields);
    if posted.htmx {
        let preview = preview_of(&here, &event_id, channel, &draft).await;
        return view::render_status(
            StatusCode::OK,
            "console/template_preview.html",
            crate::ctx! { preview, email => channel == Channel::Email },
        );
    }
    render_editor(
        &here,
        &event_id,
        &category,
        channel,
        Some(draft),
        StatusCode::OK,
        Vec::new(),
        None,
    )
    .await
}

/// Saves the draft as the event's template of the slot (creating the event's own when the
/// slot is inherited or missing), or switches the slot between inherited and customised.
pub async fn save(
    State(state): State<ConsoleState>,
    Path((event_id, category, channel)): Path<(String, String, String)>,
    Query(q): Query<TenantParam>,
    posted: Posted,
) -> Response {
    let here = here!(state, posted.who, q);
    let Some(channel) = slot(&event_id, &category, &channel) else {
        return not_found(&posted.who);
    };
    let back = |saved: &str| {
        let q = here.q();
        let sep = if q.is_empty() { '?' } else { '&' };
        view::see_other(&format!(
            "/console/events/{event_id}/wizard{q}{sep}saved={saved}#templates"
        ))
    };
    if let Some(mode) = posted.fields.get("switch") {
        let body = json!({ "category": category, "channel": channel.as_str(), "mode": mode });
        return match here
            .api
            .put(
                here.uri(&format!("/api/v1/events/{event_id}/wizard/templates")),
                &body,
            )
            .await
        {
            Ok(_) => back("template"),
            Err(p) => {
                render_editor(
                    &here,
                    &event_id,
                    &category,
                    channel,
                    None,
                    p.status,
                    issues(&p, &[]),
                    None,
                )
                .await
            }
        };
    }
    let draft = draft_of(&posted.fields);
    let current = attempt!(effective(&here, &event_id, &category, channel.as_str()).await);
    let own = current
        .as_ref()
        .filter(|c| c["source"] == "event")
        .map(|c| {
            (
                c["template"]["id"].as_str().unwrap_or_default().to_owned(),
                c["template"]["version"].clone(),
            )
        });
    let scope = format!("?event_id={event_id}");
    let result: Result<Value, Problem> = match own {
        Some((tid, stored_version)) => {
            // The version the editor was opened on, so a change made meanwhile is a conflict.
            let version = posted
                .fields
                .get("version")
                .and_then(|v| v.parse::<u64>().ok())
                .map_or(stored_version, Value::from);
            let body = json!({ "version": version, "subject": draft.subject, "html": draft.html, "text": draft.text });
            here.api
                .put(
                    here.uri(&format!(
                        "/api/v1/communication/templates/{}{scope}",
                        id(&tid).unwrap_or("x")
                    )),
                    &body,
                )
                .await
        }
        None => {
            let body = json!({ "category": category, "channel": channel.as_str(), "subject": draft.subject, "html": draft.html, "text": draft.text });
            here.api
                .post(
                    here.uri(&format!("/api/v1/communication/templates{scope}")),
                    &body,
                )
                .await
        }
    };
    match result {
        Ok(_) => back("template"),
        Err(p) if matches!(p.status.as_u16(), 400 | 409 | 422) => {
            let mut errors = issues(
                &p,
                &[("subject", "subject"), ("html", "html"), ("text", "text")],
            );
            if p.status == StatusCode::CONFLICT {
                errors = vec![json!({
                    "message": format!(
                        "Someone saved this template while you edited it (it is at version {}). Your draft is kept below: review it against theirs and save again.",
                        p.current_version.map_or("newer".to_owned(), |v| v.to_string())
                    ),
                    "anchor": "html",
                })];
            }
            render_editor(
                &here,
                &event_id,
                &category,
                channel,
                Some(draft),
                p.status,
                errors,
                None,
            )
            .await
        }
        Err(p) => here.problem(&p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_keeps_what_was_typed() {
        let f = Fields(vec![
            ("subject".into(), "Hi {{ guest.first_name }}".into()),
            ("html".into(), "<p>a</p>\r\n<p>b</p>".into()),
            ("text".into(), "  ".into()),
        ]);
        let d = draft_of(&f);
        assert_eq!(d.html.as_deref(), Some("<p>a</p>\n<p>b</p>"));
        assert_eq!(d.text, None);
        assert_eq!(slot("evt_1", "invitation", "sms"), Some(Channel::Sms));
        assert!(slot("evt_1", "nope", "sms").is_none());
        assert!(slot("evt/1", "invitation", "sms").is_none());
    }
}
