//! SDK clients built on first use.
//!
//! Creating a service client costs about 0.1 ms the first time in a process, mostly its crate
//! parsing the endpoint partitions it carries (a JSON document and a regular expression per
//! partition). A client that most invocations of a function never use (the API's SES, SNS,
//! Scheduler, SQS and KMS clients: most requests are DynamoDB reads and writes) is built the
//! first time it is used instead of in every cold start; a clone shares the one built.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

/// A client of type `C`, built by `build` the first time it is dereferenced.
pub struct LazyClient<C> {
    client: Arc<OnceLock<C>>,
    build: Arc<dyn Fn() -> C + Send + Sync>,
}

impl<C: Clone + Send + Sync + 'static> LazyClient<C> {
    /// A client that `build` makes from `sdk` when it is first used, e.g.
    /// `LazyClient::new(&sdk, aws_sdk_sesv2::Client::new)`.
    pub fn new(sdk: &aws_config::SdkConfig, build: fn(&aws_config::SdkConfig) -> C) -> Self {
        let sdk = sdk.clone();
        Self {
            client: Arc::default(),
            build: Arc::new(move || build(&sdk)),
        }
    }

    /// Whether the client has been built yet.
    pub fn is_built(&self) -> bool {
        self.client.get().is_some()
    }
}

/// A client built already.
impl<C: Clone + Send + Sync + 'static> From<C> for LazyClient<C> {
    fn from(client: C) -> Self {
        let spare = client.clone();
        Self {
            client: Arc::new(OnceLock::from(client)),
            // Never called: the cell is full.
            build: Arc::new(move || spare.clone()),
        }
    }
}

impl<C> Deref for LazyClient<C> {
    type Target = C;

    fn deref(&self) -> &C {
        self.client.get_or_init(|| (self.build)())
    }
}

impl<C> Clone for LazyClient<C> {
    fn clone(&self) -> Self {
        Self {
            client: Arc::clone(&self.client),
            build: Arc::clone(&self.build),
        }
    }
}

impl<C> fmt::Debug for LazyClient<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyClient")
            .field("built", &self.client.get().is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::LazyClient;

    #[tokio::test]
    async fn a_client_is_built_once_on_first_use_and_shared_by_clones() {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        let ses = LazyClient::new(&sdk, aws_sdk_sesv2::Client::new);
        let copy = ses.clone();
        assert!(!ses.is_built());
        assert_eq!(
            copy.config().region().map(|r| r.as_ref()),
            Some("us-east-1"),
            "used through a clone"
        );
        assert!(ses.is_built(), "the clone built it for both");

        let ready = LazyClient::from(aws_sdk_sesv2::Client::new(&sdk));
        assert!(ready.is_built());
    }
}
