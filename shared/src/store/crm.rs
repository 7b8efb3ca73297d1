//! CRM sync: a tenant's connection, its cursor, run lock and reports, the links from CRM
//! records to contacts, and the outbox of contacts with changes for the CRM.

use std::collections::HashMap;

use anyhow::Context as _;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use chrono::{DateTime, Utc};

use super::batch::Transaction;
use super::{Item, Keys, Store, StoreResult, keys, string_attr};
use crate::consent::ConsentRecord;
use crate::crm::{Connection, SyncRun};
use crate::domain::CrmKind;
use crate::guests::Contact;
use crate::ids::{ContactId, SyncRunId, TenantId};

/// Run reports are kept this long.
pub const RUN_TTL_DAYS: i64 = 90;
/// Outbox entries nobody pushes (no CRM connected any more) expire after this long.
pub const OUTBOX_TTL_DAYS: i64 = 30;

pub(crate) fn key(pk: String, sk: &str) -> Item {
    HashMap::from([
        (keys::PK.to_owned(), AttributeValue::S(pk)),
        (keys::SK.to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

pub(crate) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The item linking a CRM record to its contact.
fn link_item(tenant: TenantId, contact: &Contact) -> Option<Item> {
    let link = contact.crm.as_ref()?;
    let mut item = key(keys::crm_record_pk(tenant, link.kind, &link.id), keys::KEY);
    item.insert(
        "contact_id".into(),
        AttributeValue::S(contact.id.to_string()),
    );
    item.insert("crm_id".into(), AttributeValue::S(link.id.clone()));
    Some(item)
}

/// The address keys (`contact_key_pk`) of a contact's email and phone, email first.
pub fn contact_address_keys(c: &Contact) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(e) = &c.email {
        out.push(keys::contact_key_pk(c.tenant_id, "email", e.as_str()));
    }
    if let Some(p) = &c.phone {
        out.push(keys::contact_key_pk(c.tenant_id, "phone", p.as_str()));
    }
    out
}

/// A contact written by the sync, with everything that goes in its transaction.
#[derive(Debug, Clone)]
pub struct SyncedWrite<'a> {
    pub before: Option<&'a Contact>,
    pub after: &'a Contact,
    /// Write the link from its CRM record (a newly linked contact).
    pub link: bool,
    pub ledger: Option<ConsentRecord>,
    /// Address keys (`contact_key_pk`) the contact takes, and ones it gives up.
    pub claim: Vec<String>,
    pub release: Vec<String>,
    /// Herald holds values the CRM should get.
    pub outbox: bool,
}

impl Store {
    pub async fn put_crm_connection(&self, tenant: TenantId, c: &Connection) -> StoreResult<()> {
        let keys = Keys::new(keys::crm_pk(tenant), keys::CRM_CONNECTION)
            .with_gsi1(keys::CRM_CONNECTIONS, tenant.to_string());
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(Store::to_item(&keys, c)?))
            .send()
            .await
            .context("PutItem CRM connection")?;
        Ok(())
    }

    pub async fn get_crm_connection(&self, tenant: TenantId) -> StoreResult<Option<Connection>> {
        self.get(&keys::crm_pk(tenant), keys::CRM_CONNECTION).await
    }

    /// Removes the connection and its cursor (a new connection starts from the beginning);
    /// false when there was none. Reports stay.
    pub async fn delete_crm_connection(&self, tenant: TenantId) -> StoreResult<bool> {
        let pk = keys::crm_pk(tenant);
        let connection = Delete::builder()
            .table_name(self.table())
            .set_key(Some(key(pk.clone(), keys::CRM_CONNECTION)))
            .condition_expression("attribute_exists(PK)")
            .build()
            .context("building the connection Delete")?;
        let cursor = Delete::builder()
            .table_name(self.table())
            .set_key(Some(key(pk, keys::CRM_CURSOR)))
            .build()
            .context("building the cursor Delete")?;
        let request = Transaction::new()
            .with(TransactWriteItem::builder().delete(connection).build())?
            .with(TransactWriteItem::builder().delete(cursor).build())?;
        self.transact(request, "CRM disconnect").await
    }

    /// Every tenant with a CRM connection.
    pub async fn crm_tenants(&self) -> StoreResult<Vec<TenantId>> {
        let items = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(keys::GSI1)
            .key_condition_expression("GSI1PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(keys::CRM_CONNECTIONS.into()))
            .projection_expression("GSI1SK")
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .context("Query CRM connections")?;
        Ok(items
            .iter()
            .filter_map(|i| string_attr(i, keys::GSI1SK).parse().ok())
            .collect())
    }

    /// The time of the last CRM change applied.
    pub async fn crm_cursor(&self, tenant: TenantId) -> StoreResult<Option<DateTime<Utc>>> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(keys::crm_pk(tenant), keys::CRM_CURSOR)))
            .consistent_read(true)
            .send()
            .await
            .context("GetItem CRM cursor")?;
        Ok(out
            .item
            .and_then(|i| i.get("since_ms")?.as_n().ok()?.parse::<i64>().ok())
            .and_then(DateTime::from_timestamp_millis))
    }

    /// Moves the cursor to `to`, never back.
    pub async fn move_crm_cursor(&self, tenant: TenantId, to: DateTime<Utc>) -> StoreResult<()> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(keys::crm_pk(tenant), keys::CRM_CURSOR)))
            .update_expression("SET since_ms = :t")
            .condition_expression("attribute_not_exists(since_ms) OR since_ms <= :t")
            .expression_attribute_values(":t", n(to.timestamp_millis()))
            .send()
            .await;
        super::if_condition_met(result, "UpdateItem CRM cursor")?;
        Ok(())
    }

    /// Takes the tenant's run lock for `hold` (absent or expired); false when another run holds it.
    pub async fn lock_crm(
        &self,
        tenant: TenantId,
        run: SyncRunId,
        now: DateTime<Utc>,
        hold: chrono::Duration,
    ) -> StoreResult<bool> {
        let mut item = key(keys::crm_pk(tenant), keys::CRM_LOCK);
        item.insert("run_id".into(), AttributeValue::S(run.to_string()));
        item.insert("expires_ms".into(), n((now + hold).timestamp_millis()));
        item.insert(keys::TTL.into(), n((now + hold).timestamp() + 86_400));
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK) OR expires_ms < :now OR run_id = :run")
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .expression_attribute_values(":run", AttributeValue::S(run.to_string()))
            .send()
            .await;
        Ok(super::if_condition_met(result, "PutItem CRM lock")?.is_some())
    }

    pub async fn unlock_crm(&self, tenant: TenantId, run: SyncRunId) -> StoreResult<()> {
        let result = self
            .client()
            .delete_item()
            .table_name(self.table())
            .set_key(Some(key(keys::crm_pk(tenant), keys::CRM_LOCK)))
            .condition_expression("run_id = :run")
            .expression_attribute_values(":run", AttributeValue::S(run.to_string()))
            .send()
            .await;
        super::if_condition_met(result, "DeleteItem CRM lock")?;
        Ok(())
    }

    pub async fn put_sync_run(&self, tenant: TenantId, run: &SyncRun) -> StoreResult<()> {
        let mut item = Store::to_item(
            &Keys::new(keys::crm_pk(tenant), keys::crm_run_sk(run.id)),
            run,
        )?;
        item.insert(
            keys::TTL.into(),
            n((run.queued_at + chrono::Duration::days(RUN_TTL_DAYS)).timestamp()),
        );
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .send()
            .await
            .context("PutItem CRM run")?;
        Ok(())
    }

    pub async fn get_sync_run(
        &self,
        tenant: TenantId,
        id: SyncRunId,
    ) -> StoreResult<Option<SyncRun>> {
        self.get(&keys::crm_pk(tenant), &keys::crm_run_sk(id)).await
    }

    /// Runs newest first, at most `limit`, older than `before` when given.
    pub async fn list_sync_runs(
        &self,
        tenant: TenantId,
        limit: i32,
        before: Option<SyncRunId>,
    ) -> StoreResult<Vec<SyncRun>> {
        let upper = match before {
            Some(id) => keys::crm_run_sk(id),
            // Every run's key sorts below this one.
            None => format!("{}~", keys::CRM_RUN_PREFIX),
        };
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("PK = :pk AND SK BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", AttributeValue::S(keys::crm_pk(tenant)))
            .expression_attribute_values(":lo", AttributeValue::S(keys::CRM_RUN_PREFIX.into()))
            .expression_attribute_values(":hi", AttributeValue::S(upper.clone()))
            .scan_index_forward(false)
            .limit(limit + 1)
            .send()
            .await
            .context("Query CRM runs")?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .filter(|i| string_attr(i, keys::SK) != upper)
            .take(usize::try_from(limit).unwrap_or(0))
            .map(Store::from_item)
            .collect()
    }

    /// The contacts linked to these CRM records.
    pub async fn crm_links(
        &self,
        tenant: TenantId,
        kind: CrmKind,
        ids: &[&str],
    ) -> StoreResult<HashMap<String, ContactId>> {
        let mut wanted: Vec<String> = ids
            .iter()
            .map(|id| keys::crm_record_pk(tenant, kind, id))
            .collect();
        wanted.sort();
        wanted.dedup();
        let items = self
            .batch_get_all(wanted.into_iter().map(|pk| key(pk, keys::KEY)).collect())
            .await?;
        Ok(items
            .iter()
            .filter_map(|i| {
                Some((
                    string_attr(i, "crm_id"),
                    string_attr(i, "contact_id").parse().ok()?,
                ))
            })
            .collect())
    }

    /// The contacts owning these address keys (`contact_key_pk`).
    pub async fn contacts_by_address(
        &self,
        address_keys: &[String],
    ) -> StoreResult<HashMap<String, ContactId>> {
        self.contact_keys(address_keys).await
    }

    /// Writes a contact the sync merged, in one transaction with its record link, address
    /// keys, consent ledger entry and outbox entry. False when the contact changed since it
    /// was read (or an address belongs to another contact): read and merge again.
    pub async fn write_synced_contact(
        &self,
        tenant: TenantId,
        w: &SyncedWrite<'_>,
    ) -> StoreResult<bool> {
        let c = w.after;
        let pk = keys::contact_pk(tenant, c.id);
        let cid = AttributeValue::S(c.id.to_string());
        let mut put = Put::builder()
            .table_name(self.table())
            .set_item(Some(Store::to_item(&Keys::new(&pk, keys::META), c)?));
        put = match w.before {
            Some(before) => put
                .condition_expression("updated_at = :previous")
                .expression_attribute_values(":previous", super::stored_time(before.updated_at)),
            None => put.condition_expression("attribute_not_exists(PK)"),
        };
        let mut items = vec![
            TransactWriteItem::builder()
                .put(put.build().context("building the contact Put")?)
                .build(),
        ];
        // Link and address items: new, or already this contact's.
        let mut owned: Vec<Item> = w
            .link
            .then(|| link_item(tenant, c))
            .flatten()
            .into_iter()
            .collect();
        for address in &w.claim {
            let mut item = key(address.clone(), keys::KEY);
            item.insert("contact_id".into(), cid.clone());
            owned.push(item);
        }
        for item in owned {
            let put = Put::builder()
                .table_name(self.table())
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(PK) OR contact_id = :cid")
                .expression_attribute_values(":cid", cid.clone())
                .build()
                .context("building a link or address Put")?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        for address in &w.release {
            let delete = Delete::builder()
                .table_name(self.table())
                .set_key(Some(key(address.clone(), keys::KEY)))
                .condition_expression("attribute_not_exists(PK) OR contact_id = :cid")
                .expression_attribute_values(":cid", cid.clone())
                .build()
                .context("building the address Delete")?;
            items.push(TransactWriteItem::builder().delete(delete).build());
        }
        if let Some(record) = &w.ledger {
            let put = Put::builder()
                .table_name(self.table())
                .set_item(Some(Store::to_item(
                    &Keys::new(&pk, keys::consent_sk(&record.id)),
                    record,
                )?))
                .condition_expression("attribute_not_exists(PK)")
                .build()
                .context("building the ledger Put")?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        if w.outbox {
            items.push(
                TransactWriteItem::builder()
                    .update(self.outbox_update(tenant, c.id, c.updated_at)?)
                    .build(),
            );
        }
        let mut request = Transaction::new();
        for item in items {
            request.push(item)?;
        }
        self.transact(request, "synced contact").await
    }

    /// Creates contacts from CRM records in bulk: the contacts (BatchWriteItem), then each
    /// one's addresses (a conditional PutItem each, first addresses first), then the record
    /// links and consent ledger entries of those that got their first address
    /// (BatchWriteItem). Returns the contacts that lost their first address to another
    /// contact (written, but unreferenced: merge their records into the winner instead).
    pub async fn create_synced_contacts(
        &self,
        tenant: TenantId,
        created: &[(Contact, Option<ConsentRecord>)],
    ) -> StoreResult<Vec<ContactId>> {
        let items = created
            .iter()
            .map(|(c, _)| Store::to_item(&Keys::new(keys::contact_pk(tenant, c.id), keys::META), c))
            .collect::<StoreResult<Vec<_>>>()?;
        self.batch_put_all(items).await?;
        let addresses = contact_address_keys;
        let firsts: Vec<(ContactId, String)> = created
            .iter()
            .filter_map(|(c, _)| Some((c.id, addresses(c).first()?.clone())))
            .collect();
        let won = self.claim_contact_keys(&firsts).await?;
        let lost: Vec<ContactId> = firsts
            .iter()
            .filter(|(_, a)| !won.contains(a))
            .map(|(c, _)| *c)
            .collect();
        let kept: Vec<&(Contact, Option<ConsentRecord>)> = created
            .iter()
            .filter(|(c, _)| !lost.contains(&c.id))
            .collect();
        let rest: Vec<(ContactId, String)> = kept
            .iter()
            .flat_map(|(c, _)| addresses(c).into_iter().skip(1).map(move |a| (c.id, a)))
            .collect();
        self.claim_contact_keys(&rest).await?;
        let mut items = Vec::new();
        for (c, ledger) in kept {
            items.extend(link_item(tenant, c));
            if let Some(record) = ledger {
                items.push(Store::to_item(
                    &Keys::new(keys::contact_pk(tenant, c.id), keys::consent_sk(&record.id)),
                    record,
                )?);
            }
        }
        self.batch_put_all(items).await?;
        Ok(lost)
    }

    /// Edits a contact's profile with `edit` (conditional on `updated_at`, read again on a
    /// concurrent change), stamping the time of each synced field it changes, and puts a
    /// CRM-linked contact in the outbox. `NotFound` when there is no such contact.
    pub async fn edit_contact(
        &self,
        tenant: TenantId,
        id: ContactId,
        edit: impl Fn(&mut Contact),
    ) -> StoreResult<Contact> {
        for _ in 0..5 {
            let Some(before) = self.get_contact(tenant, id).await? else {
                return Err(super::StoreError::NotFound);
            };
            let mut after = before.clone();
            edit(&mut after);
            if after == before {
                return Ok(after);
            }
            let now = Utc::now();
            after.updated_at = now.max(before.updated_at + chrono::Duration::milliseconds(1));
            for field in crate::domain::CrmField::ALL {
                if crate::crm::contact_value(&before, *field)
                    != crate::crm::contact_value(&after, *field)
                {
                    after.changed.insert(*field, after.updated_at);
                }
            }
            let write = SyncedWrite {
                before: Some(&before),
                after: &after,
                link: false,
                ledger: None,
                claim: Vec::new(),
                release: Vec::new(),
                outbox: after.crm.is_some(),
            };
            if self.write_synced_contact(tenant, &write).await? {
                return Ok(after);
            }
        }
        Err(anyhow::anyhow!("the contact kept changing under 5 attempts to edit it").into())
    }
}
