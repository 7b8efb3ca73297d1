//! The event setup wizard end to end through the local stack: steps, readiness, asynchronous
//! completion by the wizard function (polling its SQS queue as in Lambda), snapshots, the diff,
//! racing completions, previews and test sends.

mod common;

use axum::http::Method;
use common::*;
use serde_json::{Value, json};
use wiremock::ResponseTemplate;
use wiremock::matchers::body_string_contains;

#[tokio::test]
async fn completing_the_wizard_freezes_and_activates_a_snapshot() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let key = &s.t.admin;

    let wizard = expect(
        &stack,
        Method::GET,
        &wizard_uri(&s.event, ""),
        key,
        None,
        200,
    )
    .await;
    let steps = &wizard["steps"];
    assert_eq!(steps["providers"][0]["channel"], "email");
    assert_eq!(steps["providers"][0]["mode"], "inherited");
    assert_eq!(steps["providers"][0]["source"], "tenant");
    assert_eq!(steps["templates"][0]["category"], "invitation");
    assert_eq!(steps["templates"][0]["mode"], "inherited");
    assert_eq!(
        steps["email_sender"]["sender"]["from_address"],
        "events@acme.example"
    );
    assert_eq!(
        steps["review"]["uses"],
        json!({"channels": ["email"], "categories": ["invitation"]})
    );
    assert_eq!(steps["review"]["uses_default"], true);
    assert_eq!(steps["review"]["changed_since_active"], true);
    assert!(steps["review"].get("completion").is_none());

    let readiness = expect(
        &stack,
        Method::POST,
        &wizard_uri(&s.event, "/validate"),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(readiness["ready"], true, "{readiness}");

    let run = complete_wizard(&stack, key, &s.event).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["snapshot_version"], 1);
    assert_eq!(run["unchanged"], false);

    // The active snapshot is what resolving the layers gave at completion.
    let active = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{}/snapshots/active", s.event),
        key,
        None,
        200,
    )
    .await;
    let configuration = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{}/configuration", s.event),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(active["version"], 1);
    assert_eq!(active["active"], true);
    assert_eq!(active["created_by"], json!(s.t.admin_key_id));
    assert_eq!(text(&active, "hash").len(), 64);
    let content = &active["content"];
    assert_eq!(
        content["config"]["templates"][0]["template"],
        configuration["templates"][0]["template"]
    );
    assert_eq!(content["config"]["compliance"], configuration["compliance"]);
    assert_eq!(content["config"]["brand"], configuration["brand"]);
    assert_eq!(content["event"], configuration["event"]);
    let credentials = &content["config"]["providers"][0]["providers"][0]["credentials"];
    assert!(credentials.get("ciphertext").is_none(), "{credentials}");

    // Nothing changed: no new version.
    let again = complete_wizard(&stack, key, &s.event).await;
    assert_eq!(
        (again["status"].as_str(), again["unchanged"].as_bool()),
        (Some("succeeded"), Some(true))
    );
    assert_eq!(again["snapshot_version"], 1);
    let listed = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{}/snapshots", s.event),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(items(&listed).len(), 1);
    assert_eq!(listed["items"][0]["active"], true);
    let diff = expect(
        &stack,
        Method::GET,
        &wizard_uri(&s.event, "/diff"),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(
        (
            diff["up_to_date"].as_bool(),
            diff["changes"].as_array().map(Vec::len)
        ),
        (Some(true), Some(0))
    );

    // A tenant default changes: the live event does not, until it is re-resolved.
    let tpl = id(&s.email_template);
    let mut changed = template_json("invitation", "email", "v2");
    changed["version"] = json!(1);
    changed.as_object_mut().map(|o| {
        o.remove("category");
        o.remove("channel")
    });
    expect(
        &stack,
        Method::PUT,
        &format!("/api/v1/communication/templates/{tpl}"),
        key,
        Some(changed),
        200,
    )
    .await;
    let diff = expect(
        &stack,
        Method::GET,
        &wizard_uri(&s.event, "/diff"),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(diff["up_to_date"], false);
    assert_eq!(diff["active_version"], 1);
    let changes = diff["changes"].as_array().cloned().unwrap_or_default();
    assert_eq!(changes.len(), 1, "{diff}");
    assert_eq!(changes[0]["path"], "templates/invitation/email");
    assert_eq!(changes[0]["kind"], "changed");
    assert_eq!(
        (
            changes[0]["before"]["version"].as_u64(),
            changes[0]["after"]["version"].as_u64()
        ),
        (Some(1), Some(2))
    );
    let preview = |source: &'static str| json!({"category": "invitation", "channel": "email", "source": source});
    let uri = format!("/api/v1/events/{}/preview", s.event);
    let old = expect(
        &stack,
        Method::POST,
        &uri,
        key,
        Some(preview("active")),
        200,
    )
    .await;
    assert!(
        text(&old["rendered"], "subject").starts_with("v1:"),
        "{old}"
    );
    assert_eq!(old["snapshot_version"], 1);
    let new = expect(&stack, Method::POST, &uri, key, Some(preview("live")), 200).await;
    assert!(
        text(&new["rendered"], "subject").starts_with("v2:"),
        "{new}"
    );

    let third = complete_wizard(&stack, key, &s.event).await;
    assert_eq!(third["snapshot_version"], 2);
    let listed = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{}/snapshots", s.event),
        key,
        None,
        200,
    )
    .await;
    let versions: Vec<(u64, bool)> = items(&listed)
        .iter()
        .map(|i| {
            (
                i["version"].as_u64().unwrap_or(0),
                i["active"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert_eq!(versions, [(1, false), (2, true)]);
    let first = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{}/snapshots/1", s.event),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(
        first["content"]["config"]["templates"][0]["template"]["version"],
        1
    );
}

#[tokio::test]
async fn a_failed_validation_says_why_and_keeps_the_active_snapshot() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let key = &s.t.admin;
    assert_eq!(
        complete_wizard(&stack, key, &s.event).await["snapshot_version"],
        1
    );

    // The event now also sends SMS reminders, with no SMS provider or templates anywhere,
    // and a reminder email template that uses a custom field the sample guest lacks.
    template(
        &stack,
        key,
        "",
        "reminder",
        "email",
        "{{ guest.fields.dietary }}",
    )
    .await;
    expect(
        &stack,
        Method::PUT,
        &wizard_uri(&s.event, "/uses"),
        key,
        Some(json!({"channels": ["sms", "email"], "categories": ["reminder", "invitation"]})),
        200,
    )
    .await;
    let readiness = expect(
        &stack,
        Method::POST,
        &wizard_uri(&s.event, "/validate"),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(readiness["ready"], false);
    let found: Vec<(String, String)> = readiness["blockers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|b| (text(b, "code"), text(b, "pointer")))
        .collect();
    let want = |code: &str, pointer: &str| (code.to_owned(), pointer.to_owned());
    assert_eq!(
        found,
        vec![
            want("no_help_text", "conversation_settings/help_text"),
            want("no_provider", "providers/sms"),
            want("missing_template", "templates/invitation/sms"),
            want("template_render_failed", "templates/reminder/email"),
            want("missing_template", "templates/reminder/sms"),
        ]
    );
    assert!(
        readiness["blockers"][0]["fix"]
            .as_str()
            .is_some_and(|f| f.contains("PUT /api/v1/communication/conversation-settings"))
    );
    assert!(
        readiness["blockers"][1]["fix"]
            .as_str()
            .is_some_and(|f| f.contains("POST /api/v1/communication/providers"))
    );

    let run = complete_wizard(&stack, key, &s.event).await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["blockers"].as_array().map(Vec::len), Some(5), "{run}");
    let wizard = expect(
        &stack,
        Method::GET,
        &wizard_uri(&s.event, ""),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(wizard["steps"]["review"]["active"]["version"], 1);
    let active = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{}/snapshots/active", s.event),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(active["content"]["uses"]["channels"], json!(["email"]));
}

#[tokio::test]
async fn racing_completions_make_one_run_and_one_version() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let key = s.t.admin.clone();
    let uri = wizard_uri(&s.event, "/complete");
    let call = || stack.call(Method::POST, &uri, Some(&key), None);
    let (a, b, c, d, e) = tokio::join!(call(), call(), call(), call(), call());
    let answers = [a, b, c, d, e];
    let accepted: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status.as_u16() == 202)
        .collect();
    assert_eq!(accepted.len(), 1, "exactly one completion is accepted");
    for refused in answers.iter().filter(|a| a.status.as_u16() != 202) {
        assert_problem(refused, 409, "a second completion while one is queued");
        assert!(text(&refused.body, "detail").contains("already"));
    }
    let run = wait_for_run(&stack, &key, &s.event, &text(&accepted[0].body, "run_id")).await;
    assert_eq!(run["snapshot_version"], 1);
    // Once it finished, another completion is accepted again (and changes nothing).
    let again = complete_wizard(&stack, &key, &s.event).await;
    assert_eq!(again["unchanged"], true);
    let listed = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{}/snapshots", s.event),
        &key,
        None,
        200,
    )
    .await;
    assert_eq!(items(&listed).len(), 1);
}

#[tokio::test]
async fn steps_switch_items_between_inherited_and_customised() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let key = &s.t.admin;
    common::consent::help_text(&stack, key).await;
    let step = |name: &str| wizard_uri(&s.event, &format!("/{name}"));

    // Templates: customise copies the inherited template to the event; inherit removes it.
    let v = expect(
        &stack,
        Method::PUT,
        &step("templates"),
        key,
        Some(json!({"category": "invitation", "channel": "email", "mode": "customise"})),
        200,
    )
    .await;
    let item = &v["steps"]["templates"][0];
    assert_eq!(
        (item["mode"].as_str(), item["source"].as_str()),
        (Some("customised"), Some("event"))
    );
    assert_ne!(item["template_id"], s.email_template["id"]);
    let event_templates = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/communication/templates?event_id={}", s.event),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(
        event_templates["items"][0]["subject"],
        s.email_template["subject"]
    );
    // Customising again changes nothing.
    let again = expect(
        &stack,
        Method::PUT,
        &step("templates"),
        key,
        Some(json!({"category": "invitation", "channel": "email", "mode": "customise"})),
        200,
    )
    .await;
    assert_eq!(
        again["steps"]["templates"][0]["template_id"],
        item["template_id"]
    );
    let v = expect(
        &stack,
        Method::PUT,
        &step("templates"),
        key,
        Some(json!({"category": "invitation", "channel": "email", "mode": "inherit"})),
        200,
    )
    .await;
    assert_eq!(v["steps"]["templates"][0]["mode"], "inherited");
    assert_eq!(
        v["steps"]["templates"][0]["template_id"],
        s.email_template["id"]
    );
    let nothing = stack
        .call(
            Method::PUT,
            &step("templates"),
            Some(key),
            Some(json!({"category": "survey", "channel": "sms", "mode": "customise"})),
        )
        .await;
    assert_problem(&nothing, 422, "customising a slot no layer defines");

    // Providers: the copies are the event's own, with working (re-sealed) credentials.
    let twilio = ProviderFake::start(Provider::Twilio).await;
    twilio
        .answer(
            "account-fetch",
            ResponseTemplate::new(200).set_body_json(json!({"sid": TWILIO_SID})),
        )
        .await;
    provider(
        &stack,
        key,
        "",
        twilio_json("Twilio", "tok-secret-1", Some(&twilio.uri())),
    )
    .await;
    let v = expect(
        &stack,
        Method::PUT,
        &step("providers"),
        key,
        Some(json!({"channel": "sms", "mode": "customise"})),
        200,
    )
    .await;
    let sms = &v["steps"]["providers"][1];
    assert_eq!(
        (sms["channel"].as_str(), sms["mode"].as_str()),
        (Some("sms"), Some("customised"))
    );
    let copy = text(&sms["providers"][0], "id");
    let tested = expect(
        &stack,
        Method::POST,
        &format!(
            "/api/v1/communication/providers/{copy}/test?event_id={}",
            s.event
        ),
        key,
        None,
        200,
    )
    .await;
    assert_eq!(tested["ok"], true, "{tested}");
    twilio.assert_kept_contract();
    let v = expect(
        &stack,
        Method::PUT,
        &step("providers"),
        key,
        Some(json!({"channel": "sms", "mode": "inherit"})),
        200,
    )
    .await;
    assert_eq!(v["steps"]["providers"][1]["mode"], "inherited");
    let event_providers = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/communication/providers?event_id={}", s.event),
        key,
        None,
        200,
    )
    .await;
    assert!(items(&event_providers).is_empty());

    // Brand: a field customised with a value, then inherited again.
    expect(
        &stack,
        Method::PUT,
        "/api/v1/communication/brand",
        key,
        Some(json!({"version": 0, "primary_color": "#112233", "sender_name": "Acme"})),
        200,
    )
    .await;
    let v = expect(
        &stack,
        Method::PUT,
        &step("brand"),
        key,
        Some(json!({"field": "primary_color", "mode": "customise", "value": "#AABBCC"})),
        200,
    )
    .await;
    let color = v["steps"]["brand"]
        .as_array()
        .and_then(|b| b.iter().find(|f| f["field"] == "primary_color").cloned())
        .unwrap_or_default();
    assert_eq!(
        (color["mode"].as_str(), color["value"].as_str()),
        (Some("customised"), Some("#AABBCC"))
    );
    let bad = stack
        .call(
            Method::PUT,
            &step("brand"),
            Some(key),
            Some(json!({"field": "primary_color", "mode": "customise", "value": "blue"})),
        )
        .await;
    assert_problem(&bad, 422, "a colour that is not #RRGGBB");
    let v = expect(
        &stack,
        Method::PUT,
        &step("brand"),
        key,
        Some(json!({"field": "primary_color", "mode": "inherit"})),
        200,
    )
    .await;
    let color = v["steps"]["brand"]
        .as_array()
        .and_then(|b| b.iter().find(|f| f["field"] == "primary_color").cloned())
        .unwrap_or_default();
    assert_eq!(
        (color["mode"].as_str(), color["value"].as_str()),
        (Some("inherited"), Some("#112233"))
    );

    // Email sender: an event address on a domain nobody registered blocks going live.
    let v = expect(&stack, Method::PUT, &step("email-sender"), key,
        Some(json!({"mode": "customise", "from_address": "gala@other.example", "from_name": "The Gala"})), 200).await;
    assert_eq!(v["steps"]["email_sender"]["mode"], "customised");
    let readiness = expect(&stack, Method::POST, &step("validate"), key, None, 200).await;
    assert_eq!(
        readiness["blockers"][0]["code"], "sender_not_registered",
        "{readiness}"
    );
    let missing = stack
        .call(
            Method::PUT,
            &step("email-sender"),
            Some(key),
            Some(json!({"mode": "customise"})),
        )
        .await;
    assert_problem(&missing, 422, "customising the sender without an address");
    assert_eq!(first_field(&missing), "from_address");
    let v = expect(
        &stack,
        Method::PUT,
        &step("email-sender"),
        key,
        Some(json!({"mode": "inherit"})),
        200,
    )
    .await;
    assert_eq!(
        v["steps"]["email_sender"]["sender"]["from_address"],
        "events@acme.example"
    );
}

#[tokio::test]
async fn previews_render_with_guest_data_brand_and_sms_segments() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let key = &s.t.admin;
    expect(
        &stack,
        Method::PUT,
        "/api/v1/communication/brand",
        key,
        Some(json!({"version": 0, "primary_color": "#112233"})),
        200,
    )
    .await;
    expect(&stack, Method::POST, "/api/v1/communication/templates", key, Some(json!({
        "category": "reminder", "channel": "email",
        "subject": "Hi {{ guest.first_name }}",
        "html": "<html><body><p style=\"color: {{ brand.primary_color }}\">{{ guest.first_name }} at table {{ guest.fields.table }}</p></body></html>",
        "text": "{{ event.name }} starts {{ event.starts_at | datetime }}",
    })), 201).await;
    expect(&stack, Method::POST, "/api/v1/communication/templates", key, Some(json!({
        "category": "reminder", "channel": "sms", "text": "Rappel : {{ guest.first_name }} — {{ event.name }}",
    })), 201).await;
    let uri = format!("/api/v1/events/{}/preview", s.event);

    let email = expect(
        &stack,
        Method::POST,
        &uri,
        key,
        Some(json!({
            "category": "reminder", "channel": "email",
            "guest": {"first_name": "<Zoé>", "fields": {"table": 12}, "locale": "fr-FR"},
        })),
        200,
    )
    .await;
    let r = &email["rendered"];
    assert_eq!(r["subject"], "Hi <Zoé>");
    let html = text(r, "html");
    assert!(html.contains("&lt;Zoé&gt; at table 12"), "{html}");
    assert!(html.contains("color: #112233"), "{html}");
    assert!(
        html.contains("gdpr_notice wording"),
        "the compliance footer is added: {html}"
    );
    assert!(text(r, "text").starts_with("Gala starts"), "{r}");
    assert_eq!(email["layer"], "tenant");

    let sms = expect(
        &stack,
        Method::POST,
        &uri,
        key,
        Some(json!({"category": "reminder", "channel": "sms"})),
        200,
    )
    .await;
    let segments = &sms["rendered"]["sms"];
    assert_eq!(segments["encoding"], "ucs2", "the dash is not GSM-7: {sms}");
    assert!(text(&sms["rendered"], "text").contains("Rappel : Ada"));
    assert!(text(&sms["rendered"], "text").ends_with("opt_out_text wording"));

    // Wrong types and unknown guest fields are a 422 naming the field; nothing renders.
    for (guest, field) in [
        (json!({"first_name": 5}), "guest.first_name"),
        (json!({"nickname": "Z"}), "guest"),
        (json!({"tags": "vip"}), "guest.tags"),
    ] {
        let bad = stack
            .call(
                Method::POST,
                &uri,
                Some(key),
                Some(json!({"category": "reminder", "channel": "email", "guest": guest})),
            )
            .await;
        assert_problem(&bad, 422, "guest data of the wrong type");
        assert!(first_field(&bad).starts_with(field), "{}", bad.body);
    }
    // Guest data that lacks what the template uses: a 422 with the line.
    let lacking = stack
        .call(
            Method::POST,
            &uri,
            Some(key),
            Some(json!({"category": "reminder", "channel": "email", "guest": {"first_name": "Z"}})),
        )
        .await;
    assert_problem(&lacking, 422, "a template variable the guest data lacks");
    assert_eq!(lacking.body["syntax_errors"][0]["field"], "html");
    let none = stack
        .call(
            Method::POST,
            &uri,
            Some(key),
            Some(json!({"category": "survey", "channel": "email"})),
        )
        .await;
    assert_problem(&none, 422, "a slot with no template");
    let no_snapshot = stack
        .call(
            Method::POST,
            &uri,
            Some(key),
            Some(json!({"category": "reminder", "channel": "email", "source": "active"})),
        )
        .await;
    assert_problem(
        &no_snapshot,
        409,
        "previewing the active snapshot before any completion",
    );
}

#[tokio::test]
async fn a_test_message_goes_through_the_resolved_provider() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let key = &s.t.admin;
    let uri = format!("/api/v1/events/{}/preview/send", s.event);

    let sent = expect(
        &stack,
        Method::POST,
        &uri,
        key,
        Some(json!({"category": "invitation", "channel": "email", "to": "zoe@example.com"})),
        200,
    )
    .await;
    assert_eq!(sent["provider_kind"], "ses");
    assert!(!text(&sent, "provider_message_id").is_empty());

    let twilio = ProviderFake::start(Provider::Twilio).await;
    twilio
        .operation("messages-create")
        .and(body_string_contains("To=%2B447700900999"))
        .and(body_string_contains("sms+marker"))
        .respond_with(twilio.checked(
            ResponseTemplate::new(201).set_body_json(json!({"sid": "SM123", "status": "queued"})),
        ))
        .expect(1)
        .mount(&twilio.server)
        .await;
    provider(
        &stack,
        key,
        "",
        twilio_json("Twilio", "tok", Some(&twilio.uri())),
    )
    .await;
    template(&stack, key, "", "invitation", "sms", "sms marker").await;
    let sent = expect(
        &stack,
        Method::POST,
        &uri,
        key,
        Some(json!({"category": "invitation", "channel": "sms", "to": "+447700900999"})),
        200,
    )
    .await;
    assert_eq!(sent["provider_message_id"], "SM123");
    assert_eq!(sent["rendered"]["sms"]["segments"], 1);

    let bad = stack
        .call(
            Method::POST,
            &uri,
            Some(key),
            Some(json!({"category": "invitation", "channel": "sms", "to": "07700 900999"})),
        )
        .await;
    assert_problem(&bad, 422, "a number that is not E.164");
    assert_eq!(first_field(&bad), "to");

    // A provider that refuses: a 502 that says why.
    twilio
        .on(
            "messages-create",
            ResponseTemplate::new(400)
                .set_body_json(json!({"code": 21211, "message": "Invalid 'To' Phone Number"})),
        )
        .mount(&twilio.server)
        .await;
    let refused = stack
        .call(
            Method::POST,
            &uri,
            Some(key),
            Some(json!({"category": "invitation", "channel": "sms", "to": "+447700900111"})),
        )
        .await;
    assert_problem(&refused, 502, "a provider that refuses");
    assert!(
        text(&refused.body, "detail").contains("refused"),
        "{}",
        refused.body
    );
    // Twilio refused a number, not a request that broke its contract.
    twilio.assert_kept_contract();
}

#[tokio::test]
async fn other_tenants_and_other_events_see_nothing() {
    let stack = stack().await;
    let s = setup(&stack).await;
    let other = tenant(&stack, "Other").await;
    let other_event = event(&stack, &other.admin, "", "Theirs").await;
    let elsewhere = event(&stack, &s.t.admin, "", "Another").await;
    let (_, manager) = event_manager(&stack, &s.t.admin, &s.t.id, &[&elsewhere]).await;
    let e = &s.event;
    let requests = |e: &str| {
        vec![
            (Method::GET, wizard_uri(e, ""), None),
            (
                Method::PUT,
                wizard_uri(e, "/templates"),
                Some(json!({"category": "invitation", "channel": "email", "mode": "customise"})),
            ),
            (
                Method::PUT,
                wizard_uri(e, "/providers"),
                Some(json!({"channel": "email", "mode": "customise"})),
            ),
            (
                Method::PUT,
                wizard_uri(e, "/brand"),
                Some(json!({"field": "footer", "mode": "customise", "value": "x"})),
            ),
            (
                Method::PUT,
                wizard_uri(e, "/email-sender"),
                Some(json!({"mode": "inherit"})),
            ),
            (
                Method::PUT,
                wizard_uri(e, "/uses"),
                Some(json!({"channels": ["email"], "categories": ["invitation"]})),
            ),
            (Method::POST, wizard_uri(e, "/validate"), None),
            (Method::POST, wizard_uri(e, "/complete"), None),
            (Method::GET, wizard_uri(e, "/diff"), None),
            (Method::GET, format!("/api/v1/events/{e}/snapshots"), None),
            (
                Method::GET,
                format!("/api/v1/events/{e}/snapshots/active"),
                None,
            ),
            (
                Method::POST,
                format!("/api/v1/events/{e}/preview"),
                Some(json!({"category": "invitation", "channel": "email"})),
            ),
            (
                Method::POST,
                format!("/api/v1/events/{e}/preview/send"),
                Some(json!({"category": "invitation", "channel": "email", "to": "a@b.example"})),
            ),
        ]
    };
    assert_refused(&stack, &other.admin, 404, &requests(e)).await;
    assert_refused(&stack, &manager, 404, &requests(e)).await;
    let naming = requests(&other_event)
        .into_iter()
        .map(|(m, uri, b)| (m, format!("{uri}?tenant_id={}", other.id), b))
        .collect::<Vec<_>>();
    assert_refused(&stack, &s.t.admin, 404, &naming).await;
    // Nothing was written for the other tenant's event.
    let wizard = expect(
        &stack,
        Method::GET,
        &wizard_uri(&other_event, ""),
        &other.admin,
        None,
        200,
    )
    .await;
    assert!(wizard["steps"]["review"].get("completion").is_none());
}

#[tokio::test]
async fn the_wizard_function_skips_what_does_not_parse_and_ignores_redeliveries() {
    use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
    let stack = stack().await;
    let s = setup(&stack).await;
    let run = complete_wizard(&stack, &s.t.admin, &s.event).await;
    let wizard = herald_wizard::Wizard::new(
        stack.state.store.clone(),
        stack.state.sealer.clone(),
        stack.state.providers.clone(),
        3,
    );
    let message = |id: &str, body: String| {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.to_owned());
        m.body = Some(body);
        m
    };
    let mut batch = SqsEvent::default();
    batch.records = vec![
        message("garbage", "{not json".to_owned()),
        message("wrong-shape", json!({"hello": 1}).to_string()),
        // The same completion delivered again after it finished: nothing happens twice.
        message(
            "redelivered",
            json!({"tenant_id": s.t.id, "event_id": s.event, "run_id": run["run_id"]}).to_string(),
        ),
    ];
    let response = wizard.handle(batch).await;
    assert!(response.batch_item_failures.is_empty(), "nothing to retry");
    assert_eq!(
        wizard
            .counters
            .malformed
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    let listed = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{}/snapshots", s.event),
        &s.t.admin,
        None,
        200,
    )
    .await;
    assert_eq!(items(&listed).len(), 1);
}

#[tokio::test]
async fn templates_that_loop_grow_or_name_unknown_variables_are_refused_at_save() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let uri = "/api/v1/communication/templates";
    for (text, expected) in [
        (
            "Hi {{ guest.nickname }}",
            "unknown variable 'guest.nickname'",
        ),
        (
            "{% for i in range(1000) %}{% for j in range(1000) %}{{ j }}{% endfor %}{% endfor %}",
            "fuel",
        ),
        ("{{ 'x' * 1000000000 }}", "not supported"),
        (
            "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "namespace",
        ),
    ] {
        let answer = stack
            .call(
                Method::POST,
                uri,
                Some(&t.admin),
                Some(json!({"category": "reminder", "channel": "sms", "text": text})),
            )
            .await;
        assert_problem(&answer, 422, text);
        let message = text_of_first_syntax_error(&answer.body);
        assert!(message.contains(expected), "{text}: {message}");
    }
    let listed = expect(&stack, Method::GET, uri, &t.admin, None, 200).await;
    assert!(items(&listed).is_empty(), "nothing was written");
}

fn text_of_first_syntax_error(body: &Value) -> String {
    body["syntax_errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
