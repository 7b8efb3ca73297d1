//! Transactional messages through the local stack (API → sender queue → sender function →
//! moto), with moto's outbox as the witness: idempotency, failover, skips, redelivery.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request};
use common::*;
use herald::messages::{Delivery, Recipient, SenderJob};
use herald::render::GuestVars;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const MESSAGES: &str = "/api/v1/communication/messages";

async fn post_message(
    stack: &TestStack,
    key: &str,
    idempotency: Option<&str>,
    body: Value,
) -> Answer {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(MESSAGES)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json");
    if let Some(k) = idempotency {
        request = request.header("idempotency-key", k);
    }
    stack
        .send(request.body(Body::from(body.to_string())).expect("request"))
        .await
}

/// Polls a message (bounded) until the sender is done with it.
async fn settled(stack: &TestStack, key: &str, id: &str) -> Value {
    for _ in 0..150 {
        let m = expect(
            stack,
            Method::GET,
            &format!("{MESSAGES}/{id}"),
            key,
            None,
            200,
        )
        .await;
        if !matches!(m["status"].as_str(), Some("queued" | "sending")) {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("message {id} was not settled within 30 s");
}

async fn guest(stack: &TestStack, key: &str, event: &str, row: Value) -> String {
    let result = expect(
        stack,
        Method::POST,
        &format!("/api/v1/events/{event}/guests"),
        key,
        Some(json!({"guests": [row]})),
        200,
    )
    .await;
    assert_eq!(result["imported"], 1, "{result}");
    let page = expect(
        stack,
        Method::GET,
        &format!("/api/v1/events/{event}/guests"),
        key,
        None,
        200,
    )
    .await;
    let wanted = row["email"].clone();
    items(&page)
        .into_iter()
        .find(|g| g["email"] == wanted || (wanted.is_null() && g["phone"] == row["phone"]))
        .map(|g| text(&g, "id"))
        .expect("the imported guest")
}

#[tokio::test]
async fn a_transactional_message_is_sent_once_per_idempotency_key() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let key = &s.t.admin;
    let address = unique_email("zoe");
    let gid = guest(
        &stack,
        key,
        &s.event,
        json!({"first_name": "Zoé", "email": address}),
    )
    .await;
    let no_snapshot = post_message(&stack, key, None,
        json!({"event_id": s.event, "category": "invitation", "channels": ["email"], "guest_id": gid})).await;
    assert_problem(&no_snapshot, 409, "no active snapshot yet");
    assert!(text(&no_snapshot.body, "detail").contains("wizard"));
    complete_wizard(&stack, key, &s.event).await;

    let body = json!({"event_id": s.event, "category": "invitation", "channels": ["email"], "guest_id": gid});
    let first = post_message(&stack, key, Some("order-42"), body.clone()).await;
    assert_eq!(first.status.as_u16(), 202, "{}", first.body);
    let id = text(&first.body, "id");
    let message = settled(&stack, key, &id).await;
    assert_eq!(message["status"], "sent", "{message}");
    assert_eq!(message["channel"], "email");
    assert_eq!(message["attempts"], 1);
    assert_eq!(message["snapshot_version"], 1);
    assert!(message["provider_message_id"].is_string());
    assert!(message.get("pending_job").is_none());
    assert_eq!(emails_to(&address).await, 1);

    let again = post_message(&stack, key, Some("order-42"), body.clone()).await;
    assert_eq!(again.status.as_u16(), 202);
    assert_eq!(again.body, first.body, "the first answer, again");
    assert_eq!(
        again
            .headers
            .get("idempotent-replayed")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    let mut other = body.clone();
    other["category"] = json!("reminder");
    let conflict = post_message(&stack, key, Some("order-42"), other).await;
    assert_problem(&conflict, 409, "the same key with another body");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(emails_to(&address).await, 1, "still one email");

    // Another tenant sees nothing of it.
    let stranger = tenant(&stack, "Other").await;
    let hidden = stack
        .call(
            Method::GET,
            &format!("{MESSAGES}/{id}"),
            Some(&stranger.admin),
            None,
        )
        .await;
    assert_problem(&hidden, 404, "another tenant's message");
    let theirs = post_message(&stack, &stranger.admin, None, body).await;
    assert_problem(&theirs, 404, "another tenant's event");
}

#[tokio::test]
async fn a_failing_primary_provider_fails_over_to_the_next() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let key = &s.t.admin;
    let brevo = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/account"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"email": "ops@acme.example"})),
        )
        .mount(&brevo)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/smtp/email"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&brevo)
        .await;
    let primary = provider(
        &stack,
        key,
        "",
        json!({"kind": "brevo", "name": "Brevo", "priority": 0,
        "settings": {"from_address": "events@acme.example", "base_url": brevo.uri()},
        "credentials": {"api_key": "xkeysib-test"}}),
    )
    .await;
    complete_wizard(&stack, key, &s.event).await;
    let address = unique_email("ada");
    let answer = post_message(
        &stack,
        key,
        None,
        json!({"event_id": s.event, "category": "invitation",
        "channels": ["email"], "recipient": {"first_name": "Ada", "email": address}}),
    )
    .await;
    assert_eq!(answer.status.as_u16(), 202, "{}", answer.body);
    let message = settled(&stack, key, &text(&answer.body, "id")).await;
    assert_eq!(message["status"], "sent", "{message}");
    assert_eq!(message["attempts"], 2, "Brevo, then SES");
    assert_ne!(message["provider_id"], primary["id"]);
    assert_eq!(emails_to(&address).await, 1);
}

#[tokio::test]
async fn a_provider_answering_garbage_is_not_retried_elsewhere() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let key = &s.t.admin;
    let brevo = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/account"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"email": "ops@acme.example"})),
        )
        .mount(&brevo)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/smtp/email"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>proxy says hi</html>"))
        .expect(1)
        .mount(&brevo)
        .await;
    provider(
        &stack,
        key,
        "",
        json!({"kind": "brevo", "name": "Brevo", "priority": 0,
        "settings": {"from_address": "events@acme.example", "base_url": brevo.uri()},
        "credentials": {"api_key": "xkeysib-test"}}),
    )
    .await;
    complete_wizard(&stack, key, &s.event).await;
    let address = unique_email("garbage");
    let answer = post_message(
        &stack,
        key,
        None,
        json!({"event_id": s.event, "category": "invitation",
        "channels": ["email"], "recipient": {"first_name": "Ada", "email": address}}),
    )
    .await;
    assert_eq!(answer.status.as_u16(), 202, "{}", answer.body);
    let message = settled(&stack, key, &text(&answer.body, "id")).await;
    // Brevo said 200: it may have taken the message, so SES does not send it again.
    assert_eq!(message["status"], "failed", "{message}");
    assert_eq!(message["attempts"], 1);
    assert!(
        text(&message, "last_error").contains("not JSON"),
        "{message}"
    );
    assert_eq!(emails_to(&address).await, 0);
}

#[tokio::test]
async fn skipped_recipients_are_recorded_and_not_sent() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let key = &s.t.admin;
    complete_wizard(&stack, key, &s.event).await;
    let suppressed = unique_email("bounced");
    let tenant_id: herald::ids::TenantId = s.t.id.parse().expect("tenant id");
    stack
        .state
        .store
        .add_suppression(
            tenant_id,
            &herald::suppression::Suppression::new(
                herald::domain::Channel::Email,
                &suppressed,
                herald::suppression::SuppressionSource::Manual,
                "hard bounce",
                None,
            ),
        )
        .await
        .expect("suppress");
    let cases = [
        (
            json!({"first_name": "S", "email": suppressed}),
            json!(["email"]),
            "suppressed",
        ),
        (
            json!({"first_name": "P", "phone": "+447700900555"}),
            json!(["email"]),
            "no_address",
        ),
    ];
    for (recipient, channels, expected) in cases {
        let answer = post_message(
            &stack,
            key,
            None,
            json!({"event_id": s.event, "category": "invitation",
            "channels": channels, "recipient": recipient}),
        )
        .await;
        assert_eq!(answer.status.as_u16(), 202, "{}", answer.body);
        let message = settled(&stack, key, &text(&answer.body, "id")).await;
        assert_eq!(message["status"], expected, "{message}");
        assert_eq!(message["attempts"], 0);
    }
    assert_eq!(emails_to(&suppressed).await, 0);
    let bad = post_message(
        &stack,
        key,
        None,
        json!({"event_id": s.event, "category": "invitation",
        "channels": [], "recipient": {"email": "x@example.com"}}),
    )
    .await;
    assert_problem(&bad, 422, "no channel");
    let both = post_message(
        &stack,
        key,
        None,
        json!({"event_id": s.event, "category": "invitation",
        "channels": ["email"]}),
    )
    .await;
    assert_problem(&both, 422, "neither guest nor recipient");
}

#[tokio::test]
async fn a_job_delivered_twice_sends_once() {
    let stack = stack().await;
    let s = setup(&stack).await;
    complete_wizard(&stack, &s.t.admin, &s.event).await;
    let sender = herald_sender::Sender::new(
        stack.state.store.clone(),
        stack.state.sealer.clone(),
        stack.state.providers.clone(),
        herald_sender::Queue {
            sqs: (*stack.state.queues.sqs).clone(),
            url: stack.state.queues.sender.clone(),
            dead_letter_url: None,
            tracker_url: None,
        },
        None,
    );
    let addresses: Vec<String> = (0..3).map(|i| unique_email(&format!("twice{i}"))).collect();
    let job = SenderJob::Deliver {
        tenant_id: s.t.id.parse().expect("tenant"),
        event_id: s.event.parse().expect("event"),
        campaign_id: None,
        snapshot_version: None,
        not_before: None,
        category: herald::domain::TemplateCategory::Invitation,
        channels: vec![herald::domain::Channel::Email],
        deliveries: addresses
            .iter()
            .map(|a| Delivery {
                message_id: herald::ids::MessageId::new(),
                recipient: Recipient {
                    vars: GuestVars {
                        first_name: "T".into(),
                        email: Some(a.clone()),
                        ..GuestVars::default()
                    },
                    ..Recipient::default()
                },
            })
            .collect(),
    };
    let (first, second) = tokio::join!(sender.run(&job), sender.run(&job));
    let (first, second) = (first.expect("first run"), second.expect("second run"));
    let third = sender.run(&job).await.expect("third run");
    assert_eq!(third.tally.get("already_done"), Some(&3), "{third:?}");
    assert_eq!(third.retry, None);
    let outbox = Outbox::read().await;
    for a in &addresses {
        assert_eq!(outbox.emails_to(a), 1, "{a}: {first:?} {second:?}");
    }
}
