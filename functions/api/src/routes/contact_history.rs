//! A contact's whole history across channels, newest first: the campaign and transactional
//! messages Herald sent them, by reference (category, subject, status and delivery story; the
//! body is not kept), and every message of their conversations with its text (what they wrote,
//! what they were answered).
//!
//! The history is gathered from the contact's records (its messages as the GDPR export finds
//! them, its conversations' threads) and paged in memory: a contact's history is hundreds of
//! entries, not millions.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use herald::conversations::ThreadMessage;
use herald::domain::{Channel, DeliveryEvent, TemplateCategory};
use herald::ids::{CampaignId, ContactId, ConversationId, EventId, MessageId, TenantId};
use herald::messages::MessageStatus;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::contacts::contact_of;
use crate::auth::Principal;
use crate::extract::StrictQuery;
use crate::problem::responses::{Forbidden, NotFound};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

super::api_routes! {
    (contact_history),
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// The tenant (platform keys only).
    pub tenant_id: Option<TenantId>,
    /// Entries older than this one (the previous page's `next_before`).
    #[param(pattern = "^[0-9]{13}#(msg|cvm)_[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$")]
    pub before: Option<String>,
    /// Only entries on this channel.
    pub channel: Option<Channel>,
    /// 1 to 200 (default 50).
    #[serde(default, deserialize_with = "crate::extract::query_integer")]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i32>,
}

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HistoryKind {
    /// A campaign or transactional message Herald sent (by reference).
    Message,
    /// A message of a conversation: the guest's, or an answer to it.
    Conversation,
}

/// One step of a message's delivery story.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoryStep {
    #[serde(rename = "type")]
    pub kind: DeliveryEvent,
    pub at: DateTime<Utc>,
}

/// A message Herald sent, by reference.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageReference {
    pub id: MessageId,
    pub event_id: EventId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<CampaignId>,
    pub category: TemplateCategory,
    pub status: MessageStatus,
    /// The subject an email went out with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// What the provider reported, oldest first.
    pub story: Vec<StoryStep>,
}

/// One entry of a contact's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    pub kind: HistoryKind,
    /// When it was sent (or received).
    pub at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<EventId>,
    /// `message` entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<MessageReference>,
    /// `conversation` entries: the conversation and its message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_message: Option<ThreadMessage>,
}

impl HistoryEntry {
    /// Where it sorts: its time (ms) and id, as `before` names it.
    fn cursor(&self) -> String {
        let id = match (&self.message, &self.conversation_message) {
            (Some(m), _) => m.id.to_string(),
            (_, Some(t)) => t.id.to_string(),
            _ => String::new(),
        };
        format!("{:013}#{id}", self.at.timestamp_millis().max(0))
    }
}

/// A page of a contact's history, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactHistory {
    pub contact_id: ContactId,
    pub items: Vec<HistoryEntry>,
    /// Pass as `before` for older entries; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before: Option<String>,
}

/// A contact's history across channels, newest first: messages Herald sent them (category,
/// subject, status, delivery story) and their conversations' messages (with text). Tenant
/// administrators.
#[utoipa::path(get, path = "/api/v1/communication/contacts/{id}/history", tag = "contacts",
    params(("id" = ContactId, Path), HistoryQuery),
    responses((status = 200, body = ContactHistory), Forbidden, NotFound), security(("api_key" = [])))]
pub async fn contact_history(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<HistoryQuery>,
) -> ApiResult<Json<ContactHistory>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::BadRequest("limit: 1 to 200".into()));
    }
    if let Some(b) = &q.before
        && !valid_before(b)
    {
        return Err(ApiError::BadRequest("before: not one this API gave".into()));
    }
    let (tenant, contact) = contact_of(&state, &principal, q.tenant_id, &id).await?;
    let (data, threads) = tokio::try_join!(
        state.store.contact_data(tenant, &contact),
        state.store.contact_threads(tenant, &contact),
    )?;
    let mut entries: Vec<HistoryEntry> = data
        .messages
        .into_iter()
        .map(|(m, events)| HistoryEntry {
            kind: HistoryKind::Message,
            at: m.sent_at.unwrap_or(m.created_at),
            channel: m.channel,
            event_id: Some(m.event_id),
            message: Some(MessageReference {
                id: m.id,
                event_id: m.event_id,
                campaign_id: m.campaign_id,
                category: m.category,
                status: m.status,
                subject: m.subject,
                story: events
                    .into_iter()
                    .map(|e| StoryStep {
                        kind: e.kind,
                        at: e.at,
                    })
                    .collect(),
            }),
            conversation_id: None,
            conversation_message: None,
        })
        .collect();
    for thread in threads {
        let (conversation, event) = (thread.conversation.id, thread.conversation.event_id);
        entries.extend(thread.messages.into_iter().map(|m| HistoryEntry {
            kind: HistoryKind::Conversation,
            at: m.at,
            channel: Some(m.channel),
            event_id: event,
            message: None,
            conversation_id: Some(conversation),
            conversation_message: Some(m.shown()),
        }));
    }
    if let Some(channel) = q.channel {
        entries.retain(|e| e.channel == Some(channel));
    }
    let mut keyed: Vec<(String, HistoryEntry)> =
        entries.into_iter().map(|e| (e.cursor(), e)).collect();
    keyed.sort_by(|a, b| b.0.cmp(&a.0));
    if let Some(before) = &q.before {
        keyed.retain(|(k, _)| k.as_str() < before.as_str());
    }
    let limit = limit as usize;
    let next_before = (keyed.len() > limit).then(|| keyed[limit - 1].0.clone());
    keyed.truncate(limit);
    Ok(Json(ContactHistory {
        contact_id: contact.id,
        items: keyed.into_iter().map(|(_, e)| e).collect(),
        next_before,
    }))
}

/// Whether `before` is a cursor this route gives (`{ms:013}#{msg_… or cvm_…}`).
fn valid_before(before: &str) -> bool {
    before.split_once('#').is_some_and(|(ms, id)| {
        ms.len() == 13
            && ms.bytes().all(|b| b.is_ascii_digit())
            && (id.parse::<MessageId>().is_ok()
                || id.parse::<herald::ids::ThreadMessageId>().is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_name_a_time_and_a_message() {
        let m = MessageId::new();
        let t = herald::ids::ThreadMessageId::new();
        assert!(valid_before(&format!("1767225600000#{m}")));
        assert!(valid_before(&format!("1767225600000#{t}")));
        assert!(!valid_before(&format!("0001767225600000#{m}")));
        assert!(!valid_before(
            "1767225600000#cnv_01HZ0000000000000000000000"
        ));
        assert!(!valid_before("nonsense"));
    }
}
