//! The inbound simulator: moto cannot receive mail or two-way SMS, so the local stack delivers
//! them as AWS would, through the template's own resources.
//!
//! - Mail: the raw RFC 5322 message is put in the inbound bucket under `mail/{SES id}` (the
//!   receipt rule's S3 action, prefix `mail/`) and SES's `Received` notification is published
//!   to the inbound mail topic, shaped as AWS documents it (`notificationType`, `mail` with its
//!   headers and common headers, `receipt` with the recipients the rule matched, the spam,
//!   virus, SPF, DKIM and DMARC verdicts, and the S3 action naming bucket and key).
//! - SMS: End User Messaging's two-way payload (`originationNumber`, `destinationNumber`,
//!   `messageKeyword`, `messageBody`, `inboundMessageId`, `previousPublishedMessageId`) is
//!   published to the inbound SMS topic.
//!
//! HTTP, on the local stack only: `POST /_local/inbound/email` (the raw mail as the body;
//! `?to=` repeated for the envelope recipients, else the mail's `To`; `?spam=FAIL`,
//! `?virus=FAIL` for SES's verdicts) and `POST /_local/inbound/sms` (JSON `from`, `to`,
//! `body`, optional `previous_published_message_id`). Both answer 202 with the id AWS would
//! have given.

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::template::Physical;

/// Delivers simulated inbound mail and SMS to one stack's resources.
#[derive(Debug, Clone)]
pub struct InboundSimulator {
    s3: aws_sdk_s3::Client,
    sns: aws_sdk_sns::Client,
    bucket: String,
    mail_topic: String,
    sms_topic: String,
}

/// SES's verdicts on a simulated mail.
#[derive(Debug, Clone, Copy, Default)]
pub struct Verdicts {
    pub spam: bool,
    pub virus: bool,
}

impl InboundSimulator {
    pub fn new(physical: &Physical, sdk: &aws_config::SdkConfig) -> anyhow::Result<Self> {
        Ok(Self {
            s3: herald::aws::s3_client(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            bucket: physical.get_ref("InboundMailBucket")?.to_owned(),
            mail_topic: physical.get_ref("InboundMailTopic")?.to_owned(),
            sms_topic: physical.get_ref("InboundSmsTopic")?.to_owned(),
        })
    }

    /// Receives `raw` for `recipients` as SES would; SES's message id.
    pub async fn mail(
        &self,
        raw: &[u8],
        recipients: &[String],
        verdicts: Verdicts,
    ) -> anyhow::Result<String> {
        let ses_id = ulid::Ulid::generate().to_string().to_lowercase();
        let key = format!("mail/{ses_id}");
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .body(raw.to_vec().into())
            .send()
            .await
            .context("S3 PutObject of the mail")?;
        let notification = self.notification(raw, recipients, verdicts, &ses_id, &key);
        self.sns
            .publish()
            .topic_arn(&self.mail_topic)
            .message(notification.to_string())
            .send()
            .await
            .context("SNS Publish of the receipt")?;
        Ok(ses_id)
    }

    fn notification(
        &self,
        raw: &[u8],
        recipients: &[String],
        verdicts: Verdicts,
        ses_id: &str,
        key: &str,
    ) -> Value {
        let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
        let parsed = mail_parser::MessageParser::default().parse(raw);
        let header = |name: &str| -> Option<String> {
            parsed
                .as_ref()
                .and_then(|m| m.header_raw(name))
                .map(|v| v.trim().to_owned())
        };
        let headers: Vec<Value> = parsed
            .as_ref()
            .map(|m| {
                m.headers_raw()
                    .map(|(n, v)| json!({"name": n, "value": v.trim()}))
                    .collect()
            })
            .unwrap_or_default();
        let from = header("From").unwrap_or_default();
        let source = parsed
            .as_ref()
            .and_then(|m| m.from())
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_owned();
        let verdict = |failed: bool| json!({"status": if failed { "FAIL" } else { "PASS" }});
        json!({
            "notificationType": "Received",
            "mail": {
                "timestamp": now,
                "source": source,
                "messageId": ses_id,
                "destination": recipients,
                "headersTruncated": false,
                "headers": headers,
                "commonHeaders": {
                    "returnPath": source,
                    "from": [from],
                    "date": header("Date").unwrap_or_default(),
                    "to": recipients,
                    "messageId": header("Message-ID").unwrap_or_default(),
                    "subject": header("Subject").unwrap_or_default(),
                },
            },
            "receipt": {
                "timestamp": now,
                "processingTimeMillis": 120,
                "recipients": recipients,
                "spamVerdict": verdict(verdicts.spam),
                "virusVerdict": verdict(verdicts.virus),
                "spfVerdict": {"status": "PASS"},
                "dkimVerdict": {"status": "PASS"},
                "dmarcVerdict": {"status": "PASS"},
                "action": {
                    "type": "S3",
                    "topicArn": self.mail_topic,
                    "bucketName": self.bucket,
                    "objectKeyPrefix": "mail/",
                    "objectKey": key,
                },
            },
        })
    }

    /// Receives an SMS on `to` from `from` as End User Messaging would; its inbound id.
    pub async fn sms(
        &self,
        from: &str,
        to: &str,
        body: &str,
        previous: Option<&str>,
    ) -> anyhow::Result<String> {
        let id = ulid::Ulid::generate().to_string().to_lowercase();
        let keyword = body
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_uppercase();
        let payload = json!({
            "originationNumber": from,
            "destinationNumber": to,
            "messageKeyword": keyword,
            "messageBody": body,
            "previousPublishedMessageId": previous.unwrap_or_default(),
            "inboundMessageId": id,
        });
        self.sns
            .publish()
            .topic_arn(&self.sms_topic)
            .message(payload.to_string())
            .send()
            .await
            .context("SNS Publish of the SMS")?;
        Ok(id)
    }

    /// The simulator's HTTP routes.
    pub fn routes<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        Router::new()
            .route("/_local/inbound/email", post(mail_route))
            .route("/_local/inbound/sms", post(sms_route))
            .with_state(self)
    }
}

fn failed(e: anyhow::Error) -> Response {
    tracing::error!(error = ?e, "the inbound simulator failed");
    (StatusCode::BAD_GATEWAY, format!("{e:#}")).into_response()
}

async fn mail_route(
    State(sim): State<InboundSimulator>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let mut recipients = Vec::new();
    let mut verdicts = Verdicts::default();
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "to" => recipients.push(v.into_owned()),
            "spam" => verdicts.spam = v == "FAIL",
            "virus" => verdicts.virus = v == "FAIL",
            _ => {}
        }
    }
    if recipients.is_empty() {
        recipients = herald::inbound::email::parse_mail(&body)
            .map(|m| m.to)
            .unwrap_or_default();
    }
    if recipients.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            "no recipient: give ?to= or a To header",
        )
            .into_response();
    }
    match sim.mail(&body, &recipients, verdicts).await {
        Ok(id) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({"ses_message_id": id})),
        )
            .into_response(),
        Err(e) => failed(e),
    }
}

#[derive(Deserialize)]
struct SmsIn {
    from: String,
    to: String,
    body: String,
    #[serde(default)]
    previous_published_message_id: Option<String>,
}

async fn sms_route(
    State(sim): State<InboundSimulator>,
    axum::Json(m): axum::Json<SmsIn>,
) -> Response {
    match sim
        .sms(
            &m.from,
            &m.to,
            &m.body,
            m.previous_published_message_id.as_deref(),
        )
        .await
    {
        Ok(id) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({"inbound_message_id": id})),
        )
            .into_response(),
        Err(e) => failed(e),
    }
}
