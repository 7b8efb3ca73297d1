//! A TCP proxy between Herald's AWS clients and the emulator, for fault-injection tests: AWS
//! unreachable for a while, as Herald would see it.
//!
//! - [`Mode::Pass`]: every byte forwarded both ways.
//! - [`Mode::Refuse`]: new connections are closed at once, before a byte is read.
//! - [`Mode::Stall`]: new connections are accepted and never answered.
//!
//! In either fault mode, connections already open stop carrying requests: nothing more is read
//! from Herald's side, while answers to requests the emulator already has still come back.
//! When the proxy passes traffic again those connections are closed once the emulator has
//! answered what it received (never resumed), so a request its client gave up on cannot reach
//! the emulator late. A request either reached the emulator whole before the fault, and its
//! answer comes back, or it did not reach it at all: this is AWS unreachable, not a network
//! that loses answers to requests AWS carried out (which no client of SES's SendEmail, which
//! takes no idempotency key, can tell from a request that never arrived).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long a cut connection waits for the emulator's answer to what it received.
const ANSWER_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pass,
    Refuse,
    Stall,
}

/// What the proxy did, for a test's report.
#[derive(Debug, Default)]
pub struct ProxyCounts {
    pub connections: AtomicU64,
    pub refused: AtomicU64,
    pub stalled: AtomicU64,
    /// Open connections cut when a fault began and closed when it ended.
    pub cut: AtomicU64,
}

pub struct FaultProxy {
    /// `http://127.0.0.1:{port}`: the endpoint to give Herald's clients.
    pub endpoint: String,
    pub counts: Arc<ProxyCounts>,
    mode: watch::Sender<Mode>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts passing traffic to `upstream` (`http://127.0.0.1:{port}`).
    pub async fn start(upstream: &str) -> anyhow::Result<Self> {
        let target = upstream
            .strip_prefix("http://")
            .context("the upstream must be http://host:port")?
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("binding the fault proxy")?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let (mode, _) = watch::channel(Mode::Pass);
        let counts = Arc::new(ProxyCounts::default());
        let task = tokio::spawn(accept(listener, target, mode.clone(), counts.clone()));
        Ok(Self {
            endpoint,
            counts,
            mode,
            task,
        })
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    pub fn mode(&self) -> Mode {
        *self.mode.borrow()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(
    listener: TcpListener,
    target: String,
    mode: watch::Sender<Mode>,
    counts: Arc<ProxyCounts>,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        counts.connections.fetch_add(1, Ordering::Relaxed);
        let now = *mode.borrow();
        match now {
            Mode::Refuse => {
                counts.refused.fetch_add(1, Ordering::Relaxed);
                drop(client);
            }
            Mode::Stall => {
                counts.stalled.fetch_add(1, Ordering::Relaxed);
                let mut rx = mode.subscribe();
                // Held unread until the fault ends, then closed.
                tokio::spawn(async move {
                    let _held = client;
                    let _ = rx.wait_for(|m| *m == Mode::Pass).await;
                });
            }
            Mode::Pass => {
                tokio::spawn(forward(
                    client,
                    target.clone(),
                    mode.subscribe(),
                    counts.clone(),
                ));
            }
        }
    }
}

async fn forward(
    client: TcpStream,
    target: String,
    mut mode: watch::Receiver<Mode>,
    counts: Arc<ProxyCounts>,
) {
    let Ok(server) = TcpStream::connect(&target).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    // Answers flow back whatever the mode.
    let answers = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    });
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if *mode.borrow_and_update() != Mode::Pass {
            counts.cut.fetch_add(1, Ordering::Relaxed);
            let _ = mode.wait_for(|m| *m == Mode::Pass).await;
            // The emulator finishes what it received whole and closes; the answer still
            // reaches the client (a partial request it never completes).
            let _ = server_write.shutdown().await;
            if tokio::time::timeout(ANSWER_GRACE, answers).await.is_err() {
                tracing::warn!("the emulator kept a cut connection open; closed");
            }
            return;
        }
        tokio::select! {
            read = client_read.read(&mut buf) => match read {
                Ok(0) | Err(_) => {
                    let _ = server_write.shutdown().await;
                    let _ = answers.await;
                    return;
                }
                Ok(n) => {
                    if server_write.write_all(&buf[..n]).await.is_err() {
                        answers.abort();
                        return;
                    }
                }
            },
            changed = mode.changed() => {
                if changed.is_err() {
                    answers.abort();
                    return;
                }
            }
        }
    }
}
