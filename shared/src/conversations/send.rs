//! Sending a conversation's reply (a person's, an automatic reply, a keyword's answer): plain
//! text through the tenant's provider for the channel — on SMS and WhatsApp the one the guest
//! wrote to, so the answer comes from the number they know — with Herald's reply address on
//! email so the guest's next answer threads too.

use crate::config::Provider;
use crate::domain::Channel;
use crate::ids::{EventId, ProviderId, TenantId};
use crate::providers::ProviderClients;
use crate::providers::send::{Outgoing, SendError};
use crate::render::RenderedMessage;

/// The provider a reply on `channel` goes through: the one that received the guest's message
/// on it (`via`) while it is active; else the channel's active provider of the event's layer,
/// then of the tenant's, lowest priority first.
pub fn pick_provider(
    providers: &[Provider],
    channel: Channel,
    via: Option<ProviderId>,
    event: Option<EventId>,
) -> Option<&Provider> {
    if let Some(p) = via.and_then(|id| {
        providers
            .iter()
            .find(|p| p.id == id && p.channel == channel && p.active)
    }) {
        return Some(p);
    }
    providers
        .iter()
        .filter(|p| p.active && p.channel == channel)
        .filter(|p| p.event_id.is_none() || (event.is_some() && p.event_id == event))
        .min_by_key(|p| (p.event_id.is_none(), p.priority))
}

/// A reply's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub to: String,
    /// Email only.
    pub subject: Option<String>,
    pub text: String,
    /// Email only: Herald's reply address for this message.
    pub reply_to: Option<String>,
    /// Sent by Herald, not a person: email says so (RFC 3834 `Auto-Submitted: auto-replied`),
    /// so the guest's own autoresponder does not answer it.
    pub automatic: bool,
}

/// The reply address of a conversation's emailed message: its token names the tenant and a
/// message id derived from the thread message, so the guest's answer threads back here (it
/// names no message record, so the answer is filed by its sender's address).
pub fn reply_address(
    link_key: &[u8],
    tenant: TenantId,
    message: crate::ids::ThreadMessageId,
    domain: &str,
) -> String {
    let token = crate::inbound::address::ReplyTo {
        tenant,
        message: crate::ids::MessageId::derived(&[&message.to_string()]),
    };
    token.address(&crate::inbound::address::ReplyKey::derive(link_key), domain)
}

/// The subject of an emailed reply: `Re:` and the guest's subject, once.
pub fn reply_subject(subject: Option<&str>, fallback: &str) -> String {
    let subject = subject
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(fallback);
    match subject.get(..3) {
        Some(re) if re.eq_ignore_ascii_case("re:") => subject.to_owned(),
        _ => format!("Re: {subject}"),
    }
}

/// Sends `reply` through `provider` (its credentials opened with KMS); the provider's message
/// id.
pub async fn send_reply(
    clients: &ProviderClients,
    sealer: &crate::secrets::Sealer,
    tenant: TenantId,
    provider: &Provider,
    reply: &Reply,
    configuration_set: Option<&str>,
) -> Result<String, SendError> {
    let credentials = sealer
        .open(tenant, &provider.id.to_string(), &provider.credentials)
        .await
        .map_err(|e| SendError::Retryable(format!("opening the provider's credentials: {e}")))?;
    let message = RenderedMessage {
        subject: reply.subject.clone(),
        html: None,
        text: Some(reply.text.clone()),
        sms: None,
    };
    let out = Outgoing {
        to: &reply.to,
        from: None,
        message: &message,
        tags: Vec::new(),
        headers: match (provider.channel, reply.automatic) {
            (Channel::Email, true) => {
                vec![("Auto-Submitted".to_owned(), "auto-replied".to_owned())]
            }
            _ => Vec::new(),
        },
        reply_to: reply.reply_to.clone(),
        configuration_set: configuration_set.map(str::to_owned),
        tracking: None,
    };
    crate::providers::send::send(clients, provider, &credentials, &out).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_get_one_re() {
        assert_eq!(reply_subject(Some("Gala"), "x"), "Re: Gala");
        assert_eq!(reply_subject(Some("RE: Gala"), "x"), "RE: Gala");
        assert_eq!(reply_subject(None, "Winter gala"), "Re: Winter gala");
    }
}
