//! What every sender instance shares about a provider: its health (sends, failures, the last
//! error, the circuit breaker) and its send-rate bucket.
//!
//! The bucket is a virtual schedule (GCRA): `tat` is the time (epoch milliseconds) at which
//! the provider's schedule is next free. A lease of `n` messages at `rate` per second books the
//! next `n / rate` seconds of it in one conditional UpdateItem, so instances never book the
//! same time, and each paces its own sends evenly through what it booked. The sender splits
//! each provider's rate into two such buckets, one per lane (campaigns, transactional
//! messages), whose rates add up to the provider's (`herald_sender::lanes`).

use anyhow::Context as _;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Store, StoreResult, keys};
use crate::ids::{ProviderId, TenantId};

/// A provider's health as every sender instance reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProviderHealth {
    pub provider_id: ProviderId,
    /// Messages the provider accepted.
    #[serde(default)]
    pub sent: u64,
    /// Throttling, 5xx answers and timeouts (the message went to the next provider).
    #[serde(default)]
    pub failed_retryable: u64,
    /// Refusals that no retry fixes (an invalid address, a rejected request).
    #[serde(default)]
    pub failed_permanent: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<DateTime<Utc>>,
    /// While in the future the circuit is open: senders skip the provider until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_open_until: Option<DateTime<Utc>>,
    /// How many times the circuit opened.
    #[serde(default)]
    pub circuit_opened: u64,
}

impl ProviderHealth {
    /// Whether senders skip the provider at `now`.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.circuit_open_until.is_some_and(|until| until > now)
    }
}

/// What one instance saw since it last reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthDelta {
    pub sent: u64,
    pub failed_retryable: u64,
    pub failed_permanent: u64,
    pub last_error: Option<String>,
    pub last_failure_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
}

impl HealthDelta {
    /// Provider calls counted.
    pub fn calls(&self) -> u64 {
        self.sent + self.failed_retryable + self.failed_permanent
    }

    pub fn is_empty(&self) -> bool {
        self.calls() == 0
    }
}

/// A booked stretch of a bucket's schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Booking {
    /// Epoch milliseconds: the first of the booked messages may go then.
    pub start_ms: i64,
}

impl Store {
    /// Adds an instance's counts to a provider's health (opening its circuit until `open_until`
    /// when given) and returns the health as it is now: one UpdateItem.
    pub async fn report_provider(
        &self,
        tenant: TenantId,
        provider: ProviderId,
        delta: &HealthDelta,
        open_until: Option<DateTime<Utc>>,
    ) -> StoreResult<ProviderHealth> {
        let n = |v: u64| AttributeValue::N(v.to_string());
        let mut sets = vec!["provider_id = :pid".to_owned()];
        let mut request = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(keys::PK, AttributeValue::S(keys::provider_state_pk(tenant)))
            .key(
                keys::SK,
                AttributeValue::S(keys::provider_health_sk(provider)),
            )
            .expression_attribute_values(":pid", AttributeValue::S(provider.to_string()))
            .expression_attribute_values(":sent", n(delta.sent))
            .expression_attribute_values(":retryable", n(delta.failed_retryable))
            .expression_attribute_values(":permanent", n(delta.failed_permanent))
            .expression_attribute_values(":opened", n(u64::from(open_until.is_some())));
        let optional = [
            ("last_error", delta.last_error.clone()),
            (
                "last_failure_at",
                delta.last_failure_at.map(|t| t.to_rfc3339()),
            ),
            (
                "last_success_at",
                delta.last_success_at.map(|t| t.to_rfc3339()),
            ),
            ("circuit_open_until", open_until.map(|t| t.to_rfc3339())),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                sets.push(format!("{name} = :{name}"));
                request = request
                    .expression_attribute_values(format!(":{name}"), AttributeValue::S(value));
            }
        }
        let out = request
            .update_expression(format!(
                "SET {} ADD sent :sent, failed_retryable :retryable, failed_permanent :permanent, circuit_opened :opened",
                sets.join(", ")
            ))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .context("UpdateItem provider health")?;
        Store::from_item(out.attributes.unwrap_or_default())
    }

    /// The health of every provider of a tenant that has sent anything, by provider id.
    pub async fn provider_health(&self, tenant: TenantId) -> StoreResult<Vec<ProviderHealth>> {
        self.query_prefix(
            &keys::provider_state_pk(tenant),
            keys::PROVIDER_HEALTH_PREFIX,
        )
        .await
    }

    /// Books `n` messages at `rate` per second on a bucket's schedule, starting now or when
    /// the schedule is next free; `None` when it is booked beyond `max_wait_ms` from now.
    pub async fn book_send_slots(
        &self,
        bucket: &(String, String),
        rate: f64,
        n: u32,
        now_ms: i64,
        max_wait_ms: i64,
    ) -> StoreResult<Option<Booking>> {
        let span = ((f64::from(n) * 1000.0) / rate).ceil().max(1.0) as i64;
        for _ in 0..5 {
            // Free now: book from now on.
            let idle = self
                .client()
                .update_item()
                .table_name(self.table())
                .key(keys::PK, AttributeValue::S(bucket.0.clone()))
                .key(keys::SK, AttributeValue::S(bucket.1.clone()))
                .update_expression("SET tat = :end")
                .condition_expression("attribute_not_exists(tat) OR tat < :now")
                .expression_attribute_values(":end", AttributeValue::N((now_ms + span).to_string()))
                .expression_attribute_values(":now", AttributeValue::N(now_ms.to_string()))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            let booked_until = match idle {
                Ok(_) => return Ok(Some(Booking { start_ms: now_ms })),
                Err(e) => match e.as_service_error() {
                    Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c)) => c
                        .item()
                        .and_then(|i| number_attr(i, "tat"))
                        .unwrap_or(i64::MAX),
                    _ => return Err(anyhow::Error::new(e).context("UpdateItem send slots").into()),
                },
            };
            if booked_until > now_ms + max_wait_ms {
                return Ok(None);
            }
            // Busy: book after what others booked.
            let busy = self
                .client()
                .update_item()
                .table_name(self.table())
                .key(keys::PK, AttributeValue::S(bucket.0.clone()))
                .key(keys::SK, AttributeValue::S(bucket.1.clone()))
                .update_expression("SET tat = tat + :span")
                .condition_expression("tat >= :now AND tat <= :horizon")
                .expression_attribute_values(":span", AttributeValue::N(span.to_string()))
                .expression_attribute_values(":now", AttributeValue::N(now_ms.to_string()))
                .expression_attribute_values(
                    ":horizon",
                    AttributeValue::N((now_ms + max_wait_ms).to_string()),
                )
                .return_values(ReturnValue::UpdatedNew)
                .send()
                .await;
            match busy {
                Ok(out) => {
                    let end = out
                        .attributes
                        .as_ref()
                        .and_then(|a| number_attr(a, "tat"))
                        .context("UpdateItem send slots returned no tat")?;
                    return Ok(Some(Booking {
                        start_ms: end - span,
                    }));
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context("UpdateItem send slots")
                        .into());
                }
            }
        }
        Ok(None)
    }
}

/// A number attribute.
fn number_attr(item: &super::Item, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}
