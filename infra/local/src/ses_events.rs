//! SES's part in event publishing, played on the emulator: moto accepts mail but publishes no
//! events. An interceptor on the sender's SES client publishes, for every SendEmail the emulator
//! accepted, the Send and Delivery events SES would publish through Herald's configuration set
//! (the same shape: `eventType`, `mail` with its `messageId`, `timestamp`, `destination` and
//! `tags`, and the event's own section) to the configured SNS topic, and so through SQS to the
//! tracker. Tests add the other event types from fixtures.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct SesEventPublisher {
    sns: aws_sdk_sns::Client,
    topic_arn: String,
}

/// The SendEmail request body, kept from transmission to the answer.
#[derive(Debug, Clone)]
struct SentBody(Vec<u8>);

impl Storable for SentBody {
    type Storer = StoreReplace<Self>;
}

impl SesEventPublisher {
    pub fn new(sns: aws_sdk_sns::Client, topic_arn: String) -> Self {
        Self { sns, topic_arn }
    }

    fn is_send_email(cfg: &ConfigBag) -> bool {
        cfg.load::<Metadata>()
            .is_some_and(|m| m.name() == "SendEmail")
    }
}

/// The Send event SES publishes for an accepted SendEmail request.
pub fn send_event(
    request: &Value,
    ses_message_id: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Value {
    let mut tags = serde_json::Map::new();
    if let Some(set) = request["ConfigurationSetName"].as_str() {
        tags.insert("ses:configuration-set".into(), json!([set]));
    }
    for tag in request["EmailTags"].as_array().into_iter().flatten() {
        if let (Some(name), Some(value)) = (tag["Name"].as_str(), tag["Value"].as_str()) {
            tags.insert(name.to_owned(), json!([value]));
        }
    }
    json!({
        "eventType": "Send",
        "mail": {
            "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "source": request["FromEmailAddress"],
            "sendingAccountId": "123456789012",
            "messageId": ses_message_id,
            "destination": request["Destination"]["ToAddresses"],
            "headersTruncated": false,
            "tags": tags,
        },
        "send": {},
    })
}

/// The Delivery event SES publishes when the recipient's mail server accepted the message.
pub fn delivery_event(send: &Value, at: chrono::DateTime<chrono::Utc>) -> Value {
    json!({
        "eventType": "Delivery",
        "mail": send["mail"],
        "delivery": {
            "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "processingTimeMillis": 120,
            "recipients": send["mail"]["destination"],
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
        },
    })
}

impl Intercept for SesEventPublisher {
    fn name(&self) -> &'static str {
        "SesEventPublisher"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if Self::is_send_email(cfg)
            && let Some(bytes) = context.request().body().bytes()
        {
            cfg.interceptor_state().store_put(SentBody(bytes.to_vec()));
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !Self::is_send_email(cfg) {
            return Ok(());
        }
        let Ok(output) = context.output_or_error() else {
            return Ok(());
        };
        let Some(output) =
            output.downcast_ref::<aws_sdk_sesv2::operation::send_email::SendEmailOutput>()
        else {
            return Ok(());
        };
        let (Some(id), Some(body)) = (output.message_id(), cfg.load::<SentBody>()) else {
            return Ok(());
        };
        let request: Value = serde_json::from_slice(&body.0).unwrap_or_default();
        let now = chrono::Utc::now();
        let send = send_event(&request, id, now);
        let delivery = delivery_event(&send, now + chrono::Duration::milliseconds(120));
        let (sns, topic) = (self.sns.clone(), self.topic_arn.clone());
        tokio::spawn(async move {
            for event in [send, delivery] {
                if let Err(e) = sns
                    .publish()
                    .topic_arn(&topic)
                    .message(event.to_string())
                    .send()
                    .await
                {
                    tracing::warn!(error = %aws_sdk_sns::error::DisplayErrorContext(&e), "publishing a local SES event failed");
                }
            }
        });
        Ok(())
    }
}
