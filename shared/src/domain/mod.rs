//! Validated domain values: once parsed, never re-checked.

mod address;
mod enums;
mod locale;

pub use address::{AddressError, EmailAddress, PhoneE164};
pub use enums::{Channel, Layer, ProviderKind, Role, TemplateCategory, UnknownVariant};
pub use locale::{Locale, LocaleError, TimeZone, TimeZoneError};
