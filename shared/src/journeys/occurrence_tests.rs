use chrono::{NaiveDate, TimeZone as _};

use super::*;
use crate::domain::{Channel, Layer, TemplateCategory};
use crate::journeys::{Anchor, LateEntry, Offset, StepAudience};

fn key(k: &str) -> StepKey {
    StepKey::parse(k).expect("key")
}

fn step(k: &str, offset: &str) -> ResolvedStep {
    ResolvedStep {
        key: key(k),
        category: TemplateCategory::Reminder,
        channels: vec![Channel::Email],
        audience: StepAudience::All,
        anchor: Anchor::EventStart,
        offset: Offset::parse(offset).expect("offset"),
        at: None,
        when_missed: WhenMissed::Skip,
        late_entry: LateEntry::Skip,
        on_cancel: false,
        enabled: true,
        layer: Layer::Tenant,
        customised: Vec::new(),
    }
}

fn event(start: NaiveDateTime, cancelled: bool) -> LiveEvent {
    LiveEvent {
        id: EventId::new(),
        version: 2,
        times: EventTimes {
            starts_at: start,
            ends_at: start + chrono::Duration::hours(4),
            zone: chrono_tz::Europe::Paris,
            created_at: Utc
                .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
                .single()
                .expect("t"),
            rsvp_deadline: None,
        },
        cancelled,
    }
}

fn local(y: i32, m: u32, d: u32, h: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .and_then(|d| d.and_hms_opt(h, 0, 0))
        .expect("date")
}

fn occurrence(e: &LiveEvent, k: &str, status: OccurrenceStatus, due: DateTime<Utc>) -> Occurrence {
    Occurrence {
        key: key(k),
        tenant_id: TenantId::new(),
        event_id: e.id,
        status,
        due_at: Some(due),
        due_local: None,
        adjusted: None,
        event_version: 1,
        campaign_id: step_campaign(e.id, &key(k)),
        definition: None,
        reason: None,
        moves: Vec::new(),
        version: 1,
        updated_at: due,
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 4, 1, 12, 0, 0)
        .single()
        .expect("now")
}

#[test]
fn activation_schedules_future_steps_and_skips_or_sends_missed_ones() {
    let e = event(local(2027, 5, 1, 18), false);
    let mut late = step("late", "-P60D");
    late.when_missed = WhenMissed::SendNow;
    let journey = ResolvedJourney {
        steps: vec![step("soon", "-P7D"), step("gone", "-P60D"), late],
    };
    let actions = plan_sync(&journey, &e, &[], now());
    assert!(
        matches!(&actions[0], Action::Schedule { key: k, previous: None, .. } if k.as_str() == "soon")
    );
    assert!(matches!(&actions[1], Action::Skip { key: k, .. } if k.as_str() == "gone"));
    assert!(matches!(&actions[2], Action::SendNow { key: k, .. } if k.as_str() == "late"));
    assert_eq!(actions.len(), 3);
}

#[test]
fn a_move_moves_pending_steps_and_never_touches_sent_ones() {
    let before = event(local(2027, 5, 1, 18), false);
    let journey = ResolvedJourney {
        steps: vec![step("reminder", "-P1D"), step("invite", "-P30D")],
    };
    let reminder_at = journey.steps[0].time(&before.times).expect("time").utc;
    let invite_at = journey.steps[1].time(&before.times).expect("time").utc;
    let occurrences = [
        occurrence(
            &before,
            "reminder",
            OccurrenceStatus::Scheduled,
            reminder_at,
        ),
        occurrence(&before, "invite", OccurrenceStatus::Sent, invite_at),
    ];
    // Nothing changed: nothing to do.
    assert!(plan_sync(&journey, &before, &occurrences, now()).is_empty());
    let moved = event(local(2027, 5, 8, 18), false);
    let actions = plan_sync(&journey, &moved, &occurrences, now());
    assert_eq!(actions.len(), 1, "{actions:?}");
    let Action::Schedule { at, previous, .. } = &actions[0] else {
        panic!("{actions:?}")
    };
    assert_eq!(*previous, Some(reminder_at));
    assert_eq!(at.utc - reminder_at, chrono::Duration::days(7));
    assert_eq!(at.local, local(2027, 5, 7, 18), "the same local time");
}

#[test]
fn a_step_moved_into_the_past_follows_when_missed() {
    let before = event(local(2027, 5, 1, 18), false);
    let journey = ResolvedJourney {
        steps: vec![step("reminder", "-P1D")],
    };
    let due = journey.steps[0].time(&before.times).expect("time").utc;
    let occurrences = [occurrence(
        &before,
        "reminder",
        OccurrenceStatus::Scheduled,
        due,
    )];
    let earlier = event(local(2027, 4, 1, 18), false);
    let actions = plan_sync(&journey, &earlier, &occurrences, now());
    assert!(
        matches!(&actions[0], Action::Skip { reason, .. } if reason.contains("moved")),
        "{actions:?}"
    );
    // Moved later again: scheduled again.
    let skipped = [occurrence(
        &before,
        "reminder",
        OccurrenceStatus::Skipped,
        due - chrono::Duration::days(30),
    )];
    let later = event(local(2027, 6, 1, 18), false);
    let actions = plan_sync(&journey, &later, &skipped, now());
    assert!(
        matches!(&actions[0], Action::Schedule { .. }),
        "{actions:?}"
    );
}

#[test]
fn cancelling_cancels_pending_steps_and_sends_the_notice_once() {
    let e = event(local(2027, 5, 1, 18), false);
    let mut notice = step("notice", "PT0S");
    notice.on_cancel = true;
    notice.category = TemplateCategory::Cancellation;
    let journey = ResolvedJourney {
        steps: vec![step("reminder", "-P1D"), notice],
    };
    let due = journey.steps[0].time(&e.times).expect("time").utc;
    // While active, the notice is not scheduled.
    assert!(
        plan_sync(&journey, &e, &[], now())
            .iter()
            .all(|a| a.key().as_str() == "reminder")
    );
    let occurrences = [occurrence(&e, "reminder", OccurrenceStatus::Scheduled, due)];
    let cancelled = LiveEvent {
        cancelled: true,
        ..e
    };
    let actions = plan_sync(&journey, &cancelled, &occurrences, now());
    assert!(matches!(&actions[0], Action::Cancel { key: k, .. } if k.as_str() == "reminder"));
    assert!(matches!(&actions[1], Action::SendNow { key: k, .. } if k.as_str() == "notice"));
    // A step already skipped stays skipped.
    let skipped = [occurrence(&e, "reminder", OccurrenceStatus::Skipped, due)];
    assert!(
        plan_sync(&journey, &cancelled, &skipped, now())
            .iter()
            .all(|a| a.key().as_str() == "notice")
    );
    // Once sent now (due now), a second sync sends nothing more.
    let after = [
        occurrence(&e, "reminder", OccurrenceStatus::Cancelled, due),
        occurrence(&e, "notice", OccurrenceStatus::Scheduled, now()),
    ];
    assert!(plan_sync(&journey, &cancelled, &after, now()).is_empty());
}

#[test]
fn turned_off_or_removed_steps_are_cancelled() {
    let e = event(local(2027, 5, 1, 18), false);
    let mut off = step("reminder", "-P1D");
    let due = off.time(&e.times).expect("time").utc;
    off.enabled = false;
    let occurrences = [
        occurrence(&e, "reminder", OccurrenceStatus::Scheduled, due),
        occurrence(&e, "old", OccurrenceStatus::Scheduled, due),
    ];
    let actions = plan_sync(
        &ResolvedJourney { steps: vec![off] },
        &e,
        &occurrences,
        now(),
    );
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert!(actions.iter().all(|a| matches!(a, Action::Cancel { .. })));
}

#[test]
fn names_and_campaigns_follow_the_step_not_its_time() {
    let e = EventId::new();
    let name = schedule_name(e, &key("a-very-long-step-key-of-forty-characters"));
    assert!(name.len() <= crate::schedules::MAX_NAME, "{name}");
    assert_eq!(
        step_campaign(e, &key("invite")),
        step_campaign(e, &key("invite"))
    );
    assert_ne!(
        step_campaign(e, &key("invite")),
        step_campaign(e, &key("remind"))
    );
}
