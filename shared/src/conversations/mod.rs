//! Conversations: one contact (or an unknown sender) and one event, across channels; every
//! message a guest sends lands in one, next to what the event team and Herald answered.
//!
//! - this module: the records ([`Conversation`], [`ThreadMessage`]) and their ids;
//! - [`rules`]: automatic replies and routing (tenant and event layers) and the team's hours;
//! - [`escalation`]: when a conversation nobody answers is escalated, and what that does;
//! - [`plan`]: what Herald does with one inbound message, decided from values (keywords first,
//!   then RSVP replies, automatic replies, routing) and applied to the conversation.

pub mod escalation;
pub mod plan;
pub mod rules;
pub mod send;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{Channel, ConversationStatus, Direction, Priority};
use crate::ids::{
    ApiKeyId, ContactId, ConversationId, EventId, MessageId, ProviderId, TenantId, ThreadMessageId,
};
use crate::inbound::Attachment;

/// The queue a conversation is in until a rule routes it elsewhere.
pub const DEFAULT_QUEUE: &str = "general";
/// The bytes of folded words a conversation keeps for search (the first words win).
pub const INDEX_BUDGET: usize = 16 * 1024;
/// The characters of the last message a conversation list shows.
pub const PREVIEW_CHARS: usize = 140;

/// Who a conversation is with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Party {
    Contact(ContactId),
    /// A sender matching no contact: their address (email, lower case, or E.164).
    Unknown(String),
}

/// The conversation of a party about an event (or about no event), the same id every time.
pub fn conversation_id(tenant: TenantId, party: &Party, event: Option<EventId>) -> ConversationId {
    let who = match party {
        Party::Contact(c) => c.to_string(),
        Party::Unknown(address) => format!("address:{}", crate::digest::sha256_hex(address)),
    };
    let event = event.map(|e| e.to_string()).unwrap_or_default();
    ConversationId::derived(&[&tenant.to_string(), &who, &event])
}

/// A conversation as stored (and, without `words`, as the API shows it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Conversation {
    pub id: ConversationId,
    pub tenant_id: TenantId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<ContactId>,
    /// The sender's address when no contact has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<EventId>,
    pub status: ConversationStatus,
    pub queue: String,
    pub priority: Priority,
    /// The channel the guest last wrote on (a reply goes there unless another is chosen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_channel: Option<Channel>,
    /// Per channel, the provider that received the guest's last message on it (replies go out
    /// through it, from the number the guest wrote to).
    #[serde(default)]
    pub via: BTreeMap<Channel, ProviderId>,
    /// Per channel, the guest's address on it as they last wrote from it.
    #[serde(default)]
    pub addresses: BTreeMap<Channel, String>,
    pub message_count: u32,
    /// The start of the guest's messages nobody has answered yet (escalation counts from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unanswered_since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_inbound_at: Option<DateTime<Utc>>,
    pub last_message_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalated_at: Option<DateTime<Utc>>,
    /// When the escalation clock was last set for (so a message, or a change of settings,
    /// that moves the due time sets it again; never shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub escalation_set_for: Option<DateTime<Utc>>,
    /// What needs a person's eye: `opt_out_words` (an opt-out in other words), `spam`.
    #[serde(default)]
    pub flags: BTreeSet<String>,
    /// The last message, shortened.
    pub preview: String,
    /// The subject of the thread's last email (a person's emailed answer replies to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Automatic replies sent: rule id → the UTC day (`YYYY-MM-DD`) it last fired.
    #[serde(default)]
    pub auto_replied: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
    /// Search's folded words of the whole thread (never shown).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schema(ignore)]
    pub words: String,
    /// When the record expires (the tenant's retention).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub ttl: Option<i64>,
}

impl Conversation {
    /// A new, empty conversation.
    pub fn new(
        tenant: TenantId,
        party: &Party,
        event: Option<EventId>,
        now: DateTime<Utc>,
    ) -> Self {
        let (contact_id, address) = match party {
            Party::Contact(c) => (Some(*c), None),
            Party::Unknown(a) => (None, Some(a.clone())),
        };
        Self {
            id: conversation_id(tenant, party, event),
            tenant_id: tenant,
            contact_id,
            address,
            event_id: event,
            status: ConversationStatus::Open,
            queue: DEFAULT_QUEUE.to_owned(),
            priority: Priority::Normal,
            last_channel: None,
            via: BTreeMap::new(),
            addresses: BTreeMap::new(),
            message_count: 0,
            unanswered_since: None,
            last_inbound_at: None,
            last_message_at: now,
            escalated_at: None,
            escalation_set_for: None,
            flags: BTreeSet::new(),
            preview: String::new(),
            subject: None,
            auto_replied: BTreeMap::new(),
            created_at: now,
            updated_at: now,
            version: 0,
            words: String::new(),
            ttl: None,
        }
    }

    /// As the API shows it.
    pub fn shown(mut self) -> Self {
        self.words.clear();
        self.ttl = None;
        self.escalation_set_for = None;
        self
    }

    /// Adds a message to the conversation's summary: counts, preview, search words, status.
    pub fn add(&mut self, message: &ThreadMessage) {
        self.message_count += 1;
        self.last_message_at = message.at;
        self.updated_at = message.at;
        self.preview = message.written.chars().take(PREVIEW_CHARS).collect();
        if let Some(subject) = message.subject.as_deref().filter(|s| !s.trim().is_empty()) {
            self.subject = Some(subject.to_owned());
        }
        let subject = message.subject.as_deref().unwrap_or_default();
        self.words = crate::inbound::search::extend_index(
            &self.words,
            &format!("{subject} {}", message.text),
            INDEX_BUDGET,
        );
        match message.direction {
            Direction::Inbound => {
                self.last_channel = Some(message.channel);
                self.last_inbound_at = Some(message.at);
                if let Some(from) = &message.from {
                    self.addresses.insert(message.channel, from.clone());
                }
                if let Some(provider) = message.via {
                    self.via.insert(message.channel, provider);
                }
                // A new message from the guest reopens a closed or waiting conversation.
                self.status = ConversationStatus::Open;
                self.unanswered_since.get_or_insert(message.at);
            }
            Direction::Outbound if message.sent_by.is_some() => {
                self.status = ConversationStatus::Waiting;
                self.unanswered_since = None;
                self.escalated_at = None;
                self.escalation_set_for = None;
            }
            Direction::Outbound => {}
        }
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ThreadMessage {
    pub id: ThreadMessageId,
    pub conversation_id: ConversationId,
    pub direction: Direction,
    pub channel: Channel,
    pub at: DateTime<Utc>,
    /// The guest's address it came from (inbound).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// All of the text.
    pub text: String,
    /// What the guest wrote, without quoted history and signature (the text, for messages
    /// out).
    pub written: String,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// The Herald message it answers (inbound), or the message record it was sent as
    /// (outbound).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// The provider that received (inbound) or sent (outbound) it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<ProviderId>,
    /// Why it is automatic (inbound: `auto-submitted`, `bounce`, `out-of-office`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic: Option<String>,
    #[serde(default)]
    pub spam: bool,
    /// What Herald did about it: `keyword:stop`, `opted_out:sms`, `opted_in:sms`, `help`,
    /// `rsvp:accepted`, `auto_reply:{rule}`, `routed:{queue}`, `priority:{priority}`,
    /// `flagged:opt_out_words`.
    #[serde(default)]
    pub actions: Vec<String>,
    /// The key of the person who sent it (outbound, by a person).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_by: Option<ApiKeyId>,
    /// What sent it automatically (outbound): `keyword`, `auto_reply:{rule}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto: Option<String>,
    /// Outbound: `queued`, then the provider's answer (`sent` or `failed: …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<String>,
    /// The raw mail's S3 object (inbound email; never shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub raw_object: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub ttl: Option<i64>,
}

impl ThreadMessage {
    /// As the API shows it.
    pub fn shown(mut self) -> Self {
        self.raw_object = None;
        self.ttl = None;
        self
    }
}
