//! Delivery tracking: what providers report about a message after Herald sent it, read from
//! their own formats into one shape ([`Tracked`]), and the counters those reports add to.
//!
//! - SES publishes events through Herald's configuration set (an SNS topic, then the tracker
//!   queue): `Send`, `Delivery`, `Bounce`, `Complaint`, `Reject`, `Open`, `Click`,
//!   `Rendering Failure`, `DeliveryDelay` and `Subscription`, each carrying the message tags the
//!   sender set (`herald_tenant`, `herald_event`, `herald_campaign`, `herald_message`,
//!   `herald_provider`).
//! - Twilio calls the status callback URL the sender gave it, which names the tenant, the
//!   provider and the message; the call is signed with the account's auth token
//!   (`X-Twilio-Signature`).
//! - The WhatsApp Cloud API posts status webhooks to the provider's webhook URL; each status
//!   carries the `biz_opaque_callback_data` the sender set, and the body is signed with the
//!   app secret (`X-Hub-Signature-256`).
//!
//! A message's delivery state only moves forward: each kind of event has a rank and the state
//! is the highest-ranked event seen (so a late Delivery never hides a Bounce, and an Open after
//! a Click lowers nothing). An event is identified by a digest of what the provider reported,
//! so the same report delivered twice is recognised.
//!
//! Stages, one module each: [`ses`] and [`callbacks`] read the providers' formats, [`notice`]
//! is the sender's own word for providers without events, [`seal`] tells what Herald itself
//! sent, [`tally`] adds new events to the counters.

mod callbacks;
mod notice;
pub mod seal;
mod ses;
mod tally;
mod vouch;

pub use callbacks::*;
pub use notice::*;
pub use ses::parse_ses;
pub use tally::*;
pub use vouch::{Verdict, Voucher};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::{Channel, DeliveryEvent};
use crate::ids::{CampaignId, ContactId, EventId, MessageId, ProviderId, TenantId};

/// One provider report about one message, in Herald's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    pub tenant: TenantId,
    pub message: MessageId,
    pub event: Option<EventId>,
    pub campaign: Option<CampaignId>,
    /// The contact the message was for, as the report names it (SES events carry it as a
    /// tag); believed only under a valid seal.
    pub contact: Option<ContactId>,
    /// When the message's record expires (Unix seconds): its events expire with it.
    pub expires: Option<i64>,
    pub provider: Option<ProviderId>,
    pub channel: Channel,
    pub kind: DeliveryEvent,
    /// When it happened, by the provider's clock.
    pub at: DateTime<Utc>,
    /// When the message was sent (SES gives it with every event), for the hour-of-day figures.
    pub sent_at: Option<DateTime<Utc>>,
    pub provider_message_id: Option<String>,
    /// A bounce's type and subtype with its status code, a failure's error code; never the
    /// provider's free text (which may quote the address).
    pub detail: Option<String>,
    /// A click's link.
    pub link: Option<String>,
    /// A permanent bounce or a complaint: these addresses go on the suppression list. Never
    /// stored with the event, never logged.
    pub suppress: Vec<String>,
    /// The address the report is about (SES: the mail's first destination), to find the
    /// contact when nothing sealed names it. Never stored with the event, never logged.
    pub recipient: Option<String>,
    /// An unsubscribe through the provider's own list management (SES Subscription events):
    /// what it opts the contact out of.
    pub opt_out: Option<OptOutScope>,
    /// A digest of the provider's report: the same report twice has the same identity.
    pub identity: String,
    /// The sender's seal over the ids the report names (see [`seal`]).
    pub seal: seal::SealState,
}

/// What an unsubscribe through the provider opts the contact out of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptOutScope {
    /// Every email (SES: `unsubscribeAll`).
    AllEmail,
    /// The message's category by email, as a one-click unsubscribe from it would (SES: a
    /// topic opted out of).
    MessageCategory,
}

impl Tracked {
    /// The time to file the event under (a message's own events are ordered by it).
    pub fn at_ms(&self) -> i64 {
        self.at.timestamp_millis()
    }

    /// The ids the report names, as a seal covers them.
    pub fn sealed_ids(&self) -> seal::SealedIds {
        seal::SealedIds {
            tenant: self.tenant,
            message: self.message,
            event: self.event,
            campaign: self.campaign,
            contact: self.contact,
            expires: self.expires,
        }
    }
}

/// Why a provider report cannot be used. Each is logged, counted and acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    /// Not in the provider's documented shape.
    Malformed(String),
    /// Mail sent through the configuration set by something other than Herald.
    Untagged,
    /// A kind of event Herald does not track.
    Unknown(String),
    /// A report Herald has nothing to do with (e.g. Twilio's `queued`).
    Ignored(String),
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "malformed: {why}"),
            Self::Untagged => f.write_str("no Herald tags"),
            Self::Unknown(kind) => write!(f, "unknown event type '{kind}'"),
            Self::Ignored(what) => write!(f, "not tracked: {what}"),
        }
    }
}

/// The rank of an event kind in a message's delivery state: the state is the highest seen.
/// Unsubscribing says nothing about delivery (0).
pub fn rank(kind: DeliveryEvent) -> u8 {
    match kind {
        DeliveryEvent::Unsubscribed => 0,
        DeliveryEvent::Sent => 1,
        DeliveryEvent::Delayed => 2,
        DeliveryEvent::Delivered => 3,
        DeliveryEvent::Opened => 4,
        DeliveryEvent::Clicked => 5,
        DeliveryEvent::Bounced
        | DeliveryEvent::Rejected
        | DeliveryEvent::RenderingFailed
        | DeliveryEvent::Failed => 6,
        DeliveryEvent::Complained => 7,
    }
}

/// Kinds a message can have many of (each counted in the totals, the first in the uniques).
pub fn repeats(kind: DeliveryEvent) -> bool {
    matches!(kind, DeliveryEvent::Opened | DeliveryEvent::Clicked)
}

/// An event as stored next to its message and shown in the message's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TimelineEvent {
    #[serde(rename = "type")]
    pub kind: DeliveryEvent,
    pub at: DateTime<Utc>,
    pub channel: Channel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<ProviderId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    #[schema(ignore)]
    pub identity: String,
}

impl From<&Tracked> for TimelineEvent {
    fn from(t: &Tracked) -> Self {
        Self {
            kind: t.kind,
            at: t.at,
            channel: t.channel,
            provider_id: t.provider,
            provider_message_id: t.provider_message_id.clone(),
            detail: t.detail.clone(),
            link: t.link.clone(),
            identity: t.identity.clone(),
        }
    }
}

/// The delivery state events add up to: the highest-ranked (the latest among equals).
pub fn delivery_state(events: &[TimelineEvent]) -> Option<DeliveryEvent> {
    events
        .iter()
        .filter(|e| rank(e.kind) > 0)
        .max_by_key(|e| (rank(e.kind), e.at))
        .map(|e| e.kind)
}

pub(crate) fn identity(parts: &[&str]) -> String {
    crate::digest::sha256_hex(parts.join("\u{1f}"))[..24].to_owned()
}

pub(crate) fn time(value: Option<&Value>) -> Option<DateTime<Utc>> {
    value
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// Reads a tracker queue body: an SES event (raw or in an SNS notification) or the sender's
/// notice of messages sent through other providers.
pub fn parse_record(body: &str) -> Result<Vec<Tracked>, Unusable> {
    if body.trim_start().starts_with("{\"herald_sent\"") {
        let notice: SentNotice = serde_json::from_str(body)
            .map_err(|e| Unusable::Malformed(format!("a sent notice that does not parse: {e}")))?;
        return Ok(notice.herald_sent.iter().map(Tracked::from).collect());
    }
    parse_ses(body).map(|e| vec![e])
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    #[test]
    fn state_only_moves_forward() {
        let e = |kind, secs| TimelineEvent {
            kind,
            at: Utc.timestamp_opt(secs, 0).single().expect("time"),
            channel: Channel::Email,
            provider_id: None,
            provider_message_id: None,
            detail: None,
            link: None,
            identity: String::new(),
        };
        // A Delivery that arrives after the Bounce does not hide it.
        let events = [e(DeliveryEvent::Bounced, 5), e(DeliveryEvent::Delivered, 9)];
        assert_eq!(delivery_state(&events), Some(DeliveryEvent::Bounced));
        // An Open after a Click lowers nothing.
        let events = [e(DeliveryEvent::Clicked, 5), e(DeliveryEvent::Opened, 9)];
        assert_eq!(delivery_state(&events), Some(DeliveryEvent::Clicked));
        assert_eq!(delivery_state(&[e(DeliveryEvent::Unsubscribed, 1)]), None);
    }
}
