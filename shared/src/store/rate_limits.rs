//! API rate limits: two token buckets per request, the key's and its tenant's, kept as GCRA
//! "theoretical arrival times" (ms) in one item per tenant, so every Lambda instance shares
//! them. A request costs one conditional UpdateItem when this instance's last view of the
//! item is current, two when another instance wrote in between (the failed condition
//! returns the item, and the second write uses it).

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use super::{Store, StoreResult, keys};
use crate::ids::{ApiKeyId, TenantId};

/// One bucket: `per_second` sustained, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub per_second: f64,
    pub burst: u32,
}

impl Bucket {
    fn interval_ms(&self) -> i64 {
        ((1000.0 / self.per_second.max(0.001)).ceil() as i64).max(1)
    }

    fn tolerance_ms(&self) -> i64 {
        self.interval_ms() * i64::from(self.burst.max(1) - 1)
    }

    /// The new arrival time of one more request, or how long until one fits.
    fn take(&self, tat: Option<i64>, now_ms: i64) -> Result<i64, i64> {
        let start = tat.unwrap_or(0).max(now_ms);
        let wait = start - now_ms - self.tolerance_ms();
        if wait > 0 {
            Err(wait)
        } else {
            Ok(start + self.interval_ms())
        }
    }
}

/// The limits of API requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ApiLimits {
    pub per_key: Bucket,
    pub per_tenant: Bucket,
}

impl Default for ApiLimits {
    fn default() -> Self {
        Self {
            per_key: Bucket {
                per_second: 25.0,
                burst: 50,
            },
            per_tenant: Bucket {
                per_second: 100.0,
                burst: 200,
            },
        }
    }
}

/// The outcome of taking a request's tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// Over a limit (`key` or `tenant`): try again after this many milliseconds.
    Limited {
        bucket: &'static str,
        retry_after_ms: i64,
    },
}

/// The buckets' arrival times as last seen: (tenant, key).
pub type Seen = (Option<i64>, Option<i64>);

const ATTEMPTS: usize = 4;

impl Store {
    /// Takes one token from the key's bucket and one from its tenant's (platform keys: the
    /// platform's). `seen` is this instance's last view of the item (updated here).
    pub async fn take_api_token(
        &self,
        tenant: Option<TenantId>,
        key: ApiKeyId,
        limits: &ApiLimits,
        now_ms: i64,
        seen: &mut Seen,
    ) -> StoreResult<Admission> {
        let pk = match tenant {
            Some(t) => keys::rate_pk(t),
            None => keys::PLATFORM_RATE.to_owned(),
        };
        let key_attr = format!("k#{key}");
        for _ in 0..ATTEMPTS {
            let (t_old, k_old) = *seen;
            let t_new = match limits.per_tenant.take(t_old, now_ms) {
                Ok(t) => t,
                Err(wait) => {
                    return Ok(Admission::Limited {
                        bucket: "tenant",
                        retry_after_ms: wait,
                    });
                }
            };
            let k_new = match limits.per_key.take(k_old, now_ms) {
                Ok(k) => k,
                Err(wait) => {
                    return Ok(Admission::Limited {
                        bucket: "key",
                        retry_after_ms: wait,
                    });
                }
            };
            let mut conditions = Vec::new();
            let mut request = self
                .client()
                .update_item()
                .table_name(self.table())
                .key(keys::PK, AttributeValue::S(pk.clone()))
                .key(keys::SK, AttributeValue::S(keys::API_RATE.to_owned()))
                .update_expression("SET t = :t, #k = :k, #ttl = :ttl")
                .expression_attribute_names("#k", &key_attr)
                .expression_attribute_names("#ttl", keys::TTL)
                .expression_attribute_values(":t", AttributeValue::N(t_new.to_string()))
                .expression_attribute_values(":k", AttributeValue::N(k_new.to_string()))
                .expression_attribute_values(
                    ":ttl",
                    AttributeValue::N((now_ms / 1000 + 86_400).to_string()),
                )
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            match t_old {
                None => conditions.push("attribute_not_exists(t)"),
                Some(t) => {
                    conditions.push("t = :t_old");
                    request = request
                        .expression_attribute_values(":t_old", AttributeValue::N(t.to_string()));
                }
            }
            match k_old {
                None => conditions.push("attribute_not_exists(#k)"),
                Some(k) => {
                    conditions.push("#k = :k_old");
                    request = request
                        .expression_attribute_values(":k_old", AttributeValue::N(k.to_string()));
                }
            }
            match request.condition_expression(conditions.join(" AND ")).send().await {
                Ok(_) => {
                    *seen = (Some(t_new), Some(k_new));
                    return Ok(Admission::Allowed);
                }
                Err(e) => match e.as_service_error() {
                    Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c)) => {
                        let item = c.item();
                        let number = |name: &str| {
                            item.and_then(|i| i.get(name))
                                .and_then(|v| v.as_n().ok())
                                .and_then(|n| n.parse::<i64>().ok())
                        };
                        *seen = (number("t"), number(&key_attr));
                    }
                    _ => {
                        return Err(anyhow::Error::new(e)
                            .context("UpdateItem API rate")
                            .into());
                    }
                },
            }
        }
        // Contended beyond reason (many instances writing at once): let the request through
        // rather than refuse a caller who may be under its limit.
        tracing::warn!(key_id = %key, "rate-limit bucket contended; request admitted");
        Ok(Admission::Allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let b = Bucket {
            per_second: 10.0,
            burst: 3,
        };
        let mut tat = None;
        for _ in 0..3 {
            tat = Some(b.take(tat, 0).expect("within the burst"));
        }
        assert_eq!(b.take(tat, 0), Err(100));
        // 100 ms later one more fits.
        assert!(b.take(tat, 100).is_ok());
    }
}
