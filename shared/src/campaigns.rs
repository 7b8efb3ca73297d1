//! Campaigns: one template category sent to an audience of an event's guests, on channels in
//! order of preference, now or at a time.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{Channel, TemplateCategory};
use crate::guests::Guest;
use crate::ids::{CampaignId, EventId, GuestId, TenantId};

/// Most guest ids a `guests` audience may list.
pub const MAX_AUDIENCE_IDS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    Draft,
    Scheduled,
    Sending,
    Sent,
    PartiallyFailed,
    Cancelled,
}

impl CampaignStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignStatus::Draft => "draft",
            CampaignStatus::Scheduled => "scheduled",
            CampaignStatus::Sending => "sending",
            CampaignStatus::Sent => "sent",
            CampaignStatus::PartiallyFailed => "partially_failed",
            CampaignStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TagMatch {
    Any,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldOp {
    Eq,
    Ne,
    Exists,
}

/// Who a campaign is for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Audience {
    /// Every guest of the event.
    All,
    /// Guests with any (or all) of these tags.
    Tags {
        /// At least one.
        #[schema(min_items = 1)]
        tags: Vec<String>,
        #[serde(default = "any")]
        r#match: TagMatch,
    },
    /// Guests whose custom field (or `locale`, `time_zone`, `preferred_channel`) compares so.
    Filter {
        field: String,
        op: FieldOp,
        /// What `eq` and `ne` compare with (required for them, not null); `exists` takes none.
        #[serde(default)]
        #[schema(value_type = Option<serde_json::Value>)]
        value: Option<serde_json::Value>,
    },
    /// These guests.
    Guests {
        /// 1 to 10,000 guest ids.
        #[schema(min_items = 1, max_items = 10000)]
        ids: Vec<GuestId>,
    },
    /// Guests by their RSVP when the campaign sends: `["no_response"]` to remind those who
    /// have not answered, `["accepted"]` for logistics to those coming.
    Rsvp {
        /// 1 to 4 of `accepted`, `declined`, `maybe`, `no_response`.
        #[schema(min_items = 1, max_items = 4)]
        statuses: Vec<crate::domain::RsvpState>,
    },
    /// The guests an earlier campaign of the event sent to, whom its message did not bring
    /// to `not_reached` (delivered, opened or clicked) by the time this one sends: "those who
    /// have not opened the invitation".
    FollowUp {
        #[schema(value_type = String)]
        campaign: CampaignId,
        not_reached: crate::journeys::NotReached,
    },
}

fn any() -> TagMatch {
    TagMatch::Any
}

impl Audience {
    /// Whether `guest` is in the audience.
    pub fn includes(&self, guest: &Guest) -> bool {
        match self {
            Audience::All => true,
            Audience::Tags { tags, r#match } => match r#match {
                TagMatch::Any => tags.iter().any(|t| guest.tags.contains(t)),
                TagMatch::All => tags.iter().all(|t| guest.tags.contains(t)),
            },
            Audience::Filter { field, op, value } => {
                let actual: Option<serde_json::Value> = match field.as_str() {
                    "locale" => guest.locale.as_ref().map(|l| l.as_str().into()),
                    "time_zone" => guest.time_zone.as_ref().map(|t| t.as_str().into()),
                    "preferred_channel" => guest.preferred_channel.map(|c| c.as_str().into()),
                    custom => guest.fields.get(custom).cloned(),
                };
                match op {
                    FieldOp::Exists => actual.is_some(),
                    FieldOp::Eq => actual.as_ref() == value.as_ref(),
                    FieldOp::Ne => actual.as_ref() != value.as_ref(),
                }
            }
            Audience::Guests { ids } => ids.contains(&guest.id),
            Audience::Rsvp { statuses } => {
                statuses.contains(&crate::rsvp::state_of(guest.rsvp.as_ref()))
            }
            // Who follows up depends on the earlier campaign's messages: the expansion reads
            // them (see `Store::not_reached`).
            Audience::FollowUp { .. } => true,
        }
    }

    /// What is wrong with it, if anything (field, message).
    pub fn check(&self) -> Option<(&'static str, String)> {
        match self {
            Audience::Tags { tags, .. } if tags.is_empty() => {
                Some(("audience.tags", "name at least one tag".into()))
            }
            Audience::Filter { op, value, .. } if *op != FieldOp::Exists && value.is_none() => {
                Some(("audience.value", "eq and ne compare with a value".into()))
            }
            Audience::Guests { ids } if ids.is_empty() || ids.len() > MAX_AUDIENCE_IDS => {
                Some(("audience.ids", format!("1 to {MAX_AUDIENCE_IDS} guest ids")))
            }
            Audience::Rsvp { statuses } if statuses.is_empty() || statuses.len() > 4 => Some((
                "audience.statuses",
                "1 to 4 of accepted, declined, maybe, no_response".into(),
            )),
            _ => None,
        }
    }
}

/// A campaign's live counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CampaignCounts {
    /// Recipients found in the audience so far.
    #[serde(default)]
    pub total: u64,
    #[serde(default)]
    pub sent: u64,
    #[serde(default)]
    pub failed: u64,
    #[serde(default)]
    pub suppressed: u64,
    #[serde(default)]
    pub no_consent: u64,
    #[serde(default)]
    pub no_address: u64,
    /// Not sent: the contact's frequency cap was reached.
    #[serde(default)]
    pub frequency_capped: u64,
}

impl CampaignCounts {
    /// Recipients with a final outcome.
    pub fn done(&self) -> u64 {
        self.sent
            + self.failed
            + self.suppressed
            + self.no_consent
            + self.no_address
            + self.frequency_capped
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Campaign {
    pub id: CampaignId,
    pub tenant_id: TenantId,
    pub event_id: EventId,
    pub name: String,
    pub category: TemplateCategory,
    /// In order of preference.
    pub channels: Vec<Channel>,
    pub audience: Audience,
    /// When to send; `None`: when asked to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_at: Option<DateTime<Utc>>,
    pub status: CampaignStatus,
    #[serde(default)]
    pub counts: CampaignCounts,
    /// Audience shards fully expanded into delivery jobs.
    #[serde(default)]
    pub expanded_shards: u32,
    /// Delivery jobs queued so far, and those finished: the campaign is done when every shard
    /// is expanded and every queued job finished.
    #[serde(default)]
    pub batches_expected: u64,
    #[serde(default)]
    pub batches_done: u64,
    /// Delivery jobs of recipients waiting for their quiet hours to end: the campaign is not
    /// done while any waits.
    #[serde(default)]
    pub batches_waiting: u64,
    /// The audience pages already expanded (`{shard}:{after}`), so none counts twice.
    #[serde(default, skip_serializing)]
    #[schema(ignore)]
    pub expanded_pages: std::collections::BTreeSet<String>,
    /// The snapshot version the campaign sends from (set when sending starts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_version: Option<u64>,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// The journey step this campaign sends (a journey's campaigns are made by the sender
    /// when a step's time comes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub journey_step: Option<crate::journeys::StepKey>,
}

/// Counter attribute names on the campaign item, by message status.
pub fn counter_attribute(status: crate::messages::MessageStatus) -> Option<&'static str> {
    use crate::messages::MessageStatus as S;
    match status {
        S::Sent => Some("sent"),
        S::Failed => Some("failed"),
        S::Suppressed => Some("suppressed"),
        S::NoConsent => Some("no_consent"),
        S::NoAddress => Some("no_address"),
        S::FrequencyCapped => Some("frequency_capped"),
        S::Queued | S::Sending => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guest(tags: &[&str], fields: serde_json::Value) -> Guest {
        let now = Utc::now();
        Guest {
            id: GuestId::new(),
            tenant_id: TenantId::new(),
            event_id: EventId::new(),
            contact_id: crate::ids::ContactId::new(),
            first_name: String::new(),
            last_name: String::new(),
            name: String::new(),
            email: None,
            phone: None,
            locale: None,
            time_zone: None,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            fields: serde_json::from_value(fields).unwrap_or_default(),
            preferred_channel: None,
            rsvp: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn rsvp_audiences_take_guests_by_their_answer() {
        use crate::domain::{RsvpSource, RsvpState, RsvpStatus};
        let answered = |status| Guest {
            rsvp: Some(crate::rsvp::Rsvp {
                status,
                party_size: 1,
                answers: Default::default(),
                at: Utc::now(),
                source: RsvpSource::Link,
                version: 1,
            }),
            ..guest(&[], serde_json::json!({}))
        };
        let silent = guest(&[], serde_json::json!({}));
        let reminder = Audience::Rsvp {
            statuses: vec![RsvpState::NoResponse],
        };
        let coming = Audience::Rsvp {
            statuses: vec![RsvpState::Accepted, RsvpState::Maybe],
        };
        assert!(reminder.includes(&silent));
        assert!(!reminder.includes(&answered(RsvpStatus::Maybe)));
        assert!(coming.includes(&answered(RsvpStatus::Maybe)));
        assert!(!coming.includes(&answered(RsvpStatus::Declined)));
        assert!(Audience::Rsvp { statuses: vec![] }.check().is_some());
        assert!(coming.check().is_none());
    }

    #[test]
    fn audiences_select_by_tags_fields_and_ids() {
        let vip = guest(&["vip", "speaker"], serde_json::json!({"table": 7}));
        let plain = guest(&[], serde_json::json!({}));
        let tags = |t: &[&str], m| Audience::Tags {
            tags: t.iter().map(|s| (*s).to_owned()).collect(),
            r#match: m,
        };
        assert!(tags(&["vip", "press"], TagMatch::Any).includes(&vip));
        assert!(!tags(&["vip", "press"], TagMatch::All).includes(&vip));
        let table7 = Audience::Filter {
            field: "table".into(),
            op: FieldOp::Eq,
            value: Some(serde_json::json!(7)),
        };
        assert!(table7.includes(&vip) && !table7.includes(&plain));
        let has = Audience::Filter {
            field: "table".into(),
            op: FieldOp::Exists,
            value: None,
        };
        assert!(has.includes(&vip) && !has.includes(&plain));
        assert!(
            Audience::Guests {
                ids: vec![plain.id]
            }
            .includes(&plain)
        );
        assert!(Audience::All.includes(&plain));
        assert!(tags(&[], TagMatch::Any).check().is_some());
    }
}
