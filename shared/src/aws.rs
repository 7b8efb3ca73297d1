//! AWS SDK configuration and a request-counting interceptor.
//!
//! Locally, `AWS_ENDPOINT_URL` points every client at the emulator; production code has no
//! special case for it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// The shared SDK configuration from the environment (region, credentials, endpoint).
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}

/// The settings every function reads: its table and the KMS key of sealed secrets.
#[derive(Debug, Clone)]
pub struct CoreSettings {
    /// `HERALD_TABLE`.
    pub table: String,
    /// `HERALD_KMS_KEY_ID`: a key id, ARN or alias.
    pub kms_key_id: String,
}

impl CoreSettings {
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        Ok(Self {
            table: required(lookup, "HERALD_TABLE")?,
            kms_key_id: required(lookup, "HERALD_KMS_KEY_ID")?,
        })
    }

    /// The store and the sealer these settings name.
    pub fn clients(
        &self,
        sdk: &aws_config::SdkConfig,
    ) -> (crate::store::Store, crate::secrets::Sealer) {
        (
            crate::store::Store::new(aws_sdk_dynamodb::Client::new(sdk), &self.table),
            crate::secrets::Sealer::new(aws_sdk_kms::Client::new(sdk), &self.kms_key_id),
        )
    }
}

/// A variable that must be set.
pub fn required(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> anyhow::Result<String> {
    lookup(name).ok_or_else(|| anyhow::anyhow!("{name} is not set"))
}

/// Counts the requests a client sends (retries included), in all and by operation, e.g.
/// DynamoDB round trips per API call.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    total: Arc<AtomicUsize>,
    by_operation: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl RequestCounter {
    pub fn count(&self) -> usize {
        self.total.load(Ordering::SeqCst)
    }

    /// The counts by operation name (`Query`, `BatchWriteItem`, ...).
    pub fn by_operation(&self) -> BTreeMap<String, usize> {
        self.by_operation
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    pub fn reset(&self) {
        self.total.store(0, Ordering::SeqCst);
        if let Ok(mut m) = self.by_operation.lock() {
            m.clear();
        }
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.total.fetch_add(1, Ordering::SeqCst);
        let operation = cfg
            .load::<Metadata>()
            .map_or("unknown", |m| m.name())
            .to_owned();
        if let Ok(mut m) = self.by_operation.lock() {
            *m.entry(operation).or_default() += 1;
        }
        Ok(())
    }
}

/// The HTTP client for providers' own APIs (Twilio, Brevo, SendGrid, WhatsApp, CRMs): rustls
/// with the same aws-lc crypto provider as the AWS SDK, so the binary carries one TLS stack.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    // Installing twice is harmless: the first provider stays.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(crate::providers::HTTP_TIMEOUT)
        .user_agent(concat!("herald/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| anyhow::Error::new(e).context("building the HTTP client"))
}
