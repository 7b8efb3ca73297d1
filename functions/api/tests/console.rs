//! The console against the emulator, in-process: sessions and their cookies, CSRF, roles and
//! tenant isolation on every console route, the wizard's forms, the import preview, and the
//! DynamoDB requests of the pages that poll. (The browser tests drive the same pages in
//! Chromium: tests/browser.)

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use common::*;
use herald_console::ConsoleState;
use herald_local::testing::TestStack;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// A browser without JavaScript: the console's Router, its cookies, and the last page's CSRF
/// token.
struct Browser {
    router: Router,
    cookies: Vec<(String, String)>,
    csrf: String,
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    html: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

fn csrf_of(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(html[at..].split('"').next()?.to_owned())
}

impl Browser {
    fn new(stack: &TestStack, public_url: &str) -> Self {
        let state = ConsoleState::new(stack.state.clone(), Some(public_url));
        Self {
            router: herald_console::router(state),
            cookies: Vec::new(),
            csrf: String::new(),
        }
    }

    async fn send(&mut self, request: Request<Body>) -> Page {
        let response = match self.router.clone().oneshot(request).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let status = response.status();
        let headers = response.headers().clone();
        for set in headers.get_all(header::SET_COOKIE) {
            let set = set.to_str().unwrap_or_default();
            let pair = set.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies.retain(|(n, _)| n != name);
                if !value.is_empty() && !set.contains("Max-Age=0") {
                    self.cookies.push((name.to_owned(), value.to_owned()));
                }
            }
        }
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let html = String::from_utf8_lossy(&bytes).into_owned();
        if let Some(token) = csrf_of(&html) {
            self.csrf = token;
        }
        Page {
            status,
            headers,
            html,
        }
    }

    fn request(&self, method: Method, path: &str) -> axum::http::request::Builder {
        let cookie = self
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, cookie)
    }

    async fn get(&mut self, path: &str) -> Page {
        let request = self
            .request(Method::GET, path)
            .body(Body::empty())
            .unwrap_or_default();
        self.send(request).await
    }

    /// Posts a form with the last page's CSRF token (unless `fields` has its own).
    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut form = form_urlencoded::Serializer::new(String::new());
        if !fields.iter().any(|(k, _)| *k == "csrf") {
            form.append_pair("csrf", &self.csrf);
        }
        for (k, v) in fields {
            form.append_pair(k, v);
        }
        let request = self
            .request(Method::POST, path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.finish()))
            .unwrap_or_default();
        self.send(request).await
    }

    async fn sign_in(&mut self, key: &str) -> Page {
        let page = self.get("/console/sign-in").await;
        assert_eq!(page.status, StatusCode::OK);
        self.post(
            "/console/sign-in",
            &[("api_key", key), ("next", "/console")],
        )
        .await
    }
}

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
    let fill = |route: &str| {
        route
            .replace("{event}", &event)
            .replace("{guest}", &guest)
            .replace("{campaign}", &campaign)
            .replace("{message}", "msg_00000000000000000000000000")
            .replace("{key}", &key_id)
            .replace("{webhook}", &webhook)
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

#[tokio::test]
async fn templates_keep_the_draft_on_errors_and_conflicts() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let mut b = Browser::new(&stack, "http://127.0.0.1:3000");
    b.sign_in(&s.t.admin).await;
    let editor = format!(
        "/console/events/{}/wizard/templates/invitation/email",
        s.event
    );
    let page = b.get(&editor).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(
        page.html.contains("Inherited from the tenant"),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("sandbox=\"\""),
        "the email previews in a sandboxed frame"
    );

    // A syntax error: refused at its line, the draft kept as typed.
    let broken = "<p>Hello</p>\n<p>{{ guest.first_name }</p>";
    let page = b
        .post(&editor, &[("subject", "Hi"), ("html", broken)])
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.html
    );
    assert!(page.html.contains("line 2"), "{}", page.html);
    assert!(
        page.html.contains("{{ guest.first_name }&lt;&#x2f;p&gt;"),
        "the draft is kept: {}",
        page.html
    );

    // The live preview of a draft (htmx): the SMS segment count.
    let sms = format!(
        "/console/events/{}/wizard/templates/reminder/sms/preview",
        s.event
    );
    let request = b
        .request(Method::POST, &sms)
        .header("hx-request", "true")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "csrf={}&text=Hello+%7B%7B+guest.first_name+%7D%7D",
            b.csrf
        )))
        .unwrap_or_default();
    let page = b.send(request).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.html.contains("Hello Ada") && page.html.contains("1 segment"),
        "{}",
        page.html
    );
    assert!(!page.html.contains("<html"), "a fragment");

    // Saved: the event's own template, version 1.
    let page = b
        .post(
            &editor,
            &[
                ("subject", "Hi {{ guest.first_name }}"),
                ("html", "<p>Event copy</p>"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let page = b.get(&editor).await;
    assert!(
        page.html
            .contains("This event&#x27;s own template, version 1")
            || page.html.contains("own template, version 1"),
        "{}",
        page.html
    );
    // Someone else saves meanwhile: the editor's version 1 is stale, the draft is kept.
    let effective = expect(
        &stack,
        Method::GET,
        &format!(
            "/api/v1/communication/templates/effective?event_id={}",
            s.event
        ),
        &s.t.admin,
        None,
        200,
    )
    .await;
    let own = effective["items"]
        .as_array()
        .and_then(|i| i.iter().find(|t| t["source"] == "event"))
        .cloned()
        .unwrap_or_default();
    let tid = own["template"]["id"].as_str().unwrap_or_default();
    expect(
        &stack,
        Method::PUT,
        &format!("/api/v1/communication/templates/{tid}?event_id={}", s.event),
        &s.t.admin,
        Some(json!({ "version": 1, "subject": "Theirs", "html": "<p>Theirs</p>" })),
        200,
    )
    .await;
    let page = b
        .post(
            &editor,
            &[
                ("version", "1"),
                ("subject", "Mine"),
                ("html", "<p>My draft</p>"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT, "{}", page.html);
    assert!(
        page.html.contains("Someone saved this template")
            && page.html.contains("&lt;p&gt;My draft&lt;&#x2f;p&gt;"),
        "{}",
        page.html
    );
}

/// A multipart body of the import form.
fn multipart(fields: &[(&str, &str)]) -> (String, Vec<u8>) {
    let boundary = "----herald-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes(),
        );
        if *name == "file" {
            body.extend_from_slice(b"; filename=\"guests.csv\"\r\nContent-Type: text/csv");
        }
        body.extend_from_slice(format!("\r\n\r\n{value}\r\n").as_bytes());
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn an_import_is_previewed_before_anything_is_written() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let mut b = Browser::new(&stack, "http://127.0.0.1:3000");
    b.sign_in(&s.t.admin).await;
    let guests = format!("/console/events/{}/guests", s.event);
    b.get(&guests).await;
    let csv = "first_name,email,phone\nAda,ada@example.com,\nBad,not-an-address,\nLin,lin@example.com,+447700900123\n";
    let csrf = b.csrf.clone();
    let (media, body) = multipart(&[("csrf", &csrf), ("action", "preview"), ("file", csv)]);
    let request = b
        .request(Method::POST, &format!("{guests}/import"))
        .header(header::CONTENT_TYPE, media)
        .body(Body::from(body))
        .unwrap_or_default();
    let page = b.send(request).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(
        page.html
            .contains("<strong>2</strong> of 3 rows will be imported"),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("<td>2</td><td>3</td><td>email</td>"),
        "the bad row, its line and field: {}",
        page.html
    );
    let listed = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{}/guests", s.event),
        &s.t.admin,
        None,
        200,
    )
    .await;
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(0),
        "nothing written by the preview"
    );

    // Without the CSRF token: refused.
    let (media, body) = multipart(&[("action", "import"), ("csv", csv)]);
    let request = b
        .request(Method::POST, &format!("{guests}/import"))
        .header(header::CONTENT_TYPE, media)
        .body(Body::from(body))
        .unwrap_or_default();
    assert_eq!(b.send(request).await.status, StatusCode::FORBIDDEN);

    let (media, body) = multipart(&[("csrf", &csrf), ("action", "import"), ("csv", csv)]);
    let request = b
        .request(Method::POST, &format!("{guests}/import"))
        .header(header::CONTENT_TYPE, media)
        .body(Body::from(body))
        .unwrap_or_default();
    let page = b.send(request).await;
    assert!(page.html.contains("Imported 2 guests"), "{}", page.html);
    let listed = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{}/guests", s.event),
        &s.t.admin,
        None,
        200,
    )
    .await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(2));
    let page = b.get(&format!("{guests}?search=LIN")).await;
    assert!(
        page.html.contains("lin@example.com") && !page.html.contains("ada@example.com"),
        "{}",
        page.html
    );
}

#[tokio::test]
async fn the_polled_pages_read_at_most_five_times() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let campaign = expect(&stack, Method::POST, "/api/v1/communication/campaigns", &s.t.admin, Some(json!({ "event_id": s.event, "name": "Counted", "category": "invitation", "channels": ["email"], "audience": { "kind": "all" } })), 201).await;
    let cid = campaign["id"].as_str().unwrap_or_default().to_owned();
    let mut b = Browser::new(&stack, "http://127.0.0.1:3000");
    b.sign_in(&s.t.admin).await;
    for path in [
        "/console".to_owned(),
        format!("/console/campaigns/{cid}/live"),
        "/console/overview/live".to_owned(),
    ] {
        b.get(&path).await;
        stack.dynamo_requests.reset();
        let page = b.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.html);
        let n = stack.dynamo_requests.count();
        println!(
            "console page {path}: {n} DynamoDB requests {:?}",
            stack.dynamo_requests.by_operation()
        );
        assert!(
            n <= 5,
            "{path}: {n} DynamoDB requests: {:?}",
            stack.dynamo_requests.by_operation()
        );
    }
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

/// Every console route that takes an id is in [`ID_ROUTES`] (so the isolation test walks it):
/// the routes are read from the console's own router source.
#[test]
fn the_isolation_test_walks_every_console_route_with_an_id() {
    let source = include_str!("../../console/src/lib.rs");
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

#[tokio::test]
async fn moving_the_event_is_previewed_then_done() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let key = &s.t.admin;
    expect(&stack, Method::PUT, "/api/v1/communication/journey", key, Some(json!({ "version": 0, "steps": [
        { "key": "invite", "category": "invitation", "channels": ["email"], "offset": "-P7D", "at": "10:00" },
        { "key": "thanks", "category": "invitation", "channels": ["email"], "anchor": "event_end", "offset": "P1D" }
    ] })), 200).await;
    let event = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{}", s.event),
        key,
        None,
        200,
    )
    .await;
    let mut b = Browser::new(&stack, "http://127.0.0.1:3000");
    b.sign_in(key).await;
    let journey = format!("/console/events/{}/journey", s.event);
    let page = b.get(&journey).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(
        page.html.contains("<svg") && page.html.contains("invite"),
        "{}",
        page.html
    );

    // The preview: each step where the sync would put it; nothing saved.
    let start = "2031-03-20T18:00";
    let end = "2031-03-20T23:00";
    let page = b
        .get(&format!("{journey}?starts_at={start}&ends_at={end}"))
        .await;
    assert!(page.html.contains("If the event moves"), "{}", page.html);
    assert!(
        page.html.contains("<strong>2031-03-13 10:00</strong>"),
        "seven days before, at 10:00: {}",
        page.html
    );
    assert!(
        page.html.contains("<strong>2031-03-21 23:00</strong>"),
        "a day after the end: {}",
        page.html
    );
    let unchanged = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{}", s.event),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(
        unchanged["starts_at"], event["starts_at"],
        "a preview saves nothing"
    );

    // A stale version: the conflict is shown and the typed times are kept.
    let stale = b
        .post(
            &format!("{journey}/move"),
            &[("version", "999"), ("starts_at", start), ("ends_at", end)],
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.html);
    assert!(
        stale.html.contains("Someone changed the event")
            && stale.html.contains("value=\"2031-03-20T18:00\""),
        "{}",
        stale.html
    );

    let version = event["version"].to_string();
    let moved = b
        .post(
            &format!("{journey}/move"),
            &[
                ("version", &version),
                ("starts_at", start),
                ("ends_at", end),
            ],
        )
        .await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.html);
    let after = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{}", s.event),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(after["starts_at"], "2031-03-20T18:00:00");
    let page = b.get(moved.location()).await;
    assert!(page.html.contains("The event moved"), "{}", page.html);
}
