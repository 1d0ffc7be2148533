//! Starting a county sign-in: the options, what the UI shows while the
//! browser is out, and [`start_county_sign_in`] (metadata, loopback port,
//! authorization request, the browser).

use std::time::Duration;

use serde::Serialize;

use super::gate::{SignInCancel, SignInGate};
use super::http::IdpHttp;
use super::wait::PendingSignIn;
use super::{LoopbackRedirect, MetadataCache, Provider, DEFAULT_TIMEOUT};
use crate::desktop::Desktop;
use crate::directory::CountyIdp;
use crate::Result;

/// Options of one county sign-in.
#[derive(Debug, Clone)]
pub struct SignInOptions {
    /// How long to wait for the browser to come back.
    pub timeout: Duration,
    /// Ask the county to show its login form even with a session
    /// (`prompt=login`; shared devices).
    pub prompt_login: bool,
    /// Page language (`zh-TW` or `en`); `None` = the app's setting.
    pub lang: Option<String>,
}

impl Default for SignInOptions {
    fn default() -> Self {
        SignInOptions {
            timeout: DEFAULT_TIMEOUT,
            prompt_login: false,
            lang: None,
        }
    }
}

/// What the UI shows while waiting ("請在瀏覽器中完成 {county} 登入").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitingForBrowser {
    pub county: String,
    pub county_name_zh: String,
    pub county_name_en: String,
    /// For 複製連結 / 重新開啟瀏覽器.
    pub authorize_url: String,
    /// Whether the launcher started (not whether a page is showing).
    pub browser_opened: bool,
    /// The launcher's error, when it failed (the UI offers copy-link).
    pub browser_error: Option<String>,
    pub timeout_secs: u64,
}

/// Progress callbacks (all optional).
pub trait SignInProgress: Send + Sync {
    /// The browser was asked to open the county's page.
    fn waiting_for_browser(&self, _waiting: &WaitingForBrowser) {}
    /// The county redirected back; verification runs ("驗證中…").
    fn redirect_received(&self, _county: &str) {}
}

/// No progress reporting.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;
impl SignInProgress for NoProgress {}

/// Resolves the county, binds the loopback port, builds the authorization
/// request and opens the system browser. A launcher failure is reported in
/// [`PendingSignIn::waiting`] (the UI offers copy-link), not as an error.
pub async fn start_county_sign_in(
    desktop: &Desktop,
    idp: &CountyIdp,
    gate: &SignInGate,
    options: SignInOptions,
) -> Result<PendingSignIn> {
    let guard = gate.acquire()?;
    let http = IdpHttp::new(crate::api::http_client(desktop.policy())?);
    let lang = match options.lang {
        Some(l) => l,
        None => crate::settings::language(desktop.policy(), &desktop.store)?.value,
    };
    let mut provider = Provider::resolve(idp, http, MetadataCache::new(&desktop.store)).await?;
    let loopback = LoopbackRedirect::bind(&idp.code, &lang).await?;
    provider.set_redirect(loopback.redirect_uri())?;
    let request = provider.authorize(options.prompt_login);
    loopback.expect_state(request.state.secret());
    let browser = desktop.browser.clone();
    let opened = browser.open(request.url.as_str());
    if let Err(e) = &opened {
        tracing::warn!(error = %e, "the browser did not open; the UI offers the link");
    }
    let waiting = WaitingForBrowser {
        county: idp.code.clone(),
        county_name_zh: idp.name_zh.clone(),
        county_name_en: idp.name_en.clone(),
        authorize_url: request.url.to_string(),
        browser_opened: opened.is_ok(),
        browser_error: opened.err().map(|e| e.to_string()),
        timeout_secs: options.timeout.as_secs(),
    };
    tracing::info!(county = %idp.code, redirect_uri = %loopback.redirect_uri(), "county sign-in started");
    Ok(PendingSignIn {
        provider,
        loopback,
        authorize_url: request.url,
        state: request.state,
        nonce: request.nonce,
        verifier: request.verifier,
        fresh_login_since: options.prompt_login.then_some(request.requested_at),
        cancel: SignInCancel::default(),
        timeout: options.timeout,
        browser,
        waiting,
        _guard: guard,
    })
}
