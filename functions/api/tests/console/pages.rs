//! The forms that change things: templates (errors, conflicts, the live preview), the guest
//! import's preview, moving the event; and the DynamoDB requests of the polled pages.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use serde_json::json;

use super::browser::{Browser, multipart};
use super::common::*;

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
