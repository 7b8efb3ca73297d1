//! Contacts' preferences, their consent ledger, frequency-cap bookings and each tenant's
//! preference-link key (see `crate::consent`).

use anyhow::Context as _;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use chrono::{DateTime, Utc};

use super::batch::Transaction;
use super::{Keys, Store, StoreError, StoreResult, keys};
use crate::config::SealedCredentials;
use crate::consent::{ConsentRecord, FrequencyCap, Preferences};
use crate::domain::{ConsentSource, CrmField};
use crate::guests::Contact;
use crate::ids::{ApiKeyId, ContactId, MessageId, TenantId};

/// Who and what a consent change is attributed to.
#[derive(Debug, Clone, Default)]
pub struct ChangeContext {
    pub wording_version: Option<String>,
    pub message: Option<MessageId>,
    pub key: Option<ApiKeyId>,
    /// A line for the ledger beyond the preference changes (e.g. `suppressed:email`).
    pub note: Option<String>,
    /// The ledger entry's id, for changes that must be written once however often their
    /// cause is delivered (a provider's event): an entry with this id already there means the
    /// change was made.
    pub record_id: Option<String>,
}

/// A contact after a consent change, and the ledger entry written (none when nothing changed).
#[derive(Debug, Clone)]
pub struct Changed {
    pub contact: Contact,
    pub record: Option<ConsentRecord>,
}

const ATTEMPTS: u32 = 5;

impl Store {
    /// Changes a contact's preferences by `change` and writes the ledger entry, both in one
    /// transaction guarded by the contact's `updated_at` (a concurrent change makes it read
    /// again). `NotFound` when the contact does not exist.
    pub async fn change_preferences(
        &self,
        tenant: TenantId,
        id: ContactId,
        source: ConsentSource,
        context: &ChangeContext,
        change: impl Fn(&Preferences) -> Preferences,
    ) -> StoreResult<Changed> {
        for _ in 0..ATTEMPTS {
            let Some(mut contact) = self.get_contact(tenant, id).await? else {
                return Err(StoreError::NotFound);
            };
            if let Some(record_id) = &context.record_id
                && let Some(done) = self
                    .get::<ConsentRecord>(
                        &keys::contact_pk(tenant, id),
                        &keys::consent_sk(record_id),
                    )
                    .await?
            {
                return Ok(Changed {
                    contact,
                    record: Some(done),
                });
            }
            let before = Preferences::of(&contact);
            let after = change(&before);
            let now = Utc::now();
            let mut record = ConsentRecord::new(id, source, before.clone(), after.clone(), now);
            record.wording_version = context.wording_version.clone();
            record.message_id = context.message;
            record.key_id = context.key;
            record.changes.extend(context.note.clone());
            if let Some(record_id) = &context.record_id {
                record.id = record_id.clone();
            }
            if record.changes.is_empty() {
                return Ok(Changed {
                    contact,
                    record: None,
                });
            }
            let previous = contact.updated_at;
            let was = contact.clone();
            after.apply(&mut contact);
            contact.updated_at = now.max(previous + chrono::Duration::milliseconds(1));
            // The CRM sync judges conflicts by when each side changed a field.
            for field in [
                CrmField::EmailOptOut,
                CrmField::SmsOptOut,
                CrmField::WhatsappOptOut,
            ] {
                if crate::crm::contact_value(&was, field)
                    != crate::crm::contact_value(&contact, field)
                {
                    contact.changed.insert(field, contact.updated_at);
                }
            }
            let pk = keys::contact_pk(tenant, id);
            let contact_put = Put::builder()
                .table_name(self.table())
                .set_item(Some(Store::to_item(&Keys::new(&pk, keys::META), &contact)?))
                .condition_expression("updated_at = :previous")
                .expression_attribute_values(":previous", super::stored_time(previous))
                .build()
                .context("building the contact Put")?;
            let ledger_put = Put::builder()
                .table_name(self.table())
                .set_item(Some(Store::to_item(
                    &Keys::new(&pk, keys::consent_sk(&record.id)),
                    &record,
                )?))
                .condition_expression("attribute_not_exists(PK)")
                .build()
                .context("building the ledger Put")?;
            let mut request = Transaction::new()
                .with(TransactWriteItem::builder().put(contact_put).build())?
                .with(TransactWriteItem::builder().put(ledger_put).build())?;
            if contact.crm.is_some() {
                // A CRM-linked contact's consent goes to the CRM at the next sync.
                request = request.with(
                    TransactWriteItem::builder()
                        .update(self.outbox_update(tenant, id, contact.updated_at)?)
                        .build(),
                )?;
            }
            if self.transact(request, "consent change").await? {
                return Ok(Changed {
                    contact,
                    record: Some(record),
                });
            }
        }
        Err(anyhow::anyhow!(
            "the contact kept changing under {ATTEMPTS} attempts to change its consent"
        )
        .into())
    }

    /// A contact's consent ledger, oldest first.
    pub async fn consent_history(
        &self,
        tenant: TenantId,
        id: ContactId,
    ) -> StoreResult<Vec<ConsentRecord>> {
        self.query_prefix(&keys::contact_pk(tenant, id), keys::CONSENT_PREFIX)
            .await
    }

    /// Books one campaign message against a contact's frequency cap: true when it fits (or this
    /// message was booked before, so a retried job counts it once). One conditional UpdateItem.
    pub async fn book_frequency(
        &self,
        tenant: TenantId,
        contact: ContactId,
        cap: &FrequencyCap,
        message: MessageId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (period, forget_at) = cap.period(now);
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(
                keys::PK,
                AttributeValue::S(keys::contact_pk(tenant, contact)),
            )
            .key(keys::SK, AttributeValue::S(keys::frequency_sk(&period)))
            .update_expression("ADD msgs :m SET #ttl = :ttl")
            .condition_expression(
                "attribute_not_exists(msgs) OR size(msgs) < :max OR contains(msgs, :id)",
            )
            .expression_attribute_names("#ttl", keys::TTL)
            .expression_attribute_values(":m", AttributeValue::Ss(vec![message.to_string()]))
            .expression_attribute_values(":id", AttributeValue::S(message.to_string()))
            .expression_attribute_values(":max", AttributeValue::N(cap.max.to_string()))
            .expression_attribute_values(
                ":ttl",
                AttributeValue::N(forget_at.timestamp().to_string()),
            )
            .send()
            .await;
        Ok(super::if_condition_met(result, "UpdateItem frequency cap")?.is_some())
    }

    /// The tenant's sealed preference-link key, if it has one.
    pub async fn link_key(&self, tenant: TenantId) -> StoreResult<Option<SealedCredentials>> {
        self.get(&keys::tenant_pk(tenant), keys::LINK_KEY).await
    }

    /// Stores the tenant's first preference-link key; `AlreadyExists` when another process
    /// stored one first (read that one instead).
    pub async fn put_link_key(
        &self,
        tenant: TenantId,
        sealed: &SealedCredentials,
    ) -> StoreResult<()> {
        self.put_new(&Keys::new(keys::tenant_pk(tenant), keys::LINK_KEY), sealed)
            .await
    }
}
