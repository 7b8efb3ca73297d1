//! Settings and credentials per provider kind, validated on write.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::domain::{EmailAddress, PhoneE164, ProviderKind};

/// One thing wrong with a field, with a JSON-pointer-like path (`settings.from_address`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FieldIssue {
    pub field: String,
    pub message: String,
}

impl FieldIssue {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Whether provider base URLs may use plain HTTP on loopback (local stack and tests only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UrlPolicy {
    #[default]
    HttpsOnly,
    AllowLoopbackHttp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SesSettings {
    pub from_address: EmailAddress,
    #[serde(default)]
    pub from_name: Option<String>,
    #[serde(default)]
    pub configuration_set: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpEmailSettings {
    pub from_address: EmailAddress,
    #[serde(default)]
    pub from_name: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SmsType {
    #[default]
    Transactional,
    Promotional,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnsSettings {
    #[serde(default)]
    pub sender_id: Option<String>,
    #[serde(default)]
    pub sms_type: SmsType,
    #[serde(default)]
    pub origination_number: Option<PhoneE164>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioSettings {
    pub account_sid: String,
    #[serde(default)]
    pub from_number: Option<PhoneE164>,
    #[serde(default)]
    pub messaging_service_sid: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsappSettings {
    pub phone_number_id: String,
    #[serde(default)]
    pub business_account_id: Option<String>,
    #[serde(default = "default_graph_version")]
    pub api_version: String,
    #[serde(default)]
    pub base_url: Option<String>,
}

fn default_graph_version() -> String {
    "v21.0".to_owned()
}

/// A provider's settings, parsed for its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderSettings {
    Ses(SesSettings),
    Brevo(HttpEmailSettings),
    Sendgrid(HttpEmailSettings),
    Sns(SnsSettings),
    Twilio(TwilioSettings),
    WhatsappCloud(WhatsappSettings),
}

impl ProviderSettings {
    /// Parses stored settings (validated when written).
    pub fn parse(kind: ProviderKind, value: &serde_json::Value) -> Result<Self, Vec<FieldIssue>> {
        fn typed<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, Vec<FieldIssue>> {
            serde_path_to_error::deserialize(value).map_err(|e| {
                let path = e.path().to_string();
                let field = if path == "." {
                    "settings".to_owned()
                } else {
                    format!("settings.{path}")
                };
                vec![FieldIssue::new(field, e.inner().to_string())]
            })
        }
        Ok(match kind {
            ProviderKind::Ses => Self::Ses(typed(value)?),
            ProviderKind::Brevo => Self::Brevo(typed(value)?),
            ProviderKind::Sendgrid => Self::Sendgrid(typed(value)?),
            ProviderKind::Sns => Self::Sns(typed(value)?),
            ProviderKind::Twilio => Self::Twilio(typed(value)?),
            ProviderKind::WhatsappCloud => Self::WhatsappCloud(typed(value)?),
        })
    }

    pub fn base_url(&self) -> Option<&str> {
        match self {
            Self::Brevo(s) | Self::Sendgrid(s) => s.base_url.as_deref(),
            Self::Twilio(s) => s.base_url.as_deref(),
            Self::WhatsappCloud(s) => s.base_url.as_deref(),
            Self::Ses(_) | Self::Sns(_) => None,
        }
    }

    fn to_value(&self) -> serde_json::Value {
        let value = match self {
            Self::Ses(s) => serde_json::to_value(s),
            Self::Brevo(s) | Self::Sendgrid(s) => serde_json::to_value(s),
            Self::Sns(s) => serde_json::to_value(s),
            Self::Twilio(s) => serde_json::to_value(s),
            Self::WhatsappCloud(s) => serde_json::to_value(s),
        };
        value.unwrap_or_default()
    }
}

/// The credential fields each kind requires (SES and SNS use the function's IAM role: none).
pub fn credential_fields(kind: ProviderKind) -> &'static [&'static str] {
    match kind {
        ProviderKind::Ses | ProviderKind::Sns => &[],
        ProviderKind::Brevo | ProviderKind::Sendgrid => &["api_key"],
        ProviderKind::Twilio => &["auth_token"],
        ProviderKind::WhatsappCloud => &["access_token"],
    }
}

/// Credential fields a kind may have besides the required ones: WhatsApp's `app_secret`
/// (verifies its webhooks' `X-Hub-Signature-256`) and `verify_token` (answers Meta's webhook
/// verification request).
pub fn optional_credential_fields(kind: ProviderKind) -> &'static [&'static str] {
    match kind {
        ProviderKind::WhatsappCloud => &["app_secret", "verify_token"],
        _ => &[],
    }
}

/// Validates settings for `kind`; returns them normalised (defaults filled in) for storage.
pub fn validate_settings(
    kind: ProviderKind,
    value: &serde_json::Value,
    urls: UrlPolicy,
) -> Result<serde_json::Value, Vec<FieldIssue>> {
    let settings = ProviderSettings::parse(kind, value)?;
    let mut issues = Vec::new();
    if let Some(Err(message)) = settings.base_url().map(|url| check_base_url(url, urls)) {
        issues.push(FieldIssue::new("settings.base_url", message));
    }
    match &settings {
        ProviderSettings::Sns(s) => {
            if let Some(id) = &s.sender_id {
                let ok = (1..=11).contains(&id.len())
                    && id.chars().all(|c| c.is_ascii_alphanumeric())
                    && id.chars().any(|c| c.is_ascii_alphabetic());
                if !ok {
                    issues.push(FieldIssue::new(
                        "settings.sender_id",
                        "1 to 11 letters and digits, at least one letter",
                    ));
                }
            }
        }
        ProviderSettings::Twilio(s) => {
            let sid_ok = s.account_sid.len() == 34
                && s.account_sid.starts_with("AC")
                && s.account_sid[2..].chars().all(|c| c.is_ascii_hexdigit());
            if !sid_ok {
                issues.push(FieldIssue::new(
                    "settings.account_sid",
                    "a Twilio account SID: 'AC' and 32 hexadecimal digits",
                ));
            }
            if s.from_number.is_none() && s.messaging_service_sid.is_none() {
                issues.push(FieldIssue::new(
                    "settings.from_number",
                    "give from_number or messaging_service_sid",
                ));
            }
        }
        ProviderSettings::WhatsappCloud(s) => {
            if s.phone_number_id.is_empty()
                || !s.phone_number_id.chars().all(|c| c.is_ascii_digit())
            {
                issues.push(FieldIssue::new(
                    "settings.phone_number_id",
                    "the numeric phone number id from WhatsApp Manager",
                ));
            }
            let v = s.api_version.strip_prefix('v').unwrap_or("");
            if v.is_empty() || !v.chars().all(|c| c.is_ascii_digit() || c == '.') {
                issues.push(FieldIssue::new(
                    "settings.api_version",
                    "a Graph API version such as 'v21.0'",
                ));
            }
        }
        ProviderSettings::Brevo(s) => {
            // Brevo's send endpoint refuses a sender name longer than this.
            if s.from_name
                .as_ref()
                .is_some_and(|n| n.chars().count() > BREVO_NAME_CHARS)
            {
                issues.push(FieldIssue::new(
                    "settings.from_name",
                    format!(
                        "at most {BREVO_NAME_CHARS} characters (Brevo's limit for a sender name)"
                    ),
                ));
            }
        }
        ProviderSettings::Ses(_) | ProviderSettings::Sendgrid(_) => {}
    }
    let value = settings.to_value();
    for (field, v) in value.as_object().into_iter().flatten() {
        let limit = if field == "base_url" {
            MAX_URL_CHARS
        } else {
            MAX_SETTING_CHARS
        };
        if v.as_str().is_some_and(|s| s.chars().count() > limit) {
            issues.push(FieldIssue::new(
                format!("settings.{field}"),
                format!("at most {limit} characters"),
            ));
        }
    }
    if issues.is_empty() {
        Ok(value)
    } else {
        Err(issues)
    }
}

/// The longest sender name Brevo takes (`sender.name` of `POST /v3/smtp/email`).
pub const BREVO_NAME_CHARS: usize = 70;

/// The longest free-text setting (names, ids, configuration sets).
pub const MAX_SETTING_CHARS: usize = 256;
/// The longest base URL.
pub const MAX_URL_CHARS: usize = 2048;

/// Checks that exactly the credential fields `kind` needs are given, none empty.
pub fn validate_credentials(
    kind: ProviderKind,
    credentials: &BTreeMap<String, String>,
) -> Result<(), Vec<FieldIssue>> {
    let wanted = credential_fields(kind);
    let optional = optional_credential_fields(kind);
    let mut issues = Vec::new();
    for field in optional {
        if let Some(v) = credentials.get(*field)
            && (v.trim().is_empty() || v.len() > 2048)
        {
            issues.push(FieldIssue::new(
                format!("credentials.{field}"),
                "must be 1 to 2048 characters",
            ));
        }
    }
    for field in wanted {
        match credentials.get(*field) {
            Some(v) if !v.trim().is_empty() && v.len() <= 2048 => {}
            Some(_) => issues.push(FieldIssue::new(
                format!("credentials.{field}"),
                "must be 1 to 2048 characters",
            )),
            None => issues.push(FieldIssue::new(
                format!("credentials.{field}"),
                "is required",
            )),
        }
    }
    for field in credentials
        .keys()
        .filter(|k| !wanted.contains(&k.as_str()) && !optional.contains(&k.as_str()))
    {
        let expected = if wanted.is_empty() {
            "none (this provider uses the function's IAM role)".to_owned()
        } else {
            wanted
                .iter()
                .chain(optional)
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        };
        issues.push(FieldIssue::new(
            format!("credentials.{field}"),
            format!("unknown field; expected {expected}"),
        ));
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(issues)
    }
}

pub fn check_base_url(url: &str, policy: UrlPolicy) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    let host = parsed.host_str().ok_or("the URL has no host")?;
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    match (parsed.scheme(), policy) {
        ("https", _) if !loopback => Ok(()),
        ("http" | "https", UrlPolicy::AllowLoopbackHttp) if loopback => Ok(()),
        ("https", UrlPolicy::HttpsOnly) => Err("loopback hosts are not allowed".to_owned()),
        _ => Err("must be an https URL".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn ses_needs_a_sender_and_no_unknown_fields() {
        assert!(
            validate_settings(
                ProviderKind::Ses,
                &json!({"from_address": "events@example.com"}),
                UrlPolicy::HttpsOnly
            )
            .is_ok()
        );
        let issues = validate_settings(
            ProviderKind::Ses,
            &json!({"from_address": "nope"}),
            UrlPolicy::HttpsOnly,
        )
        .unwrap_err();
        assert_eq!(issues[0].field, "settings.from_address");
        let issues = validate_settings(
            ProviderKind::Ses,
            &json!({"from_address": "a@b.co", "x": 1}),
            UrlPolicy::HttpsOnly,
        )
        .unwrap_err();
        assert!(issues[0].message.contains("unknown field"), "{issues:?}");
    }

    #[test]
    fn twilio_checks_sid_and_sender() {
        let issues = validate_settings(
            ProviderKind::Twilio,
            &json!({"account_sid": "AC1"}),
            UrlPolicy::HttpsOnly,
        )
        .unwrap_err();
        let fields: Vec<_> = issues.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(fields, ["settings.account_sid", "settings.from_number"]);
    }

    #[test]
    fn a_brevo_sender_name_keeps_to_brevo_s_limit() {
        let named = |n: usize| json!({"from_address": "a@b.co", "from_name": "n".repeat(n)});
        let check = |kind, n| validate_settings(kind, &named(n), UrlPolicy::HttpsOnly);
        assert!(check(ProviderKind::Brevo, BREVO_NAME_CHARS).is_ok());
        let issues = check(ProviderKind::Brevo, BREVO_NAME_CHARS + 1).unwrap_err();
        assert_eq!(issues[0].field, "settings.from_name");
        assert!(check(ProviderKind::Sendgrid, BREVO_NAME_CHARS + 1).is_ok());
    }

    #[test]
    fn base_urls_are_https_unless_loopback_is_allowed() {
        let body = |url: &str| json!({"from_address": "a@b.co", "base_url": url});
        assert!(
            validate_settings(
                ProviderKind::Brevo,
                &body("https://api.brevo.com"),
                UrlPolicy::HttpsOnly
            )
            .is_ok()
        );
        assert!(
            validate_settings(
                ProviderKind::Brevo,
                &body("http://api.brevo.com"),
                UrlPolicy::HttpsOnly
            )
            .is_err()
        );
        assert!(
            validate_settings(
                ProviderKind::Brevo,
                &body("http://127.0.0.1:9000"),
                UrlPolicy::HttpsOnly
            )
            .is_err()
        );
        assert!(
            validate_settings(
                ProviderKind::Brevo,
                &body("http://127.0.0.1:9000"),
                UrlPolicy::AllowLoopbackHttp
            )
            .is_ok()
        );
    }

    #[test]
    fn credentials_are_exactly_the_required_fields() {
        let creds = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(
            validate_credentials(ProviderKind::Sendgrid, &creds(&[("api_key", "SG.x")])).is_ok()
        );
        assert!(validate_credentials(ProviderKind::Sendgrid, &creds(&[])).is_err());
        assert!(validate_credentials(ProviderKind::Ses, &creds(&[("api_key", "x")])).is_err());
        assert!(
            validate_credentials(ProviderKind::Twilio, &creds(&[("auth_token", " ")])).is_err()
        );
    }
}
