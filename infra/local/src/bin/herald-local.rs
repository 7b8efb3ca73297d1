//! `herald-local`: runs the local stack until Ctrl-C (see the README).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    herald_api::telemetry::init();
    herald_local::stack::run(herald_local::stack::StackOptions::from_env()?).await
}
