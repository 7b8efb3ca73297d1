//! Template checking at save time: sizes, syntax (with line and column), Herald's template
//! policy ([`crate::render::policy`]), variables that do not exist, and a trial render with
//! sample data that must finish within the fuel and recursion limits.

use serde::Serialize;
use utoipa::ToSchema;

use crate::config::TemplateContent;
use crate::domain::Channel;
use crate::providers::FieldIssue;

/// A syntax error in one part of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SyntaxIssue {
    /// `subject`, `html` or `text`.
    pub field: String,
    pub message: String,
    pub line: usize,
    /// 1-based column of the start of the offending token, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

/// The largest template part Herald accepts, in bytes: three parts stay well under
/// DynamoDB's 400 KB item limit.
pub const MAX_PART_BYTES: usize = 100 * 1024;

/// Checks which parts a channel needs, their sizes, and that each part compiles.
pub fn check_template(
    channel: Channel,
    content: &TemplateContent,
) -> Result<(), (Vec<FieldIssue>, Vec<SyntaxIssue>)> {
    let mut fields = Vec::new();
    match channel {
        Channel::Email => {
            if content
                .subject
                .as_deref()
                .is_none_or(|s| s.trim().is_empty())
            {
                fields.push(FieldIssue::new(
                    "subject",
                    "an email template needs a subject",
                ));
            }
            if content.html.is_none() && content.text.is_none() {
                fields.push(FieldIssue::new(
                    "html",
                    "an email template needs an html or a text body",
                ));
            }
        }
        Channel::Sms | Channel::Whatsapp => {
            if content.text.as_deref().is_none_or(|s| s.trim().is_empty()) {
                fields.push(FieldIssue::new(
                    "text",
                    format!("a {channel} template needs a text body"),
                ));
            }
            for (name, part) in [("subject", &content.subject), ("html", &content.html)] {
                if part.is_some() {
                    fields.push(FieldIssue::new(
                        name,
                        format!("a {channel} template has no {name}"),
                    ));
                }
            }
        }
    }
    let mut syntax = Vec::new();
    for (name, part) in [
        ("subject", &content.subject),
        ("html", &content.html),
        ("text", &content.text),
    ] {
        let Some(source) = part else { continue };
        if source.len() > MAX_PART_BYTES {
            fields.push(FieldIssue::new(
                name,
                format!("is larger than {} KiB", MAX_PART_BYTES / 1024),
            ));
            continue;
        }
        if let Err(e) = compile(name, source) {
            syntax.push(e);
            continue;
        }
        if let Err(e) = crate::render::policy::lint(name, source) {
            syntax.push(e);
            continue;
        }
        syntax.extend(unknown_variables(name, source));
    }
    if fields.is_empty() && syntax.is_empty() {
        syntax.extend(trial_render(channel, content));
    }
    if fields.is_empty() && syntax.is_empty() {
        Ok(())
    } else {
        Err((fields, syntax))
    }
}

/// The attributes of each variable a template may use; `None`: any attribute (custom fields).
const VARIABLES: &[(&str, Option<&[&str]>)] = &[
    (
        "guest",
        Some(&[
            "first_name",
            "last_name",
            "name",
            "email",
            "phone",
            "locale",
            "time_zone",
            "tags",
            "fields",
            "rsvp",
        ]),
    ),
    (
        "event",
        Some(&[
            "name",
            "starts_at",
            "ends_at",
            "time_zone",
            "locale",
            "venue",
            "schedule",
        ]),
    ),
    ("tenant", Some(&["name"])),
    (
        "brand",
        Some(&[
            "logo_url",
            "primary_color",
            "secondary_color",
            "sender_name",
            "footer",
        ]),
    ),
    ("links", Some(&["unsubscribe", "preferences", "rsvp"])),
];

/// Variables the template reads that Herald never provides (`guest.nickname`, `evnt.name`).
fn unknown_variables(name: &str, source: &str) -> Vec<SyntaxIssue> {
    let env = minijinja::Environment::new();
    let Ok(template) = env.template_from_named_str(name, source) else {
        return Vec::new();
    };
    let mut used: Vec<String> = template.undeclared_variables(true).into_iter().collect();
    used.sort();
    used.into_iter()
        .filter(|path| {
            let mut parts = path.split('.');
            let root = parts.next().unwrap_or_default();
            if crate::render::policy::FUNCTIONS.contains(&root) {
                return false;
            }
            match VARIABLES.iter().find(|(r, _)| *r == root) {
                None => true,
                Some((_, None)) => false,
                Some((_, Some(attributes))) => parts
                    .next()
                    .is_some_and(|attribute| !attributes.contains(&attribute)),
            }
        })
        .map(|path| {
            let needle = path.split('.').next().unwrap_or_default();
            let offset = source
                .find(path.as_str())
                .or_else(|| source.find(needle))
                .unwrap_or(0);
            let before = &source[..offset];
            let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
            SyntaxIssue {
                field: name.to_owned(),
                message: format!(
                    "unknown variable '{path}'; templates see guest, event, tenant, brand and links"
                ),
                line: before.matches('\n').count() + 1,
                column: Some(before[line_start..].chars().count() + 1),
            }
        })
        .collect()
}

/// Renders with sample data; reports only what no data could fix: running out of fuel (a
/// loop that does not end), the recursion limit, or output over the size limit.
fn trial_render(channel: Channel, content: &TemplateContent) -> Vec<SyntaxIssue> {
    let compiled = match crate::render::CompiledTemplate::new(channel, content) {
        Ok(c) => c,
        Err(issues) => return issues,
    };
    match compiled.render(&crate::render::RenderContext::sample(), &[]) {
        Ok(_) => Vec::new(),
        Err(issues) => issues
            .into_iter()
            .filter(|i| {
                i.message.contains("fuel")
                    || i.message.contains("recursion")
                    || i.message.contains("larger than")
                    || i.message.contains("range()")
            })
            .collect(),
    }
}

fn compile(name: &str, source: &str) -> Result<(), SyntaxIssue> {
    let env = minijinja::Environment::new();
    env.template_from_named_str(name, source)
        .map(|_| ())
        .map_err(|e| {
            let line = e.line().unwrap_or(1);
            let column = e.range().map(|range| {
                let before = &source[..range.start.min(source.len())];
                let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
                before[line_start..].chars().count() + 1
            });
            SyntaxIssue {
                field: name.to_owned(),
                message: e.detail().unwrap_or("syntax error").to_owned(),
                line,
                column,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(subject: &str, html: &str) -> TemplateContent {
        TemplateContent {
            subject: Some(subject.into()),
            html: Some(html.into()),
            text: None,
        }
    }

    #[test]
    fn good_templates_pass() {
        assert!(
            check_template(
                Channel::Email,
                &email("Hi {{ guest.first_name }}", "<p>{{ event.name }}</p>")
            )
            .is_ok()
        );
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let (_, syntax) =
            check_template(Channel::Email, &email("ok", "<p>\n  {{ guest.name }\n</p>"))
                .unwrap_err();
        assert_eq!(syntax.len(), 1);
        assert_eq!(syntax[0].field, "html");
        assert_eq!(syntax[0].line, 2);
        assert!(syntax[0].column.is_some());
    }

    #[test]
    fn unknown_variables_loops_and_growth_are_refused() {
        let refused = |html: &str| -> String {
            let (_, syntax) = check_template(Channel::Email, &email("Hi", html)).unwrap_err();
            syntax
                .iter()
                .map(|s| s.message.clone())
                .collect::<Vec<_>>()
                .join("; ")
        };
        assert!(refused("{{ guest.nickname }}").contains("unknown variable 'guest.nickname'"));
        assert!(refused("{{ evnt.name }}").contains("unknown variable 'evnt.name'"));
        assert!(refused("{% for i in range(1000) %}{% for j in range(1000) %}{{ j }}{% endfor %}{% endfor %}").contains("fuel"));
        assert!(refused("{% for i in range(5000) %}{% endfor %}").contains("range()"));
        assert!(refused("{{ 'x' * 5 }}").contains("not supported"));
        let ok = email(
            "Hi {{ guest.first_name }}",
            "{{ guest.fields.dietary }} {% for s in event.schedule %}{{ s.title }}{% endfor %}",
        );
        assert!(check_template(Channel::Email, &ok).is_ok());
    }

    #[test]
    fn channels_need_their_parts() {
        let (fields, _) = check_template(Channel::Sms, &email("x", "y")).unwrap_err();
        let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["text", "subject", "html"]);
    }
}
