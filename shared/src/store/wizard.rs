//! An event's wizard item and its resolved snapshots.
//!
//! The wizard item keeps the choices (`uses`, `email_sender`), the latest completion `run` and
//! the `active` snapshot's summary in separate attributes, each written by an UpdateItem of its
//! own, so a choice saved while a completion runs is never lost. Activation is one transaction:
//! the new `RESOLVED#{version}` (which must not exist), `RESOLVED#ACTIVE`, and the run's
//! outcome on the wizard item (conditional on the run still being this one).

use std::collections::HashMap;

use anyhow::Context as _;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::batch::Transaction;
use super::{Item, Store, StoreError, StoreResult, keys};
use crate::ids::{EventId, TenantId};
use crate::wizard::{
    ActiveSnapshot, CompletionRun, EmailSenderOverride, RunStatus, Snapshot, SnapshotContent,
    SnapshotSummary, Uses, WizardRecord,
};

/// Attributes of a snapshot item that are not its body.
const SUMMARY_ATTRIBUTES: &str = "version, #hash, created_at, created_by, run_id, size_bytes";

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([
        (keys::PK.to_owned(), AttributeValue::S(pk)),
        (keys::SK.to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

fn av<T: serde::Serialize>(value: &T) -> StoreResult<AttributeValue> {
    Ok(serde_dynamo::to_attribute_value(value).context("serialising an attribute")?)
}

fn snapshot_item(pk: &str, sk: &str, snapshot: &Snapshot, body: &[u8]) -> Item {
    let mut item = key(pk.to_owned(), sk);
    let s = |v: &str| AttributeValue::S(v.to_owned());
    item.insert(
        "version".into(),
        AttributeValue::N(snapshot.version.to_string()),
    );
    item.insert("hash".into(), s(&snapshot.hash));
    item.insert("created_at".into(), s(&snapshot.created_at.to_rfc3339()));
    item.insert("created_by".into(), s(&snapshot.created_by));
    item.insert("run_id".into(), s(&snapshot.run_id));
    item.insert(
        "size_bytes".into(),
        AttributeValue::N(body.len().to_string()),
    );
    item.insert(
        "body".into(),
        AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(body.to_vec())),
    );
    item
}

fn summary_of(item: Item) -> StoreResult<SnapshotSummary> {
    let mut item = item;
    item.remove("body");
    item.remove(keys::PK);
    item.remove(keys::SK);
    Ok(serde_dynamo::from_item(item).context("reading a snapshot summary")?)
}

fn snapshot_of(mut item: Item) -> StoreResult<Snapshot> {
    let body = match item.remove("body") {
        Some(AttributeValue::B(b)) => b.into_inner(),
        _ => return Err(anyhow::anyhow!("snapshot item has no body").into()),
    };
    let summary = summary_of(item)?;
    Ok(Snapshot {
        version: summary.version,
        hash: summary.hash,
        created_at: summary.created_at,
        created_by: summary.created_by,
        run_id: summary.run_id,
        content: SnapshotContent::decode(&body)?,
    })
}

/// Why a completion could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("a completion of this event is {0} ({1}); wait for it to finish")]
    Busy(&'static str, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    pub async fn get_wizard(
        &self,
        tenant: TenantId,
        event: EventId,
    ) -> StoreResult<Option<WizardRecord>> {
        self.get(&keys::event_pk(tenant, event), keys::WIZARD).await
    }

    /// Sets (`Some(Some)`), clears (`Some(None)`) or leaves (`None`) each choice.
    pub async fn set_wizard_choices(
        &self,
        tenant: TenantId,
        event: EventId,
        uses: Option<Option<&Uses>>,
        email_sender: Option<Option<&EmailSenderOverride>>,
    ) -> StoreResult<WizardRecord> {
        let mut set = vec![
            "tenant_id = if_not_exists(tenant_id, :t)".to_owned(),
            "event_id = if_not_exists(event_id, :e)".to_owned(),
        ];
        let mut remove = Vec::new();
        let mut values = HashMap::from([
            (":t".to_owned(), AttributeValue::S(tenant.to_string())),
            (":e".to_owned(), AttributeValue::S(event.to_string())),
        ]);
        match uses {
            Some(Some(u)) => {
                set.push("uses = :u".into());
                values.insert(":u".into(), av(u)?);
            }
            Some(None) => remove.push("uses"),
            None => {}
        }
        match email_sender {
            Some(Some(s)) => {
                set.push("email_sender = :s".into());
                values.insert(":s".into(), av(s)?);
            }
            Some(None) => remove.push("email_sender"),
            None => {}
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let out = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(keys::event_pk(tenant, event), keys::WIZARD)))
            .update_expression(expression)
            .set_expression_attribute_values(Some(values))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await
            .context("UpdateItem wizard choices")?;
        let attributes = out.attributes.unwrap_or_default();
        Store::from_item(attributes)
    }

    /// Records a new queued run unless one is queued or running and its lease has not expired.
    pub async fn request_completion(
        &self,
        tenant: TenantId,
        event: EventId,
        run: &CompletionRun,
        now: DateTime<Utc>,
    ) -> Result<(), RequestError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(keys::event_pk(tenant, event), keys::WIZARD)))
            .update_expression(
                "SET #run = :run, tenant_id = if_not_exists(tenant_id, :t), event_id = if_not_exists(event_id, :e)",
            )
            .condition_expression(
                "attribute_not_exists(#run) OR #run.#status IN (:succeeded, :failed) OR #run.lease_until < :now",
            )
            .expression_attribute_names("#run", "run")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":run", av(run)?)
            .expression_attribute_values(":t", AttributeValue::S(tenant.to_string()))
            .expression_attribute_values(":e", AttributeValue::S(event.to_string()))
            .expression_attribute_values(":succeeded", AttributeValue::S("succeeded".into()))
            .expression_attribute_values(":failed", AttributeValue::S("failed".into()))
            .expression_attribute_values(":now", AttributeValue::N(now.timestamp().to_string()))
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c),
                ) => {
                    let current: Option<WizardRecord> =
                        c.item().cloned().and_then(|i| serde_dynamo::from_item(i).ok());
                    let (status, id) = current
                        .and_then(|w| w.run)
                        .map(|r| (r.status.as_str(), r.run_id))
                        .unwrap_or(("in progress", String::new()));
                    Err(RequestError::Busy(status, id))
                }
                _ => Err(StoreError::from(
                    anyhow::Error::new(e).context("UpdateItem wizard run"),
                )
                .into()),
            },
        }
    }

    /// Replaces the run if it is still `run_id` and in one of `from`; false when it is not
    /// (another run took over, or this one already finished).
    pub async fn update_run(
        &self,
        tenant: TenantId,
        event: EventId,
        run: &CompletionRun,
        from: &[RunStatus],
    ) -> StoreResult<bool> {
        let (condition, values) = run_condition(run, from);
        let mut request = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(keys::event_pk(tenant, event), keys::WIZARD)))
            .update_expression("SET #run = :run")
            .condition_expression(condition)
            .expression_attribute_names("#run", "run")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":run", av(run)?);
        for (k, v) in values {
            request = request.expression_attribute_values(k, v);
        }
        Ok(super::if_condition_met(request.send().await, "UpdateItem wizard run")?.is_some())
    }

    /// One transaction: the new snapshot version, the active copy (conditional on the active
    /// version being `previous`), and the finished run with the new active summary (conditional
    /// on the run still being this one and running). False when a condition failed.
    pub async fn activate_snapshot(
        &self,
        tenant: TenantId,
        event: EventId,
        snapshot: &Snapshot,
        previous: Option<u64>,
        run: &CompletionRun,
    ) -> StoreResult<bool> {
        let pk = keys::event_pk(tenant, event);
        let body = snapshot.content.encode()?;
        if body.len() > crate::wizard::snapshot::MAX_COMPRESSED_BYTES {
            return Err(anyhow::anyhow!(
                "the snapshot is {} bytes compressed, over the limit of {}",
                body.len(),
                crate::wizard::snapshot::MAX_COMPRESSED_BYTES
            )
            .into());
        }
        let versioned = Put::builder()
            .table_name(self.table())
            .set_item(Some(snapshot_item(
                &pk,
                &keys::snapshot_sk(snapshot.version),
                snapshot,
                &body,
            )))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .context("put snapshot")?;
        let mut active = Put::builder()
            .table_name(self.table())
            .set_item(Some(snapshot_item(
                &pk,
                keys::ACTIVE_SNAPSHOT,
                snapshot,
                &body,
            )));
        active = match previous {
            None => active.condition_expression("attribute_not_exists(PK)"),
            Some(v) => active
                .condition_expression("version = :previous")
                .expression_attribute_values(":previous", AttributeValue::N(v.to_string())),
        };
        let summary = ActiveSnapshot {
            version: snapshot.version,
            hash: snapshot.hash.clone(),
            activated_at: snapshot.created_at,
            activated_by: snapshot.created_by.clone(),
            run_id: snapshot.run_id.clone(),
        };
        let (condition, values) = run_condition(run, &[RunStatus::Running]);
        let mut update = Update::builder()
            .table_name(self.table())
            .set_key(Some(key(pk.clone(), keys::WIZARD)))
            .update_expression("SET #run = :run, active = :active")
            .condition_expression(condition)
            .expression_attribute_names("#run", "run")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":run", av(run)?)
            .expression_attribute_values(":active", av(&summary)?);
        for (k, v) in values {
            update = update.expression_attribute_values(k, v);
        }
        // With its journey's mark: the new journey's steps are scheduled (or the old ones
        // cancelled) by a sync, finished by the sweep if the completion stops part way.
        let request = Transaction::new()
            .with(TransactWriteItem::builder().put(versioned).build())?
            .with(
                TransactWriteItem::builder()
                    .put(active.build().context("put active")?)
                    .build(),
            )?
            .with(
                TransactWriteItem::builder()
                    .update(update.build().context("update wizard")?)
                    .build(),
            )?
            .with(self.mark_put(tenant, event, snapshot.content.event.version)?)?;
        self.transact(request, "snapshot").await
    }

    /// One snapshot version, or the active one when `version` is `None`.
    pub async fn get_snapshot(
        &self,
        tenant: TenantId,
        event: EventId,
        version: Option<u64>,
    ) -> StoreResult<Option<Snapshot>> {
        let sk = match version {
            Some(v) => keys::snapshot_sk(v),
            None => keys::ACTIVE_SNAPSHOT.to_owned(),
        };
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(keys::event_pk(tenant, event), &sk)))
            .consistent_read(true)
            .send()
            .await
            .context("GetItem snapshot")?;
        out.item.map(snapshot_of).transpose()
    }

    /// The event's snapshot versions without their content, oldest first.
    pub async fn list_snapshots(
        &self,
        tenant: TenantId,
        event: EventId,
    ) -> StoreResult<Vec<SnapshotSummary>> {
        let items = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", AttributeValue::S(keys::event_pk(tenant, event)))
            .expression_attribute_values(
                ":prefix",
                AttributeValue::S(keys::SNAPSHOT_VERSION_PREFIX.to_owned()),
            )
            .projection_expression(SUMMARY_ATTRIBUTES)
            .expression_attribute_names("#hash", "hash")
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .context("Query snapshots")?;
        items.into_iter().map(summary_of).collect()
    }
}

/// `#run.run_id = :run_id AND #run.#status IN (...)`.
fn run_condition(
    run: &CompletionRun,
    from: &[RunStatus],
) -> (String, Vec<(String, AttributeValue)>) {
    let mut values = vec![(":run_id".to_owned(), AttributeValue::S(run.run_id.clone()))];
    let names: Vec<String> = from
        .iter()
        .map(|s| {
            let name = format!(":from_{}", s.as_str());
            values.push((name.clone(), AttributeValue::S(s.as_str().to_owned())));
            name
        })
        .collect();
    (
        format!(
            "#run.run_id = :run_id AND #run.#status IN ({})",
            names.join(", ")
        ),
        values,
    )
}
