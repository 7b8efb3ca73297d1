//! Status callbacks of HTTP providers: Twilio's (form fields, signed with the account's auth
//! token) and the WhatsApp Cloud API's (JSON, signed with the app secret), and what the sender
//! gives each provider so its callbacks name the message.

use aws_lc_rs::hmac;
use base64::Engine as _;
use chrono::{DateTime, TimeZone as _, Utc};
use serde_json::Value;

use super::seal::SealState;
use super::{Tracked, Unusable, identity};
use crate::domain::{Channel, DeliveryEvent};
use crate::ids::{CampaignId, ContactId, EventId, MessageId, ProviderId, TenantId};

/// What a status callback is about, from the URL or the opaque data the sender gave the
/// provider, with the sender's seal over it (see [`super::seal`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallbackContext {
    pub tenant: TenantId,
    pub provider: ProviderId,
    pub event: Option<EventId>,
    pub campaign: Option<CampaignId>,
    pub message: MessageId,
    pub contact: Option<ContactId>,
    /// When the message's record expires (Unix seconds).
    pub expires: Option<i64>,
    pub seal: SealState,
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
    if let Some(c) = context.contact {
        url.push_str(&format!("&contact={c}"));
    }
    if let Some(e) = context.expires {
        url.push_str(&format!("&expires={e}"));
    }
    if let SealState::Given(seal) = context.seal {
        url.push_str(&format!("&seal={seal}"));
    }
    url
}

/// The `biz_opaque_callback_data` the sender sets on a WhatsApp message (WhatsApp returns it
/// with every status of the message): `herald2|message|event|campaign|contact|expires|seal`,
/// at most 190 characters of the 512 WhatsApp takes.
pub fn whatsapp_callback_data(context: &CallbackContext) -> String {
    let text = |v: Option<String>| v.unwrap_or_default();
    format!(
        "herald2|{}|{}|{}|{}|{}|{}",
        context.message,
        text(context.event.map(|e| e.to_string())),
        text(context.campaign.map(|c| c.to_string())),
        text(context.contact.map(|c| c.to_string())),
        text(context.expires.map(|e| e.to_string())),
        match context.seal {
            SealState::Given(seal) => seal.to_string(),
            _ => String::new(),
        }
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
        contact: context.contact,
        expires: context.expires,
        provider: Some(context.provider),
        channel: Channel::Sms,
        kind,
        at: now,
        sent_at: None,
        provider_message_id: Some(sid.to_owned()),
        detail: error.map(|c| format!("Twilio error {c}")),
        link: None,
        suppress: Vec::new(),
        opt_out: None,
        recipient: None,
        identity: identity(&["twilio", sid, status, error.unwrap_or("")]),
        seal: context.seal,
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
    // herald1 (before seals): message, event, campaign; herald2 adds contact, expiry, seal.
    let sealed = match parts.next() {
        Some("herald1") => false,
        Some("herald2") => true,
        _ => return Err(Unusable::Untagged),
    };
    let bad =
        |what: &str| Unusable::Malformed(format!("the callback data's {what} is not a Herald id"));
    let mut next = || parts.next().filter(|p| !p.is_empty());
    let message = next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| bad("message"))?;
    let event = next()
        .map(|e| e.parse().map_err(|_| bad("event")))
        .transpose()?;
    let campaign = next()
        .map(|c| c.parse().map_err(|_| bad("campaign")))
        .transpose()?;
    let (contact, expires, seal) = if sealed {
        let contact = next()
            .map(|c| c.parse().map_err(|_| bad("contact")))
            .transpose()?;
        let expires = next()
            .map(|e| e.parse::<i64>().map_err(|_| bad("expiry")))
            .transpose()?;
        (
            contact,
            expires,
            SealState::read(Some(next().unwrap_or(""))),
        )
    } else {
        (None, None, SealState::Absent)
    };
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
        contact,
        expires,
        provider: Some(provider),
        channel: Channel::Whatsapp,
        kind,
        at,
        sent_at: None,
        provider_message_id: Some(id.to_owned()),
        detail,
        link: None,
        suppress: Vec::new(),
        opt_out: None,
        recipient: None,
        identity: identity(&["whatsapp", id, state, &at_text]),
        seal,
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut context = CallbackContext {
            tenant: TenantId::new(),
            provider: ProviderId::new(),
            event: Some(EventId::new()),
            campaign: None,
            message: MessageId::new(),
            contact: Some(ContactId::new()),
            expires: Some(1_900_000_000),
            seal: SealState::Absent,
        };
        let seal = crate::tracking::seal::Seal::of(
            &[3u8; 32],
            &crate::tracking::seal::SealedIds {
                tenant: context.tenant,
                message: context.message,
                event: context.event,
                campaign: context.campaign,
                contact: context.contact,
                expires: context.expires,
            },
        );
        context.seal = SealState::Given(seal);
        let legacy = format!("herald1|{}|{}|", context.message, EventId::new());
        let body = serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "statuses": [
                    {"id": "wamid.1", "status": "delivered", "timestamp": "1763719200",
                     "recipient_id": "447700900123",
                     "biz_opaque_callback_data": whatsapp_callback_data(&context)},
                    {"id": "wamid.2", "status": "sent", "timestamp": "1763719200",
                     "recipient_id": "447700900123"},
                    {"id": "wamid.3", "status": "sent", "timestamp": "1763719200",
                     "recipient_id": "447700900123", "biz_opaque_callback_data": legacy}
                ]}}]}]
        });
        let out = parse_whatsapp(&body, context.tenant, context.provider).expect("parses");
        let first = out[0].as_ref().expect("first");
        assert_eq!(
            (first.message, first.event, first.kind),
            (context.message, context.event, DeliveryEvent::Delivered)
        );
        assert_eq!(
            (first.contact, first.expires),
            (context.contact, context.expires)
        );
        assert_eq!(first.seal, SealState::Given(seal));
        assert!(seal.verify(&[3u8; 32], &first.sealed_ids()));
        assert_eq!(out[1], Err(Unusable::Untagged));
        // Before seals: the message, unsealed (believed only with its record).
        let old = out[2].as_ref().expect("legacy");
        assert_eq!(
            (old.message, old.seal),
            (context.message, SealState::Absent)
        );
    }
}
