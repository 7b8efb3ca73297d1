//! Resolve: who wrote and about which event.
//!
//! The contact is the guest of the message answered (an email's reply address names it), else
//! the tenant's contact with the sender's address; a sender no contact has is an unknown party
//! (a conversation of its own, never dropped). The event is the answered message's; else the
//! event of the contact's most recently active conversation; else the contact's next event
//! (the soonest not yet ended of those they are a guest of, else the latest); else none.

use chrono::Utc;
use herald::conversations::Party;
use herald::domain::{Channel, EmailAddress, PhoneE164};
use herald::guests::{Contact, Guest};
use herald::ids::{ContactId, EventId, TenantId};
use herald::store::Event;

use crate::read::Located;

/// Who wrote, about what.
#[derive(Debug, Clone)]
pub struct Who {
    pub party: Party,
    pub contact: Option<Contact>,
    pub event: Option<Event>,
    pub guest: Option<Guest>,
}

impl super::Inbound {
    pub(crate) async fn resolve(&self, l: &Located) -> anyhow::Result<Who> {
        let tenant = l.tenant;
        let m = &l.message;
        let mut event_id = l.replied.as_ref().map(|r| r.event_id);
        let mut contact_id: Option<ContactId> = None;
        if let Some(r) = &l.replied
            && let Some(g) = r.guest_id
            && let Some(guest) = self.store.get_guest(tenant, r.event_id, g).await?
        {
            contact_id = Some(guest.contact_id);
        }
        if contact_id.is_none() && !m.from.is_empty() {
            contact_id = match m.channel {
                Channel::Email => {
                    let email = EmailAddress::parse(&m.from).ok();
                    self.store
                        .find_contact(tenant, email.as_ref(), None)
                        .await?
                }
                Channel::Sms | Channel::Whatsapp => {
                    let phone = PhoneE164::parse(&m.from).ok();
                    self.store
                        .find_contact(tenant, None, phone.as_ref())
                        .await?
                }
            };
        }
        let contact = match contact_id {
            Some(id) => self.store.get_contact(tenant, id).await?,
            None => None,
        };
        if event_id.is_none()
            && let Some(c) = &contact
        {
            event_id = self.event_of(tenant, c.id).await?;
        }
        let event = match event_id {
            Some(e) => self.store.get_event(tenant, e).await?,
            None => None,
        };
        let guest = match (&contact, &event) {
            (Some(c), Some(e)) => self
                .store
                .guests_of_contact(tenant, c.id, &[e.id])
                .await?
                .into_iter()
                .next(),
            _ => None,
        };
        let party = match &contact {
            Some(c) => Party::Contact(c.id),
            None => Party::Unknown(m.from.to_lowercase()),
        };
        Ok(Who {
            party,
            contact,
            event,
            guest,
        })
    }

    /// The event a message that names none is about (see the module's documentation).
    async fn event_of(
        &self,
        tenant: TenantId,
        contact: ContactId,
    ) -> anyhow::Result<Option<EventId>> {
        if let Some(c) = self.store.latest_conversation_of(tenant, contact).await?
            && c.event_id.is_some()
        {
            return Ok(c.event_id);
        }
        let events = self.store.list_events(tenant).await?;
        let ids: Vec<EventId> = events.iter().map(|e| e.id).collect();
        let guests = self.store.guests_of_contact(tenant, contact, &ids).await?;
        let today = Utc::now().naive_utc();
        let mut theirs: Vec<&Event> = events
            .iter()
            .filter(|e| guests.iter().any(|g| g.event_id == e.id))
            .collect();
        theirs.sort_by_key(|e| e.fields.starts_at);
        let next = theirs
            .iter()
            .find(|e| e.fields.ends_at >= today)
            .or(theirs.last());
        Ok(next.map(|e| e.id))
    }
}
