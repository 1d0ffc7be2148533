//! [`LoopbackRedirect`]: the RFC 8252 §7.3 loopback listener that receives
//! the county's authorization response.
//!
//! - Bound to `127.0.0.1:0` (fallback `[::1]:0`) when the flow starts, never
//!   on another interface (no firewall prompt, nothing reachable from the
//!   network), and closed when the flow ends, however it ends.
//! - One path per county (`/callback/{county}`, §8.10); anything else is 404.
//! - The FIRST request on that path is the authorization response; it is
//!   handed to the flow, and the browser waits for the flow's verdict, so the
//!   page it shows says what really happened. Any later request gets "this
//!   sign-in has ended" and is not used.
//! - Pages are sent with `Cache-Control: no-store`, `Referrer-Policy:
//!   no-referrer` (the URL holds the code) and a CSP that forbids everything
//!   but the inline style.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::Url;

use super::page::{render, PageOutcome};
use crate::{CoreError, Result};

/// How long the browser's request waits for the flow's verdict.
const VERDICT_WAIT: Duration = Duration::from_secs(90);

/// The authorization response as the browser delivered it.
pub(crate) struct Callback {
    /// Query parameters in order (duplicates kept, to be refused).
    pub params: Vec<(String, String)>,
    pub received_at: Instant,
    pub reply: oneshot::Sender<PageOutcome>,
}

impl Callback {
    /// The single value of `name`; `Err` if it is repeated.
    pub fn param(&self, name: &str) -> std::result::Result<Option<&str>, ()> {
        let mut found = None;
        for (k, v) in &self.params {
            if k == name {
                if found.is_some() {
                    return Err(());
                }
                found = Some(v.as_str());
            }
        }
        Ok(found)
    }
}

#[derive(Clone)]
struct Shared {
    slot: Arc<Mutex<Option<oneshot::Sender<Callback>>>>,
    lang: Arc<str>,
}

/// A listening loopback redirect endpoint for one sign-in.
pub struct LoopbackRedirect {
    redirect_uri: Url,
    addr: SocketAddr,
    rx: Option<oneshot::Receiver<Callback>>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for LoopbackRedirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopbackRedirect")
            .field("redirect_uri", &self.redirect_uri.as_str())
            .finish()
    }
}

fn page_response(status: StatusCode, outcome: &PageOutcome, lang: &str) -> Response {
    let mut resp = (status, render(outcome, lang)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

async fn on_callback(State(shared): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let received_at = Instant::now();
    let sender = shared.slot.lock().unwrap_or_else(|p| p.into_inner()).take();
    let Some(sender) = sender else {
        tracing::info!("a second or late redirect was answered with 'ended'");
        return page_response(StatusCode::BAD_REQUEST, &PageOutcome::Ended, &shared.lang);
    };
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    let (reply, verdict) = oneshot::channel();
    if sender
        .send(Callback {
            params,
            received_at,
            reply,
        })
        .is_err()
    {
        return page_response(StatusCode::BAD_REQUEST, &PageOutcome::Ended, &shared.lang);
    }
    let outcome = match tokio::time::timeout(VERDICT_WAIT, verdict).await {
        Ok(Ok(outcome)) => outcome,
        _ => PageOutcome::Failed {
            code: "signin.cancelled".into(),
        },
    };
    let status = match outcome {
        PageOutcome::Done { .. } => StatusCode::OK,
        _ => StatusCode::BAD_REQUEST,
    };
    page_response(status, &outcome, &shared.lang)
}

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, "not found")
}

impl LoopbackRedirect {
    /// Binds a fresh loopback port for `county` (lower-case code) and
    /// starts answering.
    pub async fn bind(county: &str, lang: &str) -> Result<Self> {
        if !educloud_contract::county::is_valid_code(county) {
            return Err(CoreError::UnknownCounty(county.to_string()));
        }
        let listener = match TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await {
            Ok(l) => l,
            Err(v4) => {
                tracing::warn!(error = %v4, "127.0.0.1 unavailable, trying [::1]");
                TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, 0))).await?
            }
        };
        let addr = listener.local_addr()?;
        let host = match addr {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        };
        let path = format!("/callback/{county}");
        let redirect_uri = Url::parse(&format!("http://{host}:{}{path}", addr.port()))
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        let (tx, rx) = oneshot::channel();
        let shared = Shared {
            slot: Arc::new(Mutex::new(Some(tx))),
            lang: Arc::from(lang),
        };
        let app = Router::new()
            .route(&path, get(on_callback))
            .fallback(not_found)
            .with_state(shared);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "loopback listener failed");
            }
        });
        tracing::debug!(%redirect_uri, "loopback redirect listening");
        Ok(LoopbackRedirect {
            redirect_uri,
            addr,
            rx: Some(rx),
            shutdown: Some(stop_tx),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:{port}/callback/{county}`.
    pub fn redirect_uri(&self) -> &Url {
        &self.redirect_uri
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits for the first request on the callback path.
    pub(crate) async fn next(&mut self) -> Result<Callback> {
        match self.rx.as_mut() {
            Some(rx) => {
                let got = rx.await;
                self.rx = None;
                got.map_err(|_| CoreError::Internal("the loopback listener stopped".into()))
            }
            None => Err(CoreError::Internal("the redirect was already taken".into())),
        }
    }

    /// Stops listening and waits (briefly) until the port is closed.
    pub async fn close(mut self) {
        self.stop().await;
    }

    async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(3), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for LoopbackRedirect {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            // Dropped without close(): make sure the port does not outlive us.
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(url: &str) -> (u16, String) {
        let c = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = c.get(url).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    #[tokio::test]
    async fn first_request_is_taken_later_ones_see_ended_and_the_port_closes() {
        let mut lb = LoopbackRedirect::bind("ntpc", "zh-TW").await.unwrap();
        let uri = lb.redirect_uri().clone();
        assert_eq!(uri.host_str(), Some("127.0.0.1"));
        assert_eq!(uri.path(), "/callback/ntpc");
        let base = format!("http://{}", lb.local_addr());
        assert_eq!(get(&format!("{base}/favicon.ico")).await.0, 404);
        assert_eq!(get(&format!("{base}/callback/kh?code=x")).await.0, 404);

        let first = tokio::spawn(get(format!("{uri}?code=c1&state=s1").leak()));
        let cb = lb.next().await.unwrap();
        assert_eq!(cb.param("code").unwrap(), Some("c1"));
        // A second redirect while the first is being handled.
        let (status, body) = get(&format!("{uri}?code=c2&state=s2")).await;
        assert_eq!(status, 400);
        assert!(body.contains("此登入已結束"), "{body}");
        cb.reply
            .send(PageOutcome::Done {
                county_zh: "新北市".into(),
                county_en: "New Taipei City".into(),
            })
            .unwrap();
        let (status, body) = first.await.unwrap();
        assert_eq!(status, 200);
        assert!(body.contains("登入完成，可以關閉此分頁"));
        let addr = lb.local_addr();
        lb.close().await;
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "port still open"
        );
    }

    #[tokio::test]
    async fn repeated_parameters_are_detectable() {
        let mut lb = LoopbackRedirect::bind("kh", "en").await.unwrap();
        let uri = lb.redirect_uri().clone();
        let req = tokio::spawn(get(format!("{uri}?state=a&state=b").leak()));
        let cb = lb.next().await.unwrap();
        assert!(cb.param("state").is_err());
        assert_eq!(cb.param("code").unwrap(), None);
        drop(cb); // no verdict: the browser is told the sign-in ended
        let (status, _) = req.await.unwrap();
        assert_eq!(status, 400);
        lb.close().await;
    }

    #[test]
    fn only_county_codes_make_paths() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let err = rt
            .block_on(LoopbackRedirect::bind("../x", "en"))
            .unwrap_err();
        assert_eq!(err.code(), "county.unknown");
    }
}
