//! The tracker's CPU per event, AWS calls excluded: a batch of 100 SES events (in SNS
//! notifications, as the tracker queue delivers them) read, deduplicated, keyed, planned
//! (items, suppressions, first opens) and tallied into counter deltas — everything
//! `Store::ingest_events` does besides its BatchGetItem, BatchWriteItem and UpdateItem calls.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use herald::ids::{CampaignId, EventId, MessageId, ProviderId, TenantId};
use serde_json::json;

/// 100 events about 25 messages of one campaign: Send, Delivery, Open and Click each.
fn batch() -> SqsEvent {
    let (tenant, event, campaign, provider) = (
        TenantId::new(),
        EventId::new(),
        CampaignId::new(),
        ProviderId::new(),
    );
    let mut records = Vec::new();
    for m in 0..25 {
        let message = MessageId::new();
        let mail = json!({
            "timestamp": "2026-11-22T10:00:00.000Z",
            "source": "events@acme.example",
            "sendingAccountId": "123456789012",
            "messageId": format!("0100018c-{m:04}"),
            "destination": [format!("guest{m}@example.com")],
            "headersTruncated": false,
            "tags": {
                "ses:configuration-set": ["herald"],
                "herald_tenant": [tenant.to_string()],
                "herald_event": [event.to_string()],
                "herald_campaign": [campaign.to_string()],
                "herald_message": [message.to_string()],
                "herald_provider": [provider.to_string()],
            }
        });
        let events = [
            json!({"eventType": "Send", "mail": mail, "send": {}}),
            json!({"eventType": "Delivery", "mail": mail, "delivery": {
                "timestamp": "2026-11-22T10:00:01.000Z", "processingTimeMillis": 900,
                "recipients": mail["destination"], "smtpResponse": "250 ok"}}),
            json!({"eventType": "Open", "mail": mail, "open": {
                "timestamp": "2026-11-22T10:05:00.000Z", "ipAddress": "192.0.2.1",
                "userAgent": "Mozilla/5.0"}}),
            json!({"eventType": "Click", "mail": mail, "click": {
                "timestamp": "2026-11-22T10:06:00.000Z", "ipAddress": "192.0.2.1",
                "userAgent": "Mozilla/5.0", "link": format!("https://acme.example/rsvp/{}", m % 3),
                "linkTags": {}}}),
        ];
        for (i, e) in events.iter().enumerate() {
            let mut record = SqsMessage::default();
            record.message_id = Some(format!("{m}-{i}"));
            record.body = Some(
                json!({"Type": "Notification", "MessageId": format!("sns-{m}-{i}"),
                    "TopicArn": "arn:aws:sns:us-east-1:123456789012:herald-ses-events",
                    "Message": e.to_string(), "Timestamp": "2026-11-22T10:06:00.000Z"})
                .to_string(),
            );
            records.push(record);
        }
    }
    let mut event = SqsEvent::default();
    event.records = records;
    event
}

fn tracker_cpu(c: &mut Criterion) {
    let event = batch();
    c.bench_function("tracker_batch_of_100_events", |b| {
        b.iter(|| {
            let parsed = herald_tracker::parse_batch(black_box(&event));
            let events: Vec<_> = parsed.reports.into_iter().map(|(_, e)| e).collect();
            let (distinct, dropped) = herald::store::distinct(&events);
            let keys = herald::store::candidate_keys(&distinct);
            let plan =
                herald::store::plan_ingest(distinct, dropped, Default::default()).expect("plan");
            black_box((keys, plan));
        })
    });
}

criterion_group!(benches, tracker_cpu);
criterion_main!(benches);
