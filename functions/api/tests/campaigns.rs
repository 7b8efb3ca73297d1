//! Campaigns end to end through the local stack (API → plan → expansion → delivery batches →
//! moto), with moto's outbox as the witness.

mod common;

use axum::http::Method;
use common::*;
use serde_json::{Value, json};

/// An SMS template and an SNS provider next to the setup's email ones; the wizard completed.
async fn email_and_sms(stack: &TestStack) -> Setup {
    let s = setup(stack).await;
    provider(stack, &s.t.admin, "", sns_json("SNS")).await;
    common::consent::help_text(stack, &s.t.admin).await;
    template(stack, &s.t.admin, "", "invitation", "sms", "sms").await;
    expect(
        stack,
        Method::PUT,
        &wizard_uri(&s.event, "/uses"),
        &s.t.admin,
        Some(json!({"channels": ["email", "sms"], "categories": ["invitation"]})),
        200,
    )
    .await;
    let run = complete_wizard(stack, &s.t.admin, &s.event).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    s
}

fn phone(base: u64, i: u64) -> String {
    format!("+4477{:08}", base + i)
}

/// Run by `make test` against an emulator of its own (see the Makefile): `cargo test -p
/// herald-api --test campaigns -- --ignored thousand_guest`.
#[tokio::test]
#[ignore = "a load test: make test runs it on its own emulator"]
async fn a_thousand_guest_campaign_reaches_every_eligible_guest_exactly_once() {
    let stack = stack().await;
    let s = email_and_sms(&stack).await;
    let key = &s.t.admin;
    let run = ulid::Ulid::generate().to_string().to_lowercase();
    let base = u64::from(rand_u32()) % 90_000_000;
    // 600 by email, 300 by SMS only, 50 with both who prefer SMS, 30 suppressed emails,
    // 20 unsubscribed contacts.
    let mut rows = Vec::new();
    for i in 0..1000u64 {
        let row = match i {
            0..600 => json!({"first_name": "E", "email": format!("e{i}-{run}@example.com")}),
            600..900 => json!({"first_name": "S", "phone": phone(base, i)}),
            900..950 => json!({"first_name": "B", "email": format!("b{i}-{run}@example.com"),
                "phone": phone(base, i), "preferred_channel": "sms"}),
            950..980 => json!({"first_name": "X", "email": format!("x{i}-{run}@example.com")}),
            _ => json!({"first_name": "U", "email": format!("u{i}-{run}@example.com")}),
        };
        rows.push(row);
    }
    let imported = expect(
        &stack,
        Method::POST,
        &format!("/api/v1/events/{}/guests", s.event),
        key,
        Some(json!({"guests": rows})),
        200,
    )
    .await;
    assert_eq!(imported["imported"], 1000, "{imported}");
    let tenant: herald::ids::TenantId = s.t.id.parse().expect("tenant");
    for i in 950..980u64 {
        stack
            .state
            .store
            .add_suppression(
                tenant,
                &herald::suppression::Suppression::new(
                    herald::domain::Channel::Email,
                    &format!("x{i}-{run}@example.com"),
                    herald::suppression::SuppressionSource::Manual,
                    "hard bounce",
                    None,
                ),
            )
            .await
            .expect("suppress");
    }
    let event: herald::ids::EventId = s.event.parse().expect("event");
    let mut cursor: Option<(u32, Option<herald::ids::GuestId>)> = None;
    loop {
        let (page, next) = stack
            .state
            .store
            .list_guests(tenant, event, cursor, 500)
            .await
            .expect("guests");
        for g in page.iter().filter(|g| g.first_name == "U") {
            stack
                .state
                .store
                .set_unsubscribed(tenant, g.contact_id, true)
                .await
                .expect("unsubscribe");
        }
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }

    let created = expect(
        &stack,
        Method::POST,
        CAMPAIGNS,
        key,
        Some(json!({
        "event_id": s.event, "name": "Invitations", "category": "invitation",
        "channels": ["email", "sms"], "audience": {"kind": "all"}})),
        201,
    )
    .await;
    assert_eq!(created["status"], "draft");
    let id = text(&created, "id");
    stack.sender_requests.dynamo.reset();
    stack.sender_requests.sqs.reset();
    let sending = expect(
        &stack,
        Method::POST,
        &format!("{CAMPAIGNS}/{id}/send"),
        key,
        None,
        202,
    )
    .await;
    assert_eq!(sending["status"], "sending");
    assert_eq!(sending["snapshot_version"], 1);
    let done = finished(&stack, key, &id, 240).await;
    assert_eq!(done["status"], "sent", "{done}");
    assert_eq!(
        done["counts"],
        json!({"total": 1000, "sent": 950, "failed": 0, "suppressed": 30, "no_consent": 20, "no_address": 0, "frequency_capped": 0})
    );
    // The send path's own AWS requests (the sender's plan, expansion and deliveries; provider
    // calls not counted), per delivered message.
    let (dynamo, sqs) = (
        stack.sender_requests.dynamo.count() as f64 / 950.0,
        stack.sender_requests.sqs.count() as f64 / 950.0,
    );
    println!(
        "send path: {} DynamoDB requests ({dynamo:.3} per message), {} SQS requests ({sqs:.3} per message)",
        stack.sender_requests.dynamo.count(),
        stack.sender_requests.sqs.count()
    );
    println!(
        "by operation: {:?} {:?}",
        stack.sender_requests.dynamo.by_operation(),
        stack.sender_requests.sqs.by_operation()
    );
    // Every request but UpdateItem is counted by the campaign's shape alone. UpdateItem's
    // count also depends on time: send-rate bookings are stretches of a few seconds shared by
    // the sender's instances, so a slower run books more of them, and a booking another
    // instance holds takes a second UpdateItem (5 to 13 over 7 runs on this emulator).
    let updates = stack
        .sender_requests
        .dynamo
        .by_operation()
        .get("UpdateItem")
        .copied()
        .unwrap_or(0) as f64
        / 950.0;
    let shaped = dynamo - updates;
    assert!(
        shaped <= 0.11,
        "{shaped:.3} DynamoDB requests other than UpdateItem per message"
    );
    assert!(
        updates <= 0.02,
        "{updates:.3} UpdateItem requests per message"
    );
    assert!(sqs <= 0.05, "{sqs:.3} SQS requests per message");

    let outbox = Outbox::read().await;
    for i in 0..1000u64 {
        let email = |prefix: &str| outbox.emails_to(&format!("{prefix}{i}-{run}@example.com"));
        let (emails, sms) = match i {
            0..600 => (email("e"), 0),
            600..900 => (0, outbox.sms_to(&phone(base, i))),
            900..950 => (email("b"), outbox.sms_to(&phone(base, i))),
            950..980 => (email("x"), 0),
            _ => (email("u"), 0),
        };
        let expected = match i {
            0..600 => (1, 0),
            600..900 => (0, 1),
            900..950 => (0, 1),
            _ => (0, 0),
        };
        assert_eq!((emails, sms), expected, "guest {i}");
    }

    // Sending again is refused; a second plan (a resumed or redelivered one) sends nothing new.
    let again = stack
        .call(
            Method::POST,
            &format!("{CAMPAIGNS}/{id}/send"),
            Some(key),
            None,
        )
        .await;
    assert_problem(&again, 409, "a sent campaign");
}

/// `make bench` (infra/bench/run.sh) runs this on an emulator of its own: a 10,000-guest
/// campaign (7,000 by email, 3,000 by SMS) end to end, timed, with the CPU time of this process
/// (everything Herald: API, sender, pollers) next to the emulator's, and the send path's AWS
/// requests per message. It prints one `BENCH {json}` line.
#[tokio::test]
#[ignore = "a benchmark: make bench runs it"]
async fn benchmark_a_campaign_to_10k_guests() {
    let stack = stack().await;
    let s = email_and_sms(&stack).await;
    let key = &s.t.admin;
    let run = ulid::Ulid::generate().to_string().to_lowercase();
    let base = u64::from(rand_u32()) % 90_000_000;
    let rows: Vec<Value> = (0..10_000u64)
        .map(|i| match i {
            0..7_000 => json!({"first_name": "E", "email": format!("e{i}-{run}@example.com")}),
            _ => json!({"first_name": "S", "phone": phone(base, i)}),
        })
        .collect();
    import_guests(&stack, key, &s.event, rows).await;
    stack.sender_requests.dynamo.reset();
    stack.sender_requests.sqs.reset();
    let (cpu_before, moto_before) = (cpu_seconds("self"), moto_cpu_seconds());
    let started = std::time::Instant::now();
    let id = send_to_all(&stack, key, &s.event, json!(["email", "sms"])).await;
    let done = finished(&stack, key, &id, 3_600).await;
    let wall = started.elapsed().as_secs_f64();
    let (cpu, moto) = (
        cpu_seconds("self") - cpu_before,
        moto_cpu_seconds() - moto_before,
    );
    assert_eq!(done["status"], "sent", "{done}");
    assert_eq!(done["counts"]["sent"], 10_000, "{done}");
    let report = json!({
        "messages": 10_000,
        "wall_seconds": wall,
        "herald_cpu_seconds": cpu,
        "emulator_cpu_seconds": moto,
        "dynamodb_requests": stack.sender_requests.dynamo.count(),
        "sqs_requests": stack.sender_requests.sqs.count(),
        "dynamodb_by_operation": stack.sender_requests.dynamo.by_operation(),
    });
    println!("BENCH {report}");
}

#[tokio::test]
async fn a_scheduled_campaign_sends_when_its_schedule_fires() {
    let stack = stack().await;
    let s = email_and_sms(&stack).await;
    let key = &s.t.admin;
    let address = unique_email("later");
    expect(
        &stack,
        Method::POST,
        &format!("/api/v1/events/{}/guests", s.event),
        key,
        Some(
            json!({"guests": [{"first_name": "L", "email": address, "tags": ["vip"]},
                                {"first_name": "M", "email": unique_email("notvip")}]}),
        ),
        200,
    )
    .await;
    let at = chrono::Utc::now() + chrono::Duration::seconds(12);
    let created = expect(
        &stack,
        Method::POST,
        CAMPAIGNS,
        key,
        Some(json!({
        "event_id": s.event, "name": "Later", "category": "invitation", "channels": ["email"],
        "audience": {"kind": "tags", "tags": ["vip"]},
        "send_at": at.format("%Y-%m-%dT%H:%M:%SZ").to_string()})),
        201,
    )
    .await;
    let id = text(&created, "id");
    let scheduled = expect(
        &stack,
        Method::POST,
        &format!("{CAMPAIGNS}/{id}/send"),
        key,
        None,
        202,
    )
    .await;
    assert_eq!(scheduled["status"], "scheduled");
    let schedules = aws_sdk_scheduler::Client::new(&stack.sdk);
    assert!(
        schedules
            .get_schedule()
            .name(format!("herald-{id}"))
            .send()
            .await
            .is_ok()
    );
    assert_eq!(emails_to(&address).await, 0, "nothing before the time");
    let done = finished(&stack, key, &id, 60).await;
    assert_eq!(done["status"], "sent", "{done}");
    assert_eq!(done["counts"]["total"], 1, "only the vip");
    assert_eq!(emails_to(&address).await, 1);
}

#[tokio::test]
async fn campaigns_refuse_what_cannot_be_sent() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let key = &s.t.admin;
    let body = |audience: Value| {
        json!({"event_id": s.event, "name": "C", "category": "invitation",
        "channels": ["email"], "audience": audience})
    };
    expect(
        &stack,
        Method::POST,
        &format!("/api/v1/events/{}/guests", s.event),
        key,
        Some(json!({"guests": [{"first_name": "A", "email": unique_email("a")}]})),
        200,
    )
    .await;
    let created = expect(
        &stack,
        Method::POST,
        CAMPAIGNS,
        key,
        Some(body(json!({"kind": "all"}))),
        201,
    )
    .await;
    let id = text(&created, "id");
    let no_snapshot = stack
        .call(
            Method::POST,
            &format!("{CAMPAIGNS}/{id}/send"),
            Some(key),
            None,
        )
        .await;
    assert_problem(&no_snapshot, 409, "no active snapshot");
    assert!(text(&no_snapshot.body, "detail").contains("wizard"));
    complete_wizard(&stack, key, &s.event).await;

    let nobody = expect(
        &stack,
        Method::POST,
        CAMPAIGNS,
        key,
        Some(body(json!({"kind": "tags", "tags": ["nobody-has-this"]}))),
        201,
    )
    .await;
    let empty = stack
        .call(
            Method::POST,
            &format!("{CAMPAIGNS}/{}/send", text(&nobody, "id")),
            Some(key),
            None,
        )
        .await;
    assert_problem(&empty, 422, "an empty audience");

    for (bad, field) in [
        (
            json!({"event_id": s.event, "name": "C", "category": "invitation", "channels": [], "audience": {"kind": "all"}}),
            "channels",
        ),
        (body(json!({"kind": "tags", "tags": []})), "audience.tags"),
        (
            json!({"event_id": s.event, "name": "C", "category": "invitation", "channels": ["email"],
            "audience": {"kind": "all"}, "send_at": "2020-01-01T00:00:00Z"}),
            "send_at",
        ),
        (body(json!({"kind": "everyone"})), "audience"),
    ] {
        let answer = stack
            .call(Method::POST, CAMPAIGNS, Some(key), Some(bad))
            .await;
        assert_problem(&answer, 422, field);
        assert!(first_field(&answer).starts_with(field), "{}", answer.body);
    }

    let cancelled = expect(
        &stack,
        Method::POST,
        &format!("{CAMPAIGNS}/{id}/cancel"),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled");
    let after = stack
        .call(
            Method::POST,
            &format!("{CAMPAIGNS}/{id}/send"),
            Some(key),
            None,
        )
        .await;
    assert_problem(&after, 409, "sending a cancelled campaign");
    let edit = stack.call(Method::PUT, &format!("{CAMPAIGNS}/{id}"), Some(key), Some(json!({
        "version": 1, "name": "D", "category": "invitation", "channels": ["email"], "audience": {"kind": "all"}}))).await;
    assert_problem(&edit, 409, "editing a cancelled campaign");

    let other = tenant(&stack, "Other").await;
    let requests = vec![
        (Method::GET, format!("{CAMPAIGNS}/{id}"), None),
        (
            Method::PUT,
            format!("{CAMPAIGNS}/{id}"),
            Some(json!({"version": 1, "name": "D", "category": "invitation",
            "channels": ["email"], "audience": {"kind": "all"}})),
        ),
        (Method::POST, format!("{CAMPAIGNS}/{id}/send"), None),
        (Method::POST, format!("{CAMPAIGNS}/{id}/cancel"), None),
        (
            Method::POST,
            CAMPAIGNS.to_owned(),
            Some(body(json!({"kind": "all"}))),
        ),
    ];
    assert_refused(&stack, &other.admin, 404, &requests).await;
    let listed = expect(&stack, Method::GET, CAMPAIGNS, &other.admin, None, 200).await;
    assert!(items(&listed).is_empty());
}

/// Listing by event answers as every other route does for an event the key cannot see: 404,
/// whether it belongs to another tenant or does not exist.
#[tokio::test]
async fn listing_by_an_event_the_key_cannot_see_is_a_404() {
    let stack = stack().await;
    let mine = tenant(&stack, "Mine").await;
    let theirs = tenant(&stack, "Theirs").await;
    let my_event = event(&stack, &mine.admin, "", "Gala").await;
    let their_event = event(&stack, &theirs.admin, "", "Ball").await;
    let list = |e: &str| format!("/api/v1/communication/campaigns?event_id={e}");
    let own = expect(
        &stack,
        Method::GET,
        &list(&my_event),
        &mine.admin,
        None,
        200,
    )
    .await;
    assert!(items(&own).is_empty(), "{own}");
    for e in [their_event, herald::ids::EventId::new().to_string()] {
        let answer = stack
            .call(Method::GET, &list(&e), Some(&mine.admin), None)
            .await;
        assert_problem(&answer, 404, "another tenant's event, or none");
    }
}
