//! Sessions and their cookies, CSRF, and the pages outside the console (`/`, `/api/v1`, the
//! reference, assets).

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use super::browser::Browser;
use super::common::*;

#[tokio::test]
async fn sessions_cookies_and_csrf() {
    let stack = stack().await;
    let t = tenant(&stack, "Session Co").await;
    let mut b = Browser::new(&stack, "http://127.0.0.1:3000");

    // Not signed in: to the sign-in page, saying why, coming back afterwards.
    let page = b.get("/console/settings").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        page.location(),
        "/console/sign-in?why=signed_out&next=%2Fconsole%2Fsettings"
    );

    // The sign-in form's own CSRF token must come back with it.
    let page = b.get("/console/sign-in").await;
    assert!(page.headers.get(header::CONTENT_SECURITY_POLICY).is_some());
    let refused = b
        .post(
            "/console/sign-in",
            &[("csrf", "forged"), ("api_key", &t.admin)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);
    let bad = b.sign_in("hrk_not-a-key").await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert!(
        bad.html.contains("That API key is not valid"),
        "{}",
        bad.html
    );
    assert!(bad.html.contains("aria-invalid=\"true\""));

    let page = b.sign_in(&t.admin).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    assert_eq!(page.location(), "/console");
    let set: Vec<&str> = page
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let session = set
        .iter()
        .find(|c| c.starts_with("herald_session="))
        .expect("a session cookie");
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Lax")
            && session.contains("Path=/"),
        "{session}"
    );
    assert!(!session.contains("Secure"), "plain http: {session}");

    let page = b.get("/console").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("Session Co admin"), "{}", page.html);
    let csp = page
        .headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        csp.contains("default-src 'self'")
            && csp.contains("script-src 'self'")
            && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert!(!page.html.contains("<script>"), "no inline script");

    // Every form posts its CSRF token; one without it, or with another's, is a 403.
    let forged = b.post("/console/sign-out", &[("csrf", "nope")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let missing = b
        .send(
            b.request(Method::POST, "/console/settings/keys")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("name=x&role=tenant_admin"))
                .unwrap_or_default(),
        )
        .await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);

    // Signing out ends the session on the server: the old cookie no longer works.
    let old = b.cookies.clone();
    let out = b.post("/console/sign-out", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/console/sign-in?why=bye");
    b.cookies = old;
    assert_eq!(b.get("/console").await.status, StatusCode::SEE_OTHER);

    // A revoked key ends its sessions at the next click, saying why.
    let mut b = Browser::new(&stack, "http://127.0.0.1:3000");
    let (key_id, secret) = api_key(
        &stack,
        &t.admin,
        &t.id,
        json!({ "name": "soon revoked", "role": "tenant_admin" }),
    )
    .await;
    b.sign_in(&secret).await;
    assert_eq!(b.get("/console").await.status, StatusCode::OK);
    expect(
        &stack,
        Method::DELETE,
        &format!("/api/v1/api-keys/{key_id}"),
        &t.admin,
        None,
        200,
    )
    .await;
    let page = b.get("/console").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(
        page.location()
            .starts_with("/console/sign-in?why=key_revoked"),
        "{}",
        page.location()
    );
    let page = b.get(page.location().to_owned().as_str()).await;
    assert!(page.html.contains("has been revoked"), "{}", page.html);

    // Over https: the __Host- prefix and Secure.
    let mut secure = Browser::new(&stack, "https://console.example");
    let page = secure.sign_in(&t.admin).await;
    let set: Vec<&str> = page
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert!(
        set.iter()
            .any(|c| c.starts_with("__Host-herald_session=") && c.ends_with("; Secure")),
        "{set:?}"
    );
}

#[tokio::test]
async fn the_index_pages_and_the_reference() {
    let stack = stack().await;
    let mut b = Browser::new(&stack, "http://127.0.0.1:3000");
    let root = b.get("/").await;
    assert_eq!(
        (root.status, root.location()),
        (StatusCode::SEE_OTHER, "/console")
    );
    let index = b.get("/api/v1").await;
    assert_eq!(index.status, StatusCode::OK);
    assert!(
        index.html.contains("/api/v1/openapi.json") && index.html.contains("/api/v1/reference")
    );
    let request = Request::builder()
        .uri("/api/v1")
        .header(header::ACCEPT, "application/json")
        .body(Body::empty())
        .unwrap_or_default();
    let json_index = b.send(request).await;
    let v: Value = serde_json::from_str(&json_index.html).unwrap_or_default();
    assert_eq!(v["openapi"], "/api/v1/openapi.json");
    let reference = b.get("/api/v1/reference").await;
    assert_eq!(reference.status, StatusCode::OK);
    assert!(
        reference.html.contains("href=\"/api/v1/reference/guests\""),
        "{}",
        reference.html
    );
    let guests = b.get("/api/v1/reference/guests").await;
    assert!(
        guests.html.contains("id=\"post-api-v1-events-id-guests\""),
        "every operation is listed"
    );
    assert!(
        guests.html.len() < 100 * 1024,
        "{} bytes",
        guests.html.len()
    );
    assert_eq!(
        b.get("/api/v1/reference/no-such-group").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.get("/console/no-such-page").await.status,
        StatusCode::NOT_FOUND
    );
    let css = b.get("/console/assets/console.css").await;
    assert_eq!(
        css.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("text/css; charset=utf-8")
    );
}
