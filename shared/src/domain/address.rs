//! Email addresses and E.164 phone numbers.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("not a valid email address")]
    Email,
    #[error("not an E.164 phone number (a '+', then 8 to 15 digits, the first not 0)")]
    Phone,
}

/// An email address: `local@domain`, the domain lower-cased, at most 254 characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        let s = s.trim();
        if s.is_empty() || s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(AddressError::Email);
        }
        let (local, domain) = s.rsplit_once('@').ok_or(AddressError::Email)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if !(local_ok && domain_ok) {
            return Err(AddressError::Email);
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

/// An international phone number in E.164 form: `+` and 8 to 15 digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneE164(String);

impl PhoneE164 {
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        let compact: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
            .collect();
        let digits = compact.strip_prefix('+').ok_or(AddressError::Phone)?;
        let ok = (8..=15).contains(&digits.len())
            && digits.chars().all(|c| c.is_ascii_digit())
            && !digits.starts_with('0');
        if ok {
            Ok(Self(compact))
        } else {
            Err(AddressError::Phone)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Addresses are personal data: their Debug form is masked so they never reach a log in clear.
impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress(…@{})", self.domain())
    }
}

impl fmt::Debug for PhoneE164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tail = &self.0[self.0.len().saturating_sub(2)..];
        write!(f, "PhoneE164(…{tail})")
    }
}

/// The local part of an address [`EmailAddress::parse`] takes, as a pattern for the OpenAPI
/// document: its ASCII characters (it also takes other letters and digits), in dot-separated
/// atoms of at most 64 characters in all (at most four atoms, for a pattern to say so).
pub const EMAIL_LOCAL_PATTERN: &str = concat!(
    r"(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,64}",
    r"|[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,31}\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,32}",
    r"|[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}){2}",
    r"|[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,15}(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,15}){3})"
);
/// A domain as [`EmailAddress::parse`] takes it (ASCII letters and digits): two or more labels
/// of at most 63 characters, no hyphen at either end of one.
pub const DOMAIN_PATTERN: &str = concat!(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
);
/// An email address, anchored (see [`EMAIL_LOCAL_PATTERN`] and [`DOMAIN_PATTERN`]).
pub fn email_pattern() -> String {
    format!("^{EMAIL_LOCAL_PATTERN}@{DOMAIN_PATTERN}$")
}
/// What [`PhoneE164::parse`] takes, written compactly, for the OpenAPI document.
pub const PHONE_PATTERN: &str = r"^\+[1-9][0-9]{7,14}$";

string_value!(EmailAddress, |s| s
    .description(Some(
        "An email address: a local part of at most 64 characters, `@`, and a domain of at \
         least two labels; at most 254 characters.",
    ))
    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
        utoipa::openapi::KnownFormat::Email
    )))
    .max_length(Some(254))
    .pattern(Some(email_pattern()))
    .examples([serde_json::json!("guest@example.com")]));
string_value!(PhoneE164, |s| s
    .description(Some(
        "An international phone number in E.164 form: `+` and 8 to 15 digits, the first not 0.",
    ))
    .pattern(Some(PHONE_PATTERN))
    .examples([serde_json::json!("+447700900123")]));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            EmailAddress::parse(" Ann@Example.COM ").unwrap().as_str(),
            "Ann@example.com"
        );
        for bad in [
            "",
            "a",
            "a@b",
            "@x.com",
            "a@.com",
            "a b@x.com",
            "a@x..com",
            ".a@x.com",
            "a@-x.com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
        let e = EmailAddress::parse("ann@example.com").unwrap();
        assert!(!format!("{e:?}").contains("ann"));
    }

    #[test]
    fn phones() {
        assert_eq!(
            PhoneE164::parse("+44 7700 900123").unwrap().as_str(),
            "+447700900123"
        );
        for bad in [
            "",
            "447700900123",
            "+0447700900",
            "+12",
            "+1234567890123456",
            "+44abc",
        ] {
            assert!(PhoneE164::parse(bad).is_err(), "{bad}");
        }
    }
}
