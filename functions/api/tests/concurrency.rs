//! Optimistic concurrency: of two PUTs naming the same version the first wins (200) and the
//! second is a 409 problem carrying the current version; the loser changed nothing.

mod common;

use axum::http::Method;
use common::*;
use serde_json::{Value, json};

/// PUTs `first` then `second` (both naming the same version) to `uri`; checks 200 then 409 with
/// `current_version == expected_current`, and that a GET of `read` still shows the first.
async fn race(
    stack: &TestStack,
    key: &str,
    uri: &str,
    read: &str,
    first: Value,
    second: Value,
    expected_current: u64,
) {
    let won = expect(stack, Method::PUT, uri, key, Some(first), 200).await;
    assert_eq!(
        won["version"],
        json!(expected_current),
        "{uri}: the winner's version"
    );
    let lost = stack.call(Method::PUT, uri, Some(key), Some(second)).await;
    assert_problem(&lost, 409, uri);
    assert_eq!(lost.body["type"], "/problems/conflict");
    assert_eq!(
        lost.body["current_version"],
        json!(expected_current),
        "{uri}: {}",
        lost.body
    );
    let now = expect(stack, Method::GET, read, key, None, 200).await;
    assert_eq!(now, won, "{uri}: the loser must not have written");
}

#[tokio::test]
async fn tenants_and_events() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let uri = format!("/api/v1/tenants/{}", t.id);
    race(
        &stack,
        &t.admin,
        &uri,
        &uri,
        json!({"version": 1, "name": "First"}),
        json!({"version": 1, "name": "Second"}),
        2,
    )
    .await;
    // Retrying with the version the 409 gave succeeds.
    let retried = expect(
        &stack,
        Method::PUT,
        &uri,
        &t.admin,
        Some(json!({"version": 2, "name": "Second"})),
        200,
    )
    .await;
    assert_eq!(retried["version"], 3);
    // A version from the future is stale too.
    let answer = stack
        .call(
            Method::PUT,
            &uri,
            Some(&t.admin),
            Some(json!({"version": 9, "name": "Future"})),
        )
        .await;
    assert_problem(&answer, 409, "future version");
    assert_eq!(answer.body["current_version"], 3);

    let evt = event(&stack, &t.admin, "", "Gala").await;
    let uri = format!("/api/v1/events/{evt}");
    let put = |name: &str| {
        let mut e = event_json(name);
        e["version"] = json!(1);
        e
    };
    race(&stack, &t.admin, &uri, &uri, put("First"), put("Second"), 2).await;
}

#[tokio::test]
async fn templates_and_providers() {
    let stack = stack().await;
    let admin = stack.admin_key.clone();
    let t = tenant(&stack, "Acme").await;
    let evt = event(&stack, &t.admin, "", "Gala").await;
    for (key, query) in [
        (&admin, String::new()),
        (&t.admin, String::new()),
        (&t.admin, format!("?event_id={evt}")),
    ] {
        let tpl = id(&template(&stack, key, &query, "invitation", "sms", "v1").await);
        let uri = format!("/api/v1/communication/templates/{tpl}{query}");
        race(
            &stack,
            key,
            &uri,
            &uri,
            json!({"version": 1, "text": "first"}),
            json!({"version": 1, "text": "second"}),
            2,
        )
        .await;
    }
    for query in [String::new(), format!("?event_id={evt}")] {
        let prv = id(&provider(&stack, &t.admin, &query, ses_json("ses", "a@acme.example")).await);
        let uri = format!("/api/v1/communication/providers/{prv}{query}");
        let put = |name: &str| {
            json!({"version": 1, "name": name, "priority": 3, "active": true,
                                      "settings": {"from_address": "b@acme.example"}})
        };
        race(&stack, &t.admin, &uri, &uri, put("first"), put("second"), 2).await;
    }
}

#[tokio::test]
async fn brands_and_compliance_blocks() {
    let stack = stack().await;
    let admin = stack.admin_key.clone();
    let t = tenant(&stack, "Acme").await;
    let evt = event(&stack, &t.admin, "", "Gala").await;
    for query in [String::new(), format!("?event_id={evt}")] {
        let uri = format!("/api/v1/communication/brand{query}");
        // Two first writes (version 0): the second finds the first.
        race(
            &stack,
            &t.admin,
            &uri,
            &uri,
            json!({"version": 0, "footer": "first"}),
            json!({"version": 0, "footer": "second"}),
            1,
        )
        .await;
        race(
            &stack,
            &t.admin,
            &uri,
            &uri,
            json!({"version": 1, "footer": "third"}),
            json!({"version": 1, "footer": "fourth"}),
            2,
        )
        .await;
    }
    let uri = "/api/v1/communication/compliance/gdpr_notice";
    race(
        &stack,
        &admin,
        uri,
        uri,
        json!({"version": 0, "text": "first"}),
        json!({"version": 0, "text": "second"}),
        1,
    )
    .await;
    race(
        &stack,
        &admin,
        uri,
        uri,
        json!({"version": 1, "text": "third"}),
        json!({"version": 1, "text": "fourth"}),
        2,
    )
    .await;
}

#[tokio::test]
async fn a_put_to_something_never_written_is_404_not_409() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let uri = "/api/v1/communication/compliance/opt_out_text";
    // A block never written, updated "from" version 3: nothing to conflict with.
    let answer = stack
        .call(
            Method::PUT,
            uri,
            Some(&stack.admin_key),
            Some(json!({"version": 3, "text": "x"})),
        )
        .await;
    assert_problem(&answer, 404, "update of a block never written");
    let answer = stack
        .call(
            Method::PUT,
            "/api/v1/communication/brand",
            Some(&t.admin),
            Some(json!({"version": 2, "footer": "x"})),
        )
        .await;
    assert_problem(&answer, 404, "update of a brand never written");
    let answer = stack
        .call(Method::GET, uri, Some(&stack.admin_key), None)
        .await;
    assert_problem(&answer, 404, "still nothing");
}

#[tokio::test]
async fn the_largest_version_is_a_conflict_not_a_crash() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let evt = event(&stack, &t.admin, "", "Gala").await;
    let max = u64::MAX;
    let tpl = id(&template(&stack, &t.admin, "", "invitation", "sms", "x").await);
    let prv = id(&provider(&stack, &t.admin, "", sns_json("sns")).await);
    let mut failures = Vec::new();
    let mut event_put = event_json("x");
    event_put["version"] = json!(max);
    // Stale against what exists (409); nothing to update where nothing was written (404).
    for (key, uri, body, expected) in [
        (
            &t.admin,
            format!("/api/v1/tenants/{}", t.id),
            json!({"version": max, "name": "x"}),
            409,
        ),
        (&t.admin, format!("/api/v1/events/{evt}"), event_put, 409),
        (
            &t.admin,
            "/api/v1/communication/brand".to_owned(),
            json!({"version": max, "footer": "x"}),
            404,
        ),
        (
            &stack.admin_key,
            "/api/v1/communication/compliance/legal_footer".to_owned(),
            json!({"version": max, "text": "x"}),
            404,
        ),
        (
            &t.admin,
            format!("/api/v1/communication/templates/{tpl}"),
            json!({"version": max, "text": "x"}),
            409,
        ),
        (
            &t.admin,
            format!("/api/v1/communication/providers/{prv}"),
            json!({"version": max, "name": "x", "priority": 1, "active": true, "settings": {}}),
            409,
        ),
    ] {
        // version + 1 must not overflow (a panic in debug builds, a wrap to 0 in release).
        let answer = tokio::spawn({
            let router = stack.router.clone();
            let request = axum::http::Request::builder()
                .method(Method::PUT)
                .uri(&uri)
                .header("authorization", format!("Bearer {key}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .expect("request");
            async move { tower::ServiceExt::oneshot(router, request).await }
        })
        .await;
        match answer {
            Ok(Ok(response)) if response.status().as_u16() == expected => {}
            Ok(Ok(response)) => failures.push(format!(
                "PUT {uri}: {} instead of {expected}",
                response.status()
            )),
            Ok(Err(never)) => match never {},
            Err(panic) => failures.push(format!("PUT {uri}: the handler panicked: {panic}")),
        }
    }
    assert!(
        failures.is_empty(),
        "version u64::MAX:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn simultaneous_writes_have_exactly_one_winner() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let evt = event(&stack, &t.admin, "", "Gala").await;
    let key = Some(t.admin.as_str());
    let statuses = |answers: [Answer; 4]| {
        let mut s: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
        s.sort();
        s
    };
    // Four PUTs of version 1 of the event at once.
    let uri = format!("/api/v1/events/{evt}");
    let put = |name: &str| {
        let mut e = event_json(name);
        e["version"] = json!(1);
        Some(e)
    };
    let answers = tokio::join!(
        stack.call(Method::PUT, &uri, key, put("a")),
        stack.call(Method::PUT, &uri, key, put("b")),
        stack.call(Method::PUT, &uri, key, put("c")),
        stack.call(Method::PUT, &uri, key, put("d")),
    );
    let answers = [answers.0, answers.1, answers.2, answers.3];
    let winner = answers
        .iter()
        .find(|a| a.status.as_u16() == 200)
        .map(|a| a.body.clone());
    assert_eq!(statuses(answers), vec![200, 409, 409, 409]);
    let now = expect(&stack, Method::GET, &uri, &t.admin, None, 200).await;
    assert_eq!(Some(now), winner);
    // Four first writes of the tenant's brand.
    let uri = "/api/v1/communication/brand";
    let first = |footer: &str| Some(json!({"version": 0, "footer": footer}));
    let answers = tokio::join!(
        stack.call(Method::PUT, uri, key, first("a")),
        stack.call(Method::PUT, uri, key, first("b")),
        stack.call(Method::PUT, uri, key, first("c")),
        stack.call(Method::PUT, uri, key, first("d")),
    );
    assert_eq!(
        statuses([answers.0, answers.1, answers.2, answers.3]),
        vec![200, 409, 409, 409]
    );
    // Four templates for the same slot.
    let uri = "/api/v1/communication/templates";
    let body = |m: &str| Some(template_json("invitation", "sms", m));
    let answers = tokio::join!(
        stack.call(Method::POST, uri, key, body("a")),
        stack.call(Method::POST, uri, key, body("b")),
        stack.call(Method::POST, uri, key, body("c")),
        stack.call(Method::POST, uri, key, body("d")),
    );
    assert_eq!(
        statuses([answers.0, answers.1, answers.2, answers.3]),
        vec![201, 409, 409, 409]
    );
    let listed = expect(&stack, Method::GET, uri, &t.admin, None, 200).await;
    assert_eq!(items(&listed).len(), 1);
}
