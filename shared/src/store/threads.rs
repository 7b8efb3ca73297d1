//! Reads and deletes of whole threads: a contact's conversations for GDPR — export (every
//! conversation with its whole thread) and erasure (the threads, the conversations, their
//! index entries and the contact's pointers deleted; the S3 keys of raw mails and attachments
//! returned so the caller deletes the objects) — and one message of a thread found by its id.

use super::batch::{ItemKey, Writes};
use super::{Store, StoreResult, keys};
use crate::conversations::{Conversation, ThreadMessage};
use crate::guests::Contact;
use crate::ids::{ContactId, ConversationId, TenantId, ThreadMessageId};

/// A conversation and its whole thread, oldest first.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct ConversationExport {
    pub conversation: Conversation,
    pub messages: Vec<ThreadMessage>,
}

impl Store {
    /// Every conversation of a contact with its whole thread: those filed under the contact
    /// (a Query of its pointers) and those its addresses started before they were a contact's
    /// (a Query of each address's pointers), then per conversation one GetItem and its
    /// thread's pages.
    pub async fn contact_threads(
        &self,
        tenant: TenantId,
        contact: &Contact,
    ) -> StoreResult<Vec<ConversationExport>> {
        let mut ids: Vec<ConversationId> = self
            .contact_conversations(tenant, contact.id)
            .await?
            .into_iter()
            .map(|p| p.conversation_id)
            .collect();
        for id in self.unknown_sender_conversations(tenant, contact).await? {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        let mut out = Vec::new();
        for id in ids {
            let Some(conversation) = self.get_conversation(tenant, id).await? else {
                continue;
            };
            let mut messages = Vec::new();
            let mut before: Option<String> = None;
            loop {
                let (page, next) = self
                    .thread(tenant, conversation.id, before.as_deref(), 100)
                    .await?;
                messages.extend(page);
                match next {
                    Some(n) => before = Some(n),
                    None => break,
                }
            }
            messages.reverse();
            out.push(ConversationExport {
                conversation,
                messages,
            });
        }
        Ok(out)
    }

    /// Deletes the contact's conversations: their messages, the conversations (and so their
    /// index entries) and the contact's pointers. The S3 keys of the raw mails and their stored
    /// attachments, for the caller.
    pub async fn erase_threads(
        &self,
        tenant: TenantId,
        contact: ContactId,
        threads: &[ConversationExport],
    ) -> StoreResult<Vec<String>> {
        let mut writes = Writes::default();
        let mut objects = Vec::new();
        for t in threads {
            let pk = keys::conversation_pk(tenant, t.conversation.id);
            for m in &t.messages {
                writes.delete(ItemKey::new(&pk, keys::thread_sk(m.at, m.id)));
                objects.extend(m.raw_object.clone());
                objects.extend(
                    m.attachments
                        .iter()
                        .filter(|a| a.downloadable)
                        .map(|a| crate::inbound::attachment_key(tenant, m.id, a.index)),
                );
            }
            writes.delete(ItemKey::new(&pk, keys::META));
            let owner = match &t.conversation.address {
                Some(address) if t.conversation.contact_id.is_none() => {
                    keys::sender_pk(tenant, address)
                }
                _ => keys::contact_pk(tenant, contact),
            };
            writes.delete(ItemKey::new(
                owner,
                keys::contact_conversation_sk(t.conversation.id),
            ));
        }
        self.batch_write_all(writes).await?;
        Ok(objects)
    }

    /// The conversations of senders matching no contact at the contact's addresses (a Query
    /// of each address's pointers).
    async fn unknown_sender_conversations(
        &self,
        tenant: TenantId,
        contact: &Contact,
    ) -> StoreResult<Vec<ConversationId>> {
        let mut out = Vec::new();
        for address in sender_addresses(contact) {
            let pointers: Vec<super::ContactConversation> = self
                .query_prefix(
                    &keys::sender_pk(tenant, &address),
                    keys::CONTACT_CONVERSATION_PREFIX,
                )
                .await?;
            out.extend(pointers.into_iter().map(|p| p.conversation_id));
        }
        Ok(out)
    }

    /// One message of a conversation's thread, by its id (the thread is read page by page,
    /// newest first, until it is found).
    pub async fn thread_message(
        &self,
        tenant: TenantId,
        conversation: ConversationId,
        id: ThreadMessageId,
    ) -> StoreResult<Option<ThreadMessage>> {
        let mut before: Option<String> = None;
        loop {
            let (page, next) = self
                .thread(tenant, conversation, before.as_deref(), 100)
                .await?;
            if let Some(found) = page.into_iter().find(|m| m.id == id) {
                return Ok(Some(found));
            }
            match next {
                Some(n) => before = Some(n),
                None => return Ok(None),
            }
        }
    }
}

/// A contact's addresses as an unknown sender's conversation is filed under them.
fn sender_addresses(contact: &Contact) -> Vec<String> {
    [
        contact.email.as_ref().map(|e| e.as_str().to_lowercase()),
        contact.phone.as_ref().map(|p| p.as_str().to_owned()),
    ]
    .into_iter()
    .flatten()
    .collect()
}
