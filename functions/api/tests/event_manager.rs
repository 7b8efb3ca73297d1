//! Event managers: they read their tenant's defaults and configure only the events on their key;
//! every other event of their tenant is a 404 and every tenant-level write a 403.

mod common;

use axum::http::Method;
use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn event_managers_configure_only_their_events() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let mine = event(&stack, &t.admin, "", "Gala").await;
    let other = event(&stack, &t.admin, "", "Other").await;
    let tenant_tpl = id(&template(&stack, &t.admin, "", "invitation", "email", "tenant").await);
    let tenant_prv = id(&provider(
        &stack,
        &t.admin,
        "",
        ses_json("tenant ses", "events@acme.example"),
    )
    .await);
    expect(
        &stack,
        Method::PUT,
        "/api/v1/communication/brand",
        &t.admin,
        Some(json!({"version": 0, "primary_color": "#112233"})),
        200,
    )
    .await;
    let other_tpl = id(&template(
        &stack,
        &t.admin,
        &format!("?event_id={other}"),
        "reminder",
        "sms",
        "other",
    )
    .await);
    let (_, em) = event_manager(&stack, &t.admin, &t.id, &[&mine]).await;
    let before = scan(&stack).await;

    // 403: creating events, tenant-level providers and templates, keys; tenant-level writes.
    assert_refused(
        &stack,
        &em,
        403,
        &[
            (
                Method::POST,
                "/api/v1/events".into(),
                Some(event_json("Sneaky")),
            ),
            (
                Method::POST,
                "/api/v1/communication/providers".into(),
                Some(sns_json("sms")),
            ),
            (
                Method::POST,
                "/api/v1/communication/templates".into(),
                Some(template_json("invitation", "sms", "x")),
            ),
            (
                Method::POST,
                format!("/api/v1/api-keys?tenant_id={}", t.id),
                Some(json!({"name": "k", "role": "tenant_admin"})),
            ),
            (
                Method::POST,
                "/api/v1/api-keys".into(),
                Some(json!({"name": "k", "role": "event_manager", "event_ids": [mine]})),
            ),
            (Method::GET, "/api/v1/api-keys".into(), None),
            (
                Method::DELETE,
                format!("/api/v1/api-keys/{}", t.admin_key_id),
                None,
            ),
            (
                Method::PUT,
                format!("/api/v1/tenants/{}", t.id),
                Some(json!({"version": 1, "name": "Mine now"})),
            ),
            (
                Method::PUT,
                format!("/api/v1/communication/templates/{tenant_tpl}"),
                Some(json!({"version": 1, "subject": "s", "html": "h"})),
            ),
            (
                Method::DELETE,
                format!("/api/v1/communication/templates/{tenant_tpl}"),
                None,
            ),
            (
                Method::PUT,
                format!("/api/v1/communication/providers/{tenant_prv}"),
                Some(
                    json!({"version": 1, "name": "n", "priority": 1, "active": false,
                        "settings": {"from_address": "x@acme.example"}}),
                ),
            ),
            (
                Method::DELETE,
                format!("/api/v1/communication/providers/{tenant_prv}"),
                None,
            ),
            (
                Method::PUT,
                "/api/v1/communication/brand".into(),
                Some(json!({"version": 1, "primary_color": "#000000"})),
            ),
        ],
    )
    .await;
    // 404: an event of its tenant that is not on the key, however it is addressed.
    assert_refused(
        &stack,
        &em,
        404,
        &[
            (Method::GET, format!("/api/v1/events/{other}"), None),
            (
                Method::PUT,
                format!("/api/v1/events/{other}"),
                Some({
                    let mut e = event_json("x");
                    e["version"] = json!(1);
                    e
                }),
            ),
            (
                Method::GET,
                format!("/api/v1/events/{other}/configuration"),
                None,
            ),
            (
                Method::GET,
                format!("/api/v1/communication/templates/effective?event_id={other}"),
                None,
            ),
            (
                Method::GET,
                format!("/api/v1/communication/providers/effective?event_id={other}"),
                None,
            ),
            (
                Method::GET,
                format!("/api/v1/communication/templates?event_id={other}"),
                None,
            ),
            (
                Method::GET,
                format!("/api/v1/communication/templates/{other_tpl}?event_id={other}"),
                None,
            ),
            (
                Method::PUT,
                format!("/api/v1/communication/templates/{other_tpl}?event_id={other}"),
                Some(json!({"version": 1, "text": "x"})),
            ),
            (
                Method::DELETE,
                format!("/api/v1/communication/templates/{other_tpl}?event_id={other}"),
                None,
            ),
            (
                Method::POST,
                format!("/api/v1/communication/templates?event_id={other}"),
                Some(template_json("survey", "sms", "x")),
            ),
            (
                Method::POST,
                format!("/api/v1/communication/providers?event_id={other}"),
                Some(sns_json("sms")),
            ),
            (
                Method::GET,
                format!("/api/v1/communication/brand?event_id={other}"),
                None,
            ),
            (
                Method::PUT,
                format!("/api/v1/communication/brand?event_id={other}"),
                Some(json!({"version": 0, "footer": "x"})),
            ),
        ],
    )
    .await;
    assert_eq!(
        scan(&stack).await,
        before,
        "a refused request wrote something"
    );

    // It reads the tenant's defaults and its own event.
    let events = expect(&stack, Method::GET, "/api/v1/events", &em, None, 200).await;
    assert_eq!(ids(&events), vec![mine.clone()]);
    let got = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{mine}"),
        &em,
        None,
        200,
    )
    .await;
    assert_eq!(got["name"], "Gala");
    let listed = expect(
        &stack,
        Method::GET,
        "/api/v1/communication/providers",
        &em,
        None,
        200,
    )
    .await;
    assert_eq!(ids(&listed), vec![tenant_prv.clone()]);
    let listed = expect(
        &stack,
        Method::GET,
        "/api/v1/communication/templates",
        &em,
        None,
        200,
    )
    .await;
    assert_eq!(ids(&listed), vec![tenant_tpl.clone()]);
    let brand = expect(
        &stack,
        Method::GET,
        "/api/v1/communication/brand",
        &em,
        None,
        200,
    )
    .await;
    assert_eq!(brand["primary_color"], "#112233");
    expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{mine}/configuration"),
        &em,
        None,
        200,
    )
    .await;

    // It updates its event and manages the event's providers, templates and brand.
    let mut put = event_json("Gala, renamed");
    put["version"] = json!(1);
    let updated = expect(
        &stack,
        Method::PUT,
        &format!("/api/v1/events/{mine}"),
        &em,
        Some(put),
        200,
    )
    .await;
    assert_eq!(
        (updated["name"].clone(), updated["version"].clone()),
        (json!("Gala, renamed"), json!(2))
    );
    let scope = format!("?event_id={mine}");
    let prv = provider(&stack, &em, &scope, sns_json("event sms")).await;
    assert_eq!(
        (prv["layer"].clone(), prv["event_id"].clone()),
        (json!("event"), json!(mine))
    );
    let prv_id = id(&prv);
    let changed = expect(&stack, Method::PUT, &format!("/api/v1/communication/providers/{prv_id}{scope}"), &em,
        Some(json!({"version": 1, "name": "event sms 2", "priority": 5, "active": true, "settings": {}})), 200).await;
    assert_eq!(
        (changed["name"].clone(), changed["version"].clone()),
        (json!("event sms 2"), json!(2))
    );
    let tpl = template(&stack, &em, &scope, "invitation", "email", "event").await;
    assert_eq!(tpl["layer"], "event");
    let tpl_id = id(&tpl);
    let changed = expect(
        &stack,
        Method::PUT,
        &format!("/api/v1/communication/templates/{tpl_id}{scope}"),
        &em,
        Some(json!({"version": 1, "subject": "New {{ event.name }}", "text": "Hello"})),
        200,
    )
    .await;
    assert_eq!(changed["subject"], "New {{ event.name }}");
    let tested = expect(
        &stack,
        Method::POST,
        &format!("/api/v1/communication/templates/{tpl_id}/test{scope}"),
        &em,
        None,
        200,
    )
    .await;
    assert_eq!(tested["ok"], true);
    assert_eq!(tested["rendered"]["subject"], "New Sample Gala");
    expect(
        &stack,
        Method::PUT,
        &format!("/api/v1/communication/brand{scope}"),
        &em,
        Some(json!({"version": 0, "footer": "Gala footer"})),
        200,
    )
    .await;
    expect(
        &stack,
        Method::DELETE,
        &format!("/api/v1/communication/templates/{tpl_id}{scope}"),
        &em,
        None,
        204,
    )
    .await;
    expect(
        &stack,
        Method::DELETE,
        &format!("/api/v1/communication/providers/{prv_id}{scope}"),
        &em,
        None,
        204,
    )
    .await;
    let listed = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/communication/providers{scope}"),
        &em,
        None,
        200,
    )
    .await;
    assert_eq!(items(&listed), Vec::<Value>::new());
}
