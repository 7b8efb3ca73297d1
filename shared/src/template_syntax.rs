//! Template syntax checking with minijinja: a syntax error is reported with its line and column.

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
        }
    }
    if fields.is_empty() && syntax.is_empty() {
        Ok(())
    } else {
        Err((fields, syntax))
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
    fn channels_need_their_parts() {
        let (fields, _) = check_template(Channel::Sms, &email("x", "y")).unwrap_err();
        let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["text", "subject", "html"]);
    }
}
