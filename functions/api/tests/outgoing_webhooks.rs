//! Outgoing webhooks end to end on the local stack, against a local receiver that checks
//! Standard Webhooks signatures: events from a campaign, the tracker and a consent change;
//! retries with backoff (the schedule compressed to seconds), replays, 410 and 5 days of
//! failures disabling an endpoint, secret rotation, SSRF refusals, and other tenants' ids.

mod common;

use std::time::Duration;

use axum::http::Method;
use chrono::Utc;
use common::*;
use herald::ids::TenantId;
use herald::webhooks::{
    Emitter, LoopbackPolicy, RetryPolicy, WebhookEvent, WebhookEventType, WebhookSecret,
};
use herald_local::fakes::receiver::{Delivery, Receiver};
use serde_json::{Value, json};

const ENDPOINTS: &str = "/api/v1/communication/webhook-endpoints";

fn endpoints(t: &Tenant, rest: &str) -> String {
    format!("{ENDPOINTS}{rest}?tenant_id={}", t.id)
}

/// Registers an endpoint on the receiver; (its id, its secret).
async fn register(
    stack: &TestStack,
    t: &Tenant,
    receiver: &Receiver,
    types: &[&str],
) -> (String, WebhookSecret) {
    let created = expect(
        stack,
        Method::POST,
        &endpoints(t, ""),
        &t.admin,
        Some(
            json!({"url": format!("{}/hooks", receiver.url()), "event_types": types,
            "description": "CRM bridge"}),
        ),
        201,
    )
    .await;
    let secret = WebhookSecret::parse(&text(&created, "secret")).expect("a whsec_ secret");
    (text(&created["endpoint"], "id"), secret)
}

/// A made-up event of a tenant, queued as the functions queue theirs.
async fn emit(stack: &TestStack, tenant: &str, n: u32) {
    let event = WebhookEvent {
        tenant: tenant.parse::<TenantId>().expect("tenant id"),
        kind: WebhookEventType::CrmSyncCompleted,
        key: format!("test-{n}-{}", rand_u32()),
        at: Utc::now(),
        data: json!({"n": n}),
    };
    // A fresh emitter: it reads the endpoints now, not from an earlier copy.
    let emitter = Emitter::new(
        stack.state.store.clone(),
        stack.state.queues.sqs.clone(),
        Some(stack.state.queues.webhooks.clone()),
    );
    let queued = emitter.emit(&[event]).await.expect("emit");
    assert!(queued <= 1);
}

fn types(deliveries: &[Delivery]) -> Vec<String> {
    let mut out: Vec<String> = deliveries
        .iter()
        .map(|d| d.body["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    out.sort();
    out
}

async fn endpoint(stack: &TestStack, t: &Tenant, id: &str) -> Value {
    expect(
        stack,
        Method::GET,
        &endpoints(t, &format!("/{id}")),
        &t.admin,
        None,
        200,
    )
    .await
}

async fn attempts(stack: &TestStack, t: &Tenant, id: &str) -> Vec<Value> {
    items(
        &expect(
            stack,
            Method::GET,
            &endpoints(t, &format!("/{id}/attempts")),
            &t.admin,
            None,
            200,
        )
        .await,
    )
}

/// Polls (bounded) until `done` holds for the endpoint's attempts.
async fn attempts_until(
    stack: &TestStack,
    t: &Tenant,
    id: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let mut last = Vec::new();
    for _ in 0..120 {
        last = attempts(stack, t, id).await;
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the attempts did not reach the expected state within 30 s: {last:?}");
}

/// Sets attributes of an endpoint's stored item directly (time passing, in a test).
async fn age_endpoint(
    stack: &TestStack,
    t: &Tenant,
    id: &str,
    update: &str,
    values: &[(&str, &str)],
) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let mut request = stack
        .state
        .store
        .client()
        .update_item()
        .table_name(&stack.table)
        .key("PK", AttributeValue::S(format!("TENANT#{}#WEBHOOKS", t.id)))
        .key("SK", AttributeValue::S(format!("ENDPOINT#{id}")))
        .update_expression(update);
    for (name, value) in values {
        let v = if name.starts_with(":n") {
            AttributeValue::N((*value).to_owned())
        } else {
            AttributeValue::S((*value).to_owned())
        };
        request = request.expression_attribute_values(*name, v);
    }
    request.send().await.expect("update the endpoint's item");
}

/// A deliverer whose retries come after a second each.
async fn fast_retries(stack: &mut TestStack, delays: usize) {
    let deliverer = stack
        .webhooks()
        .expect("deliverer")
        .with_retry_policy(RetryPolicy {
            delays: vec![Duration::from_secs(1); delays],
            disable_after: RetryPolicy::default().disable_after,
        });
    stack.replace_webhooks(deliverer).await.expect("replace");
}

#[tokio::test]
async fn campaign_tracker_and_consent_events_arrive_signed() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let key = &s.t.admin;
    let receiver = Receiver::start(vec![]).await.expect("receiver");
    let (id, secret) = register(
        &stack,
        &s.t,
        &receiver,
        &[
            "message.sent",
            "message.delivered",
            "campaign.completed",
            "contact.unsubscribed",
        ],
    )
    .await;
    receiver.set_secrets(vec![secret.clone()]);
    // The secret is shown once: never again, and never stored in clear.
    let shown = endpoint(&stack, &s.t, &id).await;
    assert!(!shown.to_string().contains(&secret.to_string()), "{shown}");
    assert!(text(&shown, "secret_hint").starts_with("••••"), "{shown}");
    assert_eq!(shown["status"], "enabled");
    assert_table_lacks(&stack, &secret.to_string()).await;

    complete_wizard(&stack, key, &s.event).await;
    let a = unique_email("hook-a");
    let b = unique_email("hook-b");
    import_guests(
        &stack,
        key,
        &s.event,
        vec![
            json!({"first_name": "A", "email": a}),
            json!({"first_name": "B", "email": b}),
        ],
    )
    .await;
    let campaign = send_to_all(&stack, key, &s.event, json!(["email"])).await;
    finished(&stack, key, &campaign, 120).await;
    // Two messages sent and delivered (the local stack publishes SES's Send and Delivery
    // events), and the campaign's completion.
    let got = receiver.wait_for(5, Duration::from_secs(60)).await;
    assert_eq!(
        types(&got),
        [
            "campaign.completed",
            "message.delivered",
            "message.delivered",
            "message.sent",
            "message.sent"
        ],
        "{got:?}"
    );
    for d in &got {
        assert!(d.valid_signature, "{d:?}");
        assert_eq!(d.path, "/hooks");
        assert!(d.webhook_id.starts_with("whm_"), "{d:?}");
        assert!(d.signature_header.starts_with("v1,"), "{d:?}");
        assert_eq!(d.signature_header.split(' ').count(), 1);
        let body = d.body.to_string();
        assert!(
            !body.contains(&a) && !body.contains(&b),
            "addresses: {body}"
        );
    }
    let done = got
        .iter()
        .find(|d| d.body["type"] == "campaign.completed")
        .expect("completed");
    assert_eq!(done.body["data"]["campaign_id"], campaign.as_str());
    assert_eq!(done.body["data"]["counts"]["sent"], 2, "{}", done.body);
    let delivered = got
        .iter()
        .find(|d| d.body["type"] == "message.delivered")
        .expect("delivered");
    assert!(delivered.body["data"]["message_id"].as_str().is_some());
    assert_eq!(delivered.body["data"]["channel"], "email");

    // A consent change over the API: contact.unsubscribed.
    let guests = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{}/guests", s.event),
        key,
        None,
        200,
    )
    .await;
    let contact = items(&guests)
        .into_iter()
        .find(|g| g["email"] == a.as_str())
        .map(|g| text(&g, "contact_id"))
        .expect("the guest's contact");
    expect(
        &stack,
        Method::PUT,
        &format!("/api/v1/communication/contacts/{contact}/preferences"),
        key,
        Some(json!({"preferences": {"opt_outs": [{"channel": "email"}]}})),
        200,
    )
    .await;
    let got = receiver.wait_for(6, Duration::from_secs(30)).await;
    let unsub = got
        .iter()
        .find(|d| d.body["type"] == "contact.unsubscribed")
        .expect("contact.unsubscribed");
    assert_eq!(unsub.body["data"]["contact_id"], contact.as_str());
    assert_eq!(unsub.body["data"]["opt_outs"][0]["channel"], "email");
    assert_eq!(unsub.body["data"]["source"], "api");

    // Every attempt is listed, newest first, and each message can be read with its payload.
    let listed = attempts_until(&stack, &s.t, &id, |a| a.len() == 6).await;
    assert!(
        listed
            .iter()
            .all(|a| a["outcome"] == "delivered" && a["status_code"] == 200)
    );
    assert!(listed[0]["at"].as_str() >= listed[5]["at"].as_str());
    let message = expect(
        &stack,
        Method::GET,
        &endpoints(&s.t, &format!("/{id}/messages/{}", got[0].webhook_id)),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(message["message"]["state"], "delivered");
    assert_eq!(message["attempts"].as_array().map(Vec::len), Some(1));
    let sent: Value =
        serde_json::from_str(message["message"]["payload"].as_str().expect("payload"))
            .expect("json");
    assert_eq!(sent, got[0].body);

    // Another tenant sees none of it.
    let other = tenant(&stack, "Other").await;
    let foreign = |rest: &str| endpoints(&other, rest);
    assert_refused(
        &stack,
        &other.admin,
        404,
        &[
            (Method::GET, foreign(&format!("/{id}")), None),
            (
                Method::PATCH,
                foreign(&format!("/{id}")),
                Some(json!({"enabled": false})),
            ),
            (Method::POST, foreign(&format!("/{id}/rotate-secret")), None),
            (Method::GET, foreign(&format!("/{id}/attempts")), None),
            (
                Method::GET,
                foreign(&format!("/{id}/messages/{}", got[0].webhook_id)),
                None,
            ),
            (
                Method::POST,
                foreign(&format!("/{id}/messages/{}/replay", got[0].webhook_id)),
                None,
            ),
            (Method::DELETE, foreign(&format!("/{id}")), None),
        ],
    )
    .await;
    let theirs = expect(&stack, Method::GET, &foreign(""), &other.admin, None, 200).await;
    assert!(items(&theirs).is_empty());
    assert_eq!(endpoint(&stack, &s.t, &id).await["status"], "enabled");
}

#[tokio::test]
async fn failures_are_retried_replayed_and_disable_the_endpoint() {
    let mut stack = stack().await;
    fast_retries(&mut stack, 2).await;
    let t = tenant(&stack, "Acme").await;
    let receiver = Receiver::start(vec![]).await.expect("receiver");
    let (id, secret) = register(&stack, &t, &receiver, &["crm.sync_completed"]).await;
    receiver.set_secrets(vec![secret]);

    // Two failures, then a success: three attempts under one webhook id.
    receiver.script(vec![500, 503]);
    emit(&stack, &t.id, 1).await;
    let got = receiver.wait_for(3, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(
        got.iter().map(|d| d.answered).collect::<Vec<_>>(),
        [500, 503, 200]
    );
    assert!(got.iter().all(|d| d.webhook_id == got[0].webhook_id));
    assert!(
        got[1].received_at - got[0].received_at >= Duration::from_millis(900),
        "the retry waited"
    );
    let listed = attempts_until(&stack, &t, &id, |a| a.len() == 3).await;
    let outcomes: Vec<&str> = listed
        .iter()
        .filter_map(|a| a["outcome"].as_str())
        .collect();
    assert_eq!(outcomes, ["delivered", "failed", "failed"]);
    assert_eq!(listed[2]["error"], "answered 500");
    assert!(listed[2]["next_attempt_at"].is_string());
    let first = got[0].webhook_id.clone();
    let message_uri = endpoints(&t, &format!("/{id}/messages/{first}"));
    let m = expect(&stack, Method::GET, &message_uri, &t.admin, None, 200).await;
    assert_eq!(m["message"]["state"], "delivered");
    assert_eq!(m["message"]["attempts"], 3);
    // The success after failures cleared the endpoint's failure mark.
    assert!(
        endpoint(&stack, &t, &id)
            .await
            .get("failing_since")
            .is_none()
    );

    // Every attempt of the schedule fails: the message is failed, then replayed by hand.
    receiver.answer_always(500);
    emit(&stack, &t.id, 2).await;
    let got = receiver.wait_for(6, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 6, "{got:?}");
    let second = got[5].webhook_id.clone();
    let uri = endpoints(&t, &format!("/{id}/messages/{second}"));
    let mut failed = Value::Null;
    for _ in 0..40 {
        failed = expect(&stack, Method::GET, &uri, &t.admin, None, 200).await;
        if failed["message"]["state"] == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(failed["message"]["state"], "failed", "{failed}");
    assert!(
        endpoint(&stack, &t, &id).await["failing_since"].is_string(),
        "failing since the first failure"
    );
    receiver.answer_always(200);
    let replay = expect(
        &stack,
        Method::POST,
        &endpoints(&t, &format!("/{id}/messages/{second}/replay")),
        &t.admin,
        None,
        202,
    )
    .await;
    assert_eq!(replay["attempt"], 4);
    let got = receiver.wait_for(7, Duration::from_secs(30)).await;
    assert_eq!(got[6].webhook_id, second, "the same id again");
    assert_eq!(got[6].answered, 200);
    let mut replayed = Value::Null;
    for _ in 0..40 {
        replayed = expect(&stack, Method::GET, &uri, &t.admin, None, 200).await;
        if replayed["message"]["state"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(replayed["message"]["state"], "delivered", "{replayed}");
    assert_eq!(replayed["attempts"][3]["replay"], true, "{replayed}");

    // 410 Gone: disabled at once, with the reason; nothing more is sent until re-enabled.
    receiver.script(vec![410]);
    emit(&stack, &t.id, 3).await;
    receiver.wait_for(8, Duration::from_secs(30)).await;
    let mut shown = Value::Null;
    for _ in 0..40 {
        shown = endpoint(&stack, &t, &id).await;
        if shown["status"] == "disabled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(shown["status"], "disabled", "{shown}");
    assert!(text(&shown, "disabled_reason").contains("410"), "{shown}");
    let replay_refused = stack
        .call(
            Method::POST,
            &endpoints(&t, &format!("/{id}/messages/{second}/replay")),
            Some(&t.admin),
            None,
        )
        .await;
    assert_problem(&replay_refused, 409, "replay to a disabled endpoint");
    emit(&stack, &t.id, 4).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        receiver.deliveries().len(),
        8,
        "nothing to a disabled endpoint"
    );
    let enabled = expect(
        &stack,
        Method::PATCH,
        &endpoints(&t, &format!("/{id}")),
        &t.admin,
        Some(json!({"enabled": true})),
        200,
    )
    .await;
    assert_eq!(enabled["status"], "enabled");
    assert!(enabled.get("disabled_reason").is_none());

    // Failing for more than 5 days: the next failure disables it, saying since when.
    let six_days_ago = (Utc::now() - chrono::Duration::days(6)).to_rfc3339();
    age_endpoint(
        &stack,
        &t,
        &id,
        "SET failing_since = :t ADD version :n1",
        &[(":t", &six_days_ago), (":n1", "1")],
    )
    .await;
    // A fresh deliverer: no cached copy of the endpoint.
    fast_retries(&mut stack, 2).await;
    receiver.answer_always(502);
    emit(&stack, &t.id, 5).await;
    receiver.wait_for(9, Duration::from_secs(30)).await;
    for _ in 0..40 {
        shown = endpoint(&stack, &t, &id).await;
        if shown["status"] == "disabled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(shown["status"], "disabled", "{shown}");
    assert!(
        text(&shown, "disabled_reason").starts_with("every delivery failed since"),
        "{shown}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(receiver.deliveries().len(), 9, "no retry after disabling");
}

#[tokio::test]
async fn a_rotated_secret_signs_next_to_the_old_one_for_a_day() {
    let mut stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let receiver = Receiver::start(vec![]).await.expect("receiver");
    let (id, old) = register(&stack, &t, &receiver, &["crm.sync_completed"]).await;
    let rotated = expect(
        &stack,
        Method::POST,
        &endpoints(&t, &format!("/{id}/rotate-secret")),
        &t.admin,
        None,
        200,
    )
    .await;
    let new = WebhookSecret::parse(&text(&rotated, "secret")).expect("secret");
    assert_ne!(new.to_string(), old.to_string());
    assert!(rotated["endpoint"]["previous_secret_expires_at"].is_string());
    // A receiver that knows only the new secret, then one that knows only the old one: both
    // verify, since every delivery carries both signatures.
    receiver.set_secrets(vec![new.clone()]);
    emit(&stack, &t.id, 1).await;
    let got = receiver.wait_for(1, Duration::from_secs(30)).await;
    assert!(got[0].valid_signature, "{:?}", got[0]);
    assert_eq!(got[0].signature_header.split(' ').count(), 2);
    receiver.set_secrets(vec![old.clone()]);
    emit(&stack, &t.id, 2).await;
    let got = receiver.wait_for(2, Duration::from_secs(30)).await;
    assert!(got[1].valid_signature, "{:?}", got[1]);
    assert_table_lacks(&stack, &new.to_string()).await;
    assert_table_lacks(&stack, &old.to_string()).await;

    // After the overlap only the new secret signs.
    let ended = (Utc::now() - chrono::Duration::seconds(1)).to_rfc3339();
    age_endpoint(
        &stack,
        &t,
        &id,
        "SET previous_expires_at = :t",
        &[(":t", &ended)],
    )
    .await;
    fast_retries(&mut stack, 0).await;
    receiver.set_secrets(vec![new.clone()]);
    emit(&stack, &t.id, 3).await;
    let got = receiver.wait_for(3, Duration::from_secs(30)).await;
    assert!(got[2].valid_signature);
    assert_eq!(got[2].signature_header.split(' ').count(), 1);
    assert!(
        endpoint(&stack, &t, &id)
            .await
            .get("previous_secret_expires_at")
            .is_none()
    );
}

#[tokio::test]
async fn private_addresses_are_refused_at_registration_and_delivery() {
    let mut stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    for url in [
        "http://hooks.example.com/in",
        "https://10.0.0.7/in",
        "https://192.168.1.20:8443/in",
        "https://169.254.169.254/latest/meta-data",
        "https://[fd00::1]/in",
        "https://100.100.100.200/in",
        "https://metadata.google.internal/in",
        "https://intranet/in",
        "https://user:pass@hooks.example.com/in",
        "ftp://hooks.example.com/in",
        "not a url",
    ] {
        let answer = stack
            .call(
                Method::POST,
                &endpoints(&t, ""),
                Some(&t.admin),
                Some(json!({"url": url, "event_types": ["message.sent"]})),
            )
            .await;
        assert_problem(&answer, 422, url);
        assert_eq!(first_field(&answer), "url", "{url}");
    }
    let answer = stack
        .call(
            Method::POST,
            &endpoints(&t, ""),
            Some(&t.admin),
            Some(json!({"url": "https://127.0.0.1:9/in", "event_types": []})),
        )
        .await;
    assert_problem(&answer, 422, "no event types");
    // The local stack allows 127.0.0.1 explicitly; the deployed policy refuses it even for an
    // endpoint already stored, at delivery, without making the request.
    let receiver = Receiver::start(vec![]).await.expect("receiver");
    let (id, secret) = register(&stack, &t, &receiver, &["crm.sync_completed"]).await;
    receiver.set_secrets(vec![secret]);
    let deployed = stack
        .webhooks()
        .expect("deliverer")
        .with_policy(LoopbackPolicy::Refuse)
        .expect("policy")
        .with_retry_policy(RetryPolicy {
            delays: vec![],
            disable_after: RetryPolicy::default().disable_after,
        });
    stack.replace_webhooks(deployed).await.expect("replace");
    emit(&stack, &t.id, 1).await;
    let listed = attempts_until(&stack, &t, &id, |a| !a.is_empty()).await;
    assert_eq!(listed[0]["outcome"], "refused", "{listed:?}");
    assert!(receiver.deliveries().is_empty(), "no request was made");
}

/// `make bench`: deliveries per second through the local stack (emit, SQS, the sender's
/// deliverer, the receiver, the attempt records), and the signing and HTTP side alone.
#[tokio::test]
#[ignore = "a benchmark: make bench runs it"]
async fn benchmark_webhook_delivery_throughput() {
    const N: usize = 1_000;
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let receiver = Receiver::start(vec![]).await.expect("receiver");
    let (id, secret) = register(&stack, &t, &receiver, &["crm.sync_completed"]).await;
    receiver.set_secrets(vec![secret.clone()]);
    let tenant_id: TenantId = t.id.parse().expect("tenant");
    let events: Vec<WebhookEvent> = (0..N)
        .map(|n| WebhookEvent {
            tenant: tenant_id,
            kind: WebhookEventType::CrmSyncCompleted,
            key: format!("bench-{n}"),
            at: Utc::now(),
            data: json!({"run_id": format!("syn_{n}"), "pulled": n, "pushed": n}),
        })
        .collect();
    let emitter = Emitter::new(
        stack.state.store.clone(),
        stack.state.queues.sqs.clone(),
        Some(stack.state.queues.webhooks.clone()),
    );
    let started = std::time::Instant::now();
    assert_eq!(emitter.emit(&events).await.expect("emit"), N);
    let emit_seconds = started.elapsed().as_secs_f64();
    let got = receiver.wait_for(N, Duration::from_secs(600)).await;
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(got.len(), N);
    assert!(got.iter().all(|d| d.valid_signature && d.answered == 200));
    let recorded = attempts_until(&stack, &t, &id, |a| !a.is_empty()).await;
    assert_eq!(recorded[0]["outcome"], "delivered");

    // Signing and HTTP alone: the deliverer's client, 10 at a time, to the same receiver.
    let direct = Receiver::start(vec![secret.clone()])
        .await
        .expect("receiver");
    let client =
        herald::webhooks::webhook_http_client(LoopbackPolicy::AllowLoopback).expect("client");
    let body = events[0].payload();
    let url = format!("{}/hooks", direct.url());
    let http_started = std::time::Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for n in 0..N {
        if set.len() >= 10 {
            set.join_next().await;
        }
        let (client, url, body, secret) =
            (client.clone(), url.clone(), body.clone(), secret.clone());
        set.spawn(async move {
            let id = format!("whm_bench{n}");
            let ts = Utc::now().timestamp();
            let signature =
                herald::webhooks::signature_header(&[&secret], &id, ts, body.as_bytes());
            client
                .post(&url)
                .header(herald::webhooks::HEADER_ID, id)
                .header(herald::webhooks::HEADER_TIMESTAMP, ts.to_string())
                .header(herald::webhooks::HEADER_SIGNATURE, signature)
                .body(body)
                .send()
                .await
                .map(|r| r.status().as_u16())
        });
    }
    while set.join_next().await.is_some() {}
    let http_seconds = http_started.elapsed().as_secs_f64();
    assert_eq!(direct.deliveries().len(), N);
    println!(
        "BENCH {}",
        json!({
            "deliveries": N,
            "emit_seconds": emit_seconds,
            "wall_seconds": wall,
            "per_second": N as f64 / wall,
            "sqs_send_batches": N.div_ceil(10),
            "http_seconds": http_seconds,
            "http_per_second": N as f64 / http_seconds,
        })
    );
}
