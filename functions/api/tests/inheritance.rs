//! Inheritance end to end: templates platform → tenant → event, providers per channel (an event
//! with only inactive providers inherits the tenant's), brand per field, and the platform's
//! compliance blocks in every event's configuration.

mod common;

use axum::http::Method;
use common::*;
use serde_json::{Value, json};

/// The effective item of a slot (templates) or a channel (providers).
fn slot<'a>(items: &'a Value, category: Option<&str>, channel: &str) -> &'a Value {
    items
        .as_array()
        .expect("an array")
        .iter()
        .find(|i| i["channel"] == channel && category.is_none_or(|c| i["category"] == c))
        .unwrap_or_else(|| panic!("no {category:?} {channel} in {items}"))
}

fn chain_layers(item: &Value) -> Vec<String> {
    item["chain"]
        .as_array()
        .expect("a chain")
        .iter()
        .map(|l| text(l, "layer"))
        .collect()
}

#[tokio::test]
async fn templates_resolve_event_then_tenant_then_platform() {
    let stack = stack().await;
    let admin = stack.admin_key.clone();
    let t = tenant(&stack, "Acme").await;
    let evt = event(&stack, &t.admin, "", "Gala").await;
    let on_event = format!("?event_id={evt}");
    let platform = template(&stack, &admin, "", "invitation", "email", "platform").await;
    let tenant_tpl = template(&stack, &t.admin, "", "invitation", "email", "tenant").await;
    let event_tpl = template(&stack, &t.admin, &on_event, "invitation", "email", "event").await;
    let platform_only = template(&stack, &admin, "", "reminder", "sms", "platform").await;
    let tenant_only = template(&stack, &t.admin, "", "thank_you", "whatsapp", "tenant").await;
    let effective_uri = format!("/api/v1/communication/templates/effective?event_id={evt}");

    let effective = expect(&stack, Method::GET, &effective_uri, &t.admin, None, 200).await;
    assert_eq!(effective["event_id"], evt.as_str());
    let list = &effective["items"];
    assert_eq!(list.as_array().map(Vec::len), Some(3), "{list}");
    let invitation = slot(list, Some("invitation"), "email");
    assert_eq!(invitation["source"], "event");
    assert_eq!(invitation["template"], event_tpl);
    assert_eq!(
        invitation["chain"],
        json!([
            {"layer": "platform", "template_id": id(&platform), "version": 1},
            {"layer": "tenant", "template_id": id(&tenant_tpl), "version": 1},
            {"layer": "event", "template_id": id(&event_tpl), "version": 1},
        ])
    );
    let reminder = slot(list, Some("reminder"), "sms");
    assert_eq!(
        (reminder["source"].clone(), chain_layers(reminder)),
        (json!("platform"), vec!["platform".to_owned()])
    );
    assert_eq!(reminder["template"], platform_only);
    let thanks = slot(list, Some("thank_you"), "whatsapp");
    assert_eq!(
        (thanks["source"].clone(), chain_layers(thanks)),
        (json!("tenant"), vec!["tenant".to_owned()])
    );
    assert_eq!(thanks["template"], tenant_only);
    // A platform key sees the same with tenant_id.
    let same = expect(
        &stack,
        Method::GET,
        &format!("{effective_uri}&tenant_id={}", t.id),
        &admin,
        None,
        200,
    )
    .await;
    assert_eq!(same, effective);

    // Updating the tenant's template shows its new version in the chain.
    expect(
        &stack,
        Method::PUT,
        &format!("/api/v1/communication/templates/{}", id(&tenant_tpl)),
        &t.admin,
        Some(json!({"version": 1, "subject": "Tenant v2", "html": "<p>v2</p>"})),
        200,
    )
    .await;
    // Deleting the event's template restores the tenant's.
    expect(
        &stack,
        Method::DELETE,
        &format!(
            "/api/v1/communication/templates/{}{on_event}",
            id(&event_tpl)
        ),
        &t.admin,
        None,
        204,
    )
    .await;
    let effective = expect(&stack, Method::GET, &effective_uri, &t.admin, None, 200).await;
    let invitation = slot(&effective["items"], Some("invitation"), "email");
    assert_eq!(invitation["source"], "tenant");
    assert_eq!(invitation["template"]["id"], id(&tenant_tpl).as_str());
    assert_eq!(invitation["template"]["subject"], "Tenant v2");
    assert_eq!(
        invitation["chain"],
        json!([
            {"layer": "platform", "template_id": id(&platform), "version": 1},
            {"layer": "tenant", "template_id": id(&tenant_tpl), "version": 2},
        ])
    );
    // ...and deleting the tenant's restores the platform's.
    expect(
        &stack,
        Method::DELETE,
        &format!("/api/v1/communication/templates/{}", id(&tenant_tpl)),
        &t.admin,
        None,
        204,
    )
    .await;
    let effective = expect(&stack, Method::GET, &effective_uri, &t.admin, None, 200).await;
    let invitation = slot(&effective["items"], Some("invitation"), "email");
    assert_eq!(
        (invitation["source"].clone(), chain_layers(invitation)),
        (json!("platform"), vec!["platform".to_owned()])
    );
    assert_eq!(invitation["template"], platform);
    // Another event of the tenant never sees this event's overrides.
    let other = event(&stack, &t.admin, "", "Other").await;
    template(&stack, &t.admin, &on_event, "survey", "sms", "event only").await;
    let theirs = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/communication/templates/effective?event_id={other}"),
        &t.admin,
        None,
        200,
    )
    .await;
    assert!(
        theirs["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|i| i["source"] != "event"),
        "{theirs}"
    );
}

#[tokio::test]
async fn providers_resolve_per_channel_and_skip_inactive_event_providers() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let evt = event(&stack, &t.admin, "", "Gala").await;
    let quiet = event(&stack, &t.admin, "", "Quiet").await;
    let on_event = format!("?event_id={evt}");
    let mut ses = ses_json("tenant ses", "events@acme.example");
    ses["priority"] = json!(20);
    let ses = provider(&stack, &t.admin, "", ses).await;
    let mut ses_first = ses_json("tenant ses first", "hello@acme.example");
    ses_first["priority"] = json!(10);
    let ses_first = provider(&stack, &t.admin, "", ses_first).await;
    let tenant_sns = provider(&stack, &t.admin, "", sns_json("tenant sns")).await;
    let mut twilio = twilio_json("event twilio", "twilio-token-1234", None);
    twilio["priority"] = json!(10);
    let twilio = provider(&stack, &t.admin, &on_event, twilio).await;
    let mut sns = sns_json("event sns");
    sns["priority"] = json!(5);
    let sns = provider(&stack, &t.admin, &on_event, sns).await;
    let mut inactive = ses_json("event ses (off)", "gala@acme.example");
    inactive["active"] = json!(false);
    let inactive = provider(&stack, &t.admin, &on_event, inactive).await;
    assert_eq!(inactive["active"], false);

    let effective = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/communication/providers/effective{on_event}"),
        &t.admin,
        None,
        200,
    )
    .await;
    let list = &effective["items"];
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(2),
        "email and sms only: {list}"
    );
    let email = slot(list, None, "email");
    assert_eq!(
        email["source"], "tenant",
        "the event's only email provider is inactive"
    );
    assert_eq!(
        ids(&json!({"items": email["providers"]})),
        vec![id(&ses_first), id(&ses)]
    );
    assert_eq!(
        email["chain"],
        json!([
            {"layer": "tenant", "provider_ids": [id(&ses_first), id(&ses)], "active_count": 2},
            {"layer": "event", "provider_ids": [id(&inactive)], "active_count": 0},
        ])
    );
    let sms = slot(list, None, "sms");
    assert_eq!(sms["source"], "event");
    assert_eq!(
        ids(&json!({"items": sms["providers"]})),
        vec![id(&sns), id(&twilio)],
        "priority order"
    );
    assert_eq!(
        sms["chain"],
        json!([
            {"layer": "tenant", "provider_ids": [id(&tenant_sns)], "active_count": 1},
            {"layer": "event", "provider_ids": [id(&sns), id(&twilio)], "active_count": 2},
        ])
    );
    assert_eq!(
        sms["providers"][1]["credentials"],
        json!({"auth_token": "••••1234"})
    );

    // An event without overrides inherits the tenant's for every channel.
    let effective = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/communication/providers/effective?event_id={quiet}"),
        &t.admin,
        None,
        200,
    )
    .await;
    let list = &effective["items"];
    assert_eq!(slot(list, None, "email")["source"], "tenant");
    assert_eq!(
        ids(&json!({"items": slot(list, None, "sms")["providers"]})),
        vec![id(&tenant_sns)]
    );
    assert_eq!(
        chain_layers(slot(list, None, "sms")),
        vec!["tenant".to_owned()]
    );

    // Switching the event's SES on makes the event the email source.
    let put = json!({"version": 1, "name": "event ses (on)", "priority": 1, "active": true,
                     "settings": {"from_address": "gala@acme.example"}});
    expect(
        &stack,
        Method::PUT,
        &format!(
            "/api/v1/communication/providers/{}{on_event}",
            id(&inactive)
        ),
        &t.admin,
        Some(put),
        200,
    )
    .await;
    let effective = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/communication/providers/effective{on_event}"),
        &t.admin,
        None,
        200,
    )
    .await;
    let email = slot(&effective["items"], None, "email");
    assert_eq!(email["source"], "event");
    assert_eq!(
        ids(&json!({"items": email["providers"]})),
        vec![id(&inactive)]
    );
}

#[tokio::test]
async fn brand_fields_resolve_one_by_one() {
    let stack = stack().await;
    let t = tenant(&stack, "Acme").await;
    let evt = event(&stack, &t.admin, "", "Gala").await;
    expect(
        &stack,
        Method::PUT,
        "/api/v1/communication/brand",
        &t.admin,
        Some(json!({
        "version": 0, "logo_url": "https://acme.example/logo.png", "primary_color": "#112233",
        "sender_name": "Acme", "footer": "Acme footer"})),
        200,
    )
    .await;
    let event_brand = expect(&stack, Method::PUT, &format!("/api/v1/communication/brand?event_id={evt}"), &t.admin,
        Some(json!({"version": 0, "primary_color": "#AABBCC", "secondary_color": "#000000", "sender_name": null})), 200).await;
    assert_eq!(event_brand["version"], 1);
    assert!(event_brand.get("sender_name").is_none(), "{event_brand}");

    let config = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{evt}/configuration"),
        &t.admin,
        None,
        200,
    )
    .await;
    assert_eq!(
        config["brand"],
        json!({
            "footer": {"value": "Acme footer", "source": "tenant", "chain": [{"layer": "tenant", "value": "Acme footer"}]},
            "logo_url": {"value": "https://acme.example/logo.png", "source": "tenant",
                         "chain": [{"layer": "tenant", "value": "https://acme.example/logo.png"}]},
            "primary_color": {"value": "#AABBCC", "source": "event",
                              "chain": [{"layer": "tenant", "value": "#112233"}, {"layer": "event", "value": "#AABBCC"}]},
            "secondary_color": {"value": "#000000", "source": "event", "chain": [{"layer": "event", "value": "#000000"}]},
            "sender_name": {"value": "Acme", "source": "tenant", "chain": [{"layer": "tenant", "value": "Acme"}]},
        })
    );
    // An event without a brand of its own takes the tenant's fields as they are.
    let plain = event(&stack, &t.admin, "", "Plain").await;
    let config = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{plain}/configuration"),
        &t.admin,
        None,
        200,
    )
    .await;
    let sources: Vec<&Value> = config["brand"]
        .as_object()
        .expect("brand")
        .values()
        .map(|f| &f["source"])
        .collect();
    assert_eq!(sources, vec![&json!("tenant"); 4]);
    assert!(config["brand"].get("secondary_color").is_none());
    let answer = stack
        .call(
            Method::GET,
            &format!("/api/v1/communication/brand?event_id={plain}"),
            Some(&t.admin),
            None,
        )
        .await;
    assert_problem(&answer, 404, "no event brand yet");
}

#[tokio::test]
async fn every_event_configuration_carries_the_compliance_blocks() {
    let stack = stack().await;
    let admin = stack.admin_key.clone();
    let a = tenant(&stack, "Acme").await;
    let b = tenant(&stack, "Bravo").await;
    let evt_a = event(&stack, &a.admin, "", "Gala").await;
    let evt_b = event(&stack, &b.admin, "", "Bare").await;
    let config = expect(
        &stack,
        Method::GET,
        &format!("/api/v1/events/{evt_b}/configuration"),
        &b.admin,
        None,
        200,
    )
    .await;
    assert_eq!(config["compliance"], json!([]), "none written yet");
    for (name, text) in [
        ("legal_footer", "Legal"),
        ("opt_out_text", "Reply STOP"),
        ("gdpr_notice", "GDPR"),
    ] {
        let block = expect(
            &stack,
            Method::PUT,
            &format!("/api/v1/communication/compliance/{name}"),
            &admin,
            Some(json!({"version": 0, "text": text})),
            200,
        )
        .await;
        assert_eq!(
            (block["name"].clone(), block["version"].clone()),
            (json!(name), json!(1))
        );
    }
    // Tenant and event overrides have no say over them.
    template(
        &stack,
        &a.admin,
        &format!("?event_id={evt_a}"),
        "invitation",
        "sms",
        "event",
    )
    .await;
    let (_, em) = event_manager(&stack, &a.admin, &a.id, &[&evt_a]).await;
    for (key, evt, query) in [
        (&a.admin, &evt_a, String::new()),
        (&em, &evt_a, String::new()),
        (&b.admin, &evt_b, String::new()),
        (&admin, &evt_b, format!("?tenant_id={}", b.id)),
    ] {
        let config = expect(
            &stack,
            Method::GET,
            &format!("/api/v1/events/{evt}/configuration{query}"),
            key,
            None,
            200,
        )
        .await;
        assert_eq!(config["event"]["id"], evt.as_str());
        let blocks: Vec<(String, String)> = config["compliance"]
            .as_array()
            .expect("compliance")
            .iter()
            .map(|b| (text(b, "name"), text(b, "text")))
            .collect();
        assert_eq!(
            blocks,
            vec![
                ("opt_out_text".to_owned(), "Reply STOP".to_owned()),
                ("gdpr_notice".to_owned(), "GDPR".to_owned()),
                ("legal_footer".to_owned(), "Legal".to_owned()),
            ]
        );
    }
}
