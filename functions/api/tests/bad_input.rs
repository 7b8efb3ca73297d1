//! Bad input: every malformed request is answered with an application/problem+json of the right
//! status, and nothing is written.

mod common;

use axum::body::Body;
use axum::http::{Method, Request};
use common::*;
use serde_json::{Value, json};

fn raw(
    method: Method,
    uri: &str,
    key: Option<&str>,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> Request<Body> {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    request.body(body.into()).expect("a request")
}

#[tokio::test]
async fn malformed_bodies_are_problems_and_write_nothing() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let key = Some(t.admin.as_str());
    let before = scan(&stack).await;

    // Malformed JSON, trailing garbage: 400.
    let trailing = format!("{} {{}}", event_json("Gala"));
    for body in [
        r#"{"name": "Gala", "starts_at": "#,
        trailing.as_str(),
        "not json",
        "",
    ] {
        let answer = stack
            .send(raw(
                Method::POST,
                "/api/v1/events",
                key,
                Some("application/json"),
                body.to_owned(),
            ))
            .await;
        assert_problem(&answer, 400, body);
        assert_eq!(answer.body["type"], "/problems/bad-request");
    }
    // Unknown field: 422 naming it.
    let mut body = event_json("Gala");
    body["colour"] = json!("red");
    let answer = stack
        .call(Method::POST, "/api/v1/events", key, Some(body))
        .await;
    assert_problem(&answer, 422, "unknown field");
    assert_eq!(answer.body["type"], "/problems/validation");
    assert_eq!(first_field(&answer), "colour");
    let message = text(&answer.body["errors"][0], "message");
    assert!(message.starts_with("unknown field `colour`"), "{message}");
    // Wrong type: 422 on the field.
    let mut body = event_json("Gala");
    body["name"] = json!(42);
    let answer = stack
        .call(Method::POST, "/api/v1/events", key, Some(body))
        .await;
    assert_problem(&answer, 422, "wrong type");
    assert_eq!(first_field(&answer), "name");
    for (field, value) in [
        ("time_zone", json!("Mars/Olympus")),
        ("default_locale", json!("english")),
        ("starts_at", json!("tomorrow")),
    ] {
        let mut body = event_json("Gala");
        body[field] = value;
        let answer = stack
            .call(Method::POST, "/api/v1/events", key, Some(body))
            .await;
        assert_problem(&answer, 422, field);
        assert_eq!(first_field(&answer), field);
    }
    // Not an object at all.
    let answer = stack
        .call(Method::POST, "/api/v1/events", key, Some(json!([1, 2])))
        .await;
    assert_problem(&answer, 422, "an array body");
    // Missing Content-Type, or another one: 415.
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let answer = stack
            .send(raw(
                Method::POST,
                "/api/v1/events",
                key,
                ct,
                event_json("Gala").to_string(),
            ))
            .await;
        assert_problem(&answer, 415, &format!("content type {ct:?}"));
    }
    // A body over 1 MiB: 413.
    let mut big = event_json("Gala");
    big["name"] = json!("x".repeat(1024 * 1024 + 1));
    let answer = stack
        .send(raw(
            Method::POST,
            "/api/v1/events",
            key,
            Some("application/json"),
            big.to_string(),
        ))
        .await;
    assert_problem(&answer, 413, "1 MiB body");
    let answer = stack
        .send(raw(
            Method::PUT,
            "/api/v1/communication/brand",
            key,
            Some("application/json"),
            big.to_string(),
        ))
        .await;
    assert_problem(&answer, 413, "1 MiB brand");
    // Names out of bounds.
    for name in ["   ", &"n".repeat(201)] {
        let answer = stack
            .call(Method::POST, "/api/v1/events", key, Some(event_json(name)))
            .await;
        assert_problem(&answer, 422, "bad name");
        assert_eq!(first_field(&answer), "name");
    }
    assert_eq!(
        scan(&stack).await,
        before,
        "a rejected request wrote something"
    );
    let events = expect(&stack, Method::GET, "/api/v1/events", &t.admin, None, 200).await;
    assert_eq!(items(&events), Vec::<Value>::new());
}

#[tokio::test]
async fn ids_queries_routes_methods_and_keys() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let evt = event(&stack, &t.admin, "", "Gala").await;
    let tpl = id(&template(&stack, &t.admin, "", "invitation", "sms", "x").await);
    let prv = id(&provider(&stack, &t.admin, "", sns_json("sns")).await);
    let key = Some(t.admin.as_str());
    let before = scan(&stack).await;
    // Ids of the wrong kind (or no id at all) name nothing: 404.
    for (method, uri) in [
        (Method::GET, format!("/api/v1/events/{tpl}")),
        (
            Method::GET,
            format!("/api/v1/events/{}", evt.replace("evt_", "ten_")),
        ),
        (Method::GET, format!("/api/v1/events/{prv}/configuration")),
        (Method::GET, format!("/api/v1/tenants/{evt}")),
        (
            Method::GET,
            format!("/api/v1/communication/providers/{tpl}"),
        ),
        (
            Method::DELETE,
            format!("/api/v1/communication/providers/{evt}"),
        ),
        (
            Method::POST,
            format!("/api/v1/communication/providers/{tpl}/test"),
        ),
        (
            Method::GET,
            format!("/api/v1/communication/templates/{prv}"),
        ),
        (
            Method::DELETE,
            format!("/api/v1/communication/templates/{evt}"),
        ),
        (
            Method::POST,
            format!("/api/v1/communication/templates/{prv}/test"),
        ),
        (Method::GET, format!("/api/v1/api-keys/{evt}")),
        (Method::DELETE, format!("/api/v1/api-keys/{}", t.id)),
        (Method::GET, "/api/v1/api-keys/key_not-a-ulid".to_owned()),
        (
            Method::GET,
            "/api/v1/communication/compliance/terms_of_service".to_owned(),
        ),
    ] {
        let answer = stack.call(method.clone(), &uri, key, None).await;
        assert_problem(&answer, 404, &format!("{method} {uri}"));
    }
    // Unknown or malformed query parameters: 400.
    for uri in [
        "/api/v1/events?page=2".to_owned(),
        "/api/v1/communication/templates?tenantId=x".to_owned(),
        format!("/api/v1/communication/providers?event_id={tpl}"),
        "/api/v1/api-keys?tenant_id=nope".to_owned(),
        format!("/api/v1/communication/templates/effective?event_id={evt}&verbose=1"),
        "/api/v1/communication/providers/effective".to_owned(),
    ] {
        let answer = stack.call(Method::GET, &uri, key, None).await;
        assert_problem(&answer, 400, &uri);
    }
    // No key, a garbage key, another scheme: 401 with WWW-Authenticate.
    for header in [
        None,
        Some("Bearer hrk_garbage"),
        Some("Bearer "),
        Some("Basic dXNlcjpwYXNz"),
        Some(t.admin.as_str()),
    ] {
        let mut request = Request::builder().uri("/api/v1/events");
        if let Some(h) = header {
            request = request.header("authorization", h);
        }
        let answer = stack
            .send(request.body(Body::empty()).expect("request"))
            .await;
        assert_problem(&answer, 401, &format!("authorization {header:?}"));
        assert_eq!(
            answer
                .headers
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer")
        );
    }
    // Unknown routes and wrong methods are problems too, with or without a key.
    for k in [None, key] {
        for uri in [
            "/api/v1/nothing",
            "/api/v2/events",
            "/",
            "/api/v1/events/x/y/z",
        ] {
            let answer = stack.call(Method::GET, uri, k, None).await;
            assert_problem(&answer, 404, uri);
        }
        for (method, uri) in [
            (Method::DELETE, "/api/v1/tenants".to_owned()),
            (Method::PATCH, format!("/api/v1/events/{evt}")),
            (Method::DELETE, format!("/api/v1/events/{evt}")),
            (
                Method::POST,
                "/api/v1/communication/templates/effective".to_owned(),
            ),
            (
                Method::GET,
                format!("/api/v1/communication/providers/{prv}/test"),
            ),
            (
                Method::DELETE,
                "/api/v1/communication/compliance/gdpr_notice".to_owned(),
            ),
            (Method::POST, "/api/v1/openapi.json".to_owned()),
        ] {
            let answer = stack.call(method.clone(), &uri, k, None).await;
            assert_problem(&answer, 405, &format!("{method} {uri}"));
        }
    }
    assert_eq!(
        scan(&stack).await,
        before,
        "a rejected request wrote something"
    );
}
