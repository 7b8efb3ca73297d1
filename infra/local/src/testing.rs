//! For tests: a fresh table and key on the emulator at `AWS_ENDPOINT_URL` (as `make test` sets
//! it), the API Router over them, and a platform-admin key. Each `TestStack` has its own table,
//! so tests run in parallel.

use std::collections::BTreeMap;

use anyhow::Context as _;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use herald::aws::{LazyClient, RequestCounter};
use herald::providers::{ProviderClients, UrlPolicy};
use herald::secrets::Sealer;
use herald::store::Store;
use herald_api::AppState;

/// The API's public URL in tests (requests go to the router in-process).
pub const PUBLIC_URL: &str = "http://herald.test";
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

use crate::bootstrap::create_platform_key;
use crate::moto::emulator_sdk_config;
use crate::provision::provision;
use crate::template::Template;

/// The queues whose jobs the sender function runs (its event sources but the webhook queue).
pub const SENDER_QUEUES: [&str; 2] = ["SenderQueue", "TransactionalQueue"];

pub struct TestStack {
    pub state: AppState,
    /// The functions behind the template's SQS event sources (the wizard), polling as in Lambda.
    pub pollers: Vec<crate::pollers::Poller>,
    /// Fires due one-time schedules that target this stack's queues.
    pub schedules: crate::schedules::Firer,
    pub router: Router,
    pub admin_key: String,
    /// Counts every DynamoDB request the API's store sends.
    pub dynamo_requests: RequestCounter,
    /// Counts the sender function's own DynamoDB and SQS requests.
    pub sender_requests: crate::pollers::RequestCounts,
    pub sdk: aws_config::SdkConfig,
    pub table: String,
    template: Template,
    physical: crate::template::Physical,
}

/// An answer from the router: status, headers and the JSON body (Null when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
}

impl TestStack {
    pub async fn start() -> anyhow::Result<Self> {
        // The functions' warnings and errors show with a failing test's output.
        if std::env::var_os("RUST_LOG").is_none() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter("warn,aws_config=error,aws_smithy_runtime=error")
                .with_test_writer()
                .try_init();
        } else {
            herald::telemetry::init();
        }
        let endpoint = std::env::var("AWS_ENDPOINT_URL")
            .context("AWS_ENDPOINT_URL is not set: run the tests with `make test`, which starts the emulator")?;
        let sdk = emulator_sdk_config(&endpoint).await;
        let template = Template::load_default()?;
        let prefix = format!("test-{}", ulid::Ulid::generate().to_string().to_lowercase());
        let mut physical = provision(&template, &sdk, &prefix).await?;
        // The router runs in-process; this is the URL the API answers on as far as the
        // functions know (Twilio's status callbacks are addressed to it).
        physical
            .attributes
            .insert("HttpApi.ApiEndpoint".into(), PUBLIC_URL.into());
        let env: BTreeMap<String, String> =
            template.function_environment("ApiFunction", &physical)?;
        let table = env.get("HERALD_TABLE").cloned().context("HERALD_TABLE")?;
        let key = env
            .get("HERALD_KMS_KEY_ID")
            .cloned()
            .context("HERALD_KMS_KEY_ID")?;
        let dynamo_requests = RequestCounter::default();
        let dynamo = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .interceptor(dynamo_requests.clone())
                .build(),
        );
        let state = AppState::new(
            Store::new(dynamo, &table),
            Sealer::new(LazyClient::new(&sdk, aws_sdk_kms::Client::new), key),
            ProviderClients::from_sdk_config(&sdk)?,
            UrlPolicy::AllowLoopbackHttp,
            herald_api::Queues {
                sqs: LazyClient::new(&sdk, aws_sdk_sqs::Client::new),
                wizard: env
                    .get("HERALD_WIZARD_QUEUE_URL")
                    .cloned()
                    .context("HERALD_WIZARD_QUEUE_URL")?,
                sender: env
                    .get("HERALD_SENDER_QUEUE_URL")
                    .cloned()
                    .context("HERALD_SENDER_QUEUE_URL")?,
                wizard_dlq: env
                    .get("HERALD_WIZARD_DLQ_URL")
                    .cloned()
                    .context("HERALD_WIZARD_DLQ_URL")?,
                sender_dlq: env
                    .get("HERALD_SENDER_DLQ_URL")
                    .cloned()
                    .context("HERALD_SENDER_DLQ_URL")?,
                transactional: env
                    .get("HERALD_TRANSACTIONAL_QUEUE_URL")
                    .cloned()
                    .context("HERALD_TRANSACTIONAL_QUEUE_URL")?,
                transactional_dlq: env
                    .get("HERALD_TRANSACTIONAL_DLQ_URL")
                    .cloned()
                    .context("HERALD_TRANSACTIONAL_DLQ_URL")?,
                tracker: env
                    .get("HERALD_TRACKER_QUEUE_URL")
                    .cloned()
                    .context("HERALD_TRACKER_QUEUE_URL")?,
                tracker_dlq: env
                    .get("HERALD_TRACKER_DLQ_URL")
                    .cloned()
                    .context("HERALD_TRACKER_DLQ_URL")?,
                crm_sync: env
                    .get("HERALD_CRM_SYNC_QUEUE_URL")
                    .cloned()
                    .context("HERALD_CRM_SYNC_QUEUE_URL")?,
                crm_sync_dlq: env
                    .get("HERALD_CRM_SYNC_DLQ_URL")
                    .cloned()
                    .context("HERALD_CRM_SYNC_DLQ_URL")?,
                webhooks: env
                    .get("HERALD_WEBHOOK_QUEUE_URL")
                    .cloned()
                    .context("HERALD_WEBHOOK_QUEUE_URL")?,
                webhooks_dlq: env
                    .get("HERALD_WEBHOOK_DLQ_URL")
                    .cloned()
                    .context("HERALD_WEBHOOK_DLQ_URL")?,
                inbound: env
                    .get("HERALD_INBOUND_QUEUE_URL")
                    .cloned()
                    .context("HERALD_INBOUND_QUEUE_URL")?,
                inbound_bucket: env.get("HERALD_INBOUND_BUCKET").cloned(),
                s3: LazyClient::new(&sdk, herald::aws::s3_client),
            },
            herald_api::Schedules {
                client: LazyClient::new(&sdk, aws_sdk_scheduler::Client::new),
                sender_queue_arn: env
                    .get("HERALD_SENDER_QUEUE_ARN")
                    .cloned()
                    .context("HERALD_SENDER_QUEUE_ARN")?,
                role_arn: env
                    .get("HERALD_SCHEDULER_ROLE_ARN")
                    .cloned()
                    .context("HERALD_SCHEDULER_ROLE_ARN")?,
            },
            Some(PUBLIC_URL.to_owned()),
        )
        // Tests send bursts far above any tenant's rate; `tests/limits.rs` tests the limits
        // with a state of its own.
        .with_limits(None)
        // Tests' webhook receivers listen on 127.0.0.1, as `make run` allows.
        .with_webhook_policy(herald::webhooks::LoopbackPolicy::AllowLoopback);
        let sender_requests = crate::pollers::RequestCounts::default();
        let pollers = crate::pollers::start_all(&template, &physical, &sdk, &sender_requests)?;
        let firer = crate::schedules::start(crate::schedules::Clock::new(&physical, &sdk));
        let (_, admin_key) = create_platform_key(&state.store, "test admin").await?;
        Ok(Self {
            pollers,
            schedules: firer,
            router: herald_api::router(state.clone()),
            state,
            admin_key,
            dynamo_requests,
            sender_requests,
            sdk,
            table,
            template,
            physical,
        })
    }

    /// Replaces the sender function's pollers (the sender queue's and the transactional
    /// queue's) with ones running `sender` (a test's, e.g. with an injected crash) and these
    /// delivery faults.
    pub async fn replace_sender(
        &mut self,
        sender: herald_sender::Sender,
        faults: crate::pollers::Faults,
    ) -> anyhow::Result<()> {
        for queue in SENDER_QUEUES {
            self.replace_poller(
                queue,
                crate::pollers::sender_handler(sender.clone()),
                faults,
            )
            .await?;
        }
        Ok(())
    }

    /// Replaces the poller of the webhook queue with one running `deliverer` (a test's, e.g.
    /// with a retry schedule in seconds).
    pub async fn replace_webhooks(
        &mut self,
        deliverer: herald_sender::webhooks::Deliverer,
    ) -> anyhow::Result<()> {
        self.replace_poller(
            "WebhookQueue",
            crate::pollers::webhook_handler(deliverer),
            crate::pollers::Faults::default(),
        )
        .await
    }

    /// Delivers inbound mail and SMS to this stack as SES and End User Messaging would.
    pub fn inbound(&self) -> anyhow::Result<crate::inbound_sim::InboundSimulator> {
        crate::inbound_sim::InboundSimulator::new(&self.physical, &self.sdk)
    }

    /// The inbound function as the local stack runs it (a test hands it records directly, e.g.
    /// the same record twice).
    pub fn inbound_function(&self) -> anyhow::Result<herald_inbound::Inbound> {
        let env =
            crate::pollers::local_environment(&self.template, "InboundFunction", &self.physical)?;
        let config = herald_inbound::Config::from_lookup(|name| env.get(name).cloned())?;
        herald_inbound::Inbound::from_sdk_config(&self.sdk, &config)
    }

    /// The webhook deliverer as the local stack runs it, over this stack's table and queues.
    pub fn webhooks(&self) -> anyhow::Result<herald_sender::webhooks::Deliverer> {
        crate::pollers::webhooks(&self.template, &self.physical, &self.sdk)?
            .context("template.yaml gives the sender no webhook queue")
    }

    async fn replace_poller(
        &mut self,
        queue: &str,
        handler: crate::pollers::Handler,
        faults: crate::pollers::Faults,
    ) -> anyhow::Result<()> {
        let (old, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pollers)
            .into_iter()
            .partition(|p| p.queue == queue);
        self.pollers = kept;
        for poller in old {
            poller.stop().await;
        }
        let source = self
            .template
            .sqs_sources()?
            .into_iter()
            .find(|s| s.queue == queue)
            .with_context(|| format!("template.yaml has no event source on {queue}"))?;
        self.pollers.push(crate::pollers::start(
            &aws_sdk_sqs::Client::new(&self.sdk),
            &self.physical,
            source,
            handler,
            faults,
        )?);
        Ok(())
    }

    /// Restarts every function's poller with the function's clients on `sdk` (e.g. through a
    /// fault proxy; the pollers themselves, AWS's side, stay on the stack's) and these faults.
    pub async fn run_functions_on(
        &mut self,
        sdk: &aws_config::SdkConfig,
        faults: crate::pollers::Faults,
    ) -> anyhow::Result<()> {
        for source in self.template.sqs_sources()? {
            let env = crate::pollers::local_environment(
                &self.template,
                &source.function,
                &self.physical,
            )?;
            let handler = crate::pollers::handler_for(
                &source.function,
                &env,
                &self.template,
                &self.physical,
                sdk,
                &self.sdk,
                &self.sender_requests,
            )?;
            self.replace_poller(&source.queue, handler, faults).await?;
        }
        Ok(())
    }

    /// A sender with its clients on `sdk` (SES's events still published on the stack's).
    pub fn sender_on(&self, sdk: &aws_config::SdkConfig) -> anyhow::Result<herald_sender::Sender> {
        crate::pollers::sender_via(
            &self.template,
            &self.physical,
            sdk,
            &self.sdk,
            &self.sender_requests,
        )
    }

    /// A sender over this stack's table, key and queues, as the local stack runs it (its
    /// requests counted in `sender_requests`).
    pub fn sender(&self) -> anyhow::Result<herald_sender::Sender> {
        crate::pollers::sender(
            &self.template,
            &self.physical,
            &self.sdk,
            &self.sender_requests,
        )
    }

    /// A crm-sync function over this stack's table, key and queue, as the local stack runs
    /// it (tests call its runs directly, or queue them through the API).
    pub fn crm_sync(&self) -> anyhow::Result<herald_crm_sync::CrmSync> {
        crate::pollers::crm_sync(&self.template, &self.physical, &self.sdk)
    }

    /// Publishes an SES event body to the topic Herald's configuration set publishes to (so
    /// it reaches the tracker through SNS and SQS, as SES's own events do).
    pub async fn publish_ses_event(&self, body: &str) -> anyhow::Result<()> {
        let topic = self
            .template
            .ses_event_topic()
            .context("template.yaml has no SES event topic")?;
        aws_sdk_sns::Client::new(&self.sdk)
            .publish()
            .topic_arn(self.physical.get_ref(&topic)?)
            .message(body)
            .send()
            .await
            .context("SNS Publish")?;
        Ok(())
    }

    /// A queue's URL by its logical id in template.yaml.
    pub fn queue_url(&self, logical_id: &str) -> anyhow::Result<String> {
        Ok(self.physical.get_ref(logical_id)?.to_owned())
    }

    /// Sends a request through the router in-process.
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        key: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).unwrap_or_default()).await
    }

    /// Sends a hand-built request (raw bodies, odd headers).
    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = match self.router.clone().oneshot(request).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let body = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
            })
        };
        Answer {
            status,
            headers,
            body,
        }
    }
}
