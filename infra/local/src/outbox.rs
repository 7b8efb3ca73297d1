//! The console's outbox page, on the local stack only: every email the emulator accepted
//! (rendered, with its headers and tags), and for platform admins every SMS, newest first,
//! each email linked to Herald's message. A tenant's key sees its own tenant's mail only (SES
//! tags each message with its tenant); SMS carry no tenant, so only platform admins see them.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use herald_console::ConsoleState;
use herald_console::session::Signed;
use serde_json::{Value, json};

/// The outbox route, for the console's router; `endpoint` is the emulator's URL.
pub fn routes(endpoint: String) -> Router<ConsoleState> {
    Router::new().route(
        "/console/outbox",
        get(move |state: State<ConsoleState>, who: Signed| page(state, who, endpoint.clone())),
    )
}

async fn fetch(url: &str) -> Value {
    match reqwest::get(url).await {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(e) => {
            tracing::warn!(error = %e, "reading the emulator's outbox");
            Value::Null
        }
    }
}

async fn page(State(_state): State<ConsoleState>, who: Signed, endpoint: String) -> Response {
    let own = who.key.tenant_id.map(|t| t.to_string());
    let mails: Vec<Value> = fetch(&format!("{endpoint}/_herald/sesv2-outbox?limit=200"))
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| own.is_none() || m["tags"]["herald_tenant"].as_str() == own.as_deref())
        .map(|mut m| {
            if let Some(id) = m["tags"]["herald_message"].as_str().map(str::to_owned) {
                m["message_id"] = id.clone().into();
                let tenant = m["tags"]["herald_tenant"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let q = if own.is_none() {
                    format!("?tenant_id={tenant}")
                } else {
                    String::new()
                };
                m["href"] = format!("/console/messages/{id}{q}").into();
            }
            m
        })
        .collect();
    let texts: Vec<Value> = if own.is_none() {
        let data = fetch(&format!("{endpoint}/moto-api/data.json")).await;
        let mut texts: Vec<Value> = data["sns"]["SMS"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|m| json!({ "to": m["phone_number"], "text": m["message"], "via": "SNS" }))
            .collect();
        texts.reverse();
        texts.truncate(200);
        texts
    } else {
        Vec::new()
    };
    herald_console::view::page(
        &who,
        "console/outbox.html",
        herald_console::ctx! { mails, texts },
    )
}

/// A guest's mailbox on the local stack: `GET /_local/outbox?to={address}`, the mail the
/// emulator accepted for that address (oldest first: recipients, `reply_to`, subject, headers,
/// bodies), as a mail client would show it. Local only, like the inbound simulator: what a
/// guest receives, for replying to it.
pub fn mailbox<S: Clone + Send + Sync + 'static>(endpoint: String) -> Router<S> {
    Router::new().route(
        "/_local/outbox",
        get(
            move |axum::extract::RawQuery(query): axum::extract::RawQuery| {
                let endpoint = endpoint.clone();
                async move {
                    let to = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                        .find(|(k, _)| k == "to")
                        .map(|(_, v)| v.into_owned());
                    let Some(to) = to else {
                        return (axum::http::StatusCode::BAD_REQUEST, "give ?to= an address")
                            .into_response();
                    };
                    let url = format!(
                        "{endpoint}/_herald/sesv2-outbox?to={}",
                        form_urlencoded::byte_serialize(to.as_bytes()).collect::<String>()
                    );
                    axum::Json(fetch(&url).await).into_response()
                }
            },
        ),
    )
}
