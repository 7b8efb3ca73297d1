//! The `tracker` function: SES events, published by Herald's configuration set to an SNS topic
//! and delivered to the tracker queue, recorded against the messages they are about (the
//! message tags the sender set: `herald_tenant`, `herald_message`).
//!
//! What it records so far is each message's SES **Send** event: SES's own word that it accepted
//! the message. The sender settles a message whose outcome a crash left unknown by it (see the
//! sender's crate docs). Other event types are acknowledged and counted until delivery tracking
//! records them. An event that does not parse, or that carries no Herald tags (mail sent by
//! something else through the configuration set), is logged with its SQS message id, counted
//! and acknowledged: it never fails the batch.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use herald::ids::{MessageId, TenantId};
use herald::store::Store;
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Config {
    pub core: herald::aws::CoreSettings,
}

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        Ok(Self {
            core: herald::aws::CoreSettings::from_lookup(&lookup)?,
        })
    }

    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// Counts since the cold start.
#[derive(Debug, Default)]
pub struct Counters {
    pub recorded: AtomicU64,
    pub malformed: AtomicU64,
    pub untagged: AtomicU64,
    pub not_tracked: AtomicU64,
}

#[derive(Debug, Clone)]
pub struct Tracker {
    store: Store,
    pub counters: Arc<Counters>,
}

/// An SES event, as far as the tracker reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SesEvent {
    pub event_type: String,
    pub tenant: TenantId,
    pub message: MessageId,
    /// SES's message id.
    pub ses_message_id: String,
    pub at: DateTime<Utc>,
}

/// Why a body is not an event the tracker can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    Malformed(String),
    Untagged,
}

/// Reads an SES event from an SQS body: the event itself (raw SNS delivery) or an SNS
/// notification carrying it.
pub fn parse(body: &str) -> Result<SesEvent, Unusable> {
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
        .ok_or_else(|| Unusable::Malformed("no eventType".into()))?
        .to_owned();
    let mail = value
        .get("mail")
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
    let tenant = tenant
        .parse()
        .map_err(|_| Unusable::Malformed("herald_tenant is not a tenant id".into()))?;
    let message = message
        .parse()
        .map_err(|_| Unusable::Malformed("herald_message is not a message id".into()))?;
    let ses_message_id = mail
        .get("messageId")
        .and_then(Value::as_str)
        .ok_or_else(|| Unusable::Malformed("no mail.messageId".into()))?
        .to_owned();
    let at = mail
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| Unusable::Malformed("no mail.timestamp".into()))?;
    Ok(SesEvent {
        event_type,
        tenant,
        message,
        ses_message_id,
        at,
    })
}

impl Tracker {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            counters: Arc::default(),
        }
    }

    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, config: &Config) -> Self {
        let (store, _) = config.core.clients(sdk);
        Self::new(store)
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        herald::batch::each_record(event, |message| {
            let this = self.clone();
            async move { this.handle_message(message).await }
        })
        .await
    }

    async fn handle_message(&self, message: SqsMessage) -> bool {
        let message_id = message.message_id.clone().unwrap_or_default();
        let event = match parse(message.body.as_deref().unwrap_or_default()) {
            Ok(e) => e,
            Err(Unusable::Malformed(why)) => {
                self.counters.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%message_id, reason = %why, "skipping a provider event that does not parse");
                return true;
            }
            Err(Unusable::Untagged) => {
                self.counters.untagged.fetch_add(1, Ordering::Relaxed);
                tracing::info!(%message_id, "skipping an SES event without Herald's tags");
                return true;
            }
        };
        if event.event_type != "Send" {
            self.counters.not_tracked.fetch_add(1, Ordering::Relaxed);
            tracing::info!(%message_id, event_type = %event.event_type, message = %event.message, "SES event acknowledged (not tracked yet)");
            return true;
        }
        match self
            .store
            .record_send_event(event.tenant, event.message, &event.ses_message_id, event.at)
            .await
        {
            Ok(()) => {
                self.counters.recorded.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(e) => {
                tracing::error!(%message_id, error = ?e, "recording an SES event failed; it will be delivered again");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_event(tags: Value) -> Value {
        serde_json::json!({
            "eventType": "Send",
            "mail": {
                "timestamp": "2026-11-21T10:00:00.000Z",
                "source": "events@acme.example",
                "messageId": "0100018c-ses",
                "destination": ["ada@example.com"],
                "tags": tags
            },
            "send": {}
        })
    }

    #[test]
    fn reads_a_raw_send_event_and_one_inside_an_sns_notification() {
        let tenant = TenantId::new();
        let message = MessageId::new();
        let raw = send_event(serde_json::json!({
            "ses:configuration-set": ["herald"],
            "herald_tenant": [tenant.to_string()],
            "herald_message": [message.to_string()]
        }));
        let parsed = parse(&raw.to_string()).expect("parses");
        assert_eq!(parsed.tenant, tenant);
        assert_eq!(parsed.message, message);
        assert_eq!(parsed.ses_message_id, "0100018c-ses");
        assert_eq!(parsed.event_type, "Send");
        let wrapped = serde_json::json!({"Type": "Notification", "Message": raw.to_string()});
        assert_eq!(parse(&wrapped.to_string()), Ok(parsed));
    }

    #[test]
    fn refuses_garbage_and_untagged_mail() {
        assert!(matches!(parse("{"), Err(Unusable::Malformed(_))));
        assert!(matches!(parse("{}"), Err(Unusable::Malformed(_))));
        let untagged = send_event(serde_json::json!({"ses:configuration-set": ["herald"]}));
        assert_eq!(parse(&untagged.to_string()), Err(Unusable::Untagged));
        let bad_id = send_event(serde_json::json!({
            "herald_tenant": ["nope"], "herald_message": ["nope"]
        }));
        assert!(matches!(
            parse(&bad_id.to_string()),
            Err(Unusable::Malformed(_))
        ));
    }
}
