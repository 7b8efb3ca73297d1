//! Journeys in the table: each layer's definition (the tenant's standard journey, the event's
//! changes; versioned), each step's occurrence next to its event, and the marks of events whose
//! occurrences must be brought in line with a change (the sweep finds them through GSI1).

use anyhow::Context as _;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::batch::Transaction;
use super::{Keys, Store, StoreError, StoreResult, keys};
use crate::ids::{EventId, TenantId};
use crate::journeys::{EventJourneyChanges, JourneyDef, Occurrence, OccurrenceStatus, StepKey};

/// A tenant's standard journey as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantJourney {
    #[serde(flatten)]
    pub journey: JourneyDef,
    pub version: u64,
    pub updated_at: DateTime<Utc>,
}

/// An event's changes to the journey as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventJourney {
    #[serde(flatten)]
    pub changes: EventJourneyChanges,
    pub version: u64,
    pub updated_at: DateTime<Utc>,
}

/// An event whose occurrences must be brought in line (its move, cancellation or activation
/// has not been applied in full yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncMark {
    pub tenant_id: TenantId,
    pub event_id: EventId,
    /// The event version to apply (at least).
    pub event_version: u64,
    pub since: DateTime<Utc>,
}

fn mark_keys(tenant: TenantId, event: EventId, since: DateTime<Utc>) -> Keys {
    Keys::new(keys::event_pk(tenant, event), keys::JOURNEY_SYNC).with_gsi1(
        keys::JOURNEY_SYNC,
        format!("{:013}#{tenant}#{event}", since.timestamp_millis().max(0)),
    )
}

fn occurrence_keys(tenant: TenantId, event: EventId, key: &StepKey) -> Keys {
    Keys::new(keys::event_pk(tenant, event), keys::journey_step_sk(key))
}

impl Store {
    /// The tenant's standard journey.
    pub async fn tenant_journey(&self, tenant: TenantId) -> StoreResult<Option<TenantJourney>> {
        self.get(&keys::tenant_pk(tenant), keys::JOURNEY).await
    }

    /// Replaces the tenant's journey if its version is `expected` (0: none yet).
    pub async fn put_tenant_journey(
        &self,
        tenant: TenantId,
        journey: &TenantJourney,
        expected: u64,
    ) -> StoreResult<()> {
        self.put_versioned(
            &Keys::new(keys::tenant_pk(tenant), keys::JOURNEY),
            journey,
            expected,
        )
        .await
    }

    /// The event's changes to the journey.
    pub async fn event_journey(
        &self,
        tenant: TenantId,
        event: EventId,
    ) -> StoreResult<Option<EventJourney>> {
        self.get(&keys::event_pk(tenant, event), keys::JOURNEY)
            .await
    }

    /// Replaces the event's changes if their version is `expected` (0: none yet).
    pub async fn put_event_journey(
        &self,
        tenant: TenantId,
        event: EventId,
        journey: &EventJourney,
        expected: u64,
    ) -> StoreResult<()> {
        self.put_versioned(
            &Keys::new(keys::event_pk(tenant, event), keys::JOURNEY),
            journey,
            expected,
        )
        .await
    }

    /// Every occurrence of the event's steps: one Query of the event's partition.
    pub async fn occurrences(
        &self,
        tenant: TenantId,
        event: EventId,
    ) -> StoreResult<Vec<Occurrence>> {
        self.query_prefix(&keys::event_pk(tenant, event), keys::JOURNEY_STEP_PREFIX)
            .await
    }

    pub async fn occurrence(
        &self,
        tenant: TenantId,
        event: EventId,
        key: &StepKey,
    ) -> StoreResult<Option<Occurrence>> {
        let k = occurrence_keys(tenant, event, key);
        self.get(&k.pk, &k.sk).await
    }

    /// Writes an occurrence unless it started sending meanwhile, or a sync of a later event
    /// version wrote it: `Ok(false)` then (nothing written).
    pub async fn put_pending_occurrence(&self, occurrence: &Occurrence) -> StoreResult<bool> {
        let k = occurrence_keys(occurrence.tenant_id, occurrence.event_id, &occurrence.key);
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(Store::to_item(&k, occurrence)?))
            .condition_expression(
                "attribute_not_exists(PK) OR (#s IN (:scheduled, :skipped, :cancelled) AND event_version <= :v)",
            )
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":scheduled", status_value(OccurrenceStatus::Scheduled))
            .expression_attribute_values(":skipped", status_value(OccurrenceStatus::Skipped))
            .expression_attribute_values(":cancelled", status_value(OccurrenceStatus::Cancelled))
            .expression_attribute_values(
                ":v",
                AttributeValue::N(occurrence.event_version.to_string()),
            )
            .send()
            .await;
        Ok(super::if_condition_met(result, "PutItem occurrence")?.is_some())
    }

    /// Moves an occurrence from one status to another (the sender's claim `scheduled` →
    /// `sending`, and `sending` → `sent`), with its other fields as given; `Ok(false)` when it
    /// was not in `from`.
    pub async fn transition_occurrence(
        &self,
        occurrence: &Occurrence,
        from: &[OccurrenceStatus],
    ) -> StoreResult<bool> {
        let k = occurrence_keys(occurrence.tenant_id, occurrence.event_id, &occurrence.key);
        let names: Vec<String> = (0..from.len()).map(|i| format!(":f{i}")).collect();
        let mut request = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(Store::to_item(&k, occurrence)?))
            .condition_expression(format!("#s IN ({})", names.join(", ")))
            .expression_attribute_names("#s", "status");
        for (name, status) in names.iter().zip(from) {
            request = request.expression_attribute_values(name, status_value(*status));
        }
        let result = request.send().await;
        Ok(super::if_condition_met(result, "PutItem occurrence status")?.is_some())
    }

    /// Replaces an event (its version `expected`) and marks its journey for a sync, in one
    /// transaction: a crash after the write leaves the mark for the sweep to find.
    pub async fn replace_event_marked(
        &self,
        tenant: TenantId,
        event: &super::Event,
        expected: u64,
    ) -> StoreResult<()> {
        let put_event = Put::builder()
            .table_name(self.table())
            .set_item(Some(Store::to_item(
                &Keys::new(keys::tenant_pk(tenant), keys::event_sk(event.id)),
                event,
            )?))
            .condition_expression("attribute_exists(PK) AND version = :expected")
            .expression_attribute_values(":expected", AttributeValue::N(expected.to_string()))
            .build()
            .context("event put")?;
        let transaction = Transaction::new()
            .with(TransactWriteItem::builder().put(put_event).build())?
            .with(self.mark_put(tenant, event.id, event.version)?)?;
        if self
            .transact(transaction, "event and its journey mark")
            .await?
        {
            return Ok(());
        }
        match self.get_event(tenant, event.id).await? {
            None => Err(StoreError::NotFound),
            Some(current) => Err(StoreError::StaleVersion {
                expected,
                current: current.version,
            }),
        }
    }

    /// The Put of an event's sync mark (for a transaction of its own caller).
    pub(crate) fn mark_put(
        &self,
        tenant: TenantId,
        event: EventId,
        event_version: u64,
    ) -> StoreResult<TransactWriteItem> {
        let since = Utc::now();
        let mark = SyncMark {
            tenant_id: tenant,
            event_id: event,
            event_version,
            since,
        };
        let put = Put::builder()
            .table_name(self.table())
            .set_item(Some(Store::to_item(
                &mark_keys(tenant, event, since),
                &mark,
            )?))
            .build()
            .context("sync mark put")?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Marks an event's journey for a sync (outside a transaction).
    pub async fn mark_journey(
        &self,
        tenant: TenantId,
        event: EventId,
        event_version: u64,
    ) -> StoreResult<()> {
        let since = Utc::now();
        let mark = SyncMark {
            tenant_id: tenant,
            event_id: event,
            event_version,
            since,
        };
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(Store::to_item(
                &mark_keys(tenant, event, since),
                &mark,
            )?))
            .send()
            .await
            .context("PutItem journey mark")?;
        Ok(())
    }

    /// Clears an event's mark once `synced` (the event version applied) covers it.
    pub async fn clear_journey_mark(
        &self,
        tenant: TenantId,
        event: EventId,
        synced: u64,
    ) -> StoreResult<()> {
        let result = self
            .client()
            .delete_item()
            .table_name(self.table())
            .key(keys::PK, AttributeValue::S(keys::event_pk(tenant, event)))
            .key(keys::SK, AttributeValue::S(keys::JOURNEY_SYNC.to_owned()))
            .condition_expression("attribute_exists(PK) AND event_version <= :v")
            .expression_attribute_values(":v", AttributeValue::N(synced.to_string()))
            .send()
            .await;
        super::if_condition_met(result, "DeleteItem journey mark")?;
        Ok(())
    }

    /// The marks older than `before`, oldest first, at most `limit` (one Query of GSI1).
    pub async fn journey_marks(
        &self,
        before: DateTime<Utc>,
        limit: i32,
    ) -> StoreResult<Vec<SyncMark>> {
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(keys::GSI1)
            .key_condition_expression("GSI1PK = :pk AND GSI1SK < :before")
            .expression_attribute_values(":pk", AttributeValue::S(keys::JOURNEY_SYNC.to_owned()))
            .expression_attribute_values(
                ":before",
                AttributeValue::S(format!("{:013}", before.timestamp_millis().max(0))),
            )
            .limit(limit)
            .send()
            .await
            .context("Query journey marks")?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(Store::from_item)
            .collect()
    }
}

impl Store {
    /// Of `guests`, those whom `earlier` (a campaign of their event) sent a message that did
    /// not reach `state`: its record sent, and none of the events that mean the state (a
    /// click means an open, an open a delivery). One BatchGetItem per 25 guests (each
    /// guest's message record and its first events of those kinds).
    pub async fn not_reached(
        &self,
        tenant: TenantId,
        earlier: crate::ids::CampaignId,
        guests: &[crate::ids::GuestId],
        state: crate::journeys::NotReached,
    ) -> StoreResult<std::collections::HashSet<crate::ids::GuestId>> {
        use crate::domain::DeliveryEvent;
        let reaching: &[DeliveryEvent] = match state {
            crate::journeys::NotReached::Delivered => &[
                DeliveryEvent::Delivered,
                DeliveryEvent::Opened,
                DeliveryEvent::Clicked,
            ],
            crate::journeys::NotReached::Opened => &[DeliveryEvent::Opened, DeliveryEvent::Clicked],
            crate::journeys::NotReached::Clicked => &[DeliveryEvent::Clicked],
        };
        let message_of = |g: &crate::ids::GuestId| {
            crate::ids::MessageId::derived(&[&earlier.to_string(), &g.to_string()])
        };
        let mut wanted = Vec::new();
        for guest in guests {
            let pk = keys::message_pk(tenant, message_of(guest));
            wanted.push(super::batch::ItemKey::new(pk.clone(), keys::META).item());
            for kind in reaching {
                wanted.push(
                    super::batch::ItemKey::new(pk.clone(), keys::message_event_sk(*kind)).item(),
                );
            }
        }
        let found = self.batch_get_all(wanted).await?;
        let mut sent = std::collections::HashSet::new();
        let mut reached = std::collections::HashSet::new();
        for item in &found {
            let key = super::batch::ItemKey::of(item);
            if key.sk == keys::META {
                let status = super::string_attr(item, "status");
                if status == crate::messages::MessageStatus::Sent.as_str() {
                    sent.insert(key.pk);
                }
            } else {
                reached.insert(key.pk);
            }
        }
        Ok(guests
            .iter()
            .filter(|g| {
                let pk = keys::message_pk(tenant, message_of(g));
                sent.contains(&pk) && !reached.contains(&pk)
            })
            .copied()
            .collect())
    }
}

fn status_value(status: OccurrenceStatus) -> AttributeValue {
    AttributeValue::S(status.as_str().to_owned())
}
