//! The send pipeline under faults, end to end through the local stack: a primary provider
//! answering 503 to a share of calls, send rates across sender instances, every batch
//! delivered twice with a crash after a provider call, poison messages and the dead-letter
//! API.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::Method;
use common::*;
use herald::ids::{CampaignId, GuestId, MessageId, TenantId};
use herald::messages::MessageStatus;
use serde_json::{Value, json};
use wiremock::{Request, Respond, ResponseTemplate};

/// A Brevo fake whose transactional-email endpoint fails by a plan; it keeps the recipients
/// of the calls it accepted.
#[derive(Clone)]
struct FlakyBrevo {
    calls: Arc<AtomicU32>,
    accepted: Arc<Mutex<Vec<String>>>,
    fails: fn(u32) -> bool,
}

impl Respond for FlakyBrevo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if (self.fails)(n) {
            return ResponseTemplate::new(503).set_body_string("upstream overloaded");
        }
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let to = body["to"][0]["email"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        self.accepted.lock().expect("lock").push(to);
        ResponseTemplate::new(201).set_body_json(json!({"messageId": format!("<{n}@brevo.test>")}))
    }
}

impl FlakyBrevo {
    /// The fake on a server that checks every call against Brevo's contract.
    async fn start(fails: fn(u32) -> bool) -> (Self, ProviderFake) {
        let server = ProviderFake::start(Provider::Brevo).await;
        server.answer("account-get", connected()).await;
        let fake = Self {
            calls: Arc::default(),
            accepted: Arc::default(),
            fails,
        };
        server.answer("smtp-email-send", fake.clone()).await;
        (fake, server)
    }

    fn accepted_for(&self, address: &str) -> usize {
        self.accepted
            .lock()
            .expect("lock")
            .iter()
            .filter(|a| *a == address)
            .count()
    }
}

#[tokio::test]
async fn a_primary_answering_503_to_a_share_of_calls_fails_over_and_shows_in_health() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let key = &s.t.admin;
    // Calls 1-20: every other one fails; then five in a row fail, which opens the circuit,
    // and SES takes the rest.
    let (brevo, server) = FlakyBrevo::start(|n| n % 2 == 1 || n > 20).await;
    let primary = provider(
        &stack,
        key,
        "",
        json!({"kind": "brevo", "name": "Brevo", "priority": 0,
        "settings": {"from_address": "events@acme.example", "base_url": server.uri()},
        "credentials": {"api_key": "xkeysib-test"}}),
    )
    .await;
    complete_wizard(&stack, key, &s.event).await;
    let to = addresses("flaky", 40);
    import_guests(&stack, key, &s.event, guests(&to)).await;
    let id = send_to_all(&stack, key, &s.event, json!(["email"])).await;
    let done = finished(&stack, key, &id, 120).await;
    assert_eq!(done["status"], "sent", "{done}");
    assert_eq!(done["counts"]["sent"], 40, "{done}");

    let outbox = Outbox::read().await;
    for a in &to {
        assert_eq!(
            brevo.accepted_for(a) + outbox.emails_to(a),
            1,
            "{a}: exactly one email, through Brevo or SES"
        );
    }
    server.assert_kept_contract();
    let through_brevo: usize = to.iter().map(|a| brevo.accepted_for(a)).sum();
    assert_eq!(through_brevo, 10, "the ten calls Brevo accepted");
    assert_eq!(
        brevo.calls.load(Ordering::SeqCst),
        25,
        "no calls while the circuit is open"
    );

    let read = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/communication/providers/{}", text(&primary, "id")),
        key,
        None,
        200,
    )
    .await;
    let health = &read["health"];
    assert_eq!(health["sent"], 10, "{read}");
    assert_eq!(health["failed_retryable"], 15, "{read}");
    assert_eq!(health["circuit_opened"], 1, "{read}");
    assert!(
        health["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("503"),
        "{read}"
    );
    assert!(health["circuit_open_until"].is_string(), "{read}");
    let listed = expect(
        &stack,
        Method::GET,
        "/api/v1/communication/providers",
        key,
        None,
        200,
    )
    .await;
    let brevo_listed = items(&listed)
        .into_iter()
        .find(|p| p["id"] == primary["id"])
        .expect("listed");
    assert_eq!(brevo_listed["health"]["failed_retryable"], 15);

    // Another tenant sees neither the provider nor its health.
    let other = tenant(&stack, "Other").await;
    let foreign = stack
        .call(
            Method::GET,
            &format!("/api/v1/communication/providers/{}", text(&primary, "id")),
            Some(&other.admin),
            None,
        )
        .await;
    assert_eq!(foreign.status.as_u16(), 404);
}

#[tokio::test]
async fn a_send_rate_holds_across_sender_instances() {
    let stack = stack().await;
    let counter = herald::aws::RequestCounter::default();
    let dynamo = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&stack.sdk)
            .interceptor(counter.clone())
            .build(),
    );
    let store = herald::store::Store::new(dynamo, &stack.table);
    let ses = aws_sdk_sesv2::Client::new(&stack.sdk);
    let tenant = TenantId::new();
    let provider: herald::config::Provider = serde_json::from_value(json!({
        "id": herald::ids::ProviderId::new(), "tenant_id": tenant, "layer": "tenant",
        "kind": "brevo", "channel": "email", "name": "Brevo", "priority": 0, "active": true,
        "send_rate": 10, "settings": {}, "credentials": {"ciphertext": "", "hints": {}},
        "version": 1, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
    }))
    .expect("provider");
    // Two instances, each with 25 campaign messages for the provider, at once (the bulk lane:
    // 8 of the 10 messages/s).
    let instances = [
        herald_sender::gate::Gate::new(store.clone(), ses.clone(), Some(0.0)),
        herald_sender::gate::Gate::new(store.clone(), ses, Some(0.0)),
    ];
    let started = std::time::Instant::now();
    let (a, b) = tokio::join!(
        admit_25(&instances[0], tenant, &provider),
        admit_25(&instances[1], tenant, &provider)
    );
    let mut times: Vec<i64> = a.into_iter().chain(b).collect();
    times.sort_unstable();
    let most_in_a_second = times
        .iter()
        .map(|t| times.iter().filter(|u| **u >= *t && **u < t + 1000).count())
        .max()
        .unwrap_or(0);
    println!(
        "50 campaign messages at 10/s over two instances: {:.1} s, at most {most_in_a_second} in any second, {} DynamoDB requests",
        started.elapsed().as_secs_f64(),
        counter.count()
    );
    // Slots are 125 ms apart; the times here are when each admission returned, so a window
    // can hold the slots at both of its ends, and on a loaded machine (a CI build on two
    // cores) one admission woken late can land inside the next slots' second. The schedule
    // itself is checked by the total: 50 slots at 8/s take at least 6.1 s.
    assert!(most_in_a_second <= 12, "{most_in_a_second} in one second");
    assert!(started.elapsed() >= Duration::from_millis(6_100));
    // One booking per instance (its whole demand), plus a retry when both book at once.
    assert!(counter.count() <= 4, "{:?}", counter.by_operation());
}

/// Admits 25 messages one by one; when each was admitted (epoch ms).
async fn admit_25(
    gate: &herald_sender::gate::Gate,
    tenant: TenantId,
    provider: &herald::config::Provider,
) -> Vec<i64> {
    let mut times = Vec::new();
    for left in (1..=25u32).rev() {
        gate.admit(herald_sender::lanes::Lane::Bulk, tenant, provider, left)
            .await
            .expect("admit")
            .expect("the provider is open");
        times.push(chrono::Utc::now().timestamp_millis());
    }
    times
}

#[tokio::test]
async fn a_job_out_of_time_continues_in_a_copy_and_sends_each_guest_once() {
    let mut stack = stack().await;
    let s = setup(&stack).await;
    let key = &s.t.admin;
    complete_wizard(&stack, key, &s.event).await;
    // A send budget far shorter than a job takes: every job leaves its rest to delayed copies
    // of itself, each claiming the batch again and skipping what the earlier ones recorded.
    let sender = stack
        .sender()
        .expect("sender")
        .with_send_budget(Duration::from_millis(500));
    stack
        .replace_sender(sender, herald_local::pollers::Faults::default())
        .await
        .expect("replace the sender");
    let to = addresses("budget", 60);
    import_guests(&stack, key, &s.event, guests(&to)).await;
    let id = send_to_all(&stack, key, &s.event, json!(["email"])).await;
    let done = finished(&stack, key, &id, 120).await;
    assert_eq!(done["status"], "sent", "{done}");
    assert_eq!(done["counts"]["sent"], 60, "{done}");
    let outbox = Outbox::read().await;
    let per_guest: Vec<usize> = to.iter().map(|a| outbox.emails_to(a)).collect();
    assert!(
        per_guest.iter().all(|n| *n == 1),
        "one email each: {per_guest:?}"
    );
    let requests = stack.sender_requests.sqs.by_operation();
    assert!(
        requests.get("SendMessage").copied().unwrap_or(0) >= 1,
        "the job continued in a copy of itself: {requests:?}"
    );
}

#[tokio::test]
async fn batches_delivered_twice_and_a_crash_after_a_provider_call_send_exactly_once() {
    let mut stack = stack().await;
    let s = setup(&stack).await;
    let key = &s.t.admin;
    complete_wizard(&stack, key, &s.event).await;
    // Every batch goes to the sender twice at once, and the sender stops (as if it crashed)
    // right after the provider accepts its 30th message: in the batch's second chunk of 25.
    let sender = stack.sender().expect("sender").with_settle_seconds(2);
    sender.crash_after_sends(30);
    stack
        .replace_sender(
            sender.clone(),
            herald_local::pollers::Faults {
                deliver_twice: true,
            },
        )
        .await
        .expect("replace the sender");
    let to = addresses("twice", 60);
    import_guests(&stack, key, &s.event, guests(&to)).await;
    let id = send_to_all(&stack, key, &s.event, json!(["email"])).await;
    let done = finished(&stack, key, &id, 120).await;

    let outbox = Outbox::read().await;
    let per_guest: Vec<usize> = to.iter().map(|a| outbox.emails_to(a)).collect();
    assert!(
        per_guest.iter().all(|n| *n <= 1),
        "no guest gets two emails: {per_guest:?}"
    );
    // The chunk in flight at the crash is settled by SES's Send events (published by the local
    // stack as SES would, recorded by the tracker): the 5 that went out are recorded sent, the
    // other 20 are sent after the retake.
    let tenant: TenantId = s.t.id.parse().expect("tenant");
    let campaign: CampaignId = id.parse().expect("campaign");
    let event = s.event.parse().expect("event");
    let (guests, _) = stack
        .state
        .store
        .list_guests(tenant, event, None, 100)
        .await
        .expect("guests");
    let ids: Vec<MessageId> = guests
        .iter()
        .map(|g: &herald::guests::Guest| message_id(campaign, g.id))
        .collect();
    let records = stack
        .state
        .store
        .get_messages(tenant, &ids)
        .await
        .expect("messages");
    let sent = records
        .values()
        .filter(|m| m.status == MessageStatus::Sent)
        .count();
    let emails: usize = per_guest.iter().sum();
    let counters = &sender.counters;
    println!(
        "60 guests, every batch delivered twice, a crash after 30 sends: {emails} emails, {sent} recorded sent, {} settled by their Send event, {} sent after the retake",
        counters.settled_sent.load(Ordering::Relaxed),
        counters.settled_resent.load(Ordering::Relaxed)
    );
    assert!(
        per_guest.iter().all(|n| *n == 1),
        "one email each: {per_guest:?}"
    );
    assert_eq!(records.len(), 60, "every guest has a record");
    assert_eq!(sent, 60);
    assert_eq!(counters.settled_sent.load(Ordering::Relaxed), 5);
    assert_eq!(counters.settled_resent.load(Ordering::Relaxed), 20);
    assert_eq!(done["status"], "sent", "{done}");
    assert_eq!(done["counts"]["sent"], 60, "{done}");
}

fn message_id(campaign: CampaignId, guest: GuestId) -> MessageId {
    MessageId::derived(&[&campaign.to_string(), &guest.to_string()])
}

#[tokio::test]
async fn a_poison_message_goes_to_the_dead_letter_queue_alone_and_can_be_redriven() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let key = &s.t.admin;
    complete_wizard(&stack, key, &s.event).await;
    let admin = &stack.admin_key;
    let sqs = &stack.state.queues.sqs;
    let before = dead_letters(&stack, admin, "sender").await;

    // Garbage next to a good message: the good one is sent, the garbage lands in the DLQ.
    sqs.send_message()
        .queue_url(&stack.state.queues.sender)
        .message_body("{\"kind\": \"nonsense\"")
        .send()
        .await
        .expect("queue garbage");
    let address = unique_email("next-to-poison");
    let answer = stack
        .call(
            Method::POST,
            "/api/v1/communication/messages",
            Some(key),
            Some(
                json!({"event_id": s.event, "category": "invitation", "channels": ["email"],
                "recipient": {"first_name": "Ada", "email": address}}),
            ),
        )
        .await;
    assert_eq!(answer.status.as_u16(), 202, "{}", answer.body);
    let message_uri = format!(
        "/api/v1/communication/messages/{}",
        text(&answer.body, "id")
    );
    let mut status = Value::Null;
    for _ in 0..80 {
        let m = expect(&stack, Method::GET, &message_uri, key, None, 200).await;
        status = m["status"].clone();
        if status == "sent" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(status, "sent");
    let mut letters = Vec::new();
    for _ in 0..40 {
        letters = items(
            &expect(
                &stack,
                Method::GET,
                "/api/v1/admin/dead-letters/sender/messages?limit=50",
                admin,
                None,
                200,
            )
            .await,
        );
        if letters.len() > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let poison = letters
        .iter()
        .find(|l| l["body"] == "{\"kind\": \"nonsense\"")
        .unwrap_or_else(|| panic!("the garbage is in the DLQ: {letters:?}"));
    assert!(
        poison["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("does not parse"),
        "{poison}"
    );
    assert_eq!(dead_letters(&stack, admin, "sender").await, before + 1);

    // A good job in the DLQ (as SQS leaves one after its last failed delivery) is sent once
    // redriven.
    let redriven_to = unique_email("redriven");
    let job = herald::messages::SenderJob::Deliver {
        tenant_id: s.t.id.parse().expect("tenant"),
        event_id: s.event.parse().expect("event"),
        campaign_id: None,
        snapshot_version: None,
        not_before: None,
        category: herald::domain::TemplateCategory::Invitation,
        channels: vec![herald::domain::Channel::Email],
        deliveries: vec![herald::messages::Delivery {
            message_id: MessageId::new(),
            recipient: herald::messages::Recipient {
                vars: herald::render::GuestVars {
                    first_name: "R".into(),
                    email: Some(redriven_to.clone()),
                    ..Default::default()
                },
                ..Default::default()
            },
        }],
    };
    sqs.send_message()
        .queue_url(&stack.state.queues.sender_dlq)
        .message_body(serde_json::to_string(&job).expect("job"))
        .send()
        .await
        .expect("queue a dead letter");
    let redrive = expect(
        &stack,
        Method::POST,
        "/api/v1/admin/dead-letters/sender/redrive",
        admin,
        Some(json!({"max_messages": 1000})),
        200,
    )
    .await;
    assert!(redrive["moved"].as_u64().unwrap_or(0) >= 2, "{redrive}");
    let mut emails = 0;
    for _ in 0..80 {
        emails = emails_to(&redriven_to).await;
        if emails > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(emails, 1, "the redriven job is delivered");
    // The garbage comes straight back.
    let mut back = 0;
    for _ in 0..40 {
        back = dead_letters(&stack, admin, "sender").await;
        if back >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(back, 1, "the poison message is back in the DLQ");

    // Platform administrators only; bad input is a 4xx.
    let tenant_admin = stack
        .call(Method::GET, "/api/v1/admin/dead-letters", Some(key), None)
        .await;
    assert_problem(&tenant_admin, 403, "a tenant key");
    let unknown = stack
        .call(
            Method::GET,
            "/api/v1/admin/dead-letters/nope/messages",
            Some(admin),
            None,
        )
        .await;
    assert_problem(&unknown, 404, "an unknown queue");
    let too_many = stack
        .call(
            Method::GET,
            "/api/v1/admin/dead-letters/sender/messages?limit=500",
            Some(admin),
            None,
        )
        .await;
    assert_problem(&too_many, 422, "a limit over 50");
    let zero = stack
        .call(
            Method::POST,
            "/api/v1/admin/dead-letters/wizard/redrive",
            Some(admin),
            Some(json!({"max_messages": 0})),
        )
        .await;
    assert_problem(&zero, 422, "max_messages 0");
}

/// How many messages the dead-letter API counts in a queue.
async fn dead_letters(stack: &TestStack, admin: &str, queue: &str) -> usize {
    let listed = expect(
        stack,
        Method::GET,
        "/api/v1/admin/dead-letters",
        admin,
        None,
        200,
    )
    .await;
    items(&listed)
        .iter()
        .find(|q| q["name"] == queue)
        .and_then(|q| q["messages"].as_u64())
        .unwrap_or(0) as usize
}
