//! The `agent-store` program as a library: configuration loading, building the app, the demo seed, and
//! [`start`], which binds the listener and serves. `main.rs` only parses the command line; integration
//! tests call [`start`] with a port-0 listener and a fresh database, so they run what ships.

pub mod bootstrap;
pub mod config;
pub mod demo;

use std::net::SocketAddr;

use agent_store_app::{App, Config};
use anyhow::Context;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server running in this process.
#[derive(Debug)]
pub struct RunningServer {
    pub addr: SocketAddr,
    pub app: App,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    worker_stop: tokio::sync::watch::Sender<bool>,
    worker: JoinHandle<()>,
}

impl RunningServer {
    /// The base URL of the server, e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop accepting connections, let in-flight requests finish, and wait for the server to end.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.task).await.context("server task failed")??;
        self.stop_worker().await;
        // Write the router's finished requests and return its leases' credit before closing.
        if let Err(err) = self.app.stop_router().await {
            tracing::warn!(error = %err, "router leases not released at shutdown; the sweeper will");
        }
        self.app.store().close().await;
        Ok(())
    }

    /// Let the worker finish its current job, then stop it.
    async fn stop_worker(&mut self) {
        let _ = self.worker_stop.send(true);
        let _ = (&mut self.worker).await;
    }

    /// Wait until the server ends (after `shutdown_signal` fires).
    pub async fn wait(mut self) -> anyhow::Result<()> {
        (&mut self.task).await.context("server task failed")??;
        self.stop_worker().await;
        // Write the router's finished requests and return its leases' credit before closing.
        if let Err(err) = self.app.stop_router().await {
            tracing::warn!(error = %err, "router leases not released at shutdown; the sweeper will");
        }
        self.app.store().close().await;
        Ok(())
    }
}

/// Bind `config.listen`, build the app, and serve until [`RunningServer::shutdown`] or, when
/// `until` is given, until it resolves.
pub async fn start(
    mut config: Config,
    until: Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>>,
) -> anyhow::Result<RunningServer> {
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    // With port 0 the real port is known only now; links must use it.
    config.listen = addr.to_string();
    let app = bootstrap::build_app(config).await?;
    let (tx, rx) = oneshot::channel::<()>();
    let shutdown = async move {
        match until {
            Some(signal) => {
                tokio::select! {
                    _ = signal => {}
                    _ = rx => {}
                }
            }
            None => {
                let _ = rx.await;
            }
        }
    };
    let task = tokio::spawn(agent_store_api::serve(listener, app.clone(), shutdown));
    let (worker_stop, stop_rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(app.clone().run_worker(stop_rx));
    Ok(RunningServer {
        addr,
        app,
        shutdown: Some(tx),
        task,
        worker_stop,
        worker,
    })
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
