//! `educloud doctor --url <url>`: one request the way the app makes them
//! (same trust, same proxy), with the certificate chain the server (or a
//! TLS-inspecting proxy) presented, the verdict, and the server's clock.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::Serialize;
use url::Url;

use super::proxy::ProxyChoice;
use super::tls::CertInfo;
use crate::policy::Policy;
use crate::CoreError;

/// How far the computer's clock may be from the server's before `doctor`
/// calls it wrong (certificates and sign-in tokens tolerate less than this
/// only at their edges; minutes are fine, hours are not).
pub const CLOCK_TOLERANCE_SECS: i64 = 300;

/// What one probe saw.
#[derive(Debug, Serialize)]
pub struct Probe {
    pub url: String,
    pub proxy: ProxyChoice,
    /// The certificates the server presented, leaf first (empty for
    /// `http://` or when no handshake happened).
    pub chain: Vec<CertInfo>,
    /// The HTTP status when an answer came.
    pub status: Option<u16>,
    /// The error code and words when none did (or the answer was a proxy's
    /// refusal).
    pub error: Option<ProbeError>,
    /// The server's `Date` header.
    pub server_date: Option<String>,
    /// Server time minus this computer's time, in seconds.
    pub clock_offset_secs: Option<i64>,
    /// The error itself (for an exit code that names it).
    #[serde(skip)]
    pub cause: Option<CoreError>,
}

#[derive(Debug, Serialize)]
pub struct ProbeError {
    pub code: String,
    pub message: String,
}

impl From<&CoreError> for ProbeError {
    fn from(e: &CoreError) -> Self {
        ProbeError {
            code: e.code().to_string(),
            message: e.to_string(),
        }
    }
}

impl Probe {
    /// Whether the clock is within [`CLOCK_TOLERANCE_SECS`] of the server's
    /// (`None`: no `Date` to compare with).
    pub fn clock_ok(&self) -> Option<bool> {
        self.clock_offset_secs
            .map(|o| o.abs() <= CLOCK_TOLERANCE_SECS)
    }
}

/// Requests `url` (GET, no redirects, the app's trust and proxy) and says
/// what happened. Never fails: every failure is in [`Probe::error`].
pub async fn probe(policy: &Policy, url: &Url) -> Probe {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut out = Probe {
        url: url.to_string(),
        proxy: super::proxy::choice(policy),
        chain: Vec::new(),
        status: None,
        error: None,
        server_date: None,
        clock_offset_secs: None,
        cause: None,
    };
    let client = match client(policy, seen.clone()) {
        Ok(c) => c,
        Err(e) => {
            out.error = Some((&e).into());
            out.cause = Some(e);
            return out;
        }
    };
    let result = client.get(url.clone()).send().await;
    out.chain = seen
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(super::tls::describe)
        .collect();
    match result {
        Ok(resp) => {
            out.status = Some(resp.status().as_u16());
            if let Some(e) = super::proxy_status_error(&resp) {
                out.error = Some((&e).into());
                out.cause = Some(e);
            }
            if let Some(date) = resp
                .headers()
                .get(reqwest::header::DATE)
                .and_then(|v| v.to_str().ok())
            {
                out.server_date = Some(date.to_string());
                out.clock_offset_secs = clock_offset(date, SystemTime::now());
            }
            let _ = super::read_limited(resp, super::limits::PROBLEM, "the answer").await;
        }
        Err(e) => {
            let e = super::transport_error(e);
            out.error = Some((&e).into());
            out.cause = Some(e);
        }
    }
    out
}

fn client(
    policy: &Policy,
    seen: Arc<Mutex<Vec<rustls::pki_types::CertificateDer<'static>>>>,
) -> crate::Result<reqwest::Client> {
    let config = super::tls::build_config(super::tls::extra_roots(policy)?, Some(seen))?;
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(super::CONNECT_TIMEOUT)
        .timeout(super::REQUEST_TIMEOUT)
        .user_agent(super::USER_AGENT)
        .use_preconfigured_tls(config);
    super::proxy::apply(policy, builder)?
        .build()
        .map_err(|e| CoreError::Internal(format!("HTTP client: {e}")))
}

/// Server time (an HTTP `Date`) minus `now`, in whole seconds.
pub fn clock_offset(date: &str, now: SystemTime) -> Option<i64> {
    let server = httpdate::parse_http_date(date).ok()?;
    let secs = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_secs()).ok())
    };
    Some(secs(server)? - secs(now)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn clock_offsets_from_the_date_header() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(clock_offset("Sun, 06 Nov 1994 08:49:37 GMT", now), Some(0));
        assert_eq!(
            clock_offset("Sun, 06 Nov 1994 11:49:37 GMT", now),
            Some(3 * 3600)
        );
        assert_eq!(
            clock_offset("Sun, 06 Nov 1994 08:47:37 GMT", now),
            Some(-120)
        );
        assert_eq!(clock_offset("yesterday", now), None);
    }
}
