//! Delivery events and counters: what the tracker writes and the analytics API reads.
//!
//! A batch of events costs one BatchGetItem per 100 keys (has each event been recorded
//! already? is an open or click the message's first?), one BatchWriteItem per 25 new events
//! and suppressions, and one UpdateItem per counters item the batch touches (the tenant, each
//! event and campaign, each minute): a batch of 100 SES events about one campaign is about
//! eight write requests.
//!
//! Exactly-once counting: an event's item key follows from the event (its kind, and for opens
//! and clicks its time and identity), so a duplicate finds its item and is not counted again.
//! Events are written before the counters; a tracker that stops between the two leaves those
//! events uncounted (never counted twice) and their messages' timelines whole.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::Context as _;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;

use super::{Item, Keys, Store, StoreResult, keys, string_attr};
use crate::domain::DeliveryEvent;
use crate::ids::{MessageId, TenantId};
use crate::messages::Message;
use crate::suppression::{Suppression, SuppressionSource};
use crate::tracking::{Scope, TimelineEvent, Tracked, repeats, tally};

/// How long the realtime view's minute counters are kept.
pub const MINUTE_TTL_SECONDS: i64 = 2 * 24 * 60 * 60;

/// What one ingestion did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ingested {
    pub recorded: usize,
    pub duplicates: usize,
    pub suppressed: usize,
    /// The recorded events by type.
    pub by_kind: BTreeMap<DeliveryEvent, usize>,
}

/// A counters item: metric names to counts, and link digests to URLs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub counts: BTreeMap<String, i64>,
    pub links: BTreeMap<String, String>,
}

impl Counters {
    fn from_item(item: &Item) -> Self {
        let mut out = Self::default();
        for (name, value) in item {
            if let Some(key) = name.strip_prefix("u#") {
                if let Ok(url) = value.as_s() {
                    out.links.insert(key.to_owned(), url.clone());
                }
            } else if name.contains('#')
                && let Some(n) = value.as_n().ok().and_then(|n| n.parse().ok())
            {
                out.counts.insert(name.clone(), n);
            }
        }
        out
    }

    pub fn get(&self, name: &str) -> i64 {
        self.counts.get(name).copied().unwrap_or(0)
    }
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([
        (keys::PK.to_owned(), AttributeValue::S(pk)),
        (keys::SK.to_owned(), AttributeValue::S(sk)),
    ])
}

/// What ingesting a batch of events writes, worked out from the keys already taken: the pure
/// half of [`Store::ingest_events`] (the tracker's CPU per event; `benches/ingest.rs`).
#[derive(Debug, Default)]
pub struct IngestPlan {
    /// The new events' items, each to be written only where its key is free.
    pub events: Vec<Item>,
    /// The suppressions the events add.
    pub items: Vec<Item>,
    pub deltas: Vec<(Scope, crate::tracking::Delta)>,
    pub report: Ingested,
}

/// The events of a batch without in-batch duplicates, oldest first, with the count dropped.
pub fn distinct(events: &[Tracked]) -> (Vec<&Tracked>, usize) {
    let mut seen = HashSet::new();
    let mut out: Vec<&Tracked> = events
        .iter()
        .filter(|e| seen.insert((e.tenant, e.message, e.identity.as_str())))
        .collect();
    out.sort_by_key(|e| e.at);
    let dropped = events.len() - out.len();
    (out, dropped)
}

/// The keys a batch's events could take: each kind's first key and, for opens and clicks,
/// their own later keys. Sorted, without repeats.
pub fn candidate_keys(events: &[&Tracked]) -> Vec<(String, String)> {
    let mut wanted: Vec<(String, String)> = Vec::new();
    for e in events {
        let pk = keys::message_pk(e.tenant, e.message);
        wanted.push((pk.clone(), keys::message_event_sk(e.kind)));
        if repeats(e.kind) {
            wanted.push((
                pk,
                keys::message_repeat_event_sk(e.kind, e.at_ms(), &e.identity),
            ));
        }
    }
    wanted.sort();
    wanted.dedup();
    wanted
}

/// Decides which events are new (and which opens and clicks are a message's first), and
/// builds their items, the suppressions and the counter deltas. `taken`: the candidate keys
/// already stored, with the identity of the event each holds.
pub fn plan(
    events: Vec<&Tracked>,
    dropped: usize,
    mut taken: HashMap<(String, String), String>,
) -> StoreResult<IngestPlan> {
    let mut report = Ingested {
        duplicates: dropped,
        ..Ingested::default()
    };
    let mut new: Vec<(&Tracked, bool)> = Vec::new();
    let mut event_items = Vec::new();
    let mut items = Vec::new();
    for e in events {
        let pk = keys::message_pk(e.tenant, e.message);
        let first = (pk.clone(), keys::message_event_sk(e.kind));
        let sk = match taken.get(&first) {
            None => Some((first.1.clone(), true)),
            Some(holder) if !repeats(e.kind) || *holder == e.identity => None,
            Some(_) => {
                let later = keys::message_repeat_event_sk(e.kind, e.at_ms(), &e.identity);
                (!taken.contains_key(&(pk.clone(), later.clone()))).then_some((later, false))
            }
        };
        let Some((sk, unique)) = sk else {
            report.duplicates += 1;
            continue;
        };
        taken.insert((pk.clone(), sk.clone()), e.identity.clone());
        let mut item = Store::to_item(&Keys::new(pk, sk), &TimelineEvent::from(e))?;
        // The event expires with its message (the tenant's retention).
        if let Some(ttl) = e.expires {
            item.insert(keys::TTL.to_owned(), AttributeValue::N(ttl.to_string()));
        }
        event_items.push(item);
        let source = match e.kind {
            DeliveryEvent::Complained => Some(SuppressionSource::Complaint),
            DeliveryEvent::Bounced => Some(SuppressionSource::Bounce),
            _ => None,
        };
        if let Some(source) = source {
            for address in &e.suppress {
                let reason = match source {
                    SuppressionSource::Complaint => "complaint".to_owned(),
                    _ => format!(
                        "hard bounce: {}",
                        e.detail.as_deref().unwrap_or("permanent")
                    ),
                };
                let entry = Suppression::new(e.channel, address, source, &reason, Some(e.message));
                items.push(Store::to_item(
                    &Keys::new(keys::suppression_pk(e.tenant), entry.key()),
                    &entry,
                )?);
                report.suppressed += 1;
            }
        }
        *report.by_kind.entry(e.kind).or_default() += 1;
        new.push((e, unique));
    }
    report.recorded = new.len();
    let mut deltas: Vec<(Scope, crate::tracking::Delta)> = tally(new).into_iter().collect();
    deltas.sort_by_key(|(scope, _)| *scope);
    Ok(IngestPlan {
        events: event_items,
        items,
        deltas,
        report,
    })
}

/// An item's (partition key, sort key).
type ItemKey = (String, String);

/// How many times an ingest plans again after finding keys taken by a concurrent writer.
const INGEST_ROUNDS: usize = 4;
/// Conditional event writes one ingest keeps in flight.
const EVENT_WRITES_IN_FLIGHT: usize = 16;

impl Store {
    /// Records provider events: each new one next to its message, permanent bounces and
    /// complaints on the suppression list, and the counters they add to. Duplicates (the same
    /// report again, in this batch or an earlier one) are recognised and skipped.
    pub async fn ingest_events(&self, events: &[Tracked]) -> StoreResult<Ingested> {
        let (events, dropped) = distinct(events);
        let wanted = candidate_keys(&events);
        let found = self
            .batch_get_all(wanted.into_iter().map(|(pk, sk)| key(pk, sk)).collect())
            .await?;
        let mut taken: HashMap<(String, String), String> = found
            .iter()
            .map(|item| {
                (
                    (string_attr(item, keys::PK), string_attr(item, keys::SK)),
                    string_attr(item, "identity"),
                )
            })
            .collect();
        // Each new event's item is written only where its key is still free (a conditional
        // PutItem; BatchWriteItem takes no conditions): another invocation handed the same
        // events at the same moment (SQS delivers at least once) finds the key taken, and
        // what it counts is planned again with that key taken, so each event counts once.
        let mut mine: HashSet<(String, String)> = HashSet::new();
        for _ in 0..INGEST_ROUNDS {
            let plan = plan(events.clone(), dropped, taken.clone())?;
            let lost = self.put_events_where_free(plan.events, &mut mine).await?;
            if !lost.is_empty() {
                taken.extend(lost);
                continue;
            }
            if !plan.items.is_empty() {
                self.batch_put_all(plan.items).await?;
            }
            for (scope, delta) in &plan.deltas {
                self.add_counters(scope, delta).await?;
            }
            return Ok(plan.report);
        }
        Err(anyhow::anyhow!(
            "events kept being recorded by another invocation at the same time; the batch comes back"
        )
        .into())
    }

    /// Writes each event item whose key is free (skipping those this ingest wrote already,
    /// in `mine`); returns the keys another writer took first, with the identity of the event
    /// each holds.
    async fn put_events_where_free(
        &self,
        items: Vec<Item>,
        mine: &mut HashSet<(String, String)>,
    ) -> StoreResult<Vec<(ItemKey, String)>> {
        use aws_sdk_dynamodb::operation::put_item::PutItemError;
        use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
        use futures::StreamExt as _;
        let pending: Vec<Item> = items
            .into_iter()
            .filter(|i| !mine.contains(&(string_attr(i, keys::PK), string_attr(i, keys::SK))))
            .collect();
        let results: Vec<anyhow::Result<(ItemKey, Option<String>)>> =
            futures::stream::iter(pending.into_iter().map(|item| async move {
                let key = (string_attr(&item, keys::PK), string_attr(&item, keys::SK));
                let out = self
                    .client()
                    .put_item()
                    .table_name(self.table())
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(PK)")
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .send()
                    .await;
                match out {
                    Ok(_) => Ok((key, None)),
                    Err(e) => match e.into_service_error() {
                        PutItemError::ConditionalCheckFailedException(taken) => {
                            let identity = taken
                                .item()
                                .map(|i| string_attr(i, "identity"))
                                .unwrap_or_default();
                            Ok((key, Some(identity)))
                        }
                        other => Err(anyhow::Error::new(other).context("PutItem event")),
                    },
                }
            }))
            .buffer_unordered(EVENT_WRITES_IN_FLIGHT)
            .collect()
            .await;
        let mut lost = Vec::new();
        for result in results {
            match result? {
                (key, None) => {
                    mine.insert(key);
                }
                (key, Some(identity)) => lost.push((key, identity)),
            }
        }
        Ok(lost)
    }

    /// One UpdateItem adding a delta to a counters item (and naming its links).
    async fn add_counters(&self, scope: &Scope, delta: &crate::tracking::Delta) -> StoreResult<()> {
        let tenant = scope.tenant();
        let mut request = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(keys::PK, AttributeValue::S(keys::stats_pk(tenant)))
            .key(keys::SK, AttributeValue::S(keys::stats_sk(scope)));
        let mut adds = Vec::new();
        for (i, (name, n)) in delta.add.iter().enumerate() {
            adds.push(format!("#a{i} :a{i}"));
            request = request
                .expression_attribute_names(format!("#a{i}"), name)
                .expression_attribute_values(format!(":a{i}"), AttributeValue::N(n.to_string()));
        }
        let mut sets = vec!["updated_at = :now".to_owned()];
        request =
            request.expression_attribute_values(":now", AttributeValue::S(Utc::now().to_rfc3339()));
        for (i, (link, url)) in delta.links.iter().enumerate() {
            sets.push(format!("#u{i} = if_not_exists(#u{i}, :u{i})"));
            request = request
                .expression_attribute_names(format!("#u{i}"), format!("u#{link}"))
                .expression_attribute_values(format!(":u{i}"), AttributeValue::S(url.clone()));
        }
        if matches!(scope, Scope::Minute(..)) {
            sets.push("#ttl = if_not_exists(#ttl, :ttl)".to_owned());
            request = request
                .expression_attribute_names("#ttl", keys::TTL)
                .expression_attribute_values(
                    ":ttl",
                    AttributeValue::N((Utc::now().timestamp() + MINUTE_TTL_SECONDS).to_string()),
                );
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !adds.is_empty() {
            expression.push_str(&format!(" ADD {}", adds.join(", ")));
        }
        request
            .update_expression(expression)
            .send()
            .await
            .context("UpdateItem counters")?;
        Ok(())
    }

    /// A counters item (empty when nothing was counted yet).
    pub async fn counters(&self, scope: &Scope) -> StoreResult<Counters> {
        let tenant = scope.tenant();
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .key(keys::PK, AttributeValue::S(keys::stats_pk(tenant)))
            .key(keys::SK, AttributeValue::S(keys::stats_sk(scope)))
            .send()
            .await
            .context("GetItem counters")?;
        Ok(out
            .item
            .as_ref()
            .map(Counters::from_item)
            .unwrap_or_default())
    }

    /// Several counters items in one BatchGetItem (absent ones are empty).
    pub async fn counters_of(&self, scopes: &[Scope]) -> StoreResult<HashMap<Scope, Counters>> {
        let by_key: HashMap<(String, String), Scope> = scopes
            .iter()
            .map(|s| ((keys::stats_pk(s.tenant()), keys::stats_sk(s)), *s))
            .collect();
        let found = self
            .batch_get_all(
                by_key
                    .keys()
                    .map(|(pk, sk)| key(pk.clone(), sk.clone()))
                    .collect(),
            )
            .await?;
        let mut out: HashMap<Scope, Counters> =
            scopes.iter().map(|s| (*s, Counters::default())).collect();
        for item in found {
            let k = (string_attr(&item, keys::PK), string_attr(&item, keys::SK));
            if let Some(scope) = by_key.get(&k) {
                out.insert(*scope, Counters::from_item(&item));
            }
        }
        Ok(out)
    }

    /// The tenant's minute counters from `from` to `to` (`YYYYMMDDHHMM`, inclusive): one Query.
    pub async fn minute_counters(
        &self,
        tenant: TenantId,
        from: i64,
        to: i64,
    ) -> StoreResult<BTreeMap<i64, Counters>> {
        let items = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("PK = :pk AND SK BETWEEN :from AND :to")
            .expression_attribute_values(":pk", AttributeValue::S(keys::stats_pk(tenant)))
            .expression_attribute_values(
                ":from",
                AttributeValue::S(keys::stats_sk(&Scope::Minute(tenant, from))),
            )
            .expression_attribute_values(
                ":to",
                AttributeValue::S(keys::stats_sk(&Scope::Minute(tenant, to))),
            )
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .context("Query minute counters")?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let minute = string_attr(item, keys::SK)
                    .strip_prefix(keys::MINUTE_PREFIX)?
                    .parse()
                    .ok()?;
                Some((minute, Counters::from_item(item)))
            })
            .collect())
    }

    /// A message with its delivery events, oldest first: one Query of the message's
    /// partition. `None` when neither the message nor any event is recorded.
    pub async fn message_with_events(
        &self,
        tenant: TenantId,
        id: MessageId,
    ) -> StoreResult<Option<(Option<Message>, Vec<TimelineEvent>)>> {
        let items = self.query_items(&keys::message_pk(tenant, id), "").await?;
        if items.is_empty() {
            return Ok(None);
        }
        let mut message = None;
        let mut events = Vec::new();
        for item in items {
            let sk = string_attr(&item, keys::SK);
            if sk == keys::META {
                message = Some(Store::from_item::<Message>(item)?);
            } else if sk.starts_with(keys::MESSAGE_EVENT_PREFIX) {
                events.push(Store::from_item::<TimelineEvent>(item)?);
            }
        }
        events.sort_by_key(|e| (e.at, crate::tracking::rank(e.kind)));
        Ok(Some((message, events)))
    }
}
