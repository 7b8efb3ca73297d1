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

mod http;
mod lazy;
pub mod sqs_batch;

pub use http::{AwsHttpClient, AwsTrust};
pub use lazy::LazyClient;

/// An S3 client: path-style addressing when an endpoint is configured (an emulator serves
/// buckets under its own host, not as subdomains of it).
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// The shared SDK configuration from the environment (region, credentials, endpoint), with
/// Herald's [`timeouts`] and one HTTPS connector for all its clients ([`AwsHttpClient`],
/// trusting what `HERALD_AWS_TRUST_STORE` says), built here, before the function's first
/// invocation.
pub async fn sdk_config() -> anyhow::Result<aws_config::SdkConfig> {
    let lookup = |name: &str| std::env::var(name).ok();
    let http = AwsHttpClient::new(AwsTrust::from_lookup(&lookup)?);
    let timeouts = timeouts();
    http.prepare(&timeouts);
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http.shared())
        .timeout_config(timeouts);
    let given = FromEnvironment::read(&lookup);
    if let Some(region) = given.region {
        loader = loader.region(aws_config::Region::new(region));
    }
    if given.credentials {
        loader = loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        );
    }
    Ok(loader.load().await)
}

/// What Lambda puts in every function's environment: its region and its role's credentials.
/// The SDK's default chains look there first and stop there when they are set, so naming them
/// directly resolves the same region and credentials; it skips building the rest of the
/// chains (an STS client for web identity, an IMDS client for the region), about 0.3 ms of a
/// cold start. Where they are not set (a developer's machine with profiles or SSO), the
/// default chains run as usual.
#[derive(Debug, PartialEq, Eq)]
struct FromEnvironment {
    /// `AWS_REGION`, which the default region chain reads first.
    region: Option<String>,
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` are both set: the default credentials
    /// chain's first provider, the environment's, answers with them.
    credentials: bool,
}

impl FromEnvironment {
    fn read(lookup: &impl Fn(&str) -> Option<String>) -> Self {
        let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        Self {
            region: set("AWS_REGION"),
            credentials: set("AWS_ACCESS_KEY_ID").is_some()
                && set("AWS_SECRET_ACCESS_KEY").is_some(),
        }
    }
}

/// How long an AWS request may take. Without an attempt timeout, a connection that stalls
/// (accepted, never answered) would hold a function until Lambda's own timeout; with one,
/// the SDK's retries (three attempts) take over, then the caller's (a job's claims stay held
/// and it comes back; an event batch is delivered again). DynamoDB, SQS, SNS, SES and KMS
/// answer in milliseconds; 10 s is far beyond a healthy answer.
pub fn timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(3))
        .operation_attempt_timeout(std::time::Duration::from_secs(10))
        .operation_timeout(std::time::Duration::from_secs(25))
        .build()
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

/// A 429's or 503's `Retry-After`: seconds, or an HTTP date (how long from now; zero when it
/// has passed). None when absent or unreadable.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<std::time::Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(std::time::Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or_default())
}

/// Runs `attempt` until it succeeds or `within` has passed since the first try, pausing 1 s,
/// 2 s, 4 s, then 8 s between tries (each try is bounded by the SDK's [`timeouts`]); calls
/// `on_retry` with each failure it retries. For writes that must land through a short AWS
/// outage: what a function already did (a batch of events, a chunk of sends) is recorded
/// rather than left for a redelivery to work out.
pub async fn retry_within<T, E, F, Fut>(
    within: std::time::Duration,
    mut attempt: F,
    mut on_retry: impl FnMut(&E),
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let started = tokio::time::Instant::now();
    let mut pause = std::time::Duration::from_secs(1);
    loop {
        match attempt().await {
            Err(e) if started.elapsed() < within => {
                on_retry(&e);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(8));
            }
            done => return done,
        }
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

#[cfg(test)]
mod tests {
    use super::{FromEnvironment, retry_after, retry_within};
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
    use std::time::Duration;

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(value).expect("header"));
        h
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(retry_after(&with("7")), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(&with(" 0 ")), Some(Duration::ZERO));
        let later = chrono::Utc::now() + chrono::Duration::seconds(120);
        let date = later.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let wait = retry_after(&with(&date)).expect("a date");
        assert!(
            (Duration::from_secs(115)..=Duration::from_secs(120)).contains(&wait),
            "{wait:?}"
        );
        assert_eq!(
            retry_after(&with("Wed, 21 Oct 2015 07:28:00 GMT")),
            Some(Duration::ZERO),
            "a date in the past: now"
        );
        assert_eq!(retry_after(&with("soon")), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn region_and_credentials_are_named_only_when_the_environment_has_them() {
        let lambda = |name: &str| {
            match name {
                "AWS_REGION" => Some("eu-west-1"),
                "AWS_ACCESS_KEY_ID" => Some("ASIAEXAMPLE"),
                "AWS_SECRET_ACCESS_KEY" => Some("secret"),
                "AWS_SESSION_TOKEN" => Some("token"),
                _ => None,
            }
            .map(str::to_owned)
        };
        assert_eq!(
            FromEnvironment::read(&lambda),
            FromEnvironment {
                region: Some("eu-west-1".to_owned()),
                credentials: true
            }
        );
        // A laptop with a profile: the default chains find them.
        let laptop = |name: &str| (name == "AWS_PROFILE").then(|| "dev".to_owned());
        assert_eq!(
            FromEnvironment::read(&laptop),
            FromEnvironment {
                region: None,
                credentials: false
            }
        );
        // A key without its secret is not credentials; a blank region is no region.
        let half = |name: &str| match name {
            "AWS_ACCESS_KEY_ID" => Some("AKIAEXAMPLE".to_owned()),
            "AWS_REGION" => Some(" ".to_owned()),
            _ => None,
        };
        assert_eq!(
            FromEnvironment::read(&half),
            FromEnvironment {
                region: None,
                credentials: false
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retry_within_tries_until_success_or_time_is_up() {
        let mut tries = 0;
        let mut retried = 0;
        let done: Result<u32, &str> = retry_within(
            Duration::from_secs(30),
            || {
                tries += 1;
                let n = tries;
                async move { if n < 3 { Err("down") } else { Ok(n) } }
            },
            |_| retried += 1,
        )
        .await;
        assert_eq!(done, Ok(3));
        assert_eq!(retried, 2);

        // Always failing: tries at 0, 1, 3, 7, 15, 23 s and 31 s (past 30 s: given up).
        let started = tokio::time::Instant::now();
        let mut tries = 0;
        let failed: Result<(), &str> = retry_within(
            Duration::from_secs(30),
            || {
                tries += 1;
                async { Err("down") }
            },
            |_| {},
        )
        .await;
        assert_eq!(failed, Err("down"));
        assert_eq!(tries, 7);
        assert_eq!(started.elapsed(), Duration::from_secs(31));
    }
}
