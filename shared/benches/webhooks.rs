//! Signing a webhook delivery (Standard Webhooks): the HMAC-SHA256 of `id.timestamp.body` for a
//! typical 600-byte `message.delivered` payload, with one secret and with two (the 24 hours
//! after a rotation), and a receiver's verification of it.

use std::hint::black_box;

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use herald::domain::{Channel, DeliveryEvent};
use herald::ids::{CampaignId, ContactId, EventId, MessageId, ProviderId, TenantId};
use herald::tracking::Tracked;
use herald::webhooks::{WebhookSecret, message_event, signature_header, verify};

fn payload() -> String {
    let tracked = Tracked {
        tenant: TenantId::new(),
        message: MessageId::new(),
        event: Some(EventId::new()),
        campaign: Some(CampaignId::new()),
        contact: Some(ContactId::new()),
        expires: None,
        provider: Some(ProviderId::new()),
        channel: Channel::Email,
        kind: DeliveryEvent::Delivered,
        at: Utc::now(),
        sent_at: Some(Utc::now()),
        provider_message_id: Some(
            "010001929a0b1c2d-3e4f5a6b-7c8d-9e0f-a1b2-c3d4e5f6a7b8-000000".into(),
        ),
        detail: None,
        link: None,
        suppress: Vec::new(),
        identity: "4f0c1a9e2b7d".into(),
        opt_out: None,
        recipient: None,
        seal: herald::tracking::seal::SealState::Absent,
    };
    message_event(&tracked)
        .map(|e| e.payload())
        .unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    let body = payload();
    let (old, new) = (WebhookSecret::generate(), WebhookSecret::generate());
    let id = MessageId::new().to_string();
    let ts = Utc::now().timestamp();
    c.bench_function("webhook_sign_one_secret", |b| {
        b.iter(|| signature_header(black_box(&[&new]), &id, ts, body.as_bytes()))
    });
    c.bench_function("webhook_sign_two_secrets", |b| {
        b.iter(|| signature_header(black_box(&[&new, &old]), &id, ts, body.as_bytes()))
    });
    let header = signature_header(&[&new, &old], &id, ts, body.as_bytes());
    c.bench_function("webhook_verify", |b| {
        b.iter(|| {
            verify(
                black_box(&header),
                &[&new],
                &id,
                ts,
                body.as_bytes(),
                ts,
                300,
            )
        })
    });
    c.bench_function("webhook_payload", |b| b.iter(payload));
}

criterion_group!(benches, bench);
criterion_main!(benches);
