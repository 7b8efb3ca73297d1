//! Inbound email: SES receiving's notification (an S3 action with an SNS topic: the raw
//! message is in the bucket, the notification says where, with SES's verdicts), and the raw
//! RFC 5322 message, parsed with `mail-parser` (MIME structure, transfer encodings, charsets;
//! an HTML-only reply becomes text).

use chrono::{DateTime, Utc};
use mail_parser::{MessageParser, MimeHeaders as _};
use serde::Deserialize;

use super::{Attachment, Unusable};

/// SES's verdict on a received mail (`PASS`, `FAIL`, `GRAY`, `PROCESSING_FAILED`,
/// `DISABLED`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Verdict {
    pub status: String,
}

impl Verdict {
    pub fn failed(&self) -> bool {
        self.status == "FAIL"
    }
}

/// What SES's `Received` notification says about a mail stored by an S3 action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// SES's id of the received mail (the S3 object's key unless a prefix is set).
    pub ses_id: String,
    pub at: DateTime<Utc>,
    /// The envelope recipients the rule matched.
    pub recipients: Vec<String>,
    pub spam: bool,
    pub virus: bool,
    pub bucket: String,
    pub key: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notification {
    notification_type: String,
    mail: Mail,
    receipt: ReceiptJson,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Mail {
    message_id: String,
    timestamp: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReceiptJson {
    #[serde(default)]
    recipients: Vec<String>,
    spam_verdict: Option<Verdict>,
    virus_verdict: Option<Verdict>,
    action: Action,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Action {
    #[serde(rename = "type")]
    kind: String,
    bucket_name: Option<String>,
    object_key: Option<String>,
}

/// Reads SES's notification (already out of its SNS envelope).
pub fn parse_receipt(json: &serde_json::Value) -> Result<Receipt, Unusable> {
    let n: Notification = serde_json::from_value(json.clone())
        .map_err(|e| Unusable::Malformed(format!("SES receipt notification: {e}")))?;
    if n.notification_type != "Received" {
        return Err(Unusable::Ignored(format!(
            "SES {} notification",
            n.notification_type
        )));
    }
    let (Some(bucket), Some(key)) = (n.receipt.action.bucket_name, n.receipt.action.object_key)
    else {
        return Err(Unusable::Malformed(format!(
            "SES receipt with a {} action and no S3 object",
            n.receipt.action.kind
        )));
    };
    Ok(Receipt {
        ses_id: n.mail.message_id,
        at: n.mail.timestamp,
        recipients: n.receipt.recipients,
        spam: n.receipt.spam_verdict.is_some_and(|v| v.failed()),
        virus: n.receipt.virus_verdict.is_some_and(|v| v.failed()),
        bucket,
        key,
    })
}

/// A parsed mail: what a thread needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail822 {
    /// The sender's address, lower case.
    pub from: String,
    pub to: Vec<String>,
    pub subject: Option<String>,
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    /// The whole text (the text part, or the HTML part made text).
    pub text: String,
    /// True when the mail had no text part (its HTML was made text).
    pub html_only: bool,
    pub attachments: Vec<Attachment>,
    /// The attachments' bytes, in the same order.
    pub contents: Vec<Vec<u8>>,
    /// Why the mail is automatic (RFC 3834 `Auto-Submitted`, a bounce, an out-of-office), if
    /// it is: nothing answers it automatically.
    pub automatic: Option<&'static str>,
}

/// The longest text a thread keeps of one mail (the raw mail stays in S3).
pub const MAX_TEXT: usize = 64 * 1024;
/// The longest subject kept (RFC 5322's line limit), and the most attachments listed: a
/// thread message stays far under DynamoDB's 400 KB whatever the mail.
pub const MAX_SUBJECT: usize = 998;
pub const MAX_ATTACHMENTS: usize = 100;

/// Whether `t` is a media type as RFC 2045 writes it (`type/subtype`, token characters only):
/// anything else is stored and served as `application/octet-stream`.
fn media_type(t: &str) -> bool {
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 127
            && s.bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
    };
    t.split_once('/')
        .is_some_and(|(kind, sub)| token(kind) && token(sub))
}

/// Parses a raw RFC 5322 message. Malformed MIME still yields what could be read; a message
/// without a sender's address is refused (nobody to thread it to).
pub fn parse_mail(raw: &[u8]) -> Result<Mail822, Unusable> {
    let message = MessageParser::default()
        .parse(raw)
        .ok_or_else(|| Unusable::Malformed("not an RFC 5322 message".into()))?;
    let addresses = |a: Option<&mail_parser::Address<'_>>| -> Vec<String> {
        a.map(|a| {
            a.iter()
                .filter_map(|addr| addr.address().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
    };
    let Some(from) = addresses(message.from()).into_iter().next() else {
        return Err(Unusable::Malformed("a mail without a From address".into()));
    };
    let from = from.to_lowercase();
    let html_only =
        message.html_body_count() > 0 && message.text_bodies().all(|p| p.is_text_html());
    let text = message
        .body_text(0)
        .map(|t| t.into_owned())
        .unwrap_or_default();
    let mut text = text.replace("\r\n", "\n");
    if text.len() > MAX_TEXT {
        let mut cut = MAX_TEXT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    let attachments: Vec<(Attachment, Vec<u8>)> = message
        .attachments()
        .take(MAX_ATTACHMENTS)
        .enumerate()
        .map(|(i, part)| {
            let attachment = Attachment {
                index: i as u32,
                name: part
                    .attachment_name()
                    .map(|n| n.chars().take(200).collect())
                    .unwrap_or_else(|| format!("attachment-{}", i + 1)),
                content_type: part
                    .content_type()
                    .map(|c| match c.subtype() {
                        Some(sub) => format!("{}/{}", c.ctype(), sub),
                        None => c.ctype().to_owned(),
                    })
                    .filter(|t| media_type(t))
                    .map(|t| t.to_ascii_lowercase())
                    .unwrap_or_else(|| "application/octet-stream".to_owned()),
                size: part.len() as u64,
                downloadable: false,
            };
            (attachment, part.contents().to_vec())
        })
        .collect();
    let (attachments, contents) = attachments.into_iter().unzip();
    let header = |name: &str| {
        message
            .header_raw(name)
            .map(|v| v.trim().to_ascii_lowercase())
    };
    let subject = message
        .subject()
        .map(|s| s.chars().take(MAX_SUBJECT).collect::<String>());
    let automatic = automatic(
        header("Auto-Submitted").as_deref(),
        header("Precedence").as_deref(),
        header("X-Autoreply").is_some() || header("X-Autorespond").is_some(),
        message.return_address().is_none() && header("Return-Path").as_deref() == Some("<>"),
        &from,
        message.content_type().is_some_and(|c| {
            c.subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        }),
        subject.as_deref(),
    );
    Ok(Mail822 {
        from,
        to: addresses(message.to()),
        subject,
        message_id: message.message_id().map(str::to_owned),
        in_reply_to: message
            .in_reply_to()
            .as_text_list()
            .map(|l| l.iter().map(|s| s.to_string()).collect())
            .or_else(|| message.in_reply_to().as_text().map(|s| vec![s.to_owned()]))
            .unwrap_or_default(),
        text,
        html_only,
        attachments,
        contents,
        automatic,
    })
}

/// Why a mail is automatic, if it is (RFC 3834 and the usual signs of bounces and
/// out-of-office replies).
fn automatic(
    auto_submitted: Option<&str>,
    precedence: Option<&str>,
    autoreply_header: bool,
    null_return_path: bool,
    from: &str,
    report: bool,
    subject: Option<&str>,
) -> Option<&'static str> {
    if auto_submitted.is_some_and(|v| v != "no") {
        return Some("auto-submitted");
    }
    if report || null_return_path {
        return Some("bounce");
    }
    let local = from.split('@').next().unwrap_or_default();
    if local == "mailer-daemon"
        || local == "postmaster"
        || local.starts_with("no-reply")
        || local.starts_with("noreply")
    {
        return Some("bounce");
    }
    if autoreply_header
        || precedence.is_some_and(|p| matches!(p, "bulk" | "junk" | "list" | "auto_reply"))
    {
        return Some("auto-reply");
    }
    let subject = subject.unwrap_or_default().to_lowercase();
    if [
        "out of office",
        "automatic reply",
        "auto-reply",
        "autoreply",
        "absence",
        "abwesenheit",
        "réponse automatique",
    ]
    .iter()
    .any(|s| subject.contains(s))
    {
        return Some("out-of-office");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPLY: &str = "From: Anna <anna@example.com>\r\nTo: abc@reply.example.org\r\nSubject: Re: Gala\r\nMessage-ID: <m1@example.com>\r\nIn-Reply-To: <0100@email.amazonses.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nOui, nous serons l=E0.\r\n\r\nOn Tue, Herald wrote:\r\n> Invitation\r\n--b\r\nContent-Type: application/pdf; name=\"menu.pdf\"\r\nContent-Disposition: attachment; filename=\"menu.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n";

    #[test]
    fn a_multipart_reply_in_latin_1_with_an_attachment() {
        let mail = parse_mail(REPLY.as_bytes()).unwrap();
        assert_eq!(mail.from, "anna@example.com");
        assert_eq!(mail.subject.as_deref(), Some("Re: Gala"));
        assert_eq!(mail.in_reply_to, ["0100@email.amazonses.com"]);
        assert!(
            mail.text.starts_with("Oui, nous serons là."),
            "{}",
            mail.text
        );
        assert!(!mail.html_only);
        assert_eq!(mail.automatic, None);
        assert_eq!(mail.attachments.len(), 1);
        assert_eq!(mail.attachments[0].name, "menu.pdf");
        assert_eq!(mail.attachments[0].content_type, "application/pdf");
        assert_eq!(mail.attachments[0].size, 9);
        assert_eq!(mail.contents, [b"%PDF-1.4\n".to_vec()]);
    }

    #[test]
    fn an_attachment_type_that_is_not_a_media_type_is_served_as_bytes() {
        let odd = REPLY.replace("application/pdf", "Image/PNG").into_bytes();
        assert_eq!(
            parse_mail(&odd).unwrap().attachments[0].content_type,
            "image/png"
        );
        for bad in ["image/pn\u{121}", "image/png\u{7f}", "text", "a/b c"] {
            let raw = REPLY.replace("application/pdf", bad).into_bytes();
            let mail = parse_mail(&raw).unwrap();
            assert_eq!(
                mail.attachments.first().map(|a| a.content_type.as_str()),
                Some("application/octet-stream"),
                "{bad}"
            );
        }
    }

    #[test]
    fn html_only_unknown_charsets_and_automatic_mail() {
        let html = "From: b@example.com\r\nSubject: Hi\r\nContent-Type: text/html; charset=x-unknown-charset\r\n\r\n<p>Can I <b>bring</b> a friend?</p>";
        let mail = parse_mail(html.as_bytes()).unwrap();
        assert!(mail.html_only);
        assert!(mail.text.contains("Can I bring a friend?"), "{}", mail.text);
        let auto = "From: c@example.com\r\nAuto-Submitted: auto-replied\r\nSubject: Re: Gala\r\n\r\nI am away";
        assert_eq!(
            parse_mail(auto.as_bytes()).unwrap().automatic,
            Some("auto-submitted")
        );
        let ooo = "From: c@example.com\r\nSubject: Out of Office: Gala\r\n\r\nI am away";
        assert_eq!(
            parse_mail(ooo.as_bytes()).unwrap().automatic,
            Some("out-of-office")
        );
        let bounce = "From: MAILER-DAEMON@example.com\r\nSubject: Undelivered\r\n\r\nx";
        assert_eq!(
            parse_mail(bounce.as_bytes()).unwrap().automatic,
            Some("bounce")
        );
        let human = "From: c@example.com\r\nAuto-Submitted: no\r\nSubject: Re: Gala\r\n\r\nThanks";
        assert_eq!(parse_mail(human.as_bytes()).unwrap().automatic, None);
    }

    #[test]
    fn malformed_mime_still_reads_and_garbage_is_refused() {
        let broken = "From: d@example.com\r\nContent-Type: multipart/mixed; boundary=\"never\"\r\n\r\nno boundary here at all";
        let mail = parse_mail(broken.as_bytes()).unwrap();
        assert_eq!(mail.from, "d@example.com");
        assert!(parse_mail(b"").is_err());
        assert!(parse_mail(&[0xff, 0xfe, 0x00]).is_err());
    }

    #[test]
    fn ses_receipt_notifications() {
        let n = serde_json::json!({
            "notificationType": "Received",
            "mail": {"timestamp": "2026-12-06T10:00:00.000Z", "source": "a@example.com", "messageId": "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1", "destination": ["x@reply.example.org"], "headersTruncated": false, "headers": [], "commonHeaders": {}},
            "receipt": {"timestamp": "2026-12-06T10:00:00.000Z", "processingTimeMillis": 222, "recipients": ["x@reply.example.org"],
                "spamVerdict": {"status": "FAIL"}, "virusVerdict": {"status": "PASS"}, "spfVerdict": {"status": "PASS"}, "dkimVerdict": {"status": "GRAY"}, "dmarcVerdict": {"status": "PASS"},
                "action": {"type": "S3", "topicArn": "arn:aws:sns:us-east-1:123456789012:t", "bucketName": "inbound", "objectKeyPrefix": "mail", "objectKey": "mail/o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1"}}
        });
        let r = parse_receipt(&n).unwrap();
        assert!(r.spam && !r.virus);
        assert_eq!(r.key, "mail/o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1");
        let mut lambda = n.clone();
        lambda["receipt"]["action"] = serde_json::json!({"type": "Lambda", "functionArn": "x"});
        assert!(matches!(
            parse_receipt(&lambda),
            Err(Unusable::Malformed(_))
        ));
    }
}
