//! Round trips of a full configuration: 90 templates (10 categories × 3 channels × 3 layers),
//! providers, both brands and the 3 compliance blocks come back from the store in at most two
//! DynamoDB requests, and the configuration endpoint costs exactly three.

mod common;

use std::collections::BTreeSet;

use axum::http::Method;
use common::*;
use herald::config::{ComplianceBlockName, Template};
use herald::domain::{Channel, Layer, TemplateCategory};
use herald::ids::{EventId, TenantId};
use serde_json::{Value, json};

const LAYERS: [&str; 3] = ["platform", "tenant", "event"];

fn marker(layer: &str, category: TemplateCategory, channel: Channel) -> String {
    format!("{layer}/{category}/{channel}")
}

/// Asserts a layer's templates are the 30 slots, each with its own marker.
fn assert_layer(templates: &[Template], layer: Layer, tenant: TenantId, event: Option<EventId>) {
    assert_eq!(templates.len(), 30, "{layer} templates");
    let slots: BTreeSet<_> = templates.iter().map(|t| (t.category, t.channel)).collect();
    assert_eq!(slots.len(), 30, "{layer}: every slot once");
    for t in templates {
        let m = marker(layer.as_str(), t.category, t.channel);
        assert_eq!(t.layer, layer);
        assert_eq!(t.tenant_id, (layer != Layer::Platform).then_some(tenant));
        assert_eq!(t.event_id, event.filter(|_| layer == Layer::Event));
        assert_eq!(t.version, 1);
        if t.channel == Channel::Email {
            assert_eq!(
                t.content.subject.as_deref(),
                Some(format!("{m}: {{{{ event.name }}}}").as_str())
            );
            assert_eq!(
                t.content.html.as_deref(),
                Some(format!("<p>{m} {{{{ guest.first_name }}}}</p>").as_str())
            );
            assert_eq!(t.content.text, None);
        } else {
            assert_eq!(
                t.content.text.as_deref(),
                Some(format!("{m} {{{{ guest.first_name }}}}").as_str())
            );
            assert_eq!(
                (t.content.subject.as_ref(), t.content.html.as_ref()),
                (None, None)
            );
        }
    }
}

#[tokio::test]
async fn a_full_configuration_round_trips_in_two_requests() {
    let stack = stack().await;
    let admin = stack.admin_key.clone();
    let t = tenant(&stack, "Acme").await;
    let evt = event(&stack, &t.admin, "", "Gala").await;
    let other = event(&stack, &t.admin, "", "Other").await;

    // 90 templates, each read back exactly as written.
    for layer in LAYERS {
        let (key, query) = match layer {
            "platform" => (&admin, String::new()),
            "tenant" => (&t.admin, String::new()),
            _ => (&t.admin, format!("?event_id={evt}")),
        };
        for category in TemplateCategory::ALL {
            for channel in Channel::ALL {
                let m = marker(layer, *category, *channel);
                let created =
                    template(&stack, key, &query, category.as_str(), channel.as_str(), &m).await;
                assert_eq!(created["layer"], layer);
                let got = expect(
                    &stack,
                    Method::GET,
                    &format!("/api/v1/communication/templates/{}{query}", id(&created)),
                    key,
                    None,
                    200,
                )
                .await;
                assert_eq!(got, created);
                let sent = template_json(category.as_str(), channel.as_str(), &m);
                for part in ["subject", "html", "text"] {
                    assert_eq!(got.get(part), sent.get(part), "{m} {part}");
                }
            }
        }
        let listed = expect(
            &stack,
            Method::GET,
            &format!("/api/v1/communication/templates{query}"),
            key,
            None,
            200,
        )
        .await;
        assert_eq!(items(&listed).len(), 30, "{layer} list");
    }
    let tenant_ses = provider(
        &stack,
        &t.admin,
        "",
        ses_json("tenant ses", "events@acme.example"),
    )
    .await;
    let tenant_sns = provider(&stack, &t.admin, "", sns_json("tenant sns")).await;
    let event_twilio = provider(
        &stack,
        &t.admin,
        &format!("?event_id={evt}"),
        twilio_json("twilio", "tok-abcdefgh", None),
    )
    .await;
    let mut wa = json!({"kind": "whatsapp_cloud", "name": "wa", "settings": {"phone_number_id": "1234567890"},
                        "credentials": {"access_token": "EAAG-secret-token"}});
    wa["priority"] = json!(7);
    let event_wa = provider(&stack, &t.admin, &format!("?event_id={evt}"), wa).await;
    assert_eq!(
        event_wa["settings"]["api_version"], "v21.0",
        "defaults are filled in"
    );
    // Another event's provider must not leak into this event's layers.
    provider(
        &stack,
        &t.admin,
        &format!("?event_id={other}"),
        sns_json("other sns"),
    )
    .await;
    let tenant_brand = expect(
        &stack,
        Method::PUT,
        "/api/v1/communication/brand",
        &t.admin,
        Some(json!({
        "version": 0, "logo_url": "https://acme.example/l.png", "primary_color": "#010203",
        "secondary_color": "#040506", "sender_name": "Acme", "footer": "Acme, 1 Street"})),
        200,
    )
    .await;
    let event_brand = expect(
        &stack,
        Method::PUT,
        &format!("/api/v1/communication/brand?event_id={evt}"),
        &t.admin,
        Some(json!({"version": 0, "footer": "Gala footer"})),
        200,
    )
    .await;
    let got = expect(
        &stack,
        Method::GET,
        "/api/v1/communication/brand",
        &t.admin,
        None,
        200,
    )
    .await;
    assert_eq!(got, tenant_brand);
    for name in ComplianceBlockName::ALL {
        let block = expect(&stack, Method::PUT, &format!("/api/v1/communication/compliance/{}", name.as_str()), &admin,
            Some(json!({"version": 0, "text": format!("{} text", name.as_str()), "html": format!("<p>{}</p>", name.as_str())})), 200).await;
        let got = expect(
            &stack,
            Method::GET,
            &format!("/api/v1/communication/compliance/{}", name.as_str()),
            &t.admin,
            None,
            200,
        )
        .await;
        assert_eq!(got, block);
    }

    // The store reads all of it back in at most two requests.
    let tenant_id: TenantId = t.id.parse().expect("tenant id");
    let event_id: EventId = evt.parse().expect("event id");
    stack.dynamo_requests.reset();
    let loaded = stack
        .state
        .store
        .load_event_layers(tenant_id, event_id)
        .await
        .expect("load the event")
        .expect("the event exists");
    assert!(
        stack.dynamo_requests.count() <= 2,
        "{} DynamoDB requests",
        stack.dynamo_requests.count()
    );
    assert_eq!(loaded.event.id, event_id);
    assert_eq!(loaded.tenant.id, tenant_id);
    let layers = &loaded.layers;
    assert_layer(&layers.platform_templates, Layer::Platform, tenant_id, None);
    assert_layer(&layers.tenant.templates, Layer::Tenant, tenant_id, None);
    assert_layer(
        &layers.event.templates,
        Layer::Event,
        tenant_id,
        Some(event_id),
    );
    let provider_ids = |ps: &[herald::config::Provider]| -> BTreeSet<String> {
        ps.iter().map(|p| p.id.to_string()).collect()
    };
    assert_eq!(
        provider_ids(&layers.tenant.providers),
        BTreeSet::from([id(&tenant_ses), id(&tenant_sns)])
    );
    assert_eq!(
        provider_ids(&layers.event.providers),
        BTreeSet::from([id(&event_twilio), id(&event_wa)])
    );
    let tb = layers.tenant.brand.as_ref().expect("tenant brand");
    assert_eq!(serde_json::to_value(tb).expect("json"), tenant_brand);
    let eb = layers.event.brand.as_ref().expect("event brand");
    assert_eq!(serde_json::to_value(eb).expect("json"), event_brand);
    let mut names: Vec<_> = layers
        .compliance
        .iter()
        .map(|b| (b.name, b.text.clone(), b.html.clone()))
        .collect();
    names.sort();
    assert_eq!(
        names,
        ComplianceBlockName::ALL
            .iter()
            .map(|n| (
                *n,
                format!("{} text", n.as_str()),
                Some(format!("<p>{}</p>", n.as_str()))
            ))
            .collect::<Vec<_>>()
    );

    // The API answers the whole configuration in exactly three requests: auth + two.
    stack.dynamo_requests.reset();
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
        stack.dynamo_requests.count(),
        3,
        "DynamoDB requests for the configuration"
    );
    let templates = config["templates"].as_array().expect("templates");
    assert_eq!(templates.len(), 30);
    for item in templates {
        assert_eq!(item["source"], "event");
        assert_eq!(chain_of(item), vec!["platform", "tenant", "event"]);
        let m = format!("event/{}/{}", text(item, "category"), text(item, "channel"));
        let body = item["template"]
            .get("subject")
            .or(item["template"].get("text"))
            .expect("a part");
        assert!(
            body.as_str().is_some_and(|s| s.starts_with(&m)),
            "{m}: {body}"
        );
    }
    let providers: Vec<(String, String)> = config["providers"]
        .as_array()
        .expect("providers")
        .iter()
        .map(|p| (text(p, "channel"), text(p, "source")))
        .collect();
    assert_eq!(
        providers,
        vec![
            ("email".to_owned(), "tenant".to_owned()),
            ("sms".to_owned(), "event".to_owned()),
            ("whatsapp".to_owned(), "event".to_owned()),
        ]
    );
    assert_eq!(config["brand"]["footer"]["value"], "Gala footer");
    assert_eq!(config["brand"]["primary_color"]["source"], "tenant");
    assert_eq!(config["compliance"].as_array().map(Vec::len), Some(3));
    let dump = config.to_string();
    for secret in ["tok-abcdefgh", "EAAG-secret-token"] {
        assert!(
            !dump.contains(secret),
            "a credential leaked into the configuration"
        );
    }
    let wa = &config["providers"][2]["providers"][0];
    assert_eq!(wa["credentials"], json!({"access_token": "••••oken"}));
}

fn chain_of(item: &Value) -> Vec<String> {
    item["chain"]
        .as_array()
        .expect("chain")
        .iter()
        .map(|l| text(l, "layer"))
        .collect()
}
