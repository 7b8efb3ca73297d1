//! The single-table key design: every partition and sort key Herald writes is built here.
//!
//! One DynamoDB table, keys `PK`/`SK`, one global secondary index `GSI1` (`GSI1PK`/`GSI1SK`,
//! all attributes projected), and `ttl` for expiry.
//!
//! | entity | PK | SK | GSI1PK / GSI1SK | access patterns |
//! |---|---|---|---|---|
//! | API key | `APIKEY#{sha256(secret)}` | `APIKEY` | `{owner}#APIKEYS` / `{key_id}` | authenticate: GetItem by the hash of the presented secret; list a tenant's (or the platform's) keys: Query GSI1; revoke: Query GSI1 by key id, then UpdateItem |
//! | tenant | `TENANT#{tid}` | `META` | `TENANTS` / `{tid}` | get: GetItem; list all (platform admins): Query GSI1 |
//! | event | `TENANT#{tid}` | `EVENT#{eid}` | – | get: GetItem; list a tenant's: Query `begins_with(SK, "EVENT#")`; holds the RSVP form (`rsvp`), written like the event (PutItem conditional on `version`, with the journey's sync mark, as the deadline anchors steps) |
//! | global template | `PLATFORM` | `TEMPLATE#{category}#{channel}` | `PLATFORM` / `TEMPLATE#{tpl_id}` | by slot: GetItem; by id: Query GSI1; list: Query `begins_with(SK, "TEMPLATE#")` |
//! | compliance block | `PLATFORM` | `COMPLIANCE#{name}` | – | get: GetItem; list: Query `begins_with(SK, "COMPLIANCE#")` |
//! | tenant template | `TENANT#{tid}` | `TEMPLATE#{category}#{channel}` | `TENANT#{tid}` / `TEMPLATE#{tpl_id}` | as global templates |
//! | event template | `TENANT#{tid}#EVENT#{eid}` | `TEMPLATE#{category}#{channel}` | `TENANT#{tid}#EVENT#{eid}` / `TEMPLATE#{tpl_id}` | as global templates |
//! | template version | the template's owner PK | `TPLVER#{tpl_id}#{version:010}` | – | history of a template: Query `begins_with(SK, "TPLVER#{tpl_id}#")`; one version: GetItem |
//! | email sender | `TENANT#{tid}` | `SENDER#{identity}` | – | get: GetItem; list a tenant's: Query `begins_with(SK, "SENDER#")` |
//! | sender claim | `SENDERCLAIM#{identity}` | `CLAIM` | – | one SES account holds an identity once: a conditional Put claims it for one tenant (written in the same transaction as the sender) |
//! | wizard | `TENANT#{tid}#EVENT#{eid}` | `WIZARD` | – | the event's wizard choices, latest completion run and active snapshot summary: GetItem; each part written by its own conditional UpdateItem |
//! | snapshot version | `TENANT#{tid}#EVENT#{eid}` | `RESOLVED#V#{version:010}` | – | immutable, gzip JSON body: GetItem; history: Query `begins_with(SK, "RESOLVED#V#")` projecting the summary only |
//! | active snapshot | `TENANT#{tid}#EVENT#{eid}` | `RESOLVED#ACTIVE` | – | a full copy of the active version, so the send path reads one GetItem |
//! | guest | `TENANT#{tid}#EVENT#{eid}#GUESTS#{shard:02}` (8 shards by guest id) | `GUEST#{gid}` | – | get: GetItem (the shard follows from the id); list an event's / expand a campaign's audience / RSVP figures and export: Query each shard (the list's `rsvp` filter as a FilterExpression); import: BatchGetItem + BatchWriteItem; an RSVP answer: one BatchGetItem (event, guest, tenant, wizard, CRM connection), then one TransactWriteItems (UpdateItem of `rsvp` conditional on its `version`, the confirmation's message and contact index, the CRM outbox entry) |
//! | contact | `TENANT#{tid}#CONTACT#{cid}` | `META` | – | get: GetItem; the send path's consent check (preferences, quiet hours, frequency cap are on the item): BatchGetItem; a consent change: Put conditional on `updated_at`, in one transaction with its ledger entry |
//! | consent ledger entry | `TENANT#{tid}#CONTACT#{cid}` | `CONSENT#{ms:013}#{ulid}` | – | written with the contact's change; the contact's history: Query `begins_with(SK, "CONSENT#")`; never updated |
//! | contact's transactional message | `TENANT#{tid}#CONTACT#{cid}` | `MSG#{mid}` | – | written before a transactional message to a contact (campaign messages need none: their ids derive from campaign and guest); GDPR export and erasure: Query `begins_with(SK, "MSG#")` |
//! | frequency-cap count | `TENANT#{tid}#CONTACT#{cid}` | `CAP#{D20261122 or W2026-47}` (`ttl` after the period) | – | the sender books each campaign message of a capped contact: one conditional UpdateItem (`ADD` the message id to a set while it holds fewer than the cap, or already holds it) |
//! | audit entry | `TENANT#{tid}#AUDIT` (platform changes: `PLATFORM#AUDIT`) | `{ms:013}#{request id}` | – | every mutating API call: one conditional PutItem after it is answered; the tenant's log: Query by time range, newest first, a page at a time; never updated or deleted |
//! | console session | `SESSION#{sha256(cookie token)}` | `SESSION` (`ttl` at its expiry) | – | every console request: one BatchGetItem of it (by the hash of the cookie's token) and of the API key (by the key hash the cookie also names, checked against the session's); sign-in: conditional PutItem; sign-out: DeleteItem |
//! | API rate buckets | `TENANT#{tid}#RATE` (platform keys: `PLATFORM#RATE`) | `API` (`ttl` a day after the last request) | – | every authenticated request: one conditional UpdateItem setting the tenant's (`t`) and the key's (`k#{key id}`) GCRA arrival times, conditional on the values this instance last saw (a failed condition returns the item; the retry uses it) |
//! | preference-link key | `TENANT#{tid}` | `SECRET#LINKS` | – | the tenant's HMAC key, sealed with KMS: GetItem once per process (the sender signs links and seals tracking ids with it; the tracker and the callbacks verify seals); created by a conditional PutItem on first use (sender and API only) |
//! | contact key | `TENANT#{tid}#CONTACTKEY#{email or phone}#{address}` | `KEY` | – | match an imported guest to a contact: BatchGetItem; claimed with a conditional PutItem after the new contact is written (a contact that loses the claim stays unreferenced) |
//! | CRM connection | `TENANT#{tid}#CRM` | `CONNECTION` | `CRM#CONNECTIONS` / `{tid}` | get, put, delete: by key (credentials sealed with KMS); the scheduled sweep lists every connected tenant: Query GSI1 |
//! | CRM cursor | `TENANT#{tid}#CRM` | `CURSOR` | – | the last applied CRM change: GetItem at a run's start; UpdateItem after each applied page, only forward |
//! | CRM run lock | `TENANT#{tid}#CRM` | `LOCK` | – | one run per tenant at a time: conditional PutItem (absent or expired), conditional DeleteItem when done |
//! | CRM run report | `TENANT#{tid}#CRM` | `RUN#{run id}` (`ttl` 90 days) | – | written queued by the API or the sweep, then by the run; list: Query newest first, a page at a time; get: GetItem |
//! | CRM record link | `TENANT#{tid}#CRMID#{kind}#{crm id}` | `KEY` | – | a pulled record's contact: BatchGetItem of a page's records; written in the contact's transaction |
//! | CRM outbox | `TENANT#{tid}#CRMOUT#{shard:02}` (8 shards by contact id) | `{cid}` (`ttl` 30 days) | – | a contact with changes for the CRM (consent, profile edits, engagement): UpdateItem by the API, the consent transaction and the tracker (once per contact per batch); the push: Query each shard, then a conditional DeleteItem once the CRM has it |
//! | webhook endpoint | `TENANT#{tid}#WEBHOOKS` | `ENDPOINT#{whk}` | – | get, put (conditional on `version`), delete: by key (secrets sealed with KMS); the tenant's list, and every emitter's lookup of who wants an event (cached 10 s per instance): Query the partition; the deliverer's failure and disable marks: conditional UpdateItem |
//! | webhook message | `TENANT#{tid}#WHMSG#{whm}` (`ttl` 30 days) | `META` | `TENANT#{tid}#WHK#{whk}#MESSAGES` / `{created ms:013}#{whm}` | one event for one endpoint with its payload and state: written with each attempt (one BatchWriteItem with the attempt); replay: GetItem; an endpoint's messages: Query GSI1 newest first |
//! | webhook attempt | `TENANT#{tid}#WHMSG#{whm}` (`ttl` 30 days) | `ATTEMPT#{n:04}` | `TENANT#{tid}#WHK#{whk}#ATTEMPTS` / `{at ms:013}#{whm}#{n:04}` | written once per attempt; a message's attempts: Query `begins_with(SK, "ATTEMPT#")`; an endpoint's attempts: Query GSI1 newest first, a page at a time |
//! | message | `TENANT#{tid}#MSG#{mid}` | `META` | – | get: GetItem; a transactional message's claim: conditional PutItem (absent or queued); results: BatchWriteItem (a campaign batch's 25 at a time) |
//! | delivery event | `TENANT#{tid}#MSG#{mid}` | `EV#{type}` (the first of its type) or `EV#{type}#{ms:013}#{identity}` (later opens and clicks) | – | the tracker: BatchGetItem of the keys a batch's events would take (duplicates and first opens), then one conditional PutItem per new one (a sealed report whether or not the message is recorded yet; an unsealed one only once the message's `META` is there, read with BatchGetItem); the message's timeline: one Query of the partition (with `META`); the sender settles messages a crash left uncertain by `EV#sent` (SES's Send event): BatchGetItem |
//! | delivery counters | `TENANT#{tid}#STATS` | `TENANT`, `EVENT#{eid}`, `CAMPAIGN#{cid}`, `MIN#{YYYYMMDDHHMM}` (`ttl` 2 days) | – | the tracker: one UpdateItem (`ADD`) per item per batch of events; dashboards: GetItem; realtime: Query of the last hour's `MIN#` range; insights: BatchGetItem |
//! | campaign | `TENANT#{tid}#CAMPAIGN#{cid}` | `META` | `TENANT#{tid}#CAMPAIGNS` / `{eid}#{cid}` | get with counts: one Query of the partition (the item and its batches); the send path: GetItem; list a tenant's: Query GSI1; status: conditional UpdateItem; audience total: `ADD` once per expanded page |
//! | delivery batch | `TENANT#{tid}#CAMPAIGN#{cid}` | `BATCH#{batch id}` | – | claim: conditional PutItem (absent, released, or a stale claim); released: PutItem; done: PutItem with its outcome counts, after the batch's last records; recipients waiting for quiet hours: a batch of their own (`q` id prefix) written `waiting` by a conditional PutItem before its job is queued, counted apart from the expansion's batches; the campaign's counts and progress: the campaign's partition Query after each batch |
//! | provider health | `TENANT#{tid}#PROVSTATE` | `HEALTH#{pid}` | – | senders add their counts and open the circuit breaker: UpdateItem (`ADD`, returning the item); the providers API: Query `begins_with(SK, "HEALTH#")` |
//! | send-rate bucket | `TENANT#{tid}#PROVSTATE` (a provider's `send_rate`) or `PLATFORM` (the SES account) | `RATE#{pid}` or `RATE#ses` (campaigns' share of the rate), `…#tx` (transactional messages' share) | – | book a stretch of the lane's send schedule: one conditional UpdateItem on `tat` |
//! | suppression | `TENANT#{tid}#SUPPRESS` | `{email or phone}#{sha256(address)}` | – | the send path: BatchGetItem of a batch's addresses; the tracker adds hard bounces and complaints in its BatchWriteItem; the API: Query (list, by page), PutItem, DeleteItem; a removed entry leaves `REMOVED#{ms}#{id}` with the reason |
//! | idempotency key | `TENANT#{tid}#IDEMPOTENCY#{sha256(key)}` | `IDEM` | – | the first answer for 24 h (`ttl`): written in the same transaction as the message |
//! | brand | `TENANT#{tid}` or `TENANT#{tid}#EVENT#{eid}` | `BRAND` | – | GetItem |
//! | journey layer | `TENANT#{tid}` (the tenant's standard journey) or `TENANT#{tid}#EVENT#{eid}` (the event's changes) | `JOURNEY` | – | get: GetItem (and in the configuration's BatchGetItem); put: conditional on `version` |
//! | journey step occurrence | `TENANT#{tid}#EVENT#{eid}` | `JSTEP#{step key}` | – | an event's: one Query `begins_with(SK, "JSTEP#")` (the sync, the journey view); the sync's write: PutItem conditional on the step not sending and on its event version; the sender's claim (`scheduled` → `sending`) and end (`sending` → `sent`): conditional PutItem on `status` |
//! | journey sync mark | `TENANT#{tid}#EVENT#{eid}` | `JSYNC` | `JSYNC` / `{since ms:013}#{tid}#{eid}` | written in the same transaction as an event's move or cancellation and as a new snapshot; cleared by the sync (DeleteItem conditional on the event version); the sweep: Query GSI1 for marks older than a minute |
//! | provider | `TENANT#{tid}#PROVIDERS` | `TENANT#{pid}` or `EVENT#{eid}#{pid}` | – | get: GetItem; list a layer's: Query `begins_with`; an event's effective providers: one Query of the partition (a tenant has tens of providers, not thousands) |
//! | conversation | `TENANT#{tid}#CONV#{cnv}` (id derived from tenant, contact or sender address, and event) | `META` | `TENANT#{tid}#CONVS` / `{last message ms:013}#{cnv}` | get: GetItem; each inbound or outbound message: the item is Put conditional on `version` in the message's transaction; list and search newest first: Query GSI1, a page at a time, with a FilterExpression for status, queue, priority, channel, event, contact, escalation (`attribute_exists(escalated_at)`), and words (`contains(words, " word ")` on the thread's folded words, kept on the item within 16 KB); an escalation: the item Put conditional on `version` |
//! | conversation message | `TENANT#{tid}#CONV#{cnv}` | `MSG#{at ms:013}#{cvm}` (`ttl`: the tenant's retention) | – | written in the conversation's transaction; the thread: Query `begins_with(SK, "MSG#")`, newest first, a page at a time (one message by id, for an attachment's download: the same pages until found) |
//! | inbound seen | `TENANT#{tid}#INBOUND#{channel}#{sha256(provider's id)}` | `SEEN` (`ttl` 14 days) | – | deduplication: a conditional Put in the message's transaction (a second delivery of an inbound message writes nothing) |
//! | unknown sender's conversation | `TENANT#{tid}#SENDER#{sha256(address)}` (`ttl`: the conversation's) | `CONV#{cnv}` | – | written in the transaction of a conversation with a sender matching no contact; a contact's export, history and erasure: Query `begins_with(SK, "CONV#")` for its email and its phone |
//! | contact's conversation | `TENANT#{tid}#CONTACT#{cid}` | `CONV#{cnv}` | – | written in the conversation's transaction; the contact's history and the event of an SMS that names no message: Query `begins_with(SK, "CONV#")`; GDPR erasure |
//! | conversation settings | `TENANT#{tid}` or `TENANT#{tid}#EVENT#{eid}` | `CONVSETTINGS` | – | help text, team hours, automatic-reply and routing rules, queues: GetItem (both layers in one BatchGetItem); put: conditional on `version` |
//! | inbound number | `INBOUNDNUMBER#{e164}` | `CLAIM` | – | which tenant's SMS provider (End User Messaging origination number) receives on a number: conditional Put (absent or the same tenant) when the provider is saved; the inbound function: GetItem |
//!
//! Every tenant-owned key starts with `TENANT#{tid}`, so no key built here can reach another
//! tenant's item; the only keys without a tenant are the platform's own, the API-key hash
//! (which authentication must look up before it knows the tenant, and which nobody can guess),
//! the console session's (likewise) and the inbound number's (an SMS names the number it was
//! sent to, not the tenant).
//!
//! Resolving an event's whole configuration is two requests: one BatchGetItem of the keys
//! that are known in advance (the event, the tenant, 30 template slots at each of the three
//! layers, both brands, both journey layers and the three compliance blocks: 99 keys, under the limit of 100) and
//! one Query of the tenant's providers partition.

use crate::config::{ComplianceBlockName, Owner};
use crate::domain::CrmKind;
use crate::domain::{Channel, TemplateCategory};
use crate::ids::{
    ApiKeyId, CampaignId, ContactId, ConversationId, EventId, GuestId, MessageId, ProviderId,
    SyncRunId, TemplateId, TenantId, ThreadMessageId, WebhookId, WebhookMessageId,
};

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const TTL: &str = "ttl";

pub const PLATFORM: &str = "PLATFORM";
pub const META: &str = "META";
pub const BRAND: &str = "BRAND";
pub const TEMPLATE_PREFIX: &str = "TEMPLATE#";
pub const COMPLIANCE_PREFIX: &str = "COMPLIANCE#";
pub const EVENT_PREFIX: &str = "EVENT#";

pub fn tenant_pk(tenant: TenantId) -> String {
    format!("TENANT#{tenant}")
}

pub fn event_pk(tenant: TenantId, event: EventId) -> String {
    format!("TENANT#{tenant}#EVENT#{event}")
}

/// The partition that holds an owner's templates and brand.
pub fn owner_pk(owner: Owner) -> String {
    match owner {
        Owner::Platform => PLATFORM.to_owned(),
        Owner::Tenant(t) => tenant_pk(t),
        Owner::Event(t, e) => event_pk(t, e),
    }
}

pub fn tenants_index_pk() -> &'static str {
    "TENANTS"
}

pub fn event_sk(event: EventId) -> String {
    format!("{EVENT_PREFIX}{event}")
}

pub fn template_sk(category: TemplateCategory, channel: Channel) -> String {
    format!("{TEMPLATE_PREFIX}{category}#{channel}")
}

pub fn template_index_sk(id: TemplateId) -> String {
    format!("{TEMPLATE_PREFIX}{id}")
}

pub const TEMPLATE_VERSION_PREFIX: &str = "TPLVER#";

/// The prefix of one template's versions; ids, not slots, so a deleted and re-created slot
/// starts a history of its own.
pub fn template_versions_prefix(id: TemplateId) -> String {
    format!("{TEMPLATE_VERSION_PREFIX}{id}#")
}

pub fn template_version_sk(id: TemplateId, version: u64) -> String {
    format!("{}{version:010}", template_versions_prefix(id))
}

pub const WIZARD: &str = "WIZARD";

/// A layer's journey: the tenant's standard journey (tenant partition) or the event's changes
/// (event partition).
pub const JOURNEY: &str = "JOURNEY";
/// An event whose journey occurrences must be brought in line (event partition; GSI1 `JSYNC`).
pub const JOURNEY_SYNC: &str = "JSYNC";
/// The sort-key prefix of an event's step occurrences.
pub const JOURNEY_STEP_PREFIX: &str = "JSTEP#";

pub fn journey_step_sk(key: &crate::journeys::StepKey) -> String {
    format!("{JOURNEY_STEP_PREFIX}{key}")
}
pub const SNAPSHOT_VERSION_PREFIX: &str = "RESOLVED#V#";
pub const ACTIVE_SNAPSHOT: &str = "RESOLVED#ACTIVE";

pub fn snapshot_sk(version: u64) -> String {
    format!("{SNAPSHOT_VERSION_PREFIX}{version:010}")
}

pub const GUEST_PREFIX: &str = "GUEST#";

pub fn guests_pk(tenant: TenantId, event: EventId, shard: u32) -> String {
    format!("TENANT#{tenant}#EVENT#{event}#GUESTS#{shard:02}")
}

pub fn guest_sk(id: GuestId) -> String {
    format!("{GUEST_PREFIX}{id}")
}

pub fn contact_pk(tenant: TenantId, id: ContactId) -> String {
    format!("TENANT#{tenant}#CONTACT#{id}")
}

/// `kind` is `email` or `phone`; `address` is normalised (lower-cased email, E.164 phone).
pub fn contact_key_pk(tenant: TenantId, kind: &str, address: &str) -> String {
    format!("TENANT#{tenant}#CONTACTKEY#{kind}#{address}")
}

pub const KEY: &str = "KEY";

/// The sort-key prefix of a contact's consent ledger.
pub const CONSENT_PREFIX: &str = "CONSENT#";

/// A consent ledger entry: its id is the change's time (ms) and a ULID, so the ledger reads in
/// order.
pub fn consent_sk(record_id: &str) -> String {
    format!("{CONSENT_PREFIX}{record_id}")
}

/// A contact's frequency-cap count for one period (`D20261122`, `W2026-47`).
pub fn frequency_sk(period: &str) -> String {
    format!("CAP#{period}")
}

/// API rate-limit buckets: a tenant's (and its keys'), or the platform keys'.
pub fn rate_pk(tenant: TenantId) -> String {
    format!("TENANT#{tenant}#RATE")
}

pub const PLATFORM_RATE: &str = "PLATFORM#RATE";

/// A tenant's audit log, or (no tenant) the platform's.
pub fn audit_pk(tenant: Option<TenantId>) -> String {
    match tenant {
        Some(t) => format!("TENANT#{t}#AUDIT"),
        None => "PLATFORM#AUDIT".to_owned(),
    }
}
pub const API_RATE: &str = "API";

/// The tenant's preference-link HMAC key, sealed with KMS.
pub const LINK_KEY: &str = "SECRET#LINKS";

/// The sort-key prefix of a message's delivery events (next to its `META` record).
pub const MESSAGE_EVENT_PREFIX: &str = "EV#";

/// The sort key of a message's first (or only) event of a kind, e.g. `EV#sent`: SES's Send
/// event, which settles a send a crash left uncertain, is `EV#sent`.
pub fn message_event_sk(kind: crate::domain::DeliveryEvent) -> String {
    format!("{MESSAGE_EVENT_PREFIX}{kind}")
}

/// The sort key of a later event of a repeating kind (opens, clicks).
pub fn message_repeat_event_sk(
    kind: crate::domain::DeliveryEvent,
    at_ms: i64,
    identity: &str,
) -> String {
    format!("{MESSAGE_EVENT_PREFIX}{kind}#{at_ms:013}#{identity}")
}

/// The partition of a tenant's delivery counters.
pub fn stats_pk(tenant: TenantId) -> String {
    format!("TENANT#{tenant}#STATS")
}

/// The sort key of a counters item within the tenant's stats partition.
pub fn stats_sk(scope: &crate::tracking::Scope) -> String {
    use crate::tracking::Scope;
    match scope {
        Scope::Tenant(_) => "TENANT".to_owned(),
        Scope::Event(_, e) => format!("EVENT#{e}"),
        Scope::Campaign(_, c) => format!("CAMPAIGN#{c}"),
        Scope::Minute(_, m) => format!("{MINUTE_PREFIX}{m:012}"),
    }
}

pub const MINUTE_PREFIX: &str = "MIN#";

/// The sort-key prefix of removed suppression entries (kept with the reason they went).
pub const SUPPRESSION_REMOVED_PREFIX: &str = "REMOVED#";

pub fn message_pk(tenant: TenantId, id: MessageId) -> String {
    format!("TENANT#{tenant}#MSG#{id}")
}

pub fn campaign_pk(tenant: TenantId, id: CampaignId) -> String {
    format!("TENANT#{tenant}#CAMPAIGN#{id}")
}

pub const BATCH_PREFIX: &str = "BATCH#";

pub fn batch_sk(batch: &str) -> String {
    format!("{BATCH_PREFIX}{batch}")
}

pub fn campaigns_index_pk(tenant: TenantId) -> String {
    format!("TENANT#{tenant}#CAMPAIGNS")
}

/// The partition of a tenant's provider health items and send-rate buckets.
pub fn provider_state_pk(tenant: TenantId) -> String {
    format!("TENANT#{tenant}#PROVSTATE")
}

pub const PROVIDER_HEALTH_PREFIX: &str = "HEALTH#";

pub fn provider_health_sk(provider: ProviderId) -> String {
    format!("{PROVIDER_HEALTH_PREFIX}{provider}")
}

/// A provider's own send-rate bucket.
pub fn provider_rate_bucket(tenant: TenantId, provider: ProviderId) -> (String, String) {
    (provider_state_pk(tenant), format!("RATE#{provider}"))
}

/// The SES account's send-rate bucket: every tenant's SES sends share the account's maximum
/// send rate (the platform's own key).
pub fn ses_account_rate_bucket() -> (String, String) {
    (PLATFORM.to_owned(), "RATE#ses".to_owned())
}

pub fn suppression_pk(tenant: TenantId) -> String {
    format!("TENANT#{tenant}#SUPPRESS")
}

pub fn idempotency_pk(tenant: TenantId, key_hash: &str) -> String {
    format!("TENANT#{tenant}#IDEMPOTENCY#{key_hash}")
}

pub const IDEMPOTENCY: &str = "IDEM";

pub const SENDER_PREFIX: &str = "SENDER#";

pub fn sender_sk(identity: &str) -> String {
    format!("{SENDER_PREFIX}{identity}")
}

/// The platform-wide claim on an SES identity (SES identities are per account, not per tenant).
pub fn sender_claim_pk(identity: &str) -> String {
    format!("SENDERCLAIM#{identity}")
}

pub fn compliance_sk(name: ComplianceBlockName) -> String {
    format!("{COMPLIANCE_PREFIX}{}", name.as_str())
}

pub fn providers_pk(tenant: TenantId) -> String {
    format!("TENANT#{tenant}#PROVIDERS")
}

/// The sort-key prefix of one layer's providers inside the tenant's providers partition.
pub fn provider_scope_prefix(event: Option<EventId>) -> String {
    match event {
        None => "TENANT#".to_owned(),
        Some(e) => format!("EVENT#{e}#"),
    }
}

pub fn provider_sk(event: Option<EventId>, id: ProviderId) -> String {
    format!("{}{id}", provider_scope_prefix(event))
}

/// A tenant's CRM partition: its connection, cursor, run lock and run reports.
pub fn crm_pk(tenant: TenantId) -> String {
    format!("TENANT#{tenant}#CRM")
}

pub const CRM_CONNECTION: &str = "CONNECTION";
pub const CRM_CURSOR: &str = "CURSOR";
pub const CRM_LOCK: &str = "LOCK";
pub const CRM_RUN_PREFIX: &str = "RUN#";
/// GSI1 partition of every tenant's CRM connection (the scheduled sweep's list).
pub const CRM_CONNECTIONS: &str = "CRM#CONNECTIONS";

pub fn crm_run_sk(run: SyncRunId) -> String {
    format!("{CRM_RUN_PREFIX}{run}")
}

/// A CRM record's link to its contact.
pub fn crm_record_pk(tenant: TenantId, kind: CrmKind, crm_id: &str) -> String {
    format!("TENANT#{tenant}#CRMID#{kind}#{crm_id}")
}

/// Contacts with Herald-side changes waiting for the CRM are spread over this many partitions.
pub const CRM_OUTBOX_SHARDS: u32 = 8;

pub fn crm_outbox_pk(tenant: TenantId, shard: u32) -> String {
    format!("TENANT#{tenant}#CRMOUT#{shard:02}")
}

pub fn api_key_pk(secret_hash_hex: &str) -> String {
    format!("APIKEY#{secret_hash_hex}")
}

pub const API_KEY_SK: &str = "APIKEY";

pub fn session_pk(token_hash_hex: &str) -> String {
    format!("SESSION#{token_hash_hex}")
}

pub const SESSION_SK: &str = "SESSION";

/// The GSI1 partition that lists the keys of a tenant, or the platform's own keys.
pub fn api_keys_index_pk(tenant: Option<TenantId>) -> String {
    match tenant {
        Some(t) => format!("TENANT#{t}#APIKEYS"),
        None => "PLATFORM#APIKEYS".to_owned(),
    }
}

pub fn api_key_index_sk(id: ApiKeyId) -> String {
    id.to_string()
}

/// A tenant's webhook endpoints.
pub fn webhooks_pk(tenant: TenantId) -> String {
    format!("TENANT#{tenant}#WEBHOOKS")
}

pub const WEBHOOK_ENDPOINT_PREFIX: &str = "ENDPOINT#";

pub fn webhook_endpoint_sk(id: WebhookId) -> String {
    format!("{WEBHOOK_ENDPOINT_PREFIX}{id}")
}

/// A webhook message's partition: its record and its attempts.
pub fn webhook_message_pk(tenant: TenantId, id: WebhookMessageId) -> String {
    format!("TENANT#{tenant}#WHMSG#{id}")
}

pub const WEBHOOK_ATTEMPT_PREFIX: &str = "ATTEMPT#";

pub fn webhook_attempt_sk(attempt: u32) -> String {
    format!("{WEBHOOK_ATTEMPT_PREFIX}{attempt:04}")
}

/// GSI1 partition of an endpoint's messages.
pub fn webhook_messages_gsi(tenant: TenantId, endpoint: WebhookId) -> String {
    format!("TENANT#{tenant}#WHK#{endpoint}#MESSAGES")
}

/// GSI1 partition of an endpoint's attempts.
pub fn webhook_attempts_gsi(tenant: TenantId, endpoint: WebhookId) -> String {
    format!("TENANT#{tenant}#WHK#{endpoint}#ATTEMPTS")
}

/// A conversation's partition: the conversation and its messages.
pub fn conversation_pk(tenant: TenantId, id: ConversationId) -> String {
    format!("TENANT#{tenant}#CONV#{id}")
}

/// GSI1 partition of a tenant's conversations, newest first.
pub fn conversations_index_pk(tenant: TenantId) -> String {
    format!("TENANT#{tenant}#CONVS")
}

pub fn conversations_index_sk(at: chrono::DateTime<chrono::Utc>, id: ConversationId) -> String {
    format!("{:013}#{id}", at.timestamp_millis().max(0))
}

pub const THREAD_PREFIX: &str = "MSG#";

pub fn thread_sk(at: chrono::DateTime<chrono::Utc>, id: ThreadMessageId) -> String {
    format!("{THREAD_PREFIX}{:013}#{id}", at.timestamp_millis().max(0))
}

/// An inbound message's deduplication item: the provider's id, hashed.
pub fn inbound_seen_pk(tenant: TenantId, channel: Channel, provider_id: &str) -> String {
    format!(
        "TENANT#{tenant}#INBOUND#{channel}#{}",
        crate::digest::sha256_hex(provider_id)
    )
}

pub const SEEN: &str = "SEEN";
pub const CONTACT_CONVERSATION_PREFIX: &str = "CONV#";

pub fn contact_conversation_sk(id: ConversationId) -> String {
    format!("{CONTACT_CONVERSATION_PREFIX}{id}")
}

/// The partition of a sender matching no contact (their address hashed: lower-case email or
/// E.164), holding pointers to their conversations.
pub fn sender_pk(tenant: TenantId, address: &str) -> String {
    format!(
        "TENANT#{tenant}#SENDER#{}",
        crate::digest::sha256_hex(address)
    )
}

pub const CONVERSATION_SETTINGS: &str = "CONVSETTINGS";

pub fn inbound_number_pk(number: &str) -> String {
    format!("INBOUNDNUMBER#{number}")
}

pub const CLAIM: &str = "CLAIM";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tenant_key_starts_with_the_tenant() {
        let t = TenantId::new();
        let e = EventId::new();
        let prefix = format!("TENANT#{t}");
        for pk in [
            tenant_pk(t),
            event_pk(t, e),
            providers_pk(t),
            owner_pk(Owner::Event(t, e)),
            api_keys_index_pk(Some(t)),
            guests_pk(t, e, 3),
            contact_pk(t, ContactId::new()),
            contact_key_pk(t, "email", "a@b.example"),
        ] {
            assert!(pk.starts_with(&prefix), "{pk}");
        }
    }

    #[test]
    fn provider_layers_do_not_share_a_prefix() {
        let e = EventId::new();
        let id = ProviderId::new();
        assert!(provider_sk(None, id).starts_with(&provider_scope_prefix(None)));
        assert!(!provider_sk(Some(e), id).starts_with(&provider_scope_prefix(None)));
        assert!(provider_sk(Some(e), id).starts_with(&provider_scope_prefix(Some(e))));
    }
}
