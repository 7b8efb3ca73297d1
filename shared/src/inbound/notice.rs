//! One record of the inbound queue, as AWS or Herald's API put it there:
//!
//! - SES receiving's `Received` notification (SNS → SQS, raw or in SNS's envelope): the mail is
//!   in S3, so the notice is a [`Receipt`] to fetch;
//! - End User Messaging two-way SMS (SNS → SQS): `originationNumber`, `destinationNumber`,
//!   `messageKeyword`, `messageBody`, `inboundMessageId`, `previousPublishedMessageId`;
//! - a provider's inbound webhook the API verified and queued unparsed ([`ProviderInbound`]):
//!   Twilio's form fields (`MessageSid`, `From`, `To`, `Body`, `NumMedia`, `MediaContentTypeN`)
//!   or the WhatsApp Cloud API's notification (`entry[].changes[].value.messages[]`);
//! - Herald's own jobs: an erased contact's mails to delete ([`EraseMail`]), a
//!   conversation's escalation (`herald::conversations::escalation::Escalate`) and the clocks
//!   of a tenant's waiting conversations after its queue limits changed (`Reclock`).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone as _, Utc};
use serde::{Deserialize, Serialize};

use super::email::{Receipt, parse_receipt};
use super::{Attachment, Inbound, RepliedTo, Unusable, e164};
use crate::domain::Channel;
use crate::ids::{ProviderId, TenantId};

/// What the API queues for a verified inbound webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderInbound {
    /// `twilio` or `whatsapp`.
    pub herald_inbound: String,
    pub tenant_id: TenantId,
    pub provider_id: ProviderId,
    pub received_at: DateTime<Utc>,
    /// Twilio: the form fields; WhatsApp: the notification body.
    pub payload: serde_json::Value,
}

/// What the API queues when it erases a contact: the raw mails to delete from the inbound
/// bucket (the inbound function owns it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EraseMail {
    /// The tenant whose contact was erased.
    pub herald_erase_mail: TenantId,
    pub bucket: String,
    /// Object keys, each under `mail/` (raw mails) or `attachments/` (their attachments).
    pub keys: Vec<String>,
}

/// An inbound record, read.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// A mail SES stored in S3.
    Email(Receipt),
    /// An SMS End User Messaging received on a number (the tenant follows from the number).
    Sms(Inbound),
    /// Messages a provider's verified webhook brought, for this tenant's provider.
    Provider {
        tenant: TenantId,
        provider: ProviderId,
        messages: Vec<Inbound>,
    },
    /// Raw mails of an erased contact to delete.
    EraseMail(EraseMail),
    /// A conversation's escalation schedule fired (or is to be written).
    Escalate(crate::conversations::escalation::Escalate),
    /// A layer's queue limits changed: the waiting conversations' clocks are set again.
    Reclock(crate::conversations::escalation::Reclock),
}

/// Reads one record's body; `received` is when SQS got it (End User Messaging's payload has no
/// time of its own).
pub fn decode(body: &str, received: DateTime<Utc>) -> Result<Notice, Unusable> {
    let mut json: serde_json::Value =
        serde_json::from_str(body).map_err(|e| Unusable::Malformed(format!("not JSON: {e}")))?;
    // SNS's envelope, when the subscription does not deliver raw messages.
    if json.get("Type").and_then(|t| t.as_str()) == Some("Notification")
        && let Some(message) = json.get("Message").and_then(|m| m.as_str())
    {
        json = serde_json::from_str(message)
            .map_err(|e| Unusable::Malformed(format!("SNS message is not JSON: {e}")))?;
    }
    if json.get("notificationType").is_some() {
        return parse_receipt(&json).map(Notice::Email);
    }
    if json.get("originationNumber").is_some() {
        return parse_eum(&json, received).map(Notice::Sms);
    }
    if json.get("herald_erase_mail").is_some() {
        let job: EraseMail = serde_json::from_value(json)
            .map_err(|e| Unusable::Malformed(format!("mail erasure: {e}")))?;
        // Raw mails are SES's `mail/{id}`; attachments are under the erased contact's tenant.
        let attachments = format!("attachments/{}/", job.herald_erase_mail);
        if job
            .keys
            .iter()
            .any(|k| !k.starts_with("mail/") && !k.starts_with(&attachments))
        {
            return Err(Unusable::Malformed(
                "a mail erasure names a key outside mail/ and the tenant's attachments/".into(),
            ));
        }
        return Ok(Notice::EraseMail(job));
    }
    if json.get("herald_escalate").is_some() {
        return serde_json::from_value(json)
            .map(Notice::Escalate)
            .map_err(|e| Unusable::Malformed(format!("escalation: {e}")));
    }
    if json.get("herald_reclock").is_some() {
        let job: crate::conversations::escalation::Reclock = serde_json::from_value(json)
            .map_err(|e| Unusable::Malformed(format!("reclock: {e}")))?;
        if job
            .cursor
            .as_deref()
            .is_some_and(|c| !crate::store::valid_cursor(c))
        {
            return Err(Unusable::Malformed(
                "a reclock's cursor is not the conversation index's".into(),
            ));
        }
        return Ok(Notice::Reclock(job));
    }
    if json.get("herald_inbound").is_some() {
        let job: ProviderInbound = serde_json::from_value(json)
            .map_err(|e| Unusable::Malformed(format!("provider inbound: {e}")))?;
        let messages = match job.herald_inbound.as_str() {
            "twilio" => vec![parse_twilio(&job.payload, job.received_at)?],
            "whatsapp" => parse_whatsapp(&job.payload)?,
            other => return Err(Unusable::Malformed(format!("unknown provider {other}"))),
        };
        return Ok(Notice::Provider {
            tenant: job.tenant_id,
            provider: job.provider_id,
            messages,
        });
    }
    Err(Unusable::Malformed(
        "neither SES, End User Messaging nor a provider's".into(),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Eum {
    origination_number: String,
    destination_number: String,
    #[serde(default)]
    message_body: String,
    inbound_message_id: String,
    #[serde(default)]
    previous_published_message_id: Option<String>,
}

fn sms(
    provider_id: String,
    (from, to): (&str, &str),
    text: String,
    at: DateTime<Utc>,
    replied_to: Option<RepliedTo>,
    attachments: Vec<Attachment>,
    channel: Channel,
) -> Result<Inbound, Unusable> {
    let from =
        e164(from).ok_or_else(|| Unusable::Malformed("the sender is not a phone number".into()))?;
    let to = e164(to)
        .ok_or_else(|| Unusable::Malformed("the recipient is not a phone number".into()))?;
    // SMS and WhatsApp texts are short; a thread keeps no more of one than of a mail.
    let text: String = text.chars().take(super::email::MAX_TEXT / 4).collect();
    Ok(Inbound {
        channel,
        provider_id,
        from,
        to,
        at,
        subject: None,
        written: text.trim().to_owned(),
        text,
        attachments,
        replied_to,
        automatic: None,
        spam: false,
        raw_object: None,
    })
}

fn parse_eum(json: &serde_json::Value, at: DateTime<Utc>) -> Result<Inbound, Unusable> {
    let m: Eum = serde_json::from_value(json.clone())
        .map_err(|e| Unusable::Malformed(format!("End User Messaging SMS: {e}")))?;
    sms(
        m.inbound_message_id,
        (&m.origination_number, &m.destination_number),
        m.message_body,
        at,
        m.previous_published_message_id
            .filter(|id| !id.is_empty())
            .map(RepliedTo::ProviderMessage),
        Vec::new(),
        Channel::Sms,
    )
}

fn parse_twilio(fields: &serde_json::Value, at: DateTime<Utc>) -> Result<Inbound, Unusable> {
    let fields: BTreeMap<String, String> = serde_json::from_value(fields.clone())
        .map_err(|e| Unusable::Malformed(format!("Twilio fields: {e}")))?;
    let get = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();
    let sid = get("MessageSid");
    if sid.is_empty() {
        return Err(Unusable::Malformed(
            "Twilio inbound without MessageSid".into(),
        ));
    }
    let media: u32 = get("NumMedia").parse().unwrap_or(0);
    let attachments = (0..media.min(10))
        .map(|i| Attachment {
            index: i,
            name: format!("media-{}", i + 1),
            content_type: fields
                .get(&format!("MediaContentType{i}"))
                .cloned()
                .unwrap_or_else(|| "application/octet-stream".into()),
            size: 0,
            downloadable: false,
        })
        .collect();
    let channel = match get("From").starts_with("whatsapp:") {
        true => Channel::Whatsapp,
        false => Channel::Sms,
    };
    sms(
        sid.to_owned(),
        (get("From"), get("To")),
        get("Body").to_owned(),
        at,
        None,
        attachments,
        channel,
    )
}

#[derive(Deserialize)]
struct WaBody {
    #[serde(default)]
    entry: Vec<WaEntry>,
}
#[derive(Deserialize)]
struct WaEntry {
    #[serde(default)]
    changes: Vec<WaChange>,
}
#[derive(Deserialize)]
struct WaChange {
    value: WaValue,
}
#[derive(Deserialize)]
struct WaValue {
    #[serde(default)]
    metadata: Option<WaMetadata>,
    #[serde(default)]
    messages: Vec<serde_json::Value>,
}
#[derive(Deserialize)]
struct WaMetadata {
    #[serde(default)]
    display_phone_number: String,
}

/// The messages of a WhatsApp Cloud API notification (statuses are the tracker's): text,
/// button and interactive replies as text, media listed (with a caption as text).
fn parse_whatsapp(body: &serde_json::Value) -> Result<Vec<Inbound>, Unusable> {
    let body: WaBody = serde_json::from_value(body.clone())
        .map_err(|e| Unusable::Malformed(format!("WhatsApp notification: {e}")))?;
    let mut out = Vec::new();
    for change in body.entry.into_iter().flat_map(|e| e.changes) {
        let to = change
            .value
            .metadata
            .map(|m| m.display_phone_number)
            .unwrap_or_default();
        for m in change.value.messages {
            let s = |path: &[&str]| -> Option<String> {
                let mut v = &m;
                for p in path {
                    v = v.get(p)?;
                }
                v.as_str().map(str::to_owned)
            };
            let (Some(id), Some(from)) = (s(&["id"]), s(&["from"])) else {
                return Err(Unusable::Malformed(
                    "WhatsApp message without id or from".into(),
                ));
            };
            let at = s(&["timestamp"])
                .and_then(|t| t.parse::<i64>().ok())
                .and_then(|t| Utc.timestamp_opt(t, 0).single())
                .unwrap_or_else(Utc::now);
            let kind = s(&["type"]).unwrap_or_default();
            let mut attachments = Vec::new();
            let text = match kind.as_str() {
                "text" => s(&["text", "body"]).unwrap_or_default(),
                "button" => s(&["button", "text"]).unwrap_or_default(),
                "interactive" => s(&["interactive", "button_reply", "title"])
                    .or_else(|| s(&["interactive", "list_reply", "title"]))
                    .unwrap_or_default(),
                "image" | "audio" | "video" | "document" | "sticker" => {
                    attachments.push(Attachment {
                        index: 0,
                        name: s(&[kind.as_str(), "filename"])
                            .unwrap_or_else(|| format!("{kind}-1")),
                        content_type: s(&[kind.as_str(), "mime_type"])
                            .unwrap_or_else(|| "application/octet-stream".into()),
                        size: 0,
                        downloadable: false,
                    });
                    s(&[kind.as_str(), "caption"]).unwrap_or_default()
                }
                _ => String::new(),
            };
            out.push(sms(
                id,
                (&from, if to.is_empty() { &from } else { &to }),
                text,
                at,
                s(&["context", "id"]).map(RepliedTo::ProviderMessage),
                attachments,
                Channel::Whatsapp,
            )?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap()
    }

    #[test]
    fn end_user_messaging_two_way_sms_raw_and_in_the_sns_envelope() {
        let payload = serde_json::json!({
            "originationNumber": "+14255550182",
            "destinationNumber": "+12125550101",
            "messageKeyword": "KEYWORD_123456789012",
            "messageBody": "Stop.",
            "previousPublishedMessageId": "wJ0jtiuUTmcCpSCnwp5hvQ8AswrTeWzdTLS4CnQPbTEr",
            "inboundMessageId": "cae173d2-66b9-564c-8309-21f858e9fb84"
        });
        let Notice::Sms(m) = decode(&payload.to_string(), now()).unwrap() else {
            panic!()
        };
        assert_eq!(
            (m.from.as_str(), m.to.as_str(), m.text.as_str()),
            ("+14255550182", "+12125550101", "Stop.")
        );
        assert_eq!(
            m.replied_to,
            Some(RepliedTo::ProviderMessage(
                "wJ0jtiuUTmcCpSCnwp5hvQ8AswrTeWzdTLS4CnQPbTEr".into()
            ))
        );
        let envelope = serde_json::json!({"Type": "Notification", "MessageId": "x", "TopicArn": "arn", "Message": payload.to_string(), "Timestamp": "2026-12-06T10:00:00Z"});
        assert!(matches!(
            decode(&envelope.to_string(), now()),
            Ok(Notice::Sms(_))
        ));
        let bad = serde_json::json!({"originationNumber": "not a number", "destinationNumber": "+1", "inboundMessageId": "x"});
        assert!(matches!(
            decode(&bad.to_string(), now()),
            Err(Unusable::Malformed(_))
        ));
        assert!(matches!(decode("{", now()), Err(Unusable::Malformed(_))));
        assert!(matches!(
            decode("{\"what\": 1}", now()),
            Err(Unusable::Malformed(_))
        ));
    }

    #[test]
    fn a_mail_erasure_deletes_only_mails_and_that_tenants_attachments() {
        let tenant = TenantId::new();
        let job = |keys: &[String]| {
            serde_json::json!({"herald_erase_mail": tenant, "bucket": "b", "keys": keys})
                .to_string()
        };
        let ok = [
            "mail/ses-1".to_owned(),
            format!("attachments/{tenant}/cvm_01/0"),
        ];
        assert!(matches!(
            decode(&job(&ok), Utc::now()),
            Ok(Notice::EraseMail(e)) if e.keys == ok
        ));
        for bad in [
            format!("attachments/{}/cvm_01/0", TenantId::new()),
            "webhooks/secret".to_owned(),
        ] {
            assert!(
                matches!(
                    decode(&job(std::slice::from_ref(&bad)), Utc::now()),
                    Err(Unusable::Malformed(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_reclock_goes_on_only_from_a_cursor_of_the_conversation_index() {
        let tenant = TenantId::new();
        let cursor = format!("1777629600000#{}", crate::ids::ConversationId::new());
        let ok = serde_json::json!({"herald_reclock": tenant, "cursor": cursor});
        assert!(matches!(
            decode(&ok.to_string(), now()),
            Ok(Notice::Reclock(r)) if r.herald_reclock == tenant && r.cursor.as_deref() == Some(cursor.as_str())
        ));
        for bad in [
            serde_json::json!({"herald_reclock": tenant, "cursor": "TENANT#other"}),
            serde_json::json!({"herald_reclock": "nobody"}),
        ] {
            assert!(
                matches!(decode(&bad.to_string(), now()), Err(Unusable::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn provider_webhooks_twilio_and_whatsapp() {
        let tenant = TenantId::new();
        let provider = ProviderId::new();
        let twilio = ProviderInbound {
            herald_inbound: "twilio".into(),
            tenant_id: tenant,
            provider_id: provider,
            received_at: now(),
            payload: serde_json::json!({"MessageSid": "SM1", "From": "+15005550006", "To": "+15005550001", "Body": "yes", "NumMedia": "1", "MediaContentType0": "image/jpeg"}),
        };
        let Notice::Provider { messages, .. } =
            decode(&serde_json::to_string(&twilio).unwrap(), now()).unwrap()
        else {
            panic!()
        };
        assert_eq!(messages[0].text, "yes");
        assert_eq!(messages[0].attachments[0].content_type, "image/jpeg");
        let whatsapp = ProviderInbound {
            herald_inbound: "whatsapp".into(),
            payload: serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550001111", "phone_number_id": "123"},
            "contacts": [{"profile": {"name": "A"}, "wa_id": "16315551181"}],
            "messages": [
                {"from": "16315551181", "id": "wamid.A", "timestamp": "1765015200", "type": "text", "text": {"body": "Can I bring my dog?"}, "context": {"from": "15550001111", "id": "wamid.OUT"}},
                {"from": "16315551181", "id": "wamid.B", "timestamp": "1765015201", "type": "image", "image": {"id": "m1", "mime_type": "image/png", "sha256": "x", "caption": "the dog"}}
            ]}}]}]}),
            ..twilio
        };
        let Notice::Provider { messages, .. } =
            decode(&serde_json::to_string(&whatsapp).unwrap(), now()).unwrap()
        else {
            panic!()
        };
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].from, "+16315551181");
        assert_eq!(
            messages[0].replied_to,
            Some(RepliedTo::ProviderMessage("wamid.OUT".into()))
        );
        assert_eq!(messages[1].text, "the dog");
        assert_eq!(messages[1].attachments[0].content_type, "image/png");
    }
}
