use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Value, json};

use super::*;
use crate::domain::Layer;
use crate::journeys::{ResolvedStep, resolve_journey};

fn journey(steps: Value) -> JourneyDef {
    serde_json::from_value(json!({ "steps": steps })).expect("journey")
}

fn step(key: &str, offset: &str) -> Value {
    json!({"key": key, "category": "reminder", "channels": ["email"], "offset": offset})
}

fn follow_up(key: &str, offset: &str, target: &str) -> Value {
    json!({"key": key, "category": "reminder", "channels": ["sms"], "offset": offset,
           "audience": {"kind": "follow_up", "step": target, "not_reached": "opened"}})
}

fn fields(issues: &[FieldIssue]) -> Vec<&str> {
    issues.iter().map(|i| i.field.as_str()).collect()
}

fn local(s: &str) -> NaiveDateTime {
    s.parse().expect("local time")
}

fn instant(s: &str) -> DateTime<Utc> {
    s.parse().expect("instant")
}

/// An event in Paris from 2026-06-10 18:00 to 2026-06-12 17:00, created on 2026-01-05.
fn event() -> EventTimes {
    EventTimes {
        starts_at: local("2026-06-10T18:00:00"),
        ends_at: local("2026-06-12T17:00:00"),
        zone: chrono_tz::Europe::Paris,
        created_at: instant("2026-01-05T09:00:00Z"),
        rsvp_deadline: None,
    }
}

fn resolved(steps: Value) -> ResolvedJourney {
    resolve_journey(Some(&journey(steps)), None).expect("resolves")
}

#[test]
fn a_well_formed_journey_has_no_issues() {
    let def = journey(json!([
        {"key": "invitation", "category": "invitation", "channels": ["email", "sms", "whatsapp"],
         "offset": "-P30D", "at": "10:00"},
        follow_up("invitation-nudge", "-P28D", "invitation"),
        {"key": "vip-dinner", "category": "logistics", "channels": ["email"],
         "audience": {"kind": "tags", "tags": ["vip"]}, "anchor": "event_end", "offset": "-PT3H"},
        {"key": "cancelled", "category": "cancellation", "channels": ["email"], "on_cancel": true},
    ]));
    assert_eq!(def.issues(), []);
    let resolved = resolve_journey(Some(&def), None).expect("resolves");
    assert_eq!(check_journey(&resolved, &event()), []);
}

#[test]
fn a_layer_s_shape_is_checked_when_written() {
    let def = journey(json!([
        {"key": "a", "category": "invitation", "channels": []},
        {"key": "b", "category": "invitation", "channels": ["email", "sms", "whatsapp", "email"]},
        {"key": "c", "category": "invitation", "channels": ["sms", "sms"]},
        {"key": "a", "category": "invitation", "channels": ["email"],
         "audience": {"kind": "tags", "tags": []}},
        follow_up("e", "PT0S", "e"),
        follow_up("f", "PT0S", "nowhere"),
        {"key": "g", "category": "invitation", "channels": ["email"],
         "audience": {"kind": "filter", "field": "table", "op": "eq"}},
    ]));
    let issues = def.issues();
    assert_eq!(
        fields(&issues),
        [
            "steps[3].key",
            "steps[0].channels",
            "steps[1].channels",
            "steps[2].channels",
            "steps[3].audience.tags",
            "steps[4].audience.step",
            "steps[5].audience.step",
            "steps[6].audience.value",
        ]
    );
    assert!(issues[0].message.contains("steps[0]"), "{issues:?}");
    assert!(issues[3].message.contains("at most once"), "{issues:?}");
    assert!(issues[5].message.contains("not itself"), "{issues:?}");
    assert!(
        issues[6].message.contains("no step 'nowhere'"),
        "{issues:?}"
    );
}

#[test]
fn at_most_50_steps() {
    let steps = |n: usize| (0..n).map(|i| step(&format!("s{i}"), "-P1D")).collect();
    assert_eq!(journey(Value::Array(steps(50))).issues(), []);
    let issues = journey(Value::Array(steps(51))).issues();
    assert_eq!(fields(&issues), ["steps"]);
    assert!(issues[0].message.contains("at most 50"), "{issues:?}");
    // 30 of the tenant's and 21 of the event's: each layer fits, the journey does not.
    let tenant = journey(Value::Array(steps(30)));
    let added: Vec<Value> = (0..21).map(|i| step(&format!("e{i}"), "-P1D")).collect();
    let changes: EventJourneyChanges =
        serde_json::from_value(json!({ "added": added })).expect("changes");
    assert_eq!(changes.issues(), []);
    let resolved = resolve_journey(Some(&tenant), Some(&changes)).expect("resolves");
    assert_eq!(fields(&check_journey(&resolved, &event())), ["steps"]);
    let changes: Vec<Value> = (0..51).map(|i| json!({"key": format!("s{i}")})).collect();
    let changes: EventJourneyChanges =
        serde_json::from_value(json!({ "changes": changes })).expect("changes");
    assert_eq!(fields(&changes.issues()), ["changes"]);
}

#[test]
fn event_changes_are_checked_when_written() {
    let changes: EventJourneyChanges = serde_json::from_value(json!({
        "changes": [
            {"key": "invitation", "channels": []},
            {"key": "reminder", "audience": {"kind": "follow_up", "step": "reminder",
                                             "not_reached": "delivered"}},
            {"key": "invitation", "enabled": false},
            {"key": "survey", "audience": {"kind": "guests", "ids": []}},
        ],
        "added": [
            step("survey", "P1D"),
            {"key": "extra", "category": "survey", "channels": ["sms", "sms"]},
        ],
    }))
    .expect("changes");
    assert_eq!(
        fields(&changes.issues()),
        [
            "changes[2].key",
            "changes[0].channels",
            "changes[1].audience.step",
            "changes[3].audience.ids",
            "added[0].key",
            "added[1].channels",
        ]
    );
}

#[test]
fn a_follow_up_follows_an_enabled_step_due_strictly_before_it() {
    let mut journey = resolved(json!([
        step("invitation", "-P30D"),
        follow_up("too-early", "-P31D", "invitation"),
        follow_up("same-time", "-P30D", "invitation"),
        follow_up("missing", "-P1D", "save-the-date"),
        step("off", "-P20D"),
        follow_up("to-off", "-P1D", "off"),
        {"key": "cancelled", "category": "cancellation", "channels": ["email"],
         "on_cancel": true},
        follow_up("to-cancel", "-P1D", "cancelled"),
        // Listed first, due later: the order in the list does not matter, the time does.
        follow_up("fine", "-P2D", "later-listed"),
        step("later-listed", "-P3D"),
    ]));
    journey.steps[4].enabled = false;
    let issues = check_journey(&journey, &event());
    assert_eq!(
        fields(&issues),
        [
            "steps[1].audience.step",
            "steps[2].audience.step",
            "steps[3].audience.step",
            "steps[5].audience.step",
            "steps[7].audience.step",
        ]
    );
    assert!(
        issues[0].message.contains("not before this step"),
        "{issues:?}"
    );
    assert!(
        issues[2].message.contains("no step 'save-the-date'"),
        "{issues:?}"
    );
    assert!(issues[3].message.contains("turned off"), "{issues:?}");
    assert!(issues[4].message.contains("cancelled"), "{issues:?}");
}

#[test]
fn follow_ups_compare_times_across_anchors_and_clock_times() {
    // The invitation is at 10:00 the day before the start; a follow-up "-P1D" at 09:00 is
    // before it, one anchored to the end is after it.
    let check = |follow: Value| {
        let mut steps = vec![json!({"key": "invitation", "category": "invitation",
                                    "channels": ["email"], "offset": "-P1D", "at": "10:00"})];
        steps.push(follow);
        check_journey(&resolved(Value::Array(steps)), &event())
    };
    let mut early = follow_up("nudge", "-P1D", "invitation");
    early["at"] = json!("09:00");
    assert_eq!(fields(&check(early)), ["steps[1].audience.step"]);
    let mut after = follow_up("nudge", "-P1D", "invitation");
    after["at"] = json!("10:01");
    assert_eq!(check(after), []);
    let mut end = follow_up("nudge", "-P3D", "invitation");
    end["anchor"] = json!("event_end");
    assert_eq!(check(end), [], "the end's -P3D is 2026-06-09 17:00");
}

#[test]
fn a_step_due_before_the_event_was_created_is_an_issue() {
    let mut journey = resolved(json!([
        step("save-the-date", "-P180D"),
        step("invitation", "-P150D"),
        {"key": "cancelled", "category": "cancellation", "channels": ["email"],
         "offset": "-P400D", "on_cancel": true},
        step("off", "-P200D"),
    ]));
    journey.steps[3].enabled = false;
    let issues = check_journey(&journey, &event());
    assert_eq!(fields(&issues), ["steps[0].offset"]);
    assert!(
        issues[0].message.contains("2025-12-12 18:00")
            && issues[0].message.contains("Europe/Paris"),
        "{issues:?}"
    );
    assert!(
        issues[0].message.contains("2026-01-05 10:00"),
        "created, local: {issues:?}"
    );
}

#[test]
fn repeated_keys_in_a_resolved_journey_are_reported() {
    let def: StepDef = serde_json::from_value(step("a", "-P1D")).expect("step");
    let journey = ResolvedJourney {
        steps: vec![
            ResolvedStep::from_def(&def, Layer::Tenant),
            ResolvedStep::from_def(&def, Layer::Event),
        ],
    };
    assert_eq!(fields(&check_journey(&journey, &event())), ["steps[1].key"]);
}
