//! Only messages Herald sent for a tenant move that tenant's counters, suppression list and
//! consent ledger. SES events in the shapes of SES's event-publishing documentation, handed to
//! the tracker as Lambda hands it SQS records: reports about made-up messages and another
//! tenant's messages are held, then dropped as orphaned; a seal that does not verify is never
//! believed; an early report counts once its message is recorded; complaints, hard bounces
//! and SES unsubscribes reach the ledger without the optional contact tag; and two hard bounces
//! of one address in one batch are one suppression (a batch DynamoDB would otherwise refuse
//! whole).

mod common;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use axum::http::Method;
use chrono::{SecondsFormat, Utc};
use common::*;
use herald::ids::{EventId, MessageId, TenantId};
use herald::messages::{Message, MessageStatus};
use herald_tracker::Tracker;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

const SUPPRESSIONS: &str = "/api/v1/communication/suppressions";

/// A tenant ready to send, with one invitation sent to a guest: the mail's tags as SES has
/// them (the sender's, sealed).
struct Sent {
    s: Setup,
    email: String,
    contact: String,
    tags: Value,
}

async fn sent_invitation(stack: &TestStack) -> Sent {
    let s = ready(stack).await;
    let key = &s.t.admin;
    let email = unique_email("trusted");
    import_guests(
        stack,
        key,
        &s.event,
        vec![json!({"first_name": "G", "email": email})],
    )
    .await;
    let done = campaign(stack, key, &s.event).await;
    assert_eq!(done["counts"]["sent"], 1, "{done}");
    let mail = sent_mail(&email).await.pop().expect("a sent mail");
    let contact = contact_of(stack, key, &s.event, &email).await;
    Sent {
        tags: mail["tags"].clone(),
        s,
        email,
        contact,
    }
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// SES's tags object from name/value pairs (each value a one-element list, as SES writes it).
fn tags_of(pairs: &[(&str, String)]) -> Value {
    let mut tags = serde_json::Map::new();
    tags.insert("ses:configuration-set".into(), json!(["herald"]));
    for (name, value) in pairs {
        tags.insert((*name).to_owned(), json!([value]));
    }
    Value::Object(tags)
}

/// The mail's own tags (those the sender set, as the emulator's outbox keeps them: name to
/// value) as pairs.
fn pairs_of(tags: &Value) -> Vec<(&'static str, String)> {
    [
        "herald_tenant",
        "herald_event",
        "herald_campaign",
        "herald_message",
        "herald_contact",
        "herald_expires",
        "herald_seal",
    ]
    .into_iter()
    .filter_map(|n| tags[n].as_str().map(|v| (n, v.to_owned())))
    .collect()
}

/// An SES event record: `kind` with its section, about mail to `to` with these tags.
fn ses_event(kind: &str, to: &str, tags: &Value, n: u32) -> String {
    let at = now();
    let mut v = json!({
        "eventType": kind,
        "mail": {"timestamp": at, "source": "events@acme.example",
            "sendingAccountId": "123456789012", "messageId": format!("ses-trust-{n}"),
            "destination": [to], "headersTruncated": false, "tags": tags}
    });
    let section = match kind {
        "Delivery" => (
            "delivery",
            json!({"timestamp": at, "recipients": [to],
            "processingTimeMillis": 500, "smtpResponse": "250 ok"}),
        ),
        "Bounce" => (
            "bounce",
            json!({"bounceType": "Permanent", "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": to, "action": "failed", "status": "5.1.1"}],
            "timestamp": at, "feedbackId": format!("fb-{n}")}),
        ),
        "Complaint" => (
            "complaint",
            json!({"complainedRecipients": [{"emailAddress": to}],
            "timestamp": at, "feedbackId": format!("fb-{n}"), "complaintFeedbackType": "abuse"}),
        ),
        "Open" => (
            "open",
            json!({"timestamp": at, "userAgent": format!("agent-{n}"),
            "ipAddress": "192.0.2.1"}),
        ),
        other => panic!("no section for {other}"),
    };
    v[section.0] = section.1;
    v.to_string()
}

/// An SES Subscription event: the recipient unsubscribed through SES's own management.
fn subscription_event(to: &str, tags: &Value, all: bool) -> String {
    let topics = if all {
        json!([])
    } else {
        json!([{"topicName": "invitations", "subscriptionStatus": "OptOut"}])
    };
    json!({
        "eventType": "Subscription",
        "mail": {"timestamp": now(), "source": "events@acme.example",
            "sendingAccountId": "123456789012", "messageId": format!("ses-sub-{to}"),
            "destination": [to], "headersTruncated": false, "tags": tags},
        "subscription": {"contactList": "guests", "timestamp": now(),
            "source": "UnsubscribeHeader",
            "newTopicPreferences": {"unsubscribeAll": all, "topicSubscriptionStatus": topics},
            "oldTopicPreferences": {"unsubscribeAll": false, "topicSubscriptionStatus": []}}
    })
    .to_string()
}

/// SQS records, as Lambda hands them over: each body inside SNS's notification, with its
/// delivery count and when SQS received it.
fn batch(bodies: &[String], receives: u32) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let mut r = SqsMessage::default();
            r.message_id = Some(format!("record-{i}"));
            r.body = Some(json!({"Type": "Notification", "Message": body}).to_string());
            r.attributes
                .insert("ApproximateReceiveCount".into(), receives.to_string());
            r.attributes.insert(
                "SentTimestamp".into(),
                Utc::now().timestamp_millis().to_string(),
            );
            r
        })
        .collect();
    event
}

fn failures(answer: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<String> {
    let mut ids: Vec<String> = answer
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    ids.sort();
    ids
}

fn tracker(stack: &TestStack) -> Tracker {
    Tracker::new(stack.state.store.clone(), stack.state.sealer.clone())
}

/// A sent email's record, as the sender writes it.
fn record(tenant: TenantId, event: EventId, id: MessageId) -> Message {
    let now = Utc::now();
    Message {
        id,
        tenant_id: tenant,
        event_id: event,
        campaign_id: None,
        guest_id: None,
        category: herald::domain::TemplateCategory::Invitation,
        status: MessageStatus::Sent,
        channel: Some(herald::domain::Channel::Email),
        provider_id: None,
        provider_message_id: None,
        attempts: 1,
        last_error: None,
        snapshot_version: None,
        created_at: now,
        updated_at: now,
        claimed_at: None,
        sent_at: Some(now),
        pending_job: None,
        ttl: None,
        not_before: None,
        subject: None,
    }
}

async fn suppressed(stack: &TestStack, key: &str, address: &str) -> Vec<Value> {
    items(
        &expect(
            stack,
            Method::GET,
            &format!("{SUPPRESSIONS}?address={address}"),
            key,
            None,
            200,
        )
        .await,
    )
}

async fn event_counts(stack: &TestStack, tenant: &str, event: &str) -> herald::store::Counters {
    stack
        .state
        .store
        .counters(&herald::tracking::Scope::Event(
            tenant.parse().expect("tenant"),
            event.parse().expect("event"),
        ))
        .await
        .expect("counters")
}

#[tokio::test]
async fn reports_about_messages_the_tenant_never_sent_move_nothing() {
    let stack = stack().await;
    let a = sent_invitation(&stack).await;
    let key = &a.s.t.admin;
    // Another tenant with a message of its own.
    let b = tenant(&stack, "Other").await;
    let (b_tenant, b_event, b_message) = (
        b.id.parse::<TenantId>().expect("id"),
        EventId::new(),
        MessageId::new(),
    );
    stack
        .state
        .store
        .finish_messages(b_tenant, &[record(b_tenant, b_event, b_message)])
        .await
        .expect("B's record");
    let b_guest = unique_email("b-guest");
    let stranger = unique_email("stranger");
    let before = event_counts(&stack, &a.s.t.id, &a.s.event).await;

    // Tenant A's tags, a message id A never sent; then A's tenant with B's message.
    let mut made_up = pairs_of(&a.tags);
    made_up.retain(|(n, _)| !matches!(*n, "herald_seal" | "herald_contact" | "herald_message"));
    made_up.push(("herald_message", MessageId::new().to_string()));
    let made_up = tags_of(&made_up);
    let mut crossed = pairs_of(&a.tags);
    crossed.retain(|(n, _)| !matches!(*n, "herald_seal" | "herald_contact" | "herald_message"));
    crossed.push(("herald_message", b_message.to_string()));
    let crossed = tags_of(&crossed);
    let bodies = [
        ses_event("Delivery", &stranger, &made_up, 1),
        ses_event("Bounce", &stranger, &made_up, 2),
        ses_event("Complaint", &a.email, &made_up, 3),
        ses_event("Bounce", &b_guest, &crossed, 4),
    ];
    let tracker = tracker(&stack);
    // Held: each record comes back (a partial batch failure) and nothing is counted.
    let first = tracker.handle(batch(&bodies, 1)).await;
    assert_eq!(
        failures(&first),
        ["record-0", "record-1", "record-2", "record-3"]
    );
    assert_eq!(tracker.counters.held.load(Ordering::Relaxed), 4);
    // At the fourth delivery they are dropped as orphaned.
    let last = tracker.handle(batch(&bodies, 4)).await;
    assert!(last.batch_item_failures.is_empty(), "{last:?}");
    assert_eq!(tracker.counters.orphaned.load(Ordering::Relaxed), 4);
    assert_eq!(tracker.counters.recorded.load(Ordering::Relaxed), 0);

    let after = event_counts(&stack, &a.s.t.id, &a.s.event).await;
    assert_eq!(after.counts, before.counts, "A's counters did not move");
    assert!(suppressed(&stack, key, &stranger).await.is_empty());
    assert!(
        suppressed(&stack, key, &b_guest).await.is_empty(),
        "B's guest is not on A's list"
    );
    assert!(ledger(&stack, key, &a.contact).await.is_empty());
    let (_, b_events) = stack
        .state
        .store
        .message_with_events(b_tenant, b_message)
        .await
        .expect("read")
        .expect("B's message");
    assert!(b_events.is_empty(), "B's message is left alone");
}

#[tokio::test]
async fn a_seal_that_does_not_verify_is_never_believed() {
    let stack = stack().await;
    let a = sent_invitation(&stack).await;
    assert!(
        a.tags["herald_seal"]
            .as_str()
            .is_some_and(|s| s.len() == 22),
        "the sender seals its tags: {}",
        a.tags
    );
    let genuine = tags_of(&pairs_of(&a.tags));
    // The same seal over other ids: another contact, another expiry.
    let mut other_contact = pairs_of(&a.tags);
    for (n, v) in &mut other_contact {
        if *n == "herald_contact" {
            *v = herald::ids::ContactId::new().to_string();
        }
    }
    let mut garbled = pairs_of(&a.tags);
    for (n, v) in &mut garbled {
        if *n == "herald_seal" {
            *v = "not-a-seal".into();
        }
    }
    let tracker = tracker(&stack);
    let answer = tracker
        .handle(batch(
            &[
                ses_event("Complaint", &a.email, &tags_of(&other_contact), 1),
                ses_event("Complaint", &a.email, &tags_of(&garbled), 2),
            ],
            1,
        ))
        .await;
    assert!(answer.batch_item_failures.is_empty(), "not held: refused");
    assert_eq!(tracker.counters.untrusted.load(Ordering::Relaxed), 2);
    assert_eq!(tracker.counters.recorded.load(Ordering::Relaxed), 0);
    assert!(suppressed(&stack, &a.s.t.admin, &a.email).await.is_empty());
    // The genuine tags are believed at once.
    let answer = tracker
        .handle(batch(&[ses_event("Open", &a.email, &genuine, 3)], 1))
        .await;
    assert!(answer.batch_item_failures.is_empty());
    assert_eq!(tracker.counters.recorded.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn an_early_report_counts_once_when_its_message_is_recorded() {
    let stack = stack().await;
    let t = tenant(&stack, "Early").await;
    let (tenant_id, event, message) = (
        t.id.parse::<TenantId>().expect("id"),
        EventId::new(),
        MessageId::new(),
    );
    let tags = tags_of(&[
        ("herald_tenant", t.id.clone()),
        ("herald_event", event.to_string()),
        ("herald_message", message.to_string()),
    ]);
    let bodies = [ses_event("Delivery", &unique_email("early"), &tags, 1)];
    let tracker = tracker(&stack);
    assert_eq!(
        failures(&tracker.handle(batch(&bodies, 1)).await),
        ["record-0"]
    );
    stack
        .state
        .store
        .finish_messages(tenant_id, &[record(tenant_id, event, message)])
        .await
        .expect("the record");
    // Its next delivery finds the record: counted, once, however often it comes again.
    for receives in [2, 3] {
        let answer = tracker.handle(batch(&bodies, receives)).await;
        assert!(answer.batch_item_failures.is_empty(), "{answer:?}");
    }
    assert_eq!(tracker.counters.recorded.load(Ordering::Relaxed), 1);
    assert_eq!(tracker.counters.duplicates.load(Ordering::Relaxed), 1);
    let counts = stack
        .state
        .store
        .counters(&herald::tracking::Scope::Event(tenant_id, event))
        .await
        .expect("counters");
    assert_eq!(counts.get("n#delivered"), 1);
}

#[tokio::test]
async fn consent_effects_need_no_contact_tag_and_ses_unsubscribes_are_honoured() {
    let stack = stack().await;
    let a = sent_invitation(&stack).await;
    let key = &a.s.t.admin;
    // Two more guests and a second campaign: each mail's tags without the contact (and so
    // without the seal, which covers it): only the message's record vouches for them.
    let (all, one) = (unique_email("leaves-all"), unique_email("leaves-one"));
    import_guests(
        &stack,
        key,
        &a.s.event,
        vec![
            json!({"first_name": "A", "email": all}),
            json!({"first_name": "O", "email": one}),
        ],
    )
    .await;
    let second = campaign(&stack, key, &a.s.event).await;
    assert_eq!(second["counts"]["sent"], 3, "{second}");
    let bare = |tags: &Value| {
        let mut pairs = pairs_of(tags);
        pairs.retain(|(n, _)| !matches!(*n, "herald_seal" | "herald_contact"));
        tags_of(&pairs)
    };
    let tags_all = bare(&sent_mail(&all).await.pop().expect("mail")["tags"]);
    let tags_one = bare(&sent_mail(&one).await.pop().expect("mail")["tags"]);
    let tags_first = bare(&a.tags);
    let tracker = tracker(&stack);
    let answer = tracker
        .handle(batch(
            &[
                subscription_event(&all, &tags_all, true),
                subscription_event(&one, &tags_one, false),
                ses_event("Complaint", &a.email, &tags_first, 9),
            ],
            1,
        ))
        .await;
    assert!(answer.batch_item_failures.is_empty(), "{answer:?}");
    let contact_all = contact_of(&stack, key, &a.s.event, &all).await;
    let contact_one = contact_of(&stack, key, &a.s.event, &one).await;
    for (contact, source, changes) in [
        (
            &contact_all,
            "ses_subscription",
            json!(["opted_out:*#email"]),
        ),
        (
            &contact_one,
            "ses_subscription",
            json!(["opted_out:invitation#email"]),
        ),
        (
            &a.contact,
            "complaint",
            json!(["opted_out:*#email", "suppressed:email"]),
        ),
    ] {
        let entries = ledger(&stack, key, contact).await;
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(entries[0]["source"], source, "{entries:?}");
        let recorded: Vec<Value> = entries[0]["changes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| {
                !c.as_str()
                    .unwrap_or_default()
                    .starts_with("ses_subscription:")
            })
            .cloned()
            .collect();
        assert_eq!(Value::from(recorded), changes, "{entries:?}");
    }
    // The next invitation skips all three (the complaint's address is suppressed besides).
    let third = campaign(&stack, key, &a.s.event).await;
    let counts = &third["counts"];
    assert_eq!(counts["sent"], 0, "{third}");
    assert_eq!(
        counts["no_consent"].as_u64().unwrap_or(0) + counts["suppressed"].as_u64().unwrap_or(0),
        3,
        "{third}"
    );
    assert!(counts["no_consent"].as_u64().unwrap_or(0) >= 2, "{third}");
}

#[tokio::test]
async fn two_hard_bounces_of_one_address_in_one_batch_are_one_suppression() {
    let stack = stack().await;
    let t = tenant(&stack, "Bounces").await;
    let tenant_id = t.id.parse::<TenantId>().expect("id");
    let event = EventId::new();
    let address = unique_email("gone");
    let messages = [MessageId::new(), MessageId::new()];
    stack
        .state
        .store
        .finish_messages(tenant_id, &messages.map(|m| record(tenant_id, event, m)))
        .await
        .expect("records");
    let bodies: Vec<String> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let tags = tags_of(&[
                ("herald_tenant", t.id.clone()),
                ("herald_event", event.to_string()),
                ("herald_message", m.to_string()),
            ]);
            ses_event("Bounce", &address, &tags, i as u32)
        })
        .collect();
    let tracker = tracker(&stack);
    let answer = tracker.handle(batch(&bodies, 1)).await;
    assert!(answer.batch_item_failures.is_empty(), "{answer:?}");
    assert_eq!(tracker.counters.recorded.load(Ordering::Relaxed), 2);
    let found = suppressed(&stack, &t.admin, &address).await;
    assert_eq!(found.len(), 1, "{found:?}");
}
