//! Dead-letter queues, for platform administrators: how many messages each holds, a look at
//! them (without taking them), and a redrive back to the queue they came from.
//!
//! A redrive moves messages itself (receive, send to the source queue, delete), so it works
//! the same on SQS and on the local emulator; each call moves a bounded number.

use std::collections::HashMap;

use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
};
use axum::Json;
use axum::extract::{Path, State};
use herald::aws::sqs_batch::Outgoing;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ListOf;
use crate::auth::Principal;
use crate::extract::{JsonBody, StrictQuery};
use crate::problem::responses::{BadGateway, Forbidden, Unprocessable};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

/// The most messages one redrive call moves.
pub const MAX_REDRIVE: u32 = 1_000;
/// The most messages one look returns.
pub const MAX_PEEK: u32 = 50;

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterQueue {
    /// The queue it backs.
    #[schema(value_type = crate::doc::DeadLetterQueueName)]
    pub name: String,
    /// SQS's approximate count of the messages in it.
    pub messages: u64,
}

/// A message in a dead-letter queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetter {
    pub message_id: String,
    /// How many times SQS handed it out: its deliveries to the function, and every look at it
    /// through this API (a look is a receive too).
    pub receive_count: u32,
    /// When it was first sent (RFC 3339), when SQS says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    /// Why a function moved it here itself (e.g. it does not parse); absent when SQS moved it
    /// after its last failed delivery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Its body: JSON when it parses, else the text.
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeekQuery {
    /// How many to show (1 to 50, default 10). Shown messages stay in the queue.
    #[serde(default, deserialize_with = "crate::extract::query_integer")]
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedriveIn {
    /// The most messages to move (1 to 1,000, default 1,000).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    pub max_messages: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Redriven {
    /// Messages moved back to the function's queue.
    pub moved: u32,
    /// What SQS still counts in the dead-letter queue.
    pub remaining: u64,
}

super::api_routes! {
    (list_dead_letter_queues),
    (peek_dead_letters),
    (redrive_dead_letters),
}

/// (dead-letter queue URL, source queue URL) by name.
fn queues(state: &AppState) -> HashMap<&'static str, (&str, &str)> {
    HashMap::from([
        (
            "sender",
            (
                state.queues.sender_dlq.as_str(),
                state.queues.sender.as_str(),
            ),
        ),
        (
            "transactional",
            (
                state.queues.transactional_dlq.as_str(),
                state.queues.transactional.as_str(),
            ),
        ),
        (
            "wizard",
            (
                state.queues.wizard_dlq.as_str(),
                state.queues.wizard.as_str(),
            ),
        ),
        (
            "tracker",
            (
                state.queues.tracker_dlq.as_str(),
                state.queues.tracker.as_str(),
            ),
        ),
        (
            "crm-sync",
            (
                state.queues.crm_sync_dlq.as_str(),
                state.queues.crm_sync.as_str(),
            ),
        ),
        (
            "webhooks",
            (
                state.queues.webhooks_dlq.as_str(),
                state.queues.webhooks.as_str(),
            ),
        ),
    ])
}

fn find<'a>(state: &'a AppState, name: &str) -> ApiResult<(&'a str, &'a str)> {
    queues(state).get(name).copied().ok_or(ApiError::NotFound)
}

async fn depth(state: &AppState, url: &str) -> ApiResult<u64> {
    let out = state
        .queues
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .map_err(|e| ApiError::Upstream(anyhow::Error::new(e).context("GetQueueAttributes")))?;
    Ok(out
        .attributes
        .and_then(|a| {
            a.get(&QueueAttributeName::ApproximateNumberOfMessages)
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0))
}

/// The dead-letter queues and how many messages each holds (platform administrators).
#[utoipa::path(get, path = "/api/v1/admin/dead-letters", tag = "operations",
    responses((status = 200, body = ListOf<DeadLetterQueue>), Forbidden, BadGateway), security(("api_key" = [])))]
pub async fn list_dead_letter_queues(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<ListOf<DeadLetterQueue>>> {
    principal.require_platform_admin()?;
    let mut out = Vec::new();
    for name in [
        "sender",
        "transactional",
        "tracker",
        "wizard",
        "crm-sync",
        "webhooks",
    ] {
        let (dlq, _) = find(&state, name)?;
        out.push(DeadLetterQueue {
            name: name.to_owned(),
            messages: depth(&state, dlq).await?,
        });
    }
    Ok(Json(ListOf::new(out)))
}

/// Look at messages in a dead-letter queue without taking them (platform administrators).
#[utoipa::path(get, path = "/api/v1/admin/dead-letters/{queue}/messages", tag = "operations",
    params(("queue" = crate::doc::DeadLetterQueueName, Path), PeekQuery),
    responses((status = 200, body = ListOf<DeadLetter>), Forbidden, Unprocessable, BadGateway), security(("api_key" = [])))]
pub async fn peek_dead_letters(
    State(state): State<AppState>,
    principal: Principal,
    Path(queue): Path<String>,
    StrictQuery(q): StrictQuery<PeekQuery>,
) -> ApiResult<Json<ListOf<DeadLetter>>> {
    principal.require_platform_admin()?;
    let limit = q.limit.unwrap_or(10);
    if !(1..=MAX_PEEK).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "must be between 1 and 50"));
    }
    let (dlq, _) = find(&state, &queue)?;
    let mut seen: HashMap<String, DeadLetter> = HashMap::new();
    // A few receives: SQS returns a sample per call. Each message is hidden for a moment and
    // made visible again at once.
    for _ in 0..5 {
        if seen.len() as u32 >= limit {
            break;
        }
        let want = (limit - seen.len() as u32).min(10);
        let out = state
            .queues
            .sqs
            .receive_message()
            .queue_url(dlq)
            .max_number_of_messages(want as i32)
            .visibility_timeout(5)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names(herald::batch::DEAD_LETTER_REASON)
            .send()
            .await
            .map_err(|e| ApiError::Upstream(anyhow::Error::new(e).context("ReceiveMessage")))?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for m in messages {
            if let Some(handle) = m.receipt_handle() {
                let _ = state
                    .queues
                    .sqs
                    .change_message_visibility()
                    .queue_url(dlq)
                    .receipt_handle(handle)
                    .visibility_timeout(0)
                    .send()
                    .await;
            }
            let attribute = |name: MessageSystemAttributeName| {
                m.attributes.as_ref().and_then(|a| a.get(&name)).cloned()
            };
            let text = m.body.clone().unwrap_or_default();
            let letter = DeadLetter {
                message_id: m.message_id.clone().unwrap_or_default(),
                receive_count: attribute(MessageSystemAttributeName::ApproximateReceiveCount)
                    .and_then(|v| v.parse::<u32>().ok())
                    .unwrap_or(0),
                sent_at: attribute(MessageSystemAttributeName::SentTimestamp)
                    .and_then(|v| v.parse::<i64>().ok())
                    .and_then(chrono::DateTime::from_timestamp_millis)
                    .map(|t| t.to_rfc3339()),
                reason: m
                    .message_attributes
                    .as_ref()
                    .and_then(|a| a.get(herald::batch::DEAD_LETTER_REASON))
                    .and_then(|v| v.string_value.clone()),
                body: serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
            };
            seen.entry(letter.message_id.clone()).or_insert(letter);
        }
    }
    let mut items: Vec<DeadLetter> = seen.into_values().collect();
    items.sort_by(|a, b| a.sent_at.cmp(&b.sent_at));
    items.truncate(limit as usize);
    Ok(Json(ListOf::new(items)))
}

/// Move messages from a dead-letter queue back to its function's queue, to be processed
/// again (platform administrators). At most `max_messages` per call; call again for more.
#[utoipa::path(post, path = "/api/v1/admin/dead-letters/{queue}/redrive", tag = "operations",
    params(("queue" = crate::doc::DeadLetterQueueName, Path)), request_body = RedriveIn,
    responses((status = 200, body = Redriven), Forbidden, BadGateway), security(("api_key" = [])))]
pub async fn redrive_dead_letters(
    State(state): State<AppState>,
    principal: Principal,
    Path(queue): Path<String>,
    JsonBody(body): JsonBody<RedriveIn>,
) -> ApiResult<Json<Redriven>> {
    principal.require_platform_admin()?;
    let max = body.max_messages.unwrap_or(MAX_REDRIVE);
    if !(1..=MAX_REDRIVE).contains(&max) {
        return Err(ApiError::invalid_field(
            "max_messages",
            "must be between 1 and 1000",
        ));
    }
    let (dlq, source) = find(&state, &queue)?;
    let sqs = &state.queues.sqs;
    let mut moved = 0u32;
    // Bounded: at most max / 10 + 3 empty-handed receives.
    let mut empty = 0;
    while moved < max && empty < 3 {
        let want = (max - moved).min(10) as i32;
        let out = sqs
            .receive_message()
            .queue_url(dlq)
            .max_number_of_messages(want)
            .visibility_timeout(30)
            .send()
            .await
            .map_err(|e| ApiError::Upstream(anyhow::Error::new(e).context("ReceiveMessage")))?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            empty += 1;
            continue;
        }
        let outgoing: Vec<Outgoing> = messages
            .iter()
            .map(|m| Outgoing::new(m.body.clone().unwrap_or_default()))
            .collect();
        let sent = herald::aws::sqs_batch::send_all(sqs, source, &outgoing)
            .await
            .map_err(ApiError::Upstream)?;
        // Only what reached the source queue leaves the dead-letter queue; the rest shows
        // again after the visibility timeout. (Entry ids are positions: unique.)
        let done: Vec<DeleteMessageBatchRequestEntry> = sent
            .sent
            .iter()
            .enumerate()
            .filter_map(|(n, i)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(n.to_string())
                    .receipt_handle(messages.get(*i)?.receipt_handle.clone()?)
                    .build()
                    .ok()
            })
            .collect();
        let count = done.len() as u32;
        if !done.is_empty() {
            sqs.delete_message_batch()
                .queue_url(dlq)
                .set_entries(Some(done))
                .send()
                .await
                .map_err(|e| {
                    ApiError::Upstream(anyhow::Error::new(e).context("DeleteMessageBatch"))
                })?;
        }
        moved += count;
    }
    tracing::info!(queue = %queue, moved, "dead letters redriven");
    Ok(Json(Redriven {
        moved,
        remaining: depth(&state, dlq).await?,
    }))
}
