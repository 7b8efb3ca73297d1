//! Journeys end to end on the local stack: a tenant's journey of steps anchored to an event
//! starting minutes from now, activated by the wizard, fired by EventBridge Scheduler's
//! schedules (the local stack fires them), sent as campaigns of the event (moto's outbox as
//! the witness); the event moved twice (a sent step untouched, pending steps moved, a missed
//! one skipped and another sent now), then cancelled (the cancellation step goes out, nothing
//! else); follow-ups to those who did not open; late guests catching up; bad input.

mod common;

use std::time::Duration;

use axum::http::Method;
use chrono::{NaiveDateTime, Utc};
use common::*;
use serde_json::{Value, json};

const JOURNEY: &str = "/api/v1/communication/journey";

/// A local time in Paris `seconds` from now, as events take them.
fn paris_in(seconds: i64) -> NaiveDateTime {
    let at = Utc::now() + chrono::Duration::seconds(seconds);
    at.with_timezone(&chrono_tz::Europe::Paris).naive_local()
}

fn local(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// An event starting `seconds` from now (Paris), ending four hours later.
async fn event_starting_in(stack: &TestStack, key: &str, seconds: i64) -> (String, NaiveDateTime) {
    let start = paris_in(seconds);
    let created = expect(
        stack,
        Method::POST,
        "/api/v1/events",
        key,
        Some(json!({"name": "Soon", "starts_at": local(start),
            "ends_at": local(start + chrono::Duration::hours(4)),
            "time_zone": "Europe/Paris", "default_locale": "en-GB"})),
        201,
    )
    .await;
    (id(&created), start)
}

fn step(key: &str, category: &str, offset: &str) -> Value {
    json!({"key": key, "category": category, "channels": ["email"], "offset": offset})
}

async fn journey_of(stack: &TestStack, key: &str, event: &str) -> Value {
    expect(
        stack,
        Method::GET,
        &format!("/api/v1/events/{event}/journey"),
        key,
        None,
        200,
    )
    .await
}

fn step_of<'a>(journey: &'a Value, key: &str) -> &'a Value {
    journey["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["key"] == key))
        .unwrap_or_else(|| panic!("no step {key}: {journey}"))
}

/// The emails an address got whose subject starts with `marker`.
async fn mails(address: &str, marker: &str) -> usize {
    sent_mail(address)
        .await
        .iter()
        .filter(|m| {
            m["subject"]
                .as_str()
                .is_some_and(|s| s.starts_with(&format!("{marker}:")))
        })
        .count()
}

/// Waits (bounded) until every address got `marker` once.
async fn until_each_got(addresses: &[String], marker: &str, seconds: u64) {
    let started = std::time::Instant::now();
    loop {
        let mut all = true;
        for a in addresses {
            if mails(a, marker).await < 1 {
                all = false;
            }
        }
        if all {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(seconds),
            "not every guest got {marker} within {seconds} s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Moves (or cancels) the event: PUT with the version read; the answer.
async fn put_event(stack: &TestStack, key: &str, event: &str, change: Value) -> Value {
    let current = expect(
        stack,
        Method::GET,
        &format!("/api/v1/events/{event}"),
        key,
        None,
        200,
    )
    .await;
    let mut body = json!({
        "version": current["version"], "name": current["name"],
        "starts_at": current["starts_at"], "ends_at": current["ends_at"],
        "time_zone": current["time_zone"], "default_locale": current["default_locale"],
    });
    for (k, v) in change.as_object().into_iter().flatten() {
        body[k] = v.clone();
    }
    expect(
        stack,
        Method::PUT,
        &format!("/api/v1/events/{event}"),
        key,
        Some(body),
        200,
    )
    .await
}

fn change_of<'a>(answer: &'a Value, key: &str) -> Option<&'a Value> {
    answer["journey"]["changes"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["key"] == key))
}

#[tokio::test]
async fn a_journey_sends_along_its_event_and_moves_with_it() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let key = &s.t.admin;
    // The setup's invitation email template says `v1`.
    for (category, marker) in [
        ("reminder", "remind"),
        ("logistics", "brief"),
        ("thank_you", "thanks"),
        ("cancellation", "notice"),
    ] {
        template(&stack, key, "", category, "email", marker).await;
    }
    let (event, start) = event_starting_in(&stack, key, 20 * 60).await;
    // invite ≈ 40 s from now; remind and brief minutes away; thanks after the event; notice
    // only if it is cancelled.
    let mut brief = step("brief", "logistics", "-PT14M");
    brief["when_missed"] = json!("send_now");
    let mut notice = step("notice", "cancellation", "PT0S");
    notice["on_cancel"] = json!(true);
    let mut thanks = step("thanks", "thank_you", "PT1H");
    thanks["anchor"] = json!("event_end");
    let written = expect(
        &stack,
        Method::PUT,
        JOURNEY,
        key,
        Some(json!({"version": 0, "steps": [
            step("invite", "invitation", "-PT19M20S"),
            step("remind", "reminder", "-PT15M"),
            brief, thanks, notice]})),
        200,
    )
    .await;
    assert_eq!(written["version"], 1);
    let guests: Vec<String> = (0..3).map(|i| unique_email(&format!("j{i}"))).collect();
    import_guests(
        &stack,
        key,
        &event,
        guests
            .iter()
            .map(|g| json!({"first_name": "G", "email": g}))
            .collect(),
    )
    .await;
    let run = complete_wizard(&stack, key, &event).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let journey = journey_of(&stack, key, &event).await;
    assert_eq!(journey["active"], true, "{journey}");
    for (k, status) in [
        ("invite", "scheduled"),
        ("remind", "scheduled"),
        ("brief", "scheduled"),
        ("thanks", "scheduled"),
        ("notice", "on_cancel"),
    ] {
        assert_eq!(step_of(&journey, k)["status"], status, "{k}: {journey}");
    }
    let remind = step_of(&journey, "remind");
    assert_eq!(
        remind["time"]["local"],
        local(start - chrono::Duration::minutes(15)),
        "computed on the event's clock"
    );
    assert_eq!(remind["layer"], "tenant");

    // The invitation goes out at its time, once to each guest.
    until_each_got(&guests, "v1", 120).await;

    // Moved an hour later: the pending steps move with it; the sent one does not.
    let later = start + chrono::Duration::hours(1);
    let moved = put_event(
        &stack,
        key,
        &event,
        json!({"starts_at": local(later), "ends_at": local(later + chrono::Duration::hours(4))}),
    )
    .await;
    assert_eq!(moved["journey"]["status"], "synced", "{moved}");
    assert_eq!(
        change_of(&moved, "remind").map(|c| c["change"].clone()),
        Some(json!("moved")),
        "{moved}"
    );
    assert!(change_of(&moved, "invite").is_none(), "{moved}");
    let journey = journey_of(&stack, key, &event).await;
    assert_eq!(
        step_of(&journey, "remind")["time"]["local"],
        local(later - chrono::Duration::minutes(15))
    );
    assert_eq!(
        step_of(&journey, "remind")["moves"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // Moved to 13 minutes from now: the reminder's time has passed (skipped), the briefing's
    // too (sent now); the invitation is not sent again.
    let soon = paris_in(13 * 60);
    let moved = put_event(
        &stack,
        key,
        &event,
        json!({"starts_at": local(soon), "ends_at": local(soon + chrono::Duration::hours(4))}),
    )
    .await;
    assert_eq!(
        change_of(&moved, "remind").map(|c| c["change"].clone()),
        Some(json!("skipped")),
        "{moved}"
    );
    assert_eq!(
        change_of(&moved, "brief").map(|c| c["change"].clone()),
        Some(json!("sent_now")),
        "{moved}"
    );
    until_each_got(&guests, "brief", 120).await;

    // Cancelled: the pending steps are cancelled and the cancellation notice goes out.
    let cancelled = put_event(&stack, key, &event, json!({"status": "cancelled"})).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(
        change_of(&cancelled, "thanks").map(|c| c["change"].clone()),
        Some(json!("cancelled")),
        "{cancelled}"
    );
    until_each_got(&guests, "notice", 120).await;
    let again = stack
        .call(
            Method::PUT,
            &format!("/api/v1/events/{event}"),
            Some(key),
            Some({
                let current = expect(
                    &stack,
                    Method::GET,
                    &format!("/api/v1/events/{event}"),
                    key,
                    None,
                    200,
                )
                .await;
                json!({"version": current["version"], "name": "Soon",
                    "starts_at": current["starts_at"], "ends_at": current["ends_at"],
                    "time_zone": "Europe/Paris", "default_locale": "en-GB", "status": "active"})
            }),
        )
        .await;
    assert_problem(&again, 409, "a cancelled event stays cancelled");

    // Each guest got each step that was due exactly once, and nothing else.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for g in &guests {
        for (marker, n) in [
            ("v1", 1),
            ("brief", 1),
            ("notice", 1),
            ("remind", 0),
            ("thanks", 0),
        ] {
            assert_eq!(mails(g, marker).await, n, "{g}: {marker}");
        }
    }
    let journey = journey_of(&stack, key, &event).await;
    for (k, status) in [
        ("remind", "skipped"),
        ("thanks", "cancelled"),
        ("invite", "sent"),
    ] {
        assert_eq!(step_of(&journey, k)["status"], status, "{k}: {journey}");
    }
    assert_eq!(
        step_of(&journey, "invite")["counts"]["sent"],
        3,
        "{journey}"
    );
    // A guest's own timeline: what they were sent.
    let guest = items(
        &expect(
            &stack,
            Method::GET,
            &format!("/api/v1/events/{event}/guests"),
            key,
            None,
            200,
        )
        .await,
    )
    .into_iter()
    .find(|g| g["email"] == guests[0].as_str())
    .expect("the guest");
    let timeline = expect(
        &stack,
        Method::GET,
        &format!(
            "/api/v1/events/{event}/guests/{}/timeline",
            text(&guest, "id")
        ),
        key,
        None,
        200,
    )
    .await;
    let sent: Vec<&str> = timeline["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] == "sent")
        .filter_map(|e| e["step"].as_str())
        .collect();
    assert_eq!(sent, ["invite", "brief", "notice"], "{timeline}");
}

/// The open reported for one mail (an SES Open event with the mail's own tags).
async fn open_mail(stack: &TestStack, address: &str) {
    let mail = sent_mail(address).await.pop().expect("a mail");
    let tags: serde_json::Map<String, Value> = mail["tags"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), json!([v])))
        .collect();
    let at = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let body = json!({"eventType": "Open",
        "mail": {"timestamp": at, "source": "events@acme.example", "sendingAccountId": "123456789012",
            "messageId": format!("ses-open-{address}"), "destination": [address], "tags": tags},
        "open": {"timestamp": at, "userAgent": "Mozilla/5.0", "ipAddress": "192.0.2.1"}});
    stack
        .publish_ses_event(&body.to_string())
        .await
        .expect("publish");
}

#[tokio::test]
async fn follow_ups_reach_those_who_did_not_open_and_late_guests_catch_up() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let key = &s.t.admin;
    for (category, marker) in [("reminder", "nudge")] {
        template(&stack, key, "", category, "email", marker).await;
    }
    let (event, _) = event_starting_in(&stack, key, 60 * 60).await;
    let mut invite = step("invite", "invitation", "-PT59M30S");
    invite["late_entry"] = json!("catch_up");
    let mut nudge = step("nudge", "reminder", "-PT58M");
    nudge["audience"] = json!({"kind": "follow_up", "step": "invite", "not_reached": "opened"});
    expect(
        &stack,
        Method::PUT,
        JOURNEY,
        key,
        Some(json!({"version": 0, "steps": [invite, nudge]})),
        200,
    )
    .await;
    let (opens, ignores) = (unique_email("opens"), unique_email("ignores"));
    import_guests(
        &stack,
        key,
        &event,
        vec![
            json!({"first_name": "O", "email": opens}),
            json!({"first_name": "I", "email": ignores}),
        ],
    )
    .await;
    let run = complete_wizard(&stack, key, &event).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    until_each_got(&[opens.clone(), ignores.clone()], "v1", 120).await;
    // One opens it; the step is still the latest one sent when a guest joins late.
    open_mail(&stack, &opens).await;
    let late = unique_email("late");
    import_guests(
        &stack,
        key,
        &event,
        vec![json!({"first_name": "L", "email": late})],
    )
    .await;
    until_each_got(std::slice::from_ref(&late), "v1", 120).await;
    // The follow-up goes to those who did not open (the late guest too), not to the opener.
    until_each_got(&[ignores.clone(), late.clone()], "nudge", 180).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(mails(&opens, "nudge").await, 0, "the opener is left alone");
    for a in [&opens, &ignores, &late] {
        assert_eq!(mails(a, "v1").await, 1, "{a}");
    }
}

#[tokio::test]
async fn bad_journeys_are_refused_with_what_is_wrong() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let key = &t.admin;
    let put = |steps: Value| json!({"version": 0, "steps": steps});
    let too_many: Vec<Value> = (0..51)
        .map(|i| step(&format!("s{i}"), "reminder", "-P1D"))
        .collect();
    let mut follows_later = step("nudge", "reminder", "-P10D");
    follows_later["audience"] =
        json!({"kind": "follow_up", "step": "missing", "not_reached": "opened"});
    for (body, field) in [
        (put(json!(too_many)), "steps"),
        (
            put(json!([step("far", "reminder", "-P401D")])),
            "steps[0].offset",
        ),
        (
            put(json!([step("m", "reminder", "-P1M")])),
            "steps[0].offset",
        ),
        (
            put(json!([
                step("a", "reminder", "-P1D"),
                step("a", "invitation", "-P2D")
            ])),
            "steps[1].key",
        ),
    ] {
        let answer = stack
            .call(Method::PUT, JOURNEY, Some(key), Some(body))
            .await;
        assert!(
            answer.status == 422 || answer.status == 400,
            "{}: {}",
            answer.status,
            answer.body
        );
        assert!(
            answer.body.to_string().contains(field),
            "{field}: {}",
            answer.body
        );
    }
    // A good journey, then a stale version.
    let good = put(json!([step("remind", "reminder", "-P1D")]));
    expect(&stack, Method::PUT, JOURNEY, key, Some(good.clone()), 200).await;
    let stale = stack
        .call(Method::PUT, JOURNEY, Some(key), Some(good))
        .await;
    assert_problem(&stale, 409, "a stale version");
    // An event's change must name a step of the tenant's journey.
    let e = event(&stack, key, "", "Gala").await;
    let changes = format!("/api/v1/events/{e}/journey/changes");
    let wrong = stack
        .call(
            Method::PUT,
            &changes,
            Some(key),
            Some(json!({"version": 0, "changes": [{"key": "missing", "offset": "-P2D"}]})),
        )
        .await;
    assert_problem(&wrong, 422, "a change to a step the tenant has not got");
    let ok = expect(
        &stack,
        Method::PUT,
        &changes,
        key,
        Some(
            json!({"version": 0, "changes": [{"key": "remind", "offset": "-P2D"}],
            "added": [step("extra", "thank_you", "P1D")]}),
        ),
        200,
    )
    .await;
    assert_eq!(ok["version"], 1);
    // The effective journey shows each step's layer and what the event changed.
    let journey = journey_of(&stack, key, &e).await;
    assert_eq!(journey["active"], false);
    assert_eq!(step_of(&journey, "remind")["customised"], json!(["offset"]));
    assert_eq!(step_of(&journey, "remind")["status"], "draft");
    assert_eq!(step_of(&journey, "extra")["layer"], "event");
    // Another tenant sees none of it.
    let other = tenant(&stack, "Other").await;
    for uri in [
        format!("/api/v1/events/{e}/journey"),
        changes.clone(),
        format!("{JOURNEY}?tenant_id={}", t.id),
    ] {
        let answer = stack
            .call(Method::GET, &uri, Some(&other.admin), None)
            .await;
        assert_problem(&answer, 404, &uri);
    }
    // Two moves from the same version: one wins, the other is told to read again.
    let current = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{e}"),
        key,
        None,
        200,
    )
    .await;
    let mut body = event_json("Gala");
    body["version"] = current["version"].clone();
    let uri = format!("/api/v1/events/{e}");
    let (a, b) = tokio::join!(
        stack.call(Method::PUT, &uri, Some(key), Some(body.clone())),
        stack.call(Method::PUT, &uri, Some(key), Some(body)),
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
}

/// The setup's event with a tenant journey of ten steps (one to ten days before it), activated
/// by the wizard.
async fn ten_step_journey(stack: &TestStack) -> (herald::ids::TenantId, herald::ids::EventId) {
    let s = setup(stack).await;
    let key = &s.t.admin;
    let steps: Vec<Value> = (1..=10)
        .map(|i| step(&format!("s{i}"), "invitation", &format!("-P{i}D")))
        .collect();
    expect(
        stack,
        Method::PUT,
        JOURNEY,
        key,
        Some(json!({"version": 0, "steps": steps})),
        200,
    )
    .await;
    let run = complete_wizard(stack, key, &s.event).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    (
        s.t.id.parse().expect("tenant"),
        s.event.parse().expect("event"),
    )
}

/// Activating a 10-step journey and moving its event, with the AWS requests each takes
/// counted (SDK interceptors): one Scheduler call per step, and a handful of DynamoDB
/// requests besides the one write per step.
#[tokio::test]
async fn activating_and_moving_take_one_scheduler_call_per_step() {
    let stack = stack().await;
    let (tenant, event) = ten_step_journey(&stack).await;
    // Undo the wizard's activation (its schedules and occurrences), to activate again counted.
    let scheduler = aws_sdk_scheduler::Client::new(&stack.sdk);
    let dynamo = aws_sdk_dynamodb::Client::new(&stack.sdk);
    for o in stack
        .state
        .store
        .occurrences(tenant, event)
        .await
        .expect("occurrences")
    {
        scheduler
            .delete_schedule()
            .name(herald::journeys::schedule_name(event, &o.key))
            .send()
            .await
            .expect("delete schedule");
        dynamo
            .delete_item()
            .table_name(&stack.table)
            .key(
                "PK",
                aws_sdk_dynamodb::types::AttributeValue::S(herald::store::keys::event_pk(
                    tenant, event,
                )),
            )
            .key(
                "SK",
                aws_sdk_dynamodb::types::AttributeValue::S(herald::store::keys::journey_step_sk(
                    &o.key,
                )),
            )
            .send()
            .await
            .expect("delete occurrence");
    }
    let (dynamo_count, scheduler_count) = (
        herald::aws::RequestCounter::default(),
        herald::aws::RequestCounter::default(),
    );
    let store = herald::store::Store::new(
        aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&stack.sdk)
                .interceptor(dynamo_count.clone())
                .build(),
        ),
        &stack.table,
    );
    let syncer = herald::journeys::Syncer {
        store: store.clone(),
        schedules: herald::schedules::OneTimeSchedules {
            client: aws_sdk_scheduler::Client::from_conf(
                aws_sdk_scheduler::config::Builder::from(&stack.sdk)
                    .interceptor(scheduler_count.clone())
                    .build(),
            )
            .into(),
            target_arn: stack.state.schedules.sender_queue_arn.clone(),
            role_arn: stack.state.schedules.role_arn.clone(),
        },
        sqs: aws_sdk_sqs::Client::new(&stack.sdk).into(),
        sender_queue_url: stack.state.queues.sender.clone(),
    };
    let activated = syncer.sync(tenant, event).await.expect("activation");
    assert_eq!(activated.changes.len(), 10, "{activated:?}");
    let (activation_dynamo, activation_scheduler) =
        (dynamo_count.by_operation(), scheduler_count.by_operation());
    assert_eq!(scheduler_count.count(), 10, "{activation_scheduler:?}");
    assert_eq!(activation_scheduler.get("CreateSchedule"), Some(&10));
    // GetItem event and snapshot, Query occurrences, 10 PutItem, DeleteItem of the mark.
    assert!(dynamo_count.count() <= 14, "{activation_dynamo:?}");
    println!(
        "JOURNEY activate 10 steps: Scheduler {activation_scheduler:?}, DynamoDB {activation_dynamo:?}"
    );
    // Moved a week later: one UpdateSchedule per pending step.
    dynamo_count.reset();
    scheduler_count.reset();
    let mut current = stack
        .state
        .store
        .get_event(tenant, event)
        .await
        .expect("read")
        .expect("event");
    let expected = current.version;
    current.fields.starts_at += chrono::Duration::days(7);
    current.fields.ends_at += chrono::Duration::days(7);
    current.version += 1;
    stack
        .state
        .store
        .replace_event_marked(tenant, &current, expected)
        .await
        .expect("move");
    let started = std::time::Instant::now();
    let moved = syncer.sync(tenant, event).await.expect("move sync");
    let took = started.elapsed();
    assert_eq!(moved.changes.len(), 10, "{moved:?}");
    assert!(moved.changes.iter().all(|c| c.change == "moved"));
    let (move_dynamo, move_scheduler) =
        (dynamo_count.by_operation(), scheduler_count.by_operation());
    assert_eq!(scheduler_count.count(), 10, "{move_scheduler:?}");
    assert_eq!(move_scheduler.get("UpdateSchedule"), Some(&10));
    assert!(dynamo_count.count() <= 14, "{move_dynamo:?}");
    println!(
        "JOURNEY move 10 pending steps: Scheduler {move_scheduler:?}, DynamoDB {move_dynamo:?}, {:.0} ms on the emulator (round trips: 3 reads at once, then the steps 10 at a time, then 1)",
        took.as_secs_f64() * 1000.0
    );
}

/// Fails every request after the first `allowed` (an AWS failure in the middle of a move).
#[derive(Debug, Clone)]
struct FailAfter {
    allowed: usize,
    seen: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl aws_smithy_runtime_api::client::interceptors::Intercept for FailAfter {
    fn name(&self) -> &'static str {
        "FailAfter"
    }

    fn read_before_transmit(
        &self,
        _context: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let n = self.seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n >= self.allowed {
            return Err("the Scheduler is unreachable (injected)".into());
        }
        Ok(())
    }
}

/// A move that AWS stops part way leaves the event's mark, and the next sync (the sweep's)
/// finishes it: every pending step at its new time, its schedule too, nothing half-moved.
#[tokio::test]
async fn a_move_stopped_part_way_is_finished_by_the_next_sync() {
    let stack = stack().await;
    let (tenant, event) = ten_step_journey(&stack).await;
    let store = &stack.state.store;
    let mut moved = store
        .get_event(tenant, event)
        .await
        .expect("read")
        .expect("event");
    let expected = moved.version;
    moved.fields.starts_at += chrono::Duration::days(3);
    moved.fields.ends_at += chrono::Duration::days(3);
    moved.version += 1;
    store
        .replace_event_marked(tenant, &moved, expected)
        .await
        .expect("move");
    let mut failing = stack.state.journeys();
    failing.schedules.client = aws_sdk_scheduler::Client::from_conf(
        aws_sdk_scheduler::config::Builder::from(&stack.sdk)
            .interceptor(FailAfter {
                allowed: 4,
                seen: Default::default(),
            })
            .build(),
    )
    .into();
    assert!(
        failing.sync(tenant, event).await.is_err(),
        "stopped part way"
    );
    let marks = store
        .journey_marks(Utc::now() + chrono::Duration::minutes(5), 100)
        .await
        .expect("marks");
    assert!(
        marks.iter().any(|m| m.event_id == event),
        "the mark stays for the sweep"
    );
    let half: Vec<_> = store.occurrences(tenant, event).await.expect("occurrences");
    let new_times: std::collections::BTreeMap<String, chrono::DateTime<Utc>> = {
        let snapshot = store
            .get_snapshot(tenant, event, None)
            .await
            .expect("read")
            .expect("snapshot");
        let journey = snapshot.content.journey.expect("journey");
        journey
            .steps
            .iter()
            .map(|s| (s.key.to_string(), s.time(&moved.times()).expect("time").utc))
            .collect()
    };
    let at_new =
        |o: &herald::journeys::Occurrence| o.due_at == new_times.get(o.key.as_str()).copied();
    let done = half.iter().filter(|o| at_new(o)).count();
    assert!(done <= 4, "no more moved than the Scheduler took: {done}");
    // The next sync finishes it.
    let finished = stack
        .state
        .journeys()
        .sync(tenant, event)
        .await
        .expect("sync");
    assert_eq!(finished.changes.len(), 10 - done, "{finished:?}");
    let all = store.occurrences(tenant, event).await.expect("occurrences");
    assert!(all.iter().all(at_new), "every step at its new time");
    let scheduler = aws_sdk_scheduler::Client::new(&stack.sdk);
    for o in &all {
        let schedule = scheduler
            .get_schedule()
            .name(herald::journeys::schedule_name(event, &o.key))
            .send()
            .await
            .expect("its schedule");
        let want = herald::schedules::at_expression(
            o.due_at.expect("due"),
            Some(moved.fields.time_zone.tz()),
        );
        assert_eq!(
            schedule.schedule_expression(),
            Some(want.expression.as_str())
        );
    }
    let marks = store
        .journey_marks(Utc::now() + chrono::Duration::minutes(5), 100)
        .await
        .expect("marks");
    assert!(
        !marks.iter().any(|m| m.event_id == event),
        "the mark cleared"
    );
}
