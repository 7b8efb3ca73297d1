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
    ("/api/v1/events/{id}/guests/{guest_id}/timeline", &["get"]),
    ("/api/v1/events/{id}/journey", &["get"]),
    ("/api/v1/events/{id}/guests/export", &["get"]),
    (
        "/api/v1/events/{id}/guests/{guest_id}/rsvp",
        &["delete", "put"],
    ),
    ("/api/v1/events/{id}/guests/{guest_id}/rsvp-link", &["post"]),
    ("/api/v1/events/{id}/rsvp", &["get"]),
    ("/api/v1/events/{id}/rsvp/form", &["get", "put"]),
    ("/api/v1/rsvp/{token}", &["get", "put"]),
    ("/rsvp/{token}", &["get", "post"]),
    ("/api/v1/events/{id}/journey/changes", &["get", "put"]),
    ("/api/v1/communication/journey", &["get", "put"]),
    (
        "/api/v1/communication/contacts/{id}",
        &["delete", "get", "patch"],
    ),
    ("/api/v1/communication/contacts/{id}/consent", &["get"]),
    ("/api/v1/communication/contacts/{id}/export", &["post"]),
    ("/api/v1/communication/contacts/{id}/history", &["get"]),
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
    (
        "/api/v1/webhooks/twilio/{tenant_id}/{provider_id}/inbound",
        &["post"],
    ),
    ("/api/v1/communication/conversations", &["get"]),
    (
        "/api/v1/communication/conversations/{id}",
        &["get", "patch"],
    ),
    (
        "/api/v1/communication/conversations/{id}/messages",
        &["post"],
    ),
    (
        "/api/v1/communication/conversations/{id}/messages/{message_id}/attachments/{index}",
        &["get"],
    ),
    (
        "/api/v1/communication/conversation-settings",
        &["get", "put"],
    ),
    ("/api/v1/events/{id}/conversation-settings", &["get", "put"]),
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
            "complaint",
            "ses_subscription",
            "keyword"
        ])
    );
}

/// The document as the router serves it.
async fn served_document(stack: &TestStack) -> (serde_json::Value, usize) {
    let answer = stack
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(answer.status.as_u16(), 200);
    let size = serde_json::to_vec(&answer.body).expect("JSON").len();
    (answer.body, size)
}

/// Every operation of the document: (method, path, operation).
fn operations(doc: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                out.push((method.clone(), path.clone(), op.clone()));
            }
        }
    }
    out
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a serde_json::Value, value: &'a serde_json::Value) -> &'a serde_json::Value {
    match value["$ref"].as_str() {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{r} resolves")),
        None => value,
    }
}

#[tokio::test]
async fn operation_ids_are_unique_and_path_parameters_are_the_templates() {
    let doc = serde_json::to_value(herald_api::openapi()).expect("the document");
    let mut seen = BTreeMap::new();
    for (method, path, op) in operations(&doc) {
        let id = op["operationId"]
            .as_str()
            .expect("an operationId")
            .to_owned();
        if let Some(other) = seen.insert(id.clone(), format!("{method} {path}")) {
            panic!("operationId {id} is used by {other} and {method} {path}");
        }
        let mut declared: Vec<String> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().expect("a name").to_owned())
            .collect();
        declared.sort();
        let mut templated: Vec<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_owned)
            .collect();
        templated.sort();
        assert_eq!(declared, templated, "{method} {path}: path parameters");
    }
    assert!(
        seen.contains_key("get_webhook_message") && seen.contains_key("get_message"),
        "{seen:?}"
    );
}

#[tokio::test]
async fn error_answers_are_shared_responses_listed_where_they_can_happen() {
    let doc = serde_json::to_value(herald_api::openapi()).expect("the document");
    let shared = doc["components"]["responses"]
        .as_object()
        .expect("responses");
    for name in ["BadRequest", "Unauthorized", "NotFound", "Unprocessable"] {
        let problem = &shared[name]["content"]["application/problem+json"]["schema"]["$ref"];
        assert_eq!(problem, "#/components/schemas/Problem", "{name}");
    }
    for (method, path, op) in operations(&doc) {
        let responses = op["responses"].as_object().expect("responses");
        let has_body = op.get("requestBody").is_some();
        let keyed = op["security"].is_array();
        for (status, response) in responses {
            let html = response["content"]["text/html"].is_object();
            if status.starts_with('4') || status.starts_with('5') {
                assert!(
                    html || response["$ref"]
                        .as_str()
                        .is_some_and(|r| r.starts_with("#/components/responses/")),
                    "{method} {path} {status}: a shared response, not {response}"
                );
            }
        }
        if !has_body {
            for status in ["413", "415", "422"] {
                let declared = responses.contains_key(status);
                // 422s of requests without a body: checks of query parameters and state.
                if status == "422" && declared {
                    continue;
                }
                assert!(!declared, "{method} {path}: {status} without a body");
            }
        }
        if method == "get" {
            assert!(!has_body, "{method} {path} takes no body");
        }
        if keyed {
            for status in ["401", "429"] {
                assert!(responses.contains_key(status), "{method} {path}: {status}");
            }
        } else {
            assert!(
                !responses.contains_key("429"),
                "{method} {path}: no key, no rate limit"
            );
            assert!(
                !responses.contains_key("401") || path.starts_with("/api/v1/webhooks/"),
                "{method} {path}: only providers' signed callbacks answer 401 without a key"
            );
        }
        if has_body && op["requestBody"]["required"] == true && keyed {
            for status in ["400", "413", "415", "422"] {
                assert!(responses.contains_key(status), "{method} {path}: {status}");
            }
        }
    }
    // A read without a path id or scope has no 404 to give; one with an id does.
    let ops = operations(&doc);
    let op = |m: &str, p: &str| {
        ops.iter()
            .find(|(method, path, _)| method == m && path == p)
            .map(|(_, _, op)| op.clone())
            .expect("the operation")
    };
    assert!(op("get", "/api/v1/communication/compliance")["responses"]["404"].is_null());
    assert!(op("get", "/api/v1/tenants/{id}")["responses"]["404"].is_object());
    assert!(op("get", "/api/v1/tenants")["responses"]["403"].is_null());
    assert!(op("post", "/api/v1/tenants")["responses"]["403"].is_object());
    assert!(op("put", "/api/v1/communication/templates/{id}")["responses"]["409"].is_object());
}

#[tokio::test]
async fn the_document_is_at_most_a_quarter_of_what_it_was() {
    let stack = stack().await;
    let (_, size) = served_document(&stack).await;
    // 1,202,350 bytes when every operation inlined eleven error answers (issue 20); a quarter
    // of that, plus the 25 KB the conversations' seven operations and their schemas added
    // (issue 24).
    println!("OPENAPI document: {size} bytes");
    assert!(size <= 330_000, "the document is {size} bytes");
}

#[tokio::test]
async fn ids_are_components_with_their_pattern() {
    let doc = serde_json::to_value(herald_api::openapi()).expect("the document");
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["TenantId"]["pattern"],
        "^ten_[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$"
    );
    assert_eq!(
        schemas["WebhookMessageId"]["pattern"],
        "^whm_[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$"
    );
    for (method, path, op) in operations(&doc) {
        for p in op["parameters"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap_or_default();
            let schema = resolve(&doc, &p["schema"]);
            if name.ends_with("_id") || (name == "id" && !path.contains("suppressions")) {
                assert!(
                    p["schema"]["$ref"]
                        .as_str()
                        .is_some_and(|r| r.ends_with("Id")),
                    "{method} {path}: {name} is {}",
                    p["schema"]
                );
                assert!(schema["pattern"].is_string(), "{method} {path}: {name}");
            }
        }
    }
}

#[tokio::test]
async fn responses_are_documented_with_the_type_the_handler_returns() {
    let doc = serde_json::to_value(herald_api::openapi()).expect("the document");
    let ok = |path: &str, method: &str, status: &str| {
        doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
            ["$ref"]
            .as_str()
            .expect("a schema")
            .trim_start_matches("#/components/schemas/")
            .to_owned()
    };
    let webhook_message = ok(
        "/api/v1/communication/webhook-endpoints/{id}/messages/{message_id}",
        "get",
        "200",
    );
    let message = ok("/api/v1/communication/messages/{id}", "get", "200");
    assert_ne!(webhook_message, message);
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas[&webhook_message]["required"],
        json!(["message", "attempts"])
    );
    assert!(
        schemas[&message].to_string().contains("\"delivery_state\""),
        "{}",
        schemas[&message]
    );
}

#[tokio::test]
async fn constraints_the_server_checks_are_stated() {
    let doc = serde_json::to_value(herald_api::openapi()).expect("the document");
    let schemas = &doc["components"]["schemas"];
    let query = |path: &str, name: &str| {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{path} {name}"))["schema"]
            .clone()
    };
    let attempts = query(
        "/api/v1/communication/webhook-endpoints/{id}/attempts",
        "limit",
    );
    assert_eq!(
        (attempts["minimum"].clone(), attempts["maximum"].clone()),
        (json!(1), json!(100))
    );
    let peek = &doc["paths"]["/api/v1/admin/dead-letters/{queue}/messages"]["get"]["parameters"];
    assert!(
        peek.as_array()
            .expect("parameters")
            .iter()
            .any(|p| p["name"] == "limit" && p["in"] == "query"),
        "{peek}"
    );
    let days =
        doc["paths"]["/api/v1/communication/contacts/{id}/preference-link"]["post"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == "days")
            .expect("days")["schema"]
            .clone();
    assert_eq!(
        (days["minimum"].clone(), days["maximum"].clone()),
        (json!(1), json!(365))
    );
    let cap = &schemas["FrequencyCap"]["properties"]["max"];
    assert_eq!(
        (cap["minimum"].clone(), cap["maximum"].clone()),
        (json!(1), json!(1000))
    );
    let name = &schemas["Name"];
    assert_eq!(
        (name["minLength"].clone(), name["maxLength"].clone()),
        (json!(1), json!(200))
    );
    assert_eq!(
        schemas["TenantIn"]["properties"]["name"]["$ref"],
        "#/components/schemas/Name"
    );
    assert!(
        schemas["TimeZone"]["enum"]
            .as_array()
            .is_some_and(|zones| zones.contains(&json!("Europe/Paris")) && zones.len() > 400)
    );
    assert_eq!(schemas["EmailAddress"]["format"], "email");
    assert!(schemas["PhoneE164"]["pattern"].is_string());
    assert!(schemas["Locale"]["pattern"].is_string());
    // Relations between fields: a guest needs an address; an event_manager key needs events.
    assert!(
        schemas["GuestIn"]["allOf"].is_array(),
        "{}",
        schemas["GuestIn"]
    );
    assert!(
        schemas["ApiKeyIn"]["oneOf"].is_array(),
        "{}",
        schemas["ApiKeyIn"]
    );
    // Insights are per tenant or event: `campaign_id` is refused there, and not documented.
    let insights = &doc["paths"]["/api/v1/communication/analytics/insights"]["get"]["parameters"];
    let names: Vec<&str> = insights
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["tenant_id", "event_id"]);
}

#[tokio::test]
async fn insights_refuse_the_campaign_id_they_do_not_document() {
    let stack = stack().await;
    let tenant = tenant(&stack, "Insights").await;
    let uri = "/api/v1/communication/analytics/insights";
    expect(&stack, Method::GET, uri, &tenant.admin, None, 200).await;
    let answer = stack
        .call(
            Method::GET,
            &format!("{uri}?campaign_id=cmp_01JD2Z7Q8V0M3R5T6W9X1Y2Z3A"),
            Some(&tenant.admin),
            None,
        )
        .await;
    assert_problem(&answer, 400, "campaign_id on insights");
}

#[tokio::test]
async fn integers_written_with_a_zero_fraction_are_integers() {
    let stack = stack().await;
    let tenant = tenant(&stack, "Zero fractions").await;
    // In a body: JSON Schema (OpenAPI 3.1) counts 100.0 as an integer.
    let mut body = sns_json("SMS");
    body["priority"] = json!(7.0);
    body["send_rate"] = json!(2e1);
    let created = provider(&stack, &tenant.admin, "", body).await;
    assert_eq!(created["priority"], json!(7));
    assert_eq!(created["send_rate"], json!(20));
    // A fraction is still not an integer.
    let mut body = sns_json("SMS 2");
    body["priority"] = json!(7.5);
    let answer = stack
        .call(
            Method::POST,
            "/api/v1/communication/providers",
            Some(&tenant.admin),
            Some(body),
        )
        .await;
    assert_problem(&answer, 422, "a priority of 7.5");
    assert_eq!(first_field(&answer), "priority");
    // In a query: `limit=20.0` is the integer 20.
    let page = expect(
        &stack,
        Method::GET,
        "/api/v1/audit?limit=2.0",
        &tenant.admin,
        None,
        200,
    )
    .await;
    assert!(items(&page).len() <= 2, "{page}");
    let answer = stack
        .call(
            Method::GET,
            "/api/v1/audit?limit=2.5",
            Some(&tenant.admin),
            None,
        )
        .await;
    assert_problem(&answer, 400, "limit=2.5");
}
