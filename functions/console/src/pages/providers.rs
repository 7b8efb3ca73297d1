//! The wizard's providers, tested where they are shown: a provider's connection test inline
//! (htmx swaps its result in beside the button; without JavaScript the wizard shows it), and
//! a new provider tested before it is kept.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::events::here;
use super::wizard::{after, posted_here, render};
use super::{TenantParam, id, not_found};
use crate::ConsoleState;
use crate::form::Posted;
use crate::view;

/// Tests one provider's connection: the result beside its button (htmx), or the page with
/// the result as its notice.
pub async fn test_provider(
    State(state): State<ConsoleState>,
    Path(event_id): Path<String>,
    Query(q): Query<TenantParam>,
    posted: Posted,
) -> Response {
    let here = posted_here!(state, posted, q, event_id);
    let Some(provider) = posted.fields.get("provider_id").and_then(id) else {
        return not_found(&posted.who);
    };
    let scope = if posted.fields.get("layer") == Some("event") {
        format!("?event_id={event_id}")
    } else {
        String::new()
    };
    let uri = here.uri(&format!(
        "/api/v1/communication/providers/{provider}/test{scope}"
    ));
    let check = match here.api.post(&uri, &Value::Null).await {
        Ok(c) => c,
        Err(p) => return here.problem(&p),
    };
    if posted.htmx {
        return view::fragment(connection_result(&check));
    }
    let text = if check["ok"] == true {
        format!(
            "Connection test passed: {}.",
            check["checked"].as_str().unwrap_or_default()
        )
    } else {
        format!(
            "Connection test failed: {}",
            check["detail"].as_str().unwrap_or_default()
        )
    };
    render(&here, &event_id, StatusCode::OK, Vec::new(), Some(text)).await
}

/// A connection test's result, as the fragment htmx swaps in next to the button.
fn connection_result(check: &Value) -> String {
    let (class, text) = if check["ok"] == true {
        (
            "ok",
            format!(
                "Passed ({}, {} ms)",
                check["checked"].as_str().unwrap_or_default(),
                check["elapsed_ms"]
            ),
        )
    } else {
        (
            "bad",
            format!("Failed: {}", check["detail"].as_str().unwrap_or_default()),
        )
    };
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!("<span class=\"badge {class}\">{escaped}</span>")
}

/// "key=value" lines into a JSON object of strings (settings and credentials as typed).
fn pairs(text: &str) -> serde_json::Map<String, Value> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), Value::String(v.trim().to_owned())))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// Adds a provider to the event (or the tenant), tested before it is kept: created inactive,
/// its connection tested, then turned on; when the test fails it is removed again and the
/// form shows why with what was typed (the credentials are never shown back).
pub async fn add_provider(
    State(state): State<ConsoleState>,
    Path(event_id): Path<String>,
    Query(q): Query<TenantParam>,
    posted: Posted,
) -> Response {
    let here = posted_here!(state, posted, q, event_id);
    let f = &posted.fields;
    let scope = if f.get("layer") == Some("tenant") {
        String::new()
    } else {
        format!("?event_id={event_id}")
    };
    let body = json!({
        "kind": f.get("kind"),
        "name": f.get("name"),
        "priority": f.get("priority").and_then(|p| p.parse::<u32>().ok()).unwrap_or(100),
        "active": false,
        "settings": pairs(&f.text("settings")),
        "credentials": pairs(&f.text("credentials")),
    });
    let anchors = [
        ("kind", "new-kind"),
        ("name", "new-name"),
        ("settings", "new-settings"),
        ("credentials", "new-credentials"),
    ];
    let created = match here
        .api
        .post(
            here.uri(&format!("/api/v1/communication/providers{scope}")),
            &body,
        )
        .await
    {
        Ok(c) => c,
        Err(p) => {
            return after(
                &here,
                &event_id,
                Err(p),
                "provider",
                "new-provider",
                &anchors,
            )
            .await;
        }
    };
    let pid = created["id"].as_str().unwrap_or_default().to_owned();
    let at = |path: &str| {
        here.uri(&format!(
            "/api/v1/communication/providers/{pid}{path}{scope}"
        ))
    };
    let check = here.api.post(&at("/test"), &Value::Null).await;
    let passed = matches!(&check, Ok(c) if c["ok"] == true);
    if !passed {
        if let Err(p) = here
            .api
            .send(axum::http::Method::DELETE, &at(""), &Value::Null)
            .await
        {
            tracing::warn!(provider_id = %pid, status = %p.status, "removing a provider that failed its test");
        }
        let detail = match check {
            Ok(c) => format!(
                "The connection test failed, so the provider was not saved: {}",
                c["detail"].as_str().unwrap_or_default()
            ),
            Err(p) => format!(
                "The connection could not be tested, so the provider was not saved: {}",
                p.detail
            ),
        };
        return render(
            &here,
            &event_id,
            StatusCode::UNPROCESSABLE_ENTITY,
            vec![json!({ "message": detail, "anchor": "new-settings" })],
            None,
        )
        .await;
    }
    let activate = json!({
        "version": created["version"],
        "name": created["name"],
        "priority": created["priority"],
        "active": true,
        "send_rate": created.get("send_rate"),
        "settings": created["settings"],
    });
    let result = here.api.put(&at(""), &activate).await;
    after(&here, &event_id, result, "provider", "providers", &anchors).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_typed_as_lines() {
        let m = pairs("from_address = a@b.example\n\nnot a pair\nsender_id=ACME");
        assert_eq!(m.len(), 2);
        assert_eq!(m["from_address"], "a@b.example");
    }
}
