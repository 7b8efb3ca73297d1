//! Validation: provider settings and templates that are well-formed JSON but invalid are 422s
//! naming the field (or the line and column of a template syntax error), and nothing is written.

mod common;

use axum::http::Method;
use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn invalid_provider_settings_name_the_field_and_write_nothing() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let before = scan(&stack).await;
    let cases = [
        (ses_json("ses", "not-an-email"), "settings.from_address"),
        (twilio_json("twilio", "tok", None), ""),
        (
            json!({"kind": "twilio", "name": "t", "settings": {"account_sid": TWILIO_SID, "from_number": "07700 900123"},
                "credentials": {"auth_token": "tok"}}),
            "settings.from_number",
        ),
        (
            json!({"kind": "twilio", "name": "t", "settings": {"account_sid": "AC1", "from_number": "+447700900123"},
                "credentials": {"auth_token": "tok"}}),
            "settings.account_sid",
        ),
        (
            json!({"kind": "sendgrid", "name": "s", "settings": {"from_address": "a@acme.example", "base_url": "http://api.sendgrid.com"},
                "credentials": {"api_key": "SG.x"}}),
            "settings.base_url",
        ),
        (
            json!({"kind": "sendgrid", "name": "s", "settings": {"from_address": "a@acme.example"}}),
            "credentials.api_key",
        ),
        (
            json!({"kind": "ses", "name": "s", "settings": {"from_address": "a@acme.example"}, "credentials": {"api_key": "x"}}),
            "credentials.api_key",
        ),
        (
            json!({"kind": "ses", "name": "s", "settings": {"from_address": "a@acme.example", "region": "eu"}}),
            "settings",
        ),
        (
            json!({"kind": "sns", "name": "s", "settings": {"sender_id": "way-too-long-id"}}),
            "settings.sender_id",
        ),
        (
            json!({"kind": "whatsapp_cloud", "name": "w", "settings": {"phone_number_id": "abc"},
                "credentials": {"access_token": "t"}}),
            "settings.phone_number_id",
        ),
        (
            json!({"kind": "carrier_pigeon", "name": "p", "settings": {}}),
            "kind",
        ),
    ];
    for (body, field) in cases {
        let answer = stack
            .call(
                Method::POST,
                "/api/v1/communication/providers",
                Some(&t.admin),
                Some(body.clone()),
            )
            .await;
        if field.is_empty() {
            // The valid Twilio body is the control: it must be accepted.
            assert_eq!(answer.status.as_u16(), 201, "{}", answer.body);
            expect(
                &stack,
                Method::DELETE,
                &format!("/api/v1/communication/providers/{}", id(&answer.body)),
                &t.admin,
                None,
                204,
            )
            .await;
            continue;
        }
        assert_problem(&answer, 422, &body.to_string());
        let fields: Vec<String> = answer.body["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| text(e, "field"))
            .collect();
        assert!(
            fields
                .iter()
                .any(|f| f == field || (field == "settings" && f.starts_with("settings"))),
            "{body}: expected {field} in {fields:?}"
        );
    }
    let listed = expect(
        &stack,
        Method::GET,
        "/api/v1/communication/providers",
        &t.admin,
        None,
        200,
    )
    .await;
    assert_eq!(items(&listed), Vec::<Value>::new(), "no partial write");
    // Only the control provider came and went; everything else is as before.
    assert_eq!(scan(&stack).await, before);
}

#[tokio::test]
async fn oversized_provider_settings_are_422_not_500() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let before = scan(&stack).await;
    // Well under the 1 MiB body limit, but more than a DynamoDB item (400 KB) can hold.
    let huge = "z".repeat(500 * 1024);
    let mut failures = Vec::new();
    for (field, body) in [
        (
            "settings.from_name",
            json!({"kind": "ses", "name": "s",
            "settings": {"from_address": "a@acme.example", "from_name": huge}}),
        ),
        (
            "settings.configuration_set",
            json!({"kind": "ses", "name": "s",
            "settings": {"from_address": "a@acme.example", "configuration_set": huge}}),
        ),
        (
            "settings.business_account_id",
            json!({"kind": "whatsapp_cloud", "name": "w",
            "settings": {"phone_number_id": "123", "business_account_id": huge}, "credentials": {"access_token": "t"}}),
        ),
    ] {
        let answer = stack
            .call(
                Method::POST,
                "/api/v1/communication/providers",
                Some(&t.admin),
                Some(body),
            )
            .await;
        let named = answer.body["errors"][0]["field"] == field;
        if answer.status.as_u16() != 422 || !named || content_type(&answer) != PROBLEM_JSON {
            failures.push(format!("{field}: {} {}", answer.status, answer.body));
        }
    }
    assert!(
        failures.is_empty(),
        "oversized settings:\n{}",
        failures.join("\n")
    );
    assert_eq!(scan(&stack).await, before);
}

#[tokio::test]
async fn invalid_templates_are_422_with_positions() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let tpl = "/api/v1/communication/templates";
    let before = scan(&stack).await;
    for (body, field) in [
        (template_json("wedding", "email", "x"), "category"),
        (template_json("invitation", "fax", "x"), "channel"),
        (
            json!({"category": "invitation", "channel": "email", "html": "<p>x</p>"}),
            "subject",
        ),
        (
            json!({"category": "invitation", "channel": "sms", "subject": "s", "text": "t"}),
            "subject",
        ),
        (
            json!({"category": "invitation", "channel": "whatsapp"}),
            "text",
        ),
    ] {
        let answer = stack
            .call(Method::POST, tpl, Some(&t.admin), Some(body.clone()))
            .await;
        assert_problem(&answer, 422, &body.to_string());
        assert_eq!(first_field(&answer), field, "{}", answer.body);
    }
    let answer = stack
        .call(
            Method::POST,
            tpl,
            Some(&t.admin),
            Some(json!({
        "category": "invitation", "channel": "email", "subject": "Hello",
        "html": "<p>\n  {{ guest.name }\n</p>"})),
        )
        .await;
    assert_problem(&answer, 422, "syntax error");
    let issue = &answer.body["syntax_errors"][0];
    assert_eq!(issue["field"], "html", "{issue}");
    assert_eq!(issue["line"], 2, "{issue}");
    assert_eq!(issue["column"], 17, "the stray `}}`: {issue}");
    assert!(answer.body.get("errors").is_none(), "{}", answer.body);
    let answer = stack
        .call(
            Method::POST,
            tpl,
            Some(&t.admin),
            Some(json!({
        "category": "reminder", "channel": "sms", "text": "Hi {% if guest.first_name %}x"})),
        )
        .await;
    assert_problem(&answer, 422, "unclosed block");
    assert_eq!(answer.body["syntax_errors"][0]["field"], "text");
    assert_eq!(answer.body["syntax_errors"][0]["line"], 1);
    // The same checks on update; the stored template is untouched.
    let created = template(&stack, &t.admin, "", "invitation", "sms", "ok").await;
    let answer = stack
        .call(
            Method::PUT,
            &format!("{tpl}/{}", id(&created)),
            Some(&t.admin),
            Some(json!({"version": 1, "text": "{{ broken"})),
        )
        .await;
    assert_problem(&answer, 422, "syntax error on update");
    assert_eq!(answer.body["syntax_errors"][0]["line"], 1);
    let got = expect(
        &stack,
        Method::GET,
        &format!("{tpl}/{}", id(&created)),
        &t.admin,
        None,
        200,
    )
    .await;
    assert_eq!(got, created);
    // A duplicate slot is a 409.
    let answer = stack
        .call(
            Method::POST,
            tpl,
            Some(&t.admin),
            Some(template_json("invitation", "sms", "again")),
        )
        .await;
    assert_problem(&answer, 409, "second template in a slot");
    let listed = expect(&stack, Method::GET, tpl, &t.admin, None, 200).await;
    assert_eq!(items(&listed), vec![created]);
    // The one template written: its current item and its version 1.
    assert_eq!(scan(&stack).await.len(), before.len() + 2);
}
