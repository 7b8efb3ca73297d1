//! The API function: config and clients once, then serve the Router — through lambda_http in
//! Lambda, or on 127.0.0.1 (port `PORT`, default 3000) anywhere else.

use herald_api::{AppState, Config, router, serve};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    herald_api::telemetry::init();
    let config = Config::from_env()?;
    let sdk = herald::aws::sdk_config().await?;
    serve(router(AppState::from_sdk_config(&sdk, &config)?), 3000).await
}
