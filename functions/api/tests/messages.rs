//! Transactional messages through the local stack (API → sender queue → sender function →
//! moto), with moto's outbox as the witness: idempotency, failover, skips, redelivery.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request};
use common::*;
use herald::messages::{Delivery, Recipient, SenderJob};
use herald::providers::send::LOCAL_REFERENCE;
use herald::render::GuestVars;
use serde_json::{Value, json};
use wiremock::ResponseTemplate;

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
    let brevo = ProviderFake::start(Provider::Brevo).await;
    brevo.answer("account-get", connected()).await;
    brevo
        .on("smtp-email-send", ResponseTemplate::new(503))
        .expect(1)
        .mount(&brevo.server)
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
    // Brevo's 503 (not a refusal of a request that broke its contract) sends it to SES.
    brevo.assert_kept_contract();
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
    let brevo = ProviderFake::start(Provider::Brevo).await;
    brevo.answer("account-get", connected()).await;
    brevo
        .on(
            "smtp-email-send",
            ResponseTemplate::new(200).set_body_string("<html>proxy says hi</html>"),
        )
        .expect(1)
        .mount(&brevo.server)
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
    let id = text(&answer.body, "id");
    let message = settled(&stack, key, &id).await;
    brevo.assert_kept_contract();
    // Brevo said 200: it took the message, whatever its answer says, so the message is sent
    // (under Herald's own reference, since the answer names no id) and SES does not send it
    // again.
    assert_eq!(message["status"], "sent", "{message}");
    assert_eq!(message["attempts"], 1);
    assert_eq!(
        message["provider_message_id"],
        format!("{LOCAL_REFERENCE}{id}")
    );
    assert_eq!(emails_to(&address).await, 0);
}

/// A fake of an HTTP email provider (its connection check answered, `answer` given to exactly
/// one send), made the event's primary email provider with `settings` added to its from
/// address and base URL; the fake and the provider's id.
async fn email_provider(
    stack: &TestStack,
    s: &Setup,
    kind: Provider,
    answer: ResponseTemplate,
    settings: Value,
) -> (ProviderFake, String) {
    let (name, check, send, api_key) = match kind {
        Provider::Brevo => ("brevo", "account-get", "smtp-email-send", "xkeysib-test"),
        Provider::Sendgrid => ("sendgrid", "scopes-list", "mail-send", "SG.test-key"),
        other => panic!("{other} is no HTTP email provider"),
    };
    let fake = ProviderFake::start(kind).await;
    fake.answer(check, connected()).await;
    fake.on(send, answer).expect(1).mount(&fake.server).await;
    let mut all = json!({"from_address": "events@acme.example", "base_url": fake.uri()});
    for (k, v) in settings.as_object().into_iter().flatten() {
        all[k] = v.clone();
    }
    let id = primary(
        stack,
        s,
        json!({"kind": name, "name": name, "priority": 0, "settings": all,
            "credentials": {"api_key": api_key}}),
    )
    .await;
    (fake, id)
}

/// Creates a provider at priority 0 and completes the wizard; the provider's id.
async fn primary(stack: &TestStack, s: &Setup, body: Value) -> String {
    let created = provider(stack, &s.t.admin, "", body).await;
    let run = complete_wizard(stack, &s.t.admin, &s.event).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    text(&created, "id")
}

/// Sends the invitation to one recipient by `channels` and waits until it is settled.
async fn send_one(stack: &TestStack, s: &Setup, channels: Value, recipient: Value) -> Value {
    let answer = post_message(
        stack,
        &s.t.admin,
        None,
        json!({"event_id": s.event, "category": "invitation", "channels": channels,
            "recipient": recipient}),
    )
    .await;
    assert_eq!(answer.status.as_u16(), 202, "{}", answer.body);
    settled(stack, &s.t.admin, &text(&answer.body, "id")).await
}

fn body_of(request: &wiremock::Request) -> Value {
    serde_json::from_slice(&request.body).expect("a JSON body")
}

/// Issue 20: a provider with no `from_name` and an HTML-only template sent `"name": null` and
/// `"textContent": null`, which Brevo's contract refuses (so the send failed).
#[tokio::test]
async fn brevo_sends_an_html_only_message_from_a_sender_without_a_name() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let (brevo, id) = email_provider(
        &stack,
        &s,
        Provider::Brevo,
        ResponseTemplate::new(201)
            .set_body_json(json!({"messageId": "<m1@smtp-relay.brevo.test>"})),
        json!({}),
    )
    .await;
    let address = unique_email("brevo");
    let message = send_one(
        &stack,
        &s,
        json!(["email"]),
        json!({"first_name": "Ada", "email": address}),
    )
    .await;
    brevo.assert_kept_contract();
    assert_eq!(message["status"], "sent", "{message}");
    assert_eq!(message["provider_id"], id.as_str());
    assert_eq!(message["provider_message_id"], "<m1@smtp-relay.brevo.test>");
    let sent = body_of(&brevo.received("/v3/smtp/email").await[0]);
    assert_eq!(
        sent["sender"],
        json!({"email": "events@acme.example"}),
        "{sent}"
    );
    assert!(
        sent.get("textContent").is_none() && sent["htmlContent"].is_string(),
        "{sent}"
    );
    assert_eq!(sent["to"], json!([{"email": address}]));
    assert_eq!(emails_to(&address).await, 0, "not through SES as well");
}

/// Issue 20: SendGrid sent `"from": {"name": null}` for a provider with no `from_name` (its
/// contract types `name` as a string: the send failed), and no test sent through SendGrid.
#[tokio::test]
async fn sendgrid_sends_a_message_from_a_sender_without_a_name() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let (sendgrid, id) = email_provider(
        &stack,
        &s,
        Provider::Sendgrid,
        ResponseTemplate::new(202).insert_header("X-Message-Id", "sg-0123456789"),
        json!({}),
    )
    .await;
    let address = unique_email("sendgrid");
    let message = send_one(
        &stack,
        &s,
        json!(["email"]),
        json!({"first_name": "Ada", "email": address}),
    )
    .await;
    sendgrid.assert_kept_contract();
    assert_eq!(message["status"], "sent", "{message}");
    assert_eq!(message["provider_id"], id.as_str());
    assert_eq!(message["provider_message_id"], "sg-0123456789");
    let request = &sendgrid.received("/v3/mail/send").await[0];
    let sent = body_of(request);
    assert_eq!(
        sent["from"],
        json!({"email": "events@acme.example"}),
        "{sent}"
    );
    assert_eq!(
        sent["personalizations"],
        json!([{"to": [{"email": address}]}])
    );
    assert_eq!(sent["content"][0]["type"], "text/html", "{sent}");
    assert_eq!(
        request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer SG.test-key")
    );
    assert_eq!(emails_to(&address).await, 0, "not through SES as well");
}

/// Issue 20: SendGrid's 202 without `X-Message-Id` was reported as a refusal and the message
/// marked failed, although SendGrid had accepted it. A 2xx is an acceptance.
#[tokio::test]
async fn a_sendgrid_202_without_a_message_id_is_sent_and_not_retried() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let (sendgrid, _) = email_provider(
        &stack,
        &s,
        Provider::Sendgrid,
        ResponseTemplate::new(202),
        json!({"from_name": "Acme Events"}),
    )
    .await;
    let address = unique_email("noid");
    let message = send_one(
        &stack,
        &s,
        json!(["email"]),
        json!({"first_name": "Ada", "email": address}),
    )
    .await;
    sendgrid.assert_kept_contract();
    assert_eq!(message["status"], "sent", "{message}");
    assert_eq!(message["attempts"], 1, "{message}");
    assert!(
        message.get("last_error").is_none_or(Value::is_null),
        "{message}"
    );
    assert_eq!(
        message["provider_message_id"],
        format!("{LOCAL_REFERENCE}{}", text(&message, "id"))
    );
    let sent = body_of(&sendgrid.received("/v3/mail/send").await[0]);
    assert_eq!(sent["from"]["name"], "Acme Events");
    assert_eq!(emails_to(&address).await, 0, "SES did not send it again");
}

/// SMS through Twilio and WhatsApp through the Cloud API, through the normal send path, with
/// requests their contracts accept (Twilio's status callback, WhatsApp's callback data).
#[tokio::test]
async fn twilio_and_whatsapp_send_what_their_contracts_accept() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let key = &s.t.admin;
    let twilio = ProviderFake::start(Provider::Twilio).await;
    twilio
        .answer(
            "account-fetch",
            ResponseTemplate::new(200).set_body_json(json!({"sid": TWILIO_SID})),
        )
        .await;
    twilio
        .answer("messages-create", accepted(Provider::Twilio))
        .await;
    let whatsapp = ProviderFake::start(Provider::Whatsapp).await;
    whatsapp.answer("phone-number-get", connected()).await;
    whatsapp
        .answer("messages-send", accepted(Provider::Whatsapp))
        .await;
    provider(
        &stack,
        key,
        "",
        twilio_json("Twilio", "twilio-token-1", Some(&twilio.uri())),
    )
    .await;
    provider(
        &stack,
        key,
        "",
        json!({"kind": "whatsapp_cloud", "name": "WhatsApp",
        "settings": {"phone_number_id": "1234567890", "base_url": whatsapp.uri()},
        "credentials": {"access_token": "EAAG-wa-token"}}),
    )
    .await;
    template(&stack, key, "", "invitation", "sms", "sms").await;
    template(&stack, key, "", "invitation", "whatsapp", "wa").await;
    common::consent::help_text(&stack, key).await;
    let run = complete_wizard(&stack, key, &s.event).await;
    assert_eq!(run["status"], "succeeded", "{run}");

    let sms = send_one(
        &stack,
        &s,
        json!(["sms"]),
        json!({"first_name": "T", "phone": "+447700900301"}),
    )
    .await;
    twilio.assert_kept_contract();
    assert_eq!(sms["status"], "sent", "{sms}");
    assert!(text(&sms, "provider_message_id").starts_with("SM"), "{sms}");
    let form: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&twilio.received("/Messages.json").await[0].body)
            .expect("a form");
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(field("To"), Some("+447700900301"));
    assert_eq!(field("From"), Some("+447700900123"));
    assert!(field("StatusCallback").is_some(), "{form:?}");

    let wa = send_one(
        &stack,
        &s,
        json!(["whatsapp"]),
        json!({"first_name": "W", "phone": "+447700900302"}),
    )
    .await;
    whatsapp.assert_kept_contract();
    assert_eq!(wa["status"], "sent", "{wa}");
    assert!(
        text(&wa, "provider_message_id").starts_with("wamid."),
        "{wa}"
    );
    let sent = body_of(&whatsapp.received("/messages").await[0]);
    assert_eq!(
        (sent["to"].as_str(), sent["type"].as_str()),
        (Some("447700900302"), Some("text"))
    );
    assert!(sent["biz_opaque_callback_data"].is_string(), "{sent}");
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
