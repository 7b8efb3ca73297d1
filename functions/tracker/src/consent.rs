//! Consent: what vouched-for reports change in a contact's preferences and ledger. A complaint
//! opts the contact out of email; a hard bounce is noted in its ledger (the address is
//! suppressed either way, by the ingestion); an unsubscribe through SES's own subscription
//! management is honoured like a one-click unsubscribe (source `ses_subscription`).
//!
//! The contact is the one the sealed report names, else the tenant's contact owning the
//! address the report is about: the effect never depends on an optional tag. Each change is
//! keyed by its report, so a redelivered batch writes nothing twice; a contact that does not
//! exist (a message to a bare address) has no ledger to write.

use herald::consent::{OptOut, Preferences};
use herald::domain::{Channel, ConsentSource, DeliveryEvent, EmailAddress, TemplateCategory};
use herald::ids::ContactId;
use herald::store::{ChangeContext, Store, StoreError};
use herald::tracking::{OptOutScope, Tracked};
use herald::webhooks::WebhookEvent;

/// The change a report asks of a contact's preferences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// Out of every email.
    AllEmail,
    /// Out of one category by email.
    Category(TemplateCategory),
    /// Nothing but the ledger's note.
    NoteOnly,
}

fn apply(change: Change, p: &Preferences) -> Preferences {
    match change {
        Change::AllEmail => {
            let mut next = p.clone();
            let whole = OptOut {
                channel: Channel::Email,
                category: None,
            };
            if !next.opt_outs.contains(&whole) {
                next.opt_outs.retain(|o| o.channel != Channel::Email);
                next.opt_outs.push(whole);
                next.opt_outs.sort();
            }
            next
        }
        Change::Category(category) => p.without(category, Channel::Email),
        Change::NoteOnly => p.clone(),
    }
}

/// The source and change of a report that changes consent; `None` for the others.
async fn consent_of(
    store: &Store,
    e: &Tracked,
) -> Result<Option<(ConsentSource, Change)>, StoreError> {
    if let Some(scope) = e.opt_out {
        let change = match scope {
            OptOutScope::AllEmail => Change::AllEmail,
            // The message's category, as a one-click unsubscribe from it; all email when the
            // record is gone (an unsubscribe is never ignored).
            OptOutScope::MessageCategory => store
                .get_message(e.tenant, e.message)
                .await?
                .map_or(Change::AllEmail, |m| Change::Category(m.category)),
        };
        return Ok(Some((ConsentSource::SesSubscription, change)));
    }
    if e.suppress.is_empty() {
        return Ok(None);
    }
    Ok(Some(match e.kind {
        DeliveryEvent::Complained => (ConsentSource::Complaint, Change::AllEmail),
        _ => (ConsentSource::Bounce, Change::NoteOnly),
    }))
}

/// The contact a report is about: the sealed one, else the owner of its address.
async fn contact_of(store: &Store, e: &Tracked) -> Result<Option<ContactId>, StoreError> {
    if e.contact.is_some() {
        return Ok(e.contact);
    }
    let Some(address) = e
        .suppress
        .first()
        .or(e.recipient.as_ref())
        .and_then(|a| EmailAddress::parse(a).ok())
    else {
        return Ok(None);
    };
    store.find_contact(e.tenant, Some(&address), None).await
}

/// Applies the consent changes of vouched-for reports; the `contact.unsubscribed` webhooks of
/// the changes made.
pub async fn record_consent(
    store: &Store,
    reports: &[Tracked],
) -> anyhow::Result<Vec<WebhookEvent>> {
    let mut unsubscribed = Vec::new();
    for e in reports {
        let Some((source, change)) = consent_of(store, e).await? else {
            continue;
        };
        let Some(contact) = contact_of(store, e).await? else {
            continue;
        };
        let note = match source {
            ConsentSource::SesSubscription => {
                e.detail.as_ref().map(|d| format!("ses_subscription:{d}"))
            }
            _ => Some(format!("suppressed:{}", e.channel)),
        };
        let context = ChangeContext {
            message: Some(e.message),
            note,
            record_id: Some(format!("{:013}#{}", e.at_ms().max(0), e.identity)),
            ..Default::default()
        };
        match store
            .change_preferences(e.tenant, contact, source, &context, |p| apply(change, p))
            .await
        {
            Ok(changed) => unsubscribed.extend(
                changed
                    .record
                    .as_ref()
                    .and_then(|r| herald::webhooks::unsubscribed_event(e.tenant, r)),
            ),
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(unsubscribed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_opt_out_as_asked() {
        let p = Preferences {
            unsubscribed: false,
            opt_outs: vec![OptOut {
                channel: Channel::Email,
                category: Some(TemplateCategory::Reminder),
            }],
            frequency_cap: None,
            quiet_hours: None,
        };
        let all = apply(Change::AllEmail, &p);
        assert!(!all.allows(TemplateCategory::Invitation, Channel::Email));
        assert!(all.allows(TemplateCategory::Invitation, Channel::Sms));
        assert_eq!(all.opt_outs.len(), 1);
        let one = apply(Change::Category(TemplateCategory::Invitation), &p);
        assert!(!one.allows(TemplateCategory::Invitation, Channel::Email));
        assert!(one.allows(TemplateCategory::ThankYou, Channel::Email));
        assert_eq!(apply(Change::NoteOnly, &p), p);
    }
}
