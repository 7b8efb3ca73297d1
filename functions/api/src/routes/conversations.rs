//! Conversations: every message a guest sent back (email, SMS, WhatsApp) with what Herald and
//! the event team answered, one conversation per contact and event. List and search them,
//! read a thread, set status, queue and priority, and answer: a person's reply goes out on the
//! channel the guest last used (or a chosen one) through the transactional lane.
//!
//! Tenant administrators see every conversation of their tenant; event managers those of their
//! events (a list names the event).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use herald::conversations::send::reply_subject;
use herald::conversations::{Conversation, ThreadMessage};
use herald::domain::{Channel, ConversationStatus, Direction, Priority};
use herald::ids::{ContactId, ConversationId, EventId, TenantId, ThreadMessageId};
use herald::messages::SenderJob;
use herald::store::{ConversationFilter, valid_cursor};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Principal;
use crate::extract::{JsonBody, StrictQuery};
use crate::problem::responses::{BadGateway, Conflict, Forbidden, NotFound, Unprocessable};
use crate::problem::{ApiError, ApiResult};
use crate::scope::tenant_of;
use crate::state::AppState;

super::api_routes! {
    (list_conversations),
    (get_conversation, update_conversation),
    (reply_to_conversation),
}

/// The most search words a query takes, and the items a filtered page reads.
const MAX_WORDS: usize = 8;
const SEARCH_BUDGET: usize = 1000;
/// WhatsApp's customer-service window: free-form replies only within 24 hours of the guest's
/// last message.
const WHATSAPP_WINDOW_HOURS: i64 = 24;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The tenant (platform keys only; tenant keys are scoped to their own tenant).
    pub tenant_id: Option<TenantId>,
    pub status: Option<ConversationStatus>,
    /// A queue name (`general` until a rule routes a conversation elsewhere).
    #[param(pattern = "^[a-z0-9_-]{1,40}$")]
    pub queue: Option<String>,
    pub priority: Option<Priority>,
    /// Conversations in which the guest wrote on this channel.
    pub channel: Option<Channel>,
    /// Required for event managers.
    pub event_id: Option<EventId>,
    pub contact_id: Option<ContactId>,
    /// `true`: only escalated conversations (unanswered past their queue's limit and not
    /// answered since); `false`: only the others.
    pub escalated: Option<bool>,
    /// Words every matching thread contains, in any case and with or without accents
    /// (`cafe` finds `Café`); at most 8 words, 200 characters.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// Only conversations with a message at or after this time (not after `until`).
    pub since: Option<DateTime<Utc>>,
    /// Only conversations whose last message is at or before this time.
    pub until: Option<DateTime<Utc>>,
    /// From the previous page's `next_cursor`.
    #[param(pattern = "^[0-9]{13}#cnv_[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$")]
    pub cursor: Option<String>,
    /// 1 to 100 (default 25).
    #[serde(default, deserialize_with = "crate::extract::query_integer")]
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i32>,
}

/// A queue's name: 1 to 40 of a-z, 0-9, `_` and `-`.
fn is_queue_name(queue: &str) -> bool {
    (1..=40).contains(&queue.len())
        && queue
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A page of conversations, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationPage {
    pub items: Vec<Conversation>,
    /// Pass as `cursor` for the next page; absent on the last. A search reads at most 1,000
    /// conversations per page, so a page may hold fewer than `limit` (even none) and still
    /// have a next one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The tenant's conversations, newest first, filtered and searched. Tenant administrators,
/// and event managers for one of their events.
#[utoipa::path(get, path = "/api/v1/communication/conversations", tag = "conversations", params(ListQuery),
    responses((status = 200, body = ConversationPage), Forbidden, Unprocessable), security(("api_key" = [])))]
pub async fn list_conversations(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(q): StrictQuery<ListQuery>,
) -> ApiResult<Json<ConversationPage>> {
    let tenant = tenant_of(&state, &principal, q.tenant_id).await?;
    match q.event_id {
        Some(e) => principal.check_event(e)?,
        None => principal.require_tenant_admin().map_err(|_| {
            ApiError::Forbidden(
                "event managers list the conversations of one of their events: give event_id"
                    .into(),
            )
        })?,
    }
    let limit = q.limit.unwrap_or(25);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest("limit: 1 to 100".into()));
    }
    if let Some(c) = &q.cursor
        && !valid_cursor(c)
    {
        return Err(ApiError::BadRequest("cursor: not one this API gave".into()));
    }
    if let Some(queue) = &q.queue
        && !is_queue_name(queue)
    {
        return Err(ApiError::BadRequest(
            "queue: 1 to 40 of a-z, 0-9, _ and -".into(),
        ));
    }
    if let (Some(since), Some(until)) = (q.since, q.until)
        && since > until
    {
        return Err(ApiError::BadRequest("since: not after until".into()));
    }
    let words = match &q.q {
        Some(text) if text.chars().count() > 200 => {
            return Err(ApiError::BadRequest("q: at most 200 characters".into()));
        }
        Some(text) => herald::inbound::search::words(text),
        None => Vec::new(),
    };
    if words.len() > MAX_WORDS {
        return Err(ApiError::BadRequest(format!(
            "q: at most {MAX_WORDS} words"
        )));
    }
    let filter = ConversationFilter {
        status: q.status,
        queue: q.queue.clone(),
        priority: q.priority,
        channel: q.channel,
        event: q.event_id,
        contact: q.contact_id,
        escalated: q.escalated,
        words: words
            .into_iter()
            .map(|w| w.chars().take(herald::inbound::search::MAX_WORD).collect())
            .collect(),
        since: q.since,
        until: q.until,
    };
    let page = state
        .store
        .list_conversations(
            tenant,
            &filter,
            q.cursor.as_deref(),
            limit as usize,
            SEARCH_BUDGET,
        )
        .await?;
    Ok(Json(ConversationPage {
        items: page
            .conversations
            .into_iter()
            .map(Conversation::shown)
            .collect(),
        next_cursor: page.cursor,
    }))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ThreadQuery {
    /// The tenant (platform keys only).
    pub tenant_id: Option<TenantId>,
    /// Messages before this one (the previous page's `next_before`).
    #[param(pattern = "^MSG#[0-9]{13}#cvm_[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$")]
    pub before: Option<String>,
    /// 1 to 100 (default 50).
    #[serde(default, deserialize_with = "crate::extract::query_integer")]
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i32>,
}

/// A conversation and a page of its thread, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationView {
    pub conversation: Conversation,
    pub messages: Vec<ThreadMessage>,
    /// Pass as `before` for older messages; absent when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before: Option<String>,
}

/// A conversation the key may see.
pub async fn conversation_of(
    state: &AppState,
    principal: &Principal,
    tenant: Option<TenantId>,
    raw: &str,
) -> ApiResult<Conversation> {
    let tenant = tenant_of(state, principal, tenant).await?;
    let id: ConversationId = raw.parse().map_err(|_| ApiError::NotFound)?;
    let c = state
        .store
        .get_conversation(tenant, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    match c.event_id {
        Some(e) => principal.check_event(e)?,
        None => principal
            .require_tenant_admin()
            .map_err(|_| ApiError::NotFound)?,
    }
    Ok(c)
}

fn valid_before(before: &str) -> bool {
    before
        .strip_prefix(herald::store::keys::THREAD_PREFIX)
        .and_then(|rest| rest.split_once('#'))
        .is_some_and(|(ms, id)| {
            ms.len() == 13
                && ms.bytes().all(|b| b.is_ascii_digit())
                && id.parse::<ThreadMessageId>().is_ok()
        })
}

/// A conversation with its latest messages.
#[utoipa::path(get, path = "/api/v1/communication/conversations/{id}", tag = "conversations",
    params(("id" = ConversationId, Path), ThreadQuery),
    responses((status = 200, body = ConversationView), Forbidden, NotFound), security(("api_key" = [])))]
pub async fn get_conversation(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<ThreadQuery>,
) -> ApiResult<Json<ConversationView>> {
    let c = conversation_of(&state, &principal, q.tenant_id, &id).await?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest("limit: 1 to 100".into()));
    }
    if let Some(b) = &q.before
        && !valid_before(b)
    {
        return Err(ApiError::BadRequest("before: not one this API gave".into()));
    }
    let (messages, next_before) = state
        .store
        .thread(c.tenant_id, c.id, q.before.as_deref(), limit as usize)
        .await?;
    Ok(Json(ConversationView {
        conversation: c.shown(),
        messages: messages.into_iter().map(ThreadMessage::shown).collect(),
        next_before,
    }))
}

/// What a person changes on a conversation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationEdit {
    #[serde(default)]
    pub status: Option<ConversationStatus>,
    /// 1 to 40 of a-z, 0-9, _ and -.
    #[serde(default)]
    #[schema(pattern = "^[a-z0-9_-]{1,40}$")]
    pub queue: Option<String>,
    #[serde(default)]
    pub priority: Option<Priority>,
    /// The version read (409 when it changed since).
    pub version: u64,
}

/// Sets a conversation's status, queue or priority (closing it clears its escalation; a new
/// message from the guest reopens it). Moving a waiting conversation to another queue moves
/// its escalation to that queue's limit.
#[utoipa::path(patch, path = "/api/v1/communication/conversations/{id}", tag = "conversations",
    params(("id" = ConversationId, Path), crate::scope::TenantQuery),
    request_body = ConversationEdit,
    responses((status = 200, body = Conversation), Forbidden, NotFound, Conflict, Unprocessable), security(("api_key" = [])))]
pub async fn update_conversation(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<crate::scope::TenantQuery>,
    JsonBody(edit): JsonBody<ConversationEdit>,
) -> ApiResult<Json<Conversation>> {
    let mut c = conversation_of(&state, &principal, q.tenant_id, &id).await?;
    if let Some(queue) = &edit.queue
        && !is_queue_name(queue)
    {
        return Err(ApiError::invalid_field(
            "queue",
            "1 to 40 of a-z, 0-9, _ and -",
        ));
    }
    if c.version != edit.version {
        return Err(ApiError::Conflict {
            detail: format!(
                "the conversation is at version {}, not {}",
                c.version, edit.version
            ),
            current_version: Some(c.version),
        });
    }
    if let Some(s) = edit.status {
        c.status = s;
        if s == ConversationStatus::Closed {
            c.unanswered_since = None;
            c.escalated_at = None;
            c.escalation_set_for = None;
        }
    }
    let moved = edit.queue.as_ref().is_some_and(|q| *q != c.queue);
    if let Some(queue) = edit.queue {
        c.queue = queue;
    }
    if let Some(p) = edit.priority {
        c.priority = p;
    }
    c.updated_at = Utc::now();
    c.version = super::next_version(edit.version);
    state.store.replace_conversation(&c, edit.version).await?;
    if moved && c.unanswered_since.is_some() && c.escalated_at.is_none() {
        // Another queue, another limit: the inbound function sets the clock again. Should this
        // fail, the clock is set again at the guest's next message (the old one, if the old
        // queue had a limit, still fires and moves itself).
        let job = herald::conversations::escalation::Escalate {
            herald_escalate: c.tenant_id,
            conversation_id: c.id,
            due: None,
        };
        if let Err(e) = super::inbound_webhooks::to_inbound(&state, &job).await {
            tracing::error!(conversation_id = %c.id, error = ?e, "asking for the escalation of a moved conversation failed");
        }
    }
    Ok(Json(c.shown()))
}

/// A person's reply.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyIn {
    /// 1 to 1,600 characters (SMS and WhatsApp), 1 to 20,000 (email).
    #[schema(min_length = 1, max_length = 20000)]
    pub text: String,
    /// The channel (default: the one the guest last wrote on).
    #[serde(default)]
    pub channel: Option<Channel>,
    /// Email only (default: `Re:` and the guest's last subject), at most 200 characters.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub subject: Option<String>,
}

/// Answers the guest: the reply is recorded in the thread (`queued`, with the key that sent
/// it) and goes out through the transactional lane. 409 when the guest opted out of the
/// channel, or on WhatsApp outside the 24-hour customer-service window (send an approved
/// template as a transactional message instead).
#[utoipa::path(post, path = "/api/v1/communication/conversations/{id}/messages", tag = "conversations",
    params(("id" = ConversationId, Path), crate::scope::TenantQuery),
    request_body = ReplyIn,
    responses((status = 202, body = ThreadMessage), Forbidden, NotFound, Conflict, Unprocessable, BadGateway), security(("api_key" = [])))]
pub async fn reply_to_conversation(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<crate::scope::TenantQuery>,
    JsonBody(reply): JsonBody<ReplyIn>,
) -> ApiResult<(StatusCode, Json<ThreadMessage>)> {
    let mut c = conversation_of(&state, &principal, q.tenant_id, &id).await?;
    let tenant = c.tenant_id;
    let channel = reply.channel.or(c.last_channel).ok_or_else(|| {
        ApiError::invalid_field("channel", "the guest has not written yet: choose a channel")
    })?;
    let text = reply.text.trim().to_owned();
    let max = match channel {
        Channel::Email => 20_000,
        Channel::Sms | Channel::Whatsapp => 1_600,
    };
    if text.is_empty() || text.chars().count() > max {
        return Err(ApiError::invalid_field(
            "text",
            format!("1 to {max} characters on {channel}"),
        ));
    }
    if let Some(s) = &reply.subject
        && (channel != Channel::Email || s.trim().is_empty() || s.chars().count() > 200)
    {
        return Err(ApiError::invalid_field(
            "subject",
            "email only, 1 to 200 characters",
        ));
    }
    let contact = match c.contact_id {
        Some(id) => state.store.get_contact(tenant, id).await?,
        None => None,
    };
    let address = c
        .addresses
        .get(&channel)
        .map(String::as_str)
        .or_else(|| contact.as_ref().and_then(|k| k.address(channel)));
    if address.is_none() {
        return Err(ApiError::invalid_field(
            "channel",
            format!("no {channel} address for this guest"),
        ));
    }
    if let Some(k) = &contact
        && herald::consent::Preferences::of(k).channel_off(channel)
    {
        return Err(ApiError::Conflict {
            detail: format!("the guest opted out of {channel}: no reply may be sent there"),
            current_version: None,
        });
    }
    let now = Utc::now();
    if channel == Channel::Whatsapp
        && c.last_inbound_at
            .is_none_or(|at| now - at > Duration::hours(WHATSAPP_WINDOW_HOURS))
    {
        return Err(ApiError::Conflict {
            detail: "outside WhatsApp's 24-hour customer-service window: send an approved template (POST /api/v1/communication/messages) instead".into(),
            current_version: None,
        });
    }
    let message = ThreadMessage {
        id: ThreadMessageId::new(),
        conversation_id: c.id,
        direction: Direction::Outbound,
        channel,
        at: now,
        from: None,
        subject: (channel == Channel::Email).then(|| {
            reply
                .subject
                .clone()
                .unwrap_or_else(|| reply_subject(c.subject.as_deref(), &c.preview))
        }),
        written: text.clone(),
        text,
        attachments: Vec::new(),
        message_id: None,
        via: None,
        automatic: None,
        spam: false,
        actions: Vec::new(),
        sent_by: Some(principal.key_id),
        auto: None,
        delivery: Some("queued".into()),
        raw_object: None,
        ttl: None,
    };
    let expected = c.version;
    c.add(&message);
    c.version = super::next_version(expected);
    match state
        .store
        .append_messages(&c, expected, std::slice::from_ref(&message), None)
        .await?
    {
        herald::store::Appended::Written => {}
        _ => {
            return Err(ApiError::Conflict {
                detail: "the conversation changed while the reply was recorded: try again".into(),
                current_version: None,
            });
        }
    }
    state
        .queues
        .to_transactional(&SenderJob::Reply {
            tenant_id: tenant,
            message: Box::new(message.clone()),
        })
        .await?;
    tracing::info!(tenant_id = %tenant, conversation_id = %c.id, channel = %channel, "conversation reply queued");
    Ok((StatusCode::ACCEPTED, Json(message.shown())))
}
