//! [`LoopbackRedirect`]: the RFC 8252 §7.3 loopback listener that receives
//! the county's authorization response.
//!
//! - Bound to `127.0.0.1:0` (fallback `[::1]:0`) when the flow starts, never
//!   on another interface (no firewall prompt, nothing reachable from the
//!   network), and closed when the flow ends, however it ends. Neither
//!   address → `signin.loopback_unavailable`.
//! - The socket is made with `socket2` (close-on-exec / not inheritable, so
//!   the browser the app starts does not inherit it); on Windows it gets
//!   `SO_EXCLUSIVEADDRUSE` before `bind` (RFC 8252 Appendix B.3), so no
//!   other program can bind the same port and take the redirect.
//! - One path per county (`/callback/{county}`, §8.10); a request on any
//!   other path is a stray too (400 page, the wait goes on).
//! - Only a `GET` on that path carrying this sign-in's `state` (set with
//!   [`LoopbackRedirect::expect_state`]; compared as SHA-256 digests, only
//!   the digest is kept here) is the authorization response. Anything else
//!   — another method, no `state`, a wrong or repeated one — is a stray: it
//!   gets a 400 page ("not this sign-in"), is logged without its values,
//!   and the listener keeps waiting for the real redirect until the flow's
//!   timeout or cancel. So a local process or a web page that finds the
//!   port cannot end the sign-in with one forged request.
//! - The real redirect is handed to the flow, and the browser waits for the
//!   flow's verdict, so the page it shows says what really happened. Any
//!   later request gets "this sign-in has ended" and is not used.
//! - Pages are sent with `Cache-Control: no-store`, `Referrer-Policy:
//!   no-referrer` (the URL holds the code) and a CSP that forbids everything
//!   but the inline style.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::Url;

use super::code;
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
    /// SHA-256 of this sign-in's `state` (unset: every request is a stray).
    expected_state: Arc<OnceLock<[u8; 32]>>,
    lang: Arc<str>,
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Why a request on the callback port is not this sign-in's redirect
/// (logged; the request's values never are).
fn stray_reason(
    shared: &Shared,
    method: &Method,
    params: &[(String, String)],
) -> Option<&'static str> {
    if method != Method::GET {
        return Some("not a GET");
    }
    let mut states = params.iter().filter(|(k, _)| k == "state");
    let (Some((_, state)), None) = (states.next(), states.next()) else {
        return Some("no single state");
    };
    match shared.expected_state.get() {
        None => Some("no sign-in is waiting"),
        // Digests: no early exit on the first differing byte of the state.
        Some(expected) if digest(state) != *expected => Some("another state"),
        Some(_) => None,
    }
}

/// A listening loopback redirect endpoint for one sign-in.
pub struct LoopbackRedirect {
    redirect_uri: Url,
    addr: SocketAddr,
    rx: Option<oneshot::Receiver<Callback>>,
    expected_state: Arc<OnceLock<[u8; 32]>>,
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

async fn on_callback(
    State(shared): State<Shared>,
    method: Method,
    RawQuery(query): RawQuery,
) -> Response {
    let received_at = Instant::now();
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    // The lock is held only in this block (never across an await).
    let taken = {
        let mut slot = shared.slot.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            Err(PageOutcome::Ended)
        } else if let Some(reason) = stray_reason(&shared, &method, &params) {
            tracing::info!(
                reason,
                "a request that is not this sign-in's redirect was refused; still waiting"
            );
            Err(PageOutcome::Stray)
        } else {
            slot.take().ok_or(PageOutcome::Ended)
        }
    };
    let sender = match taken {
        Ok(sender) => sender,
        Err(outcome) => {
            if outcome == PageOutcome::Ended {
                tracing::info!("a second or late redirect was answered with 'ended'");
            }
            return page_response(StatusCode::BAD_REQUEST, &outcome, &shared.lang);
        }
    };
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
            code: code::CANCELLED.into(),
        },
    };
    let status = match outcome {
        PageOutcome::Done { .. } => StatusCode::OK,
        _ => StatusCode::BAD_REQUEST,
    };
    page_response(status, &outcome, &shared.lang)
}

/// Any other path: a stray (logged without the path or query).
async fn other_path(State(shared): State<Shared>) -> Response {
    tracing::info!("a request on another path was refused; still waiting");
    page_response(StatusCode::BAD_REQUEST, &PageOutcome::Stray, &shared.lang)
}

/// Opens a listening, non-blocking TCP socket on `addr`.
fn open_listener(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    // socket2 sets close-on-exec (Unix) / no-inherit (Windows) itself.
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(windows)]
    exclusive_address_use(&socket)?;
    socket.bind(&addr.into())?;
    socket.listen(128)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// `SO_EXCLUSIVEADDRUSE` (RFC 8252 Appendix B.3): no other socket may bind
/// this address and port, even with `SO_REUSEADDR`. Must precede `bind`.
/// (Not compiled on the Linux build machine; kept to the one call.)
#[cfg(windows)]
fn exclusive_address_use(socket: &socket2::Socket) -> io::Result<()> {
    use std::os::windows::io::AsRawSocket;
    use windows_sys::Win32::Networking::WinSock::{
        setsockopt, WSAGetLastError, SOCKET, SOL_SOCKET, SO_EXCLUSIVEADDRUSE,
    };
    let on: i32 = 1;
    // SAFETY: the handle is the live socket `socket` owns; optval points to
    // an i32 that outlives the call and optlen is its size.
    let rc = unsafe {
        setsockopt(
            socket.as_raw_socket() as SOCKET,
            SOL_SOCKET,
            SO_EXCLUSIVEADDRUSE,
            (&on as *const i32).cast::<u8>(),
            std::mem::size_of::<i32>() as i32,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        // SAFETY: no arguments; reads this thread's last Winsock error.
        Err(io::Error::from_raw_os_error(unsafe { WSAGetLastError() }))
    }
}

/// `127.0.0.1:0`, else `[::1]:0`, through `open`.
fn listen_on_loopback(
    open: fn(SocketAddr) -> io::Result<std::net::TcpListener>,
) -> Result<TcpListener> {
    let std_listener = match open(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))) {
        Ok(l) => l,
        Err(v4) => {
            tracing::warn!(error = %v4, "127.0.0.1 unavailable, trying [::1]");
            open(SocketAddr::from((Ipv6Addr::LOCALHOST, 0))).map_err(|v6| {
                CoreError::SignInRejected {
                    code: code::LOOPBACK_UNAVAILABLE,
                    detail: format!("127.0.0.1: {v4}; [::1]: {v6}"),
                }
            })?
        }
    };
    Ok(TcpListener::from_std(std_listener)?)
}

impl LoopbackRedirect {
    /// Binds a fresh loopback port for `county` (lower-case code) and
    /// starts answering.
    pub async fn bind(county: &str, lang: &str) -> Result<Self> {
        Self::bind_via(county, lang, open_listener).await
    }

    /// [`bind`](Self::bind) with the socket opener as a seam (tests take
    /// 127.0.0.1 away to reach the `[::1]` fallback).
    async fn bind_via(
        county: &str,
        lang: &str,
        open: fn(SocketAddr) -> io::Result<std::net::TcpListener>,
    ) -> Result<Self> {
        if !educloud_contract::county::is_valid_code(county) {
            return Err(CoreError::UnknownCounty(county.to_string()));
        }
        let listener = listen_on_loopback(open)?;
        let addr = listener.local_addr()?;
        let host = match addr {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        };
        let path = format!("/callback/{county}");
        let redirect_uri = Url::parse(&format!("http://{host}:{}{path}", addr.port()))
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        let (tx, rx) = oneshot::channel();
        let expected_state = Arc::new(OnceLock::new());
        let shared = Shared {
            slot: Arc::new(Mutex::new(Some(tx))),
            expected_state: expected_state.clone(),
            lang: Arc::from(lang),
        };
        let app = Router::new()
            .route(&path, any(on_callback))
            .fallback(other_path)
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
            expected_state,
            shutdown: Some(stop_tx),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:{port}/callback/{county}`.
    pub fn redirect_uri(&self) -> &Url {
        &self.redirect_uri
    }

    /// Sets this sign-in's `state`: from now on only a `GET` carrying it
    /// is taken as the redirect. Set once; later calls are ignored.
    pub(crate) fn expect_state(&self, state: &str) {
        let _ = self.expected_state.set(digest(state));
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

    /// Stops listening; when it returns the port is closed. In-flight
    /// pages get 3 seconds to finish, then the listener task is aborted —
    /// and awaited, since an abort only takes effect at the task's next
    /// yield (until then it still holds the listening socket).
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
                let _ = task.await;
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

    /// Nothing listens on `addr` any more. Under ephemeral-port pressure
    /// (a load test on the same machine) the connect may pick `addr` itself
    /// as its local port and connect to itself; that proves the same.
    async fn assert_closed(addr: SocketAddr) {
        if let Ok(s) = tokio::net::TcpStream::connect(addr).await {
            assert_eq!(s.local_addr().ok(), Some(addr), "port still open");
        }
    }

    #[tokio::test]
    async fn the_redirect_is_taken_later_ones_see_ended_and_the_port_closes() {
        let mut lb = LoopbackRedirect::bind("ntpc", "zh-TW").await.unwrap();
        let uri = lb.redirect_uri().clone();
        assert_eq!(uri.host_str(), Some("127.0.0.1"));
        assert_eq!(uri.path(), "/callback/ntpc");
        let base = format!("http://{}", lb.local_addr());
        for other in [
            "/favicon.ico",
            "/callback/kh?code=x",
            "/",
            "/callback/ntpc/x",
        ] {
            let (status, body) = get(&format!("{base}{other}")).await;
            assert_eq!(status, 400, "{other}");
            assert!(body.contains("這不是目前的登入回應"), "{other}: {body}");
        }

        lb.expect_state("s1");
        let first = tokio::spawn(get(format!("{uri}?code=c1&state=s1").leak()));
        let cb = lb.next().await.unwrap();
        assert_eq!(cb.param("code").unwrap(), Some("c1"));
        // A second redirect while the first is being handled.
        let (status, body) = get(&format!("{uri}?code=c2&state=s1")).await;
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
        assert_closed(addr).await;
    }

    #[tokio::test]
    async fn close_closes_the_port_even_while_a_page_waits_for_its_verdict() {
        let mut lb = LoopbackRedirect::bind("ntpc", "en").await.unwrap();
        lb.expect_state("y");
        let uri = lb.redirect_uri().clone();
        let held = tokio::spawn(async move {
            let c = reqwest::Client::new();
            c.get(format!("{uri}?code=x&state=y")).send().await.is_ok()
        });
        // Taken, but no verdict: the browser's request stays in flight.
        let cb = lb.next().await.unwrap();
        let addr = lb.local_addr();
        let started = Instant::now();
        lb.close().await;
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_closed(addr).await;
        drop(cb);
        let _ = held.await;
    }

    #[tokio::test]
    async fn repeated_parameters_are_detectable() {
        let mut lb = LoopbackRedirect::bind("kh", "en").await.unwrap();
        lb.expect_state("a");
        let uri = lb.redirect_uri().clone();
        let req = tokio::spawn(get(format!("{uri}?state=a&code=1&code=2").leak()));
        let cb = lb.next().await.unwrap();
        assert!(cb.param("code").is_err());
        assert_eq!(cb.param("iss").unwrap(), None);
        drop(cb); // no verdict: the browser is told the sign-in ended
        let (status, _) = req.await.unwrap();
        assert_eq!(status, 400);
        lb.close().await;
    }

    #[tokio::test]
    async fn stray_requests_get_400_and_the_listener_keeps_waiting_for_the_redirect() {
        let mut lb = LoopbackRedirect::bind("ntpc", "zh-TW").await.unwrap();
        let uri = lb.redirect_uri().clone();
        // Before the state is known, nothing is the redirect.
        assert_eq!(get(&format!("{uri}?code=c0&state=s1")).await.0, 400);
        lb.expect_state("s1");
        let c = reqwest::Client::new();
        for (method, query) in [
            ("GET", "code=c1&state=wrong"),
            ("GET", "code=c1"),
            ("GET", "error=access_denied"),
            ("GET", "code=c1&state=s1&state=s1"),
            ("GET", ""),
            ("POST", "code=c1&state=s1"),
            ("PUT", "code=c1&state=s1"),
        ] {
            let resp = c
                .request(method.parse().unwrap(), format!("{uri}?{query}"))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), 400, "{method} {query}");
            let body = resp.text().await.unwrap();
            assert!(
                body.contains("這不是目前的登入回應"),
                "{method} {query}: {body}"
            );
        }
        // The real redirect is still taken.
        let real = tokio::spawn(get(format!("{uri}?code=real&state=s1").leak()));
        let cb = tokio::time::timeout(Duration::from_secs(10), lb.next())
            .await
            .expect("the listener stopped waiting")
            .unwrap();
        assert_eq!(cb.param("code").unwrap(), Some("real"));
        cb.reply
            .send(PageOutcome::Done {
                county_zh: "新北市".into(),
                county_en: "New Taipei City".into(),
            })
            .unwrap();
        assert_eq!(real.await.unwrap().0, 200);
        lb.close().await;
    }

    /// 127.0.0.1 taken away (as on a host without IPv4 loopback).
    fn no_ipv4(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
        if addr.is_ipv4() {
            return Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                "no 127.0.0.1 in this test",
            ));
        }
        open_listener(addr)
    }

    fn no_loopback(_: SocketAddr) -> io::Result<std::net::TcpListener> {
        Err(io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            "no loopback in this test",
        ))
    }

    #[tokio::test]
    async fn without_ipv4_loopback_it_listens_on_ipv6_loopback() {
        let mut lb = LoopbackRedirect::bind_via("kh", "zh-TW", no_ipv4)
            .await
            .unwrap();
        let uri = lb.redirect_uri().clone();
        assert_eq!(uri.host_str(), Some("[::1]"));
        assert_eq!(
            uri.host(),
            Some(url::Host::Ipv6(Ipv6Addr::LOCALHOST)),
            "{uri}"
        );
        assert_eq!(uri.path(), "/callback/kh");
        assert!(lb.local_addr().ip().is_loopback() && lb.local_addr().is_ipv6());
        assert_eq!(
            uri.as_str(),
            format!("http://[::1]:{}/callback/kh", lb.local_addr().port())
        );
        // A real round trip over [::1].
        lb.expect_state("s6");
        let req = tokio::spawn(get(format!("{uri}?code=c6&state=s6").leak()));
        let cb = lb.next().await.unwrap();
        assert_eq!(cb.param("code").unwrap(), Some("c6"));
        cb.reply
            .send(PageOutcome::Done {
                county_zh: "高雄市".into(),
                county_en: "Kaohsiung City".into(),
            })
            .unwrap();
        assert_eq!(req.await.unwrap().0, 200);
        let addr = lb.local_addr();
        lb.close().await;
        assert_closed(addr).await;
    }

    #[tokio::test]
    async fn no_loopback_at_all_is_reported_in_words() {
        let err = LoopbackRedirect::bind_via("ntpc", "en", no_loopback)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "signin.loopback_unavailable");
        let CoreError::SignInRejected { detail, .. } = err else {
            panic!("{err:?}")
        };
        assert!(
            detail.contains("127.0.0.1") && detail.contains("[::1]"),
            "{detail}"
        );
    }

    #[tokio::test]
    async fn pages_say_no_store_no_referrer_and_forbid_everything() {
        let mut lb = LoopbackRedirect::bind("ntpc", "zh-TW").await.unwrap();
        lb.expect_state("y");
        let uri = lb.redirect_uri().clone();
        let req = tokio::spawn(async move {
            let c = reqwest::Client::new();
            c.get(format!("{uri}?code=x&state=y")).send().await.unwrap()
        });
        let cb = lb.next().await.unwrap();
        cb.reply
            .send(PageOutcome::Failed {
                code: "signin.state_mismatch".into(),
            })
            .unwrap();
        let resp = req.await.unwrap();
        assert_eq!(resp.status().as_u16(), 400);
        let h = resp.headers();
        assert_eq!(h["cache-control"], "no-store");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["x-content-type-options"], "nosniff");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.starts_with("default-src 'none'"), "{csp}");
        assert!(csp.contains("form-action 'none'") && csp.contains("frame-ancestors 'none'"));
        assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
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
