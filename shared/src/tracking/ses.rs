//! SES's event-publishing records (raw, or inside the SNS notification that carried them).

use serde_json::Value;

use super::seal::{SEAL_TAG, SealState};
use super::{OptOutScope, Tracked, Unusable, identity, time};
use crate::domain::{Channel, DeliveryEvent};

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
    let expires = tag("herald_expires")
        .map(|e| {
            e.parse::<i64>()
                .map_err(|_| Unusable::Malformed("herald_expires is not a Unix time".into()))
        })
        .transpose()?;
    let seal = SealState::read(tag(SEAL_TAG));
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
    let mut opt_out = None;
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
            opt_out = Some(subscription_opt_out(s).ok_or_else(|| {
                Unusable::Ignored("a Subscription event that opts out of nothing".into())
            })?);
            detail = s
                .get("source")
                .and_then(Value::as_str)
                .map(|source| source.chars().take(64).collect());
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
        opt_out,
        recipient: mail
            .get("destination")
            .and_then(|d| d.get(0))
            .and_then(Value::as_str)
            .map(str::to_owned),
        seal,
    })
}

/// What an SES Subscription event opts the recipient out of: every email when its new
/// preferences say `unsubscribeAll`, else the message's category when any topic is opted out
/// (SES writes `OptOut`; its API's `OPT_OUT` is read too). `None` when nothing is opted out
/// (a guest opting back in through SES's page changes nothing in Herald: the tenant's own
/// consent records stand).
fn subscription_opt_out(subscription: &Value) -> Option<OptOutScope> {
    let new = subscription.get("newTopicPreferences")?;
    if new.get("unsubscribeAll").and_then(Value::as_bool) == Some(true) {
        return Some(OptOutScope::AllEmail);
    }
    new.get("topicSubscriptionStatus")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("subscriptionStatus").and_then(Value::as_str))
        .any(|status| status.replace('_', "").eq_ignore_ascii_case("optout"))
        .then_some(OptOutScope::MessageCategory)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ids::{MessageId, TenantId};
    use crate::tracking::TimelineEvent;

    pub(crate) fn ses(event_type: &str, section: (&str, Value), tags: Value) -> String {
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

    pub(crate) fn tags(tenant: TenantId, message: MessageId) -> Value {
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
}
