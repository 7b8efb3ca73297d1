//! Rendering the standard email template (infra/bench/fixtures): about 5 KB of HTML layout with
//! brand, ten variables, a loop over five schedule items and the compliance footer. The same
//! template written for Handlebars.js is rendered under Node by infra/bench/handlebars.

use std::hint::black_box;

use chrono::DateTime;
use criterion::{Criterion, criterion_group, criterion_main};
use herald::config::{ComplianceBlock, ComplianceBlockName, TemplateContent};
use herald::domain::Channel;
use herald::render::{CompiledTemplate, RenderContext};

const TEMPLATE: &str = include_str!("../../infra/bench/fixtures/standard-email.jinja.html");
const CONTEXT: &str = include_str!("../../infra/bench/fixtures/context.json");

fn fixture() -> (TemplateContent, RenderContext, Vec<ComplianceBlock>) {
    let value: serde_json::Value = serde_json::from_str(CONTEXT).expect("context.json is JSON");
    let context: RenderContext =
        serde_json::from_value(value.clone()).expect("context.json fits RenderContext");
    let blocks = ComplianceBlockName::ALL
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
        .collect();
    let content = TemplateContent {
        subject: Some("You are invited to {{ event.name }}".to_owned()),
        html: Some(TEMPLATE.to_owned()),
        text: None,
    };
    (content, context, blocks)
}

fn bench_render(c: &mut Criterion) {
    let (content, context, blocks) = fixture();
    let compiled = CompiledTemplate::new(Channel::Email, &content).expect("the fixture compiles");
    let sample = compiled
        .render(&context, &blocks)
        .expect("the fixture renders");
    assert!(sample.html.as_deref().is_some_and(
        |h| h.contains("Awards &lt;ceremony&gt;") && h.contains("Unsubscribe at any time")
    ));
    c.bench_function("render_standard_email", |b| {
        b.iter(|| compiled.render(black_box(&context), black_box(&blocks)))
    });
    c.bench_function("compile_and_render_standard_email", |b| {
        b.iter(|| {
            CompiledTemplate::new(Channel::Email, black_box(&content))
                .and_then(|t| t.render(&context, &blocks))
        })
    });
}

/// The date filters alone (CLDR through ICU4X): a long date and time in five languages, as a
/// sender instance formats them during a campaign: each language's formatters built at its
/// first use, and the texts of dates already formatted remembered (every guest of a campaign
/// gets the same event dates).
fn bench_dates(c: &mut Criterion) {
    let at = herald::render::dates::parse_value("2027-05-01T18:00:00", chrono_tz::UTC)
        .expect("a local date-time");
    let locales = ["en-GB", "fr-FR", "de-DE", "it-IT", "ja-JP"];
    for locale in locales {
        assert!(!herald::render::dates::format_datetime(at, "long", locale).is_empty());
    }
    c.bench_function("datetime_long_in_five_languages", |b| {
        b.iter(|| {
            for locale in locales {
                black_box(herald::render::dates::format_datetime(
                    black_box(at),
                    "long",
                    locale,
                ));
            }
        })
    });
}

criterion_group!(benches, bench_render, bench_dates);
criterion_main!(benches);
