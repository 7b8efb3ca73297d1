//! Governance of the API: the audit log, rate limits shared by every instance, and API keys
//! that expire and rotate.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::Utc;
use common::*;
use herald::store::{ApiLimits, Bucket};
use serde_json::{Value, json};
use tower::ServiceExt as _;

const AUDIT: &str = "/api/v1/audit";

fn entries(page: &Value) -> Vec<Value> {
    items(page)
}

#[tokio::test]
async fn mutating_calls_are_audited_and_each_tenant_reads_only_its_own() {
    let stack = stack().await;
    let a = tenant(&stack, "Audited").await;
    let b = tenant(&stack, "Elsewhere").await;
    // A change, a refused change, and a read.
    let created = stack
        .call(
            Method::POST,
            "/api/v1/events",
            Some(&a.admin),
            Some(event_json("Launch")),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let request_id = created.headers["x-request-id"]
        .to_str()
        .expect("a request id")
        .to_owned();
    let refused = stack
        .call(
            Method::POST,
            "/api/v1/events",
            Some(&a.admin),
            Some(json!({"name": ""})),
        )
        .await;
    assert!(refused.status.is_client_error());
    expect(&stack, Method::GET, "/api/v1/events", &a.admin, None, 200).await;
    // The platform acting on tenant A is in A's log too.
    expect(
        &stack,
        Method::POST,
        &format!("/api/v1/events?tenant_id={}", a.id),
        &stack.admin_key,
        Some(event_json("By the platform")),
        201,
    )
    .await;

    let log = expect(&stack, Method::GET, AUDIT, &a.admin, None, 200).await;
    let log = entries(&log);
    // The platform creating A's admin key (for tenant A) is the first.
    assert_eq!(log.len(), 4, "{log:?}");
    assert_eq!(log[3]["action"], "POST /api/v1/api-keys");
    // Newest first.
    assert_eq!(log[0]["role"], "platform_admin");
    assert_eq!(log[0]["tenant_id"], a.id.as_str());
    let first = &log[2];
    assert_eq!(first["action"], "POST /api/v1/events");
    assert_eq!(first["target"], "/api/v1/events");
    assert_eq!(first["status"], 201);
    assert_eq!(first["key_id"], a.admin_key_id.as_str());
    assert_eq!(first["role"], "tenant_admin");
    assert_eq!(first["request_id"], request_id.as_str());
    let digest = first["digest"].as_str().unwrap_or_default();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    assert!(first["at"].is_string());
    assert_eq!(log[1]["status"], refused.status.as_u16());

    // Pages, newest first.
    let page = expect(
        &stack,
        Method::GET,
        &format!("{AUDIT}?limit=2"),
        &a.admin,
        None,
        200,
    )
    .await;
    assert_eq!(entries(&page).len(), 2);
    let next = expect(
        &stack,
        Method::GET,
        &format!("{AUDIT}?limit=2&cursor={}", text(&page, "next_cursor")),
        &a.admin,
        None,
        200,
    )
    .await;
    assert_eq!(entries(&next), vec![log[2].clone(), log[3].clone()]);
    assert!(next.get("next_cursor").is_none());
    // A time range.
    let later = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let none = expect(
        &stack,
        Method::GET,
        &format!("{AUDIT}?from={}", later.replace('+', "%2B")),
        &a.admin,
        None,
        200,
    )
    .await;
    assert!(entries(&none).is_empty());

    // The platform's own changes (creating tenants and their keys) are in the platform's log.
    let platform = expect(&stack, Method::GET, AUDIT, &stack.admin_key, None, 200).await;
    assert!(
        entries(&platform)
            .iter()
            .any(|e| e["action"] == "POST /api/v1/tenants"),
        "{platform}"
    );

    // B sees nothing of A's, and cannot ask for it; event managers do not read the log.
    let theirs = expect(&stack, Method::GET, AUDIT, &b.admin, None, 200).await;
    assert!(
        entries(&theirs)
            .iter()
            .all(|e| e["tenant_id"] == b.id.as_str()),
        "{theirs}"
    );
    let answer = stack
        .call(
            Method::GET,
            &format!("{AUDIT}?tenant_id={}", a.id),
            Some(&b.admin),
            None,
        )
        .await;
    assert_problem(&answer, 404, "another tenant's log");
    let event = id(&created.body);
    let (_, manager) = event_manager(&stack, &a.admin, &a.id, &[&event]).await;
    let answer = stack.call(Method::GET, AUDIT, Some(&manager), None).await;
    assert_problem(&answer, 403, "an event manager");
    // No route changes the log.
    for method in [Method::PUT, Method::DELETE, Method::POST, Method::PATCH] {
        let answer = stack
            .call(method.clone(), AUDIT, Some(&a.admin), None)
            .await;
        assert_problem(&answer, 405, &format!("{method} on the log"));
    }
    let bad = stack
        .call(
            Method::GET,
            &format!("{AUDIT}?cursor=nonsense"),
            Some(&a.admin),
            None,
        )
        .await;
    assert_problem(&bad, 400, "a forged cursor");
}

/// A GET through `router` with `key`: its status and `Retry-After`.
async fn get_with(router: &axum::Router, key: &str) -> (StatusCode, Option<u64>) {
    let response = router
        .clone()
        .oneshot(
            Request::builder()
                .uri("/api/v1/events")
                .header("authorization", format!("Bearer {key}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("an answer");
    let retry = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (response.status(), retry)
}

#[tokio::test]
async fn rate_limits_answer_429_per_key_and_per_tenant_across_instances() {
    let stack = stack().await;
    let a = tenant(&stack, "Busy").await;
    let b = tenant(&stack, "Quiet").await;
    let (_, second) = api_key(
        &stack,
        &a.admin,
        &a.id,
        json!({"name": "second", "role": "tenant_admin"}),
    )
    .await;
    let limits = ApiLimits {
        per_key: Bucket {
            per_second: 0.5,
            burst: 3,
        },
        per_tenant: Bucket {
            per_second: 0.5,
            burst: 5,
        },
    };
    // Two API instances: each has its own view of the buckets, which live in DynamoDB.
    let one = herald_api::router(stack.state.with_limits(Some(limits)));
    let two = herald_api::router(stack.state.with_limits(Some(limits)));
    for _ in 0..3 {
        assert_eq!(get_with(&one, &a.admin).await.0, StatusCode::OK);
    }
    let (status, retry) = get_with(&two, &a.admin).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the key's burst is spent"
    );
    assert!(retry.is_some_and(|s| (1..=3).contains(&s)), "{retry:?}");
    // Another key of the tenant has its own bucket, until the tenant's runs dry.
    assert_eq!(get_with(&two, &second).await.0, StatusCode::OK);
    assert_eq!(get_with(&one, &second).await.0, StatusCode::OK);
    assert_eq!(
        get_with(&one, &second).await.0,
        StatusCode::TOO_MANY_REQUESTS,
        "the tenant's burst is spent"
    );
    // Another tenant is not affected.
    assert_eq!(get_with(&one, &b.admin).await.0, StatusCode::OK);
    // The problem answer.
    let response = one
        .clone()
        .oneshot(
            Request::builder()
                .uri("/api/v1/events")
                .header("authorization", format!("Bearer {}", a.admin))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("an answer");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    // After Retry-After, the key works again.
    tokio::time::sleep(Duration::from_secs(retry.unwrap_or(2) + 1)).await;
    assert_eq!(get_with(&two, &a.admin).await.0, StatusCode::OK);
}

#[tokio::test]
async fn keys_expire_and_rotate_with_a_grace_period() {
    let stack = stack().await;
    let a = tenant(&stack, "Rotating").await;
    let keys = format!("/api/v1/api-keys?tenant_id={}", a.id);
    let soon = (Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let created = expect(
        &stack,
        Method::POST,
        &keys,
        &a.admin,
        Some(json!({"name": "short-lived", "role": "tenant_admin", "expires_at": soon})),
        201,
    )
    .await;
    let short = text(&created, "secret");
    assert!(created["expires_at"].is_string());
    expect(&stack, Method::GET, "/api/v1/events", &short, None, 200).await;
    for bad in [
        json!({"name": "past", "role": "tenant_admin", "expires_at": "2020-01-01T00:00:00Z"}),
        json!({"name": "far", "role": "tenant_admin", "expires_at": "2099-01-01T00:00:00Z"}),
    ] {
        let answer = stack
            .call(Method::POST, &keys, Some(&a.admin), Some(bad))
            .await;
        assert_problem(&answer, 422, "a bad expiry");
    }

    // Rotation: both work during the grace period, then only the new one.
    let (old_id, old) = api_key(
        &stack,
        &a.admin,
        &a.id,
        json!({"name": "ci", "role": "tenant_admin"}),
    )
    .await;
    let rotated = expect(
        &stack,
        Method::POST,
        &format!("/api/v1/api-keys/{old_id}/rotate?tenant_id={}", a.id),
        &a.admin,
        Some(json!({"grace_seconds": 2})),
        201,
    )
    .await;
    let new = text(&rotated["key"], "secret");
    assert_eq!(rotated["key"]["name"], "ci");
    assert_eq!(rotated["previous"]["replaced_by"], rotated["key"]["id"]);
    expect(&stack, Method::GET, "/api/v1/events", &old, None, 200).await;
    expect(&stack, Method::GET, "/api/v1/events", &new, None, 200).await;
    // A key is rotated once; bad grace periods are refused.
    let again = stack
        .call(
            Method::POST,
            &format!("/api/v1/api-keys/{old_id}/rotate?tenant_id={}", a.id),
            Some(&a.admin),
            None,
        )
        .await;
    assert_problem(&again, 404, "rotating a rotated key");
    let new_id = text(&rotated["key"], "id");
    let bad = stack
        .call(
            Method::POST,
            &format!("/api/v1/api-keys/{new_id}/rotate?tenant_id={}", a.id),
            Some(&a.admin),
            Some(json!({"grace_seconds": -1})),
        )
        .await;
    assert_problem(&bad, 422, "a negative grace period");
    // Another tenant cannot rotate it.
    let b = tenant(&stack, "Other").await;
    let foreign = stack
        .call(
            Method::POST,
            &format!("/api/v1/api-keys/{new_id}/rotate"),
            Some(&b.admin),
            None,
        )
        .await;
    assert_problem(&foreign, 404, "another tenant's key");

    tokio::time::sleep(Duration::from_secs(3)).await;
    for (secret, what) in [
        (&short, "an expired key"),
        (&old, "a rotated key after its grace"),
    ] {
        let answer = stack
            .call(Method::GET, "/api/v1/events", Some(secret), None)
            .await;
        assert_problem(&answer, 401, what);
    }
    expect(&stack, Method::GET, "/api/v1/events", &new, None, 200).await;
}
