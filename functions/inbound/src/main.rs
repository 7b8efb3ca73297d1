//! The inbound function: config and clients once, then the Lambda runtime with the SQS handler.

use aws_lambda_events::event::sqs::SqsEvent;
use herald_inbound::{Config, Inbound};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    herald::telemetry::init();
    let config = Config::from_env()?;
    let sdk = herald::aws::sdk_config().await?;
    let inbound = Inbound::from_sdk_config(&sdk, &config)?;
    let inbound = &inbound;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(inbound.handle(event.payload).await)
    }))
    .await
}
