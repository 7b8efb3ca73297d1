//! The console function: config and clients once, then serve the console's Router — through
//! lambda_http in Lambda, or on 127.0.0.1 (port `PORT`, default 3001) anywhere else.

use anyhow::Context as _;
use herald_api::{AppState, Config};
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
    let app = router(state);
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        lambda_http::run(app).await.map_err(|e| anyhow::anyhow!(e))
    } else {
        let port: u16 = std::env::var("PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(3001);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .with_context(|| format!("binding 127.0.0.1:{port}"))?;
        tracing::info!(%port, "serving the console");
        axum::serve(listener, app).await.context("serving")
    }
}
