//! The sender's CPU per message, I/O excluded: the consent, suppression and channel decision,
//! rendering the standard email (infra/bench/fixtures) with the job's compiled template, and
//! building the SES SendEmail request with its tags and List-Unsubscribe headers. The same
//! code the sender runs per message (`decide`, `Composer::compose`, `ses_request`).

use std::collections::{HashMap, HashSet};
use std::hint::black_box;

use chrono::DateTime;
use criterion::{Criterion, criterion_group, criterion_main};
use herald::config::{ComplianceBlock, ComplianceBlockName, TemplateContent};
use herald::domain::{Channel, TemplateCategory};
use herald::guests::Contact;
use herald::ids::{CampaignId, ContactId, EventId, MessageId, TenantId};
use herald::messages::{Decision, Recipient, decide, suppression_key};
use herald::providers::send::{From, ses_request};
use herald::render::{CompiledTemplate, GuestVars, RenderContext};
use herald_sender::compose::{Composer, Links};

const TEMPLATE: &str = include_str!("../../../infra/bench/fixtures/standard-email.jinja.html");
const CONTEXT: &str = include_str!("../../../infra/bench/fixtures/context.json");
const RECIPIENTS: usize = 100;

fn blocks(value: &serde_json::Value) -> Vec<ComplianceBlock> {
    ComplianceBlockName::ALL
        .iter()
        .map(|name| ComplianceBlock {
            name: *name,
            text: value["compliance"][name.as_str()]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            html: None,
            version: 1,
            updated_at: DateTime::from_timestamp(0, 0).unwrap_or_default(),
        })
        .collect()
}

fn bench_sender(c: &mut Criterion) {
    let value: serde_json::Value = serde_json::from_str(CONTEXT).expect("context.json is JSON");
    let context: RenderContext =
        serde_json::from_value(value.clone()).expect("context.json fits RenderContext");
    let compliance = blocks(&value);
    let content = TemplateContent {
        subject: Some("You are invited to {{ event.name }}".to_owned()),
        html: Some(TEMPLATE.to_owned()),
        text: None,
    };
    let compiled = CompiledTemplate::new(Channel::Email, &content).expect("the fixture compiles");
    let mut composer = Composer::new(
        TemplateCategory::Invitation,
        HashMap::from([(Channel::Email, Some(compiled))]),
        &compliance,
        context.clone(),
        Some(From {
            address: "events@acme.example".to_owned(),
            name: Some("Acme Events".to_owned()),
        }),
    );
    // A hundred guests with their contacts; a few addresses on the suppression list.
    let tenant = TenantId::new();
    let (event, campaign) = (EventId::new(), CampaignId::new());
    let recipients: Vec<Recipient> = (0..RECIPIENTS)
        .map(|i| Recipient {
            contact_id: Some(ContactId::new()),
            vars: GuestVars {
                first_name: format!("Guest{i}"),
                last_name: "Lovelace".to_owned(),
                email: Some(format!("guest{i}@example.com")),
                ..context.guest.clone()
            },
            ..Recipient::default()
        })
        .collect();
    let contacts: HashMap<ContactId, Contact> = recipients
        .iter()
        .filter_map(|r| {
            let id = r.contact_id?;
            Some((
                id,
                serde_json::from_value(serde_json::json!({
                    "id": id, "tenant_id": tenant, "email": r.vars.email,
                    "first_name": r.vars.first_name, "last_name": "Lovelace",
                    "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
                }))
                .expect("a contact"),
            ))
        })
        .collect();
    let suppressed: HashSet<String> = (0..5)
        .map(|i| suppression_key(Channel::Email, &format!("bounced{i}@example.com")))
        .collect();
    let ses = aws_sdk_sesv2::Client::from_conf(
        aws_sdk_sesv2::Config::builder()
            .behavior_version(aws_sdk_sesv2::config::BehaviorVersion::latest())
            .region(aws_sdk_sesv2::config::Region::new("us-east-1"))
            .build(),
    );
    let from = From {
        address: "events@acme.example".to_owned(),
        name: None,
    };
    let channels = [Channel::Email, Channel::Sms];
    let mut i = 0usize;
    c.bench_function("sender_cpu_per_message", |b| {
        b.iter(|| {
            let r = &recipients[i % RECIPIENTS];
            i += 1;
            let contact = r.contact_id.and_then(|id| contacts.get(&id));
            let is_suppressed = |channel: Channel, address: &str| {
                suppressed.contains(&suppression_key(channel, address))
            };
            let Decision::Send(channel) = decide(
                black_box(&channels),
                TemplateCategory::Invitation,
                r,
                contact,
                &is_suppressed,
            ) else {
                panic!("every bench recipient is sendable");
            };
            let message = MessageId::new();
            // The ids every provider report will name, sealed as the sender seals them.
            let ids = herald::tracking::seal::SealedIds {
                tenant,
                message,
                event: Some(event),
                campaign: Some(campaign),
                contact: r.contact_id,
                expires: None,
            };
            let seal = herald::tracking::seal::Seal::of(&[7u8; 32], &ids);
            let tags = herald_sender::message_tags(&ids, Some(seal));
            // Each message's own signed preference links, as the sender makes them.
            let claims = herald::consent::LinkClaims::for_message(
                tenant,
                r.contact_id.unwrap_or_default(),
                Some(message),
                TemplateCategory::Invitation,
                channel,
                r.vars.locale.as_deref(),
                chrono::Utc::now(),
            );
            let links = Links::new("https://api.example.com", &claims.sign(&LINK_KEY));
            let composed = composer
                .compose(channel, r, tags, Some(&links))
                .expect("the fixture renders");
            let to = r.address(channel).unwrap_or_default();
            let request =
                ses_request(&ses, None, &from, &composed.outgoing(to)).expect("a request");
            black_box(request);
        })
    });
}

const LINK_KEY: [u8; 32] = [7; 32];

criterion_group!(benches, bench_sender);
criterion_main!(benches);
