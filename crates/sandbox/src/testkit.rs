//! The test kit (cargo feature `testkit`, for tests and benches only): what
//! every test and benchmark of the workspace needs once.
//!
//! - [`FormBrowser`] — a scripted browser that fills a sandbox county's
//!   login form (校務行政帳號 / 校務行政密碼 / 登入, or 取消), keeps its own
//!   cookies and follows redirects by hand as a browser would, up to the
//!   app's loopback redirect;
//! - [`LoginForm`] — the login page's form target and form token, parsed;
//! - [`error_chain`] and [`escape_html`] — the workspace's one copy
//!   (from `educloud_contract::text`), re-exported here;
//! - [`Exchange`] / [`Traffic`] — what the sandbox recorded of its `/api`
//!   traffic (see [`crate::SandboxHandle::traffic`]), to validate a client's
//!   requests against `docs/api/openapi.yaml`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use url::Url;

pub use educloud_contract::text::{error_chain, escape_html};

/// The password of every county demo user (re-exported for tests).
pub use crate::idp::{DEMO_CLOUD_PASSWORD, DEMO_PASSWORD};

/// The IdP's RFC 8252 redirect-URI checks (for the fuzz targets' differential
/// against the app's own URL checks, `fuzz/src/oidc.rs`).
pub use crate::idp::redirect::{validate_post_logout_uri, validate_redirect_uri};

/// Undoes [`escape_html`] (the five entities it writes).
pub fn unescape_html(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of the first `attr="…"` after `marker` in `html`, unescaped.
pub fn attr_after(html: &str, marker: &str, attr: &str) -> Option<String> {
    let rest = &html[html.find(marker)?..];
    let key = format!("{attr}=\"");
    let start = rest.find(&key)? + key.len();
    let end = rest[start..].find('"')? + start;
    Some(unescape_html(&rest[start..end]))
}

/// A county login page's form: where it posts and its form token (`ft`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginForm {
    /// The absolute POST target (`{issuer}/login`).
    pub action: Url,
    /// The hidden form token bound to the browser's cookie.
    pub form_token: String,
}

impl LoginForm {
    /// Parses the login page served at `page`; `None` when it has no form.
    pub fn parse(html: &str, page: &Url) -> Option<LoginForm> {
        let action = attr_after(html, "<form", "action")?;
        let ft_at = html.find("name=\"ft\"")?;
        let tag_start = html[..ft_at].rfind('<')?;
        let form_token = attr_after(&html[tag_start..], "<input", "value")?;
        Some(LoginForm {
            action: page.join(&action).ok()?,
            form_token,
        })
    }

    /// The form's fields as a browser posts them after the user filled
    /// them (and ticked 記住我 when `remember`).
    pub fn fields<'a>(
        &'a self,
        user: &'a str,
        password: &'a str,
        remember: bool,
    ) -> Vec<(&'static str, &'a str)> {
        let mut form = vec![
            ("ft", self.form_token.as_str()),
            ("username", user),
            ("password", password),
        ];
        if remember {
            form.push(("remember", "1"));
        }
        form
    }
}

/// What the scripted user does on the county's login page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    /// Fill 校務行政帳號 / 校務行政密碼 (and 記住我) and press 登入.
    Login {
        user: String,
        password: String,
        remember: bool,
    },
    /// Press 取消.
    Cancel,
    /// Open the page and walk away.
    Idle,
}

impl Act {
    /// Log in as `user` with the demo password, not remembered.
    pub fn login(user: &str) -> Act {
        Act::Login {
            user: user.into(),
            password: DEMO_PASSWORD.into(),
            remember: false,
        }
    }
}

/// The page a visit ended on.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    pub url: Url,
    pub body: String,
}

/// A scripted browser: its own cookies (sent to every host, as loopback
/// tests need), redirects followed by hand, an `Origin` on form posts.
#[derive(Clone)]
pub struct FormBrowser {
    client: reqwest::Client,
    cookies: Arc<Mutex<HashMap<String, String>>>,
}

impl Default for FormBrowser {
    fn default() -> Self {
        Self::new()
    }
}

impl FormBrowser {
    /// A browser with no cookies yet; it trusts what reqwest trusts.
    pub fn new() -> FormBrowser {
        Self::with_client(reqwest::Client::builder())
    }

    /// A browser on a client built from `builder` (e.g. with an extra root
    /// certificate); redirects are never followed by the client itself.
    pub fn with_client(builder: reqwest::ClientBuilder) -> FormBrowser {
        let client = builder
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        FormBrowser {
            client,
            cookies: Arc::default(),
        }
    }

    /// The underlying client (no cookies of its own, no redirects).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&self, resp: &reqwest::Response) {
        let mut jar = self.cookies.lock().unwrap_or_else(PoisonError::into_inner);
        for v in resp.headers().get_all(header::SET_COOKIE) {
            let pair = v.to_str().unwrap_or("").split(';').next().unwrap_or("");
            if let Some((k, val)) = pair.split_once('=') {
                jar.insert(k.trim().to_string(), val.trim().to_string());
            }
        }
    }

    /// GET with this browser's cookies (kept from the answer).
    pub async fn get(&self, url: &Url) -> reqwest::Result<reqwest::Response> {
        let resp = self
            .client
            .get(url.clone())
            .header(header::COOKIE, self.cookie_header())
            .send()
            .await?;
        self.keep_cookies(&resp);
        Ok(resp)
    }

    /// Posts the login form as filled by the user.
    pub async fn submit(
        &self,
        form: &LoginForm,
        user: &str,
        password: &str,
        remember: bool,
    ) -> reqwest::Result<reqwest::Response> {
        let resp = self
            .client
            .post(form.action.clone())
            .header(header::COOKIE, self.cookie_header())
            .header(header::ORIGIN, form.action.origin().ascii_serialization())
            .form(&form.fields(user, password, remember))
            .send()
            .await?;
        self.keep_cookies(&resp);
        Ok(resp)
    }

    /// Follows `resp`'s redirects (at most 5) until a page shows.
    pub async fn follow(&self, resp: reqwest::Response) -> reqwest::Result<Page> {
        let mut resp = resp;
        for _ in 0..5 {
            let Some(to) = location(&resp) else { break };
            let Ok(next) = resp.url().join(&to) else {
                break;
            };
            resp = self.get(&next).await?;
        }
        let status = resp.status().as_u16();
        let url = resp.url().clone();
        let body = resp.text().await.unwrap_or_default();
        Ok(Page { status, url, body })
    }

    /// Opens `url` (an authorization request) and does `act` on the login
    /// page. Returns the page the visit ended on; `None` when the user
    /// walked away ([`Act::Idle`]) from the login form.
    pub async fn visit(&self, url: &str, act: &Act) -> Result<Option<Page>, String> {
        let err = |e: reqwest::Error| error_chain(&e);
        let start = Url::parse(url).map_err(|e| e.to_string())?;
        let resp = self.get(&start).await.map_err(err)?;
        if location(&resp).is_some() {
            // A remembered county session: straight back to the app.
            return self.follow(resp).await.map(Some).map_err(err);
        }
        let status = resp.status().as_u16();
        let html = resp.text().await.map_err(err)?;
        if status != 200 || !html.contains("id=\"username\"") {
            return Ok(Some(Page {
                status,
                url: start,
                body: html,
            }));
        }
        match act {
            Act::Idle => Ok(None),
            Act::Cancel => {
                let href = attr_after(&html, "id=\"cancel\"", "href").ok_or("no 取消 link")?;
                let to = start.join(&href).map_err(|e| e.to_string())?;
                let resp = self.get(&to).await.map_err(err)?;
                self.follow(resp).await.map(Some).map_err(err)
            }
            Act::Login {
                user,
                password,
                remember,
            } => {
                let form = LoginForm::parse(&html, &start).ok_or("no login form")?;
                let resp = self
                    .submit(&form, user, password, *remember)
                    .await
                    .map_err(err)?;
                self.follow(resp).await.map(Some).map_err(err)
            }
        }
    }
}

/// The `Location` header of an answer.
pub fn location(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

// ---------------------------------------------------------------------------
// The traffic recorder.
// ---------------------------------------------------------------------------

/// One request of the API document (a path under `/api`, or
/// `/.well-known/educloud-configuration`) and the sandbox's answer, as
/// seen on the wire.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: String,
    /// The path without the query, e.g. `/api/v1/sessions`.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The request's `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The request's `Authorization` scheme (`Bearer`, …), never its value.
    pub auth_scheme: Option<String>,
    pub body: Vec<u8>,
    pub status: u16,
    /// The answer's `Content-Type`, if any.
    pub response_content_type: Option<String>,
    /// Every header of the answer (name in lower case, value as text),
    /// e.g. `retry-after`, `www-authenticate`, `cache-control`.
    pub response_headers: Vec<(String, String)>,
    pub response_body: Vec<u8>,
}

impl Exchange {
    /// The request body as JSON, when it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The answer's body as JSON, when it is JSON.
    pub fn response_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.response_body).ok()
    }
}

/// How many exchanges a sandbox keeps (the oldest are dropped first).
pub const TRAFFIC_KEPT: usize = 2_000;
/// Bodies larger than this are not buffered for the record (the exchange
/// is still recorded, its body left empty).
const BODY_CAP: usize = 16 * 1024 * 1024;

/// The sandbox's record of its API traffic (see [`Exchange`]). On from the
/// start; benchmarks turn it off ([`Traffic::set_recording`]) so the
/// measured server does not buffer and copy every body.
pub struct Traffic {
    log: Mutex<VecDeque<Exchange>>,
    on: AtomicBool,
}

impl Default for Traffic {
    fn default() -> Self {
        Traffic {
            log: Mutex::default(),
            on: AtomicBool::new(true),
        }
    }
}

impl Traffic {
    /// Starts (`true`) or stops (`false`) recording; what was recorded stays.
    pub fn set_recording(&self, on: bool) {
        self.on.store(on, Ordering::Relaxed);
    }

    /// Everything recorded so far, oldest first.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.lock().iter().cloned().collect()
    }

    /// Returns what was recorded and starts afresh.
    pub fn take(&self) -> Vec<Exchange> {
        self.lock().drain(..).collect()
    }

    /// Forgets what was recorded.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Exchange>> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, e: Exchange) {
        let mut log = self.lock();
        if log.len() >= TRAFFIC_KEPT {
            log.pop_front();
        }
        log.push_back(e);
    }
}

fn header_str(h: &axum::http::HeaderMap, name: header::HeaderName) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Whether a request path belongs to the API document.
fn recorded(path: &str) -> bool {
    path.starts_with("/api") || path == "/.well-known/educloud-configuration"
}

/// axum middleware: records every request of the API document.
pub(crate) async fn record(
    State(traffic): State<Arc<Traffic>>,
    req: Request,
    next: Next,
) -> Response {
    if !traffic.on.load(Ordering::Relaxed) || !recorded(req.uri().path()) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let body = to_bytes(body, BODY_CAP).await.unwrap_or_default();
    let mut exchange = Exchange {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        content_type: header_str(&parts.headers, header::CONTENT_TYPE),
        auth_scheme: header_str(&parts.headers, header::AUTHORIZATION)
            .and_then(|v| v.split_whitespace().next().map(str::to_string)),
        body: body.to_vec(),
        status: 0,
        response_content_type: None,
        response_headers: Vec::new(),
        response_body: Vec::new(),
    };
    let resp = next.run(Request::from_parts(parts, Body::from(body))).await;
    let (parts, body) = resp.into_parts();
    let body = to_bytes(body, BODY_CAP).await.unwrap_or_default();
    exchange.status = parts.status.as_u16();
    exchange.response_content_type = header_str(&parts.headers, header::CONTENT_TYPE);
    exchange.response_headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    exchange.response_body = body.to_vec();
    traffic.push(exchange);
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_login_form() {
        let html = r#"<form method="post" action="/idp/ntpc/login?x=1&amp;y=2"><input type="hidden" name="ft" value="a&amp;b"><input id="username">"#;
        let page = Url::parse("http://127.0.0.1:1/idp/ntpc/authorize?q").unwrap();
        let f = LoginForm::parse(html, &page).unwrap();
        assert_eq!(
            f.action.as_str(),
            "http://127.0.0.1:1/idp/ntpc/login?x=1&y=2"
        );
        assert_eq!(f.form_token, "a&b");
        assert_eq!(f.fields("u", "p", true).len(), 4);
    }
}
