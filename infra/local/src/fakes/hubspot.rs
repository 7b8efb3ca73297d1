//! A fake of HubSpot's CRM v3 API: account details, contact properties, contact search by
//! `lastmodifieddate` and contact batch update, behind a private-app bearer token. Requests
//! are checked against `infra/local/contracts/hubspot/` first (e.g. a batch update's property
//! values must be strings), and refused with HubSpot's VALIDATION_ERROR when they break it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Contract, Faults, Gate, ModClock, Server, fault_controls, format_ms, lock};
use crate::contracts::Provider;

const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";
const FIRST_ID: u64 = 1001;
const MAX_SEARCH_LIMIT: usize = 200;
/// HubSpot's search answers at most 10,000 results per query.
const MAX_SEARCH_RESULTS: usize = 10_000;
const MAX_BATCH_INPUTS: usize = 100;
/// Properties every contact has, always returned.
const SYSTEM_PROPERTIES: [&str; 3] = ["hs_object_id", "createdate", "lastmodifieddate"];
const READ_ONLY_PROPERTIES: [&str; 2] = ["hs_object_id", "lastmodifieddate"];
/// Name, type and field type of the properties a fresh portal knows.
const KNOWN_PROPERTIES: &[(&str, &str, &str)] = &[
    ("email", "string", "text"),
    ("firstname", "string", "text"),
    ("lastname", "string", "text"),
    ("phone", "string", "phonenumber"),
    ("company", "string", "text"),
    ("lifecyclestage", "enumeration", "radio"),
    ("hs_email_optout", "enumeration", "booleancheckbox"),
    ("hs_object_id", "number", "number"),
    ("createdate", "datetime", "date"),
    ("lastmodifieddate", "datetime", "date"),
    ("herald_last_message_sent_at", "datetime", "date"),
    ("herald_last_opened_at", "datetime", "date"),
    ("herald_last_clicked_at", "datetime", "date"),
    ("herald_last_event", "string", "text"),
    ("herald_sms_optout", "bool", "booleancheckbox"),
];

struct Contact {
    modified_ms: i64,
    properties: BTreeMap<String, String>,
}

#[derive(Default)]
struct Portal {
    contacts: BTreeMap<u64, Contact>,
    last_id: Option<u64>,
    clock: ModClock,
    removed_properties: BTreeSet<String>,
}

impl Portal {
    fn knows(&self, name: &str) -> bool {
        KNOWN_PROPERTIES.iter().any(|p| p.0 == name) && !self.removed_properties.contains(name)
    }

    fn insert(&mut self, properties: impl IntoIterator<Item = (String, String)>) -> String {
        let id = self.last_id.map_or(FIRST_ID, |id| id + 1);
        self.last_id = Some(id);
        let mut properties: BTreeMap<String, String> = properties.into_iter().collect();
        let modified_ms = self.clock.tick();
        let stamp = format_ms(modified_ms, TIME_FORMAT);
        properties.insert("hs_object_id".into(), id.to_string());
        properties.insert("createdate".into(), stamp.clone());
        properties.insert("lastmodifieddate".into(), stamp);
        self.contacts.insert(
            id,
            Contact {
                modified_ms,
                properties,
            },
        );
        id.to_string()
    }

    /// Applies `changes` (`None` clears a property) to contact `id` and bumps its
    /// `lastmodifieddate`; false if there is no such contact.
    fn update(&mut self, id: u64, changes: BTreeMap<String, Option<String>>) -> bool {
        let Some(contact) = self.contacts.get_mut(&id) else {
            return false;
        };
        for (name, value) in changes {
            match value {
                Some(value) => contact.properties.insert(name, value),
                None => contact.properties.remove(&name),
            };
        }
        contact.modified_ms = self.clock.tick();
        let stamp = format_ms(contact.modified_ms, TIME_FORMAT);
        contact.properties.insert("lastmodifieddate".into(), stamp);
        true
    }
}

#[derive(Clone)]
struct App {
    portal: Arc<Mutex<Portal>>,
    url: String,
}

impl App {
    fn portal(&self) -> MutexGuard<'_, Portal> {
        lock(&self.portal)
    }
}

/// A HubSpot portal on 127.0.0.1 accepting one private-app token; stopped on drop.
pub struct FakeHubspot {
    app: App,
    faults: Faults,
    server: Server,
}

impl FakeHubspot {
    /// Starts an empty portal that accepts `Authorization: Bearer {token}`.
    pub async fn start(token: &str) -> anyhow::Result<Self> {
        let (listener, url) = Server::bind().await?;
        let app = App {
            portal: Arc::default(),
            url: url.clone(),
        };
        let faults = Faults::default();
        let gate = Gate {
            faults: faults.clone(),
            throttled: json!({"status": "error", "message": "You have reached your secondly limit.",
                "errorType": "RATE_LIMIT", "category": "RATE_LIMITS", "policyName": "SECONDLY"}),
            unavailable: json!({"status": "error", "message": "Service Unavailable",
                "category": "SERVICE_UNAVAILABLE"}),
            throttle_exempt: None,
        };
        let token: Arc<str> = Arc::from(format!("Bearer {token}"));
        let contacts = "/crm/v3/objects/contacts";
        let router = Router::new()
            .route("/account-info/v3/details", get(account_details))
            .route("/crm/v3/properties/contacts", get(list_properties))
            .route(&format!("{contacts}/search"), post(search_contacts))
            .route(
                &format!("{contacts}/batch/update"),
                post(batch_update_contacts),
            )
            .with_state(app.clone())
            .layer(middleware::from_fn_with_state(
                Contract {
                    provider: Provider::Hubspot,
                    faults: faults.clone(),
                },
                super::contract,
            ))
            .layer(middleware::from_fn_with_state(token, require_token))
            .layer(middleware::from_fn_with_state(gate, super::gate));
        let server = Server::spawn(listener, url, router);
        Ok(Self {
            app,
            faults,
            server,
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`, in place of `https://api.hubapi.com`.
    pub fn url(&self) -> String {
        self.server.url.clone()
    }

    /// Makes the portal lack property `name`, as one without Herald's custom properties.
    pub fn remove_property(&self, name: &str) {
        self.app.portal().removed_properties.insert(name.to_owned());
    }

    /// Adds a contact; `hs_object_id`, `createdate` and `lastmodifieddate` are the fake's.
    pub fn add_contact(&self, properties: &[(&str, &str)]) -> String {
        let owned = properties
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        self.app.portal().insert(owned)
    }

    /// Adds `n` contacts, the `i`th with the properties `make(i)`, under one lock.
    pub fn add_contacts(
        &self,
        n: usize,
        make: impl Fn(usize) -> Vec<(String, String)>,
    ) -> Vec<String> {
        let mut portal = self.app.portal();
        (0..n).map(|i| portal.insert(make(i))).collect()
    }

    /// Sets one property of contact `id` and bumps its `lastmodifieddate` (which therefore
    /// can't be set); ignored if there is no such contact.
    pub fn edit_contact(&self, id: &str, property: &str, value: &str) {
        let change = BTreeMap::from([(property.to_owned(), Some(value.to_owned()))]);
        if let Ok(id) = id.parse() {
            self.app.portal().update(id, change);
        }
    }

    pub fn contact(&self, id: &str) -> Option<BTreeMap<String, String>> {
        let id: u64 = id.parse().ok()?;
        self.app
            .portal()
            .contacts
            .get(&id)
            .map(|c| c.properties.clone())
    }

    /// Every contact, by id.
    pub fn contacts(&self) -> Vec<(String, BTreeMap<String, String>)> {
        let portal = self.app.portal();
        let all = portal.contacts.iter();
        all.map(|(id, c)| (id.to_string(), c.properties.clone()))
            .collect()
    }

    fault_controls!();
}

fn error(status: StatusCode, category: &str, message: impl Into<String>) -> Response {
    let correlation_id = ulid::Ulid::generate().to_string().to_lowercase();
    let body = json!({"status": "error", "message": message.into(),
        "correlationId": correlation_id, "category": category});
    (status, Json(body)).into_response()
}

fn invalid(message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
}

async fn require_token(State(expected): State<Arc<str>>, request: Request, next: Next) -> Response {
    let given = request.headers().get(header::AUTHORIZATION);
    if given.and_then(|v| v.to_str().ok()) == Some(&*expected) {
        return next.run(request).await;
    }
    let message = "Authentication credentials not found. This API supports OAuth 2.0 \
        authentication and you can find more details at \
        https://developers.hubspot.com/docs/methods/auth/oauth-overview";
    error(StatusCode::UNAUTHORIZED, "INVALID_AUTHENTICATION", message)
}

async fn account_details() -> Json<Value> {
    let details = json!({"portalId": 12345678, "accountType": "STANDARD",
        "timeZone": "US/Eastern", "companyCurrency": "USD", "uiDomain": "app.hubspot.com",
        "dataHostingLocation": "na1"});
    Json(details)
}

async fn list_properties(State(app): State<App>) -> Json<Value> {
    let portal = app.portal();
    let known = KNOWN_PROPERTIES.iter().filter(|p| portal.knows(p.0));
    let results: Vec<Value> = known
        .map(|(name, kind, field)| {
            json!({"name": name, "label": name, "type": kind, "fieldType": field,
                "groupName": "contactinformation", "hubspotDefined": !name.starts_with("herald_")})
        })
        .collect();
    Json(json!({ "results": results }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchIn {
    filter_groups: Option<Vec<FilterGroup>>,
    sorts: Option<Vec<SortIn>>,
    properties: Option<Vec<String>>,
    limit: Option<usize>,
    after: Option<Value>,
}

#[derive(Deserialize)]
struct FilterGroup {
    filters: Vec<FilterIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FilterIn {
    property_name: String,
    operator: String,
    value: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SortIn {
    property_name: String,
    direction: Option<String>,
}

/// A `lastmodifieddate` filter as (operator, epoch millis); the value may be epoch millis
/// (string or number) or ISO-8601. Errs with the validation message.
fn compile_filter(filter: &FilterIn) -> Result<(&str, i64), String> {
    let operator = filter.operator.as_str();
    if filter.property_name != "lastmodifieddate"
        || !["GTE", "GT", "LTE", "LT", "EQ"].contains(&operator)
    {
        let what = format!("{} {}", filter.property_name, operator);
        return Err(format!(
            "the fake filters only by lastmodifieddate, not {what}"
        ));
    }
    let bound = match &filter.value {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse().ok().or_else(|| {
            let time = chrono::DateTime::parse_from_rfc3339(s).ok();
            time.map(|t| t.timestamp_millis())
        }),
        _ => None,
    };
    let bound = bound.ok_or("lastmodifieddate filter needs a time value")?;
    Ok((operator, bound))
}

fn passes(modified_ms: i64, &(operator, bound): &(&str, i64)) -> bool {
    match operator {
        "GTE" => modified_ms >= bound,
        "GT" => modified_ms > bound,
        "LTE" => modified_ms <= bound,
        "LT" => modified_ms < bound,
        _ => modified_ms == bound,
    }
}

/// A contact as the API returns it, with `requested` and the system properties.
fn render<'a>(id: u64, contact: &Contact, requested: impl Iterator<Item = &'a String>) -> Value {
    let names: BTreeSet<&str> = requested
        .map(String::as_str)
        .chain(SYSTEM_PROPERTIES)
        .collect();
    let properties: serde_json::Map<String, Value> = names
        .into_iter()
        .map(|name| (name.to_owned(), json!(contact.properties.get(name))))
        .collect();
    json!({"id": id.to_string(), "properties": properties,
        "createdAt": contact.properties.get("createdate"),
        "updatedAt": contact.properties.get("lastmodifieddate"), "archived": false})
}

async fn search_contacts(State(app): State<App>, body: Bytes) -> Result<Response, Response> {
    let search: SearchIn =
        serde_json::from_slice(&body).map_err(|e| invalid(format!("Invalid input JSON: {e}")))?;
    let limit = search.limit.unwrap_or(10);
    if limit > MAX_SEARCH_LIMIT {
        return Err(invalid(format!(
            "Invalid search: limit must be at most {MAX_SEARCH_LIMIT}"
        )));
    }
    let after = match &search.after {
        None => Some(0),
        Some(Value::String(s)) => s.parse().ok(),
        Some(other) => other.as_u64().map(|n| n as usize),
    };
    let after = after.ok_or_else(|| invalid("Invalid search: after must be a number"))?;
    if after >= MAX_SEARCH_RESULTS {
        let cap = format!("the search API returns at most {MAX_SEARCH_RESULTS} results per query");
        return Err(invalid(format!("Invalid search: after={after}: {cap}")));
    }
    let groups = search.filter_groups.unwrap_or_default();
    let groups: Vec<Vec<(&str, i64)>> = groups
        .iter()
        .map(|g| g.filters.iter().map(compile_filter).collect())
        .collect::<Result<_, _>>()
        .map_err(invalid)?;
    let sort = search.sorts.unwrap_or_default().into_iter().next();
    if let Some(sort) = sort
        .as_ref()
        .filter(|s| s.property_name != "lastmodifieddate")
    {
        let name = &sort.property_name;
        return Err(invalid(format!(
            "the fake sorts only by lastmodifieddate, not {name}"
        )));
    }
    let descending = sort.as_ref().and_then(|s| s.direction.as_deref()) == Some("DESCENDING");
    let requested = search.properties.unwrap_or_else(|| {
        ["email", "firstname", "lastname"]
            .map(String::from)
            .to_vec()
    });

    let portal = app.portal();
    let mut matching: Vec<(i64, u64)> = portal
        .contacts
        .iter()
        .filter(|(_, c)| {
            let passes_group = |g: &Vec<(&str, i64)>| g.iter().all(|f| passes(c.modified_ms, f));
            groups.is_empty() || groups.iter().any(passes_group)
        })
        .map(|(id, c)| (if sort.is_some() { c.modified_ms } else { 0 }, *id))
        .collect();
    matching.sort_unstable();
    if descending {
        matching.reverse();
    }
    let page = matching.iter().skip(after).take(limit);
    let results: Vec<Value> = page
        .filter_map(|(_, id)| Some(render(*id, portal.contacts.get(id)?, requested.iter())))
        .collect();
    let mut page = json!({"total": matching.len(), "results": results});
    let next = after + limit;
    if next < matching.len() {
        let link = format!("{}/crm/v3/objects/contacts/search?after={next}", app.url);
        page["paging"] = json!({"next": {"after": next.to_string(), "link": link}});
    }
    Ok(Json(page).into_response())
}

#[derive(Deserialize)]
struct BatchIn {
    inputs: Vec<BatchInput>,
}

#[derive(Deserialize)]
struct BatchInput {
    id: String,
    properties: BTreeMap<String, Value>,
}

/// The problems HubSpot reports for a property it won't set, or `None`.
fn property_problem(portal: &Portal, name: &str) -> Option<Value> {
    let (error, message) = if !portal.knows(name) {
        (
            "PROPERTY_DOESNT_EXIST",
            format!("Property \"{name}\" does not exist"),
        )
    } else if READ_ONLY_PROPERTIES.contains(&name) {
        (
            "READ_ONLY_VALUE",
            format!("\"{name}\" is a read only property"),
        )
    } else {
        return None;
    };
    Some(json!({"isValid": false, "message": message, "error": error, "name": name}))
}

async fn batch_update_contacts(State(app): State<App>, body: Bytes) -> Result<Response, Response> {
    let started_at = format_ms(chrono::Utc::now().timestamp_millis(), TIME_FORMAT);
    let batch: BatchIn =
        serde_json::from_slice(&body).map_err(|e| invalid(format!("Invalid input JSON: {e}")))?;
    if batch.inputs.len() > MAX_BATCH_INPUTS {
        let given = batch.inputs.len();
        return Err(invalid(format!(
            "Batch input limit is {MAX_BATCH_INPUTS}, got {given}"
        )));
    }
    let ids: BTreeSet<&str> = batch.inputs.iter().map(|i| i.id.as_str()).collect();
    if ids.len() < batch.inputs.len() {
        return Err(invalid("Duplicate IDs found in batch input"));
    }
    let mut portal = app.portal();
    let names = batch.inputs.iter().flat_map(|i| i.properties.keys());
    let problems: Vec<Value> = names.filter_map(|n| property_problem(&portal, n)).collect();
    if !problems.is_empty() {
        let problems = Value::from(problems);
        return Err(invalid(format!(
            "Property values were not valid: {problems}"
        )));
    }
    let (mut results, mut missing) = (Vec::new(), Vec::new());
    for input in &batch.inputs {
        let changes = input.properties.iter().map(|(name, value)| {
            let value = match value {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            };
            (name.clone(), value)
        });
        let id = input
            .id
            .parse()
            .ok()
            .filter(|id| portal.update(*id, changes.collect()));
        match id.and_then(|id| Some((id, portal.contacts.get(&id)?))) {
            Some((id, contact)) => results.push(render(id, contact, input.properties.keys())),
            None => missing.push(input.id.clone()),
        }
    }
    let completed_at = format_ms(chrono::Utc::now().timestamp_millis(), TIME_FORMAT);
    let mut body = json!({"status": "COMPLETE", "results": results,
        "startedAt": started_at, "completedAt": completed_at});
    if missing.is_empty() {
        return Ok(Json(body).into_response());
    }
    body["numErrors"] = json!(missing.len());
    body["errors"] = json!([{"status": "error", "category": "OBJECT_NOT_FOUND",
        "message": "Could not get some CONTACT objects, they may be deleted or not exist. \
                    Check that ids are valid.",
        "context": {"ids": missing}}]);
    Ok((StatusCode::MULTI_STATUS, Json(body)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "pat-na1-test";
    const SEARCH: &str = "/crm/v3/objects/contacts/search";
    const BATCH: &str = "/crm/v3/objects/contacts/batch/update";

    async fn call(fake: &FakeHubspot, path: &str, body: Option<Value>) -> (u16, Value) {
        let client = herald::aws::http_client().unwrap();
        let url = format!("{}{path}", fake.url());
        let request = match body {
            Some(body) => client.post(url).json(&body),
            None => client.get(url),
        };
        let response = request.bearer_auth(TOKEN).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    fn since(operator: &str, value: Value) -> Value {
        json!({"filterGroups": [{"filters": [{"propertyName": "lastmodifieddate",
            "operator": operator, "value": value}]}],
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            "properties": ["email", "herald_last_event"], "limit": 200})
    }

    #[tokio::test]
    async fn pages_through_contacts_modified_since_a_time() {
        let fake = FakeHubspot::start(TOKEN).await.unwrap();
        let added = fake.add_contacts(450, |i| vec![("email".into(), format!("c{i}@x.test"))]);
        let stamp = fake.contact(&added[49]).unwrap()["lastmodifieddate"].clone();
        let ms = chrono::DateTime::parse_from_rfc3339(&stamp)
            .unwrap()
            .timestamp_millis();
        let (mut seen, mut body) = (Vec::new(), since("GTE", json!(ms.to_string())));
        loop {
            let (status, page) = call(&fake, SEARCH, Some(body.clone())).await;
            assert_eq!((status, page["total"].as_u64()), (200, Some(401)), "{page}");
            let first = &page["results"][0]["properties"];
            assert!(first["email"].is_string() && first["herald_last_event"].is_null());
            assert!(first["hs_object_id"].is_string() && first["createdate"].is_string());
            let results = page["results"].as_array().unwrap();
            seen.extend(results.iter().map(|r| r["id"].as_str().unwrap().to_owned()));
            let Some(after) = page["paging"]["next"]["after"].as_str() else {
                break;
            };
            body["after"] = json!(after);
        }
        assert_eq!(seen, added[49..]);
        let (_, page) = call(&fake, SEARCH, Some(since("GT", json!(stamp)))).await;
        assert_eq!(page["total"], 400);
    }

    #[tokio::test]
    async fn search_refuses_big_limits_and_results_past_ten_thousand() {
        let fake = FakeHubspot::start(TOKEN).await.unwrap();
        fake.add_contacts(10_000, |i| vec![("firstname".into(), i.to_string())]);
        let (status, page) =
            call(&fake, SEARCH, Some(json!({"limit": 200, "after": "9800"}))).await;
        assert_eq!((status, page["total"].as_u64()), (200, Some(10_000)));
        assert_eq!(page["results"].as_array().unwrap().len(), 200);
        assert!(page.get("paging").is_none());
        let body = json!({"limit": 100, "after": "10000"});
        let (status, error) = call(&fake, SEARCH, Some(body)).await;
        assert_eq!(
            (status, error["category"].as_str()),
            (400, Some("VALIDATION_ERROR"))
        );
        let (status, error) = call(&fake, SEARCH, Some(json!({"limit": 201}))).await;
        assert_eq!(
            (status, error["category"].as_str()),
            (400, Some("VALIDATION_ERROR"))
        );
        assert!(
            error["message"].as_str().unwrap().contains("200"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn batch_update_applies_known_properties_and_reports_missing_ids() {
        let fake = FakeHubspot::start(TOKEN).await.unwrap();
        let a = fake.add_contact(&[("email", "a@x.test")]);
        let b = fake.add_contact(&[("email", "b@x.test")]);
        let before = fake.contact(&a).unwrap()["lastmodifieddate"].clone();
        // HubSpot's contract types property values as strings: a boolean is refused.
        let boolean = json!({"inputs": [{"id": a, "properties": {"herald_sms_optout": true}}]});
        let (status, reply) = call(&fake, BATCH, Some(boolean)).await;
        assert_eq!(
            (status, reply["category"].as_str()),
            (400, Some("VALIDATION_ERROR"))
        );
        assert_eq!(fake.contract_violations().len(), 1, "{reply}");
        let body = json!({"inputs": [{"id": a, "properties": {"herald_last_event": "opened",
            "herald_sms_optout": "true"}}, {"id": b, "properties": {"firstname": "Bea"}}]});
        let (status, reply) = call(&fake, BATCH, Some(body)).await;
        assert_eq!(
            (status, reply["results"].as_array().map(Vec::len)),
            (200, Some(2))
        );
        let now = fake.contact(&a).unwrap();
        assert_eq!(
            (&*now["herald_last_event"], &*now["herald_sms_optout"]),
            ("opened", "true")
        );
        assert!(now["lastmodifieddate"] > before);

        let body = json!({"inputs": [{"id": a, "properties": {"firstname": "Al"}},
            {"id": "999", "properties": {"firstname": "Nobody"}}]});
        let (status, reply) = call(&fake, BATCH, Some(body)).await;
        assert_eq!((status, reply["numErrors"].as_u64()), (207, Some(1)));
        assert_eq!(reply["errors"][0]["category"], "OBJECT_NOT_FOUND");
        assert_eq!(reply["errors"][0]["context"]["ids"], json!(["999"]));
        assert_eq!(fake.contact(&a).unwrap()["firstname"], "Al");

        fake.remove_property("herald_last_event");
        let body = json!({"inputs": [{"id": b, "properties": {"firstname": "Bo",
            "herald_last_event": "clicked"}}]});
        let (status, reply) = call(&fake, BATCH, Some(body)).await;
        let message = reply["message"].as_str().unwrap();
        assert!(status == 400 && message.starts_with("Property values were not valid"));
        assert_eq!(fake.contact(&b).unwrap()["firstname"], "Bea");
        let (_, properties) = call(&fake, "/crm/v3/properties/contacts", None).await;
        assert!(!properties.to_string().contains("\"herald_last_event\""));
    }

    #[tokio::test]
    async fn refuses_requests_without_the_token() {
        let fake = FakeHubspot::start(TOKEN).await.unwrap();
        let client = herald::aws::http_client().unwrap();
        let url = format!("{}/account-info/v3/details", fake.url());
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["category"], "INVALID_AUTHENTICATION");
        let response = client.get(&url).bearer_auth("wrong").send().await.unwrap();
        assert_eq!(response.status(), 401);
        let (status, details) = call(&fake, "/account-info/v3/details", None).await;
        assert_eq!(
            (status, details["portalId"].as_u64()),
            (200, Some(12345678))
        );
    }

    #[tokio::test]
    async fn throttles_then_fails_then_recovers() {
        let fake = FakeHubspot::start(TOKEN).await.unwrap();
        fake.throttle_next(2, 7);
        let client = herald::aws::http_client().unwrap();
        let url = format!("{}/account-info/v3/details", fake.url());
        for _ in 0..2 {
            let response = client.get(&url).bearer_auth(TOKEN).send().await.unwrap();
            let retry_after = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .to_owned();
            assert_eq!(
                (response.status().as_u16(), retry_after.as_str()),
                (429, "7")
            );
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["category"], "RATE_LIMITS");
        }
        fake.fail_after(1);
        let mut statuses = Vec::new();
        for recover in [false, false, true] {
            if recover {
                fake.recover();
            }
            statuses.push(call(&fake, "/account-info/v3/details", None).await.0);
        }
        assert_eq!(statuses, [200, 503, 200]);
        let logged: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
        assert_eq!(logged, [429, 429, 200, 503, 200]);
        assert_eq!(fake.count("GET", "/account-info"), 2);
        fake.reset_requests();
        assert!(fake.requests().is_empty());
    }
}
