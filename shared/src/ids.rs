//! Typed, prefixed ULID identifiers.
//!
//! Every id is a ULID behind a short prefix that names its kind (`ten_01J…`), so an id in a log
//! line says what it is, and an event id can never be passed where a tenant id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ulid::Ulid;

/// Why a string is not an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected an id of the form {prefix}_<26-character ULID>")]
pub struct IdError {
    pub prefix: &'static str,
}

macro_rules! prefixed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Ulid);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new id, ordered by creation time.
            pub fn new() -> Self {
                Self(Ulid::generate())
            }

            /// An id derived from `parts` (SHA-256), the same every time: re-importing or
            /// re-planning the same thing names the same item.
            pub fn derived(parts: &[&str]) -> Self {
                use sha2::Digest as _;
                let mut hasher = sha2::Sha256::new();
                for part in parts {
                    hasher.update(part.as_bytes());
                    hasher.update([0u8]);
                }
                let digest = hasher.finalize();
                let mut bytes = [0u8; 16];
                bytes.copy_from_slice(&digest[..16]);
                Self(Ulid::from_bytes(bytes))
            }

            /// The ULID's 16 bytes (compact encodings, such as preference tokens).
            pub fn to_bytes(self) -> [u8; 16] {
                self.0.to_bytes()
            }

            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Ulid::from_bytes(bytes))
            }

            /// Parses `prefix_ULID`; anything else (another kind's prefix, a bad ULID) fails.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                s.strip_prefix(concat!($prefix, "_"))
                    .and_then(|rest| Ulid::from_string(rest).ok())
                    .map(Self)
                    .ok_or(IdError { prefix: $prefix })
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "_{}"), self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some(concat!(
                        "`", $prefix, "_` and a ULID: 26 characters of Crockford's base 32 ",
                        "(Herald writes them in upper case)."
                    )))
                    .pattern(Some(concat!("^", $prefix, "_[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$")))
                    .examples([serde_json::json!(concat!($prefix, "_01JD2Z7Q8V0M3R5T6W9X1Y2Z3A"))])
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

prefixed_id!(
    /// A person known to a tenant, across events: where consent lives.
    ContactId, "cnt");

prefixed_id!(
    /// A tenant: an organisation that runs events.
    TenantId, "ten");
prefixed_id!(
    /// An event run by a tenant.
    EventId, "evt");
prefixed_id!(
    /// A guest of an event.
    GuestId, "gst");
prefixed_id!(
    /// A campaign: one template category sent to an audience.
    CampaignId, "cmp");
prefixed_id!(
    /// One message to one recipient.
    MessageId, "msg");
prefixed_id!(
    /// A template at one layer.
    TemplateId, "tpl");
prefixed_id!(
    /// A communication provider configuration.
    ProviderId, "prv");
prefixed_id!(
    /// An API key (its id, never its secret).
    ApiKeyId, "key");

prefixed_id!(
    /// One run of a tenant's CRM sync.
    SyncRunId, "syn");
prefixed_id!(
    /// A webhook endpoint a tenant registered.
    WebhookId, "whk");
prefixed_id!(
    /// One webhook message (an event, delivered to one endpoint, perhaps in several attempts).
    WebhookMessageId, "whm");
prefixed_id!(
    /// A conversation: one contact (or an unknown sender) and one event, across channels.
    ConversationId, "cnv");
prefixed_id!(
    /// One message of a conversation, in or out.
    ThreadMessageId, "cvm");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_display_and_parse() {
        let id = TenantId::new();
        assert_eq!(TenantId::parse(&id.to_string()), Ok(id));
        assert!(id.to_string().starts_with("ten_"));
    }

    #[test]
    fn rejects_another_kind_and_garbage() {
        let event = EventId::new().to_string();
        assert!(TenantId::parse(&event).is_err());
        assert!(TenantId::parse("ten_").is_err());
        assert!(TenantId::parse("ten_not-a-ulid-at-all-xxxxxxxx").is_err());
        assert!(TenantId::parse("").is_err());
    }

    #[test]
    fn serde_uses_the_prefixed_form() {
        let id = ProviderId::new();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        let back: ProviderId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
        assert!(serde_json::from_str::<ProviderId>("\"tpl_01JD2Z7Q8V0M3R5T6W9X1Y2Z3A\"").is_err());
    }
}
