//! A contact's conversations for GDPR: export (every conversation with its whole thread) and
//! erasure (the threads, the conversations, their index entries and the contact's pointers
//! deleted; the raw mails' S3 keys returned so the caller deletes the objects).

use super::batch::{ItemKey, Writes};
use super::{Store, StoreResult, keys};
use crate::conversations::{Conversation, ThreadMessage};
use crate::ids::{ContactId, TenantId};

/// A conversation and its whole thread, oldest first.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct ConversationExport {
    pub conversation: Conversation,
    pub messages: Vec<ThreadMessage>,
}

impl Store {
    /// Every conversation of a contact with its whole thread (a Query of the contact's
    /// pointers, then per conversation one GetItem and its thread's pages).
    pub async fn contact_threads(
        &self,
        tenant: TenantId,
        contact: ContactId,
    ) -> StoreResult<Vec<ConversationExport>> {
        let mut out = Vec::new();
        for pointer in self.contact_conversations(tenant, contact).await? {
            let Some(conversation) = self
                .get_conversation(tenant, pointer.conversation_id)
                .await?
            else {
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
    /// index entries) and the contact's pointers. The raw mails' S3 keys, for the caller.
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
            }
            writes.delete(ItemKey::new(&pk, keys::META));
            writes.delete(ItemKey::new(
                keys::contact_pk(tenant, contact),
                keys::contact_conversation_sk(t.conversation.id),
            ));
        }
        self.batch_write_all(writes).await?;
        Ok(objects)
    }
}
