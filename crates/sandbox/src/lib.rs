//! The sandbox: a real HTTP server on loopback that stands in for the
//! Ministry of Education's Education Cloud and each county's Open ID
//! provider. It runs embedded in the app (the offline demo, 示範環境) and
//! standalone (`educloud sandbox`), and is the test double for every flow.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::{routing::get, Json, Router};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot listen: {0}")]
    Bind(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}

/// How to start a sandbox.
#[derive(Debug, Clone, Default)]
pub struct SandboxConfig {
    /// Folder for the sandbox's SQLite file and keys; `None` = in memory.
    pub data_dir: Option<PathBuf>,
    /// Loopback port; 0 = any free port.
    pub port: u16,
}

/// A running sandbox; stops when dropped.
pub struct SandboxHandle {
    base_url: Url,
    shutdown: Option<oneshot::Sender<()>>,
}

impl SandboxHandle {
    /// e.g. `http://127.0.0.1:41234/`
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts the sandbox on 127.0.0.1 and returns once it is listening.
pub async fn start(config: SandboxConfig) -> Result<SandboxHandle, SandboxError> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], config.port))).await?;
    let addr = listener.local_addr()?;
    let base_url =
        Url::parse(&format!("http://{addr}/")).map_err(|e| SandboxError::Other(e.to_string()))?;
    let app = Router::new()
        .route("/", get(|| async { "EduCloud sandbox" }))
        .route(
            "/.well-known/educloud-configuration",
            get(|| async { Json(serde_json::json!({"environment": "sandbox"})) }),
        );
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    tracing::info!(%base_url, "sandbox listening");
    Ok(SandboxHandle {
        base_url,
        shutdown: Some(tx),
    })
}
