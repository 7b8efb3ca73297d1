//! The tracker function: config and clients once, then the Lambda runtime with the SQS handler.
// The handler's future (retries around the store's batched writes) is deep.
#![recursion_limit = "256"]

use aws_lambda_events::event::sqs::SqsEvent;
use herald_tracker::{Config, Tracker};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    herald::telemetry::init();
    let config = Config::from_env()?;
    let sdk = herald::aws::sdk_config().await?;
    let tracker = Tracker::from_sdk_config(&sdk, &config);
    let tracker = &tracker;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(tracker.handle(event.payload).await)
    }))
    .await
}
