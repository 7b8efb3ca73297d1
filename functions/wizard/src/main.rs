//! The wizard function: config and clients once, then the Lambda runtime with the SQS handler.

use aws_lambda_events::event::sqs::SqsEvent;
use herald_wizard::{Config, Wizard};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    herald::telemetry::init();
    let config = Config::from_env()?;
    let sdk = herald::aws::sdk_config().await?;
    let wizard = Wizard::from_sdk_config(&sdk, &config)?;
    let wizard = &wizard;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(wizard.handle(event.payload).await)
    }))
    .await
}
