//! The whole local stack: moto (unless `AWS_ENDPOINT_URL` names a running emulator), the
//! resources of template.yaml, a platform-admin key, and every function on 127.0.0.1.

use std::collections::BTreeMap;

use anyhow::Context as _;
use herald_api::{AppState, Config};

use crate::bootstrap::create_platform_key;
use crate::moto::{Moto, emulator_sdk_config};
use crate::provision::provision;
use crate::template::Template;

#[derive(Debug, Clone)]
pub struct StackOptions {
    /// `HERALD_PORT` (default 3000).
    pub api_port: u16,
    /// `HERALD_MOTO_PORT` (default: a free port).
    pub moto_port: u16,
    /// `AWS_ENDPOINT_URL`: an emulator that is already running.
    pub endpoint: Option<String>,
}

impl StackOptions {
    pub fn from_env() -> anyhow::Result<Self> {
        let port = |name: &str, default: u16| -> anyhow::Result<u16> {
            match std::env::var(name) {
                Ok(v) => v
                    .parse()
                    .with_context(|| format!("{name}={v} is not a port")),
                Err(_) => Ok(default),
            }
        };
        Ok(Self {
            api_port: port("HERALD_PORT", 3000)?,
            moto_port: port("HERALD_MOTO_PORT", 0)?,
            endpoint: std::env::var("AWS_ENDPOINT_URL")
                .ok()
                .filter(|e| !e.is_empty()),
        })
    }
}

/// Runs the stack until Ctrl-C or SIGTERM, then stops everything it started.
pub async fn run(options: StackOptions) -> anyhow::Result<()> {
    let template = Template::load_default()?;
    let moto = match &options.endpoint {
        Some(_) => None,
        None => Some(Moto::start(options.moto_port).await?),
    };
    let endpoint = options
        .endpoint
        .clone()
        .or_else(|| moto.as_ref().map(|m| m.endpoint.clone()))
        .unwrap_or_default();
    let result = serve(&template, &endpoint, options.api_port).await;
    if let Some(moto) = moto {
        moto.stop().await;
    }
    result
}

async fn serve(template: &Template, endpoint: &str, api_port: u16) -> anyhow::Result<()> {
    let sdk = emulator_sdk_config(endpoint).await;
    let prefix = format!("herald-{}", chrono::Utc::now().format("%Y%m%d%H%M%S"));
    let mut physical = provision(template, &sdk, &prefix)
        .await
        .context("creating the template's resources on the emulator")?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", api_port))
        .await
        .with_context(|| {
            format!("binding 127.0.0.1:{api_port} (set HERALD_PORT to use another port)")
        })?;
    let url = format!("http://{}", listener.local_addr()?);
    // The API's URL, as `!GetAtt HttpApi.ApiEndpoint` gives it in AWS (Twilio's status
    // callbacks are addressed to it).
    physical
        .attributes
        .insert("HttpApi.ApiEndpoint".into(), url.clone());
    let mut env: BTreeMap<String, String> =
        template.function_environment("ApiFunction", &physical)?;
    env.insert("HERALD_ALLOW_LOOPBACK_PROVIDER_URLS".into(), "1".into());
    // The local stack's explicit setting: webhook endpoints on 127.0.0.1 (a receiver next to
    // it); every other private address stays refused.
    env.insert("HERALD_ALLOW_LOOPBACK_WEBHOOK_URLS".into(), "1".into());
    env.insert("HERALD_PUBLIC_URL".into(), url.clone());
    // The API's rate limits may be set for the local stack from the environment.
    let config = Config::from_lookup(|name| {
        env.get(name).cloned().or_else(|| {
            name.starts_with("HERALD_API_")
                .then(|| std::env::var(name).ok())
                .flatten()
        })
    })?;
    let state = AppState::from_sdk_config(&sdk, &config)?;
    let pollers = crate::pollers::start_all(template, &physical, &sdk, &Default::default())?;
    let clock = crate::schedules::Clock::new(&physical, &sdk);
    let firer = crate::schedules::start(clock.clone());
    let recurring = crate::schedules::start_recurring(template, &physical, &sdk)?;
    let (key, secret) = create_platform_key(&state.store, "local platform admin").await?;
    let inbound = crate::inbound_sim::InboundSimulator::new(&physical, &sdk)?;
    println!();
    println!("Herald is running locally.");
    println!("  Console:        {url}/console   (sign in with the admin API key below)");
    println!(
        "  API:            {url}/api/v1   (reference: {url}/api/v1/reference, OpenAPI: {url}/api/v1/openapi.json)"
    );
    println!(
        "  Local outbox:   {url}/console/outbox   (every email and SMS the emulator accepted)"
    );
    println!(
        "  Inbound:        POST {url}/_local/inbound/email (a raw mail to *@{}) and /_local/inbound/sms, delivered as SES and End User Messaging would; a guest's mail: {url}/_local/outbox?to=",
        crate::provision::INBOUND_DOMAIN
    );
    println!(
        "  Schedules:      {url}/_local/schedules   (pending journey steps and escalations; POST /_local/schedules/{{name}}/fire fires one now)"
    );
    println!("  Admin API key:  {secret}   (platform_admin, {})", key.id);
    println!("  Emulated AWS:   {endpoint}   (table {})", config.table);
    for poller in &pollers {
        println!(
            "  Function:       {} (polling its SQS queue)",
            poller.function
        );
    }
    println!("Press Ctrl-C to stop.");
    println!("HERALD_API_URL={url}");
    println!("HERALD_ADMIN_KEY={secret}");
    axum::serve(listener, app(state, &url, endpoint, (inbound, clock)))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving the API")?;
    println!("Stopping Herald.");
    drop(pollers);
    drop(firer);
    drop(recurring);
    Ok(())
}

/// The API and the console on one address, as API Gateway routes them in AWS (`/console/*`,
/// `/` and `/api/v1` to the console function, everything else to the API function), with the
/// local outbox page, the inbound simulator and the schedules' clock.
pub fn app(
    state: AppState,
    public_url: &str,
    endpoint: &str,
    (inbound, clock): (
        crate::inbound_sim::InboundSimulator,
        crate::schedules::Clock,
    ),
) -> axum::Router {
    let console = herald_console::ConsoleState::new(state.clone(), Some(public_url));
    let console = herald_console::finish(
        herald_console::routes().merge(crate::outbox::routes(endpoint.to_owned())),
        console,
    );
    // The console's fallback answers what neither has; the API's routes go first.
    console
        .merge(herald_api::router(state))
        .merge(inbound.routes())
        .merge(clock.routes())
        .merge(crate::outbox::mailbox(endpoint.to_owned()))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
