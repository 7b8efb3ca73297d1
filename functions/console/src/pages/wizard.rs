//! The event setup wizard, step by step on one page: what the event sends, its providers
//! (each tested inline; a new one is tested before it is kept), templates (edited beside their
//! live preview, see [`super::template_editor`]), brand, the email sender with the DNS records
//! to publish, and the readiness report whose every blocker links to where it is fixed; then
//! completion, with its progress.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use herald::domain::{Channel, TemplateCategory};
use serde_json::{Value, json};

use super::events::{attempt, here};
use super::{Here, TenantParam, id, issues, not_found};
use crate::ConsoleState;
use crate::call::Problem;
use crate::form::Posted;
use crate::session::Signed;
use crate::view;

#[derive(Debug, Default, serde::Deserialize)]
pub struct WizardParam {
    pub tenant_id: Option<String>,
    /// What was just saved (post/redirect/get), for the notice.
    pub saved: Option<String>,
}

/// Where a readiness blocker's pointer (`templates/invitation/sms`, `providers/email/…`,
/// `brand/logo_url`, `email_sender`, `uses`, `journey/…`) is fixed.
pub fn fix_link(event: &str, pointer: &str, q: &str) -> String {
    let parts: Vec<&str> = pointer.split('/').collect();
    match parts.as_slice() {
        ["templates", category, channel, ..] => {
            format!("/console/events/{event}/wizard/templates/{category}/{channel}{q}")
        }
        ["providers", channel, ..] => {
            format!("/console/events/{event}/wizard{q}#providers-{channel}")
        }
        ["brand", field, ..] => format!("/console/events/{event}/wizard{q}#brand-{field}"),
        ["email_sender", ..] | ["sender", ..] | ["senders", ..] => {
            format!("/console/events/{event}/wizard{q}#sender")
        }
        ["journey", ..] => format!("/console/events/{event}/journey{q}"),
        ["compliance", ..] => "/api/v1/reference#tag-compliance".to_owned(),
        _ => format!("/console/events/{event}/wizard{q}#uses"),
    }
}

/// Everything the wizard page shows; `errors` and `notice` come from the form just posted.
pub async fn render(
    here: &Here<'_>,
    event_id: &str,
    status: StatusCode,
    errors: Vec<Value>,
    notice: Option<String>,
) -> Response {
    let event = attempt!(here.event(event_id).await);
    let (wizard, readiness, senders) = tokio::join!(
        here.get(format!("/api/v1/events/{event_id}/wizard")),
        here.api.post(
            here.uri(&format!("/api/v1/events/{event_id}/wizard/validate")),
            &Value::Null
        ),
        here.get("/api/v1/communication/senders"),
    );
    let wizard = attempt!(wizard);
    let q = here.q();
    let readiness = readiness.ok().map(|mut r| {
        if let Some(blockers) = r["blockers"].as_array_mut() {
            for b in blockers {
                b["href"] =
                    fix_link(event_id, b["pointer"].as_str().unwrap_or_default(), &q).into();
            }
        }
        r
    });
    // Each sender identity with its DNS records (one request each; a tenant has a few).
    let mut identities = Vec::new();
    if let Ok(list) = senders {
        for s in list["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .take(10)
        {
            let identity = s["identity"].as_str().unwrap_or_default();
            let path = format!(
                "/api/v1/communication/senders/{}",
                form_urlencoded::byte_serialize(identity.as_bytes()).collect::<String>()
            );
            if let Ok(detail) = here.get(&path).await {
                identities.push(detail);
            }
        }
    }
    let steps = &wizard["steps"];
    let uses = &steps["review"]["uses"];
    let channels: Vec<Value> = Channel::ALL
        .iter()
        .map(|c| json!({ "id": c.as_str(), "on": uses["channels"].as_array().is_some_and(|a| a.iter().any(|v| v == c.as_str())) }))
        .collect();
    let categories: Vec<Value> = TemplateCategory::ALL
        .iter()
        .map(|c| json!({ "id": c.as_str(), "on": uses["categories"].as_array().is_some_and(|a| a.iter().any(|v| v == c.as_str())) }))
        .collect();
    // Progress: the steps with nothing missing.
    let missing = |list: &Value| {
        list.as_array()
            .map(|a| {
                a.iter()
                    .filter(|i| i["mode"] == "missing" && i["used"] != false)
                    .count()
            })
            .unwrap_or(0)
    };
    let blockers = readiness
        .as_ref()
        .and_then(|r| r["blockers"].as_array().map(Vec::len))
        .unwrap_or(0);
    let done = [
        missing(&steps["providers"]) == 0,
        missing(&steps["templates"]) == 0,
        steps["email_sender"]["mode"] != "missing",
        blockers == 0,
    ];
    let progress = done.iter().filter(|d| **d).count() * 100 / done.len();
    view::page_status(
        here.who,
        status,
        "console/wizard.html",
        crate::ctx! {
            q, tenant_id => &here.tenant, event, steps => steps.clone(), readiness, identities,
            channels, categories, errors, notice, progress,
            completion => steps["review"]["completion"].clone(),
            kinds => ["ses", "sns", "twilio", "brevo", "sendgrid", "whatsapp_cloud"],
        },
    )
}

fn saved_notice(saved: Option<&str>) -> Option<String> {
    Some(
        match saved? {
            "uses" => "Saved what the event sends.",
            "providers" => "Saved the providers' layer.",
            "provider" => "The provider's connection test passed, and it is saved.",
            "brand" => "Saved the brand.",
            "sender" => "Saved the email sender.",
            "template" => "Saved the template.",
            "complete" => "Completion requested: the configuration is being resolved and checked.",
            _ => return None,
        }
        .to_owned(),
    )
}

pub async fn page(
    State(state): State<ConsoleState>,
    who: Signed,
    Path(event_id): Path<String>,
    Query(p): Query<WizardParam>,
) -> Response {
    let here = here!(
        state,
        who,
        TenantParam {
            tenant_id: p.tenant_id.clone()
        }
    );
    render(
        &here,
        &event_id,
        StatusCode::OK,
        Vec::new(),
        saved_notice(p.saved.as_deref()),
    )
    .await
}

/// After a change: back to the wizard (post/redirect/get), or the page again with the
/// problem and the posted values when the API refused it.
pub(crate) async fn after(
    here: &Here<'_>,
    event_id: &str,
    result: Result<Value, Problem>,
    saved: &str,
    anchor: &str,
    anchors: &[(&str, &str)],
) -> Response {
    match result {
        Ok(_) => {
            let q = here.q();
            let sep = if q.is_empty() { '?' } else { '&' };
            view::see_other(&format!(
                "/console/events/{event_id}/wizard{q}{sep}saved={saved}#{anchor}"
            ))
        }
        Err(p) if matches!(p.status.as_u16(), 400 | 409 | 422) => {
            render(here, event_id, p.status, issues(&p, anchors), None).await
        }
        Err(p) => here.problem(&p),
    }
}

/// PUTs one wizard step (`uses`, `providers`, `brand`, `email-sender`), then answers as
/// [`after`] does.
async fn put_step(
    here: &Here<'_>,
    event_id: &str,
    step: &str,
    body: &Value,
    (saved, anchor): (&str, &str),
    anchors: &[(&str, &str)],
) -> Response {
    let result = here
        .api
        .put(
            here.uri(&format!("/api/v1/events/{event_id}/wizard/{step}")),
            body,
        )
        .await;
    after(here, event_id, result, saved, anchor, anchors).await
}

macro_rules! posted_here {
    ($state:expr, $posted:expr, $q:expr, $event:expr) => {{
        if id(&$event).is_none() {
            return not_found(&$posted.who);
        }
        here!($state, $posted.who, $q)
    }};
}
pub(crate) use posted_here;

pub async fn save_uses(
    State(state): State<ConsoleState>,
    Path(event_id): Path<String>,
    Query(q): Query<TenantParam>,
    posted: Posted,
) -> Response {
    let here = posted_here!(state, posted, q, event_id);
    let body = json!({
        "channels": posted.fields.all("channels"),
        "categories": posted.fields.all("categories"),
    });
    put_step(
        &here,
        &event_id,
        "uses",
        &body,
        ("uses", "uses"),
        &[
            ("channels", "uses-channels"),
            ("categories", "uses-categories"),
        ],
    )
    .await
}

pub async fn set_provider_mode(
    State(state): State<ConsoleState>,
    Path(event_id): Path<String>,
    Query(q): Query<TenantParam>,
    posted: Posted,
) -> Response {
    let here = posted_here!(state, posted, q, event_id);
    let channel = posted.fields.get("channel").unwrap_or_default().to_owned();
    let body = json!({ "channel": channel, "mode": posted.fields.get("mode") });
    put_step(
        &here,
        &event_id,
        "providers",
        &body,
        ("providers", &format!("providers-{channel}")),
        &[],
    )
    .await
}

pub async fn save_brand(
    State(state): State<ConsoleState>,
    Path(event_id): Path<String>,
    Query(q): Query<TenantParam>,
    posted: Posted,
) -> Response {
    let here = posted_here!(state, posted, q, event_id);
    let field = posted.fields.get("field").unwrap_or_default().to_owned();
    let mode = posted.fields.get("mode").unwrap_or("customise");
    let mut body = json!({ "field": field, "mode": mode });
    if mode == "customise"
        && let Some(v) = posted.fields.get("value")
    {
        body["value"] = v.into();
    }
    put_step(
        &here,
        &event_id,
        "brand",
        &body,
        ("brand", &format!("brand-{field}")),
        &[("value", &format!("brand-{field}"))],
    )
    .await
}

pub async fn save_sender(
    State(state): State<ConsoleState>,
    Path(event_id): Path<String>,
    Query(q): Query<TenantParam>,
    posted: Posted,
) -> Response {
    let here = posted_here!(state, posted, q, event_id);
    let mode = posted.fields.get("mode").unwrap_or("customise");
    let mut body = json!({ "mode": mode });
    if mode == "customise" {
        body["from_address"] = posted.fields.get("from_address").into();
        if let Some(name) = posted.fields.get("from_name") {
            body["from_name"] = name.into();
        }
    }
    put_step(
        &here,
        &event_id,
        "email-sender",
        &body,
        ("sender", "sender"),
        &[
            ("from_address", "sender-from"),
            ("from_name", "sender-name"),
        ],
    )
    .await
}

pub async fn complete(
    State(state): State<ConsoleState>,
    Path(event_id): Path<String>,
    Query(q): Query<TenantParam>,
    posted: Posted,
) -> Response {
    let here = posted_here!(state, posted, q, event_id);
    let result = here
        .api
        .post(
            here.uri(&format!("/api/v1/events/{event_id}/wizard/complete")),
            &Value::Null,
        )
        .await;
    after(&here, &event_id, result, "complete", "completion", &[]).await
}

/// The latest completion's progress (polled by htmx while it is queued or running).
pub async fn progress(
    State(state): State<ConsoleState>,
    who: Signed,
    Path(event_id): Path<String>,
    Query(p): Query<TenantParam>,
) -> Response {
    let here = here!(state, who, p);
    if id(&event_id).is_none() {
        return not_found(&who);
    }
    let wizard = attempt!(here.get(format!("/api/v1/events/{event_id}/wizard")).await);
    view::render_status(
        StatusCode::OK,
        "console/wizard_progress.html",
        crate::ctx! {
            q => here.q(),
            event => json!({ "id": event_id }),
            completion => wizard["steps"]["review"]["completion"].clone(),
            active => wizard["steps"]["review"]["active"].clone(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_blocker_links_where_it_is_fixed() {
        assert_eq!(
            fix_link("evt_1", "templates/invitation/sms", ""),
            "/console/events/evt_1/wizard/templates/invitation/sms"
        );
        assert_eq!(
            fix_link("evt_1", "providers/email/prv_1", "?tenant_id=t"),
            "/console/events/evt_1/wizard?tenant_id=t#providers-email"
        );
        assert_eq!(
            fix_link("evt_1", "brand/logo_url", ""),
            "/console/events/evt_1/wizard#brand-logo_url"
        );
        assert_eq!(
            fix_link("evt_1", "email_sender", ""),
            "/console/events/evt_1/wizard#sender"
        );
        assert_eq!(
            fix_link("evt_1", "journey/steps/invite", ""),
            "/console/events/evt_1/journey"
        );
        assert_eq!(
            fix_link("evt_1", "uses/channels", ""),
            "/console/events/evt_1/wizard#uses"
        );
    }
}
