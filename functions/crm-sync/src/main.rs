//! The crm-sync function: config and clients once, then the Lambda runtime with the SQS
//! handler (the schedule's sweep and each tenant's run arrive on the same queue).

use aws_lambda_events::event::sqs::SqsEvent;
use herald_crm_sync::{Config, CrmSync};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    herald::telemetry::init();
    let config = Config::from_env()?;
    let sdk = herald::aws::sdk_config().await?;
    let sync = CrmSync::from_sdk_config(&sdk, &config)?;
    let sync = &sync;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(sync.handle(event.payload).await)
    }))
    .await
}
