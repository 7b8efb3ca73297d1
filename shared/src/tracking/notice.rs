//! The sender's notices of what providers without an event stream accepted, and Herald's own
//! unsubscribe links as events.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::seal::SealState;
use super::{Tracked, identity};
use crate::domain::{Channel, DeliveryEvent};
use crate::ids::{CampaignId, EventId, MessageId, ProviderId, TenantId};

/// The sender's word that providers with no event stream of their own (SNS SMS, Brevo,
/// SendGrid; Twilio and WhatsApp before their callbacks) accepted messages: one notice per
/// delivery job on the tracker queue, so every channel counts as sent in the analytics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentNotice {
    pub herald_sent: Vec<SentEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentEntry {
    pub tenant: TenantId,
    pub message: MessageId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<CampaignId>,
    pub provider: ProviderId,
    pub channel: Channel,
    pub provider_message_id: String,
    pub at: DateTime<Utc>,
    /// When the message's record expires (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
}

impl From<&SentEntry> for Tracked {
    fn from(e: &SentEntry) -> Self {
        Self {
            tenant: e.tenant,
            message: e.message,
            event: e.event,
            campaign: e.campaign,
            contact: None,
            expires: e.expires,
            provider: Some(e.provider),
            channel: e.channel,
            kind: DeliveryEvent::Sent,
            at: e.at,
            sent_at: Some(e.at),
            provider_message_id: Some(e.provider_message_id.clone()),
            detail: None,
            link: None,
            suppress: Vec::new(),
            opt_out: None,
            recipient: None,
            identity: identity(&["herald-sent", &e.message.to_string()]),
            // Vouched for by the message's record, which the sender writes before the notice.
            seal: SealState::Absent,
        }
    }
}

/// A guest's unsubscribe through Herald's own link (one-click or the preference page), as an
/// event of the message whose link it was: counted with the provider's own unsubscribes.
pub fn unsubscribed(message: &crate::messages::Message, at: DateTime<Utc>) -> Tracked {
    Tracked {
        tenant: message.tenant_id,
        message: message.id,
        event: Some(message.event_id),
        campaign: message.campaign_id,
        contact: None,
        expires: message.ttl,
        provider: message.provider_id,
        channel: message.channel.unwrap_or(Channel::Email),
        kind: DeliveryEvent::Unsubscribed,
        at,
        sent_at: message.sent_at,
        provider_message_id: message.provider_message_id.clone(),
        detail: Some("herald-link".to_owned()),
        link: None,
        suppress: Vec::new(),
        opt_out: None,
        recipient: None,
        identity: identity(&["herald-unsubscribe", &message.id.to_string()]),
        // Made from the message's own record: nothing to vouch for.
        seal: SealState::Absent,
    }
}
