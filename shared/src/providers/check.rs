//! Connection tests: one cheap, authenticated call per provider that proves the configuration works.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use utoipa::ToSchema;

use super::settings::{HttpEmailSettings, ProviderSettings};
use crate::aws::LazyClient;
use crate::domain::ProviderKind;

/// The clients a connection test may use.
#[derive(Clone, Debug)]
pub struct ProviderClients {
    pub ses: LazyClient<aws_sdk_sesv2::Client>,
    pub sns: LazyClient<aws_sdk_sns::Client>,
    pub http: reqwest::Client,
}

impl ProviderClients {
    /// The SES, SNS and HTTP clients, from the shared SDK configuration. SES and SNS are built
    /// on first use: an instance that only sends email never needs SNS, nor one that only
    /// sends SMS SES, and most API requests need neither.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> anyhow::Result<Self> {
        Ok(Self {
            ses: LazyClient::new(sdk, aws_sdk_sesv2::Client::new),
            sns: LazyClient::new(sdk, aws_sdk_sns::Client::new),
            http: crate::aws::http_client()?,
        })
    }
}

/// The outcome of a connection test. A provider that answers "no" is a failed check, not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConnectionCheck {
    pub ok: bool,
    /// What was asked of the provider, e.g. `SESv2 GetEmailIdentity`.
    pub checked: String,
    pub detail: String,
    pub elapsed_ms: u64,
}

pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Tests a provider's connection with its settings and decrypted credentials.
pub async fn check_connection(
    clients: &ProviderClients,
    kind: ProviderKind,
    settings: &serde_json::Value,
    credentials: &BTreeMap<String, String>,
) -> ConnectionCheck {
    let started = Instant::now();
    let (ok, checked, detail) = match ProviderSettings::parse(kind, settings) {
        Err(issues) => (
            false,
            "settings".to_owned(),
            format!("stored settings are invalid: {}", issues[0].message),
        ),
        Ok(settings) => run_check(clients, &settings, credentials).await,
    };
    ConnectionCheck {
        ok,
        checked,
        detail,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

async fn run_check(
    clients: &ProviderClients,
    settings: &ProviderSettings,
    creds: &BTreeMap<String, String>,
) -> (bool, String, String) {
    let secret = |name: &str| creds.get(name).cloned().unwrap_or_default();
    match settings {
        ProviderSettings::Ses(s) => {
            check_ses(
                &clients.ses,
                s.from_address.as_str(),
                s.from_address.domain(),
            )
            .await
        }
        ProviderSettings::Sns(_) => {
            let checked = "SNS GetSMSAttributes".to_owned();
            match clients.sns.get_sms_attributes().send().await {
                Ok(out) => {
                    let n = out.attributes.map(|a| a.len()).unwrap_or(0);
                    (
                        true,
                        checked,
                        format!("SNS answered with {n} SMS attributes"),
                    )
                }
                Err(e) => (
                    false,
                    checked,
                    format!("SNS refused: {}", aws_error_text(&e)),
                ),
            }
        }
        ProviderSettings::Brevo(s) => {
            let url = format!("{}/v3/account", base(s, "https://api.brevo.com"));
            http_check(
                clients.http.get(&url).header("api-key", secret("api_key")),
                "Brevo GET /v3/account",
            )
            .await
        }
        ProviderSettings::Sendgrid(s) => {
            let url = format!("{}/v3/scopes", base(s, "https://api.sendgrid.com"));
            http_check(
                clients.http.get(&url).bearer_auth(secret("api_key")),
                "SendGrid GET /v3/scopes",
            )
            .await
        }
        ProviderSettings::Twilio(s) => {
            let root = s
                .base_url
                .as_deref()
                .unwrap_or("https://api.twilio.com")
                .trim_end_matches('/');
            let url = format!("{root}/2010-04-01/Accounts/{}.json", s.account_sid);
            let request = clients
                .http
                .get(&url)
                .basic_auth(&s.account_sid, Some(secret("auth_token")));
            http_check(request, "Twilio GET /2010-04-01/Accounts/{sid}.json").await
        }
        ProviderSettings::WhatsappCloud(s) => {
            let root = s
                .base_url
                .as_deref()
                .unwrap_or("https://graph.facebook.com")
                .trim_end_matches('/');
            let url = format!(
                "{root}/{}/{}?fields=display_phone_number,verified_name",
                s.api_version, s.phone_number_id
            );
            http_check(
                clients.http.get(&url).bearer_auth(secret("access_token")),
                "WhatsApp GET /{version}/{phone_number_id}",
            )
            .await
        }
    }
}

fn base<'a>(s: &'a HttpEmailSettings, default: &'a str) -> &'a str {
    s.base_url
        .as_deref()
        .unwrap_or(default)
        .trim_end_matches('/')
}

async fn check_ses(
    ses: &aws_sdk_sesv2::Client,
    address: &str,
    domain: &str,
) -> (bool, String, String) {
    let checked = "SESv2 GetEmailIdentity".to_owned();
    for identity in [address, domain] {
        match ses
            .get_email_identity()
            .email_identity(identity)
            .send()
            .await
        {
            Ok(out)
                if out.verified_for_sending_status
                    || out.verification_status
                        == Some(aws_sdk_sesv2::types::VerificationStatus::Success) =>
            {
                return (
                    true,
                    checked,
                    format!("identity {identity} is verified for sending"),
                );
            }
            Ok(out) => {
                let status = out
                    .verification_status
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_else(|| "unknown".to_owned());
                return (
                    false,
                    checked,
                    format!("identity {identity} is not verified for sending (status {status})"),
                );
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_not_found_exception()) =>
            {
                continue;
            }
            Err(e) => {
                return (
                    false,
                    checked,
                    format!("SES refused: {}", aws_error_text(&e)),
                );
            }
        }
    }
    (
        false,
        checked,
        format!(
            "neither the address nor the domain {domain} is an SES identity; register it first"
        ),
    )
}

async fn http_check(request: reqwest::RequestBuilder, checked: &str) -> (bool, String, String) {
    let checked = checked.to_owned();
    match request.timeout(HTTP_TIMEOUT).send().await {
        Ok(r) if r.status().is_success() => (
            true,
            checked,
            format!("the provider answered {}", r.status().as_u16()),
        ),
        Ok(r) if matches!(r.status().as_u16(), 401 | 403) => (
            false,
            checked,
            format!(
                "the provider rejected the credentials ({})",
                r.status().as_u16()
            ),
        ),
        Ok(r) => (
            false,
            checked,
            format!("the provider answered {}", r.status().as_u16()),
        ),
        Err(e) if e.is_timeout() => (
            false,
            checked,
            "the provider did not answer within 10 s".to_owned(),
        ),
        Err(e) if e.is_connect() => (
            false,
            checked,
            "could not connect to the provider".to_owned(),
        ),
        Err(_) => (
            false,
            checked,
            "the request to the provider failed".to_owned(),
        ),
    }
}

fn aws_error_text(e: &impl aws_smithy_types::error::metadata::ProvideErrorMetadata) -> String {
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => {
            format!("{code}: {}", message.chars().take(200).collect::<String>())
        }
        (Some(code), None) => code.to_owned(),
        _ => "the service could not be reached".to_owned(),
    }
}
