//! Template versions: every save is a new immutable version; history, one version, restore.

mod common;

use axum::http::Method;
use common::*;
use serde_json::json;

#[tokio::test]
async fn every_save_is_a_version_and_old_ones_can_be_restored() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let tpl = id(&template(&stack, &t.admin, "", "reminder", "sms", "first").await);
    let uri = format!("/api/v1/communication/templates/{tpl}");
    for (version, text) in [
        (1, "second {{ guest.first_name }}"),
        (2, "third {{ guest.first_name }}"),
    ] {
        expect(
            &stack,
            Method::PUT,
            &uri,
            &t.admin,
            Some(json!({"version": version, "text": text})),
            200,
        )
        .await;
    }

    let history = expect(
        &stack,
        Method::GET,
        &format!("{uri}/versions"),
        &t.admin,
        None,
        200,
    )
    .await;
    let versions: Vec<(u64, String)> = items(&history)
        .iter()
        .map(|v| (v["version"].as_u64().unwrap_or_default(), text(v, "text")))
        .collect();
    assert_eq!(
        versions,
        [
            (3, "third {{ guest.first_name }}".to_owned()),
            (2, "second {{ guest.first_name }}".to_owned()),
            (1, "first {{ guest.first_name }}".to_owned())
        ]
    );
    let v1 = expect(
        &stack,
        Method::GET,
        &format!("{uri}/versions/1"),
        &t.admin,
        None,
        200,
    )
    .await;
    assert_eq!(text(&v1, "text"), "first {{ guest.first_name }}");

    // Restoring version 1 makes version 4 with its content; a stale current version is a 409.
    let stale = stack
        .call(
            Method::POST,
            &format!("{uri}/versions/1/restore"),
            Some(&t.admin),
            Some(json!({"version": 2})),
        )
        .await;
    assert_problem(&stale, 409, "restore with a stale version");
    assert_eq!(stale.body["current_version"], 3);
    let restored = expect(
        &stack,
        Method::POST,
        &format!("{uri}/versions/1/restore"),
        &t.admin,
        Some(json!({"version": 3})),
        200,
    )
    .await;
    assert_eq!(
        (restored["version"].as_u64(), text(&restored, "text")),
        (Some(4), "first {{ guest.first_name }}".to_owned())
    );
    let current = expect(&stack, Method::GET, &uri, &t.admin, None, 200).await;
    assert_eq!(current["version"], 4);
    let history = expect(
        &stack,
        Method::GET,
        &format!("{uri}/versions"),
        &t.admin,
        None,
        200,
    )
    .await;
    assert_eq!(items(&history).len(), 4);

    // Versions that do not exist, and other tenants, are 404.
    assert_problem(
        &stack
            .call(
                Method::GET,
                &format!("{uri}/versions/9"),
                Some(&t.admin),
                None,
            )
            .await,
        404,
        "missing version",
    );
    assert_problem(
        &stack
            .call(
                Method::GET,
                &format!("{uri}/versions/x"),
                Some(&t.admin),
                None,
            )
            .await,
        404,
        "bad version",
    );
    let other = tenant(&stack, "Other").await;
    for (method, path) in [
        (Method::GET, format!("{uri}/versions")),
        (Method::GET, format!("{uri}/versions/1")),
    ] {
        assert_problem(
            &stack.call(method, &path, Some(&other.admin), None).await,
            404,
            "another tenant",
        );
    }
    let cross = stack
        .call(
            Method::POST,
            &format!("{uri}/versions/1/restore"),
            Some(&other.admin),
            Some(json!({"version": 4})),
        )
        .await;
    assert_problem(&cross, 404, "another tenant restoring");
}

#[tokio::test]
async fn a_recreated_slot_starts_a_history_of_its_own() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let first = id(&template(&stack, &t.admin, "", "survey", "email", "old").await);
    expect(
        &stack,
        Method::DELETE,
        &format!("/api/v1/communication/templates/{first}"),
        &t.admin,
        None,
        204,
    )
    .await;
    let second = id(&template(&stack, &t.admin, "", "survey", "email", "new").await);
    assert_ne!(first, second);
    let history = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/communication/templates/{second}/versions"),
        &t.admin,
        None,
        200,
    )
    .await;
    assert_eq!(items(&history).len(), 1);
    // The deleted template's history is still readable.
    let old = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/communication/templates/{first}/versions/1"),
        &t.admin,
        None,
        200,
    )
    .await;
    assert!(text(&old, "subject").starts_with("old"));
}
