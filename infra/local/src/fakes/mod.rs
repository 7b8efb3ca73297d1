//! Stateful local fakes of the CRM APIs Herald syncs with, for tests and benchmarks.
//!
//! Each fake is an axum server on `127.0.0.1:0` in a spawned task, holding its records in
//! memory behind a mutex, with a synchronous handle to seed and inspect them. Both share the
//! fault controls here: throttling (429 + `Retry-After`), going down after a number of
//! successful requests (503 until `recover`), and a log of every request answered. Every
//! request is checked against the provider's contract (`crate::contracts`) before the fake
//! looks at it: what the real API's contract refuses, the fake refuses with the provider's
//! documented error answer, and keeps for `contract_violations`.
//! Dropping a fake stops its server.

pub mod hubspot;
pub mod receiver;
pub mod salesforce;

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One request a fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    pub status: u16,
}

/// The fault and request-log state of one fake.
#[derive(Debug, Default)]
struct FaultState {
    throttle_remaining: usize,
    retry_after_seconds: u64,
    /// Successful requests still allowed before the fake goes down.
    successes_before_down: Option<usize>,
    down: bool,
    log: Vec<Recorded>,
    /// What requests broke the provider's contract, one line each.
    violations: Vec<String>,
}

enum Fault {
    Down,
    Throttle(u64),
}

/// The fault controls and request log shared by a fake's handle and its server.
#[derive(Debug, Clone, Default)]
pub(crate) struct Faults(Arc<Mutex<FaultState>>);

impl Faults {
    fn lock(&self) -> MutexGuard<'_, FaultState> {
        lock(&self.0)
    }

    pub(crate) fn throttle_next(&self, n: usize, retry_after_seconds: u64) {
        let mut state = self.lock();
        state.throttle_remaining = n;
        state.retry_after_seconds = retry_after_seconds;
    }

    pub(crate) fn fail_after(&self, successful: usize) {
        let mut state = self.lock();
        if successful == 0 {
            state.down = true;
            state.successes_before_down = None;
        } else {
            state.successes_before_down = Some(successful);
        }
    }

    pub(crate) fn recover(&self) {
        let mut state = self.lock();
        state.down = false;
        state.successes_before_down = None;
    }

    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.lock().log.clone()
    }

    pub(crate) fn count(&self, method: &str, path_prefix: &str) -> usize {
        self.lock()
            .log
            .iter()
            .filter(|r| {
                r.method.eq_ignore_ascii_case(method)
                    && r.path.starts_with(path_prefix)
                    && (200..300).contains(&r.status)
            })
            .count()
    }

    pub(crate) fn reset_requests(&self) {
        self.lock().log.clear();
    }

    pub(crate) fn contract_violations(&self) -> Vec<String> {
        self.lock().violations.clone()
    }

    fn violated(&self, violations: &[crate::contracts::Violation]) {
        let lines = violations.iter().map(ToString::to_string);
        self.lock().violations.extend(lines);
    }

    fn decide(&self, throttle_exempt: bool) -> Option<Fault> {
        let mut state = self.lock();
        if state.down {
            Some(Fault::Down)
        } else if state.throttle_remaining > 0 && !throttle_exempt {
            state.throttle_remaining -= 1;
            Some(Fault::Throttle(state.retry_after_seconds))
        } else {
            None
        }
    }

    fn record(&self, recorded: Recorded) {
        let mut state = self.lock();
        if (200..300).contains(&recorded.status)
            && let Some(left) = state.successes_before_down.as_mut()
        {
            *left = left.saturating_sub(1);
            if *left == 0 {
                state.successes_before_down = None;
                state.down = true;
            }
        }
        state.log.push(recorded);
    }
}

/// The fault and request-log controls of a fake, on its handle, delegating to its `faults`.
macro_rules! fault_controls {
    () => {
        /// The next `n` requests (the Salesforce token endpoint's excepted) answer 429 with
        /// `Retry-After: {retry_after_seconds}`.
        pub fn throttle_next(&self, n: usize, retry_after_seconds: u64) {
            self.faults.throttle_next(n, retry_after_seconds);
        }

        /// After `successful` more 2xx answers, every request answers 503 until `recover`.
        pub fn fail_after(&self, successful: usize) {
            self.faults.fail_after(successful);
        }

        /// Ends a `fail_after` outage (or a pending one).
        pub fn recover(&self) {
            self.faults.recover();
        }

        /// Every request answered since the start or `reset_requests`, in order.
        pub fn requests(&self) -> Vec<$crate::fakes::Recorded> {
            self.faults.requests()
        }

        /// The requests answered 2xx with this method and a path starting with `path_prefix`.
        pub fn count(&self, method: &str, path_prefix: &str) -> usize {
            self.faults.count(method, path_prefix)
        }

        pub fn reset_requests(&self) {
            self.faults.reset_requests();
        }

        /// Every way a request so far broke the provider's contract (each was refused).
        pub fn contract_violations(&self) -> Vec<String> {
            self.faults.contract_violations()
        }
    };
}
pub(crate) use fault_controls;

/// The outermost layer of a fake: answers with the fault due, if any, and logs the request.
#[derive(Clone)]
pub(crate) struct Gate {
    pub(crate) faults: Faults,
    /// The API's body for a 429.
    pub(crate) throttled: Value,
    /// The API's body for a 503.
    pub(crate) unavailable: Value,
    /// A path never throttled (an OAuth token endpoint).
    pub(crate) throttle_exempt: Option<&'static str>,
}

pub(crate) async fn gate(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let exempt = gate.throttle_exempt == Some(path.as_str());
    let response = match gate.faults.decide(exempt) {
        Some(Fault::Down) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(gate.unavailable.clone()),
        )
            .into_response(),
        Some(Fault::Throttle(seconds)) => {
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(gate.throttled.clone()),
            )
                .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            response
        }
        None => next.run(request).await,
    };
    gate.faults.record(Recorded {
        method,
        path,
        status: response.status().as_u16(),
    });
    response
}

/// The contract layer of a fake (inside its gate and its credential check).
#[derive(Clone)]
pub(crate) struct Contract {
    pub(crate) provider: crate::contracts::Provider,
    pub(crate) faults: Faults,
}

/// The most a fake reads of a request body.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Answers a request that breaks the provider's contract as the provider documents, and keeps
/// its violations; passes the others on.
pub(crate) async fn contract(
    State(contract): State<Contract>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let checked = crate::contracts::check(
        contract.provider,
        &crate::contracts::Request {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query(),
            headers: &parts.headers,
            body: &bytes,
        },
    );
    match checked {
        Ok(_) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(violations) => {
            tracing::warn!(provider = %contract.provider, violations = violations.len(), "a request broke the provider's contract");
            contract.faults.violated(&violations);
            let (status, body) = crate::contracts::refusal(contract.provider, &violations);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            (status, axum::Json(body)).into_response()
        }
    }
}

/// A strictly increasing clock of modification times, in epoch milliseconds: every change
/// gets a distinct time, never earlier than the wall clock.
#[derive(Debug, Default)]
pub(crate) struct ModClock {
    last_ms: i64,
}

impl ModClock {
    pub(crate) fn tick(&mut self) -> i64 {
        let ms = chrono::Utc::now().timestamp_millis().max(self.last_ms + 1);
        self.last_ms = ms;
        ms
    }
}

/// Locks a fake's state, even if a panicking test poisoned it.
pub(crate) fn lock<T>(state: &Mutex<T>) -> MutexGuard<'_, T> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Formats epoch milliseconds with `format` (a chrono format string) in UTC.
pub(crate) fn format_ms(ms: i64, format: &str) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format(format)
        .to_string()
}

/// A fake's listening server; aborted on drop.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) url: String,
    task: JoinHandle<()>,
}

impl Server {
    /// Binds a free port on 127.0.0.1; returns the listener and its base URL.
    pub(crate) async fn bind() -> anyhow::Result<(TcpListener, String)> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        Ok((listener, url))
    }

    pub(crate) fn spawn(listener: TcpListener, url: String, router: Router) -> Self {
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::warn!(%error, "CRM fake stopped");
            }
        });
        Self { url, task }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}
