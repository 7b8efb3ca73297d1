//! The local AWS emulator: moto in server mode on 127.0.0.1, started from the project's `.venv`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::process::{Child, Command};

/// A moto server this process started; stopped (by its PID) on `stop` or drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts moto on `port` (0: a free port) and waits until it answers.
    pub async fn start(port: u16) -> anyhow::Result<Self> {
        let port = if port == 0 { free_port()? } else { port };
        // moto behind a launcher that applies DynamoDB requests one at a time, as DynamoDB's
        // conditional writes are atomic and moto's threaded server's are not.
        let root = crate::template::workspace_root();
        let (bin, mut args) = match std::env::var("HERALD_MOTO_BIN") {
            Ok(bin) => (std::path::PathBuf::from(bin), vec![]),
            Err(_) => (
                root.join(".venv/bin/python"),
                vec![
                    root.join("infra/local/moto_server.py")
                        .display()
                        .to_string(),
                ],
            ),
        };
        if !bin.exists() {
            bail!(
                "{} not found: run `make venv` (or `make run`) first",
                bin.display()
            );
        }
        args.extend([
            "-H".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
        ]);
        let child = Command::new(&bin)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        moto.wait_ready(port).await?;
        Ok(moto)
    }

    async fn wait_ready(&self, port: u16) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("moto did not start listening on 127.0.0.1:{port} within 30 s")
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Stops moto and waits for it to exit.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// SDK configuration for the emulator at `endpoint`, with dummy credentials. (No request
/// timeouts: the emulator can take seconds under load where AWS takes milliseconds.)
pub async fn emulator_sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    emulator_loader(endpoint).load().await
}

/// As [`emulator_sdk_config`], with production's request timeouts (`herald::aws::timeouts`),
/// for fault-injection tests that stall connections.
pub async fn production_timeouts_sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    emulator_loader(endpoint)
        .timeout_config(herald::aws::timeouts())
        .load()
        .await
}

fn emulator_loader(endpoint: &str) -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(herald::aws::AwsHttpClient::new(herald::aws::AwsTrust::Amazon).shared())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "herald-local",
        ))
}
