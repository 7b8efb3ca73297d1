//! The API function: config and clients once, then serve the Router — through lambda_http in
//! Lambda, or on 127.0.0.1 (port `PORT`, default 3000) anywhere else.

use anyhow::Context as _;
use herald_api::{AppState, Config, router};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    herald_api::telemetry::init();
    let config = Config::from_env()?;
    let sdk = herald::aws::sdk_config().await?;
    let app = router(AppState::from_sdk_config(&sdk, &config)?);
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        lambda_http::run(app).await.map_err(|e| anyhow::anyhow!(e))
    } else {
        let port: u16 = std::env::var("PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(3000);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .with_context(|| format!("binding 127.0.0.1:{port}"))?;
        tracing::info!(%port, "serving the API");
        axum::serve(listener, app).await.context("serving")
    }
}
