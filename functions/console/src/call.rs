//! The console's calls to the API: its own Router, in this process, for the signed-in key
//! (handed over in the request's extensions as [`Authenticated`]). An answer is the API's
//! JSON, or its problem+json as a [`Problem`] the page shows.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use herald::store::ApiKey;
use herald_api::auth::Authenticated;
use serde::Deserialize;
use serde_json::Value;
use tower::ServiceExt as _;

use crate::ConsoleState;

/// The most the console reads of one answer (a guest export of 10,000 rows fits).
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// A field's problem, as the API names it (`name`, `rows[3].email`, `html`).
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct Issue {
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub message: String,
    /// Template syntax errors: where.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

/// The API's problem+json.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Problem {
    #[serde(skip)]
    pub status: StatusCode,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub errors: Vec<Issue>,
    #[serde(default)]
    pub syntax_errors: Vec<Issue>,
    #[serde(default)]
    pub current_version: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, title: &str, detail: impl Into<String>) -> Self {
        Self {
            status,
            title: title.to_owned(),
            detail: detail.into(),
            errors: Vec::new(),
            syntax_errors: Vec::new(),
            current_version: None,
        }
    }

    /// Every field problem, syntax errors included, for a page's error summary.
    pub fn issues(&self) -> Vec<Issue> {
        self.errors
            .iter()
            .chain(&self.syntax_errors)
            .cloned()
            .collect()
    }
}

/// Calls the API as `key`.
pub struct Api<'a> {
    state: &'a ConsoleState,
    key: &'a ApiKey,
}

impl<'a> Api<'a> {
    pub fn new(state: &'a ConsoleState, key: &'a ApiKey) -> Self {
        Self { state, key }
    }

    pub async fn get(&self, uri: impl AsRef<str>) -> Result<Value, Problem> {
        self.raw(Method::GET, uri, None, Vec::new()).await
    }

    /// A JSON body (`Value::Null`: none).
    pub async fn send(
        &self,
        method: Method,
        uri: impl AsRef<str>,
        body: &Value,
    ) -> Result<Value, Problem> {
        if body.is_null() {
            return self.raw(method, uri, None, Vec::new()).await;
        }
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        self.raw(method, uri, Some("application/json"), bytes).await
    }

    pub async fn post(&self, uri: impl AsRef<str>, body: &Value) -> Result<Value, Problem> {
        self.send(Method::POST, uri, body).await
    }

    pub async fn put(&self, uri: impl AsRef<str>, body: &Value) -> Result<Value, Problem> {
        self.send(Method::PUT, uri, body).await
    }

    /// Any body with its media type (a CSV import).
    pub async fn raw(
        &self,
        method: Method,
        uri: impl AsRef<str>,
        media: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Value, Problem> {
        let mut request = Request::builder().method(method).uri(uri.as_ref());
        if let Some(media) = media {
            request = request.header(header::CONTENT_TYPE, media);
        }
        let request = request
            .extension(Authenticated(self.key.clone()))
            .body(Body::from(body))
            .map_err(|e| unexpected(&e.to_string()))?;
        let response = match self.state.api.clone().oneshot(request).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), MAX_ANSWER_BYTES)
            .await
            .map_err(|e| unexpected(&e.to_string()))?;
        // A 303's body says where to go (an attachment's signed download URL).
        if status.is_success() || status == StatusCode::SEE_OTHER {
            if bytes.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_slice(&bytes).or_else(|_| {
                // A CSV export: its text.
                Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
            });
        }
        let mut problem: Problem = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Problem::new(status, "Error", String::from_utf8_lossy(&bytes)));
        problem.status = status;
        Err(problem)
    }
}

fn unexpected(what: &str) -> Problem {
    tracing::error!(error = what, "calling the API in-process failed");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Unexpected error",
        "an unexpected error occurred; it has been logged",
    )
}

/// `path?tenant_id=…` for a platform admin acting in a tenant (others' keys carry theirs).
pub fn scoped(path: &str, tenant: Option<&str>) -> String {
    match tenant {
        Some(t) => {
            let sep = if path.contains('?') { '&' } else { '?' };
            format!("{path}{sep}tenant_id={t}")
        }
        None => path.to_owned(),
    }
}
