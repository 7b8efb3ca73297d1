//! Transactional messages while a campaign is sending: how long one waits from its `POST`'s
//! answer to the provider's call, when one email provider limited to 20 messages/s carries
//! both a 2,000-guest campaign and a series of transactional messages (20, one every 0.5 s,
//! the way RSVP confirmations come in while the invitations go out).
//!
//! The provider is a Brevo fake that notes when each call arrives and for whom; every other
//! part is the local stack (the API in-process, the sender behind its queues, the emulator).
//! Prints one line, `PRIORITY {json}`, that `make bench` records in BENCHMARKS.md: the waits'
//! p50, p95 and max, and the campaign's sent / duplicated / lost counts. Asserts the campaign
//! reaches every guest exactly once, each transactional message arrives once, the provider's
//! rate holds, and the waits' p95 is under 2 s.
//!
//! About three minutes (2,000 messages at 20/s are 100 s at the least), so `#[ignore]`d:
//! `infra/local/with-moto.sh cargo test -p herald-api --test priority -- --ignored --nocapture`
//! (`make bench` runs it on an emulator of its own). The lanes of the provider gate itself are
//! tested here in seconds (run by `make test`).

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::Method;
use common::*;
use serde_json::{Value, json};
use wiremock::{Request, Respond, ResponseTemplate};

const GUESTS: usize = 2_000;
const RATE: u32 = 20;
const TRANSACTIONAL: usize = 20;
const EVERY: Duration = Duration::from_millis(500);
/// The goal: p95 of the transactional waits on the local stack while the campaign sends.
const GOAL_P95: Duration = Duration::from_secs(2);

/// A Brevo fake's answer that notes each accepted call's recipient and arrival time.
#[derive(Clone, Default)]
struct Arrivals {
    calls: Arc<Mutex<Vec<(String, Instant)>>>,
}

impl Respond for Arrivals {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let to = body["to"][0]["email"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        self.calls.lock().expect("lock").push((to, Instant::now()));
        accepted(Provider::Brevo)
    }
}

impl Arrivals {
    fn snapshot(&self) -> Vec<(String, Instant)> {
        self.calls.lock().expect("lock").clone()
    }

    fn count(&self) -> usize {
        self.calls.lock().expect("lock").len()
    }

    /// Calls per recipient.
    fn by_recipient(&self) -> HashMap<String, Vec<Instant>> {
        let mut out: HashMap<String, Vec<Instant>> = HashMap::new();
        for (to, at) in self.snapshot() {
            out.entry(to).or_default().push(at);
        }
        out
    }
}

/// The `p`-quantile (nearest rank) of sorted durations.
fn quantile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// The most calls in any window of `width` (calls sorted by time).
fn most_within(times: &[Instant], width: Duration) -> usize {
    let mut most = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end].duration_since(times[start]) >= width {
            start += 1;
        }
        most = most.max(end - start + 1);
    }
    most
}

/// A Brevo provider of `tenant` held to `rate` messages/s.
fn rated_provider(tenant: herald::ids::TenantId, rate: u32) -> herald::config::Provider {
    serde_json::from_value(json!({
        "id": herald::ids::ProviderId::new(), "tenant_id": tenant, "layer": "tenant",
        "kind": "brevo", "channel": "email", "name": "Brevo", "priority": 0, "active": true,
        "send_rate": rate, "settings": {}, "credentials": {"ciphertext": "", "hints": {}},
        "version": 1, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
    }))
    .expect("provider")
}

#[tokio::test]
async fn campaigns_booked_far_ahead_leave_the_transactional_share_free() {
    use herald_sender::gate::{Closed, Gate, MAX_WAIT_MS};
    use herald_sender::lanes::{self, Lane, Split};
    let stack = stack().await;
    let store = stack.state.store.clone();
    let ses = aws_sdk_sesv2::Client::new(&stack.sdk);
    let tenant = herald::ids::TenantId::new();
    let provider = rated_provider(tenant, RATE);
    let base = herald::store::keys::provider_rate_bucket(tenant, provider.id);
    let split = Split::of(f64::from(RATE));
    // Campaigns (other instances) have booked the bulk lane 25 s ahead.
    let now = chrono::Utc::now().timestamp_millis();
    store
        .book_send_slots(
            &lanes::bucket(&base, Lane::Bulk),
            split.bulk,
            400,
            now,
            MAX_WAIT_MS,
        )
        .await
        .expect("book")
        .expect("free");
    let campaign = Gate::new(store.clone(), ses.clone(), Some(0.0));
    assert_eq!(
        campaign
            .admit(Lane::Bulk, tenant, &provider, 100)
            .await
            .expect("admit"),
        Err(Closed::RateBooked),
        "a campaign's message waits for a later job"
    );
    // A transactional message goes at once, then each at the transactional share's pace
    // (4 of the 20 messages/s: 250 ms apart), whatever campaigns booked.
    let gate = Gate::new(store.clone(), ses.clone(), Some(0.0));
    let started = Instant::now();
    gate.admit(Lane::Transactional, tenant, &provider, 1)
        .await
        .expect("admit")
        .expect("the transactional lane is free");
    let first = started.elapsed();
    for _ in 0..7 {
        gate.admit(Lane::Transactional, tenant, &provider, 1)
            .await
            .expect("admit")
            .expect("the transactional lane is free");
    }
    let eight = started.elapsed();
    println!(
        "transactional admissions with the bulk lane booked 25 s ahead: the first after {} ms, eight after {} ms",
        first.as_millis(),
        eight.as_millis()
    );
    assert!(first < Duration::from_secs(1), "{first:?}");
    assert!(
        eight >= Duration::from_millis(1_700),
        "held to its share: {eight:?}"
    );
    assert!(eight < Duration::from_secs(5), "{eight:?}");

    // A burst beyond the transactional share takes the bulk lane when that one is free.
    let other = rated_provider(tenant, RATE);
    let base = herald::store::keys::provider_rate_bucket(tenant, other.id);
    let now = chrono::Utc::now().timestamp_millis();
    store
        .book_send_slots(
            &lanes::bucket(&base, Lane::Transactional),
            split.transactional,
            100,
            now,
            MAX_WAIT_MS,
        )
        .await
        .expect("book")
        .expect("free");
    let started = Instant::now();
    gate.admit(Lane::Transactional, tenant, &other, 1)
        .await
        .expect("admit")
        .expect("the bulk lane takes the overflow");
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
#[ignore = "a 2,000-guest campaign at 20 messages/s (about three minutes): make bench runs it"]
async fn transactional_messages_wait_little_while_a_campaign_sends() {
    let stack = stack().await;
    compliance(&stack).await;
    let t = tenant(&stack, "Priority").await;
    let key = &t.admin;
    let server = ProviderFake::start(Provider::Brevo).await;
    server.answer("account-get", connected()).await;
    let arrivals = Arrivals::default();
    server.answer("smtp-email-send", arrivals.clone()).await;
    // The tenant's only email provider, held to 20 messages/s.
    provider(
        &stack,
        key,
        "",
        json!({"kind": "brevo", "name": "Brevo", "priority": 0, "send_rate": RATE,
        "settings": {"from_address": "events@acme.example", "base_url": server.uri()},
        "credentials": {"api_key": "xkeysib-test"}}),
    )
    .await;
    template(&stack, key, "", "invitation", "email", "v1").await;
    template(&stack, key, "", "rsvp_confirmation", "email", "v1").await;
    let event = event(&stack, key, "", "Gala").await;
    complete_wizard(&stack, key, &event).await;
    let to = addresses("campaign", GUESTS);
    import_guests(&stack, key, &event, guests(&to)).await;

    let started = Instant::now();
    let id = send_to_all(&stack, key, &event, json!(["email"])).await;
    // Under way: the provider has taken the campaign's first five seconds of messages.
    let under_way = Instant::now();
    while arrivals.count() < 5 * RATE as usize {
        assert!(
            under_way.elapsed() < Duration::from_secs(120),
            "the campaign did not start sending within 120 s ({} calls)",
            arrivals.count()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The transactional messages, one every 0.5 s, each to its own ad-hoc recipient.
    let confirmations = addresses("confirmation", TRANSACTIONAL);
    let mut answered = Vec::with_capacity(TRANSACTIONAL);
    let first = tokio::time::Instant::now();
    for (i, address) in confirmations.iter().enumerate() {
        tokio::time::sleep_until(first + EVERY * i as u32).await;
        let body = json!({"event_id": event, "category": "rsvp_confirmation",
            "channels": ["email"], "recipient": {"first_name": "R", "email": address}});
        let accepted = expect(
            &stack,
            Method::POST,
            "/api/v1/communication/messages",
            key,
            Some(body),
            202,
        )
        .await;
        assert_eq!(accepted["status"], "queued");
        answered.push(Instant::now());
    }
    let campaign_calls_by_then = arrivals
        .snapshot()
        .iter()
        .filter(|(to, _)| !confirmations.contains(to))
        .count();

    // Every transactional message reaches the provider (bounded: long after the campaign
    // would have finished, so the "before" figures are measured too).
    let posted = Instant::now();
    loop {
        let got = arrivals.by_recipient();
        if confirmations.iter().all(|a| got.contains_key(a)) {
            break;
        }
        if posted.elapsed() > Duration::from_secs(400) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let done = finished(&stack, key, &id, 600).await;
    let wall = started.elapsed();
    // Late duplicates, if any, would come within moments.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let got = arrivals.by_recipient();
    let mut waits: Vec<Duration> = Vec::new();
    let mut missing = 0;
    for (address, answered_at) in confirmations.iter().zip(&answered) {
        match got.get(address).and_then(|calls| calls.first()) {
            Some(at) => waits.push(at.saturating_duration_since(*answered_at)),
            None => missing += 1,
        }
    }
    waits.sort();
    let ms = |d: Duration| (d.as_secs_f64() * 1000.0).round() as u64;
    let (p50, p95, max) = match waits.is_empty() {
        true => (0, 0, 0),
        false => (
            ms(quantile(&waits, 0.50)),
            ms(quantile(&waits, 0.95)),
            ms(quantile(&waits, 1.0)),
        ),
    };
    let per_guest: Vec<usize> = to.iter().map(|a| got.get(a).map_or(0, Vec::len)).collect();
    let sent = per_guest.iter().filter(|n| **n > 0).count();
    let duplicated: usize = per_guest.iter().map(|n| n.saturating_sub(1)).sum();
    let lost = per_guest.iter().filter(|n| **n == 0).count();
    let transactional_duplicated: usize = confirmations
        .iter()
        .map(|a| got.get(a).map_or(0, Vec::len).saturating_sub(1))
        .sum();
    let mut times: Vec<Instant> = arrivals.snapshot().into_iter().map(|(_, at)| at).collect();
    times.sort();
    let most_1s = most_within(&times, Duration::from_secs(1));
    let most_10s = most_within(&times, Duration::from_secs(10));
    let report = json!({
        "guests": GUESTS, "rate": RATE, "transactional": TRANSACTIONAL,
        "p50_ms": p50, "p95_ms": p95, "max_ms": max, "missing": missing,
        "campaign_calls_while_posting": campaign_calls_by_then,
        "sent": sent, "duplicated": duplicated, "lost": lost,
        "transactional_duplicated": transactional_duplicated,
        "campaign_status": done["status"], "campaign_counts_sent": done["counts"]["sent"],
        "wall_seconds": (wall.as_secs_f64() * 10.0).round() / 10.0,
        "most_calls_in_1s": most_1s, "most_calls_in_10s": most_10s,
    });
    println!(
        "transactional wait during a {GUESTS}-guest campaign at {RATE}/s ({TRANSACTIONAL} messages, one every {} ms): p50 {p50} ms, p95 {p95} ms, max {max} ms, missing {missing}; campaign: sent {sent}, duplicated {duplicated}, lost {lost} in {:.1} s; at most {most_1s} calls in a second, {most_10s} in 10 s",
        EVERY.as_millis(),
        wall.as_secs_f64()
    );
    println!("PRIORITY {report}");

    assert_eq!(done["status"], "sent", "{done}");
    assert_eq!(done["counts"]["sent"], GUESTS, "{done}");
    assert_eq!((sent, duplicated, lost), (GUESTS, 0, 0), "every guest once");
    assert_eq!(
        missing, 0,
        "every transactional message reached the provider"
    );
    assert_eq!(
        transactional_duplicated, 0,
        "each transactional message once"
    );
    // The provider's rate holds over campaign and transactional messages together (a second
    // of slack for admissions that return late on a busy machine).
    assert!(
        most_10s <= 11 * RATE as usize,
        "{most_10s} calls in 10 s at {RATE}/s"
    );
    assert!(
        Duration::from_millis(p95) < GOAL_P95,
        "p95 of the transactional waits is {p95} ms"
    );
    server.assert_kept_contract();
}
