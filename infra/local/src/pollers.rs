//! Lambda's SQS event source mappings, reproduced: for every SQS event a function declares in
//! template.yaml, a poller receives up to the declared batch size, calls the function's handler
//! in-process with the same event shape Lambda sends, and deletes what succeeded. With
//! `ReportBatchItemFailures` only the reported messages stay (they come back after the queue's
//! visibility timeout and move to the dead-letter queue after `maxReceiveCount`); without it, any
//! failure keeps the whole batch, as in Lambda.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};

use herald::aws::RequestCounter;

use crate::template::{Physical, SqsSourceSpec, Template};

pub type Handler =
    Arc<dyn Fn(SqsEvent) -> Pin<Box<dyn Future<Output = SqsBatchResponse> + Send>> + Send + Sync>;

/// A running poller; dropping it stops it.
pub struct Poller {
    pub function: String,
    /// The logical id of the queue it polls.
    pub queue: String,
    task: tokio::task::JoinHandle<()>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Poller {
    /// Stops after the receive in progress (a long poll of at most 1 s) has come back and its
    /// batch has been handled: aborting one mid-receive would leave the emulator handing
    /// messages to a request nobody reads, hidden for the queue's visibility timeout.
    pub async fn stop(mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let task = std::mem::replace(&mut self.task, tokio::spawn(async {}));
        let _ = task.await;
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Counts of the AWS requests the functions' own clients send (DynamoDB and SQS, the send
/// path's budget), so tests can assert requests per message.
#[derive(Debug, Clone, Default)]
pub struct RequestCounts {
    pub dynamo: RequestCounter,
    pub sqs: RequestCounter,
}

/// The sender as the local stack runs it: built from its environment as template.yaml declares
/// it, its DynamoDB and SQS requests counted in `counts`, and its SES client publishing the
/// Send events SES would (see `ses_events`).
pub fn sender(
    template: &Template,
    physical: &Physical,
    sdk: &aws_config::SdkConfig,
    counts: &RequestCounts,
) -> anyhow::Result<herald_sender::Sender> {
    sender_via(template, physical, sdk, sdk, counts)
}

/// [`sender`] with its clients on `sdk` while SES's part (publishing the events of what the
/// emulator accepted) happens on `aws`: AWS's side of the network, which a fault between
/// Herald and AWS does not touch.
pub fn sender_via(
    template: &Template,
    physical: &Physical,
    sdk: &aws_config::SdkConfig,
    aws: &aws_config::SdkConfig,
    counts: &RequestCounts,
) -> anyhow::Result<herald_sender::Sender> {
    let env = local_environment(template, "SenderFunction", physical)?;
    let config = herald_sender::Config::from_lookup(|name| env.get(name).cloned())?;
    let emitter = herald::webhooks::Emitter::for_queue(
        &herald::store::Store::new(aws_sdk_dynamodb::Client::new(sdk), &config.core.table),
        sdk,
        config.webhook_queue_url.as_deref(),
    );
    let dynamo = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(sdk)
            .interceptor(counts.dynamo.clone())
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(sdk)
            .interceptor(counts.sqs.clone())
            .build(),
    );
    let mut ses = aws_sdk_sesv2::config::Builder::from(sdk);
    if let Some(topic) = template.ses_event_topic() {
        ses = ses.interceptor(crate::ses_events::SesEventPublisher::new(
            aws_sdk_sns::Client::new(aws),
            physical.get_ref(&topic)?.to_owned(),
        ));
    }
    let providers = herald::providers::ProviderClients {
        ses: aws_sdk_sesv2::Client::from_conf(ses.build()).into(),
        sns: herald::aws::LazyClient::new(sdk, aws_sdk_sns::Client::new),
        http: herald::aws::http_client()?,
    };
    Ok(herald_sender::Sender::new(
        herald::store::Store::new(dynamo, &config.core.table),
        herald::secrets::Sealer::new(aws_sdk_kms::Client::new(sdk), &config.core.kms_key_id),
        providers,
        herald_sender::Queue {
            sqs,
            url: config.queue_url.clone(),
            dead_letter_url: config.dead_letter_url.clone(),
            tracker_url: config.tracker_queue_url.clone(),
        },
        config.ses_max_send_rate,
    )
    .with_transactional_queue(config.transactional.clone())
    .with_ses_configuration_set(config.ses_configuration_set.clone())
    .with_public_url(config.public_url.clone())
    .with_inbound_domain(config.inbound_domain.clone())
    .with_webhooks(emitter)
    .with_journeys(herald_sender::journey_syncer(
        sdk,
        &herald::store::Store::new(aws_sdk_dynamodb::Client::new(sdk), &config.core.table),
        &config,
    ))
    .with_send_budget(LOCAL_SEND_BUDGET))
}

/// The settings the local stack gives every function on top of what template.yaml declares:
/// webhook endpoints on 127.0.0.1 are allowed (explicitly, here only), every other private
/// address stays refused.
pub const LOCAL_SETTINGS: &[(&str, &str)] = &[("HERALD_ALLOW_LOOPBACK_WEBHOOK_URLS", "1")];

/// A function's environment as the local stack runs it.
pub fn local_environment(
    template: &Template,
    function: &str,
    physical: &Physical,
) -> anyhow::Result<HashMap<String, String>> {
    let mut env: HashMap<String, String> = template
        .function_environment(function, physical)?
        .into_iter()
        .collect();
    for (k, v) in LOCAL_SETTINGS {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    Ok(env)
}

/// The sender's webhook deliverer as the local stack runs it (`None` when the template gives
/// the sender no webhook queue).
pub fn webhooks(
    template: &Template,
    physical: &Physical,
    sdk: &aws_config::SdkConfig,
) -> anyhow::Result<Option<herald_sender::webhooks::Deliverer>> {
    let env = local_environment(template, "SenderFunction", physical)?;
    let config = herald_sender::Config::from_lookup(|name| env.get(name).cloned())?;
    let Some(url) = config.webhook_queue_url.clone() else {
        return Ok(None);
    };
    let (store, sealer) = config.core.clients(sdk);
    Ok(Some(herald_sender::webhooks::Deliverer::new(
        store,
        sealer,
        aws_sdk_sqs::Client::new(sdk),
        url,
        config.webhook_policy,
    )?))
}

/// The crm-sync function as the local stack runs it, built from its environment as
/// template.yaml declares it.
pub fn crm_sync(
    template: &Template,
    physical: &Physical,
    sdk: &aws_config::SdkConfig,
) -> anyhow::Result<herald_crm_sync::CrmSync> {
    let env = local_environment(template, "CrmSyncFunction", physical)?;
    let config = herald_crm_sync::Config::from_lookup(|name| env.get(name).cloned())?;
    herald_crm_sync::CrmSync::from_sdk_config(sdk, &config)
}

/// The sender's send budget on the local stack. In Lambda a job sends for at most 30 s of its
/// 60 s timeout and leaves the rest to a fresh copy of itself; the emulator answers ten to
/// twenty times slower than AWS (and nothing times out locally), so the same job reaches
/// 30 s long before it would in AWS and its copies would add requests AWS never sees. It
/// stays well under the 480 s after which a job's claim counts as abandoned.
pub const LOCAL_SEND_BUDGET: std::time::Duration = std::time::Duration::from_secs(120);

/// The handler of a function, built from its environment as template.yaml declares it, its
/// clients on `sdk` (SES's own part on `aws`, see [`sender_via`]).
pub fn handler_for(
    function: &str,
    env: &HashMap<String, String>,
    template: &Template,
    physical: &Physical,
    sdk: &aws_config::SdkConfig,
    aws: &aws_config::SdkConfig,
    counts: &RequestCounts,
) -> anyhow::Result<Handler> {
    match function {
        "WizardFunction" => {
            let config = herald_wizard::Config::from_lookup(|name| env.get(name).cloned())?;
            let wizard = herald_wizard::Wizard::from_sdk_config(sdk, &config)?;
            Ok(Arc::new(move |event| {
                let wizard = wizard.clone();
                Box::pin(async move { wizard.handle(event).await })
            }))
        }
        "SenderFunction" => {
            let function = herald_sender::Function {
                sender: sender_via(template, physical, sdk, aws, counts)?,
                webhooks: webhooks(template, physical, sdk)?,
            };
            Ok(Arc::new(move |event| {
                let function = function.clone();
                Box::pin(async move { function.handle(event).await })
            }))
        }
        "TrackerFunction" => {
            let config = herald_tracker::Config::from_lookup(|name| env.get(name).cloned())?;
            let tracker = herald_tracker::Tracker::from_sdk_config(sdk, &config);
            Ok(Arc::new(move |event| {
                let tracker = tracker.clone();
                Box::pin(async move { tracker.handle(event).await })
            }))
        }
        "InboundFunction" => {
            let config = herald_inbound::Config::from_lookup(|name| env.get(name).cloned())?;
            let inbound = herald_inbound::Inbound::from_sdk_config(sdk, &config)?;
            Ok(Arc::new(move |event| {
                let inbound = inbound.clone();
                Box::pin(async move { inbound.handle(event).await })
            }))
        }
        "CrmSyncFunction" => {
            let sync = crm_sync(template, physical, sdk)?;
            Ok(Arc::new(move |event| {
                let sync = sync.clone();
                Box::pin(async move { sync.handle(event).await })
            }))
        }
        other => bail!(
            "template.yaml gives {other} an SQS event, but the local stack has no handler for it (infra/local/src/pollers.rs)"
        ),
    }
}

/// Starts a poller for every SQS event source in the template; the sender's DynamoDB and SQS
/// requests are counted in `counts`.
pub fn start_all(
    template: &Template,
    physical: &Physical,
    sdk: &aws_config::SdkConfig,
    counts: &RequestCounts,
) -> anyhow::Result<Vec<Poller>> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    template
        .sqs_sources()?
        .into_iter()
        .map(|source| {
            let env = local_environment(template, &source.function, physical)?;
            let handler =
                handler_for(&source.function, &env, template, physical, sdk, sdk, counts)?;
            start(&sqs, physical, source, handler, Faults::default())
        })
        .collect()
}

/// Faults a poller injects (for the local stack's fault-injection tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Hand every batch to the function twice at once, as SQS may (at-least-once delivery).
    pub deliver_twice: bool,
}

/// Starts a poller for one event source with this handler.
pub fn start(
    sqs: &aws_sdk_sqs::Client,
    physical: &Physical,
    source: SqsSourceSpec,
    handler: Handler,
    faults: Faults,
) -> anyhow::Result<Poller> {
    let url = physical.get_ref(&source.queue)?.to_owned();
    let arn = physical
        .attributes
        .get(&format!("{}.Arn", source.queue))
        .cloned()
        .with_context(|| format!("no ARN for queue {}", source.queue))?;
    let function = source.function.clone();
    let queue = source.queue.clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let task = tokio::spawn(poll(
        sqs.clone(),
        url,
        arn,
        source,
        handler,
        faults,
        stop.clone(),
    ));
    Ok(Poller {
        function,
        queue,
        task,
        stop,
    })
}

/// The handler of a webhook deliverer built elsewhere (a test's, with its retry schedule).
pub fn webhook_handler(deliverer: herald_sender::webhooks::Deliverer) -> Handler {
    Arc::new(move |event| {
        let deliverer = deliverer.clone();
        Box::pin(async move { deliverer.handle(event).await })
    })
}

/// The handler of a sender built elsewhere (a test's, with its faults).
pub fn sender_handler(sender: herald_sender::Sender) -> Handler {
    Arc::new(move |event| {
        let sender = sender.clone();
        Box::pin(async move { sender.handle(event).await })
    })
}

/// One ReceiveMessage of up to `max` messages with every system attribute.
async fn receive(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    max: i32,
    wait_seconds: i32,
) -> Result<
    Vec<aws_sdk_sqs::types::Message>,
    aws_sdk_sqs::error::SdkError<aws_sdk_sqs::operation::receive_message::ReceiveMessageError>,
> {
    let out = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(max)
        .wait_time_seconds(wait_seconds)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await?;
    Ok(out.messages.unwrap_or_default())
}

async fn poll(
    sqs: aws_sdk_sqs::Client,
    url: String,
    arn: String,
    source: SqsSourceSpec,
    handler: Handler,
    faults: Faults,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let batch = i32::try_from(source.batch_size.clamp(1, 10)).unwrap_or(10);
    let window = Duration::from_secs(u64::from(source.batching_window_seconds));
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        let messages = match receive(&sqs, &url, batch, 1).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(function = %source.function, error = %e, "polling the queue failed; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        // As Lambda does with a batching window: gather more records until the batch is full
        // or the window has passed since the first.
        let mut messages = messages;
        let started = std::time::Instant::now();
        while messages.len() < batch as usize && started.elapsed() < window {
            match receive(&sqs, &url, batch - messages.len() as i32, 0).await {
                Ok(more) if more.is_empty() => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Ok(more) => messages.extend(more),
                Err(_) => break,
            }
        }
        let mut event = SqsEvent::default();
        event.records = messages
            .iter()
            .map(|m| {
                let mut record = SqsMessage::default();
                record.message_id = m.message_id.clone();
                record.receipt_handle = m.receipt_handle.clone();
                record.body = m.body.clone();
                record.md5_of_body = m.md5_of_body.clone();
                record.attributes = m
                    .attributes
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                    .collect();
                record.event_source = Some("aws:sqs".to_owned());
                record.event_source_arn = Some(arn.clone());
                record.aws_region = Some("us-east-1".to_owned());
                record
            })
            .collect();
        let response = if faults.deliver_twice {
            let (first, second) = tokio::join!(handler(event.clone()), handler(event));
            // A message is done only when both deliveries say so.
            let mut both = first;
            for f in second.batch_item_failures {
                if !both
                    .batch_item_failures
                    .iter()
                    .any(|b| b.item_identifier == f.item_identifier)
                {
                    both.batch_item_failures.push(f);
                }
            }
            both
        } else {
            handler(event).await
        };
        let ids: Vec<String> = messages
            .iter()
            .map(|m| m.message_id.clone().unwrap_or_default())
            .collect();
        let failed: Vec<String> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        // As in Lambda: without partial responses, or with a failure naming no message of
        // the batch, the whole batch counts as failed.
        let whole_batch_failed = !failed.is_empty()
            && (!source.report_batch_item_failures || failed.iter().any(|f| !ids.contains(f)));
        let done: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .filter(|(_, m)| {
                !whole_batch_failed && !failed.contains(&m.message_id.clone().unwrap_or_default())
            })
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle.clone()?)
                    .build()
                    .ok()
            })
            .collect();
        // DeleteMessageBatch takes 10 entries a request.
        for entries in done.chunks(10) {
            if let Err(e) = sqs
                .delete_message_batch()
                .queue_url(&url)
                .set_entries(Some(entries.to_vec()))
                .send()
                .await
            {
                tracing::warn!(function = %source.function, error = %e, "deleting processed messages failed; they will be delivered again");
            }
        }
    }
}
