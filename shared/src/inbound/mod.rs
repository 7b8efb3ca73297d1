//! Two-way messaging: what guests send back by email, SMS and WhatsApp, read from what AWS and
//! the providers deliver to the inbound queue, and what it means.
//!
//! - [`notice`]: one inbound queue record into a [`Notice`] (SES's receipt notification, End
//!   User Messaging's two-way SMS payload, or what the API's signed Twilio and WhatsApp
//!   webhooks queued), then into [`Inbound`] messages;
//! - [`email`]: SES's receipt and the raw mail (MIME via `mail-parser`);
//! - [`text`]: the written part of a reply (quoted history and signature cut);
//! - [`keywords`]: STOP/START/HELP, yes/no, opt-outs in other words;
//! - [`address`]: the signed per-message `Reply-To` address;
//! - [`search`]: the folded words search matches.

pub mod address;
pub mod email;
pub mod keywords;
pub mod notice;
pub mod search;
pub mod text;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::Channel;

pub use notice::{Notice, decode};

/// Why an inbound record is not used: logged with its id, counted, skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    /// It does not parse as anything Herald receives.
    #[error("malformed: {0}")]
    Malformed(String),
    /// It parses, and is something Herald does not act on (e.g. an SES test notification).
    #[error("ignored: {0}")]
    Ignored(String),
}

/// A file attached to an inbound message. A mail's attachments are stored in the inbound
/// bucket, one object each ([`attachment_key`]), and downloadable; SMS and WhatsApp media stay
/// where the provider put them and are only listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Attachment {
    /// Its position among the message's attachments (the download route's `{index}`).
    pub index: u32,
    pub name: String,
    pub content_type: String,
    /// Bytes (0 when the provider does not say).
    pub size: u64,
    /// Whether Herald stored it, so it can be downloaded
    /// (`GET /communication/conversations/{id}/messages/{message_id}/attachments/{index}`).
    #[serde(default)]
    pub downloadable: bool,
}

/// Where a mail's attachment is stored in the inbound bucket.
pub fn attachment_key(
    tenant: crate::ids::TenantId,
    message: crate::ids::ThreadMessageId,
    index: u32,
) -> String {
    format!("attachments/{tenant}/{message}/{index}")
}

/// What the message being answered is, when the channel says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepliedTo {
    /// The token of the reply address the mail was sent to (verify before use).
    ReplyToken(String),
    /// The provider's id of the message answered (End User Messaging's
    /// `previousPublishedMessageId`, WhatsApp's `context.id`).
    ProviderMessage(String),
}

/// One message a guest sent, whatever the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub channel: Channel,
    /// The provider's id of this inbound message: deduplication's key (with the channel).
    pub provider_id: String,
    /// The sender's address: an email address (lower case) or an E.164 number.
    pub from: String,
    /// Where it was sent: Herald's reply address or the tenant's number.
    pub to: String,
    pub at: DateTime<Utc>,
    pub subject: Option<String>,
    /// All of the text as received (for email, made text and capped at
    /// [`email::MAX_TEXT`]).
    pub text: String,
    /// What the person wrote, for display (email: without quoted history and signature).
    pub written: String,
    pub attachments: Vec<Attachment>,
    pub replied_to: Option<RepliedTo>,
    /// Why the message is automatic, when it is: nothing answers it automatically.
    pub automatic: Option<&'static str>,
    pub spam: bool,
    /// The S3 object of the raw mail (email only).
    pub raw_object: Option<String>,
}

/// The E.164 form of a number as providers write it (`+15551234567`, `15551234567`,
/// `whatsapp:+15551234567`), if it is one.
pub fn e164(raw: &str) -> Option<String> {
    let digits = raw
        .trim()
        .trim_start_matches("whatsapp:")
        .trim_start_matches('+');
    (digits.len() >= 8 && digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("+{digits}"))
}
