//! The tracking seal: the sender's signature over the ids it gives a provider with a message
//! (SES's message tags, Twilio's status callback URL, WhatsApp's `biz_opaque_callback_data`),
//! so that a report naming them can be believed without reading anything.
//!
//! Whoever can publish to the tracker's SNS topic or queue, or send mail through Herald's
//! configuration set, can write any tags; only Herald holds the tenant's key. The seal is an
//! HMAC-SHA256, truncated to 128 bits, of the tenant, message, event, campaign, contact and
//! expiry, under a key derived from the tenant's preference-link key (the same 256-bit secret,
//! sealed with KMS, that signs the guest's links; a separate derived key, so a seal can never
//! pass for a link signature or the reverse). A report with a valid seal is trusted; one with
//! an invalid seal never is; one without a seal is trusted only when the message's record is
//! in the tenant (see `herald::tracking::vouch`).
//!
//! The provider id is left out on purpose: SES's tag for it is added per attempt (failover
//! picks the provider after the message is composed), and a provider callback names its
//! provider in a path the provider's own signature covers.

use aws_lc_rs::hmac;
use base64::Engine as _;

use crate::ids::{CampaignId, ContactId, EventId, MessageId, TenantId};

/// The SES message tag that carries the seal.
pub const SEAL_TAG: &str = "herald_seal";

/// What a seal vouches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedIds {
    pub tenant: TenantId,
    pub message: MessageId,
    pub event: Option<EventId>,
    pub campaign: Option<CampaignId>,
    pub contact: Option<ContactId>,
    pub expires: Option<i64>,
}

/// A seal: 128 bits, written as 22 characters of unpadded base64url (which SES tag values,
/// URLs and WhatsApp's callback data all take as they are).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seal([u8; 16]);

const DOMAIN: &[u8] = b"herald tracking seal v1";

fn derived_key(link_key: &[u8]) -> hmac::Key {
    let outer = hmac::Key::new(hmac::HMAC_SHA256, link_key);
    hmac::Key::new(hmac::HMAC_SHA256, hmac::sign(&outer, DOMAIN).as_ref())
}

fn signed_data(ids: &SealedIds) -> String {
    let text = |v: Option<String>| v.unwrap_or_default();
    [
        ids.tenant.to_string(),
        ids.message.to_string(),
        text(ids.event.map(|e| e.to_string())),
        text(ids.campaign.map(|c| c.to_string())),
        text(ids.contact.map(|c| c.to_string())),
        text(ids.expires.map(|e| e.to_string())),
    ]
    .join("\u{1f}")
}

impl Seal {
    /// The seal of `ids` under the tenant's link key.
    pub fn of(link_key: &[u8], ids: &SealedIds) -> Self {
        let tag = hmac::sign(&derived_key(link_key), signed_data(ids).as_bytes());
        let mut out = [0u8; 16];
        out.copy_from_slice(&tag.as_ref()[..16]);
        Self(out)
    }

    /// Whether this is the seal of `ids` under the tenant's link key (in constant time).
    pub fn verify(&self, link_key: &[u8], ids: &SealedIds) -> bool {
        let expected = Self::of(link_key, ids);
        aws_lc_rs::constant_time::verify_slices_are_equal(&expected.0, &self.0).is_ok()
    }

    /// Reads a seal as written by [`Seal::to_string`]; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 22 {
            return None;
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        bytes.try_into().ok().map(Self)
    }
}

impl std::fmt::Display for Seal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.0))
    }
}

/// What a report says about its seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealState {
    /// No seal (a message sent before seals, or a report Herald did not cause).
    Absent,
    /// A seal, to verify against the ids the report names.
    Given(Seal),
    /// Something that is not a seal where one belongs: never trusted.
    Garbled,
}

impl SealState {
    /// Reads an optional seal field.
    pub fn read(text: Option<&str>) -> Self {
        match text {
            None => Self::Absent,
            Some(t) => Seal::parse(t).map_or(Self::Garbled, Self::Given),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ids() -> SealedIds {
        SealedIds {
            tenant: TenantId::new(),
            message: MessageId::new(),
            event: Some(EventId::new()),
            campaign: None,
            contact: Some(ContactId::new()),
            expires: Some(1_900_000_000),
        }
    }

    #[test]
    fn a_seal_verifies_only_its_own_ids_under_its_own_key() {
        let key = [7u8; 32];
        let ids = ids();
        let seal = Seal::of(&key, &ids);
        assert!(seal.verify(&key, &ids));
        assert!(!seal.verify(&[8u8; 32], &ids));
        let changes = [
            SealedIds {
                tenant: TenantId::new(),
                ..ids
            },
            SealedIds {
                message: MessageId::new(),
                ..ids
            },
            SealedIds { event: None, ..ids },
            SealedIds {
                campaign: Some(CampaignId::new()),
                ..ids
            },
            SealedIds {
                contact: Some(ContactId::new()),
                ..ids
            },
            SealedIds {
                expires: Some(1_900_000_001),
                ..ids
            },
        ];
        for changed in changes {
            assert!(!seal.verify(&key, &changed), "{changed:?}");
        }
    }

    #[test]
    fn a_seal_is_not_the_link_signature_of_the_same_key() {
        // The derived key differs from the link key itself.
        let key = [9u8; 32];
        let ids = ids();
        let plain = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &key),
            signed_data(&ids).as_bytes(),
        );
        assert_ne!(&plain.as_ref()[..16], &Seal::of(&key, &ids).0);
    }

    #[test]
    fn reading_takes_only_what_writing_gives() {
        assert_eq!(SealState::read(None), SealState::Absent);
        assert_eq!(SealState::read(Some("short")), SealState::Garbled);
        assert_eq!(
            SealState::read(Some("!!!!!!!!!!!!!!!!!!!!!!")),
            SealState::Garbled
        );
        let seal = Seal::of(&[1u8; 32], &ids());
        assert_eq!(
            SealState::read(Some(&seal.to_string())),
            SealState::Given(seal)
        );
    }

    proptest! {
        #[test]
        fn written_seals_are_valid_ses_tag_values(key in proptest::array::uniform32(any::<u8>())) {
            let seal = Seal::of(&key, &ids_fixed());
            let text = seal.to_string();
            // SES: letters, digits, '_', '-', '.', '@'; at most 256 characters.
            prop_assert_eq!(text.len(), 22);
            prop_assert!(text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
            prop_assert_eq!(Seal::parse(&text), Some(seal));
        }
    }

    fn ids_fixed() -> SealedIds {
        SealedIds {
            tenant: "ten_01JD0000000000000000000000".parse().expect("id"),
            message: "msg_01JD0000000000000000000000".parse().expect("id"),
            event: None,
            campaign: None,
            contact: None,
            expires: None,
        }
    }
}
