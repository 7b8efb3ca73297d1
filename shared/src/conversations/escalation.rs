//! Escalation: a conversation the guest is waiting on longer than its queue allows (the
//! queue's `escalate_after_minutes`) is escalated — its priority raised one step and the
//! webhook `conversation.escalated` sent.
//!
//! The clock is an [`Escalate`] job put on the inbound queue for the time it is due: a delayed
//! SQS message when that is within 15 minutes, else an EventBridge Scheduler one-time schedule
//! per conversation ([`schedule_name`]). It is set when the due time changes: the guest starts
//! waiting, a rule or a person moves the conversation to another queue, or the queue's limit
//! changed since it was set (seen at the guest's next message).
//! When the job comes, the conversation decides: answered since (or escalated already) — nothing;
//! due later now (moved to a queue with a longer limit) — the schedule is written again for
//! then; due — escalated. A job without a time asks only for the schedule to be (re)written.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Conversation;
use super::rules::{ConversationSettings, escalate_after};
use crate::domain::{ConversationStatus, Priority};
use crate::ids::{ConversationId, EventId, TenantId};

/// The job a conversation's schedule (or the API, after a move to another queue) puts on the
/// inbound queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalate {
    /// The tenant of the conversation.
    pub herald_escalate: TenantId,
    pub conversation_id: ConversationId,
    /// When the schedule was written to fire; none asks for the schedule to be written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<DateTime<Utc>>,
}

/// The job the API queues when a layer's queue limits change: every conversation of the
/// tenant (or of the event, for an event's layer) that a guest waits on gets its clock set
/// for the limits now in force — escalated at once when it is overdue under them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reclock {
    /// The tenant whose settings changed.
    pub herald_reclock: TenantId,
    /// Only this event's conversations (its layer changed); none: all the tenant's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<EventId>,
    /// Where the next page of conversations starts (the conversation index's cursor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// What the clock of a conversation needs under the settings now in force: the time its
/// clock is to be set for, unless it is set for that time already (none when nothing is due).
pub fn reclocked(
    c: &Conversation,
    tenant: &ConversationSettings,
    event: Option<&ConversationSettings>,
) -> Option<DateTime<Utc>> {
    due(c, tenant, event).filter(|at| c.escalation_set_for != Some(*at))
}

/// The name of a conversation's escalation schedule (one per conversation: writing it again
/// moves it).
pub fn schedule_name(conversation: ConversationId) -> String {
    format!("hc-{conversation}")
}

/// When the conversation is due to be escalated: its guest's first unanswered message plus
/// its queue's limit — none when nobody waits, it is closed or escalated already, or its queue
/// has no limit.
pub fn due(
    c: &Conversation,
    tenant: &ConversationSettings,
    event: Option<&ConversationSettings>,
) -> Option<DateTime<Utc>> {
    if c.status == ConversationStatus::Closed || c.escalated_at.is_some() {
        return None;
    }
    let since = c.unanswered_since?;
    Some(since + escalate_after(tenant, event, &c.queue)?)
}

/// One step up (urgent stays urgent).
pub fn raised(p: Priority) -> Priority {
    match p {
        Priority::Low => Priority::Normal,
        Priority::Normal => Priority::High,
        Priority::High | Priority::Urgent => Priority::Urgent,
    }
}

/// What an [`Escalate`] job does with the conversation as it stands at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Answered, closed, escalated already, or in a queue without a limit.
    Nothing,
    /// Not due yet: the schedule is (re)written for this time.
    Schedule(DateTime<Utc>),
    /// Due: escalate.
    Escalate,
}

/// Decides an [`Escalate`] job: `fired` is the time its schedule was written for (none for a
/// request to write the schedule). A schedule fires at or after its time, so a conversation
/// due no later than that is escalated without reading a clock.
pub fn decide(
    due: Option<DateTime<Utc>>,
    fired: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Decision {
    match due {
        None => Decision::Nothing,
        Some(d) if fired.is_some_and(|f| d <= f) || d <= now => Decision::Escalate,
        Some(d) => Decision::Schedule(d),
    }
}

/// Escalates the conversation at `now`: priority one step up, `escalated_at` set.
pub fn escalate(c: &mut Conversation, now: DateTime<Utc>) {
    c.priority = raised(c.priority);
    c.escalated_at = Some(now);
    c.escalation_set_for = None;
    c.updated_at = now;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversations::Party;
    use crate::conversations::rules::QueueSettings;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn settings(queue: &str, minutes: u32) -> ConversationSettings {
        let mut s = ConversationSettings::default();
        s.queues.insert(
            queue.into(),
            QueueSettings {
                escalate_after_minutes: minutes,
            },
        );
        s
    }

    fn waiting(since: &str) -> Conversation {
        let mut c = Conversation::new(
            TenantId::new(),
            &Party::Unknown("+447700900123".into()),
            None,
            at(since),
        );
        c.unanswered_since = Some(at(since));
        c
    }

    #[test]
    fn due_from_the_first_unanswered_message_and_the_queue_limit() {
        let c = waiting("2027-05-01T10:00:00Z");
        let tenant = settings("general", 30);
        assert_eq!(due(&c, &tenant, None), Some(at("2027-05-01T10:30:00Z")));
        // The event's limit for the queue wins over the tenant's.
        let event = settings("general", 5);
        assert_eq!(
            due(&c, &tenant, Some(&event)),
            Some(at("2027-05-01T10:05:00Z"))
        );
        // No limit for the queue, nobody waiting, closed, or escalated already: never.
        assert_eq!(due(&c, &settings("vip", 5), None), None);
        let mut answered = c.clone();
        answered.unanswered_since = None;
        assert_eq!(due(&answered, &tenant, None), None);
        let mut closed = c.clone();
        closed.status = ConversationStatus::Closed;
        assert_eq!(due(&closed, &tenant, None), None);
        let mut escalated = c;
        escalated.escalated_at = Some(at("2027-05-01T10:31:00Z"));
        assert_eq!(due(&escalated, &tenant, None), None);
    }

    #[test]
    fn a_fired_schedule_escalates_what_is_due_by_its_time_and_moves_what_is_not() {
        let now = at("2027-05-01T10:00:00Z");
        let due_at = at("2027-05-01T10:30:00Z");
        assert_eq!(decide(None, Some(due_at), now), Decision::Nothing);
        // Fired for its time (whatever the clock says): escalate.
        assert_eq!(decide(Some(due_at), Some(due_at), now), Decision::Escalate);
        // Moved to a queue with a longer limit since: later.
        let later = at("2027-05-01T11:00:00Z");
        assert_eq!(
            decide(Some(later), Some(due_at), now),
            Decision::Schedule(later)
        );
        // A request to write the schedule: written, unless it is overdue already.
        assert_eq!(decide(Some(due_at), None, now), Decision::Schedule(due_at));
        assert_eq!(
            decide(Some(due_at), None, at("2027-05-01T10:31:00Z")),
            Decision::Escalate
        );
    }

    #[test]
    fn new_limits_reclock_waiting_conversations_not_set_for_them_already() {
        let mut c = waiting("2027-05-01T10:00:00Z");
        // No limit before; one now.
        assert_eq!(
            reclocked(&c, &settings("general", 45), None),
            Some(at("2027-05-01T10:45:00Z"))
        );
        // Set for that time already (the guest's message set it): nothing to do.
        c.escalation_set_for = Some(at("2027-05-01T10:45:00Z"));
        assert_eq!(reclocked(&c, &settings("general", 45), None), None);
        // The event's layer shortens it.
        assert_eq!(
            reclocked(&c, &settings("general", 45), Some(&settings("general", 10))),
            Some(at("2027-05-01T10:10:00Z"))
        );
        // The limit removed, or nobody waiting: nothing (a schedule left fires and does nothing).
        assert_eq!(reclocked(&c, &settings("vip", 10), None), None);
        c.unanswered_since = None;
        assert_eq!(reclocked(&c, &settings("general", 45), None), None);
        let job = Reclock {
            herald_reclock: c.tenant_id,
            event_id: Some(EventId::new()),
            cursor: Some("0001777629600000#cnv_x".into()),
        };
        let json = serde_json::to_string(&job).unwrap();
        assert_eq!(serde_json::from_str::<Reclock>(&json).unwrap(), job);
        let bare = serde_json::json!({"herald_reclock": c.tenant_id});
        assert_eq!(
            serde_json::from_value::<Reclock>(bare).unwrap().event_id,
            None
        );
    }

    #[test]
    fn escalation_raises_priority_one_step() {
        assert_eq!(raised(Priority::Low), Priority::Normal);
        assert_eq!(raised(Priority::Normal), Priority::High);
        assert_eq!(raised(Priority::High), Priority::Urgent);
        assert_eq!(raised(Priority::Urgent), Priority::Urgent);
        let mut c = waiting("2027-05-01T10:00:00Z");
        escalate(&mut c, at("2027-05-01T10:30:00Z"));
        assert_eq!(c.priority, Priority::High);
        assert_eq!(c.escalated_at, Some(at("2027-05-01T10:30:00Z")));
        let job = Escalate {
            herald_escalate: c.tenant_id,
            conversation_id: c.id,
            due: Some(at("2027-05-01T10:30:00Z")),
        };
        let json = serde_json::to_string(&job).unwrap();
        assert_eq!(serde_json::from_str::<Escalate>(&json).unwrap(), job);
        assert!(schedule_name(c.id).len() <= crate::schedules::MAX_NAME);
    }
}
