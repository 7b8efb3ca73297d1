//! A fake of a Salesforce org's REST API (v60.0): the client-credentials token flow, API
//! limits, SOQL queries of Contacts by `SystemModstamp` with query locators, and composite
//! sObject updates. Requests are checked against `infra/local/contracts/salesforce/` first
//! and refused with Salesforce's documented error answers when they break it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Contract, Faults, Gate, ModClock, Server, fault_controls, format_ms, lock};
use crate::contracts::Provider;

const API: &str = "/services/data/v60.0";
const TOKEN_PATH: &str = "/services/oauth2/token";
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3f+0000";
const ORG_ID: &str = "00Dxx0000001gPL";
const DAILY_API_REQUESTS: u64 = 100_000;
const MAX_COMPOSITE_RECORDS: usize = 200;
const MIN_BATCH_SIZE: usize = 200;
const MAX_BATCH_SIZE: usize = 2000;
const KNOWN_FIELDS: &str = "Id Email FirstName LastName Phone MobilePhone Title Department \
    LeadSource HasOptedOutOfEmail DoNotCall CreatedDate SystemModstamp LastModifiedDate \
    Lifecycle_Stage__c Company__c Herald_Last_Message_Sent_At__c Herald_Last_Opened_At__c \
    Herald_Last_Clicked_At__c Herald_Last_Event__c Herald_SMS_Opt_Out__c";
const READ_ONLY_FIELDS: [&str; 4] = ["Id", "CreatedDate", "SystemModstamp", "LastModifiedDate"];

/// A Contact field's canonical name; SOQL and the REST API ignore case.
fn known_field(name: &str) -> Option<&'static str> {
    KNOWN_FIELDS
        .split_whitespace()
        .find(|f| f.eq_ignore_ascii_case(name))
}

struct Contact {
    modified_ms: i64,
    fields: BTreeMap<String, Value>,
}

/// The records of a query, frozen when it ran, served in batches.
struct Cursor {
    records: Vec<Value>,
    batch_size: usize,
}

#[derive(Default)]
struct Org {
    /// By Id, which sorts in creation order.
    contacts: BTreeMap<String, Contact>,
    created: u64,
    clock: ModClock,
    tokens: HashSet<String>,
    api_requests: u64,
    cursors: HashMap<String, Cursor>,
}

impl Org {
    fn insert(&mut self, fields: impl IntoIterator<Item = (String, Value)>) -> String {
        self.created += 1;
        let id = salesforce_id("003", self.created);
        let mut fields: BTreeMap<String, Value> = fields.into_iter().collect();
        let modified_ms = self.clock.tick();
        let stamp = json!(format_ms(modified_ms, TIME_FORMAT));
        fields.insert("Id".into(), json!(id));
        for field in ["CreatedDate", "SystemModstamp", "LastModifiedDate"] {
            fields.insert(field.into(), stamp.clone());
        }
        self.contacts.insert(
            id.clone(),
            Contact {
                modified_ms,
                fields,
            },
        );
        id
    }

    /// Applies `changes` to contact `id`, if it exists, and bumps its `SystemModstamp`.
    fn update(&mut self, id: &str, changes: BTreeMap<String, Value>) {
        if let Some(contact) = self.contacts.get_mut(id) {
            contact.fields.extend(changes);
            contact.modified_ms = self.clock.tick();
            let stamp = json!(format_ms(contact.modified_ms, TIME_FORMAT));
            contact
                .fields
                .insert("SystemModstamp".into(), stamp.clone());
            contact.fields.insert("LastModifiedDate".into(), stamp);
        }
    }
}

/// An 18-character id: key prefix, zero-padded base-36 counter, case-checksum suffix.
fn salesforce_id(prefix: &str, n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const SUFFIX: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    let mut digits = [b'0'; 12];
    let mut rest = n;
    for slot in digits.iter_mut().rev() {
        *slot = DIGITS[(rest % 36) as usize];
        rest /= 36;
    }
    let id = format!("{prefix}{}", String::from_utf8_lossy(&digits));
    let checksum = id.as_bytes().chunks(5).map(|chunk| {
        let upper = chunk
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_ascii_uppercase());
        char::from(SUFFIX[upper.fold(0, |bits, (i, _)| bits | (1 << i))])
    });
    let checksum: String = checksum.collect();
    id + &checksum
}

#[derive(Clone)]
struct App {
    org: Arc<Mutex<Org>>,
    url: String,
    client_id: Arc<str>,
    client_secret: Arc<str>,
}

impl App {
    fn org(&self) -> MutexGuard<'_, Org> {
        lock(&self.org)
    }
}

/// A Salesforce org on 127.0.0.1 with one connected app; stopped on drop.
pub struct FakeSalesforce {
    app: App,
    faults: Faults,
    server: Server,
}

impl FakeSalesforce {
    /// Starts an empty org whose connected app has these client credentials.
    pub async fn start(client_id: &str, client_secret: &str) -> anyhow::Result<Self> {
        let (listener, url) = Server::bind().await?;
        let app = App {
            org: Arc::default(),
            url: url.clone(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        };
        let faults = Faults::default();
        let gate = Gate {
            faults: faults.clone(),
            throttled: json!([{"message": "rate limited", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]),
            unavailable: json!([{"message": "Service Unavailable",
                "errorCode": "SERVER_UNAVAILABLE"}]),
            throttle_exempt: Some(TOKEN_PATH),
        };
        let data = Router::new()
            .route(&format!("{API}/limits"), get(limits))
            .route(&format!("{API}/query"), get(query))
            .route(&format!("{API}/query/{{cursor}}"), get(query_more))
            .route(&format!("{API}/composite/sobjects"), patch(update_records))
            .layer(middleware::from_fn_with_state(app.clone(), require_session));
        let router = Router::new()
            .route(TOKEN_PATH, post(issue_token))
            .merge(data)
            .with_state(app.clone())
            .layer(middleware::from_fn_with_state(
                Contract {
                    provider: Provider::Salesforce,
                    faults: faults.clone(),
                },
                super::contract,
            ))
            .layer(middleware::from_fn_with_state(gate, super::gate));
        let server = Server::spawn(listener, url, router);
        Ok(Self {
            app,
            faults,
            server,
        })
    }

    /// The org's My Domain URL, which is also its `instance_url`.
    pub fn url(&self) -> String {
        self.server.url.clone()
    }

    /// Invalidates every access token issued so far.
    pub fn expire_tokens(&self) {
        self.app.org().tokens.clear();
    }

    /// Adds a contact; `Id`, `CreatedDate`, `SystemModstamp` and `LastModifiedDate` are the
    /// fake's.
    pub fn add_contact(&self, fields: &[(&str, Value)]) -> String {
        let owned = fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone()));
        self.app.org().insert(owned)
    }

    /// Adds `n` contacts, the `i`th with the fields `make(i)`, under one lock.
    pub fn add_contacts(
        &self,
        n: usize,
        make: impl Fn(usize) -> Vec<(String, Value)>,
    ) -> Vec<String> {
        let mut org = self.app.org();
        (0..n).map(|i| org.insert(make(i))).collect()
    }

    /// Sets one field of contact `id` and bumps its `SystemModstamp` (which therefore can't
    /// be set); ignored if there is no such contact.
    pub fn edit_contact(&self, id: &str, field: &str, value: Value) {
        self.app
            .org()
            .update(id, BTreeMap::from([(field.to_owned(), value)]));
    }

    pub fn contact(&self, id: &str) -> Option<BTreeMap<String, Value>> {
        self.app.org().contacts.get(id).map(|c| c.fields.clone())
    }

    /// Every contact, in creation order.
    pub fn contacts(&self) -> Vec<(String, BTreeMap<String, Value>)> {
        let org = self.app.org();
        org.contacts
            .iter()
            .map(|(id, c)| (id.clone(), c.fields.clone()))
            .collect()
    }

    fault_controls!();
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!([{"message": message.into(), "errorCode": code}]);
    (status, Json(body)).into_response()
}

fn bad(code: &str, message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, code, message)
}

async fn issue_token(
    State(app): State<App>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let oauth_error = |error: &str, description: &str| {
        let body = json!({"error": error, "error_description": description});
        (StatusCode::BAD_REQUEST, Json(body)).into_response()
    };
    let field = |name: &str| form.get(name).map(String::as_str);
    if field("grant_type") != Some("client_credentials") {
        return oauth_error("unsupported_grant_type", "grant type not supported");
    }
    if field("client_id") != Some(&*app.client_id)
        || field("client_secret") != Some(&*app.client_secret)
    {
        return oauth_error("invalid_client", "invalid client credentials");
    }
    let token = format!("{ORG_ID}!AQ{}", ulid::Ulid::generate());
    app.org().tokens.insert(token.clone());
    let url = &app.url;
    let issued_at = chrono::Utc::now().timestamp_millis().to_string();
    let reply = json!({"access_token": token, "instance_url": url,
        "signature": format!("{:032x}", ulid::Ulid::generate().0),
        "id": format!("{url}/id/{ORG_ID}EAY/005xx000001SwiUAAS"), "token_type": "Bearer",
        "issued_at": issued_at, "scope": "api"});
    Json(reply).into_response()
}

async fn require_session(State(app): State<App>, request: Request, next: Next) -> Response {
    let given = request.headers().get(header::AUTHORIZATION);
    let token = given.and_then(|v| v.to_str().ok()?.strip_prefix("Bearer "));
    {
        let mut org = app.org();
        if !token.is_some_and(|t| org.tokens.contains(t)) {
            let message = "Session expired or invalid";
            return error(StatusCode::UNAUTHORIZED, "INVALID_SESSION_ID", message);
        }
        org.api_requests += 1;
    }
    next.run(request).await
}

async fn limits(State(app): State<App>) -> Json<Value> {
    let remaining = DAILY_API_REQUESTS.saturating_sub(app.org().api_requests);
    Json(json!({"DailyApiRequests": {"Max": DAILY_API_REQUESTS, "Remaining": remaining}}))
}

/// A parsed `SELECT f, ... FROM Contact [WHERE SystemModstamp >= t] ORDER BY SystemModstamp
/// ASC, Id ASC`.
struct Soql {
    fields: Vec<&'static str>,
    /// (inclusive, epoch millis)
    since: Option<(bool, i64)>,
}

/// Splits SOQL into words, commas and comparison operators.
fn tokenize(soql: &str) -> Vec<String> {
    let is_operator = |c: char| matches!(c, '<' | '>' | '=' | '!');
    let mut tokens = Vec::new();
    let mut current = String::new();
    for ch in soql.chars() {
        let kind_changes = current
            .chars()
            .last()
            .is_some_and(|c| is_operator(c) != is_operator(ch));
        if (ch.is_whitespace() || ch == ',' || kind_changes) && !current.is_empty() {
            tokens.push(std::mem::take(&mut current));
        }
        match ch {
            ',' => tokens.push(",".into()),
            ch if ch.is_whitespace() => {}
            ch => current.push(ch),
        }
    }
    tokens.extend(Some(current).filter(|c| !c.is_empty()));
    tokens
}

fn take_words<'a>(tokens: &mut impl Iterator<Item = &'a str>, words: &[&str]) -> bool {
    words
        .iter()
        .all(|word| tokens.next().is_some_and(|t| t.eq_ignore_ascii_case(word)))
}

/// Epoch millis of a SOQL datetime literal: `2026-11-22T10:00:00.123Z`, `...+0000`, etc.
fn parse_datetime(literal: &str) -> Option<i64> {
    let time = chrono::DateTime::parse_from_rfc3339(literal)
        .or_else(|_| chrono::DateTime::parse_from_str(literal, "%Y-%m-%dT%H:%M:%S%.f%z"));
    time.ok().map(|t| t.timestamp_millis())
}

/// Errs with the error code and message Salesforce would answer.
fn parse_soql(soql: &str) -> Result<Soql, (&'static str, String)> {
    let malformed = || {
        (
            "MALFORMED_QUERY",
            format!(
                "unexpected token in '{soql}': the fake supports \
            SELECT fields FROM Contact [WHERE SystemModstamp >= datetime] \
            ORDER BY SystemModstamp ASC, Id ASC"
            ),
        )
    };
    let tokens = tokenize(soql);
    let mut tokens = tokens.iter().map(String::as_str);
    if !take_words(&mut tokens, &["SELECT"]) {
        return Err(malformed());
    }
    let mut names = Vec::new();
    loop {
        match tokens.next() {
            Some(name) if !name.eq_ignore_ascii_case("FROM") && name != "," => names.push(name),
            _ => return Err(malformed()),
        }
        match tokens.next() {
            Some(",") => {}
            Some(word) if word.eq_ignore_ascii_case("FROM") => break,
            _ => return Err(malformed()),
        }
    }
    match tokens.next() {
        Some(object) if object.eq_ignore_ascii_case("Contact") => {}
        Some(object) => {
            let message = format!("sObject type '{object}' is not supported.");
            return Err(("INVALID_TYPE", message));
        }
        None => return Err(malformed()),
    }
    let mut since = None;
    let mut next = tokens.next();
    if next.is_some_and(|t| t.eq_ignore_ascii_case("WHERE")) {
        let field = tokens
            .next()
            .filter(|f| f.eq_ignore_ascii_case("SystemModstamp"));
        let inclusive = match (field, tokens.next()) {
            (Some(_), Some(">=")) => true,
            (Some(_), Some(">")) => false,
            _ => return Err(malformed()),
        };
        let at = tokens
            .next()
            .and_then(parse_datetime)
            .ok_or_else(malformed)?;
        since = Some((inclusive, at));
        next = tokens.next();
    }
    let order = ["ORDER", "BY", "SystemModstamp", "ASC", ",", "Id", "ASC"];
    let mut rest = next.into_iter().chain(tokens);
    if !take_words(&mut rest, &order) || rest.next().is_some() {
        return Err(malformed());
    }
    let fields = names.into_iter().map(|name| {
        known_field(name).ok_or_else(|| {
            (
                "INVALID_FIELD",
                format!(
                    "No such column '{name}' on entity 'Contact'. If you \
                are attempting to use a custom field, be sure to append the '__c' after the \
                custom field name."
                ),
            )
        })
    });
    Ok(Soql {
        fields: fields.collect::<Result<_, _>>()?,
        since,
    })
}

fn record(id: &str, contact: &Contact, fields: &[&str]) -> Value {
    let url = format!("{API}/sobjects/Contact/{id}");
    let mut record = Map::from_iter([
        (
            "attributes".to_owned(),
            json!({"type": "Contact", "url": url}),
        ),
        ("Id".to_owned(), json!(id)),
    ]);
    for field in fields {
        record.insert((*field).to_owned(), json!(contact.fields.get(*field)));
    }
    Value::Object(record)
}

/// The batch of a cursor starting at `offset`; drops the cursor once it is all served.
fn batch(org: &mut Org, locator: &str, offset: usize) -> Option<Value> {
    let cursor = org.cursors.get(locator)?;
    let total = cursor.records.len();
    let end = (offset + cursor.batch_size).min(total);
    let records = cursor.records.get(offset..end)?.to_vec();
    let mut page = json!({"totalSize": total, "done": end == total, "records": records});
    if end < total {
        page["nextRecordsUrl"] = json!(format!("{API}/query/{locator}-{end}"));
    } else {
        org.cursors.remove(locator);
    }
    Some(page)
}

async fn query(
    State(app): State<App>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let soql = params
        .get("q")
        .ok_or_else(|| bad("MALFORMED_QUERY", "missing parameter q"))?;
    let soql = parse_soql(soql).map_err(|(code, message)| bad(code, message))?;
    let options = headers
        .get("sforce-query-options")
        .and_then(|v| v.to_str().ok());
    let batch_size = options
        .and_then(|v| {
            v.split(',')
                .find_map(|o| o.trim().strip_prefix("batchSize=")?.parse().ok())
        })
        .map_or(MAX_BATCH_SIZE, |n: usize| {
            n.clamp(MIN_BATCH_SIZE, MAX_BATCH_SIZE)
        });
    let mut org = app.org();
    let mut matching: Vec<(i64, &String, &Contact)> = org
        .contacts
        .iter()
        .filter(|(_, c)| match soql.since {
            Some((true, at)) => c.modified_ms >= at,
            Some((false, at)) => c.modified_ms > at,
            None => true,
        })
        .map(|(id, c)| (c.modified_ms, id, c))
        .collect();
    matching.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let records = matching
        .into_iter()
        .map(|(_, id, c)| record(id, c, &soql.fields));
    let cursor = Cursor {
        records: records.collect(),
        batch_size,
    };
    let locator = format!("01g{}", &ulid::Ulid::generate().to_string()[11..]);
    org.cursors.insert(locator.clone(), cursor);
    Ok(Json(batch(&mut org, &locator, 0)).into_response())
}

async fn query_more(State(app): State<App>, Path(cursor): Path<String>) -> Response {
    let page = cursor
        .rsplit_once('-')
        .and_then(|(locator, offset)| batch(&mut app.org(), locator, offset.parse().ok()?));
    match page {
        Some(page) => Json(page).into_response(),
        None => bad("INVALID_QUERY_LOCATOR", "invalid query locator"),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CompositeIn {
    #[serde(default)]
    all_or_none: bool,
    records: Vec<Map<String, Value>>,
}

fn failure(code: &str, message: &str, fields: &[&str]) -> Value {
    json!({"success": false,
        "errors": [{"statusCode": code, "message": message, "fields": fields}]})
}

/// The changes to one record, checked against the org, or its failure result.
fn check(
    org: &Org,
    input: &Map<String, Value>,
) -> Result<(String, BTreeMap<String, Value>), Value> {
    let id = input
        .get("id")
        .or_else(|| input.get("Id"))
        .and_then(Value::as_str);
    let id = id.ok_or_else(|| failure("MISSING_ARGUMENT", "Id not specified in an update", &[]))?;
    let mut changes = BTreeMap::new();
    for (name, value) in input
        .iter()
        .filter(|(k, _)| !["attributes", "id", "Id"].contains(&k.as_str()))
    {
        let Some(field) = known_field(name) else {
            let message = format!("No such column '{name}' on sobject of type Contact");
            return Err(failure("INVALID_FIELD", &message, &[name]));
        };
        if READ_ONLY_FIELDS.contains(&field) {
            let message = format!("Unable to create/update fields: {field}.");
            return Err(failure(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                &message,
                &[field],
            ));
        }
        changes.insert(field.to_owned(), value.clone());
    }
    if !org.contacts.contains_key(id) {
        return Err(failure("ENTITY_IS_DELETED", "entity is deleted", &[]));
    }
    Ok((id.to_owned(), changes))
}

async fn update_records(State(app): State<App>, body: Bytes) -> Result<Response, Response> {
    let input: CompositeIn =
        serde_json::from_slice(&body).map_err(|e| bad("JSON_PARSER_ERROR", e.to_string()))?;
    if input.records.len() > MAX_COMPOSITE_RECORDS {
        let message = format!(
            "record limit reached. cannot submit more than \
            {MAX_COMPOSITE_RECORDS} records into this call"
        );
        return Err(bad("EXCEEDED_ID_LIMIT", message));
    }
    let mut org = app.org();
    let checked: Vec<_> = input.records.iter().map(|r| check(&org, r)).collect();
    let roll_back = input.all_or_none && checked.iter().any(Result::is_err);
    let rolled_back = "Record rolled back because not all records were valid and the request \
        was using AllOrNone header";
    let results: Vec<Value> = checked
        .into_iter()
        .map(|outcome| match outcome {
            Ok(_) if roll_back => failure("ALL_OR_NONE_OPERATION_ROLLED_BACK", rolled_back, &[]),
            Ok((id, changes)) => {
                org.update(&id, changes);
                json!({"id": id, "success": true, "errors": []})
            }
            Err(failed) => failed,
        })
        .collect();
    Ok(Json(results).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str = "ORDER BY SystemModstamp ASC, Id ASC";

    async fn token(fake: &FakeSalesforce) -> String {
        let client = herald::aws::http_client().unwrap();
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", "cid"),
            ("client_secret", "sec"),
        ];
        let url = format!("{}{TOKEN_PATH}", fake.url());
        let reply: Value = client
            .post(url)
            .form(&form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(reply["instance_url"], fake.url());
        reply["access_token"].as_str().unwrap().to_owned()
    }

    /// GETs `path` (with `q` as the SOQL query, if given), with `batch` as the batch size.
    async fn get(
        fake: &FakeSalesforce,
        token: &str,
        path: &str,
        q: Option<&str>,
        batch: usize,
    ) -> (u16, Value) {
        let client = herald::aws::http_client().unwrap();
        let mut request = client
            .get(format!("{}{path}", fake.url()))
            .bearer_auth(token);
        if let Some(q) = q {
            request = request.query(&[("q", q)]);
        }
        let options = format!("batchSize={batch}");
        let response = request
            .header("Sforce-Query-Options", options)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    #[tokio::test]
    async fn issues_tokens_for_the_right_credentials_until_they_expire() {
        let fake = FakeSalesforce::start("cid", "sec").await.unwrap();
        let client = herald::aws::http_client().unwrap();
        let url = format!("{}{TOKEN_PATH}", fake.url());
        let cases = [
            ("client_credentials", "bad", "invalid_client"),
            ("password", "sec", "unsupported_grant_type"),
        ];
        for (grant, secret, expected) in cases {
            let form = [
                ("grant_type", grant),
                ("client_id", "cid"),
                ("client_secret", secret),
            ];
            let response = client.post(&url).form(&form).send().await.unwrap();
            assert_eq!(response.status(), 400);
            assert_eq!(response.json::<Value>().await.unwrap()["error"], expected);
        }
        let token = token(&fake).await;
        let limits = format!("{API}/limits");
        let (status, reply) = get(&fake, &token, &limits, None, 0).await;
        assert_eq!(
            (status, reply["DailyApiRequests"]["Remaining"].as_u64()),
            (200, Some(99_999))
        );
        let (status, reply) = get(&fake, "nope", &limits, None, 0).await;
        assert_eq!(
            (status, reply[0]["errorCode"].as_str()),
            (401, Some("INVALID_SESSION_ID"))
        );
        fake.expire_tokens();
        assert_eq!(get(&fake, &token, &limits, None, 0).await.0, 401);
    }

    #[tokio::test]
    async fn query_pages_a_frozen_result_in_batches() {
        let fake = FakeSalesforce::start("cid", "sec").await.unwrap();
        let ids = fake.add_contacts(450, |i| {
            vec![("Email".into(), json!(format!("c{i}@x.test")))]
        });
        let token = token(&fake).await;
        let q = "select Id,email , Herald_Last_Event__c from contact order by SystemModstamp asc,Id asc";
        let (status, mut page) = get(&fake, &token, &format!("{API}/query"), Some(q), 200).await;
        assert_eq!(status, 200, "{page}");
        fake.add_contact(&[("Email", json!("late@x.test"))]);
        let mut seen = Vec::new();
        loop {
            assert_eq!(page["totalSize"], 450);
            let records = page["records"].as_array().unwrap();
            assert!(
                records[0]["Herald_Last_Event__c"].is_null() && records[0]["Email"].is_string()
            );
            seen.extend(records.iter().map(|r| r["Id"].as_str().unwrap().to_owned()));
            let Some(next) = page["nextRecordsUrl"].as_str() else {
                break;
            };
            assert_eq!(page["done"], false);
            page = get(&fake, &token, next, None, 200).await.1;
        }
        assert_eq!((page["done"].as_bool(), seen), (Some(true), ids));
        assert_eq!(fake.count("GET", &format!("{API}/query")), 3);
    }

    #[tokio::test]
    async fn query_filters_on_system_modstamp_and_refuses_other_soql() {
        let fake = FakeSalesforce::start("cid", "sec").await.unwrap();
        let ids = fake.add_contacts(450, |_| vec![]);
        let token = token(&fake).await;
        let query = format!("{API}/query");
        let stamp = fake.contact(&ids[100]).unwrap()["SystemModstamp"]
            .as_str()
            .unwrap()
            .to_owned();
        let q = format!("SELECT Id FROM Contact WHERE SystemModstamp>={stamp} {ORDER}");
        let (_, page) = get(&fake, &token, &query, Some(&q), 2000).await;
        assert_eq!(
            (page["totalSize"].as_u64(), page["done"].as_bool()),
            (Some(350), Some(true))
        );
        assert_eq!(page["records"][0]["Id"], json!(ids[100]));
        let zulu = stamp.replace("+0000", "Z");
        let q = format!("SELECT Id FROM Contact WHERE SystemModstamp > {zulu} {ORDER}");
        assert_eq!(
            get(&fake, &token, &query, Some(&q), 2000).await.1["totalSize"],
            349
        );
        let cases = [
            (
                format!("SELECT Id FROM Contact {ORDER} LIMIT 5"),
                "MALFORMED_QUERY",
            ),
            (
                format!("SELECT Id FROM Contact WHERE Email = 'a' {ORDER}"),
                "MALFORMED_QUERY",
            ),
            (
                format!("SELECT Id, Nope__c FROM Contact {ORDER}"),
                "INVALID_FIELD",
            ),
        ];
        for (q, code) in cases {
            let (status, reply) = get(&fake, &token, &query, Some(&q), 2000).await;
            assert_eq!(
                (status, reply[0]["errorCode"].as_str()),
                (400, Some(code)),
                "{q}"
            );
        }
    }

    #[tokio::test]
    async fn composite_update_applies_each_record_on_its_own() {
        let fake = FakeSalesforce::start("cid", "sec").await.unwrap();
        let a = fake.add_contact(&[("Email", json!("a@x.test"))]);
        let before = fake.contact(&a).unwrap()["SystemModstamp"].clone();
        let token = token(&fake).await;
        let client = herald::aws::http_client().unwrap();
        let url = format!("{}{API}/composite/sobjects", fake.url());
        let contact = json!({"type": "Contact"});
        let body = json!({"allOrNone": false, "records": [
            {"attributes": contact, "id": a, "Herald_Last_Event__c": "opened", "DoNotCall": true},
            {"attributes": contact, "id": "003000000000ZZZAAA", "Title": "x"},
            {"attributes": contact, "id": a, "Bogus__c": 1}]});
        let response = client
            .patch(&url)
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let results: Value = response.json().await.unwrap();
        assert_eq!(results[0], json!({"id": a, "success": true, "errors": []}));
        assert_eq!(results[1]["errors"][0]["statusCode"], "ENTITY_IS_DELETED");
        assert_eq!(results[2]["errors"][0]["statusCode"], "INVALID_FIELD");
        assert_eq!(results[2]["errors"][0]["fields"], json!(["Bogus__c"]));
        let now = fake.contact(&a).unwrap();
        assert_eq!(
            (&now["Herald_Last_Event__c"], &now["DoNotCall"]),
            (&json!("opened"), &json!(true))
        );
        assert!(now["SystemModstamp"].as_str() > before.as_str());
        let many: Vec<Value> = (0..201)
            .map(|_| json!({"attributes": contact, "id": a}))
            .collect();
        let body = json!({"allOrNone": false, "records": many});
        let response = client
            .patch(&url)
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        assert_eq!(
            response.json::<Value>().await.unwrap()[0]["errorCode"],
            "EXCEEDED_ID_LIMIT"
        );
    }

    #[tokio::test]
    async fn throttles_data_requests_but_not_tokens() {
        let fake = FakeSalesforce::start("cid", "sec").await.unwrap();
        fake.throttle_next(1, 3);
        let token = token(&fake).await;
        let client = herald::aws::http_client().unwrap();
        let url = format!("{}{API}/limits", fake.url());
        let response = client.get(&url).bearer_auth(&token).send().await.unwrap();
        let retry_after = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            (response.status().as_u16(), retry_after.as_str()),
            (429, "3")
        );
        assert_eq!(
            response.json::<Value>().await.unwrap()[0]["errorCode"],
            "REQUEST_LIMIT_EXCEEDED"
        );
        assert_eq!(
            get(&fake, &token, &format!("{API}/limits"), None, 0)
                .await
                .0,
            200
        );
        let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
        assert_eq!(statuses, [200, 429, 200]);
    }

    #[test]
    fn ids_are_eighteen_characters_in_creation_order() {
        let ids = [1, 35, 36, 1_000_000].map(|n| salesforce_id("003", n));
        assert!(ids.iter().all(|id| id.len() == 18 && id.starts_with("003")));
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(ids[1], "00300000000000ZAAQ");
    }
}
