//! What tenant and platform keys may do: tenant admins read but never write the platform's
//! configuration, and platform keys must name the tenant on tenant routes.

mod common;

use axum::http::Method;
use common::*;
use serde_json::json;

#[tokio::test]
async fn tenant_admins_read_but_never_write_platform_configuration() {
    let stack = stack().await;
    let admin = stack.admin_key.clone();
    let t = tenant(&stack, "Acme").await;
    let evt = event(&stack, &t.admin, "", "Gala").await;
    let platform_tpl = template(&stack, &admin, "", "invitation", "email", "platform").await;
    assert_eq!(platform_tpl["layer"], "platform");
    let platform_tpl_id = id(&platform_tpl);
    expect(
        &stack,
        Method::PUT,
        "/api/v1/communication/compliance/legal_footer",
        &admin,
        Some(json!({"version": 0, "text": "Acme Ltd, registered in England"})),
        200,
    )
    .await;
    let before = scan(&stack).await;

    assert_refused(
        &stack,
        &t.admin,
        403,
        &[
            (
                Method::PUT,
                "/api/v1/communication/compliance/legal_footer".into(),
                Some(json!({"version": 1, "text": "mine"})),
            ),
            (
                Method::PUT,
                "/api/v1/communication/compliance/opt_out_text".into(),
                Some(json!({"version": 0, "text": "mine"})),
            ),
            (
                Method::POST,
                "/api/v1/tenants".into(),
                Some(json!({"name": "another"})),
            ),
        ],
    )
    .await;
    // A tenant key cannot even address the platform layer: the platform template's id is not
    // in its scope, so writing it is a 404 and nothing changes.
    assert_refused(
        &stack,
        &t.admin,
        404,
        &[
            (
                Method::PUT,
                format!("/api/v1/communication/templates/{platform_tpl_id}"),
                Some(json!({"version": 1, "subject": "hijacked", "html": "x"})),
            ),
            (
                Method::DELETE,
                format!("/api/v1/communication/templates/{platform_tpl_id}"),
                None,
            ),
            (
                Method::GET,
                format!("/api/v1/communication/templates/{platform_tpl_id}"),
                None,
            ),
        ],
    )
    .await;
    let answer = stack
        .call(
            Method::POST,
            "/api/v1/api-keys",
            Some(&t.admin),
            Some(json!({"name": "escalate", "role": "platform_admin"})),
        )
        .await;
    assert_problem(&answer, 422, "tenant admin minting a platform key");
    assert_eq!(answer.body["errors"][0]["field"], "role");
    assert_eq!(
        scan(&stack).await,
        before,
        "a refused request wrote something"
    );

    // It reads the compliance blocks and, through inheritance, the platform templates.
    let blocks = expect(
        &stack,
        Method::GET,
        "/api/v1/communication/compliance",
        &t.admin,
        None,
        200,
    )
    .await;
    assert_eq!(items(&blocks).len(), 1);
    assert_eq!(blocks["items"][0]["name"], "legal_footer");
    let block = expect(
        &stack,
        Method::GET,
        "/api/v1/communication/compliance/legal_footer",
        &t.admin,
        None,
        200,
    )
    .await;
    assert_eq!(block["text"], "Acme Ltd, registered in England");
    assert_eq!(block["version"], 1);
    let effective = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/communication/templates/effective?event_id={evt}"),
        &t.admin,
        None,
        200,
    )
    .await;
    assert_eq!(effective["items"][0]["source"], "platform");
    assert_eq!(
        effective["items"][0]["template"]["id"],
        platform_tpl_id.as_str()
    );
    // A template it posts without a scope lands in its own tenant layer, not the platform's.
    let own = template(&stack, &t.admin, "", "invitation", "email", "tenant").await;
    assert_eq!(
        (own["layer"].clone(), own["tenant_id"].clone()),
        (json!("tenant"), json!(t.id))
    );
    let platform = expect(
        &stack,
        Method::GET,
        "/api/v1/communication/templates",
        &admin,
        None,
        200,
    )
    .await;
    assert_eq!(items(&platform), vec![platform_tpl]);
}

#[tokio::test]
async fn platform_keys_must_name_the_tenant_on_tenant_routes() {
    let stack = stack().await;
    let admin = stack.admin_key.clone();
    let t = tenant(&stack, "Acme").await;
    let evt = event(&stack, &t.admin, "", "Gala").await;
    let before = scan(&stack).await;
    assert_refused(
        &stack,
        &admin,
        400,
        &[
            (Method::GET, "/api/v1/events".into(), None),
            (
                Method::POST,
                "/api/v1/events".into(),
                Some(event_json("Nowhere")),
            ),
            (Method::GET, format!("/api/v1/events/{evt}"), None),
            (
                Method::PUT,
                format!("/api/v1/events/{evt}"),
                Some({
                    let mut e = event_json("x");
                    e["version"] = json!(1);
                    e
                }),
            ),
            (
                Method::GET,
                format!("/api/v1/events/{evt}/configuration"),
                None,
            ),
            (
                Method::GET,
                format!("/api/v1/communication/templates/effective?event_id={evt}"),
                None,
            ),
            (
                Method::GET,
                format!("/api/v1/communication/providers/effective?event_id={evt}"),
                None,
            ),
            (
                Method::GET,
                format!("/api/v1/communication/templates?event_id={evt}"),
                None,
            ),
            (Method::GET, "/api/v1/communication/providers".into(), None),
            (
                Method::POST,
                "/api/v1/communication/providers".into(),
                Some(sns_json("sms")),
            ),
            (Method::GET, "/api/v1/communication/brand".into(), None),
            (
                Method::PUT,
                "/api/v1/communication/brand".into(),
                Some(json!({"version": 0, "footer": "f"})),
            ),
            (
                Method::POST,
                "/api/v1/api-keys".into(),
                Some(json!({"name": "k", "role": "tenant_admin"})),
            ),
        ],
    )
    .await;
    assert_eq!(
        scan(&stack).await,
        before,
        "a refused request wrote something"
    );
    // With tenant_id the same requests work.
    let q = format!("?tenant_id={}", t.id);
    let events = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events{q}"),
        &admin,
        None,
        200,
    )
    .await;
    assert_eq!(ids(&events), vec![evt.clone()]);
    expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{evt}/configuration{q}"),
        &admin,
        None,
        200,
    )
    .await;
    expect(
        &stack,
        Method::GET,
        &format!("/api/v1/communication/providers{q}"),
        &admin,
        None,
        200,
    )
    .await;
    expect(
        &stack,
        Method::GET,
        &format!(
            "/api/v1/communication/templates?tenant_id={}&event_id={evt}",
            t.id
        ),
        &admin,
        None,
        200,
    )
    .await;
    // A tenant that does not exist is a 404.
    let ghost = "ten_01JD2Z7Q8V0M3R5T6W9X1Y2Z3A";
    let answer = stack
        .call(
            Method::GET,
            &format!("/api/v1/events?tenant_id={ghost}"),
            Some(&admin),
            None,
        )
        .await;
    assert_problem(&answer, 404, "unknown tenant");
}
