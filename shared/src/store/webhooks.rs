//! Webhook endpoints, and the messages and attempts of their deliveries.

use anyhow::Context as _;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};

use super::{Keys, Store, StoreError, StoreResult, keys, string_attr};
use crate::ids::{TenantId, WebhookId, WebhookMessageId};
use crate::webhooks::model::Endpoint;
use crate::webhooks::{Attempt, EndpointStatus, RECORD_TTL_DAYS, WebhookMessage};

/// A page of an endpoint's attempts, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptPage {
    pub items: Vec<Attempt>,
    /// Where the next (older) page starts, when there is one.
    pub next: Option<String>,
}

fn endpoint_keys(tenant: TenantId, id: WebhookId) -> Keys {
    Keys::new(keys::webhooks_pk(tenant), keys::webhook_endpoint_sk(id))
}

fn ttl(from: DateTime<Utc>) -> AttributeValue {
    AttributeValue::N((from.timestamp() + RECORD_TTL_DAYS * 24 * 3600).to_string())
}

impl Store {
    /// The tenant's endpoints, oldest first.
    pub async fn webhook_endpoints(&self, tenant: TenantId) -> StoreResult<Vec<Endpoint>> {
        let mut out: Vec<Endpoint> = self
            .query_prefix(&keys::webhooks_pk(tenant), keys::WEBHOOK_ENDPOINT_PREFIX)
            .await?;
        out.sort_by_key(|e| e.id);
        Ok(out)
    }

    pub async fn get_webhook_endpoint(
        &self,
        tenant: TenantId,
        id: WebhookId,
    ) -> StoreResult<Option<Endpoint>> {
        self.get(&keys::webhooks_pk(tenant), &keys::webhook_endpoint_sk(id))
            .await
    }

    /// Writes an endpoint: a new one (`version` 1), or a change to the stored `version - 1`
    /// (`StaleVersion` when someone, or the deliverer, changed it meanwhile).
    pub async fn put_webhook_endpoint(&self, tenant: TenantId, e: &Endpoint) -> StoreResult<()> {
        self.put_versioned(&endpoint_keys(tenant, e.id), e, e.version.saturating_sub(1))
            .await
    }

    /// Deletes an endpoint; false when there was none. (Its messages and attempts expire.)
    pub async fn delete_webhook_endpoint(
        &self,
        tenant: TenantId,
        id: WebhookId,
    ) -> StoreResult<bool> {
        match self
            .delete_with_id(&endpoint_keys(tenant, id), &id.to_string())
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::NotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Runs a conditional UpdateItem on an endpoint that also bumps its version; the endpoint
    /// after it, `None` when the condition failed (or the endpoint is gone).
    async fn update_endpoint(
        &self,
        tenant: TenantId,
        id: WebhookId,
        update: &str,
        condition: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
    ) -> StoreResult<Option<Endpoint>> {
        let mut request = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(keys::PK, AttributeValue::S(keys::webhooks_pk(tenant)))
            .key(keys::SK, AttributeValue::S(keys::webhook_endpoint_sk(id)))
            .update_expression(format!("{update} ADD version :one"))
            .condition_expression(format!("attribute_exists(PK) AND ({condition})"))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::AllNew);
        for (alias, name) in names {
            request = request.expression_attribute_names(*alias, *name);
        }
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        match request.send().await {
            Ok(out) => Ok(out
                .attributes
                .map(serde_dynamo::from_item::<_, Endpoint>)
                .transpose()
                .context("reading an endpoint")?),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(anyhow::Error::new(e)
                .context("UpdateItem webhook endpoint")
                .into()),
        }
    }

    /// Notes a failed delivery: the endpoint's `failing_since` is set unless it already is.
    /// The endpoint as it now stands (`None` when it is gone).
    pub async fn note_webhook_failure(
        &self,
        tenant: TenantId,
        id: WebhookId,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Endpoint>> {
        let at = AttributeValue::S(at.to_rfc3339());
        match self
            .update_endpoint(
                tenant,
                id,
                "SET failing_since = :at",
                "attribute_not_exists(failing_since)",
                &[],
                vec![(":at", at)],
            )
            .await?
        {
            Some(e) => Ok(Some(e)),
            None => self.get_webhook_endpoint(tenant, id).await,
        }
    }

    /// A success after failures: `failing_since` goes.
    pub async fn clear_webhook_failure(&self, tenant: TenantId, id: WebhookId) -> StoreResult<()> {
        self.update_endpoint(
            tenant,
            id,
            "REMOVE failing_since",
            "attribute_exists(failing_since)",
            &[],
            vec![],
        )
        .await?;
        Ok(())
    }

    /// Disables an enabled endpoint, saying why; the endpoint after it (`None` when it was
    /// already disabled or is gone).
    pub async fn disable_webhook_endpoint(
        &self,
        tenant: TenantId,
        id: WebhookId,
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Endpoint>> {
        let status = |s: EndpointStatus| AttributeValue::S(s.as_str().to_owned());
        self.update_endpoint(
            tenant,
            id,
            "SET #status = :disabled, disabled_reason = :reason, disabled_at = :at, updated_at = :at",
            "#status = :enabled",
            &[("#status", "status")],
            vec![
                (":disabled", status(EndpointStatus::Disabled)),
                (":enabled", status(EndpointStatus::Enabled)),
                (":reason", AttributeValue::S(reason.to_owned())),
                (":at", AttributeValue::S(at.to_rfc3339())),
            ],
        )
        .await
    }

    /// The item of a message's state.
    fn webhook_message_item(
        tenant: TenantId,
        message: &WebhookMessage,
    ) -> StoreResult<super::Item> {
        let mut meta = Store::to_item(
            &Keys::new(keys::webhook_message_pk(tenant, message.id), keys::META).with_gsi1(
                keys::webhook_messages_gsi(tenant, message.endpoint_id),
                format!(
                    "{:013}#{}",
                    message.created_at.timestamp_millis().max(0),
                    message.id
                ),
            ),
            message,
        )?;
        meta.insert(keys::TTL.into(), ttl(message.created_at));
        Ok(meta)
    }

    /// Writes a message's state alone (one that was not attempted: its endpoint is disabled).
    pub async fn put_webhook_message(
        &self,
        tenant: TenantId,
        message: &WebhookMessage,
    ) -> StoreResult<()> {
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(Self::webhook_message_item(tenant, message)?))
            .send()
            .await
            .context("PutItem webhook message")?;
        Ok(())
    }

    /// Records an attempt and the message's state after it: one BatchWriteItem of both.
    pub async fn record_webhook_attempt(
        &self,
        tenant: TenantId,
        message: &WebhookMessage,
        attempt: &Attempt,
    ) -> StoreResult<()> {
        let meta = Self::webhook_message_item(tenant, message)?;
        let pk = keys::webhook_message_pk(tenant, message.id);
        let mut item = Store::to_item(
            &Keys::new(pk, keys::webhook_attempt_sk(attempt.attempt)).with_gsi1(
                keys::webhook_attempts_gsi(tenant, attempt.endpoint_id),
                attempt_cursor(attempt),
            ),
            attempt,
        )?;
        item.insert(keys::TTL.into(), ttl(attempt.at));
        self.batch_put_all(vec![meta, item]).await
    }

    /// A message with its payload and state.
    pub async fn get_webhook_message(
        &self,
        tenant: TenantId,
        id: WebhookMessageId,
    ) -> StoreResult<Option<WebhookMessage>> {
        self.get(&keys::webhook_message_pk(tenant, id), keys::META)
            .await
    }

    /// A message's attempts, first first.
    pub async fn webhook_message_attempts(
        &self,
        tenant: TenantId,
        id: WebhookMessageId,
    ) -> StoreResult<Vec<Attempt>> {
        self.query_prefix(
            &keys::webhook_message_pk(tenant, id),
            keys::WEBHOOK_ATTEMPT_PREFIX,
        )
        .await
    }

    /// An endpoint's attempts, newest first, `limit` at a time from `before` (a page's `next`).
    pub async fn webhook_attempts(
        &self,
        tenant: TenantId,
        endpoint: WebhookId,
        limit: i32,
        before: Option<&str>,
    ) -> StoreResult<AttemptPage> {
        let mut request = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(keys::GSI1)
            .expression_attribute_values(
                ":pk",
                AttributeValue::S(keys::webhook_attempts_gsi(tenant, endpoint)),
            )
            .scan_index_forward(false)
            .limit(limit);
        request = match before {
            Some(cursor) => request
                .key_condition_expression("GSI1PK = :pk AND GSI1SK < :before")
                .expression_attribute_values(":before", AttributeValue::S(cursor.to_owned())),
            None => request.key_condition_expression("GSI1PK = :pk"),
        };
        let out = request.send().await.context("Query webhook attempts")?;
        let items: Vec<Attempt> = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(Store::from_item)
            .collect::<StoreResult<_>>()?;
        let next = out
            .last_evaluated_key
            .as_ref()
            .map(|k| string_attr(k, keys::GSI1SK))
            .filter(|k| !k.is_empty());
        Ok(AttemptPage { items, next })
    }
}

/// An attempt's place in its endpoint's list.
fn attempt_cursor(a: &Attempt) -> String {
    format!(
        "{:013}#{}#{:04}",
        a.at.timestamp_millis().max(0),
        a.message_id,
        a.attempt
    )
}
