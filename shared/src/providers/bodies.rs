//! The JSON bodies Herald sends to the HTTP email providers, as the providers' contracts type
//! them (see `infra/local/contracts/`).
//!
//! An optional field Herald has no value for is left out, never sent as `null`: SendGrid's and
//! Brevo's contracts type `name`, `subject`, `htmlContent`, `textContent` as strings, and they
//! refuse the whole send when one is `null`. Blank strings are left out too (SendGrid refuses
//! an empty content `value`; a blank display name says nothing).

use std::collections::BTreeMap;

use serde::Serialize;

use super::send::{From, Outgoing};

/// An address with an optional display name (SendGrid's and Brevo's shape alike).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mailbox<'a> {
    pub email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
}

impl<'a> Mailbox<'a> {
    fn from(from: &'a From) -> Self {
        Self {
            email: &from.address,
            name: present(from.name.as_deref()),
        }
    }

    fn to(address: &'a str) -> Self {
        Self {
            email: address,
            name: None,
        }
    }
}

/// `Some` only for a value with more than whitespace in it.
fn present(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.trim().is_empty())
}

fn headers(out: &Outgoing<'_>) -> BTreeMap<String, String> {
    out.headers.iter().cloned().collect()
}

/// Brevo `POST /v3/smtp/email`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BrevoEmail<'a> {
    pub sender: Mailbox<'a>,
    pub to: Vec<Mailbox<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_content: Option<&'a str>,
    /// Herald's per-message reply address, so a guest's reply reaches their conversation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Mailbox<'a>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

impl<'a> BrevoEmail<'a> {
    pub fn new(from: &'a From, out: &'a Outgoing<'a>) -> Self {
        let message = out.message;
        Self {
            sender: Mailbox::from(from),
            to: vec![Mailbox::to(out.to)],
            subject: present(message.subject.as_deref()),
            html_content: present(message.html.as_deref()),
            text_content: present(message.text.as_deref()),
            reply_to: present(out.reply_to.as_deref()).map(Mailbox::to),
            headers: headers(out),
        }
    }
}

/// SendGrid `POST /v3/mail/send`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SendgridMail<'a> {
    pub personalizations: Vec<Personalization<'a>>,
    pub from: Mailbox<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<&'a str>,
    pub content: Vec<SendgridContent<'a>>,
    /// Herald's per-message reply address (SendGrid reserves the `Reply-To` header for it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Mailbox<'a>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Personalization<'a> {
    pub to: Vec<Mailbox<'a>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SendgridContent<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: &'a str,
}

impl<'a> SendgridMail<'a> {
    pub fn new(from: &'a From, out: &'a Outgoing<'a>) -> Self {
        let message = out.message;
        // SendGrid wants text/plain before text/html when both are there.
        let content = [
            ("text/plain", message.text.as_deref()),
            ("text/html", message.html.as_deref()),
        ]
        .into_iter()
        .filter_map(|(kind, value)| {
            Some(SendgridContent {
                kind,
                value: present(value)?,
            })
        })
        .collect();
        Self {
            personalizations: vec![Personalization {
                to: vec![Mailbox::to(out.to)],
            }],
            from: Mailbox::from(from),
            subject: present(message.subject.as_deref()),
            content,
            reply_to: present(out.reply_to.as_deref()).map(Mailbox::to),
            headers: headers(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::render::RenderedMessage;

    fn outgoing(message: &RenderedMessage) -> Outgoing<'_> {
        Outgoing {
            to: "zoe@example.com",
            from: None,
            message,
            tags: Vec::new(),
            headers: Vec::new(),
            reply_to: None,
            configuration_set: None,
            tracking: None,
        }
    }

    fn nulls(value: &Value) -> bool {
        match value {
            Value::Null => true,
            Value::Array(items) => items.iter().any(nulls),
            Value::Object(fields) => fields.values().any(nulls),
            _ => false,
        }
    }

    #[test]
    fn absent_names_and_parts_are_left_out_not_null() {
        let from = From {
            address: "events@acme.example".into(),
            name: None,
        };
        let message = RenderedMessage {
            subject: Some("Hi".into()),
            html: Some("<p>Hi</p>".into()),
            ..RenderedMessage::default()
        };
        let out = outgoing(&message);
        let brevo = serde_json::to_value(BrevoEmail::new(&from, &out)).unwrap();
        assert!(!nulls(&brevo), "{brevo}");
        assert_eq!(brevo["sender"], json!({"email": "events@acme.example"}));
        assert!(brevo.get("textContent").is_none() && brevo.get("headers").is_none());
        let sendgrid = serde_json::to_value(SendgridMail::new(&from, &out)).unwrap();
        assert!(!nulls(&sendgrid), "{sendgrid}");
        assert_eq!(sendgrid["from"], json!({"email": "events@acme.example"}));
        assert_eq!(
            sendgrid["content"],
            json!([{"type": "text/html", "value": "<p>Hi</p>"}])
        );
    }

    #[test]
    fn names_text_first_and_headers_are_sent_when_there() {
        let from = From {
            address: "events@acme.example".into(),
            name: Some("Acme Events".into()),
        };
        let message = RenderedMessage {
            subject: Some("Hi".into()),
            html: Some("<p>Hi</p>".into()),
            text: Some("Hi".into()),
            ..RenderedMessage::default()
        };
        let mut out = outgoing(&message);
        out.headers = vec![("List-Unsubscribe".into(), "<https://x.example/u>".into())];
        out.reply_to = Some("token@reply.acme.example".into());
        let sendgrid = serde_json::to_value(SendgridMail::new(&from, &out)).unwrap();
        assert_eq!(
            sendgrid["reply_to"],
            json!({"email": "token@reply.acme.example"})
        );
        assert_eq!(sendgrid["from"]["name"], "Acme Events");
        assert_eq!(sendgrid["content"][0]["type"], "text/plain");
        assert_eq!(sendgrid["content"][1]["type"], "text/html");
        assert_eq!(
            sendgrid["headers"]["List-Unsubscribe"],
            "<https://x.example/u>"
        );
        let brevo = serde_json::to_value(BrevoEmail::new(&from, &out)).unwrap();
        assert_eq!(brevo["sender"]["name"], "Acme Events");
        assert_eq!(brevo["textContent"], "Hi");
        assert_eq!(
            brevo["replyTo"],
            json!({"email": "token@reply.acme.example"})
        );
    }
}
