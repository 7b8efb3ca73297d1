//! A webhook receiver for tests: an HTTP server on 127.0.0.1 that records every delivery,
//! checks its Standard Webhooks signature against the secrets it is given, and answers with
//! the statuses a test scripts (401 to a bad signature).

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use herald::webhooks::{
    DEFAULT_TOLERANCE_SECONDS, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, WebhookSecret, verify,
};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The request's path (and query), e.g. `/hooks/a`.
    pub path: String,
    /// `webhook-id`; empty when absent.
    pub webhook_id: String,
    /// `webhook-timestamp`, unix seconds; 0 when absent or not a number.
    pub timestamp: i64,
    /// `webhook-signature` as sent; empty when absent.
    pub signature_header: String,
    /// The body as JSON; a JSON string of the (lossy UTF-8) text when it is not JSON.
    pub body: serde_json::Value,
    /// Whether the signature verified with one of the secrets held when the request arrived,
    /// with a five-minute tolerance.
    pub valid_signature: bool,
    /// The status the receiver answered.
    pub answered: u16,
    pub received_at: Instant,
}

#[derive(Default)]
struct Inner {
    secrets: Vec<WebhookSecret>,
    script: VecDeque<u16>,
    always: Option<u16>,
    deliveries: Vec<Delivery>,
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Inner>>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A test that panicked while holding the lock leaves consistent data behind.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The server; dropping it stops it.
pub struct Receiver {
    addr: SocketAddr,
    shared: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Listens on a free port of 127.0.0.1, verifying with `secrets`.
    pub async fn start(secrets: Vec<WebhookSecret>) -> anyhow::Result<Receiver> {
        let shared = Shared::default();
        shared.lock().secrets = secrets;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the webhook receiver")?;
        let addr = listener
            .local_addr()
            .context("reading the webhook receiver's address")?;
        let app = Router::new().fallback(receive).with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::warn!(%error, "the webhook receiver stopped");
            }
        });
        Ok(Receiver {
            addr,
            shared,
            server,
        })
    }

    /// The base URL, `http://127.0.0.1:{port}`; POSTs to any path under it are received.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replaces the secrets signatures are checked with (a rotation on the receiver's side).
    pub fn set_secrets(&self, secrets: Vec<WebhookSecret>) {
        self.shared.lock().secrets = secrets;
    }

    /// Answers the next correctly signed deliveries with these statuses, in order, then as
    /// before (200, or the status of [`Receiver::answer_always`]). Replaces an earlier script.
    pub fn script(&self, statuses: Vec<u16>) {
        self.shared.lock().script = statuses.into();
    }

    /// Answers every correctly signed delivery with `status` once the script, if any, is spent.
    pub fn answer_always(&self, status: u16) {
        self.shared.lock().always = Some(status);
    }

    /// Every delivery so far, in order of arrival.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.lock().deliveries.clone()
    }

    /// Waits until at least `n` deliveries have arrived or `timeout` has passed, and returns
    /// the deliveries so far (fewer than `n` on a timeout).
    pub fn wait_for(
        &self,
        n: usize,
        timeout: Duration,
    ) -> impl Future<Output = Vec<Delivery>> + Send + use<> {
        let shared = self.shared.clone();
        async move {
            let deadline = tokio::time::Instant::now() + timeout;
            loop {
                let deliveries = shared.lock().deliveries.clone();
                if deliveries.len() >= n || tokio::time::Instant::now() >= deadline {
                    return deliveries;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn receive(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    if method != Method::POST {
        return StatusCode::METHOD_NOT_ALLOWED;
    }
    let webhook_id = header(&headers, HEADER_ID);
    let timestamp = header(&headers, HEADER_TIMESTAMP);
    let signature_header = header(&headers, HEADER_SIGNATURE);
    let parsed_timestamp = timestamp.trim().parse::<i64>().ok();

    let mut inner = shared.lock();
    let valid_signature = parsed_timestamp.is_some_and(|ts| {
        let secrets: Vec<&WebhookSecret> = inner.secrets.iter().collect();
        verify(
            &signature_header,
            &secrets,
            &webhook_id,
            ts,
            &body,
            chrono::Utc::now().timestamp(),
            DEFAULT_TOLERANCE_SECONDS,
        )
        .is_ok()
    });
    let wanted = if valid_signature {
        inner.script.pop_front().or(inner.always).unwrap_or(200)
    } else {
        401
    };
    let status = StatusCode::from_u16(wanted).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    inner.deliveries.push(Delivery {
        path: uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned()),
        webhook_id,
        timestamp: parsed_timestamp.unwrap_or(0),
        signature_header,
        body: serde_json::from_slice(&body).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&body).into_owned())
        }),
        valid_signature,
        answered: status.as_u16(),
        received_at: Instant::now(),
    });
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald::webhooks::{LoopbackPolicy, signature_header, webhook_http_client};

    async fn post(url: &str, secrets: &[&WebhookSecret], id: &str, body: &str) -> u16 {
        let client = webhook_http_client(LoopbackPolicy::AllowLoopback).unwrap();
        let now = chrono::Utc::now().timestamp();
        client
            .post(url)
            .header(HEADER_ID, id)
            .header(HEADER_TIMESTAMP, now.to_string())
            .header(
                HEADER_SIGNATURE,
                signature_header(secrets, id, now, body.as_bytes()),
            )
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    #[tokio::test]
    async fn records_signed_deliveries_and_answers_as_scripted() {
        let secret = WebhookSecret::generate();
        let receiver = Receiver::start(vec![secret.clone()]).await.unwrap();
        let url = format!("{}/hooks/a?x=1", receiver.url());
        receiver.script(vec![503, 500]);

        assert_eq!(post(&url, &[&secret], "msg_1", r#"{"n":1}"#).await, 503);
        assert_eq!(post(&url, &[&secret], "msg_1", r#"{"n":1}"#).await, 500);
        assert_eq!(post(&url, &[&secret], "msg_1", r#"{"n":1}"#).await, 200);

        // A wrong secret: 401, recorded, and the script is not consumed by it.
        receiver.script(vec![410]);
        let stranger = WebhookSecret::generate();
        assert_eq!(post(&url, &[&stranger], "msg_2", r#"{"n":2}"#).await, 401);
        // The old and new secret both sign: the receiver knows the new one only.
        receiver.set_secrets(vec![stranger.clone()]);
        assert_eq!(
            post(&url, &[&secret, &stranger], "msg_3", r#"{"n":3}"#).await,
            410
        );
        receiver.answer_always(429);
        assert_eq!(post(&url, &[&stranger], "msg_4", "not json").await, 429);

        let deliveries = receiver.wait_for(6, Duration::from_secs(5)).await;
        assert_eq!(deliveries.len(), 6);
        let answered: Vec<u16> = deliveries.iter().map(|d| d.answered).collect();
        assert_eq!(answered, [503, 500, 200, 401, 410, 429]);
        let valid: Vec<bool> = deliveries.iter().map(|d| d.valid_signature).collect();
        assert_eq!(valid, [true, true, true, false, true, true]);
        let first = &deliveries[0];
        assert_eq!(first.path, "/hooks/a?x=1");
        assert_eq!(first.webhook_id, "msg_1");
        assert_eq!(first.body, serde_json::json!({"n": 1}));
        assert!(first.signature_header.starts_with("v1,"));
        assert!((chrono::Utc::now().timestamp() - first.timestamp).abs() < 60);
        assert_eq!(deliveries[4].signature_header.split(' ').count(), 2);
        assert_eq!(deliveries[5].body, serde_json::json!("not json"));
    }

    #[tokio::test]
    async fn refuses_unsigned_requests_and_times_out_politely() {
        let receiver = Receiver::start(vec![WebhookSecret::generate()])
            .await
            .unwrap();
        let client = webhook_http_client(LoopbackPolicy::AllowLoopback).unwrap();
        let status = client
            .post(receiver.url())
            .body("{}")
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 401);
        let got = receiver.wait_for(2, Duration::from_millis(100)).await;
        assert_eq!(got.len(), 1);
        assert!(!got[0].valid_signature);
        assert_eq!(got[0].timestamp, 0);
        assert_eq!(got[0].path, "/");
    }
}
