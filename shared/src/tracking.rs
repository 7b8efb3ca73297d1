//! Delivery tracking: what providers report about a message after Herald sent it, read from
//! their own formats into one shape ([`Tracked`]), and the counters those reports add to.
//!
//! - SES publishes events through Herald's configuration set (an SNS topic, then the tracker
//!   queue): `Send`, `Delivery`, `Bounce`, `Complaint`, `Reject`, `Open`, `Click`,
//!   `Rendering Failure`, `DeliveryDelay` and `Subscription`, each carrying the message tags the
//!   sender set (`herald_tenant`, `herald_event`, `herald_campaign`, `herald_message`,
//!   `herald_provider`).
//! - Twilio calls the status callback URL the sender gave it, which names the tenant, the
//!   provider and the message; the call is signed with the account's auth token
//!   (`X-Twilio-Signature`).
//! - The WhatsApp Cloud API posts status webhooks to the provider's webhook URL; each status
//!   carries the `biz_opaque_callback_data` the sender set, and the body is signed with the
//!   app secret (`X-Hub-Signature-256`).
//!
//! A message's delivery state only moves forward: each kind of event has a rank and the state
//! is the highest-ranked event seen (so a late Delivery never hides a Bounce, and an Open after
//! a Click lowers nothing). An event is identified by a digest of what the provider reported,
//! so the same report delivered twice is recognised.

use std::collections::{BTreeMap, HashMap};

use aws_lc_rs::hmac;
use base64::Engine as _;
use chrono::{DateTime, TimeZone as _, Timelike as _, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::{Channel, DeliveryEvent};
use crate::ids::{CampaignId, ContactId, EventId, MessageId, ProviderId, TenantId};

/// One provider report about one message, in Herald's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    pub tenant: TenantId,
    pub message: MessageId,
    pub event: Option<EventId>,
    pub campaign: Option<CampaignId>,
    /// The contact the message was for (SES events carry it as a tag), for consent changes
    /// on complaints and hard bounces.
    pub contact: Option<ContactId>,
    /// When the message's record expires (Unix seconds): its events expire with it.
    pub expires: Option<i64>,
    pub provider: Option<ProviderId>,
    pub channel: Channel,
    pub kind: DeliveryEvent,
    /// When it happened, by the provider's clock.
    pub at: DateTime<Utc>,
    /// When the message was sent (SES gives it with every event), for the hour-of-day figures.
    pub sent_at: Option<DateTime<Utc>>,
    pub provider_message_id: Option<String>,
    /// A bounce's type and subtype with its status code, a failure's error code; never the
    /// provider's free text (which may quote the address).
    pub detail: Option<String>,
    /// A click's link.
    pub link: Option<String>,
    /// A permanent bounce or a complaint: these addresses go on the suppression list. Never
    /// stored with the event, never logged.
    pub suppress: Vec<String>,
    /// A digest of the provider's report: the same report twice has the same identity.
    pub identity: String,
}

impl Tracked {
    /// The time to file the event under (a message's own events are ordered by it).
    pub fn at_ms(&self) -> i64 {
        self.at.timestamp_millis()
    }
}

/// Why a provider report cannot be used. Each is logged, counted and acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    /// Not in the provider's documented shape.
    Malformed(String),
    /// Mail sent through the configuration set by something other than Herald.
    Untagged,
    /// A kind of event Herald does not track.
    Unknown(String),
    /// A report Herald has nothing to do with (e.g. Twilio's `queued`).
    Ignored(String),
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "malformed: {why}"),
            Self::Untagged => f.write_str("no Herald tags"),
            Self::Unknown(kind) => write!(f, "unknown event type '{kind}'"),
            Self::Ignored(what) => write!(f, "not tracked: {what}"),
        }
    }
}

/// The rank of an event kind in a message's delivery state: the state is the highest seen.
/// Unsubscribing says nothing about delivery (0).
pub fn rank(kind: DeliveryEvent) -> u8 {
    match kind {
        DeliveryEvent::Unsubscribed => 0,
        DeliveryEvent::Sent => 1,
        DeliveryEvent::Delayed => 2,
        DeliveryEvent::Delivered => 3,
        DeliveryEvent::Opened => 4,
        DeliveryEvent::Clicked => 5,
        DeliveryEvent::Bounced
        | DeliveryEvent::Rejected
        | DeliveryEvent::RenderingFailed
        | DeliveryEvent::Failed => 6,
        DeliveryEvent::Complained => 7,
    }
}

/// Kinds a message can have many of (each counted in the totals, the first in the uniques).
pub fn repeats(kind: DeliveryEvent) -> bool {
    matches!(kind, DeliveryEvent::Opened | DeliveryEvent::Clicked)
}

/// An event as stored next to its message and shown in the message's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TimelineEvent {
    #[serde(rename = "type")]
    pub kind: DeliveryEvent,
    pub at: DateTime<Utc>,
    pub channel: Channel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<ProviderId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    #[schema(ignore)]
    pub identity: String,
}

impl From<&Tracked> for TimelineEvent {
    fn from(t: &Tracked) -> Self {
        Self {
            kind: t.kind,
            at: t.at,
            channel: t.channel,
            provider_id: t.provider,
            provider_message_id: t.provider_message_id.clone(),
            detail: t.detail.clone(),
            link: t.link.clone(),
            identity: t.identity.clone(),
        }
    }
}

/// The delivery state events add up to: the highest-ranked (the latest among equals).
pub fn delivery_state(events: &[TimelineEvent]) -> Option<DeliveryEvent> {
    events
        .iter()
        .filter(|e| rank(e.kind) > 0)
        .max_by_key(|e| (rank(e.kind), e.at))
        .map(|e| e.kind)
}

fn identity(parts: &[&str]) -> String {
    crate::digest::sha256_hex(parts.join("\u{1f}"))[..24].to_owned()
}

fn time(value: Option<&Value>) -> Option<DateTime<Utc>> {
    value
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// Reads an SES event from an SQS body: the event itself (raw delivery) or inside an SNS
/// notification.
pub fn parse_ses(body: &str) -> Result<Tracked, Unusable> {
    let value: Value =
        serde_json::from_str(body).map_err(|e| Unusable::Malformed(format!("not JSON: {e}")))?;
    let value = match value.get("Type").and_then(Value::as_str) {
        Some("Notification") => {
            let inner = value
                .get("Message")
                .and_then(Value::as_str)
                .ok_or_else(|| Unusable::Malformed("an SNS notification without Message".into()))?;
            serde_json::from_str(inner)
                .map_err(|e| Unusable::Malformed(format!("the SNS Message is not JSON: {e}")))?
        }
        _ => value,
    };
    let event_type = value
        .get("eventType")
        .or_else(|| value.get("notificationType"))
        .and_then(Value::as_str)
        .ok_or_else(|| Unusable::Malformed("no eventType".into()))?;
    let mail = value
        .get("mail")
        .filter(|m| m.is_object())
        .ok_or_else(|| Unusable::Malformed("no mail".into()))?;
    let tag = |name: &str| {
        mail.get("tags")
            .and_then(|t| t.get(name))
            .and_then(|v| v.get(0))
            .and_then(Value::as_str)
    };
    let (Some(tenant), Some(message)) = (tag("herald_tenant"), tag("herald_message")) else {
        return Err(Unusable::Untagged);
    };
    let bad = |what: &str| Unusable::Malformed(format!("{what} is not a Herald id"));
    let tenant = tenant.parse().map_err(|_| bad("herald_tenant"))?;
    let message = message.parse().map_err(|_| bad("herald_message"))?;
    let event = tag("herald_event")
        .map(|e| e.parse().map_err(|_| bad("herald_event")))
        .transpose()?;
    let campaign = tag("herald_campaign")
        .map(|e| e.parse().map_err(|_| bad("herald_campaign")))
        .transpose()?;
    let contact = tag("herald_contact")
        .map(|e| e.parse().map_err(|_| bad("herald_contact")))
        .transpose()?;
    let expires = tag("herald_expires").and_then(|e| e.parse::<i64>().ok());
    let provider = tag("herald_provider")
        .map(|e| e.parse().map_err(|_| bad("herald_provider")))
        .transpose()?;
    let ses_message_id = mail
        .get("messageId")
        .and_then(Value::as_str)
        .ok_or_else(|| Unusable::Malformed("no mail.messageId".into()))?
        .to_owned();
    let sent_at = time(mail.get("timestamp"))
        .ok_or_else(|| Unusable::Malformed("no mail.timestamp".into()))?;
    let section = |name: &str| {
        value
            .get(name)
            .filter(|v| v.is_object())
            .ok_or_else(|| Unusable::Malformed(format!("a {event_type} event without '{name}'")))
    };
    let mut detail = None;
    let mut link = None;
    let mut suppress = Vec::new();
    let recipients = |list: Option<&Value>| -> Vec<String> {
        list.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r.get("emailAddress").and_then(Value::as_str))
            .map(str::to_owned)
            .collect()
    };
    let (kind, at, discriminator) = match event_type {
        "Send" => (DeliveryEvent::Sent, sent_at, String::new()),
        "Delivery" => {
            let d = section("delivery")?;
            (
                DeliveryEvent::Delivered,
                time(d.get("timestamp")).unwrap_or(sent_at),
                String::new(),
            )
        }
        "Bounce" => {
            let b = section("bounce")?;
            let bounce_type = b
                .get("bounceType")
                .and_then(Value::as_str)
                .ok_or_else(|| Unusable::Malformed("a Bounce without bounceType".into()))?;
            let sub = b.get("bounceSubType").and_then(Value::as_str).unwrap_or("");
            let status = b
                .get("bouncedRecipients")
                .and_then(|r| r.get(0))
                .and_then(|r| r.get("status"))
                .and_then(Value::as_str);
            detail = Some(match status {
                Some(s) => format!("{bounce_type}/{sub} ({s})"),
                None => format!("{bounce_type}/{sub}"),
            });
            if bounce_type == "Permanent" {
                suppress = recipients(b.get("bouncedRecipients"));
            }
            let feedback = b.get("feedbackId").and_then(Value::as_str).unwrap_or("");
            (
                DeliveryEvent::Bounced,
                time(b.get("timestamp")).unwrap_or(sent_at),
                feedback.to_owned(),
            )
        }
        "Complaint" => {
            let c = section("complaint")?;
            detail = c
                .get("complaintFeedbackType")
                .and_then(Value::as_str)
                .map(str::to_owned);
            suppress = recipients(c.get("complainedRecipients"));
            let feedback = c.get("feedbackId").and_then(Value::as_str).unwrap_or("");
            (
                DeliveryEvent::Complained,
                time(c.get("timestamp")).unwrap_or(sent_at),
                feedback.to_owned(),
            )
        }
        "Reject" => {
            let r = section("reject")?;
            detail = r.get("reason").and_then(Value::as_str).map(str::to_owned);
            (DeliveryEvent::Rejected, sent_at, String::new())
        }
        "Rendering Failure" => {
            let f = section("failure")?;
            detail = f
                .get("templateName")
                .and_then(Value::as_str)
                .map(|t| format!("template {t}"));
            (DeliveryEvent::RenderingFailed, sent_at, String::new())
        }
        "DeliveryDelay" => {
            let d = section("deliveryDelay")?;
            detail = d
                .get("delayType")
                .and_then(Value::as_str)
                .map(str::to_owned);
            (
                DeliveryEvent::Delayed,
                time(d.get("timestamp")).unwrap_or(sent_at),
                String::new(),
            )
        }
        "Open" => {
            let o = section("open")?;
            let at = time(o.get("timestamp"))
                .ok_or_else(|| Unusable::Malformed("an Open without timestamp".into()))?;
            let who = o.get("userAgent").and_then(Value::as_str).unwrap_or("");
            (DeliveryEvent::Opened, at, who.to_owned())
        }
        "Click" => {
            let c = section("click")?;
            let at = time(c.get("timestamp"))
                .ok_or_else(|| Unusable::Malformed("a Click without timestamp".into()))?;
            let url = c
                .get("link")
                .and_then(Value::as_str)
                .ok_or_else(|| Unusable::Malformed("a Click without link".into()))?;
            link = Some(url.chars().take(2048).collect::<String>());
            (DeliveryEvent::Clicked, at, url.to_owned())
        }
        "Subscription" => {
            let s = section("subscription")?;
            (
                DeliveryEvent::Unsubscribed,
                time(s.get("timestamp")).unwrap_or(sent_at),
                String::new(),
            )
        }
        other => return Err(Unusable::Unknown(other.chars().take(64).collect())),
    };
    let at_text = at.to_rfc3339();
    Ok(Tracked {
        tenant,
        message,
        event,
        campaign,
        contact,
        expires,
        provider,
        channel: Channel::Email,
        kind,
        at,
        sent_at: Some(sent_at),
        identity: identity(&["ses", &ses_message_id, event_type, &at_text, &discriminator]),
        provider_message_id: Some(ses_message_id),
        detail,
        link,
        suppress,
    })
}

/// The sender's word that providers with no event stream of their own (SNS SMS, Brevo,
/// SendGrid; Twilio and WhatsApp before their callbacks) accepted messages: one notice per
/// delivery job on the tracker queue, so every channel counts as sent in the analytics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentNotice {
    pub herald_sent: Vec<SentEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentEntry {
    pub tenant: TenantId,
    pub message: MessageId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<CampaignId>,
    pub provider: ProviderId,
    pub channel: Channel,
    pub provider_message_id: String,
    pub at: DateTime<Utc>,
    /// When the message's record expires (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
}

impl From<&SentEntry> for Tracked {
    fn from(e: &SentEntry) -> Self {
        Self {
            tenant: e.tenant,
            message: e.message,
            event: e.event,
            campaign: e.campaign,
            contact: None,
            expires: e.expires,
            provider: Some(e.provider),
            channel: e.channel,
            kind: DeliveryEvent::Sent,
            at: e.at,
            sent_at: Some(e.at),
            provider_message_id: Some(e.provider_message_id.clone()),
            detail: None,
            link: None,
            suppress: Vec::new(),
            identity: identity(&["herald-sent", &e.message.to_string()]),
        }
    }
}

/// A guest's unsubscribe through Herald's own link (one-click or the preference page), as an
/// event of the message whose link it was: counted with the provider's own unsubscribes.
pub fn unsubscribed(message: &crate::messages::Message, at: DateTime<Utc>) -> Tracked {
    Tracked {
        tenant: message.tenant_id,
        message: message.id,
        event: Some(message.event_id),
        campaign: message.campaign_id,
        contact: None,
        expires: message.ttl,
        provider: message.provider_id,
        channel: message.channel.unwrap_or(Channel::Email),
        kind: DeliveryEvent::Unsubscribed,
        at,
        sent_at: message.sent_at,
        provider_message_id: message.provider_message_id.clone(),
        detail: Some("herald-link".to_owned()),
        link: None,
        suppress: Vec::new(),
        identity: identity(&["herald-unsubscribe", &message.id.to_string()]),
    }
}

/// Reads a tracker queue body: an SES event (raw or in an SNS notification) or the sender's
/// notice of messages sent through other providers.
pub fn parse_record(body: &str) -> Result<Vec<Tracked>, Unusable> {
    if body.trim_start().starts_with("{\"herald_sent\"") {
        let notice: SentNotice = serde_json::from_str(body)
            .map_err(|e| Unusable::Malformed(format!("a sent notice that does not parse: {e}")))?;
        return Ok(notice.herald_sent.iter().map(Tracked::from).collect());
    }
    parse_ses(body).map(|e| vec![e])
}

/// What a status callback is about, from the URL or the opaque data the sender gave the
/// provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallbackContext {
    pub tenant: TenantId,
    pub provider: ProviderId,
    pub event: Option<EventId>,
    pub campaign: Option<CampaignId>,
    pub message: MessageId,
}

/// The path of Twilio status callbacks for a tenant's provider (the message is in the query).
pub fn twilio_callback_path(tenant: TenantId, provider: ProviderId) -> String {
    format!("/api/v1/webhooks/twilio/{tenant}/{provider}")
}

/// The path of a tenant's WhatsApp provider's webhook (set it in the Meta app).
pub fn whatsapp_webhook_path(tenant: TenantId, provider: ProviderId) -> String {
    format!("/api/v1/webhooks/whatsapp/{tenant}/{provider}")
}

/// The status callback URL the sender gives Twilio for one message.
pub fn twilio_callback_url(public_url: &str, context: &CallbackContext) -> String {
    let mut url = format!(
        "{}{}?message={}",
        public_url.trim_end_matches('/'),
        twilio_callback_path(context.tenant, context.provider),
        context.message
    );
    if let Some(e) = context.event {
        url.push_str(&format!("&event={e}"));
    }
    if let Some(c) = context.campaign {
        url.push_str(&format!("&campaign={c}"));
    }
    url
}

/// The `biz_opaque_callback_data` the sender sets on a WhatsApp message: WhatsApp returns it
/// with every status of the message.
pub fn whatsapp_callback_data(context: &CallbackContext) -> String {
    format!(
        "herald1|{}|{}|{}",
        context.message,
        context.event.map(|e| e.to_string()).unwrap_or_default(),
        context.campaign.map(|c| c.to_string()).unwrap_or_default()
    )
}

/// Reads one Twilio status callback (its form fields).
pub fn parse_twilio(
    form: &[(String, String)],
    context: &CallbackContext,
    now: DateTime<Utc>,
) -> Result<Tracked, Unusable> {
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let sid = field("MessageSid")
        .or_else(|| field("SmsSid"))
        .ok_or_else(|| Unusable::Malformed("no MessageSid".into()))?;
    let status = field("MessageStatus")
        .or_else(|| field("SmsStatus"))
        .ok_or_else(|| Unusable::Malformed("no MessageStatus".into()))?;
    let error = field("ErrorCode").filter(|c| !c.is_empty());
    let kind = match status {
        "sent" => DeliveryEvent::Sent,
        "delivered" => DeliveryEvent::Delivered,
        "read" => DeliveryEvent::Opened,
        "undelivered" | "failed" => DeliveryEvent::Failed,
        other => {
            return Err(Unusable::Ignored(format!(
                "Twilio status '{}'",
                other.chars().take(32).collect::<String>()
            )));
        }
    };
    Ok(Tracked {
        tenant: context.tenant,
        message: context.message,
        event: context.event,
        campaign: context.campaign,
        contact: None,
        expires: None,
        provider: Some(context.provider),
        channel: Channel::Sms,
        kind,
        at: now,
        sent_at: None,
        provider_message_id: Some(sid.to_owned()),
        detail: error.map(|c| format!("Twilio error {c}")),
        link: None,
        suppress: Vec::new(),
        identity: identity(&["twilio", sid, status, error.unwrap_or("")]),
    })
}

/// Reads the statuses of a WhatsApp Cloud API webhook body; each is an event or why not.
/// Messages (replies) and other fields are not statuses and yield nothing.
pub fn parse_whatsapp(
    body: &Value,
    tenant: TenantId,
    provider: ProviderId,
) -> Result<Vec<Result<Tracked, Unusable>>, Unusable> {
    if body.get("object").and_then(Value::as_str) != Some("whatsapp_business_account") {
        return Err(Unusable::Malformed(
            "not a whatsapp_business_account notification".into(),
        ));
    }
    let entries = body
        .get("entry")
        .and_then(Value::as_array)
        .ok_or_else(|| Unusable::Malformed("no entry".into()))?;
    let mut out = Vec::new();
    for change in entries
        .iter()
        .filter_map(|e| e.get("changes").and_then(Value::as_array))
        .flatten()
    {
        for status in change
            .get("value")
            .and_then(|v| v.get("statuses"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.push(whatsapp_status(status, tenant, provider));
        }
    }
    Ok(out)
}

fn whatsapp_status(
    status: &Value,
    tenant: TenantId,
    provider: ProviderId,
) -> Result<Tracked, Unusable> {
    let text = |name: &str| status.get(name).and_then(Value::as_str);
    let id = text("id").ok_or_else(|| Unusable::Malformed("a status without id".into()))?;
    let state =
        text("status").ok_or_else(|| Unusable::Malformed("a status without status".into()))?;
    let at = text("timestamp")
        .and_then(|t| t.parse::<i64>().ok())
        .and_then(|t| Utc.timestamp_opt(t, 0).single())
        .ok_or_else(|| Unusable::Malformed("a status without a unix timestamp".into()))?;
    let data = text("biz_opaque_callback_data").ok_or(Unusable::Untagged)?;
    let mut parts = data.split('|');
    if parts.next() != Some("herald1") {
        return Err(Unusable::Untagged);
    }
    let bad =
        |what: &str| Unusable::Malformed(format!("the callback data's {what} is not a Herald id"));
    let message = parts
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| bad("message"))?;
    let event = parts
        .next()
        .filter(|p| !p.is_empty())
        .map(|e| e.parse().map_err(|_| bad("event")))
        .transpose()?;
    let campaign = parts
        .next()
        .filter(|p| !p.is_empty())
        .map(|c| c.parse().map_err(|_| bad("campaign")))
        .transpose()?;
    let (kind, detail) = match state {
        "sent" => (DeliveryEvent::Sent, None),
        "delivered" => (DeliveryEvent::Delivered, None),
        "read" => (DeliveryEvent::Opened, None),
        "failed" => {
            let code = status
                .get("errors")
                .and_then(|e| e.get(0))
                .and_then(|e| e.get("code"))
                .and_then(Value::as_i64);
            (
                DeliveryEvent::Failed,
                code.map(|c| format!("WhatsApp error {c}")),
            )
        }
        other => {
            return Err(Unusable::Ignored(format!(
                "WhatsApp status '{}'",
                other.chars().take(32).collect::<String>()
            )));
        }
    };
    let at_text = at.timestamp().to_string();
    Ok(Tracked {
        tenant,
        message,
        event,
        campaign,
        contact: None,
        expires: None,
        provider: Some(provider),
        channel: Channel::Whatsapp,
        kind,
        at,
        sent_at: None,
        provider_message_id: Some(id.to_owned()),
        detail,
        link: None,
        suppress: Vec::new(),
        identity: identity(&["whatsapp", id, state, &at_text]),
    })
}

/// Twilio's request signature: HMAC-SHA1 (key: the auth token) of the full URL followed by
/// each POST parameter's name and value, sorted by name; base64.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, auth_token.as_bytes());
    base64::engine::general_purpose::STANDARD
        .encode(hmac::sign(&key, twilio_signed_data(url, params).as_bytes()).as_ref())
}

/// What Twilio signs: the URL, then each parameter's name and value, sorted by name.
fn twilio_signed_data(url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut data = url.to_owned();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    data
}

/// Whether `header` is Twilio's signature of this request (compared in constant time).
pub fn verify_twilio(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    header: &str,
) -> bool {
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(header.trim()) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, auth_token.as_bytes());
    hmac::verify(&key, twilio_signed_data(url, params).as_bytes(), &given).is_ok()
}

/// Meta's webhook signature: `sha256=` and the hex HMAC-SHA256 (key: the app secret) of the
/// raw body.
pub fn whatsapp_signature(app_secret: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, app_secret.as_bytes());
    format!("sha256={}", hex::encode(hmac::sign(&key, body).as_ref()))
}

/// Whether `header` is Meta's signature of `body` (compared in constant time).
pub fn verify_whatsapp(app_secret: &str, body: &[u8], header: &str) -> bool {
    let Some(Ok(given)) = header.trim().strip_prefix("sha256=").map(hex::decode) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, app_secret.as_bytes());
    hmac::verify(&key, body, &given).is_ok()
}

/// The counters a set of new events adds to, per scope item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Tenant(TenantId),
    Event(TenantId, EventId),
    Campaign(TenantId, CampaignId),
    /// The tenant's events in one minute (`YYYYMMDDHHMM`, UTC), for the realtime view.
    Minute(TenantId, i64),
}

impl Scope {
    pub fn tenant(&self) -> TenantId {
        match self {
            Self::Tenant(t) | Self::Event(t, _) | Self::Campaign(t, _) | Self::Minute(t, _) => *t,
        }
    }
}

/// Increments and link URLs for one scope item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta {
    pub add: BTreeMap<String, i64>,
    /// Link digests to their URL (set once).
    pub links: BTreeMap<String, String>,
}

impl Delta {
    fn bump(&mut self, name: String) {
        *self.add.entry(name).or_default() += 1;
    }
}

/// The metric an event counts as (besides the `_unique` ones of repeating kinds).
pub fn metric(kind: DeliveryEvent) -> &'static str {
    kind.as_str()
}

/// The short digest that names a link in counters.
pub fn link_key(url: &str) -> String {
    crate::digest::sha256_hex(url)[..12].to_owned()
}

/// The minute bucket of a time, as `YYYYMMDDHHMM`.
pub fn minute_of(at: DateTime<Utc>) -> i64 {
    at.format("%Y%m%d%H%M")
        .to_string()
        .parse()
        .unwrap_or_default()
}

/// Adds new events to per-scope deltas. `unique` marks the first event of its kind for its
/// message (for repeating kinds). Names: `n#{metric}` in total, `c#{channel}#{metric}` by
/// channel, `p#{provider}#{metric}` by provider, `h#{HH}#{metric}` by the hour (UTC) the
/// message was sent (sent and unique opens), `l#{link}` clicks per link.
pub fn tally<'a>(events: impl IntoIterator<Item = (&'a Tracked, bool)>) -> HashMap<Scope, Delta> {
    let mut out: HashMap<Scope, Delta> = HashMap::new();
    for (e, unique) in events {
        let mut names = vec![metric(e.kind).to_owned()];
        if repeats(e.kind) && unique {
            names.push(format!("{}_unique", metric(e.kind)));
        }
        if e.kind == DeliveryEvent::Bounced && !e.suppress.is_empty() {
            names.push("bounced_permanent".to_owned());
        }
        let mut scopes = vec![Scope::Tenant(e.tenant)];
        if let Some(ev) = e.event {
            scopes.push(Scope::Event(e.tenant, ev));
        }
        if let Some(c) = e.campaign {
            scopes.push(Scope::Campaign(e.tenant, c));
        }
        for scope in scopes {
            let d = out.entry(scope).or_default();
            for name in &names {
                d.bump(format!("n#{name}"));
                d.bump(format!("c#{}#{name}", e.channel));
                if let Some(p) = e.provider {
                    d.bump(format!("p#{p}#{name}"));
                }
            }
            if matches!(scope, Scope::Event(..)) {
                let hour = match e.kind {
                    DeliveryEvent::Sent => Some((e.sent_at.unwrap_or(e.at), "sent")),
                    DeliveryEvent::Opened if unique => e.sent_at.map(|s| (s, "opened_unique")),
                    _ => None,
                };
                if let Some((at, name)) = hour {
                    d.bump(format!("h#{:02}#{name}", at.hour()));
                }
            }
            if let (Some(url), false) = (&e.link, matches!(scope, Scope::Tenant(_))) {
                let key = link_key(url);
                d.bump(format!("l#{key}"));
                d.links.insert(key, url.clone());
            }
        }
        let minute = out
            .entry(Scope::Minute(e.tenant, minute_of(e.at)))
            .or_default();
        for name in &names {
            minute.bump(format!("n#{name}"));
            minute.bump(format!("c#{}#{name}", e.channel));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ses(event_type: &str, section: (&str, Value), tags: Value) -> String {
        let mut v = serde_json::json!({
            "eventType": event_type,
            "mail": {
                "timestamp": "2026-11-21T10:00:00.000Z",
                "source": "events@acme.example",
                "messageId": "0100018c-ses",
                "destination": ["ada@example.com"],
                "tags": tags
            }
        });
        v[section.0] = section.1;
        v.to_string()
    }

    fn tags(tenant: TenantId, message: MessageId) -> Value {
        serde_json::json!({
            "ses:configuration-set": ["herald"],
            "herald_tenant": [tenant.to_string()],
            "herald_message": [message.to_string()]
        })
    }

    #[test]
    fn reads_a_raw_event_and_one_inside_an_sns_notification() {
        let (tenant, message) = (TenantId::new(), MessageId::new());
        let raw = ses(
            "Send",
            ("send", serde_json::json!({})),
            tags(tenant, message),
        );
        let parsed = parse_ses(&raw).expect("parses");
        assert_eq!((parsed.tenant, parsed.message), (tenant, message));
        assert_eq!(parsed.kind, DeliveryEvent::Sent);
        assert_eq!(parsed.provider_message_id.as_deref(), Some("0100018c-ses"));
        let wrapped = serde_json::json!({"Type": "Notification", "Message": raw}).to_string();
        assert_eq!(parse_ses(&wrapped), Ok(parsed));
    }

    #[test]
    fn a_permanent_bounce_suppresses_and_keeps_no_free_text() {
        let (tenant, message) = (TenantId::new(), MessageId::new());
        let body = ses(
            "Bounce",
            (
                "bounce",
                serde_json::json!({
                    "bounceType": "Permanent", "bounceSubType": "General",
                    "bouncedRecipients": [{"emailAddress": "ada@example.com", "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 <ada@example.com> unknown"}],
                    "timestamp": "2026-11-21T10:00:02.000Z", "feedbackId": "fb-1"
                }),
            ),
            tags(tenant, message),
        );
        let t = parse_ses(&body).expect("parses");
        assert_eq!(t.kind, DeliveryEvent::Bounced);
        assert_eq!(t.suppress, vec!["ada@example.com".to_owned()]);
        assert_eq!(t.detail.as_deref(), Some("Permanent/General (5.1.1)"));
        assert!(!format!("{:?}", TimelineEvent::from(&t)).contains("ada@"));
    }

    #[test]
    fn refuses_garbage_untagged_mail_and_unknown_types() {
        assert!(matches!(parse_ses("{"), Err(Unusable::Malformed(_))));
        assert!(matches!(parse_ses("{}"), Err(Unusable::Malformed(_))));
        let untagged = ses(
            "Send",
            ("send", serde_json::json!({})),
            serde_json::json!({}),
        );
        assert_eq!(parse_ses(&untagged), Err(Unusable::Untagged));
        let t = tags(TenantId::new(), MessageId::new());
        let odd = ses("Teleport", ("teleport", serde_json::json!({})), t.clone());
        assert_eq!(parse_ses(&odd), Err(Unusable::Unknown("Teleport".into())));
        let no_section = ses("Delivery", ("other", serde_json::json!({})), t);
        assert!(matches!(
            parse_ses(&no_section),
            Err(Unusable::Malformed(_))
        ));
    }

    #[test]
    fn state_only_moves_forward() {
        let e = |kind, secs| TimelineEvent {
            kind,
            at: Utc.timestamp_opt(secs, 0).single().expect("time"),
            channel: Channel::Email,
            provider_id: None,
            provider_message_id: None,
            detail: None,
            link: None,
            identity: String::new(),
        };
        // A Delivery that arrives after the Bounce does not hide it.
        let events = [e(DeliveryEvent::Bounced, 5), e(DeliveryEvent::Delivered, 9)];
        assert_eq!(delivery_state(&events), Some(DeliveryEvent::Bounced));
        // An Open after a Click lowers nothing.
        let events = [e(DeliveryEvent::Clicked, 5), e(DeliveryEvent::Opened, 9)];
        assert_eq!(delivery_state(&events), Some(DeliveryEvent::Clicked));
        assert_eq!(delivery_state(&[e(DeliveryEvent::Unsubscribed, 1)]), None);
    }

    #[test]
    fn signatures_match_the_documented_algorithms() {
        // The example Twilio's helper libraries test against.
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let sig = twilio_signature("12345", url, &params);
        assert_eq!(sig, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert!(verify_twilio("12345", url, &params, &sig));
        assert!(!verify_twilio("54321", url, &params, &sig));
        assert!(!verify_twilio("12345", url, &params[1..], &sig));
        assert!(!verify_twilio("12345", url, &params, "not base64!"));
        let body = br#"{"object":"whatsapp_business_account"}"#;
        let sig = whatsapp_signature("app-secret", body);
        assert!(sig.starts_with("sha256="));
        assert!(verify_whatsapp("app-secret", body, &sig));
        assert!(!verify_whatsapp("other", body, &sig));
        assert!(!verify_whatsapp("app-secret", b"{}", &sig));
        assert!(!verify_whatsapp("app-secret", body, "sha256=zz"));
    }

    #[test]
    fn whatsapp_statuses_carry_their_message_through_the_callback_data() {
        let context = CallbackContext {
            tenant: TenantId::new(),
            provider: ProviderId::new(),
            event: Some(EventId::new()),
            campaign: None,
            message: MessageId::new(),
        };
        let body = serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "statuses": [
                    {"id": "wamid.1", "status": "delivered", "timestamp": "1763719200",
                     "recipient_id": "447700900123",
                     "biz_opaque_callback_data": whatsapp_callback_data(&context)},
                    {"id": "wamid.2", "status": "sent", "timestamp": "1763719200",
                     "recipient_id": "447700900123"}
                ]}}]}]
        });
        let out = parse_whatsapp(&body, context.tenant, context.provider).expect("parses");
        let first = out[0].as_ref().expect("first");
        assert_eq!(
            (first.message, first.event, first.kind),
            (context.message, context.event, DeliveryEvent::Delivered)
        );
        assert_eq!(out[1], Err(Unusable::Untagged));
    }

    #[test]
    fn tallies_count_uniques_links_and_hours() {
        let (tenant, message) = (TenantId::new(), MessageId::new());
        let event = EventId::new();
        let mut click = parse_ses(&ses(
            "Click",
            ("click", serde_json::json!({"timestamp": "2026-11-21T11:00:00Z", "link": "https://x.example/a"})),
            tags(tenant, message),
        ))
        .expect("parses");
        click.event = Some(event);
        let d = tally([(&click, true), (&click, false)]);
        let ev = &d[&Scope::Event(tenant, event)];
        assert_eq!(ev.add["n#clicked"], 2);
        assert_eq!(ev.add["n#clicked_unique"], 1);
        assert_eq!(ev.add[&format!("l#{}", link_key("https://x.example/a"))], 2);
        assert!(
            !d[&Scope::Tenant(tenant)]
                .add
                .keys()
                .any(|k| k.starts_with("l#"))
        );
        assert_eq!(d[&Scope::Minute(tenant, 202611211100)].add["n#clicked"], 2);
    }
}
