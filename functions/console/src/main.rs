//! The console function: config and clients once, then serve the console's Router — through
//! lambda_http in Lambda, or on 127.0.0.1 (port `PORT`, default 3001) anywhere else.

use herald_api::{AppState, Config, serve};
use herald_console::{ConsoleState, router};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    herald_api::telemetry::init();
    let config = Config::from_env()?;
    let sdk = herald::aws::sdk_config().await?;
    let state = ConsoleState::new(
        AppState::from_sdk_config(&sdk, &config)?,
        config.public_url.as_deref(),
    );
    serve(router(state), 3001).await
}
