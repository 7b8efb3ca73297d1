//! Validated domain values: once parsed, never re-checked.

/// Display, serde (through `parse`) and an OpenAPI string schema for a parsed string value
/// with `parse(&str)` and `as_str()`; `$schema` states what `parse` takes (pattern, format,
/// enum, lengths) on the string schema it is given.
macro_rules! string_value {
    ($name:ident, $schema:expr) => {
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let schema: fn(utoipa::openapi::ObjectBuilder) -> utoipa::openapi::ObjectBuilder =
                    $schema;
                schema(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::String),
                )
                .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

mod address;
mod enums;
mod locale;

pub use address::{
    AddressError, DOMAIN_PATTERN, EMAIL_LOCAL_PATTERN, EmailAddress, PHONE_PATTERN, PhoneE164,
    email_pattern,
};
pub use enums::{
    CapPeriod, Channel, ConsentSource, ConversationStatus, CrmField, CrmKind, DeliveryEvent,
    Direction, Layer, Priority, ProviderKind, Role, RsvpSource, RsvpState, RsvpStatus,
    SyncDirection, SyncStatus, TemplateCategory, UnknownVariant, WebhookEventType,
};
pub use locale::{LOCALE_PATTERN, Locale, LocaleError, TimeZone, TimeZoneError};
