//! The sandbox: a real HTTP server on loopback that stands in for the
//! Ministry of Education's Education Cloud and each county's Open ID
//! provider. It runs embedded in the app (the offline demo, 示範環境) and
//! standalone (`educloud sandbox`), and is the test double for every flow.
//!
//! # Composition
//!
//! [`start`] binds `127.0.0.1:{port}`, derives the base URL
//! (`http://127.0.0.1:PORT/`, `https://…` with [`SandboxConfig::tls`], or
//! the [`SandboxConfig::public_url`] it advertises behind a reverse proxy)
//! and builds one axum [`Router`] from:
//! - `GET /` — the sandbox home page ([`home`]): environment, counties and
//!   their issuers, demo users and passwords, link to `/outbox`;
//! - [`idp::router`] — every county IdP under `/idp/{code}/…`, sharing one
//!   [`idp::IdpRegistry`] (keys, demo users, grants, test clock);
//! - the Education Cloud half (`crate::cloud`), mounted with
//!   `.merge(cloud.router())` once it exists; it reaches the county IdPs only
//!   through the registry's public API.
//!
//! # The IdP API the Education Cloud half calls
//!
//! - [`idp::IdpRegistry::verify_id_token`]`(county, token, expected_aud) ->
//!   Result<`[`idp::CountyClaims`]`, `[`idp::IdpError`]`>` — RS256 signature
//!   with the county's published keys (`kid` required), `iss` = the county's
//!   issuer, `aud` ∋ `expected_aud`, `azp`, `exp` (registry clock); returns
//!   sub / name / email / role / title / school and a `token_id` (the `jti`)
//!   for replay detection.
//! - [`idp::IdpRegistry::identity_for_access_token`]`(county, token,
//!   expected_client)` — the Taipei profile's identity behind an access
//!   token (what `/api/user` and `/api/profile` return), only for a token
//!   issued to `expected_client`; same result type.
//! - [`idp::IdpRegistry::demo_user`] / [`idp::DemoUser::subject_for`] — to
//!   seed the `{code}bound` accounts with the `sub` the desktop client sees.
//! - [`idp::IdpRegistry::mint_id_token`] / [`idp::IdpRegistry::mint_access_token`]
//!   — test support: tokens as a login would issue them, without the form.
//!
//! Error codes ([`idp::IdpError::code`]): `token.invalid`, `token.expired`,
//! `idp.unknown_county`, `idp.wrong_profile`, `idp.keys`.

pub mod cloud;
pub mod idp;
pub mod outbox;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod tls;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::{routing::get, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use url::Url;

use idp::{IdpOptions, IdpRegistry};

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot listen: {0}")]
    Bind(#[from] std::io::Error),
    #[error("county IdPs: {0}")]
    Idp(#[from] idp::IdpError),
    #[error("education cloud: {0}")]
    Cloud(#[from] cloud::CloudError),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("{0}")]
    Other(String),
}

impl SandboxError {
    /// Stable machine code (`area.reason`).
    pub fn code(&self) -> &'static str {
        match self {
            SandboxError::Bind(_) => "sandbox.bind",
            SandboxError::Idp(e) => e.code(),
            SandboxError::Cloud(e) => e.code(),
            SandboxError::Tls(_) => "sandbox.tls",
            SandboxError::Config(_) => "sandbox.config",
            SandboxError::Other(_) => "sandbox.other",
        }
    }
}

/// How to start a sandbox.
#[derive(Debug, Clone, Default)]
pub struct SandboxConfig {
    /// Folder for the sandbox's SQLite file and keys; `None` = in memory.
    pub data_dir: Option<PathBuf>,
    /// Loopback port; 0 = any free port.
    pub port: u16,
    /// Also deliver the outbox's mail through this SMTP server
    /// (`smtp://host:port`, `smtps://user:pass@host`, see lettre's
    /// `from_url`); `None` = outbox only.
    pub smtp: Option<String>,
    /// Serve HTTPS with a CA the sandbox makes ([`tls`]): its certificate
    /// is written to `data_dir` (a temporary folder when in memory) and
    /// named by [`SandboxHandle::ca_cert_path`].
    pub tls: bool,
    /// The base URL to advertise instead of the listening one (service
    /// configuration, county issuers and endpoints, page links, mails), for
    /// a sandbox behind a TLS-terminating reverse proxy that forwards a
    /// whole origin: `http(s)://host[:port]/`, no path, query, fragment or
    /// credentials (else `sandbox.config`).
    pub public_url: Option<Url>,
}

/// `public_url` checked as a base: an http(s) origin.
fn public_base(u: &Url) -> Result<Url, SandboxError> {
    if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
        return Err(SandboxError::Config(format!(
            "public URL must be http(s)://host/…: {u}"
        )));
    }
    if u.query().is_some()
        || u.fragment().is_some()
        || !u.username().is_empty()
        || u.password().is_some()
    {
        return Err(SandboxError::Config(format!(
            "public URL must have no query, fragment or credentials: {u}"
        )));
    }
    // The sandbox's pages link root-relative (`/idp/ntpc/login`): the
    // proxy forwards a whole origin, not a sub-path.
    if !matches!(u.path(), "" | "/") {
        return Err(SandboxError::Config(format!(
            "public URL must be an origin (no path), as the proxy forwards / to the sandbox: {u}"
        )));
    }
    let base = u.clone();
    Ok(base)
}

/// A running sandbox; stops when dropped.
pub struct SandboxHandle {
    base_url: Url,
    local_url: Url,
    tls: Option<tls::TlsSetup>,
    idp: Arc<IdpRegistry>,
    cloud: Arc<cloud::Cloud>,
    #[cfg(feature = "testkit")]
    traffic: Arc<testkit::Traffic>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl SandboxHandle {
    /// The base URL the sandbox advertises, e.g. `http://127.0.0.1:41234/`
    /// (`https://…` with [`SandboxConfig::tls`]; the
    /// [`SandboxConfig::public_url`] when one is set).
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// Where the sandbox really listens, e.g. `https://127.0.0.1:41234/`
    /// (the same as [`Self::base_url`] unless a public URL is set).
    pub fn local_url(&self) -> &Url {
        &self.local_url
    }

    /// The CA certificate file (PEM) to trust, with [`SandboxConfig::tls`].
    pub fn ca_cert_path(&self) -> Option<&std::path::Path> {
        self.tls.as_ref().map(|t| t.ca_path.as_path())
    }

    /// The CA certificate (PEM), with [`SandboxConfig::tls`].
    pub fn ca_cert_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.ca_pem.as_str())
    }

    /// The county IdPs of this sandbox (for tests: verify or mint county
    /// tokens, rotate keys, advance the IdP clock).
    pub fn idp(&self) -> &Arc<IdpRegistry> {
        &self.idp
    }

    /// The Education Cloud of this sandbox (for tests: its clock, outbox).
    pub fn cloud(&self) -> &Arc<cloud::Cloud> {
        &self.cloud
    }

    /// Every `/api…` request this sandbox answered and its answer (feature
    /// `testkit`; the last [`testkit::TRAFFIC_KEPT`]).
    #[cfg(feature = "testkit")]
    pub fn traffic(&self) -> &Arc<testkit::Traffic> {
        &self.traffic
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts the sandbox on 127.0.0.1 and returns once it is listening (and
/// the county IdPs' signing key is loaded or generated).
pub async fn start(config: SandboxConfig) -> Result<SandboxHandle, SandboxError> {
    // A deep accept backlog: 200 simultaneous sign-ins (the load benchmark,
    // a classroom) overflow the default 128 and wait for SYN retransmits.
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], config.port)))?;
    let listener: TcpListener = socket.listen(1024)?;
    let addr = listener.local_addr()?;
    let scheme = if config.tls { "https" } else { "http" };
    let local_url = Url::parse(&format!("{scheme}://{addr}/"))
        .map_err(|e| SandboxError::Other(e.to_string()))?;
    let base_url = match &config.public_url {
        Some(u) => public_base(u)?,
        None => local_url.clone(),
    };
    let tls = if config.tls {
        Some(tls::prepare(config.data_dir.as_deref())?)
    } else {
        None
    };
    let idp = IdpRegistry::start(
        &base_url,
        IdpOptions {
            data_dir: config.data_dir.clone(),
        },
    )
    .await?;
    let cloud = cloud::Cloud::open(cloud::CloudConfig {
        base_url: base_url.clone(),
        data_dir: config.data_dir.clone(),
        smtp: config.smtp.clone(),
        counties: Arc::clone(&idp) as Arc<dyn cloud::CountyVerifier>,
    })?;
    let app = Router::new()
        .route("/", get(home))
        .with_state(Arc::clone(&idp))
        .merge(idp::router(Arc::clone(&idp)))
        .merge(cloud.router());
    #[cfg(feature = "testkit")]
    let traffic = Arc::new(testkit::Traffic::default());
    #[cfg(feature = "testkit")]
    let app = app.layer(axum::middleware::from_fn_with_state(
        Arc::clone(&traffic),
        testkit::record,
    ));
    let (tx, rx) = oneshot::channel::<()>();
    // Connect info gives the cloud the client address (per-address
    // sign-in throttling).
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    let shutdown = async {
        let _ = rx.await;
    };
    match &tls {
        Some(t) => {
            use axum::serve::ListenerExt as _;
            let listener = tls::TlsListener::new(listener, t.acceptor.clone())?.tap_io(|_| {});
            tokio::spawn(async move {
                let _ = axum::serve(listener, service)
                    .with_graceful_shutdown(shutdown)
                    .await;
            });
        }
        None => {
            tokio::spawn(async move {
                let _ = axum::serve(listener, service)
                    .with_graceful_shutdown(shutdown)
                    .await;
            });
        }
    }
    tracing::info!(%base_url, %local_url, "sandbox listening");
    Ok(SandboxHandle {
        base_url,
        local_url,
        tls,
        idp,
        cloud,
        #[cfg(feature = "testkit")]
        traffic,
        shutdown: Some(tx),
    })
}

/// `GET /`: what this sandbox offers and how to sign in to it.
pub async fn home(State(idp): State<Arc<IdpRegistry>>) -> Response {
    let base = idp.base_url().as_str();
    let e = idp::escape_html;
    let mut counties = String::new();
    for (info, issuer) in idp.counties() {
        let meta = idp::profile::endpoints(info.profile).metadata;
        let _ = write!(
            counties,
            "<tr><td><code>{code}</code></td><td>{zh}<br><span class=\"en\">{en}</span></td>\
<td><code>{profile:?}</code></td><td><a href=\"{issuer}{meta}\"><code>{issuer}</code></a></td></tr>",
            code = e(info.code),
            zh = e(info.name_zh),
            en = e(info.name_en),
            profile = info.profile,
            issuer = e(issuer),
            meta = e(meta),
        );
    }
    let mut users = String::new();
    for u in idp
        .demo_users()
        .filter(|u| matches!(u.county, "ntpc" | "kh" | "tp" | "moe"))
    {
        let _ = write!(
            users,
            "<tr><td><code>{user}</code></td><td>{name}</td><td>{role} / {title}</td><td>{school}</td><td>{bound}</td></tr>",
            user = e(&u.username),
            name = e(u.name),
            role = e(u.role),
            title = e(u.title),
            school = e(&format!("{} {}", u.school_id, u.school_name)),
            bound = e(u.bound_account.as_deref().unwrap_or("—")),
        );
    }
    let body = format!(
        "<!doctype html>\n<html lang=\"zh-Hant-TW\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>EduCloud 示範環境 · Sandbox</title><style>{css}</style></head><body>\
<h1>EduCloud 示範環境 <span class=\"en\">Sandbox</span></h1>\
<p>本機模擬的教育雲與縣市 Open ID 登入服務，僅供測試與示範；所有帳號與密碼都是假的。\
<br><span class=\"en\">A local stand-in for Education Cloud and the county Open ID providers, for tests and demos only; every account and password here is fake.</span></p>\
<ul><li>Base URL: <code>{base}</code></li>\
<li><a href=\"{base}.well-known/educloud-configuration\">服務設定 Service configuration</a></li>\
<li><a href=\"{base}api/openapi.yaml\">OpenAPI</a></li>\
<li><a id=\"outbox\" href=\"{base}outbox\">寄件匣 Outbox</a>（示範環境寄出的所有信件 / every mail the sandbox sends）</li></ul>\
<h2>示範帳號 <span class=\"en\">Demo accounts</span></h2>\
<p>每個縣市都有 <code>{{code}}test</code>（教師 / 專任教師）、<code>{{code}}staff</code>（職員）、<code>{{code}}student</code>（學生）、\
<code>{{code}}bound</code>（教師，已綁定 <code>{{code}}bound@mail.edu.tw</code>），縣市密碼皆為 <code id=\"demo-password\">{pw}</code>。\
<br><span class=\"en\">Every county has these users; the county password is always <code>{pw}</code>.</span></p>\
<p>教育雲帳號 Education Cloud accounts: <code>{{code}}bound@mail.edu.tw</code>、<code>parent.demo@example.com</code>（已啟用 active）、\
<code>pending.demo@example.com</code>（未啟用 pending）— 密碼 password <code>{cloud_pw}</code>.</p>\
<p>OAuth client: <code>{client}</code>（public + PKCE S256；或 client secret <code>{secret}</code>）；redirect URI \
<code>http://127.0.0.1:{{port}}/callback/{{code}}</code> / <code>http://[::1]:{{port}}/callback/{{code}}</code>.</p>\
<table><thead><tr><th>帳號 Account</th><th>姓名 Name</th><th>身分 / 職稱</th><th>學校 School</th><th>已綁定 Bound to</th></tr></thead>\
<tbody>{users}</tbody></table>\
<h2>縣市 Open ID <span class=\"en\">County IdPs</span></h2>\
<table><thead><tr><th>Code</th><th>縣市</th><th>Profile</th><th>Issuer</th></tr></thead><tbody>{counties}</tbody></table>\
</body></html>\n",
        css = HOME_CSS,
        base = e(base),
        pw = idp::DEMO_PASSWORD,
        cloud_pw = idp::DEMO_CLOUD_PASSWORD,
        client = idp::CLIENT_ID,
        secret = idp::SANDBOX_CLIENT_SECRET,
    );
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&format!(
            "default-src 'none'; style-src 'sha256-{}'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            STANDARD.encode(Sha256::digest(HOME_CSS.as_bytes()))
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'")),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

const HOME_CSS: &str = "body{font-family:\"Noto Sans TC\",sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;color:#1d2733}\
table{border-collapse:collapse;width:100%;margin:1rem 0}th,td{border:1px solid #cfd8e3;padding:.35rem .5rem;text-align:left;vertical-align:top}\
th{background:#eef2f6}.en{color:#5b6b7c;font-size:.9em}code{font-size:.95em}";
