//! Which reports to believe: the one stage of tracking that reads. Only a message Herald sent
//! for a tenant may move that tenant's counters, suppression list and consent ledger, so
//! every report a provider (or anyone able to publish to the tracker's topic or queue, or to
//! call a webhook with a provider's signature) hands in is vouched for first:
//!
//! - **sealed** (everything the sender sent since seals): the seal is checked against the ids
//!   the report names, under the tenant's key (cached per process: no request per report). A
//!   valid seal is believed at once, before or after the message's record is written; an
//!   invalid one never is.
//! - **unsealed** (the sender's own notices, messages sent before seals, reports written by
//!   hand): believed when the message's record is in the tenant (one BatchGetItem per tenant
//!   and 100 messages), with the record's event, campaign and expiry instead of the report's,
//!   and no contact (a consent change finds the contact by the address instead). Without a
//!   record the report is [`Verdict::Unknown`]: early, or about a message Herald never sent
//!   for that tenant; the caller holds or drops it.

use std::collections::BTreeMap;

use super::Tracked;
use super::seal::SealState;
use crate::consent::LinkKeys;
use crate::ids::{MessageId, TenantId};
use crate::store::Store;

/// What a report is to the tenant it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Believed: its seal is valid, or its message's record is there.
    Trusted(Tracked),
    /// No seal, and no record of the message in the tenant (yet).
    Unknown(Tracked),
    /// Never believed, with why (for the log).
    Untrusted(Tracked, &'static str),
}

/// Vouches for reports (see the module's docs).
#[derive(Debug, Clone)]
pub struct Voucher {
    store: Store,
    keys: LinkKeys,
}

impl Voucher {
    pub fn new(store: Store, keys: LinkKeys) -> Self {
        Self { store, keys }
    }

    /// A verdict for each report, in order. Fails only when AWS does (the caller retries).
    pub async fn vouch(&self, reports: Vec<Tracked>) -> anyhow::Result<Vec<Verdict>> {
        let mut verdicts: Vec<Option<Verdict>> = Vec::with_capacity(reports.len());
        let mut unsealed: BTreeMap<TenantId, Vec<MessageId>> = BTreeMap::new();
        for report in &reports {
            verdicts.push(match report.seal {
                SealState::Given(seal) => Some(match self.keys.existing(report.tenant).await? {
                    Some(key) if seal.verify(key.as_ref(), &report.sealed_ids()) => {
                        Verdict::Trusted(report.clone())
                    }
                    Some(_) => Verdict::Untrusted(report.clone(), "the seal does not match"),
                    None => Verdict::Untrusted(report.clone(), "the tenant has sealed nothing"),
                }),
                SealState::Garbled => Some(Verdict::Untrusted(report.clone(), "not a seal")),
                SealState::Absent => {
                    let ids = unsealed.entry(report.tenant).or_default();
                    if !ids.contains(&report.message) {
                        ids.push(report.message);
                    }
                    None
                }
            });
        }
        let mut records = BTreeMap::new();
        for (tenant, ids) in unsealed {
            for chunk in ids.chunks(100) {
                for (id, message) in self.store.get_messages(tenant, chunk).await? {
                    records.insert((tenant, id), message);
                }
            }
        }
        Ok(reports
            .into_iter()
            .zip(verdicts)
            .map(|(report, verdict)| {
                verdict.unwrap_or_else(|| match records.get(&(report.tenant, report.message)) {
                    Some(record) => by_record(report, record),
                    None => Verdict::Unknown(report),
                })
            })
            .collect())
    }
}

/// An unsealed report about a recorded message: the record's ids stand, the report's tags
/// do not.
fn by_record(mut report: Tracked, record: &crate::messages::Message) -> Verdict {
    if record.channel.is_some_and(|c| c != report.channel) {
        return Verdict::Untrusted(report, "the message went by another channel");
    }
    report.event = Some(record.event_id);
    report.campaign = record.campaign_id;
    report.expires = record.ttl;
    report.contact = None;
    Verdict::Trusted(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Channel, DeliveryEvent, TemplateCategory};
    use crate::ids::{CampaignId, ContactId, EventId};
    use crate::messages::MessageStatus;

    fn report(channel: Channel) -> Tracked {
        Tracked {
            tenant: TenantId::new(),
            message: MessageId::new(),
            event: Some(EventId::new()),
            campaign: Some(CampaignId::new()),
            contact: Some(ContactId::new()),
            expires: Some(1),
            provider: None,
            channel,
            kind: DeliveryEvent::Delivered,
            at: chrono::Utc::now(),
            sent_at: None,
            provider_message_id: None,
            detail: None,
            link: None,
            suppress: Vec::new(),
            recipient: None,
            opt_out: None,
            identity: "x".into(),
            seal: SealState::Absent,
        }
    }

    fn record(of: &Tracked, channel: Option<Channel>) -> crate::messages::Message {
        let now = chrono::Utc::now();
        crate::messages::Message {
            id: of.message,
            tenant_id: of.tenant,
            event_id: EventId::new(),
            campaign_id: None,
            guest_id: None,
            category: TemplateCategory::Invitation,
            status: MessageStatus::Sent,
            channel,
            provider_id: None,
            provider_message_id: None,
            attempts: 1,
            last_error: None,
            snapshot_version: None,
            created_at: now,
            updated_at: now,
            claimed_at: None,
            sent_at: Some(now),
            pending_job: None,
            ttl: Some(99),
            not_before: None,
            subject: None,
        }
    }

    #[test]
    fn a_record_vouches_with_its_own_ids_and_no_contact() {
        let r = report(Channel::Email);
        let m = record(&r, Some(Channel::Email));
        let Verdict::Trusted(t) = by_record(r.clone(), &m) else {
            panic!("trusted");
        };
        assert_eq!(
            (t.event, t.campaign, t.expires, t.contact),
            (Some(m.event_id), None, Some(99), None)
        );
        assert!(matches!(
            by_record(r.clone(), &record(&r, Some(Channel::Sms))),
            Verdict::Untrusted(_, _)
        ));
    }
}
