//! A load test of the API's read paths over HTTP on 127.0.0.1 (`make bench`): the resolved
//! configuration of an event and a message's status, each a fixed number of requests from a
//! fixed number of concurrent clients (bounded), every answer checked. Prints one `BENCH`
//! line: requests per second, latency percentiles, errors, DynamoDB requests per call, and the
//! CPU time of Herald (this process) and of the emulator over each run, which shows whose time
//! the latency is.
//!
//! `infra/local/with-moto.sh cargo test -p herald-api --test load -- --ignored --nocapture`

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::Method;
use common::*;
use serde_json::{Value, json};

const REQUESTS: usize = 2_000;
const CLIENTS: usize = 16;

struct Run {
    latencies: Vec<Duration>,
    errors: usize,
    wall: Duration,
    herald_cpu: f64,
    emulator_cpu: f64,
    dynamo_per_call: f64,
}

impl Run {
    fn json(&self) -> Value {
        let mut l = self.latencies.clone();
        l.sort();
        let pct = |p: f64| {
            let i = ((l.len() as f64 * p).ceil() as usize).clamp(1, l.len()) - 1;
            l[i].as_secs_f64() * 1000.0
        };
        let wall = self.wall.as_secs_f64();
        json!({
            "requests": l.len(),
            "clients": CLIENTS,
            "errors": self.errors,
            "wall_seconds": wall,
            "per_second": l.len() as f64 / wall,
            "p50_ms": pct(0.50),
            "p90_ms": pct(0.90),
            "p99_ms": pct(0.99),
            "max_ms": pct(1.0),
            "herald_cpu_seconds": self.herald_cpu,
            "emulator_cpu_seconds": self.emulator_cpu,
            "emulator_share": self.emulator_cpu / wall,
            "dynamodb_requests_per_call": self.dynamo_per_call,
        })
    }
}

/// `REQUESTS` GETs of `url` from `CLIENTS` concurrent clients; each answer must be 200 and
/// pass `check`.
async fn run(
    stack: &TestStack,
    client: &reqwest::Client,
    url: &str,
    key: &str,
    check: fn(&Value) -> bool,
) -> Run {
    // Warm: the connection pool, the API key's and the snapshot's caches.
    for _ in 0..20 {
        let _ = client.get(url).bearer_auth(key).send().await;
    }
    stack.dynamo_requests.reset();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (cpu, moto) = (cpu_seconds("self"), moto_cpu_seconds());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (client, url, key, next) =
            (client.clone(), url.to_owned(), key.to_owned(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < REQUESTS {
                let t = Instant::now();
                let ok = match client.get(&url).bearer_auth(&key).send().await {
                    Ok(r) if r.status() == 200 => {
                        r.json::<Value>().await.is_ok_and(|body| check(&body))
                    }
                    _ => false,
                };
                latencies.push(t.elapsed());
                errors += usize::from(!ok);
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("a client");
        latencies.extend(l);
        errors += e;
    }
    let wall = started.elapsed();
    Run {
        dynamo_per_call: stack.dynamo_requests.count() as f64 / latencies.len() as f64,
        latencies,
        errors,
        wall,
        herald_cpu: cpu_seconds("self") - cpu,
        emulator_cpu: moto_cpu_seconds() - moto,
    }
}

#[tokio::test]
#[ignore = "a load test: make bench runs it"]
async fn benchmark_the_api_read_paths() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let key = s.t.admin.clone();
    complete_wizard(&stack, &key, &s.event).await;
    let sent = expect(
        &stack,
        Method::POST,
        "/api/v1/communication/messages",
        &key,
        Some(
            json!({"event_id": s.event, "category": "invitation", "channels": ["email"],
            "recipient": {"first_name": "Ada", "email": unique_email("load")}}),
        ),
        202,
    )
    .await;
    let message = text(&sent, "id");

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("a port");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let server = tokio::spawn(axum::serve(listener, stack.router.clone()).into_future());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    // The message is sent before its status is measured.
    for _ in 0..120 {
        let m: Value = client
            .get(format!("{base}/api/v1/communication/messages/{message}"))
            .bearer_auth(&key)
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("json");
        if m["status"] == "sent" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let configuration = run(
        &stack,
        &client,
        &format!("{base}/api/v1/events/{}/configuration", s.event),
        &key,
        |v| v["templates"].is_array() && v["providers"].is_array(),
    )
    .await;
    let status = run(
        &stack,
        &client,
        &format!("{base}/api/v1/communication/messages/{message}"),
        &key,
        |v| v["status"] == "sent",
    )
    .await;
    server.abort();
    let report = json!({
        "configuration": configuration.json(),
        "message_status": status.json(),
    });
    println!("BENCH {report}");
    assert_eq!(configuration.errors, 0, "{report}");
    assert_eq!(status.errors, 0, "{report}");
}
