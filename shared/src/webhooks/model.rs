//! A tenant's webhook endpoints, the events Herald tells them about, and the record of each
//! delivery: the message (one event for one endpoint, its payload fixed when it was queued)
//! and its attempts.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::config::SealedCredentials;
use crate::domain::{DeliveryEvent, WebhookEventType};
use crate::ids::{TenantId, WebhookId, WebhookMessageId};
use crate::tracking::Tracked;

/// The KMS encryption-context owner of endpoint secrets (IAM grants decryption by it).
pub const SECRET_OWNER: &str = "webhooks";
/// The field name of a sealed secret.
pub const SECRET_FIELD: &str = "secret";
/// How long a rotated-out secret keeps signing next to the new one.
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 3600);
/// Endpoints a tenant may register.
pub const MAX_ENDPOINTS: usize = 20;
/// Messages and attempts are kept this long.
pub const RECORD_TTL_DAYS: i64 = 30;

/// Whether deliveries are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointStatus {
    Enabled,
    /// By the tenant, or by Herald (410 Gone, or failing for 5 days): `disabled_reason` says.
    Disabled,
}

/// A registered endpoint, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: WebhookId,
    pub tenant_id: TenantId,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub event_types: BTreeSet<WebhookEventType>,
    pub status: EndpointStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<DateTime<Utc>>,
    /// The first failure since the last success; cleared by a success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
    /// The signing secret, sealed with KMS (owner [`SECRET_OWNER`]).
    pub secret: SealedCredentials,
    /// The secret before the last rotation, signing too until `previous_expires_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret: Option<SealedCredentials>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_expires_at: Option<DateTime<Utc>>,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl EndpointStatus {
    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
        }
    }
}

impl Endpoint {
    pub fn enabled(&self) -> bool {
        self.status == EndpointStatus::Enabled
    }

    pub fn wants(&self, kind: WebhookEventType) -> bool {
        self.enabled() && self.event_types.contains(&kind)
    }

    /// The sealed secrets that sign at `now`: the current one, and the previous one during its
    /// overlap.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<&SealedCredentials> {
        let mut out = vec![&self.secret];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_expires_at)
            && until > now
        {
            out.push(previous);
        }
        out
    }
}

/// Something that happened, for the endpoints of its tenant that want its type.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    pub tenant: TenantId,
    pub kind: WebhookEventType,
    /// What makes it this event and no other (a provider report's identity, a campaign id...):
    /// the same event queued twice gets the same `webhook-id`, so receivers can drop the copy.
    pub key: String,
    pub at: DateTime<Utc>,
    pub data: Value,
}

impl WebhookEvent {
    /// The webhook message id of this event for `endpoint`: the same every time.
    pub fn message_id(&self, endpoint: WebhookId) -> WebhookMessageId {
        WebhookMessageId::derived(&[&endpoint.to_string(), self.kind.as_str(), &self.key])
    }

    /// The body, as the Standard Webhooks spec suggests: `type`, `timestamp`, `data`.
    pub fn payload(&self) -> String {
        json!({
            "type": self.kind.as_str(),
            "timestamp": self.at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "data": self.data,
        })
        .to_string()
    }
}

/// The webhook event type of a provider report, if endpoints hear of it.
pub fn message_event_type(kind: DeliveryEvent) -> Option<WebhookEventType> {
    Some(match kind {
        DeliveryEvent::Sent => WebhookEventType::MessageSent,
        DeliveryEvent::Delivered => WebhookEventType::MessageDelivered,
        DeliveryEvent::Bounced => WebhookEventType::MessageBounced,
        DeliveryEvent::Complained => WebhookEventType::MessageComplained,
        DeliveryEvent::Opened => WebhookEventType::MessageOpened,
        DeliveryEvent::Clicked => WebhookEventType::MessageClicked,
        _ => return None,
    })
}

/// A provider report as a webhook event: ids, channel, time and the report's detail (a
/// bounce's type, a click's link), never an address.
pub fn message_event(e: &Tracked) -> Option<WebhookEvent> {
    let kind = message_event_type(e.kind)?;
    let mut data = json!({
        "message_id": e.message,
        "channel": e.channel,
        "occurred_at": e.at.to_rfc3339_opts(SecondsFormat::Millis, true),
    });
    if let Some(map) = data.as_object_mut() {
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                map.insert(k.to_owned(), Value::String(v));
            }
        };
        put("event_id", e.event.map(|x| x.to_string()));
        put("campaign_id", e.campaign.map(|x| x.to_string()));
        put("contact_id", e.contact.map(|x| x.to_string()));
        put("provider_id", e.provider.map(|x| x.to_string()));
        put("provider_message_id", e.provider_message_id.clone());
        put("detail", e.detail.clone());
        put("link", e.link.clone());
    }
    Some(WebhookEvent {
        tenant: e.tenant,
        kind,
        key: e.identity.clone(),
        at: e.at,
        data,
    })
}

/// A consent change that added opt-outs (or unsubscribed from everything), as a
/// `contact.unsubscribed` event; `None` when it opted out of nothing new.
pub fn unsubscribed_event(
    tenant: TenantId,
    record: &crate::consent::ConsentRecord,
) -> Option<WebhookEvent> {
    let added: Vec<&crate::consent::OptOut> = record
        .after
        .opt_outs
        .iter()
        .filter(|o| !record.before.opt_outs.contains(o))
        .collect();
    let everything = record.after.unsubscribed && !record.before.unsubscribed;
    if added.is_empty() && !everything {
        return None;
    }
    Some(WebhookEvent {
        tenant,
        kind: WebhookEventType::ContactUnsubscribed,
        key: format!("{}#{}", record.contact_id, record.id),
        at: record.at,
        data: json!({
            "contact_id": record.contact_id,
            "unsubscribed_from_everything": everything,
            "opt_outs": added,
            "source": record.source,
            "message_id": record.message_id,
            "consent_record_id": record.id,
            "occurred_at": record.at.to_rfc3339_opts(SecondsFormat::Millis, true),
        }),
    })
}

/// A campaign that finished, as a `campaign.completed` event with its counts.
pub fn campaign_event(c: &crate::campaigns::Campaign, at: DateTime<Utc>) -> WebhookEvent {
    WebhookEvent {
        tenant: c.tenant_id,
        kind: WebhookEventType::CampaignCompleted,
        key: c.id.to_string(),
        at,
        data: json!({
            "campaign_id": c.id,
            "event_id": c.event_id,
            "name": c.name,
            "status": c.status,
            "counts": c.counts,
            "started_at": c.started_at,
            "completed_at": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        }),
    }
}

/// A finished CRM sync run, as a `crm.sync_completed` event with its report's figures (no
/// conflicts' details: the report has them).
pub fn sync_event(run: &crate::crm::SyncRun) -> WebhookEvent {
    let at = run.finished_at.unwrap_or_else(Utc::now);
    WebhookEvent {
        tenant: run.tenant_id,
        kind: WebhookEventType::CrmSyncCompleted,
        key: run.id.to_string(),
        at,
        data: json!({
            "run_id": run.id,
            "crm": run.kind,
            "trigger": run.trigger,
            "status": run.status,
            "pulled": run.pulled,
            "created": run.created,
            "updated": run.updated,
            "unchanged": run.unchanged,
            "pushed": run.pushed,
            "conflicts": run.conflicts_total,
            "errors": run.errors_total,
            "duration_ms": run.duration_ms,
            "finished_at": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        }),
    }
}

/// One delivery to make: the body of a webhook queue message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookJob {
    pub tenant_id: TenantId,
    pub endpoint_id: WebhookId,
    pub message_id: WebhookMessageId,
    pub event_type: WebhookEventType,
    /// The exact body, signed and sent on every attempt.
    pub payload: String,
    /// The attempt this job makes, counted over the message's life (replays go on counting).
    pub attempt: u32,
    /// Its place in the retry schedule (1 for a first delivery and for a replay).
    pub round: u32,
    /// Not before this time (a retry's wait, longer than SQS's 15-minute delay, is chained).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    /// Waiting for its next attempt.
    Pending,
    Delivered,
    /// Every attempt failed, or the endpoint was disabled; it can be replayed.
    Failed,
}

/// One event for one endpoint, as recorded after each attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebhookMessage {
    #[schema(value_type = String)]
    pub id: WebhookMessageId,
    #[schema(value_type = String)]
    pub endpoint_id: WebhookId,
    #[schema(value_type = String)]
    pub tenant_id: TenantId,
    pub event_type: WebhookEventType,
    /// The body as sent.
    pub payload: String,
    pub state: MessageState,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// What an attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// A 2xx answer.
    Delivered,
    /// Another answer, a timeout, or no connection.
    Failed,
    /// 410 Gone: the endpoint is disabled.
    Gone,
    /// The URL or the address its host resolved to is not allowed (SSRF policy); no request
    /// was made.
    Refused,
}

/// One attempt to deliver a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Attempt {
    #[schema(value_type = String)]
    pub message_id: WebhookMessageId,
    #[schema(value_type = String)]
    pub endpoint_id: WebhookId,
    pub event_type: WebhookEventType,
    /// 1 for the first.
    pub attempt: u32,
    pub at: DateTime<Utc>,
    pub outcome: AttemptOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    /// Why it failed (a timeout, a refused address...); never the endpoint's answer body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the next attempt is due, if there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Made by a replay over the API.
    #[serde(default)]
    pub replay: bool,
}

/// The retry schedule and when a failing endpoint is disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after each failed attempt of a round; the round ends after the last.
    pub delays: Vec<Duration>,
    /// An endpoint failing this long (every attempt since its last success) is disabled.
    pub disable_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            delays: super::RETRY_DELAYS.to_vec(),
            disable_after: super::DISABLE_AFTER,
        }
    }
}

impl RetryPolicy {
    /// The wait after the `round`-th attempt (1-based) failed; `None` after the last.
    pub fn delay_after(&self, round: u32) -> Option<Duration> {
        let index = usize::try_from(round.checked_sub(1)?).ok()?;
        self.delays.get(index).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{MessageId, TenantId};

    fn tracked(kind: DeliveryEvent) -> Tracked {
        Tracked {
            tenant: TenantId::new(),
            message: MessageId::new(),
            event: None,
            campaign: None,
            contact: None,
            expires: None,
            provider: None,
            channel: crate::domain::Channel::Email,
            kind,
            at: Utc::now(),
            sent_at: None,
            provider_message_id: Some("ses-1".into()),
            detail: Some("Permanent/General".into()),
            link: None,
            suppress: vec!["guest@example.com".into()],
            identity: "abc".into(),
            opt_out: None,
            recipient: None,
            seal: crate::tracking::seal::SealState::Absent,
        }
    }

    #[test]
    fn provider_reports_map_to_message_events_without_addresses() {
        let e = message_event(&tracked(DeliveryEvent::Bounced)).unwrap();
        assert_eq!(e.kind, WebhookEventType::MessageBounced);
        let body = e.payload();
        assert!(!body.contains("guest@example.com"), "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["type"], "message.bounced");
        assert_eq!(v["data"]["detail"], "Permanent/General");
        assert!(message_event(&tracked(DeliveryEvent::Delayed)).is_none());
    }

    #[test]
    fn the_same_event_has_the_same_message_id_per_endpoint() {
        let e = message_event(&tracked(DeliveryEvent::Delivered)).unwrap();
        let (a, b) = (WebhookId::new(), WebhookId::new());
        assert_eq!(e.message_id(a), e.message_id(a));
        assert_ne!(e.message_id(a), e.message_id(b));
    }

    #[test]
    fn the_schedule_ends_after_its_last_delay() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay_after(1), Some(Duration::from_secs(5)));
        assert_eq!(p.delay_after(6), Some(Duration::from_secs(10 * 3600)));
        assert_eq!(p.delay_after(7), None);
        assert_eq!(p.delay_after(0), None);
    }
}
