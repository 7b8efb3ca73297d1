//! The crm-sync function. Its queue carries two jobs:
//!
//! - `sweep`, from the EventBridge schedule: a run is queued (with its report, `queued`) for
//!   every tenant with a CRM connection that is not paused, so one tenant's CRM failing or
//!   being slow never holds up another's;
//! - `sync`, one tenant's run (queued by the sweep or by `POST .../crm/sync`).
//!
//! A run holds the tenant's lock, pulls the CRM records changed since the cursor a page at a
//! time (each page applied, then the cursor moved past it: a run stopped anywhere re-reads at
//! most one page, whose records then change nothing), then pushes the contacts in the outbox
//! in the CRM's batch sizes, and writes its report. A run that reaches its time budget stops
//! between pages and queues the next run to go on.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use chrono::Utc;
use futures::StreamExt as _;
use herald::consent::{ConsentRecord, Preferences};
use herald::crm::client::{CrmClient, CrmError};
use herald::crm::{
    CREDENTIALS_OWNER, Connection, CrmJob, CrmRecord, SyncRun, SyncTrigger, consent_changed, merge,
    update_for,
};
use herald::domain::{ConsentSource, CrmField, SyncStatus};
use herald::guests::Contact;
use herald::ids::{ContactId, SyncRunId, TenantId};
use herald::secrets::Sealer;
use herald::store::{OutboxEntry, Store, SyncedWrite, contact_address_keys, keys};

/// How long a run works before it hands over to a fresh one (the function's timeout is 15
/// minutes).
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(600);
/// A run's lock outlives a crashed run by this much at most.
const LOCK_HOLD_MINUTES: i64 = 16;
/// Records merged per DynamoDB read (BatchGetItem's 100 keys).
const CHUNK: usize = 100;
/// Contacts written at once.
const PARALLEL: usize = 8;
/// Writing one merged contact is tried this many times against concurrent changes.
const WRITE_ATTEMPTS: u32 = 3;

#[derive(Debug, Clone)]
pub struct Config {
    pub core: herald::aws::CoreSettings,
    /// `HERALD_CRM_SYNC_QUEUE_URL`: this function's own queue (the sweep queues runs on it).
    pub queue_url: String,
    /// `HERALD_WEBHOOK_QUEUE_URL` (optional): where `crm.sync_completed` webhooks are queued.
    pub webhook_queue_url: Option<String>,
}

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        Ok(Self {
            core: herald::aws::CoreSettings::from_lookup(&lookup)?,
            queue_url: herald::aws::required(&lookup, "HERALD_CRM_SYNC_QUEUE_URL")?,
            webhook_queue_url: lookup("HERALD_WEBHOOK_QUEUE_URL").filter(|v| !v.is_empty()),
        })
    }

    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// Counts since the cold start.
#[derive(Debug, Default)]
pub struct Counters {
    pub malformed: AtomicU64,
    pub runs: AtomicU64,
    pub failed_runs: AtomicU64,
}

#[derive(Debug, Clone)]
pub struct CrmSync {
    store: Store,
    sealer: Sealer,
    http: reqwest::Client,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    budget: Duration,
    webhooks: Option<herald::webhooks::Emitter>,
    pub counters: Arc<Counters>,
}

impl CrmSync {
    pub fn new(
        store: Store,
        sealer: Sealer,
        http: reqwest::Client,
        sqs: aws_sdk_sqs::Client,
        queue_url: impl Into<String>,
    ) -> Self {
        Self {
            store,
            sealer,
            http,
            sqs,
            queue_url: queue_url.into(),
            budget: DEFAULT_BUDGET,
            webhooks: None,
            counters: Arc::default(),
        }
    }

    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, config: &Config) -> anyhow::Result<Self> {
        let (store, sealer) = config.core.clients(sdk);
        let emitter =
            herald::webhooks::Emitter::for_queue(&store, sdk, config.webhook_queue_url.as_deref());
        Ok(Self::new(
            store,
            sealer,
            herald::aws::http_client()?,
            aws_sdk_sqs::Client::new(sdk),
            config.queue_url.clone(),
        )
        .with_webhooks(emitter))
    }

    /// Queues `crm.sync_completed` webhooks through this emitter.
    pub fn with_webhooks(mut self, emitter: Option<herald::webhooks::Emitter>) -> Self {
        self.webhooks = emitter;
        self
    }

    /// How long one run works before handing over (tests use a short one).
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Handles a batch; a message whose job failed (not the CRM: Herald's own storage or
    /// queue) is reported for SQS to deliver again.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for record in event.records {
            let id = record.message_id.clone().unwrap_or_default();
            let job = match serde_json::from_str::<CrmJob>(record.body.as_deref().unwrap_or("")) {
                Ok(job) => job,
                Err(e) => {
                    self.counters.malformed.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(message_id = %id, error = %e, "a crm-sync message that is not a job; skipped");
                    continue;
                }
            };
            let outcome = match job {
                CrmJob::Sweep => self.sweep().await.map(|_| ()),
                CrmJob::Sync {
                    tenant_id,
                    run_id,
                    trigger,
                } => self.run(tenant_id, run_id, trigger).await.map(|_| ()),
            };
            if let Err(e) = outcome {
                tracing::error!(message_id = %id, error = %format!("{e:#}"), "crm-sync job failed; SQS will deliver it again");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
        response
    }

    /// Queues a run for every connected tenant that is not paused; the runs queued.
    pub async fn sweep(&self) -> anyhow::Result<Vec<(TenantId, SyncRunId)>> {
        let mut queued = Vec::new();
        for tenant in self.store.crm_tenants().await? {
            let Some(connection) = self.store.get_crm_connection(tenant).await? else {
                continue;
            };
            if connection.paused {
                continue;
            }
            let run = self
                .queue_run(tenant, &connection, SyncTrigger::Schedule)
                .await?;
            queued.push((tenant, run));
        }
        tracing::info!(runs = queued.len(), "CRM sweep queued runs");
        Ok(queued)
    }

    /// Writes a queued report and queues its run.
    pub async fn queue_run(
        &self,
        tenant: TenantId,
        connection: &Connection,
        trigger: SyncTrigger,
    ) -> anyhow::Result<SyncRunId> {
        queue_run(
            &self.store,
            &self.sqs,
            &self.queue_url,
            tenant,
            connection,
            trigger,
        )
        .await
    }

    /// One tenant's run, start to end; its report. Errors are Herald's own (storage, queue):
    /// what the CRM does wrong goes in the report.
    pub async fn run(
        &self,
        tenant: TenantId,
        run_id: SyncRunId,
        trigger: SyncTrigger,
    ) -> anyhow::Result<SyncRun> {
        let started = Instant::now();
        let now = Utc::now();
        let Some(connection) = self.store.get_crm_connection(tenant).await? else {
            let mut run = self
                .store
                .get_sync_run(tenant, run_id)
                .await?
                .unwrap_or_else(|| {
                    SyncRun::queued(
                        run_id,
                        tenant,
                        herald::domain::CrmKind::Hubspot,
                        trigger,
                        now,
                    )
                });
            run.status = SyncStatus::Failed;
            run.error("no CRM is connected");
            run.finished_at = Some(now);
            self.store.put_sync_run(tenant, &run).await?;
            return Ok(run);
        };
        let mut run = self
            .store
            .get_sync_run(tenant, run_id)
            .await?
            .unwrap_or_else(|| {
                SyncRun::queued(run_id, tenant, connection.settings.kind(), trigger, now)
            });
        if matches!(run.status, SyncStatus::Completed | SyncStatus::Failed) {
            // Delivered again after it finished.
            return Ok(run);
        }
        if !self
            .store
            .lock_crm(
                tenant,
                run_id,
                now,
                chrono::Duration::minutes(LOCK_HOLD_MINUTES),
            )
            .await?
        {
            run.status = SyncStatus::Failed;
            run.error("another run of this tenant's sync was in progress; nothing was done");
            run.finished_at = Some(Utc::now());
            self.store.put_sync_run(tenant, &run).await?;
            return Ok(run);
        }
        self.counters.runs.fetch_add(1, Ordering::Relaxed);
        run.status = SyncStatus::Running;
        run.started_at = Some(now);
        run.cursor_before = self.store.crm_cursor(tenant).await?;
        self.store.put_sync_run(tenant, &run).await?;
        tracing::info!(tenant_id = %tenant, run_id = %run_id, "CRM sync run started");

        let outcome = self.work(tenant, &connection, &mut run, started).await;
        let out_of_time = matches!(outcome, Ok(Progress::OutOfTime));
        run.finished_at = Some(Utc::now());
        run.duration_ms = Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
        run.cursor_after = self.store.crm_cursor(tenant).await?;
        match outcome {
            Ok(Progress::Done) => run.status = SyncStatus::Completed,
            Ok(Progress::OutOfTime) => {
                run.status = SyncStatus::Completed;
                run.error("stopped at the run's time budget; a new run goes on from the cursor");
            }
            Err(Stop::Crm(e)) => {
                self.counters.failed_runs.fetch_add(1, Ordering::Relaxed);
                run.status = SyncStatus::Failed;
                run.error(e.to_string());
            }
            Err(Stop::Herald(e)) => {
                // Herald's own failure: unlock, record, and let SQS deliver the run again.
                run.status = SyncStatus::Running;
                run.error(format!("interrupted: {e:#}"));
                self.store.put_sync_run(tenant, &run).await?;
                self.store.unlock_crm(tenant, run_id).await?;
                return Err(e);
            }
        }
        self.store.put_sync_run(tenant, &run).await?;
        self.store.unlock_crm(tenant, run_id).await?;
        if let Some(webhooks) = &self.webhooks
            && let Err(e) = webhooks.emit(&[herald::webhooks::sync_event(&run)]).await
        {
            // The run is recorded either way; this one event is lost (logged).
            tracing::error!(tenant_id = %tenant, run_id = %run_id, error = ?e, "queuing the crm.sync_completed webhook failed");
        }
        if out_of_time {
            self.queue_run(tenant, &connection, run.trigger).await?;
        }
        tracing::info!(
            tenant_id = %tenant,
            run_id = %run_id,
            status = %run.status,
            pulled = run.pulled,
            pushed = run.pushed,
            conflicts = run.conflicts_total,
            errors = run.errors_total,
            crm_requests = run.crm_requests,
            "CRM sync run finished"
        );
        Ok(run)
    }

    async fn work(
        &self,
        tenant: TenantId,
        connection: &Connection,
        run: &mut SyncRun,
        started: Instant,
    ) -> Result<Progress, Stop> {
        let credentials = self
            .sealer
            .open(tenant, CREDENTIALS_OWNER, &connection.credentials)
            .await
            .map_err(Stop::Herald)?;
        let client = connection
            .client(self.http.clone(), &credentials)
            .map_err(Stop::Herald)?;
        let pulled = self.pull(tenant, connection, &client, run, started).await;
        count_requests(run, &client);
        if pulled? == Progress::OutOfTime {
            return Ok(Progress::OutOfTime);
        }
        let pushed = self.push(tenant, connection, &client, run).await;
        count_requests(run, &client);
        pushed
    }

    /// Pulls and applies every change since the cursor, moving it after each page.
    async fn pull(
        &self,
        tenant: TenantId,
        connection: &Connection,
        client: &CrmClient,
        run: &mut SyncRun,
        started: Instant,
    ) -> Result<Progress, Stop> {
        let mut since = self.store.crm_cursor(tenant).await.map_err(herald_error)?;
        let mut page_token: Option<String> = None;
        loop {
            if started.elapsed() > self.budget {
                return Ok(Progress::OutOfTime);
            }
            let page = client
                .pull(since, page_token.as_deref(), &connection.mappings)
                .await
                .map_err(Stop::Crm)?;
            run.pulled += page.records.len() as u64;
            for chunk in page.records.chunks(CHUNK) {
                self.apply(tenant, connection, chunk, run)
                    .await
                    .map_err(Stop::Herald)?;
            }
            let latest = page.records.iter().map(|r| r.modified_at).max();
            if let Some(latest) = latest {
                self.store
                    .move_crm_cursor(tenant, latest)
                    .await
                    .map_err(herald_error)?;
            }
            match (page.next, page.requery) {
                (Some(next), _) => page_token = Some(next),
                (None, true) => {
                    // Query again from the cursor; stop if it would not move.
                    let cursor = self.store.crm_cursor(tenant).await.map_err(herald_error)?;
                    if cursor.is_none() || cursor == since {
                        run.error(
                            "more than 10,000 CRM records share one modification time; the rest wait for the next change",
                        );
                        return Ok(Progress::Done);
                    }
                    since = cursor;
                    page_token = None;
                }
                (None, false) => return Ok(Progress::Done),
            }
        }
    }

    /// Merges a chunk of pulled records into their contacts and writes what changed, up to
    /// [`PARALLEL`] contacts at a time (records of one contact one after the other).
    async fn apply(
        &self,
        tenant: TenantId,
        connection: &Connection,
        records: &[CrmRecord],
        run: &mut SyncRun,
    ) -> anyhow::Result<()> {
        let kind = connection.settings.kind();
        let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
        let links = self.store.crm_links(tenant, kind, &ids).await?;
        // Records not linked yet: their contacts by address.
        let mut addresses = Vec::new();
        for r in records.iter().filter(|r| !links.contains_key(&r.id)) {
            addresses.extend(address_keys(tenant, r));
        }
        let by_address = self.store.contacts_by_address(&addresses).await?;
        let mut contact_ids: Vec<ContactId> = links.values().copied().collect();
        contact_ids.extend(by_address.values().copied());
        let contacts = self.store.get_contacts(tenant, &contact_ids).await?;
        // Group the records by the contact (or new contact's address) they write.
        let mut groups: Vec<(String, Vec<Pending>)> = Vec::new();
        for record in records {
            let linked = links.get(&record.id).copied();
            let found = linked.or_else(|| {
                address_keys(tenant, record)
                    .iter()
                    .find_map(|k| by_address.get(k).copied())
            });
            let group = match found {
                Some(id) => id.to_string(),
                None => address_keys(tenant, record)
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| record.id.clone()),
            };
            let entry = (found, linked.is_none(), record.clone());
            match groups.iter_mut().find(|(g, _)| *g == group) {
                Some((_, list)) => list.push(entry),
                None => groups.push((group, vec![entry])),
            }
        }
        // Records of no contact yet: created in bulk; any that lost an address to another
        // contact meanwhile are merged into it like the rest.
        let mut lost_to: Vec<Pending> = Vec::new();
        let mut fresh: Vec<(Contact, Option<ConsentRecord>, Outcome, CrmRecord)> = Vec::new();
        groups.retain(|(_, list)| {
            if list.len() == 1 && list[0].0.is_none() {
                let record = &list[0].2;
                let now = Utc::now();
                let merged = merge(
                    kind,
                    None,
                    Contact::new(tenant, ContactId::new(), now),
                    record,
                    &connection.mappings,
                );
                let empty = Contact::new(tenant, merged.contact.id, now);
                let ledger = ledger_entry(&empty, &merged.contact, kind, now);
                let outcome = Outcome {
                    applied: Applied::Created,
                    errors: merged.errors,
                    conflicts: merged.conflicts,
                };
                fresh.push((merged.contact, ledger, outcome, record.clone()));
                false
            } else {
                true
            }
        });
        if !fresh.is_empty() {
            let batch: Vec<(Contact, Option<ConsentRecord>)> = fresh
                .iter()
                .map(|(c, l, _, _)| (c.clone(), l.clone()))
                .collect();
            let lost = self.store.create_synced_contacts(tenant, &batch).await?;
            for (contact, _, outcome, record) in fresh {
                if lost.contains(&contact.id) {
                    lost_to.push((None, true, record));
                } else {
                    record_outcome(run, outcome);
                }
            }
        }
        if !lost_to.is_empty() {
            let keys: Vec<String> = lost_to
                .iter()
                .flat_map(|(_, _, r)| address_keys(tenant, r))
                .collect();
            let owners = self.store.contacts_by_address(&keys).await?;
            for (_, link, record) in lost_to {
                let found = address_keys(tenant, &record)
                    .iter()
                    .find_map(|k| owners.get(k).copied());
                groups.push((record.id.clone(), vec![(found, link, record)]));
            }
        }
        let mut contacts = contacts;
        let missing: Vec<ContactId> = groups
            .iter()
            .flat_map(|(_, l)| l.iter().filter_map(|(f, _, _)| *f))
            .filter(|id| !contacts.contains_key(id))
            .collect();
        contacts.extend(self.store.get_contacts(tenant, &missing).await?);
        let contacts = Arc::new(contacts);
        let connection = Arc::new(connection.clone());
        let outcomes: Vec<anyhow::Result<Vec<Outcome>>> = futures::stream::iter(groups)
            .map(|(_, list)| {
                let (this, contacts, connection) =
                    (self.clone(), contacts.clone(), connection.clone());
                async move {
                    let mut out = Vec::with_capacity(list.len());
                    for (found, link, record) in list {
                        let existing = found.and_then(|id| contacts.get(&id).cloned());
                        out.push(
                            this.apply_record(tenant, &connection, found, existing, link, &record)
                                .await?,
                        );
                    }
                    Ok(out)
                }
            })
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        for outcome in outcomes {
            for o in outcome? {
                record_outcome(run, o);
            }
        }
        Ok(())
    }

    /// Merges one record into its contact (read again and merged again when it changed
    /// meanwhile) and writes it.
    async fn apply_record(
        &self,
        tenant: TenantId,
        connection: &Connection,
        found: Option<ContactId>,
        mut existing: Option<Contact>,
        link: bool,
        record: &CrmRecord,
    ) -> anyhow::Result<Outcome> {
        let kind = connection.settings.kind();
        if link
            && let Some(other) = existing.as_ref().and_then(|c| c.crm.as_ref())
            && other.kind == kind
            && other.id != record.id
        {
            return Ok(Outcome::skipped(format!(
                "record {} has the address of record {} (contact {}); skipped",
                record.id,
                other.id,
                found.map(|c| c.to_string()).unwrap_or_default()
            )));
        }
        for _ in 0..WRITE_ATTEMPTS {
            if let Some(outcome) = self
                .apply_one(tenant, connection, existing.as_ref(), link, record)
                .await?
            {
                return Ok(outcome);
            }
            // Changed under us: read it again and merge again.
            existing = match found {
                Some(id) => self.store.get_contact(tenant, id).await?,
                None => None,
            };
        }
        Ok(Outcome::skipped(format!(
            "record {}: its contact kept changing, or one of its addresses belongs to another contact; not applied",
            record.id
        )))
    }

    /// One attempt at writing a merged record; None when the contact changed meanwhile.
    async fn apply_one(
        &self,
        tenant: TenantId,
        connection: &Connection,
        existing: Option<&Contact>,
        link: bool,
        record: &CrmRecord,
    ) -> anyhow::Result<Option<Outcome>> {
        let now = Utc::now();
        let kind = connection.settings.kind();
        let fresh = Contact::new(tenant, ContactId::new(), now);
        let mut merged = merge(kind, existing, fresh, record, &connection.mappings);
        let outcome = |applied| Outcome {
            applied,
            errors: merged.errors.clone(),
            conflicts: merged.conflicts.clone(),
        };
        if !merged.changed(existing) && !link {
            if !merged.to_push.is_empty()
                && let Some(c) = existing
            {
                // Herald's value wins: make sure the push phase sends it.
                self.store
                    .touch_crm_outbox(tenant, c.id, &Default::default(), now)
                    .await?;
            }
            return Ok(Some(outcome(Applied::Unchanged)));
        }
        let result = outcome(if existing.is_some() {
            Applied::Updated
        } else {
            Applied::Created
        });
        let contact = &mut merged.contact;
        if let Some(before) = existing {
            contact.updated_at = now.max(before.updated_at + chrono::Duration::milliseconds(1));
        }
        let empty = Contact::new(tenant, contact.id, now);
        let ledger = ledger_entry(existing.unwrap_or(&empty), contact, kind, now);
        let before_keys = existing.map(contact_address_keys).unwrap_or_default();
        let after_keys = contact_address_keys(contact);
        let write = SyncedWrite {
            before: existing,
            after: contact,
            link,
            ledger,
            claim: after_keys
                .iter()
                .filter(|k| !before_keys.contains(k))
                .cloned()
                .collect(),
            release: before_keys
                .iter()
                .filter(|k| !after_keys.contains(k))
                .cloned()
                .collect(),
            outbox: !merged.to_push.is_empty(),
        };
        if !self.store.write_synced_contact(tenant, &write).await? {
            return Ok(None);
        }
        Ok(Some(result))
    }

    /// Pushes every contact in the outbox the CRM should hear about, in full batches (the
    /// shards are read a page at a time and their updates gathered).
    async fn push(
        &self,
        tenant: TenantId,
        connection: &Connection,
        client: &CrmClient,
        run: &mut SyncRun,
    ) -> Result<Progress, Stop> {
        let batch = client.batch_size();
        let mut pending: Vec<(herald::crm::CrmUpdate, OutboxEntry)> = Vec::new();
        for shard in 0..keys::CRM_OUTBOX_SHARDS {
            let mut start = None;
            loop {
                let (entries, next) = self
                    .store
                    .crm_outbox_page(tenant, shard, start, i32::try_from(batch).unwrap_or(100))
                    .await
                    .map_err(herald_error)?;
                let ids: Vec<ContactId> = entries.iter().map(|e| e.contact_id).collect();
                let contacts = self
                    .store
                    .get_contacts(tenant, &ids)
                    .await
                    .map_err(herald_error)?;
                let mut nothing = Vec::new();
                for entry in entries {
                    let update = contacts
                        .get(&entry.contact_id)
                        .filter(|c| c.crm.as_ref().is_some_and(|l| l.kind == client.kind()))
                        .and_then(|c| update_for(c, &entry.engagement, &connection.mappings));
                    match update {
                        Some(u) => pending.push((u, entry)),
                        // Nothing for the CRM (not linked, or nothing mapped): done with it.
                        None => nothing.push(entry),
                    }
                }
                self.store
                    .remove_crm_outbox(tenant, &nothing)
                    .await
                    .map_err(herald_error)?;
                while pending.len() >= batch {
                    let rest = pending.split_off(batch);
                    let full = std::mem::replace(&mut pending, rest);
                    self.push_batch(tenant, client, full, run).await?;
                }
                match next {
                    Some(n) => start = Some(n),
                    None => break,
                }
            }
        }
        if !pending.is_empty() {
            self.push_batch(tenant, client, pending, run).await?;
        }
        Ok(Progress::Done)
    }

    /// One push request; the outbox entries the CRM took are removed.
    async fn push_batch(
        &self,
        tenant: TenantId,
        client: &CrmClient,
        batch: Vec<(herald::crm::CrmUpdate, OutboxEntry)>,
        run: &mut SyncRun,
    ) -> Result<(), Stop> {
        let updates: Vec<_> = batch.iter().map(|(u, _)| u.clone()).collect();
        let outcomes = client.push(&updates).await.map_err(Stop::Crm)?;
        let mut done = Vec::new();
        for ((update, entry), outcome) in batch.into_iter().zip(outcomes) {
            match outcome {
                Ok(()) => {
                    run.pushed += 1;
                    done.push(entry);
                }
                Err(e) => run.error(format!("contact {}: {e}", update.contact_id)),
            }
        }
        self.store
            .remove_crm_outbox(tenant, &done)
            .await
            .map_err(herald_error)
    }
}

/// Writes a queued report and sends its job (the API's `POST .../crm/sync` and the sweep).
pub async fn queue_run(
    store: &Store,
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    tenant: TenantId,
    connection: &Connection,
    trigger: SyncTrigger,
) -> anyhow::Result<SyncRunId> {
    let id = SyncRunId::new();
    let run = SyncRun::queued(id, tenant, connection.settings.kind(), trigger, Utc::now());
    store.put_sync_run(tenant, &run).await?;
    let job = CrmJob::Sync {
        tenant_id: tenant,
        run_id: id,
        trigger,
    };
    sqs.send_message()
        .queue_url(queue_url)
        .message_body(serde_json::to_string(&job)?)
        .send()
        .await
        .context("SendMessage crm-sync run")?;
    Ok(id)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    Done,
    OutOfTime,
}

enum Stop {
    /// The CRM failed: the run is reported failed (the cursor keeps what was applied).
    Crm(CrmError),
    /// Herald's own storage failed: SQS delivers the run again.
    Herald(anyhow::Error),
}

fn herald_error(e: herald::store::StoreError) -> Stop {
    Stop::Herald(e.into())
}

/// A record to apply: the contact it was found to belong to, whether its link is new, and
/// the record.
type Pending = (Option<ContactId>, bool, CrmRecord);

fn record_outcome(run: &mut SyncRun, o: Outcome) {
    match o.applied {
        Applied::Created => run.created += 1,
        Applied::Updated => run.updated += 1,
        Applied::Unchanged => run.unchanged += 1,
        Applied::Skipped => {}
    }
    for e in o.errors {
        run.error(e);
    }
    for c in o.conflicts {
        run.conflict(c);
    }
}

/// The consent ledger entry of a change the CRM made, if it changed consent.
fn ledger_entry(
    before: &Contact,
    after: &Contact,
    kind: herald::domain::CrmKind,
    now: chrono::DateTime<Utc>,
) -> Option<ConsentRecord> {
    consent_changed(before, after).then(|| {
        let mut record = ConsentRecord::new(
            after.id,
            ConsentSource::Crm,
            Preferences::of(before),
            Preferences::of(after),
            now,
        );
        record.changes.push(format!("crm:{kind}"));
        record
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Applied {
    Created,
    Updated,
    Unchanged,
    Skipped,
}

/// What applying one record did, for the report.
struct Outcome {
    applied: Applied,
    errors: Vec<String>,
    conflicts: Vec<herald::crm::Conflict>,
}

impl Outcome {
    fn skipped(error: String) -> Self {
        Self {
            applied: Applied::Skipped,
            errors: vec![error],
            conflicts: Vec::new(),
        }
    }
}

fn count_requests(run: &mut SyncRun, client: &CrmClient) {
    run.crm_requests = client.counts().requests();
    run.throttled = client.counts().throttled();
}

/// The address keys a record's email and phone would have.
fn address_keys(tenant: TenantId, record: &CrmRecord) -> Vec<String> {
    let value = |f: CrmField| record.values.get(&f).cloned().flatten();
    let mut out = Vec::new();
    if let Some(e) =
        value(CrmField::Email).and_then(|e| herald::domain::EmailAddress::parse(&e).ok())
    {
        out.push(keys::contact_key_pk(tenant, "email", e.as_str()));
    }
    if let Some(p) = value(CrmField::Phone).and_then(|p| herald::domain::PhoneE164::parse(&p).ok())
    {
        out.push(keys::contact_key_pk(tenant, "phone", p.as_str()));
    }
    out
}
