//! Roles and tenant isolation on every console route with an id.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use serde_json::json;

use super::browser::{Browser, multipart};
use super::common::*;

/// Every console route that names an id, with `{event}`, `{guest}`, `{campaign}`, `{message}`
/// and `{webhook}` to fill in.
const ID_ROUTES: &[(&str, &str)] = &[
    ("GET", "/console/events/{event}"),
    ("GET", "/console/events/{event}/journey"),
    ("GET", "/console/events/{event}/rsvp"),
    ("POST", "/console/events/{event}/journey/move"),
    ("GET", "/console/events/{event}/wizard"),
    ("GET", "/console/events/{event}/wizard/progress"),
    (
        "GET",
        "/console/events/{event}/wizard/templates/invitation/email",
    ),
    (
        "POST",
        "/console/events/{event}/wizard/templates/invitation/email",
    ),
    (
        "POST",
        "/console/events/{event}/wizard/templates/invitation/email/preview",
    ),
    ("POST", "/console/events/{event}/wizard/uses"),
    ("POST", "/console/events/{event}/wizard/providers"),
    ("POST", "/console/events/{event}/wizard/providers/test"),
    ("POST", "/console/events/{event}/wizard/providers/new"),
    ("POST", "/console/events/{event}/wizard/brand"),
    ("POST", "/console/events/{event}/wizard/email-sender"),
    ("POST", "/console/events/{event}/wizard/complete"),
    ("GET", "/console/events/{event}/guests"),
    ("GET", "/console/events/{event}/guests/{guest}"),
    ("MULTIPART", "/console/events/{event}/guests/import"),
    ("GET", "/console/events/{event}/campaigns"),
    ("POST", "/console/events/{event}/campaigns"),
    ("GET", "/console/events/{event}/analytics"),
    ("GET", "/console/events/{event}/analytics.csv"),
    ("GET", "/console/campaigns/{campaign}"),
    ("GET", "/console/campaigns/{campaign}/live"),
    ("POST", "/console/campaigns/{campaign}/send"),
    ("POST", "/console/campaigns/{campaign}/cancel"),
    ("GET", "/console/messages/{message}"),
    ("POST", "/console/settings/keys/{key}/rotate"),
    ("POST", "/console/settings/keys/{key}/revoke"),
    ("GET", "/console/settings/webhooks/{webhook}"),
    ("GET", "/console/conversations/{conversation}"),
    ("POST", "/console/conversations/{conversation}/reply"),
    ("POST", "/console/conversations/{conversation}/edit"),
    (
        "GET",
        "/console/conversations/{conversation}/messages/{message}/attachments/{index}",
    ),
];

#[tokio::test]
async fn another_tenants_ids_are_404_on_every_console_route() {
    let stack = stack().await;
    let mine = tenant(&stack, "Mine").await;
    let theirs = setup(&stack).await;
    let key = &theirs.t.admin;
    let event = theirs.event.clone();
    expect(
        &stack,
        Method::POST,
        &format!("/api/v1/events/{event}/guests"),
        key,
        Some(json!({ "guests": [{ "first_name": "Zed", "email": "zed@example.com" }] })),
        200,
    )
    .await;
    let guests = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{event}/guests"),
        key,
        None,
        200,
    )
    .await;
    let guest = guests["items"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let campaign = expect(&stack, Method::POST, "/api/v1/communication/campaigns", key, Some(json!({ "event_id": event, "name": "Theirs", "category": "invitation", "channels": ["email"], "audience": { "kind": "all" } })), 201).await;
    let campaign = campaign["id"].as_str().unwrap_or_default().to_owned();
    let endpoint = expect(
        &stack,
        Method::POST,
        "/api/v1/communication/webhook-endpoints",
        key,
        Some(json!({ "url": "http://127.0.0.1:9/hooks", "event_types": ["message.delivered"] })),
        201,
    )
    .await;
    let webhook = endpoint["id"].as_str().unwrap_or_default().to_owned();
    let key_id = theirs.t.admin_key_id.clone();
    // Their conversation: an SMS to their number from someone they do not know.
    let number = two_way_number(&stack, key).await;
    stack
        .inbound()
        .unwrap()
        .sms("+15005550006", &number, "Hello?", None)
        .await
        .unwrap();
    let mut conversation = String::new();
    for _ in 0..120 {
        let page = expect(
            &stack,
            Method::GET,
            "/api/v1/communication/conversations",
            key,
            None,
            200,
        )
        .await;
        if let Some(id) = page["items"][0]["id"].as_str() {
            conversation = id.to_owned();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(!conversation.is_empty(), "their conversation exists");
    let fill = |route: &str| {
        route
            .replace("{event}", &event)
            .replace("{guest}", &guest)
            .replace("{campaign}", &campaign)
            .replace("{message}", "msg_00000000000000000000000000")
            .replace("{key}", &key_id)
            .replace("{webhook}", &webhook)
            .replace("{conversation}", &conversation)
            .replace("{index}", "0")
    };
    let mut b = Browser::new(&stack, "http://127.0.0.1:3000");
    b.sign_in(&mine.admin).await;
    b.get("/console").await;
    for (method, route) in ID_ROUTES {
        let path = fill(route);
        let page = match *method {
            "GET" => b.get(&path).await,
            "MULTIPART" => {
                let (media, body) = multipart(&[
                    ("csrf", &b.csrf.clone()),
                    ("action", "import"),
                    ("csv", "first_name,email\nMal,mal@example.com\n"),
                ]);
                let request = b
                    .request(Method::POST, &path)
                    .header(header::CONTENT_TYPE, media)
                    .body(Body::from(body))
                    .unwrap_or_default();
                b.send(request).await
            }
            _ => {
                b.post(
                    &path,
                    &[
                        ("channel", "email"),
                        ("mode", "customise"),
                        ("provider_id", "prv_00000000000000000000000000"),
                        ("field", "footer"),
                        ("name", "x"),
                    ],
                )
                .await
            }
        };
        assert_eq!(
            page.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            &page.html[..page.html.len().min(400)]
        );
        // Exactly as for an id that exists nowhere.
        assert!(page.html.contains("Page not found"), "{method} {path}");
    }
    // Naming their tenant in the query is a 404 as well.
    let page = b.get(&format!("/console?tenant_id={}", theirs.t.id)).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    // Nothing of theirs changed.
    let still = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/communication/campaigns/{campaign}"),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(still["status"], "draft");
}

#[tokio::test]
async fn an_event_manager_sees_only_their_events() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let other = event(&stack, &s.t.admin, "", "Other event").await;
    let (_, manager) = api_key(
        &stack,
        &s.t.admin,
        &s.t.id,
        json!({ "name": "Ed", "role": "event_manager", "event_ids": [s.event] }),
    )
    .await;
    let mut b = Browser::new(&stack, "http://127.0.0.1:3000");
    b.sign_in(&manager).await;
    let overview = b.get("/console").await;
    assert_eq!(overview.status, StatusCode::OK, "{}", overview.html);
    assert!(overview.html.contains(&s.event), "{}", overview.html);
    assert!(
        !overview.html.contains(&other),
        "the other event is not listed"
    );
    assert!(
        !overview.html.contains("/console/settings"),
        "no settings link for event managers"
    );
    assert_eq!(
        b.get(&format!("/console/events/{other}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.get(&format!("/console/events/{}", s.event)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        b.get("/console/settings").await.status,
        StatusCode::FORBIDDEN
    );
}

/// Every console route that takes an id is in [`ID_ROUTES`] (so the isolation test walks it):
/// the routes are read from the console's own router source.
#[test]
fn the_isolation_test_walks_every_console_route_with_an_id() {
    let source = include_str!("../../../console/src/lib.rs");
    let normal = |route: &str| {
        let mut out = String::new();
        let mut inside = false;
        for c in route.replace("invitation/email", "{c}/{ch}").chars() {
            match c {
                '{' => {
                    inside = true;
                    out.push_str("{}");
                }
                '}' => inside = false,
                _ if inside => {}
                _ => out.push(c),
            }
        }
        out
    };
    let walked: Vec<String> = ID_ROUTES.iter().map(|(_, r)| normal(r)).collect();
    // Not tenant data: the stylesheet and script, the API reference's groups, the 404 page.
    let public = ["/console/assets/{}", "/api/v1/reference/{}", "/console/{}"];
    let mut routes = 0;
    for line in source.lines() {
        let Some(at) = line.find("\"/") else { continue };
        let route = line[at + 1..].split('"').next().unwrap_or_default();
        if !route.contains('{') || public.contains(&normal(route).as_str()) {
            continue;
        }
        routes += 1;
        assert!(
            walked.contains(&normal(route)),
            "{route} is not in ID_ROUTES"
        );
    }
    assert!(routes > 20, "{routes}");
}
