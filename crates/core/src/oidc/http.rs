//! HTTP for openidconnect: the app's client as its [`AsyncHttpClient`],
//! redirects refused; one JSON fetch for the metadata documents.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

use super::cache::cache_ttl;
use super::{code, rejected};
use crate::net::limits;
use crate::{CoreError, Result};

#[derive(Debug, thiserror::Error)]
pub(crate) enum IdpHttpError {
    #[error("{0}")]
    Transport(#[source] reqwest::Error),
    #[error("refused to follow a redirect (HTTP {status}) to {location:?}")]
    Redirect { status: u16, location: String },
    /// The body passed its size cap (`network.response_too_large`) or its
    /// transfer failed, as the capped reader reported it.
    #[error("{0}")]
    Read(Box<CoreError>),
}

/// The app's HTTP client as openidconnect's [`AsyncHttpClient`].
#[derive(Debug, Clone)]
pub(crate) struct IdpHttp {
    pub client: reqwest::Client,
    /// The size cap of answer bodies read through this handle, and what
    /// they are (for the error's words); see [`IdpHttp::limited`].
    limit: u64,
    what: &'static str,
    /// The last answer's `Date` minus this computer's clock, in seconds
    /// ([`NO_DATE`]: the answer had none); shared by the clones.
    date_skew: Arc<AtomicI64>,
}

const NO_DATE: i64 = i64::MIN;

/// The server's clock minus ours, from an HTTP `Date` header (RFC 9110
/// §5.6.7, IMF-fixdate; whole seconds).
pub(crate) fn date_skew(date: &str) -> Option<i64> {
    let server = chrono::DateTime::parse_from_rfc2822(date.trim()).ok()?;
    Some(server.timestamp() - chrono::Utc::now().timestamp())
}

impl IdpHttp {
    pub fn new(client: reqwest::Client) -> Self {
        IdpHttp {
            client,
            limit: limits::USERINFO,
            what: "the county's sign-in service",
            date_skew: Arc::new(AtomicI64::new(NO_DATE)),
        }
    }

    /// The same client reading bodies of at most `limit` bytes (`what`
    /// names them in the error): `limits::TOKEN` for the token answer,
    /// `limits::USERINFO` for UserInfo, and so on.
    pub fn limited(&self, limit: u64, what: &'static str) -> IdpHttp {
        IdpHttp {
            limit,
            what,
            ..self.clone()
        }
    }

    /// The county's clock minus ours from the last answer's `Date`.
    pub fn last_date_skew(&self) -> Option<i64> {
        Some(self.date_skew.load(Ordering::SeqCst)).filter(|s| *s != NO_DATE)
    }
}

impl<'c> AsyncHttpClient<'c> for IdpHttp {
    type Error = IdpHttpError;
    type Future =
        Pin<Box<dyn Future<Output = std::result::Result<HttpResponse, IdpHttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request: reqwest::Request = request.try_into().map_err(IdpHttpError::Transport)?;
            let response = self
                .client
                .execute(request)
                .await
                .map_err(IdpHttpError::Transport)?;
            let skew = response
                .headers()
                .get(reqwest::header::DATE)
                .and_then(|v| v.to_str().ok())
                .and_then(date_skew);
            self.date_skew
                .store(skew.unwrap_or(NO_DATE), Ordering::SeqCst);
            let status = response.status();
            if status.is_redirection() {
                let location = crate::api::redirect_target(&response);
                return Err(IdpHttpError::Redirect {
                    status: status.as_u16(),
                    location,
                });
            }
            let mut builder = openidconnect::http::Response::builder().status(status);
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            // Capped: an endless or huge answer fails fast, memory bounded.
            let body = crate::net::read_limited(response, self.limit, self.what)
                .await
                .map_err(|e| IdpHttpError::Read(Box::new(e)))?;
            builder.body(body).map_err(|e| IdpHttpError::Redirect {
                status: 0,
                location: format!("(unreadable response: {e})"),
            })
        })
    }
}

impl IdpHttpError {
    pub(crate) fn into_core(self, what: &str) -> CoreError {
        match self {
            IdpHttpError::Transport(e) => {
                // A refused certificate, a proxy's refusal, a timeout: the
                // same codes and words as the service's (h4b-network).
                match crate::net::transport_error_for(&e, Some(what)) {
                    CoreError::BadResponse { what, .. } => CoreError::BadResponse {
                        what,
                        detail: net_text(&e.to_string()),
                    },
                    CoreError::Unreachable { what, .. } => CoreError::Unreachable {
                        what,
                        detail: chain(&e),
                    },
                    CoreError::Proxy { what, auth, detail } => CoreError::Proxy {
                        what,
                        auth,
                        detail: net_text(&detail),
                    },
                    other => other,
                }
            }
            IdpHttpError::Read(e) => *e,
            e @ IdpHttpError::Redirect { .. } => rejected(code::REDIRECT_REFUSED, e.to_string()),
        }
    }
}

/// An error and its causes on one line, escaped with [`net_text`] (the
/// messages quote what servers sent: URLs, issuers, claim values).
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = net_text(&e.to_string());
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&net_text(&inner.to_string()));
        cur = inner.source();
    }
    s
}

/// Text that came from the network (an IdP's `error_description`, an
/// issuer, a URL it named), safe on one log line: newlines, other control
/// characters, quotes and backslashes escaped (`\n`), the rest (Chinese
/// included) kept. Values inside a message are quoted with `{:?}` instead.
pub(crate) fn net_text(s: &str) -> String {
    s.escape_debug().to_string()
}

/// A fetched JSON document and how long it may be cached.
pub(crate) struct Fetched {
    pub(crate) body: Vec<u8>,
    pub(crate) content_type: Option<String>,
    /// `None`: not to be cached.
    pub(crate) ttl: Option<Duration>,
}

/// Fetches a JSON document without following redirects.
pub(crate) async fn fetch_json(
    http: &IdpHttp,
    url: &str,
    what: &str,
    default_ttl: Duration,
) -> Result<Fetched> {
    let request = openidconnect::http::Request::builder()
        .uri(url)
        .method("GET")
        .header("accept", "application/json")
        .body(Vec::new())
        .map_err(|e| CoreError::Internal(e.to_string()))?;
    let resp = http.call(request).await.map_err(|e| e.into_core(what))?;
    if !resp.status().is_success() {
        return Err(CoreError::BadResponse {
            what: what.to_string(),
            detail: format!("{url:?}: HTTP {}", resp.status()),
        });
    }
    let header = |name: reqwest::header::HeaderName| {
        let values: Vec<&str> = resp
            .headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    };
    let ttl = cache_ttl(
        header(reqwest::header::CACHE_CONTROL).as_deref(),
        default_ttl,
    );
    let content_type = header(reqwest::header::CONTENT_TYPE);
    Ok(Fetched {
        body: resp.into_body(),
        content_type,
        ttl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_header_gives_the_servers_clock() {
        let now = chrono::Utc::now();
        let date = (now + chrono::Duration::hours(3))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let skew = date_skew(&date).unwrap();
        assert!((skew - 3 * 3600).abs() <= 2, "{skew}");
        assert_eq!(date_skew("yesterday"), None);
    }
}
