//! RSVP end to end on the local stack: an event's form, a guest's link (the page and its JSON
//! API), the confirmation sent once per answer through the transactional lane, the deadline,
//! refused links, the tenant's own answers, audiences by RSVP, the figures and the export.

mod common;

use std::time::Duration;

use axum::http::Method;
use common::*;
use serde_json::{Value, json};

fn form(version: u64, deadline: &str) -> Value {
    json!({
        "version": version,
        "deadline": deadline,
        "max_plus_ones": 2,
        "questions": [
            {"id": "menu", "kind": "single_choice", "required": true,
             "label": {"en": "Your menu", "fr": "Votre menu"},
             "options": [
                {"id": "meat", "label": {"en": "Meat", "fr": "Viande"}},
                {"id": "fish", "label": {"en": "Fish", "fr": "Poisson"}}]},
            {"id": "allergies", "kind": "short_text",
             "label": {"en": "Allergies", "fr": "Allergies"}}
        ]
    })
}

/// Waits (bounded) until the emulator's SES outbox holds `n` mails for `address`.
async fn mails(address: &str, n: usize) -> Vec<Value> {
    for _ in 0..100 {
        let sent = sent_mail(address).await;
        if sent.len() >= n {
            return sent;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{address} did not get {n} mails within 10 s");
}

struct Ready {
    s: Setup,
    guests: Vec<String>,
    emails: Vec<String>,
}

/// The setup's tenant sending invitations and RSVP confirmations by email, an RSVP form and
/// three guests.
async fn ready(stack: &TestStack) -> Ready {
    let s = setup(stack).await;
    let key = &s.t.admin;
    expect(
        stack,
        Method::POST,
        "/api/v1/communication/templates",
        key,
        Some(json!({"category": "rsvp_confirmation", "channel": "email",
            "subject": "RSVP {{ guest.rsvp.status }} x{{ guest.rsvp.party_size }} {{ guest.rsvp.answers.menu }}.",
            "html": "<p>{{ guest.first_name }}: {{ guest.rsvp.answers.menu }}</p>"})),
        201,
    )
    .await;
    expect(
        stack,
        Method::PUT,
        &wizard_uri(&s.event, "/uses"),
        key,
        Some(json!({"channels": ["email"], "categories": ["invitation", "rsvp_confirmation"]})),
        200,
    )
    .await;
    let run = complete_wizard(stack, key, &s.event).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    expect(
        stack,
        Method::PUT,
        &format!("/api/v1/events/{}/rsvp/form", s.event),
        key,
        Some(form(0, "2027-04-20T23:59:00")),
        200,
    )
    .await;
    let emails: Vec<String> = ["ana", "ben", "cy"]
        .iter()
        .map(|n| unique_email(&format!("rsvp-{n}")))
        .collect();
    import_guests(
        stack,
        key,
        &s.event,
        emails
            .iter()
            .zip(["Ana", "Ben", "Cy"])
            .map(|(e, n)| json!({"first_name": n, "email": e, "locale": "fr-FR", "tags": ["vip"]}))
            .collect(),
    )
    .await;
    let mut guests = Vec::new();
    for email in &emails {
        guests.push(text(&guest_of(stack, key, &s.event, email).await, "id"));
    }
    Ready { s, guests, emails }
}

async fn link(stack: &TestStack, r: &Ready, guest: usize) -> String {
    let issued = expect(
        stack,
        Method::POST,
        &format!(
            "/api/v1/events/{}/guests/{}/rsvp-link",
            r.s.event, r.guests[guest]
        ),
        &r.s.t.admin,
        None,
        201,
    )
    .await;
    let token = text(&issued, "token");
    assert!(text(&issued, "rsvp_url").ends_with(&format!("/rsvp/{token}")));
    token
}

#[tokio::test]
async fn a_guest_answers_on_the_page_and_gets_one_confirmation_per_answer() {
    let stack = stack().await;
    let r = ready(&stack).await;
    let token = link(&stack, &r, 0).await;
    let page_uri = format!("/rsvp/{token}");

    // The page: in the guest's language, the strict CSP, the form with the question.
    stack.dynamo_requests.reset();
    let page = stack.call(Method::GET, &page_uri, None, None).await;
    let page_requests = stack.dynamo_requests.count();
    assert_eq!(page.status, 200, "{}", html(&page));
    assert!(header_of(&page, "content-security-policy").contains("default-src 'none'"));
    assert_eq!(header_of(&page, "cache-control"), "no-store");
    let body = html(&page);
    assert!(body.contains("<html lang=\"fr\">"), "{body}");
    assert!(body.contains("Votre menu"), "{body}");
    assert!(body.contains("Poisson"), "{body}");
    assert!(!body.contains("<script"), "{body}");
    assert!(
        page_requests <= 2,
        "{page_requests} DynamoDB requests to show the page"
    );

    // Errors: the page again with the summary, each field's error and what was typed.
    let wrong = post_form(
        &stack,
        &page_uri,
        "status=accepted&party_size=9&answer-allergies=nuts",
    )
    .await;
    assert_eq!(wrong.status, 422);
    let body = html(&wrong);
    assert!(body.contains("error-summary"), "{body}");
    assert!(body.contains("href=\"#party_size\""), "{body}");
    assert!(body.contains("href=\"#answer-menu-meat\""), "{body}");
    assert!(body.contains("value=\"nuts\""), "{body}");
    assert!(sent_mail(&r.emails[0]).await.is_empty());

    // An answer: recorded, a redirect to the page saying so, one confirmation.
    stack.dynamo_requests.reset();
    let saved = post_form(
        &stack,
        &page_uri,
        "status=accepted&party_size=2&answer-menu=fish&answer-allergies=nuts",
    )
    .await;
    let answer_requests = stack.dynamo_requests.count();
    assert_eq!(saved.status, 303, "{}", html(&saved));
    assert_eq!(
        header_of(&saved, "location"),
        format!("/rsvp/{token}?outcome=saved")
    );
    println!("RSVP requests: page {page_requests}, answer {answer_requests}");
    assert!(
        answer_requests <= 6,
        "{answer_requests} DynamoDB requests to take an answer"
    );
    let shown = stack
        .call(
            Method::GET,
            &format!("{page_uri}?outcome=saved"),
            None,
            None,
        )
        .await;
    assert!(html(&shown).contains("role=\"status\""), "{}", html(&shown));
    assert!(html(&shown).contains("value=\"fish\" checked"));
    let first = mails(&r.emails[0], 1).await;
    assert_eq!(first.len(), 1);
    let subject = first[0]["subject"].as_str().unwrap_or_default();
    // The answer by its label in the guest's language.
    assert_eq!(subject, "RSVP accepted x2 Poisson.");

    // The JSON API shows it; the same answer again sends nothing.
    let api = format!("/api/v1/rsvp/{token}");
    let view = expect(&stack, Method::GET, &api, "", None, 200).await;
    assert_eq!(view["rsvp"]["status"], "accepted");
    assert_eq!(view["rsvp"]["party_size"], 2);
    assert_eq!(view["rsvp"]["source"], "link");
    assert_eq!(view["rsvp"]["version"], 1);
    assert_eq!(view["open"], true);
    let same = json!({"status": "accepted", "party_size": 2,
        "answers": {"menu": "fish", "allergies": "nuts"}});
    let again = expect(&stack, Method::PUT, &api, "", Some(same), 200).await;
    assert!(again.get("confirmation_id").is_none(), "{again}");

    // A changed answer sends the confirmation again, with the new answer.
    let changed = expect(
        &stack,
        Method::PUT,
        &api,
        "",
        Some(json!({"status": "declined"})),
        200,
    )
    .await;
    assert!(changed["confirmation_id"].is_string(), "{changed}");
    assert_eq!(changed["rsvp"]["version"], 2);
    let both = mails(&r.emails[0], 2).await;
    assert_eq!(both.len(), 2);
    assert!(
        both.iter()
            .any(|m| m["subject"].as_str().unwrap_or_default() == "RSVP declined x0 ."),
        "{both:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sent_mail(&r.emails[0]).await.len(),
        2,
        "one mail per change"
    );

    // 422 from the JSON API names the field.
    let bad = stack
        .call(
            Method::PUT,
            &api,
            None,
            Some(json!({"status": "maybe", "party_size": 4})),
        )
        .await;
    assert_problem(&bad, 422, "party size over the form's");
    assert!(bad.body.to_string().contains("party_size"), "{}", bad.body);
    assert!(
        bad.body.to_string().contains("answers.menu"),
        "{}",
        bad.body
    );

    // The webhook-worthy state is on the guest, in the list and its filter.
    let declined = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{}/guests?rsvp=declined", r.s.event),
        &r.s.t.admin,
        None,
        200,
    )
    .await;
    assert_eq!(ids(&declined), vec![r.guests[0].clone()]);
}

#[tokio::test]
async fn links_that_do_not_open_and_answers_after_the_deadline() {
    let stack = stack().await;
    let r = ready(&stack).await;
    let key = &r.s.t.admin;
    let token = link(&stack, &r, 1).await;

    // Tampered: refused by the page and the JSON API, nothing changes.
    let mut tampered: Vec<char> = token.chars().collect();
    let last = tampered.len() - 3;
    tampered[last] = if tampered[last] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    let page = stack
        .call(Method::GET, &format!("/rsvp/{tampered}"), None, None)
        .await;
    assert_eq!(page.status, 403);
    let posted = post_form(&stack, &format!("/rsvp/{tampered}"), "status=declined").await;
    assert_eq!(posted.status, 403);
    let api = stack
        .call(
            Method::PUT,
            &format!("/api/v1/rsvp/{tampered}"),
            None,
            Some(json!({"status": "declined"})),
        )
        .await;
    assert_problem(&api, 403, "tampered token");
    assert_eq!(api.body["type"], "/problems/link-refused");
    let garbage = stack
        .call(Method::GET, "/api/v1/rsvp/not-a-token", None, None)
        .await;
    assert_problem(&garbage, 403, "garbage token");

    // Expired, and signed with another tenant's key: refused the same way.
    let tenant: herald::ids::TenantId = r.s.t.id.parse().expect("tenant");
    let other = tenant_of_another(&stack).await;
    let claims = herald::rsvp::RsvpClaims {
        tenant,
        event: r.s.event.parse().expect("event"),
        guest: r.guests[1].parse().expect("guest"),
        locale: None,
        expires: u32::try_from(chrono::Utc::now().timestamp() - 10).expect("time"),
    };
    let own_key = stack.state.links.key(tenant).await.expect("key");
    let other_key = stack.state.links.key(other).await.expect("key");
    let expired = claims.sign(own_key.as_ref());
    let foreign = herald::rsvp::RsvpClaims {
        expires: u32::MAX,
        ..claims
    }
    .sign(other_key.as_ref());
    for (token, what) in [(expired, "expired"), (foreign, "not valid")] {
        let refused = stack
            .call(Method::GET, &format!("/api/v1/rsvp/{token}"), None, None)
            .await;
        assert_problem(&refused, 403, what);
        assert!(
            refused.body["detail"]
                .as_str()
                .unwrap_or_default()
                .contains(what),
            "{}",
            refused.body
        );
        let page = stack
            .call(Method::GET, &format!("/rsvp/{token}"), None, None)
            .await;
        assert_eq!(page.status, 403);
    }

    // After the deadline: the page shows the answer and says answers are closed; the JSON
    // API is a 409 naming the deadline; the tenant may still record one.
    expect(
        &stack,
        Method::PUT,
        &format!("/api/v1/events/{}/rsvp/form", r.s.event),
        key,
        Some(form(1, "2026-01-10T12:00:00")),
        200,
    )
    .await;
    let closed = stack
        .call(Method::GET, &format!("/rsvp/{token}"), None, None)
        .await;
    assert_eq!(closed.status, 200);
    assert!(!html(&closed).contains("<form"), "{}", html(&closed));
    assert!(html(&closed).contains("2026"), "{}", html(&closed));
    let late = post_form(&stack, &format!("/rsvp/{token}"), "status=declined").await;
    assert_eq!(late.status, 409);
    let late = stack
        .call(
            Method::PUT,
            &format!("/api/v1/rsvp/{token}"),
            None,
            Some(json!({"status": "declined"})),
        )
        .await;
    assert_problem(&late, 409, "after the deadline");
    assert!(
        late.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("deadline"),
        "{}",
        late.body
    );
    let by_phone = expect(
        &stack,
        Method::PUT,
        &format!("/api/v1/events/{}/guests/{}/rsvp", r.s.event, r.guests[1]),
        key,
        Some(json!({"status": "declined", "send_confirmation": false})),
        200,
    )
    .await;
    assert_eq!(by_phone["guest"]["rsvp"]["source"], "api");
    assert!(by_phone.get("confirmation_id").is_none(), "{by_phone}");

    // A guest removed from the event: the link finds nothing.
    expect(
        &stack,
        Method::DELETE,
        &format!("/api/v1/events/{}/guests/{}", r.s.event, r.guests[1]),
        key,
        None,
        204,
    )
    .await;
    let gone = stack
        .call(Method::GET, &format!("/rsvp/{token}"), None, None)
        .await;
    assert_eq!(gone.status, 404);
    let gone = stack
        .call(Method::GET, &format!("/api/v1/rsvp/{token}"), None, None)
        .await;
    assert_problem(&gone, 404, "removed guest");
}

async fn tenant_of_another(stack: &TestStack) -> herald::ids::TenantId {
    tenant(stack, "Other").await.id.parse().expect("tenant")
}

#[tokio::test]
async fn two_answers_at_once_both_stored_one_confirmation_each() {
    let stack = stack().await;
    let r = ready(&stack).await;
    let token = link(&stack, &r, 2).await;
    let api = format!("/api/v1/rsvp/{token}");
    let yes = json!({"status": "accepted", "party_size": 1, "answers": {"menu": "meat"}});
    let no = json!({"status": "declined"});
    let (a, b) = tokio::join!(
        stack.call(Method::PUT, &api, None, Some(yes)),
        stack.call(Method::PUT, &api, None, Some(no)),
    );
    assert_eq!(
        (a.status.as_u16(), b.status.as_u16()),
        (200, 200),
        "{} {}",
        a.body,
        b.body
    );
    let view = expect(&stack, Method::GET, &api, "", None, 200).await;
    // Both were stored, one after the other; the later stands.
    assert_eq!(view["rsvp"]["version"], 2, "{view}");
    let versions = [&a.body, &b.body].map(|v| v["rsvp"]["version"].as_u64().unwrap_or(0));
    assert!(
        versions.contains(&1) && versions.contains(&2),
        "{versions:?}"
    );
    let last = if versions[0] == 2 { &a.body } else { &b.body };
    assert_eq!(view["rsvp"]["status"], last["rsvp"]["status"]);
    let sent = mails(&r.emails[2], 2).await;
    assert_eq!(sent.len(), 2, "one confirmation per stored change");
}

#[tokio::test]
async fn audiences_figures_and_the_export_follow_the_answers() {
    let stack = stack().await;
    let r = ready(&stack).await;
    let key = &r.s.t.admin;
    // The tenant's systems hear of every change (Standard Webhooks, signed).
    let receiver = herald_local::fakes::receiver::Receiver::start(vec![])
        .await
        .expect("receiver");
    let created = expect(
        &stack,
        Method::POST,
        "/api/v1/communication/webhook-endpoints",
        key,
        Some(json!({"url": format!("{}/hooks", receiver.url()),
            "event_types": ["guest.rsvp_changed"]})),
        201,
    )
    .await;
    receiver.set_secrets(vec![
        herald::webhooks::WebhookSecret::parse(&text(&created, "secret")).expect("a secret"),
    ]);
    let guest_rsvp = |i: usize| format!("/api/v1/events/{}/guests/{}/rsvp", r.s.event, r.guests[i]);
    expect(
        &stack,
        Method::PUT,
        &guest_rsvp(0),
        key,
        Some(json!({"status": "accepted", "party_size": 3, "answers": {"menu": "meat"}})),
        200,
    )
    .await;
    expect(
        &stack,
        Method::PUT,
        &guest_rsvp(1),
        key,
        Some(json!({"status": "declined"})),
        200,
    )
    .await;

    let heard = receiver.wait_for(2, Duration::from_secs(30)).await;
    assert_eq!(heard.len(), 2, "{heard:?}");
    for d in &heard {
        assert!(d.valid_signature, "{d:?}");
        assert_eq!(d.body["type"], "guest.rsvp_changed", "{:?}", d.body);
    }
    let states: Vec<&str> = heard
        .iter()
        .filter_map(|d| d.body["data"]["state"].as_str())
        .collect();
    assert!(
        states.contains(&"accepted") && states.contains(&"declined"),
        "{states:?}"
    );

    let figures = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{}/rsvp", r.s.event),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(figures["counts"]["accepted"], 1, "{figures}");
    assert_eq!(figures["counts"]["declined"], 1, "{figures}");
    assert_eq!(figures["counts"]["no_response"], 1, "{figures}");
    assert_eq!(figures["expected_attendance"], 3, "{figures}");

    let export = stack
        .call(
            Method::GET,
            &format!("/api/v1/events/{}/guests/export", r.s.event),
            Some(key),
            None,
        )
        .await;
    assert_eq!(export.status, 200);
    assert!(header_of(&export, "content-type").starts_with("text/csv"));
    let csv = export.body.as_str().unwrap_or_default();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.contains("accepted"), "{csv}");

    // "Remind those who have not answered": only the third guest.
    let created = expect(
        &stack,
        Method::POST,
        "/api/v1/communication/campaigns",
        key,
        Some(
            json!({"event_id": r.s.event, "name": "Reminder", "category": "invitation",
            "channels": ["email"],
            "audience": {"kind": "rsvp", "statuses": ["no_response"]}}),
        ),
        201,
    )
    .await;
    let id = text(&created, "id");
    expect(
        &stack,
        Method::POST,
        &format!("/api/v1/communication/campaigns/{id}/send"),
        key,
        None,
        202,
    )
    .await;
    let done = finished(&stack, key, &id, 120).await;
    assert_eq!(done["counts"]["sent"], 1, "{done}");
    assert_eq!(mails(&r.emails[2], 1).await.len(), 1);
    assert!(sent_mail(&r.emails[1]).await.is_empty());
}
