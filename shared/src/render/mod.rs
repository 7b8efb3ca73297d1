//! Message rendering with minijinja.
//!
//! - HTML parts are auto-escaped; subjects and text parts are not.
//! - A render has a fuel limit ([`RENDER_FUEL`] evaluation steps) and a recursion limit
//!   ([`RECURSION_LIMIT`]), so no template can loop or recurse forever; undefined variables
//!   are errors, never silent blanks.
//! - Constructs that could grow a message without bound are refused ([`policy`]); `range` is
//!   capped, `replace` and `join` are bounded, and each rendered part is at most
//!   [`policy::MAX_RENDERED_BYTES`].
//! - The platform's compliance blocks are appended after rendering: no template can remove
//!   them. Email carries all three (HTML before `</body>`, and in the text part); SMS and
//!   WhatsApp carry the opt-out text, the one block carriers require in the message itself.
//!
//! Variables (see [`RenderContext`]): `guest` (first_name, last_name, name, email, phone,
//! locale, time_zone, tags, fields), `event` (name, starts_at, ends_at, time_zone, locale,
//! venue, schedule[] of {starts_at, title}), `tenant` (name), `brand` (logo_url,
//! primary_color, secondary_color, sender_name, footer), `links` (unsubscribe, preferences,
//! rsvp). Filters: `date(style)`, `time`, `datetime(style)` in the guest's time zone and
//! language (falling back to the event's); see [`dates`].

pub mod dates;
pub mod policy;
pub mod sms;

use std::collections::BTreeMap;

use minijinja::{Environment, Error, ErrorKind, State, UndefinedBehavior, Value};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::config::{ComplianceBlock, ComplianceBlockName, TemplateContent};
use crate::domain::Channel;
use crate::template_syntax::SyntaxIssue;
pub use sms::{SmsEncoding, SmsSegments, count_segments};

/// The evaluation steps one part may spend.
pub const RENDER_FUEL: u64 = 100_000;
/// The deepest nesting of macro calls and includes.
pub const RECURSION_LIMIT: usize = 16;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuestVars {
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    /// Defaults to "first_name last_name".
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The guest's custom fields.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// The guest's RSVP, once they answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rsvp: Option<RsvpVars>,
}

/// What templates see of a guest's RSVP (`guest.rsvp.status`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RsvpVars {
    /// `accepted`, `declined` or `maybe`.
    pub status: String,
    /// The guest and the others they bring (0 when declined).
    pub party_size: u32,
    /// Question id → the answer: options by their label in the guest's language, several
    /// joined by `; `; every question of the event's form is there (empty when not
    /// answered).
    #[serde(default)]
    pub answers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleItem {
    pub starts_at: String,
    pub title: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventVars {
    pub name: String,
    pub starts_at: String,
    pub ends_at: String,
    pub time_zone: String,
    pub locale: String,
    #[serde(default)]
    pub venue: Option<String>,
    #[serde(default)]
    pub schedule: Vec<ScheduleItem>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantVars {
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkVars {
    pub unsubscribe: String,
    pub preferences: String,
    #[serde(default)]
    pub rsvp: Option<String>,
}

/// Everything a template can see.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RenderContext {
    pub guest: GuestVars,
    pub event: EventVars,
    pub tenant: TenantVars,
    pub brand: BTreeMap<String, String>,
    pub links: LinkVars,
}

impl RenderContext {
    /// Sample data for previews and template checks.
    pub fn sample() -> Self {
        Self {
            guest: GuestVars {
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
                name: "Ada Lovelace".into(),
                email: Some("ada@example.com".into()),
                phone: Some("+447700900123".into()),
                locale: Some("en-GB".into()),
                time_zone: Some("Europe/London".into()),
                tags: vec!["vip".into()],
                fields: BTreeMap::from([("table".into(), serde_json::json!(7))]),
                rsvp: Some(RsvpVars {
                    status: "accepted".into(),
                    party_size: 2,
                    answers: BTreeMap::from([("menu".into(), "Vegetarian".into())]),
                }),
            },
            event: EventVars {
                name: "Sample Gala".into(),
                starts_at: "2027-05-01T18:00:00".into(),
                ends_at: "2027-05-01T23:30:00".into(),
                time_zone: "Europe/London".into(),
                locale: "en-GB".into(),
                venue: Some("The Grand Hall".into()),
                schedule: vec![
                    ScheduleItem {
                        starts_at: "2027-05-01T18:00:00".into(),
                        title: "Reception".into(),
                    },
                    ScheduleItem {
                        starts_at: "2027-05-01T19:30:00".into(),
                        title: "Dinner".into(),
                    },
                ],
            },
            tenant: TenantVars {
                name: "Sample Organisation".into(),
            },
            brand: BTreeMap::from([
                ("logo_url".into(), "https://example.com/logo.png".into()),
                ("primary_color".into(), "#1F6FEB".into()),
                ("secondary_color".into(), "#F0F6FC".into()),
                ("sender_name".into(), "Sample Organisation".into()),
                (
                    "footer".into(),
                    "Sample Organisation, 1 Example Street".into(),
                ),
            ]),
            links: LinkVars {
                unsubscribe: "https://example.com/u/sample".into(),
                preferences: "https://example.com/p/sample".into(),
                rsvp: Some("https://example.com/rsvp/sample".into()),
            },
        }
    }
}

/// A rendered message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct RenderedMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// SMS only: how the text travels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms: Option<SmsSegments>,
}

/// A template compiled once and rendered many times.
pub struct CompiledTemplate<'s> {
    env: Environment<'s>,
    channel: Channel,
    parts: Vec<&'static str>,
}

fn environment<'s>() -> Environment<'s> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(RENDER_FUEL));
    env.set_recursion_limit(RECURSION_LIMIT);
    env.set_auto_escape_callback(|name| {
        if name == "html" {
            minijinja::AutoEscape::Html
        } else {
            minijinja::AutoEscape::None
        }
    });
    env.add_function("range", bounded_range);
    env.add_filter("replace", bounded_replace);
    env.add_filter("join", bounded_join);
    env.add_filter(
        "date",
        |state: &State, value: String, style: Option<String>| {
            let (at, locale) = localise(state, &value)?;
            Ok::<_, Error>(dates::format_date(
                at,
                style.as_deref().unwrap_or("medium"),
                &locale,
            ))
        },
    );
    env.add_filter("time", |state: &State, value: String| {
        let (at, locale) = localise(state, &value)?;
        Ok::<_, Error>(dates::format_time(at, &locale))
    });
    env.add_filter(
        "datetime",
        |state: &State, value: String, style: Option<String>| {
            let (at, locale) = localise(state, &value)?;
            Ok::<_, Error>(dates::format_datetime(
                at,
                style.as_deref().unwrap_or("medium"),
                &locale,
            ))
        },
    );
    env
}

fn too_large() -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!(
            "the result would be larger than {} KiB",
            policy::MAX_RENDERED_BYTES / 1024
        ),
    )
}

fn bounded_range(lower: i64, upper: Option<i64>, step: Option<i64>) -> Result<Vec<i64>, Error> {
    let (start, end) = match upper {
        Some(upper) => (lower, upper),
        None => (0, lower),
    };
    let step = step.unwrap_or(1);
    if step == 0 {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "range() step may not be 0",
        ));
    }
    let span = if step > 0 {
        end.saturating_sub(start)
    } else {
        start.saturating_sub(end)
    };
    let count = if span <= 0 {
        0
    } else {
        (span - 1) / step.saturating_abs() + 1
    };
    if count > i64::from(policy::MAX_RANGE) {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("range() yields at most {} numbers", policy::MAX_RANGE),
        ));
    }
    Ok((0..count).map(|i| start + i * step).collect())
}

fn bounded_replace(value: &str, from: &str, to: &str) -> Result<String, Error> {
    let occurrences = if from.is_empty() {
        value.chars().count() + 1
    } else {
        value.matches(from).count()
    };
    let size = value.len() + occurrences.saturating_mul(to.len());
    if size > policy::MAX_RENDERED_BYTES {
        return Err(too_large());
    }
    Ok(value.replace(from, to))
}

fn bounded_join(value: minijinja::Value, separator: Option<String>) -> Result<String, Error> {
    let separator = separator.unwrap_or_default();
    let mut out = String::new();
    for (i, item) in value.try_iter()?.enumerate() {
        if i > 0 {
            out.push_str(&separator);
        }
        match item.as_str() {
            Some(s) => out.push_str(s),
            None => out.push_str(&item.to_string()),
        }
        if out.len() > policy::MAX_RENDERED_BYTES {
            return Err(too_large());
        }
    }
    Ok(out)
}

/// Collects a rendered part, refusing to grow past [`policy::MAX_RENDERED_BYTES`].
struct BoundedWriter {
    buf: Vec<u8>,
    exceeded: bool,
}

impl std::io::Write for BoundedWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > policy::MAX_RENDERED_BYTES {
            self.exceeded = true;
            return Err(std::io::Error::other("rendered part too large"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The value as a local date-time in the guest's (else the event's) time zone, and the language.
fn localise(state: &State, value: &str) -> Result<(chrono::NaiveDateTime, String), Error> {
    // The guest's value, else the event's (read once each: a filter runs per date shown).
    let (guest, event) = (state.lookup("guest"), state.lookup("event"));
    let pick = |attr: &str| -> Option<Value> {
        let from = |var: &Option<Value>| {
            var.as_ref()
                .and_then(|v| v.get_attr(attr).ok())
                .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
        };
        from(&guest).or_else(|| from(&event))
    };
    let tz: chrono_tz::Tz = pick("time_zone")
        .and_then(|t| t.as_str().and_then(|t| t.parse().ok()))
        .unwrap_or(chrono_tz::UTC);
    let locale = pick("locale")
        .and_then(|l| l.as_str().map(str::to_owned))
        .unwrap_or_else(|| "en".to_owned());
    let at = dates::parse_value(value, tz).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("'{value}' is not a date or date-time"),
        )
    })?;
    Ok((at, locale))
}

fn issue(field: &str, e: &Error) -> SyntaxIssue {
    SyntaxIssue {
        field: field.to_owned(),
        message: e
            .detail()
            .map(str::to_owned)
            .unwrap_or_else(|| e.kind().to_string()),
        line: e.line().unwrap_or(1),
        column: None,
    }
}

impl<'s> CompiledTemplate<'s> {
    pub fn new(channel: Channel, content: &'s TemplateContent) -> Result<Self, Vec<SyntaxIssue>> {
        let mut env = environment();
        let mut parts = Vec::new();
        let mut issues = Vec::new();
        for (name, part) in [
            ("subject", &content.subject),
            ("html", &content.html),
            ("text", &content.text),
        ] {
            if let Some(source) = part {
                if let Err(e) = policy::lint(name, source) {
                    issues.push(e);
                    continue;
                }
                match env.add_template(name, source) {
                    Ok(()) => parts.push(name),
                    Err(e) => issues.push(issue(name, &e)),
                }
            }
        }
        if issues.is_empty() {
            Ok(Self {
                env,
                channel,
                parts,
            })
        } else {
            Err(issues)
        }
    }

    /// Renders every part with `context`, then appends the compliance blocks.
    pub fn render(
        &self,
        context: &RenderContext,
        compliance: &[ComplianceBlock],
    ) -> Result<RenderedMessage, Vec<SyntaxIssue>> {
        let ctx = minijinja::Value::from(minijinja::value::Serde(context));
        let mut out = RenderedMessage::default();
        let mut issues = Vec::new();
        for name in &self.parts {
            let mut writer = BoundedWriter {
                buf: Vec::with_capacity(4096),
                exceeded: false,
            };
            let result = self
                .env
                .get_template(name)
                .and_then(|t| t.render_captured_to(&ctx, &mut writer).map(|_| ()));
            let rendered = match (result, writer.exceeded) {
                (_, true) => Err(too_large()),
                (Ok(()), false) => String::from_utf8(writer.buf).map_err(|_| {
                    Error::new(ErrorKind::InvalidOperation, "the output is not UTF-8")
                }),
                (Err(e), false) => Err(e),
            };
            let slot = match *name {
                "subject" => &mut out.subject,
                "html" => &mut out.html,
                _ => &mut out.text,
            };
            match rendered {
                Ok(s) => *slot = Some(s),
                Err(e) => issues.push(issue(name, &e)),
            }
        }
        if !issues.is_empty() {
            return Err(issues);
        }
        append_compliance(self.channel, &mut out, compliance);
        if self.channel == Channel::Sms {
            out.sms = out.text.as_deref().map(count_segments);
        }
        Ok(out)
    }
}

/// Compiles and renders in one go.
pub fn render_message(
    channel: Channel,
    content: &TemplateContent,
    context: &RenderContext,
    compliance: &[ComplianceBlock],
) -> Result<RenderedMessage, Vec<SyntaxIssue>> {
    CompiledTemplate::new(channel, content)?.render(context, compliance)
}

fn append_compliance(channel: Channel, out: &mut RenderedMessage, blocks: &[ComplianceBlock]) {
    let mut blocks: Vec<&ComplianceBlock> = blocks.iter().collect();
    blocks.sort_by_key(|b| b.name);
    match channel {
        Channel::Email => {
            if let Some(html) = &mut out.html {
                let footer: String = blocks
                    .iter()
                    .map(|b| match &b.html {
                        Some(h) => format!("<div class=\"herald-{}\">{h}</div>", b.name.as_str()),
                        None => format!(
                            "<p class=\"herald-{}\">{}</p>",
                            b.name.as_str(),
                            escape_html(&b.text)
                        ),
                    })
                    .collect();
                let at = html
                    .to_ascii_lowercase()
                    .rfind("</body>")
                    .unwrap_or(html.len());
                html.insert_str(at, &footer);
            }
            if let Some(text) = &mut out.text {
                for b in &blocks {
                    text.push_str("\n\n");
                    text.push_str(&b.text);
                }
            }
        }
        Channel::Sms | Channel::Whatsapp => {
            if let (Some(text), Some(b)) = (
                &mut out.text,
                blocks
                    .iter()
                    .find(|b| b.name == ComplianceBlockName::OptOutText),
            ) {
                text.push('\n');
                text.push_str(&b.text);
            }
        }
    }
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
