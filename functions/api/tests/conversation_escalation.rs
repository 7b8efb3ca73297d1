//! Routing and escalation end to end: a rule routes an SMS to a queue with a limit, the
//! inbound function writes the conversation's one-time schedule (EventBridge Scheduler, in
//! moto) for when the limit is reached, and the job that schedule carries escalates the
//! conversation — priority raised, `conversation.escalated` delivered to the tenant's
//! endpoint, listed by `escalated=true`. A guest who was answered is not escalated, and a
//! conversation moved to another queue has its schedule moved to that queue's limit.
//!
//! The test is the clock: it reads the schedule moto holds and delivers its input, as
//! EventBridge Scheduler does when the time comes. An escalation due within 15 minutes (here,
//! a message read late, already past its queue's one-minute limit) is a delayed SQS message
//! instead of a schedule, and goes through the stack's own queue.

mod common;

use std::time::Duration;

use aws_lambda_events::event::sqs::SqsMessage;
use axum::http::Method;
use chrono::{DateTime, NaiveDateTime, Utc};
use common::consent::{contact_of, ready};
use common::*;
use herald_local::fakes::receiver::Receiver;
use herald_local::testing::TestStack;
use serde_json::{Value, json};

use common::conversations::{CONVERSATIONS, conversations};

/// The conversation of a contact once its thread holds `n` messages.
async fn conversation_of(stack: &TestStack, key: &str, contact: &str, n: u64) -> Value {
    for _ in 0..120 {
        let page = expect(
            stack,
            Method::GET,
            &format!("{CONVERSATIONS}?contact_id={contact}"),
            key,
            None,
            200,
        )
        .await;
        if let Some(c) = items(&page).into_iter().next()
            && c["message_count"].as_u64() >= Some(n)
        {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("no conversation of {n} messages for {contact} after 30 s");
}

async fn get(stack: &TestStack, key: &str, id: &str) -> Value {
    expect(
        stack,
        Method::GET,
        &format!("{CONVERSATIONS}/{id}"),
        key,
        None,
        200,
    )
    .await["conversation"]
        .clone()
}

/// A conversation's escalation schedule as moto holds it: its time (UTC) and its input.
async fn schedule(stack: &TestStack, id: &str) -> Option<(DateTime<Utc>, Value)> {
    let scheduler = aws_sdk_scheduler::Client::new(&stack.sdk);
    let s = scheduler
        .get_schedule()
        .name(format!("hc-{id}"))
        .send()
        .await
        .ok()?;
    assert_eq!(s.schedule_expression_timezone(), Some("UTC"));
    assert_eq!(
        s.action_after_completion().map(|a| a.as_str()),
        Some("DELETE")
    );
    let target = s.target().expect("a target");
    let queue = stack
        .state
        .queues
        .inbound
        .rsplit('/')
        .next()
        .expect("a queue URL");
    assert!(
        target.arn().starts_with("arn:aws:sqs:") && target.arn().ends_with(&format!(":{queue}")),
        "the inbound queue: {}",
        target.arn()
    );
    let at = s
        .schedule_expression()
        .and_then(|e| e.strip_prefix("at(")?.strip_suffix(')').map(str::to_owned))
        .and_then(|e| NaiveDateTime::parse_from_str(&e, "%Y-%m-%dT%H:%M:%S").ok())
        .expect("an at(...) expression")
        .and_utc();
    let input = serde_json::from_str(target.input().expect("an input")).expect("JSON input");
    Some((at, input))
}

/// Polls (bounded) until the conversation's schedule is written for `at` (to the second).
async fn scheduled_for(stack: &TestStack, id: &str, at: DateTime<Utc>) -> Value {
    for _ in 0..120 {
        if let Some((when, input)) = schedule(stack, id).await
            && when.timestamp() == at.timestamp()
        {
            return input;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("conversation {id} has no escalation schedule for {at} after 30 s");
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .expect("a time")
        .with_timezone(&Utc)
}

fn job(input: &Value) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = Some(format!("fire-{}", rand_u32()));
    record.body = Some(input.to_string());
    record
}

#[tokio::test]
async fn a_routed_conversation_nobody_answers_is_escalated_and_an_answered_one_is_not() {
    let stack = stack().await;
    let s = ready(&stack).await;
    let key = &s.t.admin;
    let receiver = Receiver::start(vec![]).await.expect("receiver");
    expect(
        &stack,
        Method::POST,
        "/api/v1/communication/webhook-endpoints",
        key,
        Some(json!({"url": format!("{}/hooks", receiver.url()),
            "event_types": ["conversation.escalated"]})),
        201,
    )
    .await;
    expect(
        &stack,
        Method::PUT,
        "/api/v1/communication/conversation-settings",
        key,
        Some(json!({"version": 0, "help_text": "Gala help: events@acme.example",
            "rules": [{"id": "refunds", "words": ["refund"], "queue": "billing", "priority": "high"},
                      {"id": "asap", "words": ["asap"], "queue": "desk"}],
            "queues": {"general": {"escalate_after_minutes": 60},
                       "billing": {"escalate_after_minutes": 20},
                       "desk": {"escalate_after_minutes": 1}}})),
        200,
    )
    .await;
    let number = two_way_number(&stack, key).await;
    let (late, answered) = (
        format!("+4477{:08}", rand_u32() % 100_000_000),
        format!("+4478{:08}", rand_u32() % 100_000_000),
    );
    let (late_email, answered_email) = (unique_email("late"), unique_email("answered"));
    import_guests(
        &stack,
        key,
        &s.event,
        vec![
            json!({"first_name": "L", "email": late_email, "phone": late}),
            json!({"first_name": "A", "email": answered_email, "phone": answered}),
        ],
    )
    .await;
    let sim = stack.inbound().unwrap();
    let function = stack.inbound_function().unwrap();

    // Routed to billing (20 minutes) at high priority; the clock starts at the message.
    sim.sms(&late, &number, "Can I get a refund?", None)
        .await
        .unwrap();
    let contact = contact_of(&stack, key, &s.event, &late_email).await;
    let c = conversation_of(&stack, key, &contact, 1).await;
    let id = text(&c, "id");
    assert_eq!(
        (c["queue"].as_str(), c["priority"].as_str()),
        (Some("billing"), Some("high"))
    );
    let due = time(&c["unanswered_since"]) + chrono::Duration::minutes(20);
    let input = scheduled_for(&stack, &id, due).await;
    assert_eq!(input["conversation_id"], json!(id));
    assert_eq!(input["herald_escalate"], json!(s.t.id));
    // A second message while the guest waits keeps the clock where it is.
    sim.sms(&late, &number, "Hello?", None).await.unwrap();
    conversation_of(&stack, key, &contact, 2).await;
    assert_eq!(scheduled_for(&stack, &id, due).await, input);

    // The time comes: the schedule's job, through the inbound queue as Scheduler sends it.
    stack
        .state
        .queues
        .sqs
        .send_message()
        .queue_url(&stack.state.queues.inbound)
        .message_body(input.to_string())
        .send()
        .await
        .unwrap();
    let mut escalated = Value::Null;
    for _ in 0..120 {
        escalated = get(&stack, key, &id).await;
        if escalated["escalated_at"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(escalated["priority"], "urgent", "{escalated}");
    let hooks = receiver.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    let hook = &hooks[0].body;
    assert_eq!(hook["type"], "conversation.escalated", "{hook}");
    assert_eq!(hook["data"]["conversation_id"], json!(id));
    assert_eq!(hook["data"]["queue"], "billing");
    assert_eq!(hook["data"]["priority"], "urgent");
    let escalated_now = conversations(
        &stack,
        key,
        &format!("?escalated=true&event_id={}", s.event),
        0,
    )
    .await;
    assert!(
        escalated_now.iter().any(|c| c["id"] == json!(id)),
        "{escalated_now:?}"
    );
    // The same job again (SQS delivers at least once) changes nothing.
    assert!(function.handle_record(job(&input)).await);
    let again = get(&stack, key, &id).await;
    assert_eq!(again["version"], escalated["version"]);

    // Another guest writes (general: an hour) and a person answers before the hour is out.
    sim.sms(&answered, &number, "What time are doors?", None)
        .await
        .unwrap();
    let contact = contact_of(&stack, key, &s.event, &answered_email).await;
    let c = conversation_of(&stack, key, &contact, 1).await;
    let other = text(&c, "id");
    let due = time(&c["unanswered_since"]) + chrono::Duration::hours(1);
    let input = scheduled_for(&stack, &other, due).await;
    // Moved to billing, its schedule moves to billing's 20 minutes.
    expect(
        &stack,
        Method::PATCH,
        &format!("{CONVERSATIONS}/{other}"),
        key,
        Some(json!({"queue": "billing", "version": c["version"]})),
        200,
    )
    .await;
    let moved = scheduled_for(&stack, &other, due - chrono::Duration::minutes(40)).await;
    assert_eq!(moved["conversation_id"], json!(other));
    expect(
        &stack,
        Method::POST,
        &format!("{CONVERSATIONS}/{other}/messages"),
        key,
        Some(json!({"text": "Doors open at 7pm."})),
        202,
    )
    .await;
    // Both the old time's job and the moved one find the guest answered.
    let before = get(&stack, key, &other).await;
    assert!(before["unanswered_since"].is_null(), "{before}");
    for fired in [&input, &moved] {
        assert!(function.handle_record(job(fired)).await);
    }
    let after = get(&stack, key, &other).await;
    assert!(after["escalated_at"].is_null(), "{after}");
    assert_eq!(after["priority"], before["priority"]);
    assert_eq!(after["version"], before["version"]);
    assert_eq!(
        function
            .counters
            .escalated
            .load(std::sync::atomic::Ordering::Relaxed),
        0,
        "this process escalated nothing"
    );
    let not_escalated = conversations(
        &stack,
        key,
        &format!("?escalated=false&event_id={}", s.event),
        0,
    )
    .await;
    assert!(not_escalated.iter().any(|c| c["id"] == json!(other)));
    assert!(not_escalated.iter().all(|c| c["id"] != json!(id)));
    // An escalation job of a malformed shape is counted and skipped, not retried.
    let mut bad = SqsMessage::default();
    bad.body = Some(json!({"herald_escalate": "nobody"}).to_string());
    assert!(function.handle_record(bad).await);
    assert_eq!(
        function
            .counters
            .malformed
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );

    // A guest's SMS read two minutes after SQS got it, routed to a one-minute queue: already
    // due, so no schedule, and the job goes straight through the inbound queue.
    let late = format!("+4479{:08}", rand_u32() % 100_000_000);
    let mut record = SqsMessage::default();
    record.message_id = Some("late-1".into());
    record.body = Some(
        json!({"originationNumber": late, "destinationNumber": number,
            "messageBody": "Please call me asap", "inboundMessageId": format!("late-{}", rand_u32())})
        .to_string(),
    );
    record.attributes.insert(
        "SentTimestamp".into(),
        (chrono::Utc::now() - chrono::Duration::minutes(2))
            .timestamp_millis()
            .to_string(),
    );
    assert!(function.handle_record(record).await);
    let desk = conversations(&stack, key, "?queue=desk&escalated=true", 1).await[0].clone();
    assert_eq!(desk["address"], json!(late), "{desk}");
    assert_eq!(desk["priority"], "high");
    assert!(
        schedule(&stack, &text(&desk, "id")).await.is_none(),
        "no schedule"
    );
    assert!(desk.get("escalation_set_for").is_none(), "never shown");
}

/// An SMS from `from`, read as if SQS had got it `ago` (End User Messaging's payload has no
/// time of its own: the guest's message is dated by its SQS `SentTimestamp`).
fn sms_received_ago(from: &str, to: &str, body: &str, ago: chrono::Duration) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = Some(format!("sms-{}", rand_u32()));
    record.body = Some(
        json!({"originationNumber": from, "destinationNumber": to, "messageBody": body,
            "inboundMessageId": format!("in-{}", rand_u32())})
        .to_string(),
    );
    record.attributes.insert(
        "SentTimestamp".into(),
        (Utc::now() - ago).timestamp_millis().to_string(),
    );
    record
}

#[tokio::test]
async fn new_queue_limits_reach_the_conversations_guests_already_wait_on() {
    let stack = stack().await;
    let s = ready(&stack).await;
    let key = &s.t.admin;
    let settings = "/api/v1/communication/conversation-settings";
    let first = expect(
        &stack,
        Method::PUT,
        settings,
        key,
        Some(json!({"version": 0, "help_text": "Gala help: events@acme.example"})),
        200,
    )
    .await;
    let number = two_way_number(&stack, key).await;
    let guests: Vec<(String, String)> = ["now", "earlier", "closed"]
        .iter()
        .map(|name| {
            (
                unique_email(name),
                format!("+4477{:08}", rand_u32() % 100_000_000),
            )
        })
        .collect();
    import_guests(
        &stack,
        key,
        &s.event,
        guests
            .iter()
            .map(|(email, phone)| json!({"first_name": "G", "email": email, "phone": phone}))
            .collect(),
    )
    .await;
    let function = stack.inbound_function().unwrap();
    // Three guests write while no queue has a limit: one now, one ten minutes ago, and one
    // whose conversation a person closes.
    let mut ids = Vec::new();
    for ((email, phone), ago) in guests.iter().zip([0, 10, 0]) {
        let record = sms_received_ago(
            phone,
            &number,
            "Is there parking?",
            chrono::Duration::minutes(ago),
        );
        assert!(function.handle_record(record).await);
        let contact = contact_of(&stack, key, &s.event, email).await;
        ids.push(conversation_of(&stack, key, &contact, 1).await);
    }
    let closed = &ids[2];
    expect(
        &stack,
        Method::PATCH,
        &format!("{CONVERSATIONS}/{}", text(closed, "id")),
        key,
        Some(json!({"status": "closed", "version": closed["version"]})),
        200,
    )
    .await;
    for c in &ids {
        assert!(
            schedule(&stack, &text(c, "id")).await.is_none(),
            "no limit, no clock"
        );
    }

    // The tenant gives `general` an hour and a half: both waiting guests get their clock, from
    // their own first message; the closed conversation none.
    expect(
        &stack,
        Method::PUT,
        settings,
        key,
        Some(
            json!({"version": first["version"], "help_text": "Gala help: events@acme.example",
            "queues": {"general": {"escalate_after_minutes": 90}}}),
        ),
        200,
    )
    .await;
    let (now, earlier) = (&ids[0], &ids[1]);
    for c in [now, earlier] {
        let due = time(&c["unanswered_since"]) + chrono::Duration::minutes(90);
        let input = scheduled_for(&stack, &text(c, "id"), due).await;
        assert_eq!(input["conversation_id"], c["id"]);
    }
    assert!(schedule(&stack, &text(closed, "id")).await.is_none());

    // The event's layer makes it five minutes: the guest who wrote ten minutes ago is overdue
    // and escalated at once; the other's clock is a delayed message for five minutes after
    // their message (not yet come), so neither it nor anyone else is escalated.
    expect(
        &stack,
        Method::PUT,
        &format!("/api/v1/events/{}/conversation-settings", s.event),
        key,
        Some(json!({"version": 0, "queues": {"general": {"escalate_after_minutes": 5}}})),
        200,
    )
    .await;
    let escalated_list = format!("?escalated=true&event_id={}", s.event);
    let escalated = conversations(&stack, key, &escalated_list, 1).await;
    let ids_of = |list: &[Value]| list.iter().map(|c| text(c, "id")).collect::<Vec<_>>();
    assert_eq!(ids_of(&escalated), vec![text(earlier, "id")]);
    assert_eq!(escalated[0]["priority"], "high", "normal, one step up");
    // A reclock that does not parse is skipped (not retried), and nothing else is escalated.
    let mut bad = SqsMessage::default();
    bad.body = Some(json!({"herald_reclock": s.t.id, "cursor": "PK#x"}).to_string());
    assert!(function.handle_record(bad).await);
    let still = conversations(&stack, key, &escalated_list, 0).await;
    assert_eq!(ids_of(&still), vec![text(earlier, "id")]);
}
