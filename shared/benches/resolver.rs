//! The inheritance resolver on a realistic, fully populated event: every template slot at every
//! layer (the event overriding a third of them), failover providers, brand at two layers and the
//! platform's compliance blocks.

use std::collections::BTreeMap;
use std::hint::black_box;

use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use herald::config::{
    Brand, BrandFields, ComplianceBlock, ComplianceBlockName, EventLayers, LayerConfig, Provider,
    SealedCredentials, Template, TemplateContent,
};
use herald::domain::{Channel, Layer, ProviderKind, TemplateCategory};
use herald::ids::{EventId, ProviderId, TemplateId, TenantId};
use herald::resolve::resolve_event_config;

struct Owner {
    tenant: TenantId,
    event: EventId,
    at: DateTime<Utc>,
}

/// An email body of about 4 KB: a table layout with a few variables, as a designer would write.
fn email_html(layer: Layer, category: TemplateCategory) -> String {
    let mut html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{category}</title></head>\
         <body style=\"margin:0;background:{{{{ brand.secondary_color }}}}\">\
         <table role=\"presentation\" width=\"100%\"><tr><td align=\"center\">\
         <img src=\"{{{{ brand.logo_url }}}}\" alt=\"{{{{ brand.sender_name }}}}\" width=\"160\">"
    );
    let mut paragraph = 0;
    while html.len() < 4000 {
        paragraph += 1;
        html.push_str(&format!(
            "<tr><td style=\"padding:12px 24px;font:16px/1.5 Helvetica,Arial,sans-serif;\
             color:#222\"><p>Dear {{{{ guest.first_name }}}}, paragraph {paragraph} of the {layer} \
             {category} message for {{{{ event.name }}}} on {{{{ event.starts_at }}}} at \
             {{{{ event.venue }}}}. Please reply by {{{{ event.rsvp_by }}}}.</p></td></tr>"
        ));
    }
    html.push_str("</td></tr></table>{{ compliance.legal_footer }}</body></html>");
    html
}

fn template(owner: &Owner, layer: Layer, category: TemplateCategory, channel: Channel) -> Template {
    let text = format!("Hi {{{{ guest.first_name }}}}: {category} for {{{{ event.name }}}}.");
    let content = match channel {
        Channel::Email => TemplateContent {
            subject: Some(format!("{category}: {{{{ event.name }}}}")),
            html: Some(email_html(layer, category)),
            text: Some(text),
        },
        Channel::Sms | Channel::Whatsapp => TemplateContent {
            subject: None,
            html: None,
            text: Some(text),
        },
    };
    Template {
        id: TemplateId::new(),
        layer,
        tenant_id: (layer != Layer::Platform).then_some(owner.tenant),
        event_id: (layer == Layer::Event).then_some(owner.event),
        category,
        channel,
        content,
        version: 3,
        created_at: owner.at,
        updated_at: owner.at,
    }
}

fn provider(owner: &Owner, layer: Layer, kind: ProviderKind, priority: u32) -> Provider {
    let hints = BTreeMap::from([("api_key".to_owned(), "••••abcd".to_owned())]);
    Provider {
        id: ProviderId::new(),
        tenant_id: owner.tenant,
        event_id: (layer == Layer::Event).then_some(owner.event),
        layer,
        kind,
        channel: kind.channel(),
        name: format!("{layer} {kind} #{priority}"),
        priority,
        active: true,
        send_rate: None,
        settings: serde_json::json!({ "from": "events@example.com", "region": "eu-west-1" }),
        credentials: SealedCredentials {
            ciphertext: "AQICAHh".repeat(40),
            hints,
        },
        version: 1,
        created_at: owner.at,
        updated_at: owner.at,
    }
}

fn brand(owner: &Owner, fields: BrandFields) -> Option<Brand> {
    Some(Brand {
        fields,
        version: 2,
        updated_at: owner.at,
    })
}

fn full_configuration() -> EventLayers {
    let owner = Owner {
        tenant: TenantId::new(),
        event: EventId::new(),
        at: DateTime::from_timestamp(0, 0).expect("the epoch is a valid time"),
    };
    let slots = TemplateCategory::ALL
        .iter()
        .flat_map(|&c| Channel::ALL.iter().map(move |&ch| (c, ch)));
    let at_layer = |layer: Layer| -> Vec<Template> {
        let slots = slots.clone().enumerate();
        // The event overrides every third slot: 10 of the 30.
        let keep = |(i, _): &(usize, _)| layer != Layer::Event || i % 3 == 0;
        let mine = slots.filter(keep);
        mine.map(|(_, (c, ch))| template(&owner, layer, c, ch))
            .collect()
    };
    let tenant_providers = [
        (ProviderKind::Ses, 0),
        (ProviderKind::Sendgrid, 1),
        (ProviderKind::Twilio, 0),
        (ProviderKind::Sns, 1),
        (ProviderKind::WhatsappCloud, 0),
        (ProviderKind::WhatsappCloud, 1),
    ];
    let compliance = ComplianceBlockName::ALL.map(|name| ComplianceBlock {
        name,
        text: format!("{}: see {{{{ compliance_url }}}}", name.as_str()),
        html: Some(format!("<p class=\"{}\">…</p>", name.as_str())),
        version: 1,
        updated_at: owner.at,
    });
    EventLayers {
        platform_templates: at_layer(Layer::Platform),
        compliance: compliance.to_vec(),
        tenant: LayerConfig {
            templates: at_layer(Layer::Tenant),
            providers: tenant_providers
                .iter()
                .map(|&(kind, priority)| provider(&owner, Layer::Tenant, kind, priority))
                .collect(),
            brand: brand(
                &owner,
                BrandFields {
                    logo_url: Some("https://cdn.example.com/acme/logo.png".into()),
                    primary_color: Some("#0a3d62".into()),
                    secondary_color: Some("#f5f6fa".into()),
                    sender_name: Some("Acme Events".into()),
                    footer: Some("Acme Events Ltd, 1 Main Street, London".into()),
                },
            ),
        },
        event: LayerConfig {
            templates: at_layer(Layer::Event),
            providers: vec![provider(&owner, Layer::Event, ProviderKind::Brevo, 0)],
            brand: brand(
                &owner,
                BrandFields {
                    logo_url: Some("https://cdn.example.com/acme/summit-2026.png".into()),
                    primary_color: Some("#e84118".into()),
                    ..BrandFields::default()
                },
            ),
        },
        tenant_journey: None,
        event_journey: None,
    }
}

fn bench_resolver(c: &mut Criterion) {
    let layers = full_configuration();
    let resolved = resolve_event_config(&layers);
    let shape = (
        resolved.templates.len(),
        resolved.providers.len(),
        resolved.brand.len(),
    );
    assert_eq!(
        shape,
        (30, 3, 5),
        "every slot, channel and brand field resolves"
    );
    c.bench_function("resolve_event_config/full", |b| {
        b.iter(|| resolve_event_config(black_box(&layers)))
    });
}

criterion_group!(benches, bench_resolver);
criterion_main!(benches);
