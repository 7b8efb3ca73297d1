//! Guests and contacts.
//!
//! Importing rows: one BatchGetItem pass over the rows' contact keys (email, phone) finds the
//! contacts that exist; new contacts are written, then their addresses claimed with
//! conditional puts (so two imports racing for the same address end with one contact); guests
//! are read (created or updated?) and written with BatchWriteItem, 25 per request.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::Context as _;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;

use super::{Item, Keys, Store, StoreResult, keys, string_attr};
use crate::domain::{RsvpSource, RsvpStatus};
use crate::guests::{CheckedGuest, Contact, GUEST_SHARDS, Guest, ImportedRsvp};
use crate::rsvp::Rsvp;
use crate::ids::{ContactId, EventId, GuestId, TenantId};

/// What an import wrote.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportWrite {
    pub created: usize,
    pub updated: usize,
    pub contacts_created: usize,
    /// The guest of each row, in row order.
    pub ids: Vec<GuestId>,
    /// Rows left out because an earlier row is the same contact (one contact holds this row's
    /// email and the other's phone): (row, earlier row), positions in the rows given.
    pub same_contact: Vec<(usize, usize)>,
    /// The guests this import added to the event (not those it updated).
    pub added: Vec<Guest>,
    /// The guests whose RSVP the import's `rsvp` column changed, as written.
    pub rsvp_changed: Vec<Guest>,
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([
        (keys::PK.to_owned(), AttributeValue::S(pk)),
        (keys::SK.to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

fn guest_keys(tenant: TenantId, event: EventId, id: GuestId) -> Keys {
    Keys::new(
        keys::guests_pk(tenant, event, Guest::shard_of(id)),
        keys::guest_sk(id),
    )
}

fn address_keys(tenant: TenantId, row: &CheckedGuest) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(e) = &row.email {
        out.push(keys::contact_key_pk(tenant, "email", e.as_str()));
    }
    if let Some(p) = &row.phone {
        out.push(keys::contact_key_pk(tenant, "phone", p.as_str()));
    }
    out
}

/// A guest's RSVP after an import row: the row's answer (kept as it is when it says the same),
/// none for `no_response`, the current one when the row says nothing.
fn imported_rsvp(
    current: Option<&Rsvp>,
    row: Option<ImportedRsvp>,
    now: chrono::DateTime<Utc>,
) -> Option<Rsvp> {
    match row {
        None => current.cloned(),
        Some(ImportedRsvp::Clear) => None,
        Some(ImportedRsvp::Answer { status, party_size }) => {
            let coming = status != RsvpStatus::Declined;
            let same_status = current.is_some_and(|r| r.status == status);
            let party_size = match (coming, party_size) {
                (false, _) => 0,
                (true, Some(n)) => n,
                (true, None) => current
                    .filter(|_| same_status)
                    .map_or(1, |r| r.party_size.max(1)),
            };
            if let Some(r) = current.filter(|r| r.status == status && r.party_size == party_size) {
                return Some(r.clone());
            }
            Some(Rsvp {
                status,
                party_size,
                // The questions' answers stay: the organiser's column records only the status.
                answers: current.map(|r| r.answers.clone()).unwrap_or_default(),
                at: now,
                source: RsvpSource::Import,
                version: current.map_or(1, |r| r.version + 1),
            })
        }
    }
}

impl Store {
    /// Upserts the rows' guests (and their contacts). Rows must not repeat an email or a phone.
    pub async fn import_guests(
        &self,
        tenant: TenantId,
        event: EventId,
        rows: &[CheckedGuest],
    ) -> StoreResult<ImportWrite> {
        let now = Utc::now();
        // 1. The contacts that exist, by address key.
        let wanted: Vec<String> = rows.iter().flat_map(|r| address_keys(tenant, r)).collect();
        let mut owner: HashMap<String, ContactId> = self.contact_keys(&wanted).await?;
        // 2. A contact per row: the email's, else the phone's, else a new one.
        let mut new_contacts: Vec<(Contact, Vec<String>)> = Vec::new();
        let mut contact_of: Vec<ContactId> = Vec::with_capacity(rows.len());
        for row in rows {
            let addresses = address_keys(tenant, row);
            match addresses.iter().find_map(|k| owner.get(k).copied()) {
                Some(id) => contact_of.push(id),
                None => {
                    let contact = Contact {
                        email: row.email.clone(),
                        phone: row.phone.clone(),
                        first_name: row.first_name.clone(),
                        last_name: row.last_name.clone(),
                        ..Contact::new(tenant, ContactId::new(), now)
                    };
                    for k in &addresses {
                        owner.insert(k.clone(), contact.id);
                    }
                    contact_of.push(contact.id);
                    new_contacts.push((contact, addresses));
                }
            }
        }
        // Two rows of one contact would be one guest written twice: the later row is left out.
        let mut first_row: HashMap<ContactId, usize> = HashMap::new();
        let mut same_contact = Vec::new();
        for (i, contact) in contact_of.iter().enumerate() {
            if let Some(earlier) = first_row.get(contact) {
                same_contact.push((i, *earlier));
            } else {
                first_row.insert(*contact, i);
            }
        }
        let created_contacts = self.create_contacts(tenant, &new_contacts).await?;
        // Contacts that lost a race to another import: link to the winner instead.
        for (i, row) in rows.iter().enumerate() {
            if let Some(winner) = address_keys(tenant, row)
                .iter()
                .find_map(|k| created_contacts.replaced.get(k))
            {
                contact_of[i] = *winner;
            }
        }
        // 3. Guests: derived ids, created or updated.
        let ids: Vec<GuestId> = contact_of
            .iter()
            .map(|c| GuestId::derived(&[&event.to_string(), &c.to_string()]))
            .collect();
        let existing: HashMap<String, Guest> = self
            .batch_get_all(
                ids.iter()
                    .map(|id| {
                        let k = guest_keys(tenant, event, *id);
                        key(k.pk, &k.sk)
                    })
                    .collect(),
            )
            .await?
            .into_iter()
            .map(|item| Store::from_item::<Guest>(item).map(|g| (g.id.to_string(), g)))
            .collect::<StoreResult<_>>()?;
        let mut write = ImportWrite {
            contacts_created: created_contacts.created,
            ..ImportWrite::default()
        };
        let left_out: std::collections::HashSet<usize> =
            same_contact.iter().map(|(i, _)| *i).collect();
        let mut items = Vec::with_capacity(rows.len());
        for (i, ((row, id), contact)) in rows.iter().zip(&ids).zip(&contact_of).enumerate() {
            if left_out.contains(&i) {
                continue;
            }
            let before = existing.get(&id.to_string());
            let created_at = match before {
                Some(g) => {
                    write.updated += 1;
                    g.created_at
                }
                None => {
                    write.created += 1;
                    now
                }
            };
            let current = before.and_then(|g| g.rsvp.as_ref());
            let rsvp = imported_rsvp(current, row.rsvp, now);
            let guest = Guest {
                id: *id,
                tenant_id: tenant,
                event_id: event,
                contact_id: *contact,
                first_name: row.first_name.clone(),
                last_name: row.last_name.clone(),
                name: row.name.clone(),
                email: row.email.clone(),
                phone: row.phone.clone(),
                locale: row.locale.clone(),
                time_zone: row.time_zone,
                tags: row.tags.clone(),
                fields: row.fields.clone(),
                preferred_channel: row.preferred_channel,
                rsvp: rsvp.clone(),
                created_at,
                updated_at: now,
            };
            items.push(Store::to_item(&guest_keys(tenant, event, *id), &guest)?);
            if rsvp.as_ref() != current {
                write.rsvp_changed.push(guest.clone());
            }
            if guest.created_at == now {
                write.added.push(guest);
            }
        }
        self.batch_put_all(items).await?;
        write.ids = ids;
        write.same_contact = same_contact;
        Ok(write)
    }

    /// The contact with this email, else this phone.
    pub async fn find_contact(
        &self,
        tenant: TenantId,
        email: Option<&crate::domain::EmailAddress>,
        phone: Option<&crate::domain::PhoneE164>,
    ) -> StoreResult<Option<ContactId>> {
        let wanted: Vec<String> = [
            email.map(|e| keys::contact_key_pk(tenant, "email", e.as_str())),
            phone.map(|p| keys::contact_key_pk(tenant, "phone", p.as_str())),
        ]
        .into_iter()
        .flatten()
        .collect();
        let owners = self.contact_keys(&wanted).await?;
        Ok(wanted.iter().find_map(|k| owners.get(k).copied()))
    }

    /// The contact owning each address key that has one.
    pub(crate) async fn contact_keys(
        &self,
        wanted: &[String],
    ) -> StoreResult<HashMap<String, ContactId>> {
        let mut unique: Vec<&String> = wanted.iter().collect();
        unique.sort();
        unique.dedup();
        let items = self
            .batch_get_all(
                unique
                    .into_iter()
                    .map(|pk| key(pk.clone(), keys::KEY))
                    .collect(),
            )
            .await?;
        Ok(items
            .into_iter()
            .filter_map(|item| {
                let id = string_attr(&item, "contact_id").parse().ok()?;
                Some((string_attr(&item, keys::PK), id))
            })
            .collect())
    }

    /// Writes new contacts, then claims their addresses. Contacts go first (BatchWriteItem;
    /// fresh ids, so nothing to conflict with); each address is then claimed with a
    /// conditional PutItem (16 at a time). A contact whose first address another contact
    /// claimed first lost a race: its rows link to the winner (returned in `replaced`), and the
    /// contact it wrote stays unreferenced. A crash between the two steps leaves only such
    /// unreferenced contacts. (No transactions: half the write cost of TransactWriteItems.)
    async fn create_contacts(
        &self,
        tenant: TenantId,
        contacts: &[(Contact, Vec<String>)],
    ) -> StoreResult<CreatedContacts> {
        let mut out = CreatedContacts::default();
        let items = contacts
            .iter()
            .map(|(c, _)| Store::to_item(&Keys::new(keys::contact_pk(tenant, c.id), keys::META), c))
            .collect::<StoreResult<Vec<_>>>()?;
        self.batch_put_all(items).await?;
        // First addresses first; a contact's other addresses only once it holds its first,
        // so no key ever points at a contact that lost its first address.
        let firsts: Vec<(ContactId, String)> = contacts
            .iter()
            .filter_map(|(c, a)| Some((c.id, a.first()?.clone())))
            .collect();
        let won = self.claim_contact_keys(&firsts).await?;
        let lost_first: Vec<String> = firsts
            .iter()
            .filter(|(_, a)| !won.contains(a))
            .map(|(_, a)| a.clone())
            .collect();
        let rest: Vec<(ContactId, String)> = contacts
            .iter()
            .filter(|(_, a)| a.first().is_some_and(|k| won.contains(k)))
            .flat_map(|(c, a)| a.iter().skip(1).map(move |k| (c.id, k.clone())))
            .collect();
        // Another contact already holding one of these is fine: it keeps it.
        self.claim_contact_keys(&rest).await?;
        let lost: HashSet<ContactId> = contacts
            .iter()
            .filter(|(_, a)| a.first().is_some_and(|k| lost_first.contains(k)))
            .map(|(c, _)| c.id)
            .collect();
        out.created = contacts.len() - lost.len();
        if !lost_first.is_empty() {
            for (k, id) in self.contact_keys(&lost_first).await? {
                out.replaced.insert(k, id);
            }
        }
        Ok(out)
    }

    /// Claims these addresses (16 at a time); the addresses won.
    pub(crate) async fn claim_contact_keys(
        &self,
        claims: &[(ContactId, String)],
    ) -> StoreResult<HashSet<String>> {
        let mut won = HashSet::new();
        for chunk in claims.chunks(16) {
            let mut tasks = tokio::task::JoinSet::new();
            for (contact, address) in chunk.iter().cloned() {
                let this = self.clone();
                tasks.spawn(async move {
                    let ok = this.claim_contact_key(&address, contact).await?;
                    StoreResult::Ok((address, ok))
                });
            }
            while let Some(joined) = tasks.join_next().await {
                let (address, ok) =
                    joined.map_err(|e| anyhow::anyhow!("a contact claim task failed: {e}"))??;
                if ok {
                    won.insert(address);
                }
            }
        }
        Ok(won)
    }

    /// Claims an address for a contact: a conditional PutItem; false when it is taken.
    async fn claim_contact_key(&self, address: &str, contact: ContactId) -> StoreResult<bool> {
        let mut claim = key(address.to_owned(), keys::KEY);
        claim.insert("contact_id".into(), AttributeValue::S(contact.to_string()));
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(claim))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        Ok(super::if_condition_met(result, "PutItem contact key")?.is_some())
    }

    pub async fn get_guest(
        &self,
        tenant: TenantId,
        event: EventId,
        id: GuestId,
    ) -> StoreResult<Option<Guest>> {
        let k = guest_keys(tenant, event, id);
        self.get(&k.pk, &k.sk).await
    }

    /// Guests by id (those that do not exist are left out).
    pub async fn get_guests(
        &self,
        tenant: TenantId,
        event: EventId,
        ids: &[GuestId],
    ) -> StoreResult<Vec<Guest>> {
        self.batch_get_as(
            ids.iter()
                .map(|id| {
                    let k = guest_keys(tenant, event, *id);
                    key(k.pk, &k.sk)
                })
                .collect(),
        )
        .await
    }

    pub async fn delete_guest(
        &self,
        tenant: TenantId,
        event: EventId,
        id: GuestId,
    ) -> StoreResult<()> {
        self.delete_with_id(&guest_keys(tenant, event, id), &id.to_string())
            .await
    }

    /// Up to `limit` guests of one shard after `after`, and where the next page starts.
    pub async fn guests_of_shard(
        &self,
        tenant: TenantId,
        event: EventId,
        shard: u32,
        after: Option<GuestId>,
        limit: i32,
    ) -> StoreResult<(Vec<Guest>, Option<GuestId>)> {
        let pk = keys::guests_pk(tenant, event, shard);
        let mut request = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
            .expression_attribute_values(":prefix", AttributeValue::S(keys::GUEST_PREFIX.into()))
            .limit(limit)
            .consistent_read(true);
        if let Some(after) = after {
            request = request.set_exclusive_start_key(Some(key(pk, &keys::guest_sk(after))));
        }
        let out = request.send().await.context("Query guests")?;
        let guests = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(Store::from_item)
            .collect::<StoreResult<Vec<Guest>>>()?;
        let next = out
            .last_evaluated_key
            .map(|k| string_attr(&k, keys::SK))
            .and_then(|sk| sk.strip_prefix(keys::GUEST_PREFIX)?.parse().ok());
        Ok((guests, next))
    }

    /// A page of an event's guests across its shards: `cursor` is (shard, last guest id).
    pub async fn list_guests(
        &self,
        tenant: TenantId,
        event: EventId,
        cursor: Option<(u32, Option<GuestId>)>,
        limit: usize,
    ) -> StoreResult<(Vec<Guest>, Option<(u32, Option<GuestId>)>)> {
        let (mut shard, mut after) = cursor.unwrap_or((0, None));
        let mut out = Vec::new();
        while shard < GUEST_SHARDS && out.len() < limit {
            let want = i32::try_from(limit - out.len()).unwrap_or(i32::MAX);
            let (page, next) = self
                .guests_of_shard(tenant, event, shard, after, want)
                .await?;
            out.extend(page);
            match next {
                Some(n) => after = Some(n),
                None => {
                    shard += 1;
                    after = None;
                }
            }
        }
        let cursor = (shard < GUEST_SHARDS).then_some((shard, after));
        Ok((out, cursor))
    }

    pub async fn get_contact(
        &self,
        tenant: TenantId,
        id: ContactId,
    ) -> StoreResult<Option<Contact>> {
        self.get(&keys::contact_pk(tenant, id), keys::META).await
    }

    /// Sets whether a contact is unsubscribed from everything.
    pub async fn set_unsubscribed(
        &self,
        tenant: TenantId,
        id: ContactId,
        unsubscribed: bool,
    ) -> StoreResult<()> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(keys::contact_pk(tenant, id), keys::META)))
            .update_expression("SET unsubscribed = :u, updated_at = :now")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":u", AttributeValue::Bool(unsubscribed))
            .expression_attribute_values(":now", super::stored_time(Utc::now()))
            .send()
            .await;
        super::conditional(result, super::StoreError::NotFound, || {
            "UpdateItem contact".to_owned()
        })
    }

    /// Contacts by id (missing ones are left out).
    pub async fn get_contacts(
        &self,
        tenant: TenantId,
        ids: &[ContactId],
    ) -> StoreResult<BTreeMap<ContactId, Contact>> {
        let mut unique = ids.to_vec();
        unique.sort();
        unique.dedup();
        let found: Vec<Contact> = self
            .batch_get_as(
                unique
                    .iter()
                    .map(|id| key(keys::contact_pk(tenant, *id), keys::META))
                    .collect(),
            )
            .await?;
        Ok(found.into_iter().map(|c| (c.id, c)).collect())
    }
}

#[derive(Debug, Default)]
struct CreatedContacts {
    created: usize,
    /// Address key → the contact that holds it, for contacts not created because of a race.
    replaced: HashMap<String, ContactId>,
}
