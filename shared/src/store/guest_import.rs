//! Importing guests, and the tenant-wide contacts they link to.
//!
//! Importing rows: one BatchGetItem pass over the rows' contact keys (email, phone) finds the
//! contacts that exist; new contacts are written, then their addresses claimed with
//! conditional puts (so two imports racing for the same address end with one contact); guests
//! are read (created or updated?) and written with BatchWriteItem, 25 per request. A row's
//! `rsvp` column changes the guest's RSVP; without one the guest keeps theirs.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;

use super::guests::{guest_keys, key};
use super::{Keys, Store, StoreResult, keys, string_attr};
use crate::domain::{RsvpSource, RsvpStatus};
use crate::guests::{CheckedGuest, Contact, Guest, ImportedRsvp};
use crate::ids::{ContactId, EventId, GuestId, TenantId};
use crate::rsvp::Rsvp;

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
}

#[derive(Debug, Default)]
struct CreatedContacts {
    created: usize,
    /// Address key → the contact that holds it, for contacts not created because of a race.
    replaced: HashMap<String, ContactId>,
}
