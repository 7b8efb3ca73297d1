use chrono::DateTime;

use super::*;

fn block(name: ComplianceBlockName, text: &str) -> ComplianceBlock {
    ComplianceBlock {
        name,
        text: text.into(),
        html: None,
        version: 1,
        updated_at: DateTime::from_timestamp(0, 0).unwrap_or_default(),
    }
}

fn blocks() -> Vec<ComplianceBlock> {
    vec![
        block(ComplianceBlockName::LegalFooter, "Herald Ltd, London"),
        block(ComplianceBlockName::OptOutText, "Reply STOP to opt out"),
        block(
            ComplianceBlockName::GdprNotice,
            "We process your data <lawfully>",
        ),
    ]
}

fn email(subject: &str, html: &str, text: Option<&str>) -> TemplateContent {
    TemplateContent {
        subject: Some(subject.into()),
        html: Some(html.into()),
        text: text.map(Into::into),
    }
}

fn sms(text: &str) -> TemplateContent {
    TemplateContent {
        subject: None,
        html: None,
        text: Some(text.into()),
    }
}

#[test]
fn html_is_escaped_but_subject_and_text_are_not() {
    let mut ctx = RenderContext::sample();
    ctx.guest.first_name = "<script>Ada & co</script>".into();
    let content = email(
        "Hi {{ guest.first_name }}",
        "<p>{{ guest.first_name }}</p>",
        Some("Hi {{ guest.first_name }}"),
    );
    let out = render_message(Channel::Email, &content, &ctx, &[]).unwrap();
    assert_eq!(out.subject.as_deref(), Some("Hi <script>Ada & co</script>"));
    assert_eq!(
        out.html.as_deref(),
        Some("<p>&lt;script&gt;Ada &amp; co&lt;&#x2f;script&gt;</p>")
    );
    assert_eq!(out.text.as_deref(), Some("Hi <script>Ada & co</script>"));
}

#[test]
fn endless_loops_run_out_of_fuel_and_recursion_is_bounded() {
    let ctx = RenderContext::sample();
    let loops =
        sms("{% for i in range(1000) %}{% for j in range(1000) %}{{ j }}{% endfor %}{% endfor %}");
    let issues = render_message(Channel::Sms, &loops, &ctx, &[]).unwrap_err();
    assert_eq!(issues[0].field, "text");
    assert!(issues[0].message.contains("fuel"), "{issues:?}");
    let recursion = sms("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
    let issues = render_message(Channel::Sms, &recursion, &ctx, &[]).unwrap_err();
    assert!(
        issues[0].message.contains("may not call a macro"),
        "{issues:?}"
    );
    let wide = "x".repeat(100);
    let huge = sms(&format!(
        "{{% for i in range(1000) %}}{{{{ event.name | replace('', '{wide}') }}}}{{% endfor %}}"
    ));
    let result = render_message(Channel::Sms, &huge, &ctx, &[]);
    assert!(
        matches!(&result, Err(issues) if issues[0].message.contains("larger than")),
        "the output is capped at 1 MiB"
    );
    let many = sms("{{ range(2000) | join(',') }}");
    let issues = render_message(Channel::Sms, &many, &ctx, &[]).unwrap_err();
    assert!(issues[0].message.contains("at most 1000"), "{issues:?}");
}

#[test]
fn unknown_variables_are_errors() {
    let issues = render_message(
        Channel::Sms,
        &sms("Hi {{ guest.nickname }}"),
        &RenderContext::sample(),
        &[],
    )
    .unwrap_err();
    assert_eq!(issues[0].field, "text");
}

#[test]
fn compliance_blocks_are_always_appended() {
    let content = email("S", "<html><body><p>Hello</p></BODY></html>", Some("Hello"));
    let out = render_message(
        Channel::Email,
        &content,
        &RenderContext::sample(),
        &blocks(),
    )
    .unwrap();
    let html = out.html.unwrap();
    let body_end = html.find("</BODY>").unwrap();
    for needle in [
        "Reply STOP to opt out",
        "We process your data &lt;lawfully&gt;",
        "Herald Ltd, London",
    ] {
        let at = html
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} missing from {html}"));
        assert!(at < body_end, "{needle} must come before </body>");
    }
    assert!(
        html.find("opt out").unwrap() < html.find("lawfully").unwrap(),
        "blocks in name order"
    );
    let text = out.text.unwrap();
    assert!(text.starts_with("Hello\n\nReply STOP"), "{text}");
    assert!(text.ends_with("Herald Ltd, London"));
}

#[test]
fn a_template_cannot_hide_the_blocks() {
    // Even a template that tries to end the document early gets the blocks appended.
    let content = email("S", "<p>Hi</p><!--", None);
    let out = render_message(
        Channel::Email,
        &content,
        &RenderContext::sample(),
        &blocks(),
    )
    .unwrap();
    assert!(out.html.unwrap().contains("Reply STOP to opt out"));
    let out = render_message(
        Channel::Whatsapp,
        &sms("Hi"),
        &RenderContext::sample(),
        &blocks(),
    )
    .unwrap();
    assert_eq!(out.text.as_deref(), Some("Hi\nReply STOP to opt out"));
}

#[test]
fn sms_carries_its_segment_count() {
    let out = render_message(
        Channel::Sms,
        &sms("{{ event.name }} tonight"),
        &RenderContext::sample(),
        &blocks(),
    )
    .unwrap();
    let segments = out.sms.unwrap();
    assert_eq!(
        out.text.as_deref(),
        Some("Sample Gala tonight\nReply STOP to opt out")
    );
    assert_eq!(
        (segments.encoding, segments.segments),
        (SmsEncoding::Gsm7, 1)
    );
    let out = render_message(Channel::Whatsapp, &sms("hi"), &RenderContext::sample(), &[]).unwrap();
    assert!(out.sms.is_none());
}

#[test]
fn dates_follow_the_guest_then_the_event() {
    let mut ctx = RenderContext::sample();
    let content = sms(
        "{{ event.starts_at | date('long') }} {{ event.starts_at | time }} {{ '2027-05-01T16:00:00Z' | time }}",
    );
    // en-GB as CLDR has it: the 24-hour clock, a comma after the weekday.
    let out = render_message(Channel::Whatsapp, &content, &ctx, &[]).unwrap();
    assert_eq!(
        out.text.as_deref(),
        Some("Saturday, 1 May 2027 18:00 17:00")
    );
    ctx.guest.locale = Some("fr-FR".into());
    ctx.guest.time_zone = Some("Europe/Paris".into());
    let out = render_message(Channel::Whatsapp, &content, &ctx, &[]).unwrap();
    assert_eq!(out.text.as_deref(), Some("samedi 1 mai 2027 18:00 18:00"));
    // Every language CLDR has, not four: an Italian and a Japanese guest.
    let datetime = sms("{{ '2027-05-01T16:00:00Z' | datetime('long') }}");
    ctx.guest.locale = Some("it-IT".into());
    ctx.guest.time_zone = Some("Europe/Rome".into());
    let out = render_message(Channel::Whatsapp, &datetime, &ctx, &[]).unwrap();
    assert_eq!(
        out.text.as_deref(),
        Some("sabato 1 maggio 2027 alle ore 18:00")
    );
    ctx.guest.locale = Some("ja-JP".into());
    ctx.guest.time_zone = Some("Asia/Tokyo".into());
    let out = render_message(Channel::Whatsapp, &datetime, &ctx, &[]).unwrap();
    assert_eq!(out.text.as_deref(), Some("2027年5月2日日曜日 1:00"));
    let bad =
        render_message(Channel::Whatsapp, &sms("{{ 'soon' | date }}"), &ctx, &[]).unwrap_err();
    assert!(bad[0].message.contains("not a date"), "{bad:?}");
}

#[test]
fn loops_over_the_schedule() {
    let content = sms(
        "{% for item in event.schedule %}{{ item.starts_at | time }} {{ item.title }};{% endfor %}",
    );
    let out = render_message(Channel::Whatsapp, &content, &RenderContext::sample(), &[]).unwrap();
    assert_eq!(out.text.as_deref(), Some("18:00 Reception;19:30 Dinner;"));
}
