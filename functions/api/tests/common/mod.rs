//! Shared setup of the API integration tests: a fresh stack per test, tenants with their keys,
//! events, templates and providers made through the API, and checks of problem+json answers.
//!
//! Run with `infra/local/with-moto.sh cargo test -p herald-api --tests`.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use axum::http::{Method, header};
pub use herald_local::testing::{Answer, TestStack};

pub mod consent;
pub mod conversations;
#[allow(unused_imports)]
pub use consent::*;
use std::time::Duration;

use serde_json::{Value, json};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// A fresh table, KMS key and platform-admin key on the emulator.
pub async fn stack() -> TestStack {
    TestStack::start()
        .await
        .expect("start the test stack (run under infra/local/with-moto.sh)")
}

/// Sends a request and insists on the status, showing the body when it differs.
pub async fn expect(
    stack: &TestStack,
    method: Method,
    uri: &str,
    key: &str,
    body: Option<Value>,
    status: u16,
) -> Value {
    let answer = stack.call(method.clone(), uri, Some(key), body).await;
    assert_eq!(
        answer.status.as_u16(),
        status,
        "{method} {uri}: unexpected status; body: {}",
        answer.body
    );
    answer.body
}

/// Asserts an RFC 9457 problem answer with this status.
pub fn assert_problem(answer: &Answer, status: u16, context: &str) {
    assert_eq!(
        answer.status.as_u16(),
        status,
        "{context}: status; body: {}",
        answer.body
    );
    assert_eq!(
        content_type(answer),
        PROBLEM_JSON,
        "{context}: content type"
    );
    assert_eq!(
        answer.body["status"],
        json!(status),
        "{context}: body.status"
    );
    let kind = answer.body["type"].as_str().unwrap_or_default();
    assert!(kind.starts_with("/problems/"), "{context}: type {kind}");
    assert!(
        answer.body["title"].is_string() && answer.body["detail"].is_string(),
        "{context}: title and detail: {}",
        answer.body
    );
}

pub fn content_type(answer: &Answer) -> &str {
    answer
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// A string field of a JSON body.
pub fn text(body: &Value, field: &str) -> String {
    body[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string in {body}"))
        .to_owned()
}

pub fn id(body: &Value) -> String {
    text(body, "id")
}

/// The `items` array of a list answer.
pub fn items(body: &Value) -> Vec<Value> {
    body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {body}"))
        .clone()
}

/// The ids of a list answer, in order.
pub fn ids(body: &Value) -> Vec<String> {
    items(body).iter().map(id).collect()
}

/// A tenant with its own tenant_admin key.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: String,
    pub admin: String,
    pub admin_key_id: String,
}

/// Creates a tenant (platform admin) and a tenant_admin key for it.
pub async fn tenant(stack: &TestStack, name: &str) -> Tenant {
    let body = expect(
        stack,
        Method::POST,
        "/api/v1/tenants",
        &stack.admin_key,
        Some(json!({ "name": name })),
        201,
    )
    .await;
    let tenant_id = id(&body);
    let (admin_key_id, admin) = api_key(
        stack,
        &stack.admin_key,
        &tenant_id,
        json!({ "name": format!("{name} admin"), "role": "tenant_admin" }),
    )
    .await;
    Tenant {
        id: tenant_id,
        admin,
        admin_key_id,
    }
}

/// Creates an API key of `tenant` with `creator`'s key; returns (id, secret).
pub async fn api_key(
    stack: &TestStack,
    creator: &str,
    tenant: &str,
    body: Value,
) -> (String, String) {
    let created = expect(
        stack,
        Method::POST,
        &format!("/api/v1/api-keys?tenant_id={tenant}"),
        creator,
        Some(body),
        201,
    )
    .await;
    (id(&created), text(&created, "secret"))
}

/// An event_manager key of `tenant` for `events`; returns (id, secret).
pub async fn event_manager(
    stack: &TestStack,
    creator: &str,
    tenant: &str,
    events: &[&str],
) -> (String, String) {
    api_key(
        stack,
        creator,
        tenant,
        json!({ "name": "event manager", "role": "event_manager", "event_ids": events }),
    )
    .await
}

pub fn event_json(name: &str) -> Value {
    json!({
        "name": name,
        "starts_at": "2027-05-01T18:00:00",
        "ends_at": "2027-05-01T23:30:00",
        "time_zone": "Europe/Paris",
        "default_locale": "fr-FR",
    })
}

/// Creates an event with a tenant key (or a platform key and `?tenant_id=`); returns its id.
pub async fn event(stack: &TestStack, key: &str, query: &str, name: &str) -> String {
    id(&expect(
        stack,
        Method::POST,
        &format!("/api/v1/events{query}"),
        key,
        Some(event_json(name)),
        201,
    )
    .await)
}

/// A valid template body for a slot; `marker` ends up in every part.
pub fn template_json(category: &str, channel: &str, marker: &str) -> Value {
    if channel == "email" {
        json!({
            "category": category,
            "channel": channel,
            "subject": format!("{marker}: {{{{ event.name }}}}"),
            "html": format!("<p>{marker} {{{{ guest.first_name }}}}</p>"),
        })
    } else {
        json!({
            "category": category,
            "channel": channel,
            "text": format!("{marker} {{{{ guest.first_name }}}}"),
        })
    }
}

/// Creates a template at the layer `query` names; returns the created template.
pub async fn template(
    stack: &TestStack,
    key: &str,
    query: &str,
    category: &str,
    channel: &str,
    marker: &str,
) -> Value {
    expect(
        stack,
        Method::POST,
        &format!("/api/v1/communication/templates{query}"),
        key,
        Some(template_json(category, channel, marker)),
        201,
    )
    .await
}

pub fn ses_json(name: &str, from: &str) -> Value {
    json!({ "kind": "ses", "name": name, "settings": { "from_address": from } })
}

pub fn sns_json(name: &str) -> Value {
    json!({ "kind": "sns", "name": name, "settings": { "sender_id": "Herald" } })
}

pub const TWILIO_SID: &str = "AC0123456789abcdef0123456789abcdef";

pub fn twilio_json(name: &str, token: &str, base_url: Option<&str>) -> Value {
    let mut settings = json!({ "account_sid": TWILIO_SID, "from_number": "+447700900123" });
    if let Some(url) = base_url {
        settings["base_url"] = json!(url);
    }
    json!({ "kind": "twilio", "name": name, "settings": settings,
            "credentials": { "auth_token": token } })
}

/// An SNS provider of the tenant receiving two-way SMS on a new number (claimed for the
/// tenant as it is saved); the number.
pub async fn two_way_number(stack: &TestStack, key: &str) -> String {
    let number = format!("+1555{:07}", rand_u32() % 10_000_000);
    let mut sns = sns_json("Two-way");
    sns["settings"]["origination_number"] = json!(number);
    provider(stack, key, "", sns).await;
    number
}

/// Creates a provider at the layer `query` names; returns the created provider.
pub async fn provider(stack: &TestStack, key: &str, query: &str, body: Value) -> Value {
    expect(
        stack,
        Method::POST,
        &format!("/api/v1/communication/providers{query}"),
        key,
        Some(body),
        201,
    )
    .await
}

pub type Item = BTreeMap<String, AttributeValue>;

/// Every item of the stack's table but the audit log (which records refused calls too, by
/// design), each with its attributes in name order, sorted by key.
pub async fn scan(stack: &TestStack) -> Vec<Item> {
    let mut items = scan_all(stack).await;
    items.retain(|i| !item_key(i).0.ends_with("#AUDIT"));
    items
}

/// Every item of the stack's table, each with its attributes in name order, sorted by key.
pub async fn scan_all(stack: &TestStack) -> Vec<Item> {
    let client = aws_sdk_dynamodb::Client::new(&stack.sdk);
    let pages: Vec<HashMap<String, AttributeValue>> = client
        .scan()
        .table_name(&stack.table)
        .consistent_read(true)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("scan the table");
    let mut items: Vec<Item> = pages.into_iter().map(|i| i.into_iter().collect()).collect();
    items.sort_by_key(item_key);
    items
}

pub fn item_key(item: &Item) -> (String, String) {
    let s = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    (s("PK"), s("SK"))
}

/// Asserts that no attribute of any item of the table contains `needle` (in any string form).
pub async fn assert_table_lacks(stack: &TestStack, needle: &str) {
    let items = scan_all(stack).await;
    assert!(!items.is_empty(), "the table is empty");
    for item in &items {
        let dump = format!("{item:?}");
        assert!(
            !dump.contains(needle),
            "item {:?} contains the secret",
            item_key(item)
        );
    }
}

/// (method, uri, body) of a request that must be refused with `status`.
pub async fn assert_refused(
    stack: &TestStack,
    key: &str,
    status: u16,
    requests: &[(Method, String, Option<Value>)],
) {
    for (method, uri, body) in requests {
        let answer = stack
            .call(method.clone(), uri, Some(key), body.clone())
            .await;
        assert_problem(&answer, status, &format!("{method} {uri}"));
    }
}

/// The field of the first field-level issue of a 422.
pub fn first_field(answer: &Answer) -> String {
    text(&answer.body["errors"][0], "field")
}

// The setup wizard, for tests that need an event with an active snapshot.

/// A tenant ready to go live: compliance blocks, an SES provider whose domain is a registered
/// sender, an invitation email template; and one event.
pub struct Setup {
    pub t: Tenant,
    pub event: String,
    pub email_template: Value,
}

pub async fn compliance(stack: &TestStack) {
    for name in ["opt_out_text", "gdpr_notice", "legal_footer"] {
        expect(
            stack,
            Method::PUT,
            &format!("/api/v1/communication/compliance/{name}"),
            &stack.admin_key,
            Some(json!({"version": 0, "text": format!("{name} wording")})),
            200,
        )
        .await;
    }
}

pub async fn setup(stack: &TestStack) -> Setup {
    compliance(stack).await;
    let t = tenant(stack, "Acme").await;
    provider(stack, &t.admin, "", ses_json("SES", "events@acme.example")).await;
    expect(
        stack,
        Method::POST,
        "/api/v1/communication/senders",
        &t.admin,
        Some(json!({"identity": "acme.example"})),
        201,
    )
    .await;
    let email_template = template(stack, &t.admin, "", "invitation", "email", "v1").await;
    let event = event(stack, &t.admin, "", "Gala").await;
    Setup {
        t,
        event,
        email_template,
    }
}

pub fn wizard_uri(event: &str, rest: &str) -> String {
    format!("/api/v1/events/{event}/wizard{rest}")
}

/// Asks for a completion and waits (bounded) for the wizard function to finish it.
pub async fn complete_wizard(stack: &TestStack, key: &str, event: &str) -> Value {
    let accepted = expect(
        stack,
        Method::POST,
        &wizard_uri(event, "/complete"),
        key,
        None,
        202,
    )
    .await;
    assert_eq!(accepted["status"], "queued");
    wait_for_run(stack, key, event, &text(&accepted, "run_id")).await
}

pub async fn wait_for_run(stack: &TestStack, key: &str, event: &str, run_id: &str) -> Value {
    for _ in 0..150 {
        let wizard = expect(stack, Method::GET, &wizard_uri(event, ""), key, None, 200).await;
        let run = &wizard["steps"]["review"]["completion"];
        if run["run_id"] == run_id && matches!(run["status"].as_str(), Some("succeeded" | "failed"))
        {
            return run.clone();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the wizard function did not finish run {run_id} within 30 s");
}

/// What moto accepted so far: `ses.Message` and `sns.SMS` of `/moto-api/data.json`, counted
/// by recipient. (All tests share one emulator, so count your own addresses; and read it
/// rarely: moto dumps every model it holds to answer.)
pub struct Outbox {
    emails: HashMap<String, usize>,
    sms: HashMap<String, usize>,
}

impl Outbox {
    pub async fn read() -> Self {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
        // moto walks its live models to answer, and fails (a 500 with an HTML page) when
        // another test changes one meanwhile: read again, a bounded number of times.
        let mut data = Value::Null;
        for attempt in 1..=10 {
            let answer = reqwest::get(format!("{endpoint}/moto-api/data.json"))
                .await
                .expect("moto answers");
            let status = answer.status();
            let body = answer.text().await.expect("moto's answer");
            match serde_json::from_str::<Value>(&body) {
                Ok(v) if status.is_success() => {
                    data = v;
                    break;
                }
                _ if attempt < 10 => {
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await
                }
                _ => panic!(
                    "moto's data is not JSON after 10 reads ({status}): {}",
                    body.chars().take(300).collect::<String>()
                ),
            }
        }
        let mut emails = HashMap::new();
        for m in data["ses"]["Message"].as_array().into_iter().flatten() {
            for to in m["destinations"]["ToAddresses"]
                .as_array()
                .into_iter()
                .flatten()
            {
                *emails
                    .entry(to.as_str().unwrap_or_default().to_owned())
                    .or_default() += 1;
            }
        }
        let mut sms = HashMap::new();
        for m in data["sns"]["SMS"].as_array().into_iter().flatten() {
            *sms.entry(m["phone_number"].as_str().unwrap_or_default().to_owned())
                .or_default() += 1;
        }
        Self { emails, sms }
    }

    pub fn emails_to(&self, address: &str) -> usize {
        self.emails.get(address).copied().unwrap_or(0)
    }

    pub fn sms_to(&self, phone: &str) -> usize {
        self.sms.get(phone).copied().unwrap_or(0)
    }
}

/// How many emails moto accepted for `address` (reads the whole outbox: use sparingly).
pub async fn emails_to(address: &str) -> usize {
    Outbox::read().await.emails_to(address)
}

/// A pseudo-random number without a new dependency: the low bits of a fresh ULID.
pub fn rand_u32() -> u32 {
    (ulid::Ulid::generate().0 & 0xffff_ffff) as u32
}

/// A unique address for this test run.
pub fn unique_email(name: &str) -> String {
    format!(
        "{name}-{}@example.com",
        ulid::Ulid::generate().to_string().to_lowercase()
    )
}

pub const CAMPAIGNS: &str = "/api/v1/communication/campaigns";

/// Polls a campaign (bounded) until it leaves `sending`: every 250 ms, then (after 20 s)
/// every 2 s, since each read is a Query and moto answers a Query by walking its whole table.
pub async fn finished(stack: &TestStack, key: &str, id: &str, seconds: u64) -> Value {
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(seconds) {
        let c = expect(
            stack,
            Method::GET,
            &format!("{CAMPAIGNS}/{id}"),
            key,
            None,
            200,
        )
        .await;
        if matches!(
            c["status"].as_str(),
            Some("sent" | "partially_failed" | "cancelled")
        ) {
            return c;
        }
        let pause = if started.elapsed() < Duration::from_secs(20) {
            250
        } else {
            2_000
        };
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    panic!("campaign {id} did not finish within {seconds} s");
}

/// Imports these guests into an event; all must be accepted.
pub async fn import_guests(stack: &TestStack, key: &str, event: &str, guests: Vec<Value>) {
    let n = guests.len();
    let imported = expect(
        stack,
        Method::POST,
        &format!("/api/v1/events/{event}/guests"),
        key,
        Some(json!({ "guests": guests })),
        200,
    )
    .await;
    assert_eq!(imported["imported"], n, "{imported}");
}

/// Creates a campaign to every guest of the event and sends it; its id.
pub async fn send_to_all(stack: &TestStack, key: &str, event: &str, channels: Value) -> String {
    let created = expect(
        stack,
        Method::POST,
        CAMPAIGNS,
        key,
        Some(
            json!({"event_id": event, "name": "Invitations", "category": "invitation",
            "channels": channels, "audience": {"kind": "all"}}),
        ),
        201,
    )
    .await;
    let id = text(&created, "id");
    expect(
        stack,
        Method::POST,
        &format!("{CAMPAIGNS}/{id}/send"),
        key,
        None,
        202,
    )
    .await;
    id
}

/// CPU seconds (user + system) of a process so far, from /proc (`self` or a PID).
pub fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces) start after its ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; USER_HZ is
    // 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// The emulator's CPU seconds, when with-moto.sh says which process it is.
pub fn moto_cpu_seconds() -> f64 {
    std::env::var("HERALD_MOTO_PID")
        .map(|pid| cpu_seconds(&pid))
        .unwrap_or(0.0)
}

/// `n` unique addresses for this run, `{tag}{i}-{run}@example.com`.
pub fn addresses(tag: &str, n: usize) -> Vec<String> {
    let run = ulid::Ulid::generate().to_string().to_lowercase();
    (0..n)
        .map(|i| format!("{tag}{i}-{run}@example.com"))
        .collect()
}

/// Guests to import: one per address, by email.
pub fn guests(addresses: &[String]) -> Vec<Value> {
    addresses
        .iter()
        .map(|a| json!({"first_name": "G", "email": a}))
        .collect()
}

// HTTP providers stood in for by wiremock, every request checked against the provider's
// published contract (`infra/local/contracts`, `herald_local::contracts`).

pub use herald_local::contracts::Provider;

/// A wiremock server standing in for one HTTP provider. Every request is checked against the
/// provider's contract before a test's answer is given: one that breaks it (a body field the
/// contract types otherwise, a missing header or credential, an unknown operation) is answered
/// the way the provider refuses (400, 401 or 404 with its documented error body) and kept, so
/// the call fails as it would in production and `assert_kept_contract` names what broke.
pub struct ProviderFake {
    pub server: wiremock::MockServer,
    pub provider: Provider,
    violations: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ProviderFake {
    /// A fake that answers nothing yet: every request is checked, then answered 404.
    pub async fn start(provider: Provider) -> Self {
        let fake = Self {
            server: wiremock::MockServer::start().await,
            provider,
            violations: std::sync::Arc::default(),
        };
        wiremock::Mock::given(wiremock::matchers::any())
            .respond_with(fake.checked(wiremock::ResponseTemplate::new(404)))
            .with_priority(u8::MAX)
            .named("no operation the test answers")
            .mount(&fake.server)
            .await;
        fake
    }

    /// The base URL, for a provider's `base_url` setting.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// A mock of `operation` (its method and path from the contract) that gives `answer` to
    /// the requests that keep to the contract; mount it, after `.expect(n)` if wanted.
    pub fn on(&self, operation: &str, answer: impl wiremock::Respond + 'static) -> wiremock::Mock {
        self.operation(operation)
            .respond_with(self.checked(answer))
            .named(format!("{} {operation}", self.provider))
    }

    /// A mock builder matching `operation`'s method and path, for more matchers; respond with
    /// `checked(answer)` so the contract is checked too.
    pub fn operation(&self, operation: &str) -> wiremock::MockBuilder {
        let contract = herald_local::contracts::contract(self.provider, operation)
            .unwrap_or_else(|e| panic!("{e}"));
        wiremock::Mock::given(Operation(contract))
    }

    /// Mounts `on(operation, answer)`.
    pub async fn answer(&self, operation: &str, answer: impl wiremock::Respond + 'static) {
        self.on(operation, answer).mount(&self.server).await;
    }

    /// `answer` given only to requests that keep to the contract.
    pub fn checked<R: wiremock::Respond>(&self, answer: R) -> Checked<R> {
        Checked {
            provider: self.provider,
            violations: self.violations.clone(),
            answer,
        }
    }

    /// Every way a request so far broke the provider's contract.
    pub fn violations(&self) -> Vec<String> {
        self.violations.lock().expect("lock").clone()
    }

    /// Asserts that every request so far kept to the provider's contract.
    pub fn assert_kept_contract(&self) {
        let violations = self.violations();
        assert!(
            violations.is_empty(),
            "requests to {} broke its contract:\n{}",
            self.provider,
            violations.join("\n")
        );
    }

    /// The requests received so far whose path ends with `suffix`.
    pub async fn received(&self, suffix: &str) -> Vec<wiremock::Request> {
        let all = self.server.received_requests().await.unwrap_or_default();
        all.into_iter()
            .filter(|r| r.url.path().ends_with(suffix))
            .collect()
    }
}

/// Matches the requests with an operation's method and path.
pub struct Operation(&'static herald_local::contracts::Contract);

impl wiremock::Match for Operation {
    fn matches(&self, request: &wiremock::Request) -> bool {
        self.0.matches(request.method.as_str(), request.url.path())
    }
}

/// A responder that first checks the request against the provider's contract.
pub struct Checked<R> {
    provider: Provider,
    violations: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    answer: R,
}

impl<R: wiremock::Respond> wiremock::Respond for Checked<R> {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        use herald_local::contracts;
        let checked = contracts::check(
            self.provider,
            &contracts::Request {
                method: request.method.as_str(),
                path: request.url.path(),
                query: request.url.query(),
                headers: &request.headers,
                body: &request.body,
            },
        );
        match checked {
            Ok(_) => self.answer.respond(request),
            Err(violations) => {
                let lines = violations.iter().map(ToString::to_string);
                self.violations.lock().expect("lock").extend(lines);
                let (status, body) = contracts::refusal(self.provider, &violations);
                wiremock::ResponseTemplate::new(status).set_body_json(body)
            }
        }
    }
}

/// A provider's answer to an accepted message.
pub fn accepted(provider: Provider) -> wiremock::ResponseTemplate {
    let id = ulid::Ulid::generate().to_string();
    let template = wiremock::ResponseTemplate::new;
    match provider {
        Provider::Twilio => template(201)
            .set_body_json(json!({"sid": format!("SM{}", id.to_lowercase()), "status": "queued"})),
        Provider::Sendgrid => template(202).insert_header("X-Message-Id", id.as_str()),
        Provider::Brevo => template(201)
            .set_body_json(json!({"messageId": format!("<{id}@smtp-relay.brevo.test>")})),
        Provider::Whatsapp => template(200).set_body_json(json!({"messaging_product": "whatsapp",
            "contacts": [{"input": "447700900201", "wa_id": "447700900201"}],
            "messages": [{"id": format!("wamid.{id}")}]})),
        Provider::Hubspot | Provider::Salesforce => template(200).set_body_json(json!({})),
    }
}

/// A provider's answer to a connection test.
pub fn connected() -> wiremock::ResponseTemplate {
    wiremock::ResponseTemplate::new(200).set_body_json(json!({"ok": true}))
}
