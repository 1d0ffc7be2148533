//! HTTPS for the sandbox (`educloud sandbox --tls`): a certificate
//! authority it makes itself (rcgen), a server certificate from it for
//! `127.0.0.1`, `localhost` and `[::1]`, and a listener that does the TLS
//! handshakes (tokio-rustls, ring) before axum sees a connection.
//!
//! Files, in the data folder (or a temporary folder removed when the
//! sandbox stops, when it runs in memory):
//! - `sandbox-ca.pem` — the CA certificate to trust (what `CA <path>` names);
//! - `sandbox-ca-key.pem` — its key (owner-only), so a data folder keeps one
//!   CA across restarts: trust it once;
//! - the server certificate and its key are made anew at every start and
//!   kept in memory only.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::SandboxError;

/// The CA certificate's file name in the data (or temporary) folder.
pub const CA_FILE: &str = "sandbox-ca.pem";
/// The CA key's file name (owner-only permissions where the OS has them).
pub const CA_KEY_FILE: &str = "sandbox-ca-key.pem";
/// A handshake that takes longer than this is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The CA's subject; the same name and key make the same issuer again.
const CA_NAME: &str = "EduCloud Sandbox Local CA (test only)";

/// What a TLS sandbox serves with, and where its CA is.
pub(crate) struct TlsSetup {
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) ca_path: PathBuf,
    pub(crate) ca_pem: String,
    /// Keeps the temporary folder (in-memory sandboxes) until the stop.
    pub(crate) _temp: Option<tempfile::TempDir>,
}

fn tls_err(what: &str) -> impl Fn(rcgen::Error) -> SandboxError + '_ {
    move |e| SandboxError::Tls(format!("{what}: {e}"))
}

fn ca_params() -> Result<CertificateParams, SandboxError> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(tls_err("CA"))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_NAME);
    dn.push(DnType::OrganizationName, "EduCloud Desktop sandbox");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(p)
}

fn write_private(path: &Path, text: &str) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        f.write_all(text.as_bytes())
    }
    #[cfg(not(unix))]
    {
        std::fs::write(path, text)
    }
}

/// The CA of `dir`: loaded when both files are there and readable, else
/// made anew and written. Returns the issuer and the CA certificate's PEM.
fn load_or_make_ca(dir: &Path) -> Result<(Issuer<'static, KeyPair>, String), SandboxError> {
    let ca_path = dir.join(CA_FILE);
    let key_path = dir.join(CA_KEY_FILE);
    let io_err = |what: &str, e: io::Error| SandboxError::Tls(format!("{what}: {e}"));
    if let (Ok(pem), Ok(key_pem)) = (
        std::fs::read_to_string(&ca_path),
        std::fs::read_to_string(&key_path),
    ) {
        if let Ok(key) = KeyPair::from_pem(&key_pem) {
            tracing::info!(path = %ca_path.display(), "sandbox CA loaded");
            return Ok((Issuer::new(ca_params()?, key), pem));
        }
        tracing::warn!(path = %key_path.display(), "unreadable sandbox CA key: making a new CA");
    }
    let key = KeyPair::generate().map_err(tls_err("CA key"))?;
    let params = ca_params()?;
    let cert = params
        .self_signed(&key)
        .map_err(tls_err("CA certificate"))?;
    let pem = cert.pem();
    std::fs::create_dir_all(dir).map_err(|e| io_err("TLS folder", e))?;
    write_private(&key_path, &key.serialize_pem()).map_err(|e| io_err("CA key file", e))?;
    std::fs::write(&ca_path, &pem).map_err(|e| io_err("CA file", e))?;
    tracing::info!(path = %ca_path.display(), "sandbox CA made");
    Ok((Issuer::new(params, key), pem))
}

/// Makes (or loads) the CA in `data_dir` (a temporary folder when `None`)
/// and a fresh server certificate for the loopback names.
pub(crate) fn prepare(data_dir: Option<&Path>) -> Result<TlsSetup, SandboxError> {
    let (dir, temp) = match data_dir {
        Some(d) => (d.to_path_buf(), None),
        None => {
            let t = tempfile::Builder::new()
                .prefix("educloud-sandbox-tls-")
                .tempdir()
                .map_err(|e| SandboxError::Tls(format!("temporary folder: {e}")))?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let (issuer, ca_pem) = load_or_make_ca(&dir)?;
    let server_key = KeyPair::generate().map_err(tls_err("server key"))?;
    let mut sp = CertificateParams::new(Vec::<String>::new()).map_err(tls_err("server"))?;
    sp.distinguished_name
        .push(DnType::CommonName, "EduCloud Sandbox (127.0.0.1)");
    sp.subject_alt_names = vec![
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        SanType::DnsName(
            "localhost"
                .to_string()
                .try_into()
                .map_err(tls_err("server name"))?,
        ),
    ];
    sp.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    sp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    sp.use_authority_key_identifier_extension = true;
    let server_cert = sp
        .signed_by(&server_key, &issuer)
        .map_err(tls_err("server certificate"))?;
    let chain: Vec<CertificateDer<'static>> = vec![server_cert.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SandboxError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| SandboxError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsSetup {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        ca_path: dir.join(CA_FILE),
        ca_pem,
        _temp: temp,
    })
}

/// An axum listener of finished TLS connections: a task accepts TCP and
/// runs each handshake on its own task (a slow or silent client holds up
/// nobody), handing the ready streams over a channel.
pub(crate) struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    acceptor_task: JoinHandle<()>,
}

impl TlsListener {
    pub(crate) fn new(tcp: TcpListener, acceptor: TlsAcceptor) -> io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, rx) = mpsc::channel(256);
        let acceptor_task = tokio::spawn(async move {
            loop {
                let (stream, peer) = tokio::select! {
                    r = tcp.accept() => match r {
                        Ok(c) => c,
                        Err(e) => {
                            tracing::debug!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            continue;
                        }
                    },
                    () = tx.closed() => return,
                };
                let (tx, acceptor) = (tx.clone(), acceptor.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener {
            rx,
            local,
            acceptor_task,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        // Closes the TCP listener with the server.
        self.acceptor_task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(conn) => conn,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}
