//! Consent and tracking helpers: a tenant ready to send invitations by email, its guests'
//! contacts, the mail the emulator's SES outbox holds, campaigns and the consent ledger.

use axum::http::Method;
use serde_json::Value;

use super::*;

pub const CONTACTS: &str = "/api/v1/communication/contacts";

/// A form POST without an API key, as a browser or a mail client sends it.
pub async fn post_form(stack: &TestStack, uri: &str, body: &str) -> Answer {
    stack
        .send(
            axum::http::Request::builder()
                .method(Method::POST)
                .uri(uri)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(body.to_owned()))
                .expect("request"),
        )
        .await
}

/// An HTML answer's body.
pub fn html(answer: &Answer) -> &str {
    answer.body.as_str().unwrap_or_default()
}

/// A header of an answer ("" when it has none).
pub fn header_of<'a>(answer: &'a Answer, name: &str) -> &'a str {
    answer
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The setup's tenant with the wizard completed for email invitations.
pub async fn ready(stack: &TestStack) -> Setup {
    let s = setup(stack).await;
    expect(
        stack,
        Method::PUT,
        &wizard_uri(&s.event, "/uses"),
        &s.t.admin,
        Some(json!({"channels": ["email"], "categories": ["invitation"]})),
        200,
    )
    .await;
    let run = complete_wizard(stack, &s.t.admin, &s.event).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    s
}

/// The contact id of the event's guest with this email.
pub async fn contact_of(stack: &TestStack, key: &str, event: &str, email: &str) -> String {
    text(&guest_of(stack, key, event, email).await, "contact_id")
}

/// The event's guest with this email.
pub async fn guest_of(stack: &TestStack, key: &str, event: &str, email: &str) -> Value {
    let guests = expect(
        stack,
        Method::GET,
        &format!("/api/v1/events/{event}/guests"),
        key,
        None,
        200,
    )
    .await;
    items(&guests)
        .into_iter()
        .find(|g| g["email"] == email)
        .unwrap_or_else(|| panic!("no guest {email}: {guests}"))
}

/// What the emulator's SES v2 outbox holds for an address (recipients, subject, headers, tags).
pub async fn sent_mail(address: &str) -> Vec<Value> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
    let found: Value = reqwest::get(format!("{endpoint}/_herald/sesv2-outbox?to={address}"))
        .await
        .expect("the emulator answers")
        .json()
        .await
        .expect("JSON");
    found.as_array().cloned().unwrap_or_default()
}

pub async fn campaign(stack: &TestStack, key: &str, event: &str) -> Value {
    let id = send_to_all(stack, key, event, json!(["email"])).await;
    finished(stack, key, &id, 240).await
}

/// A guest of the event invited by email (a campaign to every guest): their address and the
/// invitation's Reply-To (Herald's reply address for it).
pub async fn invited(stack: &TestStack, key: &str, event: &str, name: &str) -> (String, String) {
    let guest = unique_email("guest");
    import_guests(
        stack,
        key,
        event,
        vec![serde_json::json!({"first_name": name, "email": guest})],
    )
    .await;
    campaign(stack, key, event).await;
    let reply_to = sent_mail(&guest).await[0]["reply_to"][0]
        .as_str()
        .expect("a Reply-To on the invitation")
        .to_owned();
    assert!(reply_to.ends_with("@reply.herald.test"), "{reply_to}");
    (guest, reply_to)
}

/// The tenant's answer to HELP, without which an event that sends SMS is not ready.
pub async fn help_text(stack: &TestStack, key: &str) {
    expect(
        stack,
        Method::PUT,
        "/api/v1/communication/conversation-settings",
        key,
        Some(serde_json::json!({"version": 0, "help_text": "Questions? events@acme.example"})),
        200,
    )
    .await;
}

pub async fn ledger(stack: &TestStack, key: &str, contact: &str) -> Vec<Value> {
    items(
        &expect(
            stack,
            Method::GET,
            &format!("{CONTACTS}/{contact}/consent"),
            key,
            None,
            200,
        )
        .await,
    )
}
