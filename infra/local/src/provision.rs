//! Creates what `template.yaml` declares on the emulator, under a name prefix, and returns the
//! physical names for `!Ref` / `!GetAtt`.

use anyhow::Context as _;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use aws_sdk_sqs::types::QueueAttributeName;

use crate::template::{Physical, TableSpec, Template};

/// Template parameters the local stack sets instead of their defaults. moto has no SES
/// GetAccount, so no SES account rate is held to locally ("0"); send rates are exercised
/// through providers' own `send_rate`.
pub const LOCAL_PARAMETERS: &[(&str, &str)] = &[
    ("SesMaxSendRate", "0"),
    // Replies are addressed to this domain (RFC 2606's `.test`: nothing real receives there);
    // the inbound simulator delivers them as SES would.
    ("InboundDomain", INBOUND_DOMAIN),
];

/// The local stack's inbound domain.
pub const INBOUND_DOMAIN: &str = "reply.herald.test";

/// Creates every table, queue and KMS key of the template; names start with `prefix`.
pub async fn provision(
    template: &Template,
    sdk: &aws_config::SdkConfig,
    prefix: &str,
) -> anyhow::Result<Physical> {
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let kms = aws_sdk_kms::Client::new(sdk);
    let mut physical = Physical::default();
    for (name, value) in template.parameters(LOCAL_PARAMETERS)? {
        physical.refs.insert(name, value);
    }
    for table in template.tables()? {
        let name = format!("{prefix}-{}", table.logical_id);
        create_table(&dynamo, &name, &table).await?;
        physical.attributes.insert(
            format!("{}.Arn", table.logical_id),
            format!("arn:aws:dynamodb:us-east-1:000000000000:table/{name}"),
        );
        physical.refs.insert(table.logical_id.clone(), name);
    }
    let sqs = aws_sdk_sqs::Client::new(sdk);
    for queue in template.queues()? {
        let name = format!("{prefix}-{}", queue.logical_id);
        let mut request = sqs.create_queue().queue_name(&name);
        for (attribute, value) in &queue.attributes {
            request = request.attributes(QueueAttributeName::from(attribute.as_str()), value);
        }
        if let Some((dlq, max)) = &queue.redrive {
            let target = physical
                .attributes
                .get(&format!("{dlq}.Arn"))
                .with_context(|| {
                    format!(
                        "{} names an unknown dead-letter queue {dlq}",
                        queue.logical_id
                    )
                })?;
            request = request.attributes(
                QueueAttributeName::RedrivePolicy,
                serde_json::json!({"deadLetterTargetArn": target, "maxReceiveCount": max})
                    .to_string(),
            );
        }
        let url = request
            .send()
            .await
            .with_context(|| format!("creating queue {name}"))?
            .queue_url
            .context("CreateQueue returned no URL")?;
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .with_context(|| format!("reading the ARN of {name}"))?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .context("GetQueueAttributes returned no QueueArn")?;
        physical
            .attributes
            .insert(format!("{}.Arn", queue.logical_id), arn);
        physical
            .attributes
            .insert(format!("{}.QueueName", queue.logical_id), name);
        physical.refs.insert(queue.logical_id.clone(), url);
    }
    let sns = aws_sdk_sns::Client::new(sdk);
    for topic in template.logical_ids_of("AWS::SNS::Topic") {
        let arn = sns
            .create_topic()
            .name(format!("{prefix}-{topic}"))
            .send()
            .await
            .with_context(|| format!("creating topic {topic}"))?
            .topic_arn
            .context("CreateTopic returned no ARN")?;
        physical.refs.insert(topic, arn);
    }
    for subscription in template.subscriptions()? {
        let topic = physical.get_ref(&subscription.topic)?.to_owned();
        let endpoint = physical
            .attributes
            .get(&format!("{}.Arn", subscription.endpoint))
            .cloned()
            .with_context(|| format!("no ARN for {}", subscription.endpoint))?;
        let mut request = sns
            .subscribe()
            .topic_arn(topic)
            .protocol(&subscription.protocol)
            .endpoint(endpoint);
        if subscription.raw {
            request = request.attributes("RawMessageDelivery", "true");
        }
        request
            .send()
            .await
            .with_context(|| format!("subscribing {}", subscription.endpoint))?;
    }
    // Buckets (the inbound mail): names are lower case in S3.
    let s3 = herald::aws::s3_client(sdk);
    for bucket in template.logical_ids_of("AWS::S3::Bucket") {
        let name = format!("{prefix}-{bucket}").to_lowercase();
        s3.create_bucket()
            .bucket(&name)
            .send()
            .await
            .with_context(|| format!("creating bucket {bucket}"))?;
        physical
            .attributes
            .insert(format!("{bucket}.Arn"), format!("arn:aws:s3:::{name}"));
        physical.refs.insert(bucket, name);
    }
    // SES publishes no events on the emulator: the local stack publishes the sender's Send
    // events itself (see `ses_events`), so the configuration set is only a name here.
    let ses = aws_sdk_sesv2::Client::new(sdk);
    for set in template.logical_ids_of("AWS::SES::ConfigurationSet") {
        let name = format!("{prefix}-{set}");
        ses.create_configuration_set()
            .configuration_set_name(&name)
            .send()
            .await
            .with_context(|| format!("creating configuration set {set}"))?;
        physical.refs.insert(set, name);
    }
    // Roles are not emulated: their ARNs only travel as values (e.g. a schedule's role).
    for role in template.logical_ids_of("AWS::IAM::Role") {
        physical.attributes.insert(
            format!("{role}.Arn"),
            format!("arn:aws:iam::123456789012:role/{prefix}-{role}"),
        );
    }
    for key in template.logical_ids_of("AWS::KMS::Key") {
        let out = kms
            .create_key()
            .description(format!("{prefix} {key}"))
            .send()
            .await
            .with_context(|| format!("creating KMS key {key}"))?;
        let meta = out.key_metadata.context("CreateKey returned no metadata")?;
        physical.attributes.insert(
            format!("{key}.Arn"),
            meta.arn.clone().unwrap_or_else(|| meta.key_id.clone()),
        );
        physical.refs.insert(key, meta.key_id);
    }
    Ok(physical)
}

fn key_schema(pairs: &[(String, String)]) -> anyhow::Result<Vec<KeySchemaElement>> {
    pairs
        .iter()
        .map(|(name, kind)| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(KeyType::from(kind.as_str()))
                .build()
                .context("key schema")
        })
        .collect()
}

async fn create_table(
    dynamo: &aws_sdk_dynamodb::Client,
    name: &str,
    spec: &TableSpec,
) -> anyhow::Result<()> {
    let mut request = dynamo
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest);
    for (attr, kind) in &spec.attributes {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attr)
                .attribute_type(ScalarAttributeType::from(kind.as_str()))
                .build()?,
        );
    }
    request = request.set_key_schema(Some(key_schema(&spec.key_schema)?));
    for gsi in &spec.gsis {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&gsi.name)
                .set_key_schema(Some(key_schema(&gsi.key_schema)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()?,
        );
    }
    request
        .send()
        .await
        .with_context(|| format!("creating table {name}"))?;
    if let Some(attr) = &spec.ttl_attribute {
        dynamo
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(attr)
                    .enabled(true)
                    .build()?,
            )
            .send()
            .await
            .with_context(|| format!("enabling TTL on {name}"))?;
    }
    Ok(())
}
