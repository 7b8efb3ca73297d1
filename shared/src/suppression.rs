//! The tenant's suppression list: addresses Herald does not send to. Hard bounces and
//! complaints add to it at once (the tracker); tenants add and remove entries over the API.
//!
//! The list holds no addresses in clear: an entry is named by its channel kind and the SHA-256
//! of the normalised address (so the send path can look an address up), and shows a masked
//! hint (`a•••@example.com`, `+44•••••89`) so a person can tell entries apart.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::Channel;
use crate::ids::MessageId;
use crate::messages::suppression_key;

/// Why an address is on the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SuppressionSource {
    /// A permanent (hard) bounce.
    Bounce,
    /// The recipient marked a message as spam.
    Complaint,
    /// Added over the API.
    Manual,
    /// The contact was erased: only this hash of the address is kept, so an opt-out holds.
    Erasure,
}

/// One entry of a tenant's suppression list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Suppression {
    /// `email:<sha256>` or `phone:<sha256>` of the normalised address.
    pub id: String,
    /// `email` or `phone` (SMS and WhatsApp share a phone's entry).
    pub kind: String,
    /// The address, masked.
    pub hint: String,
    pub source: SuppressionSource,
    pub reason: String,
    /// The message whose bounce or complaint put it here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    pub created_at: DateTime<Utc>,
}

impl Suppression {
    pub fn new(
        channel: Channel,
        address: &str,
        source: SuppressionSource,
        reason: &str,
        message_id: Option<MessageId>,
    ) -> Self {
        let sk = suppression_key(channel, address);
        let kind = sk.split('#').next().unwrap_or_default().to_owned();
        Self {
            id: id_of_key(&sk),
            kind,
            hint: hint(channel, address),
            source,
            reason: reason.chars().take(500).collect(),
            message_id,
            created_at: Utc::now(),
        }
    }

    /// The entry's sort key in the suppression partition.
    pub fn key(&self) -> String {
        self.id.replacen(':', "#", 1)
    }
}

/// The API id of a suppression sort key (`email#…` → `email:…`).
pub fn id_of_key(sk: &str) -> String {
    sk.replacen('#', ":", 1)
}

/// The sort key of an API id, when it is one (`email:` or `phone:` and 64 hex digits).
pub fn key_of_id(id: &str) -> Option<String> {
    let (kind, hash) = id.split_once(':')?;
    let ok = matches!(kind, "email" | "phone")
        && hash.len() == 64
        && hash
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
    ok.then(|| format!("{kind}#{hash}"))
}

/// A masked address: an email keeps its first character and domain, a phone number its
/// country prefix and last two digits.
pub fn hint(channel: Channel, address: &str) -> String {
    let address = address.trim();
    match channel {
        Channel::Email => match address.rsplit_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}•••@{}", domain.to_lowercase())
            }
            None => "•••".to_owned(),
        },
        Channel::Sms | Channel::Whatsapp => {
            let digits: Vec<char> = address.chars().filter(char::is_ascii_digit).collect();
            if digits.len() < 6 {
                return "•••".to_owned();
            }
            let head: String = digits[..2].iter().collect();
            let tail: String = digits[digits.len() - 2..].iter().collect();
            format!("+{head}•••••{tail}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_hold_no_address_in_clear() {
        let s = Suppression::new(
            Channel::Email,
            " Ada.Lovelace@Example.com ",
            SuppressionSource::Manual,
            "asked us",
            None,
        );
        assert_eq!(s.hint, "A•••@example.com");
        assert!(
            !serde_json::to_string(&s)
                .expect("json")
                .contains("Lovelace")
        );
        assert_eq!(key_of_id(&s.id), Some(s.key()));
        assert_eq!(
            s.key(),
            suppression_key(Channel::Email, "ada.lovelace@example.com")
        );
        let phone = Suppression::new(
            Channel::Whatsapp,
            "+447700900123",
            SuppressionSource::Bounce,
            "",
            None,
        );
        assert_eq!(phone.hint, "+44•••••23");
        assert_eq!(phone.kind, "phone");
        assert_eq!(key_of_id("email:nothex"), None);
        assert_eq!(key_of_id("fax:".to_owned().as_str()), None);
    }
}
