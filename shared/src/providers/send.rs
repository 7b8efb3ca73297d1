//! Sending one rendered message through one provider: SES v2 SendEmail, SNS Publish, and the
//! documented HTTP APIs of Brevo, SendGrid, Twilio and the WhatsApp Cloud API.
//!
//! A failure says whether another attempt (or the next provider) could succeed: throttling,
//! 5xx answers and timeouts are retryable; a refused address or request is permanent.

use std::collections::BTreeMap;

use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageTag};
use serde_json::{Value, json};

use super::bodies::{BrevoEmail, SendgridMail};
use super::check::ProviderClients;
use super::settings::{HttpEmailSettings, ProviderSettings, SmsType};
use crate::config::Provider;
use crate::render::RenderedMessage;

/// Who the message is from (email only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct From {
    pub address: String,
    pub name: Option<String>,
}

/// What to send, already rendered.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    /// An email address or an E.164 number.
    pub to: &'a str,
    /// Email: overrides the provider's configured From.
    pub from: Option<From>,
    pub message: &'a RenderedMessage,
    /// Email: SES message tags (name, value), e.g. tenant, event and message ids.
    pub tags: Vec<(String, String)>,
    /// Email: extra headers, e.g. `List-Unsubscribe`.
    pub headers: Vec<(String, String)>,
    /// Email: the `Reply-To` address (Herald's per-message reply address, see
    /// `herald::inbound::address`): SES's `ReplyToAddresses`, Brevo's `replyTo`, SendGrid's
    /// `reply_to`.
    pub reply_to: Option<String>,
    /// SES: the configuration set when the provider names none (Herald's, whose events reach
    /// the tracker).
    pub configuration_set: Option<String>,
    /// Which message this is, so the provider's delivery reports find it: SES gets the
    /// provider's id as a tag, Twilio a status callback URL (when Herald's public URL is
    /// known), WhatsApp the message as `biz_opaque_callback_data`.
    pub tracking: Option<Tracking>,
}

/// What a provider's delivery reports must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracking {
    pub tenant: crate::ids::TenantId,
    pub event: Option<crate::ids::EventId>,
    pub campaign: Option<crate::ids::CampaignId>,
    pub message: crate::ids::MessageId,
    pub contact: Option<crate::ids::ContactId>,
    /// When the message's record expires (Unix seconds).
    pub expires: Option<i64>,
    /// The sender's seal over these ids (see `herald::tracking::seal`).
    pub seal: crate::tracking::seal::SealState,
    /// Herald's public API URL (for Twilio's status callbacks).
    pub public_url: Option<String>,
}

impl Tracking {
    fn context(&self, provider: &Provider) -> crate::tracking::CallbackContext {
        crate::tracking::CallbackContext {
            tenant: self.tenant,
            provider: provider.id,
            event: self.event,
            campaign: self.campaign,
            message: self.message,
            contact: self.contact,
            expires: self.expires,
            seal: self.seal,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("retryable: {0}")]
    Retryable(String),
    /// The provider answered 429: retryable, and not before `retry_after` when it said so.
    #[error("throttled: {reason}")]
    Throttled {
        reason: String,
        retry_after: Option<std::time::Duration>,
    },
    #[error("permanent: {0}")]
    Permanent(String),
}

impl SendError {
    pub fn is_retryable(&self) -> bool {
        !matches!(self, SendError::Permanent(_))
    }

    /// What happened, without the kind.
    pub fn reason(&self) -> &str {
        match self {
            SendError::Retryable(r) | SendError::Permanent(r) => r,
            SendError::Throttled { reason, .. } => reason,
        }
    }
}

/// Sends through `provider` with its decrypted `credentials`; returns the provider's message id
/// (or, when a provider accepted the message without naming it, a local reference: see
/// [`LOCAL_REFERENCE`]).
pub async fn send(
    clients: &ProviderClients,
    provider: &Provider,
    credentials: &BTreeMap<String, String>,
    out: &Outgoing<'_>,
) -> Result<String, SendError> {
    let settings = ProviderSettings::parse(provider.kind, &provider.settings).map_err(|i| {
        SendError::Permanent(format!("stored settings are invalid: {}", i[0].message))
    })?;
    let secret = |name: &str| credentials.get(name).cloned().unwrap_or_default();
    let text = out.message.text.clone().unwrap_or_default();
    match &settings {
        ProviderSettings::Ses(s) => {
            let from = out.from.clone().unwrap_or(From {
                address: s.from_address.as_str().to_owned(),
                name: s.from_name.clone(),
            });
            let set = s
                .configuration_set
                .as_deref()
                .or(out.configuration_set.as_deref());
            match &out.tracking {
                Some(_) => {
                    let mut tagged = out.clone();
                    tagged
                        .tags
                        .push(("herald_provider".to_owned(), provider.id.to_string()));
                    send_ses(clients, set, &from, &tagged).await
                }
                None => send_ses(clients, set, &from, out).await,
            }
        }
        ProviderSettings::Sns(s) => {
            let mut request = clients
                .sns
                .publish()
                .phone_number(out.to)
                .message(&text)
                .message_attributes(
                    "AWS.SNS.SMS.SMSType",
                    sns_string(match s.sms_type {
                        SmsType::Transactional => "Transactional",
                        SmsType::Promotional => "Promotional",
                    })?,
                );
            if let Some(id) = &s.sender_id {
                request = request.message_attributes("AWS.SNS.SMS.SenderID", sns_string(id)?);
            }
            if let Some(number) = &s.origination_number {
                request = request.message_attributes(
                    "AWS.MM.SMS.OriginationNumber",
                    sns_string(number.as_str())?,
                );
            }
            let answer = request
                .send()
                .await
                .map_err(|e| aws_failure("SNS Publish", &e))?;
            answer
                .message_id
                .ok_or_else(|| SendError::Retryable("SNS returned no message id".into()))
        }
        ProviderSettings::Brevo(s) => {
            let from = email_from(s, out);
            let url = format!(
                "{}/v3/smtp/email",
                root(s.base_url.as_deref(), "https://api.brevo.com")
            );
            let answer = http(
                clients
                    .http
                    .post(url)
                    .header("api-key", secret("api_key"))
                    .json(&BrevoEmail::new(&from, out)),
                "Brevo",
            )
            .await?;
            Ok(accepted(
                string_at(&answer.1, "/messageId"),
                "Brevo",
                provider,
                out,
            ))
        }
        ProviderSettings::Sendgrid(s) => {
            let from = email_from(s, out);
            let url = format!(
                "{}/v3/mail/send",
                root(s.base_url.as_deref(), "https://api.sendgrid.com")
            );
            let (headers, _) = http(
                clients
                    .http
                    .post(url)
                    .bearer_auth(secret("api_key"))
                    .json(&SendgridMail::new(&from, out)),
                "SendGrid",
            )
            .await?;
            // SendGrid answers 202 with an empty body; the id is in a header, when it is.
            let id = headers
                .get("x-message-id")
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_owned);
            Ok(accepted(id, "SendGrid", provider, out))
        }
        ProviderSettings::Twilio(s) => {
            let url = format!(
                "{}/2010-04-01/Accounts/{}/Messages.json",
                root(s.base_url.as_deref(), "https://api.twilio.com"),
                s.account_sid
            );
            let mut form = vec![("To", out.to.to_owned()), ("Body", text)];
            match (&s.messaging_service_sid, &s.from_number) {
                (Some(sid), _) => form.push(("MessagingServiceSid", sid.clone())),
                (None, Some(number)) => form.push(("From", number.as_str().to_owned())),
                (None, None) => {
                    return Err(SendError::Permanent(
                        "no From number or messaging service".into(),
                    ));
                }
            }
            if let Some(t) = &out.tracking
                && let Some(public) = &t.public_url
            {
                form.push((
                    "StatusCallback",
                    crate::tracking::twilio_callback_url(public, &t.context(provider)),
                ));
            }
            let request = clients
                .http
                .post(url)
                .basic_auth(&s.account_sid, Some(secret("auth_token")))
                .form(&form);
            let answer = http(request, "Twilio").await?;
            Ok(accepted(
                string_at(&answer.1, "/sid"),
                "Twilio",
                provider,
                out,
            ))
        }
        ProviderSettings::WhatsappCloud(s) => {
            let url = format!(
                "{}/{}/{}/messages",
                root(s.base_url.as_deref(), "https://graph.facebook.com"),
                s.api_version,
                s.phone_number_id
            );
            let mut body = json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": out.to.trim_start_matches('+'),
                "type": "text",
                "text": {"preview_url": false, "body": text},
            });
            if let Some(t) = &out.tracking {
                body["biz_opaque_callback_data"] = json!(crate::tracking::whatsapp_callback_data(
                    &t.context(provider)
                ));
            }
            let answer = http(
                clients
                    .http
                    .post(url)
                    .bearer_auth(secret("access_token"))
                    .json(&body),
                "WhatsApp",
            )
            .await?;
            Ok(accepted(
                string_at(&answer.1, "/messages/0/id"),
                "WhatsApp",
                provider,
                out,
            ))
        }
    }
}

fn email_from(s: &HttpEmailSettings, out: &Outgoing<'_>) -> From {
    out.from.clone().unwrap_or(From {
        address: s.from_address.as_str().to_owned(),
        name: s.from_name.clone(),
    })
}

fn root<'a>(base: Option<&'a str>, default: &'a str) -> &'a str {
    base.unwrap_or(default).trim_end_matches('/')
}

fn sns_string(value: &str) -> Result<aws_sdk_sns::types::MessageAttributeValue, SendError> {
    aws_sdk_sns::types::MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| SendError::Permanent(format!("SNS attribute: {e}")))
}

/// An RFC 5322 mailbox: `"Name" <address>` with the name quoted, or the bare address.
fn mailbox(from: &From) -> String {
    match from.name.as_deref().filter(|n| !n.trim().is_empty()) {
        Some(name) => {
            let clean: String = name
                .chars()
                .filter(|c| !c.is_control())
                .map(|c| if c == '"' || c == '\\' { '\'' } else { c })
                .collect();
            format!("\"{clean}\" <{}>", from.address)
        }
        None => from.address.clone(),
    }
}

async fn send_ses(
    clients: &ProviderClients,
    configuration_set: Option<&str>,
    from: &From,
    out: &Outgoing<'_>,
) -> Result<String, SendError> {
    let answer = ses_request(&clients.ses, configuration_set, from, out)?
        .send()
        .await
        .map_err(|e| aws_failure("SES SendEmail", &e))?;
    answer
        .message_id
        .ok_or_else(|| SendError::Retryable("SES returned no message id".into()))
}

/// The SES v2 SendEmail request for a message, built but not sent.
pub fn ses_request(
    ses: &aws_sdk_sesv2::Client,
    configuration_set: Option<&str>,
    from: &From,
    out: &Outgoing<'_>,
) -> Result<aws_sdk_sesv2::operation::send_email::builders::SendEmailFluentBuilder, SendError> {
    let content = |s: &str| {
        Content::builder()
            .data(s)
            .charset("UTF-8")
            .build()
            .map_err(|e| SendError::Permanent(format!("SES content: {e}")))
    };
    let mut body = Body::builder();
    if let Some(html) = &out.message.html {
        body = body.html(content(html)?);
    }
    if let Some(text) = &out.message.text {
        body = body.text(content(text)?);
    }
    let mut message = Message::builder()
        .subject(content(out.message.subject.as_deref().unwrap_or_default())?)
        .body(body.build());
    for (name, value) in &out.headers {
        message = message.headers(
            aws_sdk_sesv2::types::MessageHeader::builder()
                .name(name)
                .value(value)
                .build()
                .map_err(|e| SendError::Permanent(format!("SES header: {e}")))?,
        );
    }
    let mut request = ses
        .send_email()
        .from_email_address(mailbox(from))
        .destination(Destination::builder().to_addresses(out.to).build())
        .content(EmailContent::builder().simple(message.build()).build())
        .set_configuration_set_name(configuration_set.map(str::to_owned))
        .set_reply_to_addresses(out.reply_to.clone().map(|r| vec![r]));
    for (name, value) in &out.tags {
        request = request.email_tags(
            MessageTag::builder()
                .name(name)
                .value(value)
                .build()
                .map_err(|e| SendError::Permanent(format!("SES tag: {e}")))?,
        );
    }
    Ok(request)
}

/// Classifies an AWS error: throttling, server faults and transport failures are retryable.
fn aws_failure<E, R>(
    what: &str,
    e: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> SendError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    use aws_smithy_types::error::metadata::ProvideErrorMetadata as _;
    let code = e.code().unwrap_or("unknown");
    let message: String = e.message().unwrap_or_default().chars().take(200).collect();
    let text = format!("{what}: {code} {message}").trim().to_owned();
    let retryable = match e {
        SdkError::ServiceError(_) => {
            code.contains("Throttl")
                || code.contains("TooManyRequests")
                || code.contains("LimitExceeded")
                || code.contains("ServiceUnavailable")
                || code.contains("InternalFailure")
                || code.contains("InternalError")
        }
        _ => true,
    };
    if retryable {
        SendError::Retryable(text)
    } else {
        SendError::Permanent(text)
    }
}

/// Sends an HTTP request; a 2xx answer gives its headers and JSON body (Null when empty).
async fn http(
    request: reqwest::RequestBuilder,
    who: &str,
) -> Result<(reqwest::header::HeaderMap, Value), SendError> {
    let response = request.send().await.map_err(|e| {
        if e.is_timeout() {
            SendError::Retryable(format!("{who} did not answer in time"))
        } else {
            SendError::Retryable(format!("{who} could not be reached"))
        }
    })?;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap_or_default();
    if !status.is_success() {
        let detail: String = String::from_utf8_lossy(&bytes).chars().take(200).collect();
        let text = format!("{who} answered {}: {detail}", status.as_u16());
        return Err(if status.as_u16() == 429 {
            SendError::Throttled {
                reason: text,
                retry_after: crate::aws::retry_after(&headers),
            }
        } else if status.is_server_error() {
            SendError::Retryable(text)
        } else {
            SendError::Permanent(text)
        });
    }
    // A 2xx is an acceptance, whatever its body: one that is not the documented JSON names no
    // message id, and the message is recorded sent under a local reference (see `accepted`).
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            tracing::warn!(
                provider = who,
                status = status.as_u16(),
                "the provider accepted a message with a body that is not JSON"
            );
            Value::Null
        })
    };
    Ok((headers, body))
}

fn string_at(body: &Value, pointer: &str) -> Option<String> {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

/// The id a message the provider accepted (it answered 2xx) is recorded under.
///
/// A 2xx is an acceptance: the message is recorded `sent`, never failed (that would report a
/// delivered message as lost) nor retried (that could deliver it twice), even when the answer
/// lacks the provider's id (SendGrid may answer 202 without `X-Message-Id`; a proxy may answer
/// 200 with a page). Such a message gets a local reference instead: `herald:` and the Herald
/// message id (a fresh ULID for a test send, which has none), so the record, the sent notice
/// and the analytics count it like any other; a `herald:` id names no provider object and no
/// provider event will ever carry it (delivery callbacks find Twilio and WhatsApp messages by
/// the Herald ids in their callback URL and `biz_opaque_callback_data` anyway).
fn accepted(id: Option<String>, who: &str, provider: &Provider, out: &Outgoing<'_>) -> String {
    id.unwrap_or_else(|| {
        let local = match &out.tracking {
            Some(t) => t.message.to_string(),
            None => ulid::Ulid::generate().to_string(),
        };
        tracing::warn!(
            provider = who,
            provider_id = %provider.id,
            reference = %local,
            "the provider accepted a message without naming its id; recorded under a local reference"
        );
        format!("{LOCAL_REFERENCE}{local}")
    })
}

/// The prefix of a provider message id that is Herald's own reference (see `accepted`).
pub const LOCAL_REFERENCE: &str = "herald:";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailboxes_quote_names_and_drop_what_would_break_the_header() {
        let from = |name: Option<&str>| From {
            address: "a@b.example".into(),
            name: name.map(str::to_owned),
        };
        assert_eq!(mailbox(&from(None)), "a@b.example");
        assert_eq!(mailbox(&from(Some("  "))), "a@b.example");
        assert_eq!(
            mailbox(&from(Some("Acme \"Events\"\r\n"))),
            "\"Acme 'Events'\" <a@b.example>"
        );
    }
}
