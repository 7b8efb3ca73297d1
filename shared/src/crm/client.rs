//! What the sync needs of a CRM, over HTTP: test the connection, pull a page of changed
//! records, push a batch of updates. A 429 is waited out (its `Retry-After`, at most
//! [`MAX_WAIT`]) and tried again; every request and every wait is counted for the run's report.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{CrmRecord, CrmUpdate, FieldMapping};
use crate::domain::CrmKind;

/// The longest a 429's `Retry-After` is waited for; longer, and the run stops (the cursor
/// keeps what was applied, the next run goes on).
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// How many 429s in a row one request may get.
pub const MAX_THROTTLED: u32 = 6;

/// Why a CRM call failed.
#[derive(Debug, thiserror::Error)]
pub enum CrmError {
    /// The credentials were refused.
    #[error("the CRM refused the credentials ({0})")]
    Unauthorized(String),
    /// The CRM answered with an error.
    #[error("the CRM answered {status}: {message}")]
    Status { status: u16, message: String },
    /// Throttled for longer than Herald waits.
    #[error("the CRM kept throttling (429) after {0} attempts")]
    Throttled(u32),
    /// The CRM could not be reached, or its answer could not be read.
    #[error("the CRM could not be reached: {0}")]
    Transport(String),
    #[error("the CRM's answer was not understood: {0}")]
    Answer(String),
}

/// Counts of a client's requests, shared by its clones.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub requests: Arc<AtomicU64>,
    pub throttled: Arc<AtomicU64>,
}

impl Counts {
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }
}

/// The HTTP side shared by both CRMs.
#[derive(Debug, Clone)]
pub struct Http {
    pub client: reqwest::Client,
    pub counts: Counts,
}

impl Http {
    pub fn new(client: reqwest::Client) -> Self {
        Self {
            client,
            counts: Counts::default(),
        }
    }

    /// Sends the request `build` makes, again after each 429's `Retry-After`. Answers other
    /// than 2xx are errors (with the CRM's message, never the request's data).
    pub async fn send(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, CrmError> {
        for attempt in 1..=MAX_THROTTLED {
            self.counts.requests.fetch_add(1, Ordering::Relaxed);
            let response = build()
                .send()
                .await
                .map_err(|e| CrmError::Transport(without_url(e)))?;
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            if status.as_u16() == 429 {
                self.counts.throttled.fetch_add(1, Ordering::Relaxed);
                let wait =
                    crate::aws::retry_after(response.headers()).unwrap_or(Duration::from_secs(1));
                if wait > MAX_WAIT || attempt == MAX_THROTTLED {
                    return Err(CrmError::Throttled(attempt));
                }
                tracing::info!(
                    wait_ms = wait.as_millis() as u64,
                    attempt,
                    "CRM answered 429; waiting"
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            let body = response.text().await.unwrap_or_default();
            let message: String = body.chars().take(300).collect();
            return Err(if status.as_u16() == 401 {
                CrmError::Unauthorized(message)
            } else {
                CrmError::Status {
                    status: status.as_u16(),
                    message,
                }
            });
        }
        Err(CrmError::Throttled(MAX_THROTTLED))
    }
}

/// A reqwest error without its URL (which may carry a query with data in it).
fn without_url(e: reqwest::Error) -> String {
    e.without_url().to_string()
}

/// What a connection test found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TestOutcome {
    /// The CRM account the credentials reach (HubSpot portal, Salesforce org id).
    pub account: String,
    /// Mapped properties the CRM does not have (their fields cannot sync until created).
    pub missing_properties: Vec<String>,
    /// Anything else worth knowing (API calls left today, for Salesforce).
    pub detail: Option<String>,
}

/// A page of pulled records, oldest change first.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub records: Vec<CrmRecord>,
    /// Where the next page starts, when there is one.
    pub next: Option<String>,
    /// The CRM will not page further in this query (HubSpot's 10,000 results): query again
    /// from the cursor.
    pub requery: bool,
}

/// What pushing one update did.
pub type PushOutcome = Result<(), String>;

/// A connected CRM.
#[derive(Debug, Clone)]
pub enum CrmClient {
    Hubspot(super::hubspot::Hubspot),
    Salesforce(super::salesforce::Salesforce),
}

impl CrmClient {
    pub fn kind(&self) -> CrmKind {
        match self {
            CrmClient::Hubspot(_) => CrmKind::Hubspot,
            CrmClient::Salesforce(_) => CrmKind::Salesforce,
        }
    }

    pub fn counts(&self) -> &Counts {
        match self {
            CrmClient::Hubspot(c) => &c.http.counts,
            CrmClient::Salesforce(c) => &c.http.counts,
        }
    }

    /// The most records one pull request returns.
    pub fn page_size(&self) -> usize {
        match self {
            CrmClient::Hubspot(_) => super::hubspot::PAGE,
            CrmClient::Salesforce(_) => super::salesforce::PAGE,
        }
    }

    /// The most records one push request updates.
    pub fn batch_size(&self) -> usize {
        match self {
            CrmClient::Hubspot(_) => super::hubspot::BATCH,
            CrmClient::Salesforce(_) => super::salesforce::BATCH,
        }
    }

    pub async fn test(&self, mappings: &[FieldMapping]) -> Result<TestOutcome, CrmError> {
        match self {
            CrmClient::Hubspot(c) => c.test(mappings).await,
            CrmClient::Salesforce(c) => c.test(mappings).await,
        }
    }

    /// Records changed at or after `since` (everything when None), from page `page`.
    pub async fn pull(
        &self,
        since: Option<DateTime<Utc>>,
        page: Option<&str>,
        mappings: &[FieldMapping],
    ) -> Result<Page, CrmError> {
        match self {
            CrmClient::Hubspot(c) => c.pull(since, page, mappings).await,
            CrmClient::Salesforce(c) => c.pull(since, page, mappings).await,
        }
    }

    /// Pushes at most [`Self::batch_size`] updates; one outcome per update, in order.
    pub async fn push(&self, updates: &[CrmUpdate]) -> Result<Vec<PushOutcome>, CrmError> {
        match self {
            CrmClient::Hubspot(c) => c.push(updates).await,
            CrmClient::Salesforce(c) => c.push(updates).await,
        }
    }
}
