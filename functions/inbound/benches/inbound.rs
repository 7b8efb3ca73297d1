//! The inbound function's CPU per email, AWS calls excluded: a 20 KB multipart reply (text
//! and HTML alternatives, quoted history, a signature, a small attachment) parsed with
//! `mail-parser`, its written part cut from the history, read for keywords and opt-out words,
//! planned against ten automatic-reply and routing rules, and folded into search words.

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use herald::conversations::plan::{Situation, plan};
use herald::conversations::rules::Rule;
use herald::conversations::{Conversation, Party};
use herald::domain::Channel;
use herald::ids::{ContactId, TenantId};
use herald::inbound::Inbound;
use herald::inbound::email::parse_mail;
use herald::inbound::search::index_text;
use herald::inbound::text::written_part;
use std::hint::black_box;

/// About 20 KB: a reply above a long quoted invitation, both as text and HTML, and a PDF.
fn mail() -> Vec<u8> {
    let quoted: String = (0..165)
        .map(|i| {
            format!(
                "> Line {i} of the invitation: the gala starts at 19:00, dress code black tie.\r\n"
            )
        })
        .collect();
    let html: String = (0..85)
        .map(|i| format!("<p>Ligne {i} de l'invitation : le gala commence à 19 h.</p>\r\n"))
        .collect();
    let pdf =
        "JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0ZpbHRlci9GbGF0ZURlY29kZT4+\r\n"
            .repeat(20);
    format!(
        "From: Zoé Example <zoe@example.com>\r\nTo: token@reply.example.org\r\nSubject: Re: Winter gala\r\n\
Message-ID: <reply-1@example.com>\r\nIn-Reply-To: <0100018c@email.amazonses.com>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n--outer\r\n\
Content-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n--inner\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
Nous viendrons avec plaisir. Is there parking near the venue? My husband needs a vegetarian menu.\r\n\r\n\
-- \r\nZoé Example\r\nHead of Events, Example Ltd\r\n\r\nOn Tue, 1 Dec 2026 at 10:00, Acme <events@acme.example> wrote:\r\n{quoted}\r\n\
--inner\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Nous viendrons avec plaisir.</p>{html}</body></html>\r\n\
--inner--\r\n--outer\r\nContent-Type: application/pdf; name=\"menu.pdf\"\r\nContent-Disposition: attachment; filename=\"menu.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{pdf}--outer--\r\n"
    )
    .into_bytes()
}

fn rules() -> Vec<Rule> {
    let words = [
        "parking",
        "menu",
        "dress code",
        "hotel",
        "refund",
        "cancel",
        "wheelchair",
        "vip",
        "train",
        "shuttle",
    ];
    words
        .iter()
        .enumerate()
        .map(|(i, w)| Rule {
            id: format!("rule-{i}"),
            words: vec![(*w).to_owned(), format!("{w}s")],
            channels: vec![],
            first_message: false,
            outside_hours: false,
            tags: vec![],
            reply: (i % 2 == 0).then(|| format!("About {w}: see the event page.")),
            queue: Some("logistics".into()),
            priority: None,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let raw = mail();
    assert!((19_000..23_000).contains(&raw.len()), "{} bytes", raw.len());
    let rules = rules();
    let conversation = Conversation::new(
        TenantId::new(),
        &Party::Contact(ContactId::new()),
        None,
        Utc::now(),
    );
    c.bench_function("inbound_email_20kb", |b| {
        b.iter(|| {
            let mail = parse_mail(black_box(&raw)).expect("parses");
            let written = written_part(&mail.text);
            let inbound = Inbound {
                channel: Channel::Email,
                provider_id: "ses-1".into(),
                from: mail.from,
                to: "token@reply.example.org".into(),
                at: Utc::now(),
                subject: mail.subject,
                text: mail.text,
                written,
                attachments: mail.attachments,
                replied_to: None,
                automatic: mail.automatic,
                spam: false,
                raw_object: None,
            };
            let decided = plan(&Situation {
                inbound: &inbound,
                conversation: &conversation,
                opted_out: false,
                stopped_by_keyword: false,
                rsvp_open: true,
                tags: &[],
                rules: rules.iter().map(|r| (r, None)).collect(),
                help_text: None,
                sender_name: "Acme",
            });
            let words = index_text(
                [
                    inbound.subject.as_deref().unwrap_or_default(),
                    &inbound.text,
                ],
                16 * 1024,
            );
            black_box((decided, words))
        })
    });
}

/// The stages alone, to see where the time goes.
fn stages(c: &mut Criterion) {
    let raw = mail();
    let mail = parse_mail(&raw).expect("parses");
    let mut group = c.benchmark_group("inbound_stages");
    group.bench_function("parse", |b| b.iter(|| parse_mail(black_box(&raw))));
    group.bench_function("written_part", |b| {
        b.iter(|| written_part(black_box(&mail.text)))
    });
    group.bench_function("index_whole_text", |b| {
        b.iter(|| index_text([black_box(mail.text.as_str())], 16 * 1024))
    });
    group.finish();
}

criterion_group!(benches, bench, stages);
criterion_main!(benches);
