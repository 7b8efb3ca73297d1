//! Consent end to end on the local stack: the signed links in every message, one-click
//! unsubscribe (RFC 8058), the preference page and its JSON API, the consent ledger, quiet
//! hours and frequency caps in the sender, and complaints changing consent.

mod common;

use std::time::Duration;

use axum::http::Method;
use chrono::{SecondsFormat, Timelike, Utc};
use common::*;
use herald::consent::{LinkClaims, ONE_CLICK_WORDING, PAGE_WORDING};
use herald::ids::{ContactId, TenantId};
use serde_json::{Value, json};

async fn get_page(stack: &TestStack, uri: &str) -> Answer {
    stack.call(Method::GET, uri, None, None).await
}

/// The tag of the form control with `id`.
fn control<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!(" id=\"{id}\""))
        .unwrap_or_else(|| panic!("no control {id}: {html}"));
    let start = html[..at].rfind('<').unwrap_or(at);
    let end = html[at..].find('>').map_or(html.len(), |e| at + e + 1);
    &html[start..end]
}

fn location(answer: &Answer) -> String {
    answer
        .headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn one_click_unsubscribe_from_the_sent_mail_skips_the_guest_next_time() {
    let stack = stack().await;
    let s = ready(&stack).await;
    let key = &s.t.admin;
    let (leaving, staying) = (unique_email("leaving"), unique_email("staying"));
    import_guests(
        &stack,
        key,
        &s.event,
        vec![
            json!({"first_name": "Léa", "email": leaving, "locale": "fr-FR"}),
            json!({"first_name": "Sam", "email": staying}),
        ],
    )
    .await;
    let first = campaign(&stack, key, &s.event).await;
    assert_eq!(first["counts"]["sent"], 2, "{first}");

    // The header in the sent mail: a one-click URL of Herald's, and the RFC 8058 marker.
    let mails = sent_mail(&leaving).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let headers = &mails[0]["headers"];
    assert_eq!(
        headers["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click",
        "{headers}"
    );
    let header = headers["List-Unsubscribe"]
        .as_str()
        .expect("List-Unsubscribe");
    let url = header
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned();
    let path = url
        .strip_prefix("http://herald.test")
        .unwrap_or_else(|| panic!("a Herald URL: {url}"))
        .to_owned();
    assert!(path.starts_with("/unsubscribe/"), "{path}");
    let contact = contact_of(&stack, key, &s.event, &leaving).await;
    assert_eq!(mails[0]["tags"]["herald_contact"], contact.as_str());

    // A browser's GET shows the preference page, in the guest's language; nothing changes.
    let page = get_page(&stack, &path).await;
    assert_eq!(page.status, 200, "{:?}", page.body);
    assert!(
        html(&page).contains("<html lang=\"fr\">"),
        "{}",
        html(&page)
    );
    assert!(ledger(&stack, key, &contact).await.is_empty());

    // The mail client's one-click POST: unsubscribed from invitations by email, at once.
    let posted = post_form(&stack, &path, "List-Unsubscribe=One-Click").await;
    assert_eq!(posted.status, 200, "{:?}", posted.body);
    assert!(
        html(&posted).contains("role=\"status\""),
        "{}",
        html(&posted)
    );
    // A second POST (mail clients retry) changes nothing more.
    assert_eq!(
        post_form(&stack, &path, "List-Unsubscribe=One-Click")
            .await
            .status,
        200
    );
    let entries = ledger(&stack, key, &contact).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["source"], "one_click");
    assert_eq!(entries[0]["wording_version"], ONE_CLICK_WORDING);
    assert_eq!(entries[0]["changes"], json!(["opted_out:invitation#email"]));
    assert!(entries[0]["message_id"].as_str().is_some());

    // The unsubscribe counts in the campaign's analytics.
    let q = format!(
        "{}/dashboard?campaign_id={}",
        "/api/v1/communication/analytics",
        text(&first, "id")
    );
    let mut unsubscribed = Value::Null;
    for _ in 0..40 {
        let d = expect(&stack, Method::GET, &q, key, None, 200).await;
        unsubscribed = d["totals"]["counts"]["unsubscribed"].clone();
        if unsubscribed == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(unsubscribed, 1);

    // The next campaign skips the guest who left and reaches the other.
    let second = campaign(&stack, key, &s.event).await;
    assert_eq!(second["counts"]["sent"], 1, "{second}");
    assert_eq!(second["counts"]["no_consent"], 1, "{second}");
    assert_eq!(sent_mail(&leaving).await.len(), 1);
    assert_eq!(sent_mail(&staying).await.len(), 2);
}

#[tokio::test]
async fn preference_links_refuse_tampering_expiry_and_other_tenants() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let key = &s.t.admin;
    let other = tenant(&stack, "Other").await;
    let email = unique_email("prefs");
    import_guests(
        &stack,
        key,
        &s.event,
        vec![json!({"first_name": "P", "email": email})],
    )
    .await;
    let contact = contact_of(&stack, key, &s.event, &email).await;
    let link = expect(
        &stack,
        Method::POST,
        &format!("{CONTACTS}/{contact}/preference-link?lang=de"),
        key,
        None,
        201,
    )
    .await;
    let token = text(&link, "token");
    assert!(text(&link, "preferences_url").ends_with(&format!("/preferences/{token}")));
    let view = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/preferences/{token}"),
        "",
        None,
        200,
    )
    .await;
    assert_eq!(view["tenant_name"], "Acme");
    assert_eq!(view["language"], "de");
    assert_eq!(view["preferences"]["unsubscribed"], false);
    let page = get_page(&stack, &format!("/preferences/{token}")).await;
    assert_eq!(page.status, 200);
    assert!(html(&page).contains("<html lang=\"de\">"));
    assert!(html(&page).contains("<legend>E-Mail</legend>"));

    // Tampered: every flipped character is refused, by the page, the JSON API and one-click.
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 5;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    let refused = get_page(&stack, &format!("/preferences/{tampered}")).await;
    assert_eq!(refused.status, 403);
    assert!(html(&refused).contains("role=\"alert\""));
    let refused = stack
        .call(
            Method::GET,
            &format!("/api/v1/preferences/{tampered}"),
            None,
            None,
        )
        .await;
    assert_problem(&refused, 403, "a tampered token");
    // The guest has no API key: the refusal is about the link.
    assert_eq!(refused.body["type"], "/problems/link-refused");
    assert_eq!(refused.body["title"], "This link is not valid");
    let refused = post_form(
        &stack,
        &format!("/unsubscribe/{tampered}"),
        "List-Unsubscribe=One-Click",
    )
    .await;
    assert_eq!(refused.status, 403);
    for garbage in ["x", "%00", &"A".repeat(80)] {
        let refused = stack
            .call(
                Method::GET,
                &format!("/api/v1/preferences/{garbage}"),
                None,
                None,
            )
            .await;
        assert_problem(&refused, 403, garbage);
    }

    // Expired, and signed for another tenant (with either tenant's key).
    let tenant_a: TenantId = s.t.id.parse().expect("tenant");
    let tenant_b: TenantId = other.id.parse().expect("tenant");
    let contact_id: ContactId = contact.parse().expect("contact");
    let key_a = stack.state.links.key(tenant_a).await.expect("key");
    let key_b = stack.state.links.key(tenant_b).await.expect("key");
    let claims = |tenant, expires| LinkClaims {
        tenant,
        contact: contact_id,
        message: None,
        category: None,
        channel: None,
        language: 0,
        expires,
    };
    let past = u32::try_from(Utc::now().timestamp() - 10).expect("time");
    let future = u32::try_from(Utc::now().timestamp() + 3600).expect("time");
    let expired = claims(tenant_a, past).sign(key_a.as_ref());
    let answer = stack
        .call(
            Method::GET,
            &format!("/api/v1/preferences/{expired}"),
            None,
            None,
        )
        .await;
    assert_problem(&answer, 403, "an expired token");
    assert!(
        answer.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("expired")
    );
    let page = get_page(&stack, &format!("/preferences/{expired}")).await;
    assert_eq!(page.status, 403);
    for foreign in [
        claims(tenant_b, future).sign(key_a.as_ref()),
        claims(tenant_a, future).sign(key_b.as_ref()),
    ] {
        let answer = stack
            .call(
                Method::PUT,
                &format!("/api/v1/preferences/{foreign}"),
                None,
                Some(json!({"preferences": {"unsubscribed": true}})),
            )
            .await;
        assert_problem(&answer, 403, "a token of another tenant");
    }
    // Tenant B's own valid token for A's contact id finds nothing.
    let wrong = claims(tenant_b, future).sign(key_b.as_ref());
    let answer = stack
        .call(
            Method::GET,
            &format!("/api/v1/preferences/{wrong}"),
            None,
            None,
        )
        .await;
    assert_problem(&answer, 404, "another tenant's contact");
    // And B's key learns nothing of A's contact on any contact route.
    for (method, uri, body) in [
        (Method::GET, format!("{CONTACTS}/{contact}"), None),
        (
            Method::PUT,
            format!("{CONTACTS}/{contact}/preferences"),
            Some(json!({"preferences": {}})),
        ),
        (Method::GET, format!("{CONTACTS}/{contact}/consent"), None),
        (
            Method::POST,
            format!("{CONTACTS}/{contact}/preference-link"),
            None,
        ),
    ] {
        let answer = stack.call(method, &uri, Some(&other.admin), body).await;
        assert_problem(&answer, 404, &uri);
    }
    assert!(ledger(&stack, key, &contact).await.is_empty());

    // The JSON API saves what it is given; bad preferences are 422 and change nothing.
    for bad in [
        json!({"preferences": {"frequency_cap": {"max": 0, "per": "day"}}}),
        json!({"preferences": {"quiet_hours": {"start": "22:00", "end": "22:00", "time_zone": "UTC"}}}),
        json!({"preferences": {"quiet_hours": {"start": "25:00", "end": "07:00", "time_zone": "UTC"}}}),
        json!({"preferences": {"opt_outs": [{"channel": "fax"}]}}),
        json!({"preferences": {}, "wording_version": ""}),
    ] {
        let answer = stack
            .call(
                Method::PUT,
                &format!("/api/v1/preferences/{token}"),
                None,
                Some(bad.clone()),
            )
            .await;
        assert!(
            matches!(answer.status.as_u16(), 400 | 422),
            "{bad}: {}",
            answer.status
        );
    }
    let saved = expect(
        &stack,
        Method::PUT,
        &format!("/api/v1/preferences/{token}"),
        "",
        Some(json!({"preferences": {
            "opt_outs": [{"channel": "sms"}],
            "frequency_cap": {"max": 3, "per": "week"},
            "quiet_hours": {"start": "21:30", "end": "07:00", "time_zone": "Europe/Berlin"}}})),
        200,
    )
    .await;
    assert_eq!(saved["preferences"]["frequency_cap"]["max"], 3);
    // The form on the page: everything ticked but reminders by email.
    let mut form: Vec<(String, String)> = Vec::new();
    for channel in ["email", "sms", "whatsapp"] {
        for category in herald::domain::TemplateCategory::ALL {
            if !(channel == "email" && category.as_str() == "reminder") {
                form.push(("subscribe".into(), format!("{category}#{channel}")));
            }
        }
    }
    form.push(("cap_max".into(), String::new()));
    form.push(("cap_per".into(), "week".into()));
    let posted = post_form(
        &stack,
        &format!("/preferences/{token}"),
        &serde_urlencoded::to_string(&form).expect("form"),
    )
    .await;
    // Saved: a redirect to the page that says so (post/redirect/get).
    assert_eq!(posted.status, 303, "{:?}", posted.body);
    let location = location(&posted);
    assert_eq!(location, format!("/preferences/{token}?outcome=saved"));
    let shown = get_page(&stack, &location).await;
    assert!(html(&shown).contains("role=\"status\""), "{}", html(&shown));
    assert!(html(&shown).contains("<title>Ihre Einstellungen sind gespeichert"));
    let bad_form = post_form(
        &stack,
        &format!("/preferences/{token}"),
        "cap_max=many&cap_per=day",
    )
    .await;
    assert_eq!(bad_form.status, 422);
    let now = expect(
        &stack,
        Method::GET,
        &format!("{CONTACTS}/{contact}"),
        key,
        None,
        200,
    )
    .await;
    // The guest has no phone: SMS is not on the page, and its opt-out (from the JSON API)
    // stays whatever the form posts for it.
    assert_eq!(
        now["preferences"],
        json!({"unsubscribed": false, "opt_outs": [
            {"channel": "email", "category": "reminder"}, {"channel": "sms"}]})
    );

    // The tenant changes them for the guest (as the CRM): recorded with the key that did it.
    let by_crm = expect(
        &stack,
        Method::PUT,
        &format!("{CONTACTS}/{contact}/preferences"),
        key,
        Some(
            json!({"preferences": {"unsubscribed": true}, "source": "crm",
            "wording_version": "crm-form-3"}),
        ),
        200,
    )
    .await;
    assert_eq!(by_crm["preferences"]["unsubscribed"], true);
    let refused = stack
        .call(
            Method::PUT,
            &format!("{CONTACTS}/{contact}/preferences"),
            Some(key),
            Some(json!({"preferences": {}, "source": "complaint"})),
        )
        .await;
    assert_problem(&refused, 422, "a source that is Herald's own");
    let entries = ledger(&stack, key, &contact).await;
    let sources: Vec<&str> = entries
        .iter()
        .map(|e| e["source"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(sources, ["guest_link", "guest_link", "crm"], "{entries:?}");
    assert_eq!(entries[0]["wording_version"], PAGE_WORDING);
    assert_eq!(entries[2]["wording_version"], "crm-form-3");
    assert!(entries[2]["key_id"].as_str().is_some());
    assert!(entries[0]["at"].as_str() <= entries[2]["at"].as_str());

    // Event managers do not manage contacts.
    let (_, manager) = event_manager(&stack, key, &s.t.id, &[&s.event]).await;
    let answer = stack
        .call(
            Method::GET,
            &format!("{CONTACTS}/{contact}"),
            Some(&manager),
            None,
        )
        .await;
    assert_problem(&answer, 403, "an event manager");
}

#[tokio::test]
async fn the_guest_pages_speak_the_guest_s_language_keep_what_they_typed_and_unsubscribe_first() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let key = &s.t.admin;
    let email = unique_email("jonas");
    import_guests(
        &stack,
        key,
        &s.event,
        vec![
            json!({"first_name": "Jonas", "last_name": "Weber", "email": email, "locale": "de-DE"}),
        ],
    )
    .await;
    let contact = contact_of(&stack, key, &s.event, &email).await;
    // A link the tenant issues without `lang` is in the guest's own language.
    let link = expect(
        &stack,
        Method::POST,
        &format!("{CONTACTS}/{contact}/preference-link"),
        key,
        None,
        201,
    )
    .await;
    let token = text(&link, "token");
    let page = get_page(&stack, &format!("/preferences/{token}")).await;
    assert_eq!(page.status, 200);
    let body = html(&page);
    assert!(body.contains("<html lang=\"de\">"), "{body}");
    assert!(body.contains("Für Jonas Weber"), "whose page it is: {body}");
    assert!(body.contains("<legend>E-Mail</legend>"), "{body}");
    assert!(
        !body.contains("<legend>SMS</legend>"),
        "no phone, no SMS: {body}"
    );
    assert!(!body.contains("<legend>WhatsApp</legend>"), "{body}");
    let csp = page.headers["content-security-policy"]
        .to_str()
        .unwrap_or_default();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    // `?lang=` takes a locale too.
    let french = get_page(&stack, &format!("/preferences/{token}?lang=fr-FR")).await;
    assert!(html(&french).contains("<html lang=\"fr\">"));

    // Bad input, in French: every error in a summary that links to its field and takes
    // focus, each field marked and keeping what was typed; nothing saved.
    let posted = post_form(
        &stack,
        &format!("/preferences/{token}?lang=fr"),
        "subscribe=invitation%23email&cap_max=beaucoup&cap_per=week&quiet_start=22%3A00&quiet_end=&time_zone=Lune%2FBase",
    )
    .await;
    assert_eq!(posted.status, 422);
    let body = html(&posted);
    assert!(body.contains("<title>Erreur : "), "{body}");
    assert!(body.contains("class=\"error-summary\""), "{body}");
    assert!(body.contains("tabindex=\"-1\" autofocus"), "{body}");
    for field in ["cap_max", "quiet_end", "time_zone"] {
        assert!(
            body.contains(&format!("<a href=\"#{field}\">")),
            "{field}: {body}"
        );
        let input = control(body, field);
        assert!(input.contains("aria-invalid=\"true\""), "{input}");
        assert!(input.contains(&format!("{field}-error\"")), "{input}");
    }
    assert!(
        body.contains("Au plus ce nombre de messages : saisissez"),
        "labels, in French: {body}"
    );
    assert!(!body.contains("cap_max:"), "no internal names: {body}");
    assert!(body.contains("value=\"beaucoup\""), "{body}");
    assert!(body.contains("value=\"Lune&#x2f;Base\""), "{body}");
    assert!(body.contains("value=\"22:00\""), "{body}");
    assert!(
        body.contains("value=\"invitation#email\" checked"),
        "{body}"
    );
    assert!(
        body.contains("value=\"reminder#email\">"),
        "unticked stays unticked: {body}"
    );
    assert_eq!(body.matches("aria-invalid=\"true\"").count(), 3, "{body}");
    assert!(ledger(&stack, key, &contact).await.is_empty());

    // The unsubscribe link: its page's first control is the unsubscribe it promised, and a GET
    // changes nothing.
    let unsubscribe = format!("/unsubscribe/{token}");
    let page = get_page(&stack, &unsubscribe).await;
    assert_eq!(page.status, 200);
    let body = html(&page);
    let button = body.find("<button").unwrap_or(usize::MAX);
    assert!(body.find("<a ").is_some_and(|a| a > button), "{body}");
    assert!(
        body.contains("keine Nachrichten mehr, auf keinem Kanal"),
        "{body}"
    );
    assert!(ledger(&stack, key, &contact).await.is_empty());
    let pressed = post_form(&stack, &unsubscribe, "confirm=yes").await;
    assert_eq!(pressed.status, 303);
    let location = location(&pressed);
    assert_eq!(location, format!("{unsubscribe}?outcome=unsubscribed"));
    let done = get_page(&stack, &location).await;
    let body = html(&done);
    assert!(body.contains("<title>Sie sind abgemeldet"), "{body}");
    assert!(body.contains("role=\"status\""), "{body}");
    assert!(!body.contains("<button"), "{body}");
    let entries = ledger(&stack, key, &contact).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["source"], "guest_link");
    assert_eq!(entries[0]["wording_version"], "unsubscribe-page/2026-12");
    assert_eq!(entries[0]["changes"], json!(["unsubscribed:true"]));
    // Pressing again (a reload of the POST) changes nothing more.
    assert_eq!(
        post_form(&stack, &unsubscribe, "confirm=yes").await.status,
        303
    );
    assert_eq!(ledger(&stack, key, &contact).await.len(), 1);
}

/// `HH:MM` of a UTC time.
fn clock(at: chrono::DateTime<Utc>) -> String {
    format!("{:02}:{:02}", at.hour(), at.minute())
}

#[tokio::test]
async fn quiet_hours_delay_campaign_messages_and_frequency_caps_skip_them() {
    let stack = stack().await;
    let s = ready(&stack).await;
    let key = &s.t.admin;
    let (quiet, capped, plain) = (
        unique_email("quiet"),
        unique_email("capped"),
        unique_email("plain"),
    );
    import_guests(
        &stack,
        key,
        &s.event,
        vec![
            json!({"first_name": "Q", "email": quiet}),
            json!({"first_name": "C", "email": capped}),
            json!({"first_name": "P", "email": plain}),
        ],
    )
    .await;
    // Quiet from an hour ago until the start of a minute 60 to 120 seconds from now.
    let now = Utc::now();
    let end = (now + chrono::Duration::seconds(120))
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .expect("a time");
    let quiet_contact = contact_of(&stack, key, &s.event, &quiet).await;
    expect(
        &stack,
        Method::PUT,
        &format!("{CONTACTS}/{quiet_contact}/preferences"),
        key,
        Some(json!({"preferences": {"quiet_hours": {
            "start": clock(now - chrono::Duration::hours(1)), "end": clock(end), "time_zone": "UTC"}}})),
        200,
    )
    .await;
    let capped_contact = contact_of(&stack, key, &s.event, &capped).await;
    expect(
        &stack,
        Method::PUT,
        &format!("{CONTACTS}/{capped_contact}/preferences"),
        key,
        Some(json!({"preferences": {"frequency_cap": {"max": 1, "per": "day"}}})),
        200,
    )
    .await;

    let id = send_to_all(&stack, key, &s.event, json!(["email"])).await;
    // The others are sent while the quiet guest's message waits, saying why.
    let mut waiting = Value::Null;
    for _ in 0..240 {
        let c = expect(
            &stack,
            Method::GET,
            &format!("{CAMPAIGNS}/{id}"),
            key,
            None,
            200,
        )
        .await;
        if c["counts"]["sent"] == 2 {
            waiting = c;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(waiting["status"], "sending", "{waiting}");
    assert_eq!(sent_mail(&quiet).await.len(), 0);
    let guest = text(&guest_of(&stack, key, &s.event, &quiet).await, "id");
    let message = herald::ids::MessageId::derived(&[&id, &guest]);
    let held = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/communication/messages/{message}"),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(held["status"], "queued", "{held}");
    assert!(
        held["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("quiet hours"),
        "{held}"
    );
    // When the quiet hours end, it goes.
    let done = finished(&stack, key, &id, 240).await;
    assert_eq!(done["status"], "sent", "{done}");
    assert_eq!(done["counts"]["sent"], 3, "{done}");
    assert!(Utc::now() >= end);
    assert_eq!(sent_mail(&quiet).await.len(), 1);

    // A second campaign the same day: the capped guest's message is recorded, not sent.
    let second = campaign(&stack, key, &s.event).await;
    assert_eq!(second["counts"]["sent"], 2, "{second}");
    assert_eq!(second["counts"]["frequency_capped"], 1, "{second}");
    assert_eq!(sent_mail(&capped).await.len(), 1);
    assert_eq!(sent_mail(&plain).await.len(), 2);
}

#[tokio::test]
async fn a_complaint_opts_the_contact_out_of_email_in_its_ledger() {
    let stack = stack().await;
    let s = ready(&stack).await;
    let key = &s.t.admin;
    let email = unique_email("complains");
    import_guests(
        &stack,
        key,
        &s.event,
        vec![json!({"first_name": "C", "email": email})],
    )
    .await;
    let first = campaign(&stack, key, &s.event).await;
    assert_eq!(first["counts"]["sent"], 1, "{first}");
    let mail = sent_mail(&email).await.pop().expect("a sent mail");
    let contact = text(&mail["tags"], "herald_contact");
    let tags = &mail["tags"];
    let at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let body = std::fs::read_to_string(format!(
        "{}/tests/fixtures/ses/complaint.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
    .replace(
        "{{tenant}}",
        tags["herald_tenant"].as_str().unwrap_or_default(),
    )
    .replace(
        "{{event}}",
        tags["herald_event"].as_str().unwrap_or_default(),
    )
    .replace(
        "{{message}}",
        tags["herald_message"].as_str().unwrap_or_default(),
    )
    .replace(
        "{{provider}}",
        tags["herald_provider"].as_str().unwrap_or_default(),
    )
    .replace("{{address}}", &email)
    .replace("{{ses_id}}", "ses-complaint-1")
    .replace("{{sent_at}}", &at)
    .replace("{{at}}", &at)
    .replace(
        "\"herald_message\": [",
        &format!("\"herald_contact\": [\"{contact}\"],\n      \"herald_message\": ["),
    );
    // Delivered twice, as SNS and SQS may: one ledger entry.
    stack.publish_ses_event(&body).await.expect("publish");
    stack.publish_ses_event(&body).await.expect("publish");
    let mut entries = Vec::new();
    for _ in 0..160 {
        entries = ledger(&stack, key, &contact).await;
        if !entries.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let entries_after = ledger(&stack, key, &contact).await;
    assert_eq!(entries_after.len(), 1, "{entries_after:?}");
    assert_eq!(entries[0]["source"], "complaint");
    assert_eq!(
        entries[0]["changes"],
        json!(["opted_out:*#email", "suppressed:email"])
    );
    let c = expect(
        &stack,
        Method::GET,
        &format!("{CONTACTS}/{contact}"),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(c["preferences"]["opt_outs"], json!([{"channel": "email"}]));
}

#[tokio::test]
async fn export_then_erasure_leaves_nothing_personal_and_the_opt_out_holds() {
    let stack = stack().await;
    let s = ready(&stack).await;
    let key = &s.t.admin;
    let email = unique_email("erase-me");
    let phone = format!("+4477{:08}", rand_u32() % 100_000_000);
    let name = format!("Quillon{}", rand_u32());
    let row = json!({"first_name": name, "last_name": "Erasable", "email": email, "phone": phone});
    import_guests(&stack, key, &s.event, vec![row.clone()]).await;
    let other_event = event(&stack, key, "", "Dinner").await;
    import_guests(&stack, key, &other_event, vec![row.clone()]).await;
    let first = campaign(&stack, key, &s.event).await;
    assert_eq!(first["counts"]["sent"], 1, "{first}");
    let guest = guest_of(&stack, key, &s.event, &email).await;
    let contact = text(&guest, "contact_id");
    // A transactional message to the guest, and a consent change.
    let sent = expect(
        &stack,
        Method::POST,
        "/api/v1/communication/messages",
        key,
        Some(
            json!({"event_id": s.event, "category": "invitation", "channels": ["email"],
            "guest_id": text(&guest, "id")}),
        ),
        202,
    )
    .await;
    let transactional = text(&sent, "id");
    // Erasure scrubs recorded messages: let the sender finish this one first.
    for _ in 0..160 {
        let m = expect(
            &stack,
            Method::GET,
            &format!("/api/v1/communication/messages/{transactional}"),
            key,
            None,
            200,
        )
        .await;
        if m["status"] == "sent" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    expect(
        &stack,
        Method::PUT,
        &format!("{CONTACTS}/{contact}/preferences"),
        key,
        Some(json!({"preferences": {"frequency_cap": {"max": 5, "per": "week"}}})),
        200,
    )
    .await;

    let export = expect(
        &stack,
        Method::POST,
        &format!("{CONTACTS}/{contact}/export"),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(export["contact"]["email"], email.as_str());
    assert_eq!(
        export["guests"].as_array().map(Vec::len),
        Some(2),
        "{export}"
    );
    assert_eq!(
        export["messages"].as_array().map(Vec::len),
        Some(2),
        "{export}"
    );
    assert_eq!(export["consent"].as_array().map(Vec::len), Some(1));
    assert_eq!(export["preferences"]["frequency_cap"]["max"], 5);
    // Another tenant cannot export or erase it.
    let other = tenant(&stack, "Other").await;
    for method in [Method::POST, Method::DELETE] {
        let uri = if method == Method::POST {
            format!("{CONTACTS}/{contact}/export")
        } else {
            format!("{CONTACTS}/{contact}")
        };
        let answer = stack.call(method, &uri, Some(&other.admin), None).await;
        assert_problem(&answer, 404, &uri);
    }

    let erased = expect(
        &stack,
        Method::DELETE,
        &format!("{CONTACTS}/{contact}"),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(erased["guests"], 2);
    assert_eq!(erased["messages"], 2);
    assert_eq!(erased["suppressed"], json!(["email", "phone"]));
    for needle in [email.as_str(), phone.as_str(), name.as_str()] {
        assert_table_lacks(&stack, needle).await;
    }
    let gone = stack
        .call(
            Method::GET,
            &format!("{CONTACTS}/{contact}"),
            Some(key),
            None,
        )
        .await;
    assert_problem(&gone, 404, "an erased contact");
    let message = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/communication/messages/{transactional}"),
        key,
        None,
        200,
    )
    .await;
    assert!(message.get("guest_id").is_none(), "{message}");
    // Both are in the audit log.
    let log = items(&expect(&stack, Method::GET, "/api/v1/audit", key, None, 200).await);
    for action in [
        "POST /api/v1/communication/contacts/{id}/export",
        "DELETE /api/v1/communication/contacts/{id}",
    ] {
        assert!(
            log.iter().any(|e| e["action"] == action),
            "{action}: {log:?}"
        );
    }
    // Only a hash of the address is kept, and the opt-out holds if the person comes back.
    let entry = expect(
        &stack,
        Method::GET,
        &format!(
            "/api/v1/communication/suppressions?address={}",
            email.replace('+', "%2B")
        ),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(items(&entry).len(), 1, "{entry}");
    assert_eq!(items(&entry)[0]["source"], "erasure");
    import_guests(&stack, key, &s.event, vec![row]).await;
    let again = campaign(&stack, key, &s.event).await;
    assert_eq!(again["counts"]["suppressed"], 1, "{again}");
}

#[tokio::test]
async fn message_records_and_their_events_expire_by_the_tenant_s_retention() {
    let stack = stack().await;
    let s = ready(&stack).await;
    let key = &s.t.admin;
    let tenant = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/tenants/{}", s.t.id),
        key,
        None,
        200,
    )
    .await;
    for bad in [0, 4000] {
        let answer = stack
            .call(
                Method::PUT,
                &format!("/api/v1/tenants/{}", s.t.id),
                Some(key),
                Some(json!({"version": tenant["version"], "name": "Acme", "retention_days": bad})),
            )
            .await;
        assert_problem(&answer, 422, "a retention out of range");
    }
    let updated = expect(
        &stack,
        Method::PUT,
        &format!("/api/v1/tenants/{}", s.t.id),
        key,
        Some(json!({"version": tenant["version"], "name": "Acme", "retention_days": 30})),
        200,
    )
    .await;
    assert_eq!(updated["retention_days"], 30);
    let email = unique_email("retained");
    import_guests(
        &stack,
        key,
        &s.event,
        vec![json!({"first_name": "R", "email": email})],
    )
    .await;
    let done = campaign(&stack, key, &s.event).await;
    assert_eq!(done["counts"]["sent"], 1, "{done}");
    let guest = text(&guest_of(&stack, key, &s.event, &email).await, "id");
    let message = herald::ids::MessageId::derived(&[&text(&done, "id"), &guest]);
    let expected = (Utc::now() + chrono::Duration::days(30)).timestamp();
    let pk = format!("TENANT#{}#MSG#{message}", s.t.id);
    // The record, and (once the tracker has it) SES's Send event next to it.
    let mut ttls = Vec::new();
    for _ in 0..120 {
        ttls = scan_all(&stack)
            .await
            .into_iter()
            .filter(|i| item_key(i).0 == pk)
            .map(|i| {
                let ttl = i
                    .get("ttl")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse::<i64>().ok());
                (item_key(&i).1, ttl)
            })
            .collect();
        if ttls.iter().any(|(sk, _)| sk.starts_with("EV#")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(ttls.len() >= 2, "{ttls:?}");
    for (sk, ttl) in &ttls {
        let ttl = ttl.unwrap_or_else(|| panic!("{sk} has no ttl"));
        assert!((ttl - expected).abs() < 600, "{sk}: {ttl} vs {expected}");
    }
}
