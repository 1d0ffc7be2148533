//! The app's one HTTP setup: every outgoing request of the app (the
//! Education Cloud API, the county identity providers, the update manifest)
//! goes through a client built by [`http_client`], and every answer body is
//! read through [`read_limited`] with a cap fit for what it is ([`limits`]).
//!
//! - No redirect is ever followed (`redirect::Policy::none()`): a 3xx answer
//!   is an error, so a token or password never travels to a host we did not
//!   choose (RFC 9700 §4.11).
//! - Bounded time: [`CONNECT_TIMEOUT`] to connect, [`REQUEST_TIMEOUT`] for
//!   the whole request including its body.
//! - Trust: the operating system's certificate store plus the policy's
//!   `ExtraCaCertificates` ([`tls`]).
//! - Proxy: the policy's `ProxyUrl`/`ProxyBypass`, else the system's
//!   ([`proxy`]).
//! - Errors: [`transport_error`] names certificate problems
//!   (`network.tls_*`) and proxy refusals (`network.proxy_*`) before it
//!   falls back to `network.unreachable`.

pub mod probe;
pub mod proxy;
pub mod tls;

use reqwest::Response;

pub use tls::TlsProblem;

use crate::policy::Policy;
use crate::{CoreError, Result};

use std::time::Duration;

/// Time allowed to open a TCP/TLS connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for a whole request (headers and body).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Size caps for answer bodies, by what is read. Each is far above what a
/// real server sends and far below what hurts: a hostile or broken server
/// that streams an endless answer is cut off at the cap with
/// `network.response_too_large`.
pub mod limits {
    /// An Education Cloud API answer (account, terms, registration …).
    pub const API: u64 = 1024 * 1024;
    /// `/.well-known/educloud-configuration` (22 counties and their words).
    pub const CONFIGURATION: u64 = 256 * 1024;
    /// An error answer (RFC 9457 problem document or an HTML error page).
    pub const PROBLEM: u64 = 64 * 1024;
    /// OpenID discovery / OAuth metadata documents.
    pub const DISCOVERY: u64 = 256 * 1024;
    /// A JSON Web Key Set.
    pub const JWKS: u64 = 256 * 1024;
    /// A token endpoint answer.
    pub const TOKEN: u64 = 64 * 1024;
    /// A UserInfo / eduinfo / profile answer.
    pub const USERINFO: u64 = 256 * 1024;
    /// The updater's `latest.json`.
    pub const UPDATE_MANIFEST: u64 = 256 * 1024;
    /// An update package (installer / app bundle / AppImage).
    pub const UPDATE_PACKAGE: u64 = 256 * 1024 * 1024;
}

/// The user agent of every request.
pub const USER_AGENT: &str = concat!("EduCloudDesktop/", env!("CARGO_PKG_VERSION"));

/// Builds the app's HTTP client: no redirects, bounded time, the OS trust
/// store plus the policy's CAs, the proxy choice. Used by the Education
/// Cloud client ([`crate::api::EduCloudClient`]), the county sign-in
/// ([`crate::oidc`]) and the update check.
pub fn http_client(policy: &Policy) -> Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(USER_AGENT);
    let builder = apply_network(policy, builder)?;
    builder
        .build()
        .map_err(|e| CoreError::Internal(format!("HTTP client: {e}")))
}

/// Adds the trust (the OS store plus `ExtraCaCertificates`) and the proxy
/// choice (`ProxyUrl`/`ProxyBypass`, else the system's) to an HTTP client.
/// A broken value is an error rather than a silent fallback to a direct,
/// unfiltered connection.
pub fn apply_network(
    policy: &Policy,
    builder: reqwest::ClientBuilder,
) -> Result<reqwest::ClientBuilder> {
    let builder = proxy::apply(policy, builder)?;
    let config = tls::client_config(policy)?;
    Ok(builder.use_preconfigured_tls((*config).clone()))
}

/// A client for public downloads that carry no secret (the update
/// manifest): the same trust, proxy and time limits as [`http_client`], but
/// it follows up to 5 redirects, to `https` URLs only (GitHub's release
/// downloads redirect to its CDN).
pub fn download_client(policy: &Policy) -> Result<reqwest::Client> {
    let redirects = reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= 5 {
            attempt.error("too many redirects")
        } else if attempt.url().scheme() != "https" {
            attempt.error("refused a redirect away from https")
        } else {
            attempt.follow()
        }
    });
    let builder = reqwest::Client::builder()
        .redirect(redirects)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(USER_AGENT);
    apply_network(policy, builder)?
        .build()
        .map_err(|e| CoreError::Internal(format!("HTTP client: {e}")))
}

/// Fetches the updater's manifest (`latest.json`) with [`download_client`],
/// at most [`limits::UPDATE_MANIFEST`] bytes, and checks it is a JSON
/// object with a `version`. The updater calls this before it lets
/// tauri-plugin-updater (which reads whole answers) fetch the same URL.
pub async fn fetch_update_manifest(
    http: &reqwest::Client,
    url: &url::Url,
) -> Result<serde_json::Value> {
    let resp = http
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(transport_error)?;
    let host = resp.url().host_str().unwrap_or("the server").to_string();
    if let Some(e) = proxy_status_error(&resp) {
        return Err(e);
    }
    let status = resp.status();
    if status == reqwest::StatusCode::NO_CONTENT {
        return Ok(serde_json::Value::Null);
    }
    if !status.is_success() {
        return Err(CoreError::BadResponse {
            what: host,
            detail: format!("update manifest: HTTP {status}"),
        });
    }
    let body = read_limited(resp, limits::UPDATE_MANIFEST, "the update manifest").await?;
    let value: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| CoreError::BadResponse {
            what: host.clone(),
            detail: format!("update manifest: {e}"),
        })?;
    if value.get("version").and_then(|v| v.as_str()).is_none() {
        return Err(CoreError::BadResponse {
            what: host,
            detail: "update manifest without a version".into(),
        });
    }
    Ok(value)
}

pub(crate) fn invalid(key: &str, detail: String) -> CoreError {
    CoreError::PolicyInvalid {
        source_name: key.to_string(),
        detail,
    }
}

/// A request that failed before an answer came, in words: a refused
/// certificate is `network.tls_*` (never the network's fault), a proxy
/// that wants a password `network.proxy_auth`, no answer in time
/// `network.timed_out`, a body cut short `network.bad_response`, anything
/// else `network.unreachable`. `what`
/// names the server for the words (its host when `None`).
pub fn transport_error_for(e: &reqwest::Error, what: Option<&str>) -> CoreError {
    let what = what.map(str::to_string).unwrap_or_else(|| {
        e.url()
            .and_then(|u| u.host_str())
            .unwrap_or("the server")
            .to_string()
    });
    let detail = educloud_contract::text::error_chain(e);
    if let Some((problem, words)) = tls::classify(e) {
        return CoreError::Tls {
            what,
            problem,
            detail: words,
        };
    }
    // hyper-util's CONNECT tunnel errors ("tunnel error: …") are not public
    // types: their words are what can be matched.
    if detail.contains("tunnel error: proxy authorization required") {
        return CoreError::Proxy {
            what,
            auth: true,
            detail,
        };
    }
    if detail.contains("tunnel error:") {
        return CoreError::Proxy {
            what,
            auth: false,
            detail,
        };
    }
    if e.is_timeout() {
        return CoreError::NetworkTimedOut { what };
    }
    if e.is_decode() || e.is_body() {
        CoreError::BadResponse { what, detail }
    } else {
        CoreError::Unreachable { what, detail }
    }
}

/// [`transport_error_for`] naming the request's host.
pub fn transport_error(e: reqwest::Error) -> CoreError {
    transport_error_for(&e, None)
}

/// An answer a proxy gave instead of the server's (plain-HTTP requests):
/// 407 means the proxy wants a (different) user name and password.
pub fn proxy_status_error(resp: &Response) -> Option<CoreError> {
    (resp.status() == reqwest::StatusCode::PROXY_AUTHENTICATION_REQUIRED).then(|| {
        CoreError::Proxy {
            what: resp.url().host_str().unwrap_or("the server").to_string(),
            auth: true,
            detail: "HTTP 407 Proxy Authentication Required".into(),
        }
    })
}

/// Reads a whole answer body, at most `limit` bytes. A `Content-Length`
/// above the cap fails before anything is read; a body without one (or one
/// that lies) fails as soon as the bytes read pass the cap, so memory never
/// grows past `limit` plus one chunk. `what` names the document for the
/// error's words ("the service configuration").
///
/// Errors: `network.response_too_large`; a broken transfer is
/// `network.bad_response`, a timeout `network.unreachable`.
pub async fn read_limited(mut resp: Response, limit: u64, what: &str) -> Result<Vec<u8>> {
    let host = resp.url().host_str().unwrap_or("the server").to_string();
    let too_large = || CoreError::ResponseTooLarge {
        what: what.to_string(),
        host: host.clone(),
        limit,
    };
    let declared = resp.content_length();
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    // Reserve what is declared (already checked against the cap), a little
    // otherwise.
    let initial = declared.unwrap_or(8 * 1024).min(limit);
    let mut body = Vec::with_capacity(usize::try_from(initial).unwrap_or(0));
    while let Some(chunk) = resp.chunk().await.map_err(transport_error)? {
        if (body.len() as u64).saturating_add(chunk.len() as u64) > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A loopback server answering every connection with `head` then, if
    /// `endless`, chunks of 64 KiB forever (chunked encoding); it stops when
    /// the test's runtime ends.
    pub(crate) async fn server(
        head: &'static str,
        endless: bool,
    ) -> (url::Url, std::sync::Arc<std::sync::atomic::AtomicU64>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = sent.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = sock.read(&mut buf).await;
                    if sock.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    if !endless {
                        return;
                    }
                    let chunk = vec![b'x'; 64 * 1024];
                    let frame =
                        [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
                    while sock.write_all(&frame).await.is_ok() {
                        counter.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    }
                });
            }
        });
        (url, sent)
    }

    #[tokio::test]
    async fn an_endless_body_stops_at_the_cap() {
        let (url, sent) = server(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
            true,
        )
        .await;
        let http = http_client(&Policy::default()).unwrap();
        let started = std::time::Instant::now();
        let resp = http.get(url).send().await.unwrap();
        let err = read_limited(resp, 1024 * 1024, "a test document")
            .await
            .unwrap_err();
        assert_eq!(err.code(), "network.response_too_large");
        assert!(err.to_string().contains("a test document"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
        // The reader stopped soon after the cap, not at the 30 s timeout.
        assert!(sent.load(std::sync::atomic::Ordering::Relaxed) < 64 * 1024 * 1024);
    }

    #[tokio::test]
    async fn an_endless_update_manifest_stops_at_its_cap() {
        let (url, _) = server(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
            true,
        )
        .await;
        let http = download_client(&Policy::default()).unwrap();
        let err = fetch_update_manifest(&http, &url).await.unwrap_err();
        assert_eq!(err.code(), "network.response_too_large");
        let (ok, _) = server(
            "HTTP/1.1 200 OK\r\ncontent-length: 19\r\nconnection: close\r\n\r\n{\"version\":\"9.9.9\"}",
            false,
        )
        .await;
        assert_eq!(
            fetch_update_manifest(&http, &ok).await.unwrap()["version"],
            "9.9.9"
        );
    }

    #[tokio::test]
    async fn a_server_that_stalls_is_named_as_a_timeout() {
        // Headers, then nothing: the body never comes (the socket stays
        // open for a minute).
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move {
            if let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n")
                    .await;
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
        });
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(500))
            .build()
            .unwrap();
        let resp = http.get(url).send().await.unwrap();
        let err = read_limited(resp, 100, "x").await.unwrap_err();
        assert_eq!(err.code(), "network.timed_out", "{err}");
    }

    #[tokio::test]
    async fn a_declared_length_over_the_cap_fails_before_reading() {
        let (url, _) = server(
            "HTTP/1.1 200 OK\r\ncontent-length: 5000000000\r\n\r\n",
            false,
        )
        .await;
        let http = http_client(&Policy::default()).unwrap();
        let resp = http.get(url).send().await.unwrap();
        let err = read_limited(resp, 1000, "x").await.unwrap_err();
        assert_eq!(err.code(), "network.response_too_large");
    }

    #[tokio::test]
    async fn a_body_within_the_cap_is_read_whole() {
        let (url, _) = server(
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
            false,
        )
        .await;
        let http = http_client(&Policy::default()).unwrap();
        let resp = http.get(url.clone()).send().await.unwrap();
        assert_eq!(read_limited(resp, 5, "x").await.unwrap(), b"hello");
        let resp = http.get(url).send().await.unwrap();
        assert_eq!(
            read_limited(resp, 4, "x").await.unwrap_err().code(),
            "network.response_too_large"
        );
    }

    #[test]
    fn http_client_reports_bad_policy_values() {
        let dir = tempfile::tempdir().unwrap();
        let missing = Policy {
            extra_ca_certificates: Some(vec![dir.path().join("none.pem")]),
            ..Policy::default()
        };
        assert_eq!(http_client(&missing).unwrap_err().code(), "policy.invalid");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate").unwrap();
        let garbage = Policy {
            extra_ca_certificates: Some(vec![empty]),
            ..Policy::default()
        };
        assert_eq!(http_client(&garbage).unwrap_err().code(), "policy.invalid");
        let fixtures =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/policy");
        let proxy = Policy {
            proxy_url: Some("http://proxy.example.tw:3128".into()),
            extra_ca_certificates: Some(vec![fixtures.join("school-proxy-ca.pem")]),
            ..Policy::default()
        };
        assert!(http_client(&proxy).is_ok());
    }
}
