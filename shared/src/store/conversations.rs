//! Conversations, their messages, inbound deduplication and the contact's conversations (see
//! the keys module).

use std::collections::HashMap;

use anyhow::Context as _;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::batch::{ItemKey, Transaction};
use super::{Keys, Store, StoreResult, keys};
use crate::conversations::{Conversation, ThreadMessage};
use crate::domain::{Channel, ConversationStatus, Priority};
use crate::ids::{ContactId, ConversationId, EventId, TenantId};

/// How long a provider's inbound id is remembered against a second delivery.
pub const SEEN_DAYS: i64 = 14;

/// What appending a message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    Written,
    /// The inbound message was recorded before (a second delivery).
    Duplicate,
    /// The conversation changed since it was read: read it again.
    Stale,
}

/// The pointer in a contact's partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactConversation {
    pub conversation_id: ConversationId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<EventId>,
    pub created_at: DateTime<Utc>,
}

/// A search of a tenant's conversations (every part optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationFilter {
    pub status: Option<ConversationStatus>,
    pub queue: Option<String>,
    pub priority: Option<Priority>,
    pub channel: Option<Channel>,
    pub event: Option<EventId>,
    pub contact: Option<ContactId>,
    /// Escalated ones only (`true`), or the others (`false`).
    pub escalated: Option<bool>,
    /// Folded words, each of which the thread must contain.
    pub words: Vec<String>,
    /// Only conversations with a message at or after / before these times.
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// A page of conversations and what the query read.
#[derive(Debug, Clone)]
pub struct ConversationPage {
    pub conversations: Vec<Conversation>,
    /// Where the next page starts (an opaque GSI1 sort key).
    pub cursor: Option<String>,
    /// Items read, matching or not (a search's cost).
    pub scanned: usize,
    /// Query requests made.
    pub requests: usize,
}

/// Whether `cursor` is one [`Store::list_conversations`] gives (`{ms:013}#{cnv}`).
pub fn valid_cursor(cursor: &str) -> bool {
    cursor.split_once('#').is_some_and(|(ms, id)| {
        ms.len() == 13
            && ms.bytes().all(|b| b.is_ascii_digit())
            && id.parse::<ConversationId>().is_ok()
    })
}

fn conversation_keys(c: &Conversation) -> Keys {
    Keys::new(keys::conversation_pk(c.tenant_id, c.id), keys::META).with_gsi1(
        keys::conversations_index_pk(c.tenant_id),
        keys::conversations_index_sk(c.last_message_at, c.id),
    )
}

impl Store {
    pub async fn get_conversation(
        &self,
        tenant: TenantId,
        id: ConversationId,
    ) -> StoreResult<Option<Conversation>> {
        self.get(&keys::conversation_pk(tenant, id), keys::META)
            .await
    }

    /// Writes `messages` and the conversation as it now stands (conditional on its stored
    /// `version` being `expected`, 0 for a new one) in one transaction, with the inbound
    /// message's deduplication item (`seen`: channel and the provider's id) and the pointer
    /// of the contact (or of the sender's address, when it matches no contact) to the
    /// conversation. Messages expire with the conversation (its `ttl`).
    pub async fn append_messages(
        &self,
        conversation: &Conversation,
        expected: u64,
        messages: &[ThreadMessage],
        seen: Option<(Channel, &str)>,
    ) -> StoreResult<Appended> {
        let tenant = conversation.tenant_id;
        let table = self.table().to_owned();
        let put =
            |item, condition: Option<(&str, Option<u64>)>| -> StoreResult<TransactWriteItem> {
                let mut p = Put::builder().table_name(&table).set_item(Some(item));
                if let Some((expr, version)) = condition {
                    p = p.condition_expression(expr);
                    if let Some(v) = version {
                        p = p.expression_attribute_values(":v", AttributeValue::N(v.to_string()));
                    }
                }
                Ok(TransactWriteItem::builder()
                    .put(p.build().context("conversation put")?)
                    .build())
            };
        let condition = match expected {
            0 => ("attribute_not_exists(PK)", None),
            v => ("version = :v", Some(v)),
        };
        let mut t = Transaction::new().with(put(
            Store::to_item(&conversation_keys(conversation), conversation)?,
            Some(condition),
        )?)?;
        for message in messages {
            let message = ThreadMessage {
                ttl: conversation.ttl,
                ..message.clone()
            };
            t = t.with(put(
                Store::to_item(
                    &Keys::new(
                        keys::conversation_pk(tenant, conversation.id),
                        keys::thread_sk(message.at, message.id),
                    ),
                    &message,
                )?,
                None,
            )?)?;
        }
        if let Some((channel, provider_id)) = seen {
            let expires = (Utc::now() + chrono::Duration::days(SEEN_DAYS)).timestamp();
            let mut item = ItemKey::new(
                keys::inbound_seen_pk(tenant, channel, provider_id),
                keys::SEEN,
            )
            .item();
            item.insert(keys::TTL.to_owned(), AttributeValue::N(expires.to_string()));
            t = t.with(put(item, Some(("attribute_not_exists(PK)", None)))?)?;
        }
        // Who the conversation is filed under: the contact, or the sender's address (so the
        // person's export and erasure find it once they are a contact).
        let owner = match (conversation.contact_id, &conversation.address) {
            (Some(contact), _) => Some(keys::contact_pk(tenant, contact)),
            (None, Some(address)) => Some(keys::sender_pk(tenant, address)),
            (None, None) => None,
        };
        if let (Some(pk), 0) = (owner, expected) {
            let pointer = ContactConversation {
                conversation_id: conversation.id,
                event_id: conversation.event_id,
                created_at: conversation.created_at,
            };
            let mut item = Store::to_item(
                &Keys::new(pk, keys::contact_conversation_sk(conversation.id)),
                &pointer,
            )?;
            if let (None, Some(ttl)) = (conversation.contact_id, conversation.ttl) {
                item.insert(keys::TTL.to_owned(), AttributeValue::N(ttl.to_string()));
            }
            t = t.with(put(item, None)?)?;
        }
        if self.transact(t, "conversation message").await? {
            return Ok(Appended::Written);
        }
        if let Some((channel, provider_id)) = seen
            && self
                .get::<serde_json::Value>(
                    &keys::inbound_seen_pk(tenant, channel, provider_id),
                    keys::SEEN,
                )
                .await?
                .is_some()
        {
            return Ok(Appended::Duplicate);
        }
        Ok(Appended::Stale)
    }

    /// Replaces the conversation (status, queue, priority, escalation) if its stored version
    /// is `expected`.
    pub async fn replace_conversation(
        &self,
        conversation: &Conversation,
        expected: u64,
    ) -> StoreResult<()> {
        self.put_versioned(&conversation_keys(conversation), conversation, expected)
            .await
    }

    /// A conversation's messages, newest first, `limit` at a time from `before` (a message's
    /// sort key, from the previous page).
    pub async fn thread(
        &self,
        tenant: TenantId,
        id: ConversationId,
        before: Option<&str>,
        limit: usize,
    ) -> StoreResult<(Vec<ThreadMessage>, Option<String>)> {
        let pk = keys::conversation_pk(tenant, id);
        let mut request = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
            .expression_attribute_values(":prefix", AttributeValue::S(keys::THREAD_PREFIX.into()))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(100));
        if let Some(before) = before {
            request = request.set_exclusive_start_key(Some(ItemKey::new(&pk, before).item()));
        }
        let out = request.send().await.context("Query thread")?;
        let next = out
            .last_evaluated_key()
            .map(|k| super::string_attr(k, keys::SK));
        let messages = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(Store::from_item)
            .collect::<StoreResult<Vec<ThreadMessage>>>()?;
        Ok((messages, next))
    }

    /// Those of `answers` still `queued` in their thread (one BatchGetItem).
    pub async fn pending_answers(
        &self,
        tenant: TenantId,
        answers: &[ThreadMessage],
    ) -> StoreResult<Vec<ThreadMessage>> {
        if answers.is_empty() {
            return Ok(Vec::new());
        }
        let wanted = answers
            .iter()
            .map(|a| {
                ItemKey::new(
                    keys::conversation_pk(tenant, a.conversation_id),
                    keys::thread_sk(a.at, a.id),
                )
                .item()
            })
            .collect();
        let found: Vec<ThreadMessage> = self.batch_get_as(wanted).await?;
        Ok(found
            .into_iter()
            .filter(|a| a.delivery.as_deref() == Some("queued"))
            .collect())
    }

    /// Updates an outbound message's delivery note.
    pub async fn set_thread_delivery(
        &self,
        tenant: TenantId,
        message: &ThreadMessage,
        delivery: &str,
    ) -> StoreResult<()> {
        self.client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(
                ItemKey::new(
                    keys::conversation_pk(tenant, message.conversation_id),
                    keys::thread_sk(message.at, message.id),
                )
                .item(),
            ))
            .update_expression("SET delivery = :d")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":d", AttributeValue::S(delivery.to_owned()))
            .send()
            .await
            .map(|_| ())
            .or_else(|e| match e.as_service_error() {
                Some(s) if s.is_conditional_check_failed_exception() => Ok(()),
                _ => Err(anyhow::Error::new(e)
                    .context("UpdateItem thread delivery")
                    .into()),
            })
    }

    /// A tenant's conversations newest first, filtered: a page holds at most `limit` and reads
    /// at most `budget` items (it may come back short, even empty, with a cursor to go on).
    pub async fn list_conversations(
        &self,
        tenant: TenantId,
        filter: &ConversationFilter,
        cursor: Option<&str>,
        limit: usize,
        budget: usize,
    ) -> StoreResult<ConversationPage> {
        let pk = keys::conversations_index_pk(tenant);
        let mut names: HashMap<String, String> = HashMap::new();
        let mut values: HashMap<String, AttributeValue> =
            HashMap::from([(":pk".to_owned(), AttributeValue::S(pk.clone()))]);
        let mut conditions = Vec::new();
        let mut eq = |attr: &str, value: String, conditions: &mut Vec<String>| {
            let (n, v) = (format!("#{attr}"), format!(":{attr}"));
            names.insert(n.clone(), attr.to_owned());
            values.insert(v.clone(), AttributeValue::S(value));
            conditions.push(format!("{n} = {v}"));
        };
        if let Some(s) = filter.status {
            eq("status", s.to_string(), &mut conditions);
        }
        if let Some(q) = &filter.queue {
            eq("queue", q.clone(), &mut conditions);
        }
        if let Some(p) = filter.priority {
            eq("priority", p.to_string(), &mut conditions);
        }
        if let Some(e) = filter.event {
            eq("event_id", e.to_string(), &mut conditions);
        }
        if let Some(c) = filter.contact {
            eq("contact_id", c.to_string(), &mut conditions);
        }
        if let Some(escalated) = filter.escalated {
            names.insert("#escalated".into(), "escalated_at".into());
            conditions.push(match escalated {
                true => "attribute_exists(#escalated)".into(),
                false => "attribute_not_exists(#escalated)".into(),
            });
        }
        if let Some(ch) = filter.channel {
            names.insert("#addresses".into(), "addresses".into());
            names.insert("#ch".into(), ch.to_string());
            conditions.push("attribute_exists(#addresses.#ch)".into());
        }
        for (i, w) in filter.words.iter().enumerate() {
            names.insert("#words".into(), "words".into());
            values.insert(format!(":w{i}"), AttributeValue::S(format!(" {w} ")));
            conditions.push(format!("contains(#words, :w{i})"));
        }
        let mut key = "GSI1PK = :pk".to_owned();
        match (filter.since, filter.until) {
            (Some(s), Some(u)) => {
                key.push_str(" AND GSI1SK BETWEEN :since AND :until");
                values.insert(
                    ":since".into(),
                    AttributeValue::S(format!("{:013}", s.timestamp_millis().max(0))),
                );
                values.insert(
                    ":until".into(),
                    AttributeValue::S(format!("{:013}~", u.timestamp_millis().max(0))),
                );
            }
            (Some(s), None) => {
                key.push_str(" AND GSI1SK >= :since");
                values.insert(
                    ":since".into(),
                    AttributeValue::S(format!("{:013}", s.timestamp_millis().max(0))),
                );
            }
            (None, Some(u)) => {
                key.push_str(" AND GSI1SK <= :until");
                values.insert(
                    ":until".into(),
                    AttributeValue::S(format!("{:013}~", u.timestamp_millis().max(0))),
                );
            }
            (None, None) => {}
        }
        let mut page = ConversationPage {
            conversations: Vec::new(),
            cursor: cursor.map(str::to_owned),
            scanned: 0,
            requests: 0,
        };
        let mut start = cursor.map(str::to_owned);
        loop {
            let want = (limit - page.conversations.len()).max(1);
            let read = if conditions.is_empty() {
                want
            } else {
                (budget - page.scanned).max(1)
            };
            let mut request = self
                .client()
                .query()
                .table_name(self.table())
                .index_name(keys::GSI1)
                .key_condition_expression(&key)
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(false)
                .limit(i32::try_from(read.min(1000)).unwrap_or(1000));
            if !names.is_empty() {
                request = request.set_expression_attribute_names(Some(names.clone()));
            }
            if !conditions.is_empty() {
                request = request.filter_expression(conditions.join(" AND "));
            }
            if let Some(sk) = &start {
                let id = sk.rsplit('#').next().unwrap_or_default();
                let id: ConversationId = id.parse().map_err(|_| {
                    anyhow::anyhow!(
                        "a conversation cursor without an id (check it first: `valid_cursor`)"
                    )
                })?;
                let mut k = ItemKey::new(keys::conversation_pk(tenant, id), keys::META).item();
                k.insert(keys::GSI1PK.into(), AttributeValue::S(pk.clone()));
                k.insert(keys::GSI1SK.into(), AttributeValue::S(sk.clone()));
                request = request.set_exclusive_start_key(Some(k));
            }
            let out = request.send().await.context("Query conversations")?;
            page.requests += 1;
            page.scanned += usize::try_from(out.scanned_count()).unwrap_or(0);
            start = out
                .last_evaluated_key()
                .map(|k| super::string_attr(k, keys::GSI1SK));
            for item in out.items.unwrap_or_default() {
                if page.conversations.len() < limit {
                    page.conversations.push(Store::from_item(item)?);
                }
            }
            if let Some(last) = page.conversations.last()
                && page.conversations.len() == limit
            {
                // The page is full: the next one starts after its last conversation.
                page.cursor = Some(keys::conversations_index_sk(last.last_message_at, last.id));
                return Ok(page);
            }
            page.cursor = start.clone();
            if start.is_none() || page.scanned >= budget {
                return Ok(page);
            }
        }
    }

    /// The conversations of a contact (any event), oldest first.
    pub async fn contact_conversations(
        &self,
        tenant: TenantId,
        contact: ContactId,
    ) -> StoreResult<Vec<ContactConversation>> {
        self.query_prefix(
            &keys::contact_pk(tenant, contact),
            keys::CONTACT_CONVERSATION_PREFIX,
        )
        .await
    }
}

impl Store {
    /// The contact's most recently active conversation (its pointers, then one BatchGetItem).
    pub async fn latest_conversation_of(
        &self,
        tenant: TenantId,
        contact: ContactId,
    ) -> StoreResult<Option<Conversation>> {
        let pointers = self.contact_conversations(tenant, contact).await?;
        if pointers.is_empty() {
            return Ok(None);
        }
        let wanted = pointers
            .iter()
            .map(|p| {
                ItemKey::new(keys::conversation_pk(tenant, p.conversation_id), keys::META).item()
            })
            .collect();
        let found: Vec<Conversation> = self.batch_get_as(wanted).await?;
        Ok(found.into_iter().max_by_key(|c| c.last_message_at))
    }
}
