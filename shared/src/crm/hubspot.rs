//! HubSpot's CRM v3 API with a private app's access token (`Authorization: Bearer`):
//!
//! - test: `GET /account-info/v3/details` (the portal) and `GET /crm/v3/properties/contacts`
//!   (which mapped properties exist);
//! - pull: `POST /crm/v3/objects/contacts/search`, `lastmodifieddate` at or after the cursor,
//!   oldest first, 200 a page (the most search allows); search pages no further than 10,000
//!   results in one query, so the sync then queries again from its cursor;
//! - push: `POST /crm/v3/objects/contacts/batch/update`, 100 a request (the batch limit); a
//!   207 names the records that failed.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, TimeZone as _, Utc};
use serde_json::{Value, json};

use super::client::{CrmError, Http, Page, PushOutcome, TestOutcome};
use super::{CrmRecord, CrmUpdate, FieldMapping, normalise};

pub const DEFAULT_BASE_URL: &str = "https://api.hubapi.com";
/// Search's largest page.
pub const PAGE: usize = 200;
/// Batch update's largest batch.
pub const BATCH: usize = 100;
/// Search's cap on the results of one query.
pub const SEARCH_CAP: usize = 10_000;
const MODIFIED: &str = "lastmodifieddate";

#[derive(Debug, Clone)]
pub struct Hubspot {
    pub http: Http,
    base_url: String,
    token: String,
}

impl Hubspot {
    pub fn new(http: Http, base_url: Option<&str>, token: &str) -> Self {
        Self {
            http,
            base_url: base_url
                .unwrap_or(DEFAULT_BASE_URL)
                .trim_end_matches('/')
                .to_owned(),
            token: token.to_owned(),
        }
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .client
            .get(format!("{}{path}", self.base_url))
            .bearer_auth(&self.token)
    }

    fn post(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.http
            .client
            .post(format!("{}{path}", self.base_url))
            .bearer_auth(&self.token)
            .json(body)
    }

    pub async fn test(&self, mappings: &[FieldMapping]) -> Result<TestOutcome, CrmError> {
        let account: Value = json_of(
            self.http
                .send(|| self.get("/account-info/v3/details"))
                .await?,
        )
        .await?;
        let portal = account
            .get("portalId")
            .map(|p| p.to_string())
            .ok_or_else(|| CrmError::Answer("no portalId".into()))?;
        let properties: Value = json_of(
            self.http
                .send(|| self.get("/crm/v3/properties/contacts"))
                .await?,
        )
        .await?;
        let known: HashSet<&str> = properties
            .get("results")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(|p| p.get("name").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        Ok(TestOutcome {
            account: format!("HubSpot portal {portal}"),
            missing_properties: mappings
                .iter()
                .filter(|m| !known.contains(m.property.as_str()))
                .map(|m| m.property.clone())
                .collect(),
            detail: None,
        })
    }

    pub async fn pull(
        &self,
        since: Option<DateTime<Utc>>,
        page: Option<&str>,
        mappings: &[FieldMapping],
    ) -> Result<Page, CrmError> {
        let pulled: Vec<&FieldMapping> = mappings.iter().filter(|m| m.pulls()).collect();
        let mut properties: Vec<&str> = pulled.iter().map(|m| m.property.as_str()).collect();
        properties.push(MODIFIED);
        let mut body = json!({
            "sorts": [{"propertyName": MODIFIED, "direction": "ASCENDING"}],
            "properties": properties,
            "limit": PAGE,
        });
        if let Some(since) = since {
            body["filterGroups"] = json!([{"filters": [{
                "propertyName": MODIFIED,
                "operator": "GTE",
                "value": since.timestamp_millis().to_string(),
            }]}]);
        }
        if let Some(after) = page {
            body["after"] = json!(after);
        }
        let answer: Value = json_of(
            self.http
                .send(|| self.post("/crm/v3/objects/contacts/search", &body))
                .await?,
        )
        .await?;
        let results = answer
            .get("results")
            .and_then(Value::as_array)
            .ok_or_else(|| CrmError::Answer("search answer without results".into()))?;
        let mut records = Vec::with_capacity(results.len());
        for r in results {
            let id = match r.get("id") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return Err(CrmError::Answer("a result without an id".into())),
            };
            let props = r.get("properties");
            let modified = props
                .and_then(|p| p.get(MODIFIED))
                .or_else(|| r.get("updatedAt"))
                .and_then(parse_time)
                .ok_or_else(|| CrmError::Answer(format!("record {id} has no {MODIFIED}")))?;
            let values: BTreeMap<_, _> = pulled
                .iter()
                .map(|m| {
                    (
                        m.field,
                        normalise(m.field, props.and_then(|p| p.get(&m.property))),
                    )
                })
                .collect();
            records.push(CrmRecord {
                id,
                modified_at: modified,
                values,
            });
        }
        let next = answer.pointer("/paging/next/after").and_then(|a| match a {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
        // Search refuses to page past its cap: the sync queries again from its cursor.
        let capped = next
            .as_deref()
            .and_then(|a| a.parse::<usize>().ok())
            .is_some_and(|a| a >= SEARCH_CAP);
        Ok(Page {
            records,
            next: if capped { None } else { next },
            requery: capped,
        })
    }

    pub async fn push(&self, updates: &[CrmUpdate]) -> Result<Vec<PushOutcome>, CrmError> {
        let inputs: Vec<Value> = updates
            .iter()
            .map(|u| {
                let properties: serde_json::Map<String, Value> = u
                    .properties
                    .iter()
                    .map(|(k, v)| {
                        let text = match v {
                            Value::Null => String::new(),
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (k.clone(), Value::String(text))
                    })
                    .collect();
                json!({"id": u.crm_id, "properties": properties})
            })
            .collect();
        let body = json!({ "inputs": inputs });
        let answer: Value = json_of(
            self.http
                .send(|| self.post("/crm/v3/objects/contacts/batch/update", &body))
                .await?,
        )
        .await?;
        // A 207 lists the failed ids in its errors' context.
        let mut failed: BTreeMap<String, String> = BTreeMap::new();
        for e in answer
            .get("errors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let category = e
                .get("category")
                .and_then(Value::as_str)
                .unwrap_or("error")
                .to_owned();
            for id in e
                .pointer("/context/ids")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                failed.insert(id.to_owned(), category.clone());
            }
        }
        Ok(updates
            .iter()
            .map(|u| match failed.get(&u.crm_id) {
                Some(category) => Err(format!("HubSpot refused record {}: {category}", u.crm_id)),
                None => Ok(()),
            })
            .collect())
    }
}

pub(crate) async fn json_of(response: reqwest::Response) -> Result<Value, CrmError> {
    response
        .json()
        .await
        .map_err(|e| CrmError::Answer(e.without_url().to_string()))
}

/// HubSpot's times: ISO-8601, or epoch milliseconds as a string or a number.
fn parse_time(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .ok()
            .or_else(|| {
                s.parse::<i64>()
                    .ok()
                    .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
            }),
        Value::Number(n) => n
            .as_i64()
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hubspot_times() {
        let t = parse_time(&json!("2026-11-22T10:00:00.123Z")).unwrap();
        assert_eq!(t.timestamp_millis() % 1000, 123);
        assert_eq!(
            parse_time(&json!("1700000000000")).unwrap().timestamp(),
            1_700_000_000
        );
        assert!(parse_time(&json!("yesterday")).is_none());
    }
}
