//! Email sender identities: registered with SES, DNS records, live status, one tenant per identity.

mod common;

use axum::http::Method;
use common::*;
use serde_json::json;

const SENDERS: &str = "/api/v1/communication/senders";

#[tokio::test]
async fn a_tenant_registers_reads_and_removes_a_sender() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let created = expect(
        &stack,
        Method::POST,
        SENDERS,
        &t.admin,
        Some(json!({"identity": "Acme.Example"})),
        201,
    )
    .await;
    assert_eq!(created["identity"], "acme.example");
    assert_eq!(created["kind"], "domain");
    let records = created["records"].as_array().cloned().unwrap_or_default();
    let spf = records
        .iter()
        .find(|r| r["purpose"] == "spf")
        .expect("an SPF record");
    assert_eq!(
        (spf["type"].as_str(), spf["name"].as_str()),
        (Some("TXT"), Some("acme.example"))
    );
    assert!(
        spf["value"]
            .as_str()
            .unwrap_or_default()
            .contains("include:amazonses.com")
    );
    let dmarc = records
        .iter()
        .find(|r| r["purpose"] == "dmarc")
        .expect("a DMARC record");
    assert_eq!(dmarc["name"], "_dmarc.acme.example");

    // SES has it now.
    let ses = aws_sdk_sesv2::Client::new(&stack.sdk);
    assert!(
        ses.get_email_identity()
            .email_identity("acme.example")
            .send()
            .await
            .is_ok()
    );

    let read = expect(
        &stack,
        Method::GET,
        &format!("{SENDERS}/acme.example"),
        &t.admin,
        None,
        200,
    )
    .await;
    assert_eq!(read["verification_status"], "SUCCESS");
    assert!(read["dkim_status"].is_string());
    let listed = expect(&stack, Method::GET, SENDERS, &t.admin, None, 200).await;
    assert_eq!(ids_of(&listed), ["acme.example"]);

    // An address works too.
    let address = expect(
        &stack,
        Method::POST,
        SENDERS,
        &t.admin,
        Some(json!({"identity": "events@acme.example"})),
        201,
    )
    .await;
    assert_eq!(address["kind"], "email_address");

    expect(
        &stack,
        Method::DELETE,
        &format!("{SENDERS}/acme.example"),
        &t.admin,
        None,
        204,
    )
    .await;
    assert!(
        ses.get_email_identity()
            .email_identity("acme.example")
            .send()
            .await
            .is_err()
    );
    assert_problem(
        &stack
            .call(
                Method::GET,
                &format!("{SENDERS}/acme.example"),
                Some(&t.admin),
                None,
            )
            .await,
        404,
        "deleted",
    );
}

#[tokio::test]
async fn an_identity_belongs_to_one_tenant_at_a_time() {
    let stack = stack().await;
    let a = tenant(&stack, "A").await;
    let b = tenant(&stack, "B").await;
    expect(
        &stack,
        Method::POST,
        SENDERS,
        &a.admin,
        Some(json!({"identity": "shared.example"})),
        201,
    )
    .await;
    for key in [&a.admin, &b.admin] {
        let again = stack
            .call(
                Method::POST,
                SENDERS,
                Some(key),
                Some(json!({"identity": "shared.example"})),
            )
            .await;
        assert_problem(&again, 409, "an identity already registered");
    }
    // B can neither see nor delete A's sender.
    for method in [Method::GET, Method::DELETE] {
        let answer = stack
            .call(
                method,
                &format!("{SENDERS}/shared.example"),
                Some(&b.admin),
                None,
            )
            .await;
        assert_problem(&answer, 404, "another tenant's sender");
    }
    assert!(items(&expect(&stack, Method::GET, SENDERS, &b.admin, None, 200).await).is_empty());
    // Once A removes it, B may register it.
    expect(
        &stack,
        Method::DELETE,
        &format!("{SENDERS}/shared.example"),
        &a.admin,
        None,
        204,
    )
    .await;
    expect(
        &stack,
        Method::POST,
        SENDERS,
        &b.admin,
        Some(json!({"identity": "shared.example"})),
        201,
    )
    .await;
}

#[tokio::test]
async fn bad_identities_and_roles() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let before = scan(&stack).await;
    for bad in ["", "acme", "not a domain.example", "@acme.example"] {
        let answer = stack
            .call(
                Method::POST,
                SENDERS,
                Some(&t.admin),
                Some(json!({"identity": bad})),
            )
            .await;
        assert_problem(&answer, 422, bad);
        assert_eq!(first_field(&answer), "identity");
    }
    assert_eq!(scan(&stack).await.len(), before.len(), "nothing written");
    let evt = event(&stack, &t.admin, "", "Gala").await;
    let (_, manager) = event_manager(&stack, &t.admin, &t.id, &[evt.as_str()]).await;
    let answer = stack
        .call(
            Method::POST,
            SENDERS,
            Some(&manager),
            Some(json!({"identity": "acme.example"})),
        )
        .await;
    assert_problem(&answer, 403, "event managers do not register senders");
}

fn ids_of(body: &serde_json::Value) -> Vec<String> {
    items(body).iter().map(|s| text(s, "identity")).collect()
}
