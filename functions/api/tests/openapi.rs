//! The OpenAPI document: served without a key, version 3.1, and describing exactly the routes the
//! router serves.

mod common;

use std::collections::BTreeMap;

use axum::http::Method;
use common::*;
use serde_json::json;

/// Every route the router serves (besides the document itself), with its methods.
const ROUTES: &[(&str, &[&str])] = &[
    ("/api/v1/tenants", &["get", "post"]),
    ("/api/v1/tenants/{id}", &["get", "put"]),
    ("/api/v1/api-keys", &["get", "post"]),
    ("/api/v1/api-keys/{id}", &["delete", "get"]),
    ("/api/v1/events", &["get", "post"]),
    ("/api/v1/events/{id}", &["get", "put"]),
    ("/api/v1/events/{id}/configuration", &["get"]),
    ("/api/v1/events/{id}/wizard", &["get"]),
    ("/api/v1/events/{id}/wizard/providers", &["put"]),
    ("/api/v1/events/{id}/wizard/templates", &["put"]),
    ("/api/v1/events/{id}/wizard/brand", &["put"]),
    ("/api/v1/events/{id}/wizard/email-sender", &["put"]),
    ("/api/v1/events/{id}/wizard/uses", &["put"]),
    ("/api/v1/events/{id}/wizard/validate", &["post"]),
    ("/api/v1/events/{id}/wizard/complete", &["post"]),
    ("/api/v1/events/{id}/wizard/diff", &["get"]),
    ("/api/v1/events/{id}/snapshots", &["get"]),
    ("/api/v1/events/{id}/snapshots/{version}", &["get"]),
    ("/api/v1/events/{id}/preview", &["post"]),
    ("/api/v1/events/{id}/preview/send", &["post"]),
    ("/api/v1/events/{id}/guests", &["get", "post"]),
    ("/api/v1/events/{id}/guests/{guest_id}", &["delete", "get"]),
    (
        "/api/v1/communication/contacts/{id}",
        &["delete", "get", "patch"],
    ),
    ("/api/v1/communication/contacts/{id}/consent", &["get"]),
    ("/api/v1/communication/contacts/{id}/export", &["post"]),
    (
        "/api/v1/communication/contacts/{id}/preference-link",
        &["post"],
    ),
    ("/api/v1/communication/contacts/{id}/preferences", &["put"]),
    ("/api/v1/audit", &["get"]),
    ("/api/v1/api-keys/{id}/rotate", &["post"]),
    ("/api/v1/preferences/{token}", &["get", "put"]),
    ("/preferences/{token}", &["get", "post"]),
    ("/unsubscribe/{token}", &["get", "post"]),
    ("/api/v1/communication/crm", &["delete", "get", "put"]),
    ("/api/v1/communication/crm/runs", &["get"]),
    ("/api/v1/communication/crm/runs/{id}", &["get"]),
    ("/api/v1/communication/crm/sync", &["post"]),
    ("/api/v1/communication/crm/test", &["post"]),
    ("/api/v1/communication/webhook-endpoints", &["get", "post"]),
    (
        "/api/v1/communication/webhook-endpoints/{id}",
        &["delete", "get", "patch"],
    ),
    (
        "/api/v1/communication/webhook-endpoints/{id}/rotate-secret",
        &["post"],
    ),
    (
        "/api/v1/communication/webhook-endpoints/{id}/attempts",
        &["get"],
    ),
    (
        "/api/v1/communication/webhook-endpoints/{id}/messages/{message_id}",
        &["get"],
    ),
    (
        "/api/v1/communication/webhook-endpoints/{id}/messages/{message_id}/replay",
        &["post"],
    ),
    ("/api/v1/communication/messages", &["post"]),
    ("/api/v1/communication/campaigns", &["get", "post"]),
    ("/api/v1/communication/campaigns/{id}", &["get", "put"]),
    ("/api/v1/communication/campaigns/{id}/send", &["post"]),
    ("/api/v1/communication/campaigns/{id}/cancel", &["post"]),
    ("/api/v1/communication/messages/{id}", &["get"]),
    ("/api/v1/communication/templates/effective", &["get"]),
    ("/api/v1/communication/providers/effective", &["get"]),
    ("/api/v1/communication/providers", &["get", "post"]),
    (
        "/api/v1/communication/providers/{id}",
        &["delete", "get", "put"],
    ),
    ("/api/v1/communication/providers/{id}/test", &["post"]),
    ("/api/v1/communication/templates", &["get", "post"]),
    (
        "/api/v1/communication/templates/{id}",
        &["delete", "get", "put"],
    ),
    ("/api/v1/communication/templates/{id}/test", &["post"]),
    ("/api/v1/communication/templates/{id}/versions", &["get"]),
    (
        "/api/v1/communication/templates/{id}/versions/{version}",
        &["get"],
    ),
    (
        "/api/v1/communication/templates/{id}/versions/{version}/restore",
        &["post"],
    ),
    ("/api/v1/communication/senders", &["get", "post"]),
    (
        "/api/v1/communication/senders/{identity}",
        &["delete", "get"],
    ),
    ("/api/v1/communication/brand", &["get", "put"]),
    ("/api/v1/communication/compliance", &["get"]),
    ("/api/v1/communication/compliance/{name}", &["get", "put"]),
    ("/api/v1/admin/dead-letters", &["get"]),
    ("/api/v1/admin/dead-letters/{queue}/messages", &["get"]),
    ("/api/v1/admin/dead-letters/{queue}/redrive", &["post"]),
    ("/api/v1/communication/analytics/dashboard", &["get"]),
    ("/api/v1/communication/analytics/realtime", &["get"]),
    ("/api/v1/communication/analytics/insights", &["get"]),
    ("/api/v1/communication/suppressions", &["get", "post"]),
    (
        "/api/v1/communication/suppressions/{id}",
        &["delete", "get"],
    ),
    (
        "/api/v1/webhooks/twilio/{tenant_id}/{provider_id}",
        &["post"],
    ),
    (
        "/api/v1/webhooks/whatsapp/{tenant_id}/{provider_id}",
        &["get", "post"],
    ),
];

#[tokio::test]
async fn the_document_lists_every_route_the_router_serves() {
    let stack = stack().await;
    let answer = stack
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(answer.status.as_u16(), 200, "served without a key");
    assert!(content_type(&answer).starts_with("application/json"));
    let doc = answer.body;
    let version = text(&doc, "openapi");
    assert!(version.starts_with("3.1."), "{version}");
    assert_eq!(doc["info"]["title"], "Herald API");
    assert!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"]
            .as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("bearer")),
        "{}",
        doc["components"]["securitySchemes"]
    );

    let documented: BTreeMap<String, Vec<String>> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .map(|(p, ops)| {
            let mut methods: Vec<String> = ops
                .as_object()
                .expect("operations")
                .keys()
                .filter(|k| ["get", "put", "post", "delete", "patch"].contains(&k.as_str()))
                .cloned()
                .collect();
            methods.sort();
            (p.clone(), methods)
        })
        .collect();
    let wanted: BTreeMap<String, Vec<String>> = ROUTES
        .iter()
        .map(|(p, ms)| (p.to_string(), ms.iter().map(|m| m.to_string()).collect()))
        .collect();
    assert_eq!(documented, wanted);

    // Each documented operation exists on the router: without a key it is a 401, never 404/405.
    for (path, methods) in ROUTES {
        let uri = path
            .replace("{id}", "x")
            .replace("{name}", "gdpr_notice")
            .replace("{queue}", "sender");
        if path.contains("{token}") {
            // A guest's preference link: the signed token is the credential (consent.rs).
            for m in *methods {
                let op = &doc["paths"][*path][*m];
                assert!(op["security"].is_null(), "{m} {path}: no API key");
                assert!(
                    op["responses"]["403"].is_object(),
                    "{m} {path}: documents a refused link"
                );
            }
            continue;
        }
        if path.starts_with("/api/v1/webhooks/") {
            // Providers call these without a key: the signature (or verify token) is the
            // authentication, checked against the provider the path names (tracking.rs).
            for m in *methods {
                let op = &doc["paths"][*path][*m];
                assert!(op["security"].is_null(), "{m} {path}: no API key");
                assert!(
                    op["responses"]["404"].is_object(),
                    "{m} {path}: documents its errors"
                );
            }
            continue;
        }
        for m in *methods {
            let method = Method::from_bytes(m.to_uppercase().as_bytes()).expect("a method");
            let answer = stack.call(method.clone(), &uri, None, None).await;
            assert_problem(&answer, 401, &format!("{method} {uri}"));
            let op = &doc["paths"][*path][*m];
            assert!(
                op["responses"]["401"].is_object(),
                "{method} {path}: documents its errors"
            );
            assert!(
                op["security"].is_array(),
                "{method} {path}: documents its security"
            );
        }
    }
}

#[tokio::test]
async fn closed_sets_are_documented_by_their_wire_names() {
    let doc = serde_json::to_value(herald_api::openapi()).expect("the document");
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["Role"]["enum"],
        json!(["platform_admin", "tenant_admin", "event_manager"])
    );
    assert_eq!(
        schemas["Channel"]["enum"],
        json!(["email", "sms", "whatsapp"])
    );
    assert_eq!(
        schemas["ConsentSource"]["enum"],
        json!([
            "guest_link",
            "one_click",
            "api",
            "crm",
            "bounce",
            "complaint"
        ])
    );
}
