//! The HTTPS client of every AWS SDK client in a process.
//!
//! Two things cost a function's cold start in the SDK's default client, and this one avoids
//! both (BENCHMARKS.md has the measurements):
//! - it builds a whole TLS connector (a rustls configuration with every trusted root parsed)
//!   each time a service client is created, to check it early, and throws it away; the first
//!   request then builds the one it keeps. A function with six service clients parsed its
//!   roots seven times. Here one connector is built per connector settings (in practice one
//!   per process: every client shares [`super::timeouts`]) and shared, with its connection
//!   pool, by all the service clients.
//! - it trusts the system's whole root store, read from disk and decoded from PEM (about
//!   150 certificates, most of a millisecond). Every AWS service endpoint's certificate is
//!   issued by Amazon Trust Services, so by default the AWS clients trust Amazon's five roots
//!   alone ([`AwsTrust::Amazon`]; compiled in). That also means no other public CA can stand
//!   in for AWS on the way there. `HERALD_AWS_TRUST_STORE=system` trusts the system's store
//!   instead, for endpoints of one's own (`AWS_ENDPOINT_URL` over HTTPS) or a TLS-inspecting
//!   proxy.
//!
//! The connector itself is the SDK's own (rustls with aws-lc, proxy settings from the
//! environment), so nothing about how requests are sent, timed out or retried changes.
//! Providers' APIs (Twilio, HubSpot, ...) go through reqwest with Mozilla's roots compiled in
//! ([`super::http_client`]), not through this client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_smithy_async::rt::sleep::SharedAsyncSleep;
use aws_smithy_http_client::Connector;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;
use aws_smithy_types::timeout::TimeoutConfig;

/// Connector settings as the SDK derives them from a timeout configuration.
type Key = (Option<Duration>, Option<Duration>);

/// Amazon Trust Services' root certificates: Amazon Root CA 1 to 4 and Starfield Services
/// Root Certificate Authority - G2, which cross-signs them.
const AMAZON_TRUST_SERVICES: &[u8] = include_bytes!("amazon-trust-services.pem");

/// The certificates the AWS clients trust (`HERALD_AWS_TRUST_STORE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AwsTrust {
    /// Amazon Trust Services' roots only (the default): every AWS endpoint chains to them.
    #[default]
    Amazon,
    /// The system's root store (`SSL_CERT_FILE`, `SSL_CERT_DIR`, or the platform's).
    System,
}

impl AwsTrust {
    /// `HERALD_AWS_TRUST_STORE`: `amazon` (or unset) or `system`.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        match lookup("HERALD_AWS_TRUST_STORE").as_deref() {
            None | Some("" | "amazon") => Ok(Self::Amazon),
            Some("system") => Ok(Self::System),
            Some(other) => anyhow::bail!(
                "HERALD_AWS_TRUST_STORE is {other:?}: it takes \"amazon\" (the default) or \"system\""
            ),
        }
    }

    fn tls_context(self) -> TlsContext {
        let store = match self {
            Self::Amazon => TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES),
            Self::System => TrustStore::default(),
        };
        TlsContext::builder()
            .with_trust_store(store)
            .build()
            .unwrap_or_default()
    }
}

/// One TLS connector per connector settings, built on first use and shared.
#[derive(Debug, Clone)]
pub struct AwsHttpClient {
    tls: TlsContext,
    connectors: Arc<Mutex<HashMap<Key, SharedHttpConnector>>>,
}

impl AwsHttpClient {
    pub fn new(trust: AwsTrust) -> Self {
        Self {
            tls: trust.tls_context(),
            connectors: Arc::default(),
        }
    }

    /// The client, to give an SDK configuration with
    /// [`aws_config::ConfigLoader::http_client`].
    pub fn shared(&self) -> SharedHttpClient {
        SharedHttpClient::new(self.clone())
    }

    /// Builds now the connector that requests under `timeouts` will use, so that the root
    /// certificates are read and parsed during the function's initialisation (as the SDK's own
    /// client does) rather than in its first invocation.
    pub fn prepare(&self, timeouts: &TimeoutConfig) {
        let mut settings = HttpConnectorSettings::builder();
        settings.set_connect_timeout(timeouts.connect_timeout());
        settings.set_read_timeout(timeouts.read_timeout());
        self.connector(
            &settings.build(),
            aws_smithy_async::rt::sleep::default_async_sleep(),
        );
    }

    /// How many connectors have been built (each one parsed the trusted roots once).
    pub fn connectors_built(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, SharedHttpConnector>> {
        self.connectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn connector(
        &self,
        settings: &HttpConnectorSettings,
        sleep: Option<SharedAsyncSleep>,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        self.lock()
            .entry(key)
            .or_insert_with(|| {
                // What the SDK's default HTTPS client builds for these settings.
                let mut builder = Connector::builder()
                    .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
                    .tls_context(self.tls.clone());
                builder.set_connector_settings(Some(settings.clone()));
                builder.set_sleep_impl(sleep);
                builder.set_proxy_config(Some(ProxyConfig::from_env()));
                builder.build().into_shared()
            })
            .clone()
    }
}

impl HttpClient for AwsHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.connector(settings, components.sleep_impl())
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new(
            "hyper",
            Some(std::borrow::Cow::Borrowed("1.x")),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::{AMAZON_TRUST_SERVICES, AwsHttpClient, AwsTrust};
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    #[tokio::test]
    async fn every_service_client_shares_the_connector_built_at_start() {
        let http = AwsHttpClient::new(AwsTrust::Amazon);
        let timeouts = super::super::timeouts();
        http.prepare(&timeouts);
        assert_eq!(http.connectors_built(), 1);

        // Nothing listens on port 1: the request fails at connect, after choosing its connector.
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(http.shared())
            .timeout_config(timeouts)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .endpoint_url("http://127.0.0.1:1")
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .load()
            .await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let _sqs = aws_sdk_sqs::Client::new(&sdk);
        let _kms = aws_sdk_kms::Client::new(&sdk);
        let _ses = aws_sdk_sesv2::Client::new(&sdk);
        let _sns = aws_sdk_sns::Client::new(&sdk);
        assert_eq!(http.connectors_built(), 1, "creating clients builds none");

        let refused = dynamodb.list_tables().send().await;
        assert!(refused.is_err(), "nothing listens on port 1");
        assert_eq!(
            http.connectors_built(),
            1,
            "the request used the prepared connector"
        );
    }

    #[test]
    fn amazons_roots_are_mozillas_and_parse() {
        let ders = CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES)
            .collect::<Result<Vec<_>, _>>()
            .expect("PEM");
        assert_eq!(
            ders.len(),
            5,
            "Amazon Root CA 1 to 4 and Starfield Services G2"
        );
        for der in &ders {
            assert!(
                webpki_root_certs::TLS_SERVER_ROOT_CERTS.contains(der),
                "a certificate that is not in Mozilla's root store"
            );
        }
        let mut roots = rustls::RootCertStore::empty();
        let (added, ignored) = roots.add_parsable_certificates(ders);
        assert_eq!((added, ignored), (5, 0));
    }

    #[test]
    fn the_trust_store_is_amazons_unless_told_otherwise() {
        let with = |value: Option<&str>| {
            let value = value.map(str::to_owned);
            AwsTrust::from_lookup(&move |_: &str| value.clone())
        };
        assert_eq!(with(None).expect("unset"), AwsTrust::Amazon);
        assert_eq!(with(Some("amazon")).expect("amazon"), AwsTrust::Amazon);
        assert_eq!(with(Some("system")).expect("system"), AwsTrust::System);
        let wrong = with(Some("mozilla")).expect_err("unknown").to_string();
        assert!(wrong.contains("HERALD_AWS_TRUST_STORE"), "{wrong}");
    }
}
