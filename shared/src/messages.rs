//! Messages: one per recipient and send, their states, the work the sender is given, and the
//! pure decisions of the send path (channel choice, suppression and consent).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{Channel, TemplateCategory};
use crate::guests::Contact;
use crate::ids::{CampaignId, ContactId, EventId, GuestId, MessageId, ProviderId, TenantId};
use crate::render::GuestVars;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Accepted, waiting for the sender.
    Queued,
    /// Claimed by the sender: a provider call is under way (or its outcome is being settled).
    Sending,
    Sent,
    Failed,
    /// The address is on the tenant's suppression list.
    Suppressed,
    /// The contact opted out of this category on this channel (or of everything).
    NoConsent,
    /// The recipient has no address on any channel the message may use.
    NoAddress,
    /// The contact's frequency cap for the period was reached (campaign messages).
    FrequencyCapped,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Queued => "queued",
            MessageStatus::Sending => "sending",
            MessageStatus::Sent => "sent",
            MessageStatus::Failed => "failed",
            MessageStatus::Suppressed => "suppressed",
            MessageStatus::NoConsent => "no_consent",
            MessageStatus::NoAddress => "no_address",
            MessageStatus::FrequencyCapped => "frequency_capped",
        }
    }

    /// A final state: the message is done with, whatever happens to its SQS delivery.
    pub fn is_final(self) -> bool {
        !matches!(self, MessageStatus::Queued | MessageStatus::Sending)
    }
}

/// Who a message is for: the fields templates see, and the addresses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Recipient {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_id: Option<GuestId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<ContactId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_channel: Option<Channel>,
    /// What templates see as `guest` (its email and phone are the addresses).
    pub vars: GuestVars,
}

impl Recipient {
    pub fn address(&self, channel: Channel) -> Option<&str> {
        match channel {
            Channel::Email => self.vars.email.as_deref(),
            Channel::Sms | Channel::Whatsapp => self.vars.phone.as_deref(),
        }
    }
}

impl From<&crate::guests::Guest> for Recipient {
    fn from(g: &crate::guests::Guest) -> Self {
        let mut vars: GuestVars = g.profile().into();
        vars.rsvp = g.rsvp.as_ref().map(|r| crate::render::RsvpVars {
            status: r.status.to_string(),
            party_size: r.party_size,
            answers: r
                .answers
                .iter()
                .map(|(k, v)| (k.clone(), v.joined()))
                .collect(),
        });
        Self {
            guest_id: Some(g.id),
            contact_id: Some(g.contact_id),
            preferred_channel: g.preferred_channel,
            vars,
        }
    }
}

impl From<crate::guests::CheckedGuest> for GuestVars {
    fn from(g: crate::guests::CheckedGuest) -> Self {
        Self {
            first_name: g.first_name,
            last_name: g.last_name,
            name: g.name,
            email: g.email.map(|e| e.as_str().to_owned()),
            phone: g.phone.map(|p| p.as_str().to_owned()),
            locale: g.locale.map(|l| l.as_str().to_owned()),
            time_zone: g.time_zone.map(|t| t.as_str().to_owned()),
            tags: g.tags,
            fields: g.fields,
            rsvp: None,
        }
    }
}

/// One message for the sender to deliver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub message_id: MessageId,
    pub recipient: Recipient,
}

/// Work for the sender, one per SQS message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SenderJob {
    /// Start a campaign: one `expand` job per guest shard (or the listed guests at once).
    Plan {
        tenant_id: TenantId,
        campaign_id: CampaignId,
    },
    /// Turn one page of the audience (from `after` in guest shard `shard` on) into delivery
    /// jobs, then queue the next page.
    Expand {
        tenant_id: TenantId,
        campaign_id: CampaignId,
        shard: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<GuestId>,
    },
    /// Deliver these messages of one event (a campaign's batch, or one transactional message).
    Deliver {
        tenant_id: TenantId,
        event_id: EventId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        campaign_id: Option<CampaignId>,
        /// The snapshot to render from (a campaign's, fixed when it started); the active one
        /// when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snapshot_version: Option<u64>,
        category: TemplateCategory,
        /// In order of preference.
        channels: Vec<Channel>,
        deliveries: Vec<Delivery>,
        /// Not before this time: recipients waiting for their quiet hours to end.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        not_before: Option<DateTime<Utc>>,
    },
    /// A journey step's time has come: its schedule fired (or it is sent now). `due_at` is
    /// the time it was scheduled for: a fire for a time the step no longer has is stale.
    JourneyStep {
        tenant_id: TenantId,
        event_id: EventId,
        step: crate::journeys::StepKey,
        due_at: DateTime<Utc>,
    },
    /// Bring the journeys of marked events in line (the sweep's recurring schedule).
    SyncJourneys,
    /// Send a person's reply in a conversation: the thread message (`queued`) says what, on
    /// which channel; the conversation says to which address and through which provider.
    Reply {
        tenant_id: TenantId,
        message: Box<crate::conversations::ThreadMessage>,
    },
}

/// A message as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    pub id: MessageId,
    pub tenant_id: TenantId,
    pub event_id: EventId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<CampaignId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_id: Option<GuestId>,
    pub category: TemplateCategory,
    pub status: MessageStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<ProviderId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    /// Provider calls made (failover included).
    #[serde(default)]
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The active snapshot version rendered from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_version: Option<u64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    /// A queued transactional message keeps its sender job until the sender claims it, so a
    /// replay of its idempotency key can queue it again if the first request stopped before
    /// queueing. Never shown over the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub pending_job: Option<String>,
    /// When the record expires (Unix seconds; the tenant's retention, through DynamoDB TTL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    /// A campaign message waiting for the contact's quiet hours: when they end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<DateTime<Utc>>,
    /// The subject an email went out with (personal data: removed by erasure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

impl Message {
    /// A message about to be sent: `queued`, nothing tried yet, expiring after `ttl` (Unix
    /// seconds).
    pub fn queued(
        id: MessageId,
        (tenant_id, event_id, campaign_id): (TenantId, EventId, Option<CampaignId>),
        guest_id: Option<GuestId>,
        category: TemplateCategory,
        ttl: i64,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            tenant_id,
            event_id,
            campaign_id,
            guest_id,
            category,
            status: MessageStatus::Queued,
            channel: None,
            provider_id: None,
            provider_message_id: None,
            attempts: 0,
            last_error: None,
            snapshot_version: None,
            created_at: now,
            updated_at: now,
            claimed_at: None,
            sent_at: None,
            pending_job: None,
            ttl: Some(ttl),
            not_before: None,
            subject: None,
        }
    }
}

/// The suppression-list key of an address: channel and SHA-256 of the normalised address, so
/// the list holds no addresses in clear.
pub fn suppression_key(channel: Channel, address: &str) -> String {
    let normalised = address.trim().to_lowercase();
    let kind = match channel {
        Channel::Email => "email",
        Channel::Sms | Channel::Whatsapp => "phone",
    };
    format!("{kind}#{}", crate::digest::sha256_hex(normalised))
}

/// The channel a recipient gets: the preferred one when the message allows it and the
/// recipient has that address, else the first allowed channel with an address.
pub fn choose_channel(channels: &[Channel], recipient: &Recipient) -> Option<Channel> {
    if let Some(preferred) = recipient.preferred_channel
        && channels.contains(&preferred)
        && recipient.address(preferred).is_some()
    {
        return Some(preferred);
    }
    channels
        .iter()
        .copied()
        .find(|c| recipient.address(*c).is_some())
}

/// Whether the contact allows `category` on `channel`.
pub fn consents(contact: Option<&Contact>, category: TemplateCategory, channel: Channel) -> bool {
    let Some(c) = contact else { return true };
    !(c.unsubscribed
        || c.opt_outs.contains(&format!("{category}#{channel}"))
        || c.opt_outs.contains(&format!("*#{channel}")))
}

/// The outcome of the checks before a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Send(Channel),
    Skip(MessageStatus),
}

/// Channel choice, then suppression, then consent.
pub fn decide(
    channels: &[Channel],
    category: TemplateCategory,
    recipient: &Recipient,
    contact: Option<&Contact>,
    suppressed: &dyn Fn(Channel, &str) -> bool,
) -> Decision {
    let Some(channel) = choose_channel(channels, recipient) else {
        return Decision::Skip(MessageStatus::NoAddress);
    };
    let address = recipient.address(channel).unwrap_or_default();
    if suppressed(channel, address) {
        return Decision::Skip(MessageStatus::Suppressed);
    }
    if !consents(contact, category, channel) {
        return Decision::Skip(MessageStatus::NoConsent);
    }
    Decision::Send(channel)
}

/// Recipients per delivery job: 100, so that one claim, one BatchGetItem of contacts, one of
/// suppressions, four BatchWriteItem of records and one PutItem of the batch's outcome serve
/// 100 messages.
pub const DELIVERY_BATCH: usize = 100;

/// Delivery jobs of [`DELIVERY_BATCH`] recipients for these guests of a campaign (each
/// message's id follows from the campaign and the guest).
pub fn deliver_jobs(
    campaign: &crate::campaigns::Campaign,
    guests: Vec<&crate::guests::Guest>,
) -> Vec<SenderJob> {
    guests
        .chunks(DELIVERY_BATCH)
        .map(|chunk| SenderJob::Deliver {
            tenant_id: campaign.tenant_id,
            event_id: campaign.event_id,
            campaign_id: Some(campaign.id),
            snapshot_version: campaign.snapshot_version,
            category: campaign.category,
            channels: campaign.channels.clone(),
            not_before: None,
            deliveries: chunk
                .iter()
                .map(|g| Delivery {
                    message_id: MessageId::derived(&[&campaign.id.to_string(), &g.id.to_string()]),
                    recipient: Recipient::from(*g),
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipient(email: bool, phone: bool, preferred: Option<Channel>) -> Recipient {
        Recipient {
            preferred_channel: preferred,
            vars: GuestVars {
                email: email.then(|| "a@b.example".to_owned()),
                phone: phone.then(|| "+447700900123".to_owned()),
                ..GuestVars::default()
            },
            ..Recipient::default()
        }
    }

    #[test]
    fn the_preferred_channel_wins_when_allowed_and_reachable() {
        let both = [Channel::Email, Channel::Sms];
        assert_eq!(
            choose_channel(&both, &recipient(true, true, Some(Channel::Sms))),
            Some(Channel::Sms)
        );
        assert_eq!(
            choose_channel(&both, &recipient(true, false, Some(Channel::Sms))),
            Some(Channel::Email)
        );
        assert_eq!(
            choose_channel(
                &[Channel::Email],
                &recipient(true, true, Some(Channel::Whatsapp))
            ),
            Some(Channel::Email)
        );
        assert_eq!(
            choose_channel(&[Channel::Sms], &recipient(true, false, None)),
            None
        );
    }

    #[test]
    fn suppression_then_consent() {
        let r = recipient(true, false, None);
        let never = |_: Channel, _: &str| false;
        let always = |_: Channel, _: &str| true;
        let cat = TemplateCategory::Reminder;
        assert_eq!(
            decide(&[Channel::Email], cat, &r, None, &never),
            Decision::Send(Channel::Email)
        );
        assert_eq!(
            decide(&[Channel::Email], cat, &r, None, &always),
            Decision::Skip(MessageStatus::Suppressed)
        );
        let now = Utc::now();
        let mut contact = Contact {
            opt_outs: ["reminder#email".to_owned()].into(),
            ..Contact::new(TenantId::new(), ContactId::new(), now)
        };
        assert_eq!(
            decide(&[Channel::Email], cat, &r, Some(&contact), &never),
            Decision::Skip(MessageStatus::NoConsent)
        );
        assert!(consents(
            Some(&contact),
            TemplateCategory::Invitation,
            Channel::Email
        ));
        contact.unsubscribed = true;
        assert!(!consents(
            Some(&contact),
            TemplateCategory::Invitation,
            Channel::Email
        ));
        assert_eq!(
            suppression_key(Channel::Email, " A@B.example "),
            suppression_key(Channel::Email, "a@b.example")
        );
    }
}
