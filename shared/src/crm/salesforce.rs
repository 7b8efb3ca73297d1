//! Salesforce's REST API with a connected app's client credentials:
//!
//! - session: `POST {my domain}/services/oauth2/token` (`grant_type=client_credentials`),
//!   which names the `instance_url` the API is called on; a 401 later fetches a new one once;
//! - test: a session and `GET /services/data/v60.0/limits` (API calls left today);
//! - pull: SOQL on `Contact`, `SystemModstamp` at or after the cursor (whole seconds: SOQL
//!   takes no fractions), oldest first, 2,000 a page (`Sforce-Query-Options: batchSize`), then
//!   `nextRecordsUrl`;
//! - push: `PATCH /services/data/v60.0/composite/sobjects`, 200 a request, `allOrNone: false`
//!   (one outcome per record).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::client::{CrmError, Http, Page, PushOutcome, TestOutcome};
use super::hubspot::json_of;
use super::{CrmRecord, CrmUpdate, FieldMapping, normalise};

pub const API: &str = "/services/data/v60.0";
/// The largest query batch.
pub const PAGE: usize = 2_000;
/// sObject Collections' largest batch.
pub const BATCH: usize = 200;

#[derive(Debug, Clone)]
struct Session {
    token: String,
    instance_url: String,
    org: String,
}

#[derive(Clone)]
pub struct Salesforce {
    pub http: Http,
    my_domain: String,
    client_id: String,
    client_secret: String,
    session: Arc<tokio::sync::Mutex<Option<Session>>>,
}

impl std::fmt::Debug for Salesforce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Salesforce")
            .field("my_domain", &self.my_domain)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl Salesforce {
    pub fn new(http: Http, my_domain: &str, client_id: &str, client_secret: &str) -> Self {
        Self {
            http,
            my_domain: my_domain.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            session: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    async fn new_session(&self) -> Result<Session, CrmError> {
        let url = format!("{}/services/oauth2/token", self.my_domain);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.as_str()),
        ];
        let answer = self
            .http
            .send(|| self.http.client.post(&url).form(&form))
            .await
            .map_err(|e| match e {
                // The token endpoint answers 400 `invalid_client` for wrong credentials.
                CrmError::Status {
                    status: 400,
                    message,
                } => CrmError::Unauthorized(message),
                e => e,
            })?;
        let body: Value = json_of(answer).await?;
        let text = |name: &str| {
            body.get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| CrmError::Answer(format!("token answer without {name}")))
        };
        let id = text("id").unwrap_or_default();
        Ok(Session {
            token: text("access_token")?,
            instance_url: text("instance_url")?.trim_end_matches('/').to_owned(),
            // `.../id/{org id}/{user id}`
            org: id.rsplit('/').nth(1).unwrap_or_default().to_owned(),
        })
    }

    async fn session(&self, renew: bool) -> Result<Session, CrmError> {
        let mut held = self.session.lock().await;
        if renew || held.is_none() {
            *held = Some(self.new_session().await?);
        }
        held.clone()
            .ok_or_else(|| CrmError::Answer("no session".into()))
    }

    /// Sends an API request with the session's token, renewing the session once on a 401.
    async fn call(
        &self,
        build: impl Fn(&Session) -> reqwest::RequestBuilder,
    ) -> Result<Value, CrmError> {
        let session = self.session(false).await?;
        match self.http.send(|| build(&session)).await {
            Err(CrmError::Unauthorized(_)) => {
                let session = self.session(true).await?;
                json_of(self.http.send(|| build(&session)).await?).await
            }
            other => json_of(other?).await,
        }
    }

    pub async fn test(&self, _mappings: &[FieldMapping]) -> Result<TestOutcome, CrmError> {
        let limits = self
            .call(|s| {
                self.http
                    .client
                    .get(format!("{}{API}/limits", s.instance_url))
                    .bearer_auth(&s.token)
            })
            .await?;
        let session = self.session(false).await?;
        let remaining = limits.pointer("/DailyApiRequests/Remaining").cloned();
        Ok(TestOutcome {
            account: format!("Salesforce org {}", session.org),
            missing_properties: Vec::new(),
            detail: remaining.map(|r| format!("{r} API requests left today")),
        })
    }

    pub async fn pull(
        &self,
        since: Option<DateTime<Utc>>,
        page: Option<&str>,
        mappings: &[FieldMapping],
    ) -> Result<Page, CrmError> {
        let pulled: Vec<&FieldMapping> = mappings.iter().filter(|m| m.pulls()).collect();
        let answer = match page {
            Some(next) => {
                if !next.starts_with(API) {
                    return Err(CrmError::Answer("an unexpected nextRecordsUrl".into()));
                }
                self.call(|s| {
                    self.http
                        .client
                        .get(format!("{}{next}", s.instance_url))
                        .bearer_auth(&s.token)
                })
                .await?
            }
            None => {
                let soql = soql(since, &pulled);
                self.call(|s| {
                    self.http
                        .client
                        .get(format!("{}{API}/query", s.instance_url))
                        .query(&[("q", soql.as_str())])
                        .header("Sforce-Query-Options", format!("batchSize={PAGE}"))
                        .bearer_auth(&s.token)
                })
                .await?
            }
        };
        let rows = answer
            .get("records")
            .and_then(Value::as_array)
            .ok_or_else(|| CrmError::Answer("query answer without records".into()))?;
        let mut records = Vec::with_capacity(rows.len());
        for r in rows {
            let id = r
                .get("Id")
                .and_then(Value::as_str)
                .ok_or_else(|| CrmError::Answer("a record without an Id".into()))?
                .to_owned();
            let modified = r
                .get("SystemModstamp")
                .and_then(Value::as_str)
                .and_then(parse_time)
                .ok_or_else(|| CrmError::Answer(format!("record {id} has no SystemModstamp")))?;
            let values: BTreeMap<_, _> = pulled
                .iter()
                .map(|m| (m.field, normalise(m.field, r.get(&m.property))))
                .collect();
            records.push(CrmRecord {
                id,
                modified_at: modified,
                values,
            });
        }
        let done = answer.get("done").and_then(Value::as_bool).unwrap_or(true);
        let next = answer
            .get("nextRecordsUrl")
            .and_then(Value::as_str)
            .filter(|_| !done)
            .map(str::to_owned);
        Ok(Page {
            records,
            next,
            requery: false,
        })
    }

    pub async fn push(&self, updates: &[CrmUpdate]) -> Result<Vec<PushOutcome>, CrmError> {
        let records: Vec<Value> = updates
            .iter()
            .map(|u| {
                let mut record = serde_json::Map::new();
                record.insert("attributes".into(), json!({"type": "Contact"}));
                record.insert("id".into(), json!(u.crm_id));
                for (k, v) in &u.properties {
                    record.insert(k.clone(), v.clone());
                }
                Value::Object(record)
            })
            .collect();
        let body = json!({"allOrNone": false, "records": records});
        let answer = self
            .call(|s| {
                self.http
                    .client
                    .patch(format!("{}{API}/composite/sobjects", s.instance_url))
                    .bearer_auth(&s.token)
                    .json(&body)
            })
            .await?;
        let results = answer
            .as_array()
            .ok_or_else(|| CrmError::Answer("composite answer is not a list".into()))?;
        if results.len() != updates.len() {
            return Err(CrmError::Answer(format!(
                "{} outcomes for {} records",
                results.len(),
                updates.len()
            )));
        }
        Ok(updates
            .iter()
            .zip(results)
            .map(|(u, r)| {
                if r.get("success").and_then(Value::as_bool) == Some(true) {
                    Ok(())
                } else {
                    let code = r
                        .pointer("/errors/0/statusCode")
                        .and_then(Value::as_str)
                        .unwrap_or("error");
                    Err(format!("Salesforce refused record {}: {code}", u.crm_id))
                }
            })
            .collect())
    }
}

/// The pull query: mapped fields changed at or after `since` (whole seconds), oldest first.
fn soql(since: Option<DateTime<Utc>>, pulled: &[&FieldMapping]) -> String {
    let mut fields = vec!["Id", "SystemModstamp"];
    fields.extend(
        pulled
            .iter()
            .map(|m| m.property.as_str())
            .filter(|p| *p != "Id" && *p != "SystemModstamp"),
    );
    let filter = since
        .map(|t| {
            format!(
                " WHERE SystemModstamp >= {}",
                t.format("%Y-%m-%dT%H:%M:%SZ")
            )
        })
        .unwrap_or_default();
    format!(
        "SELECT {} FROM Contact{filter} ORDER BY SystemModstamp ASC, Id ASC",
        fields.join(", ")
    )
}

/// `2026-11-22T10:00:00.123+0000`
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::default_mappings;
    use crate::domain::CrmKind;

    #[test]
    fn queries_changed_contacts_oldest_first_in_whole_seconds() {
        let mappings = default_mappings(CrmKind::Salesforce);
        let pulled: Vec<&FieldMapping> = mappings.iter().filter(|m| m.pulls()).collect();
        let since = parse_time("2026-11-22T10:00:00.987+0000").unwrap();
        let q = soql(Some(since), &pulled);
        assert!(q.starts_with("SELECT Id, SystemModstamp, Email, Phone, FirstName"));
        assert!(q.ends_with(
            "FROM Contact WHERE SystemModstamp >= 2026-11-22T10:00:00Z ORDER BY SystemModstamp ASC, Id ASC"
        ));
        assert!(
            !q.contains("Herald_Last"),
            "push-only fields are not queried"
        );
        assert!(!soql(None, &pulled).contains("WHERE"));
    }
}
