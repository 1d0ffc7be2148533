//! The Education Cloud API client ([`EduCloudClient`]). Its HTTP client
//! comes from [`crate::net::http_client`] (the app's one setup: no
//! redirects, bounded time, the OS trust store, the policy's proxy and CAs)
//! and every answer is read with a size cap ([`crate::net::read_limited`]).
//!
//! - Errors: RFC 9457 `application/problem+json` answers become
//!   [`CoreError::Service`] with the service's stable `code`; a host that
//!   cannot be reached becomes `network.unreachable`.
//!
//! The wire types mirror `/tmp/educloud-api.md` (the API as agreed); secrets
//! in them are [`SecretString`]s the moment they leave the JSON parser.

use reqwest::{Method, RequestBuilder, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;
use url::Url;

use crate::desktop::Desktop;
use crate::net::{limits, read_limited};
use crate::oidc::CountyCredential;
use crate::{CoreError, Result};

// The one HTTP client setup lives in `crate::net`; re-exported here so
// existing callers (`api::http_client`) keep compiling.
pub use crate::net::{http_client, CONNECT_TIMEOUT, REQUEST_TIMEOUT};

/// Whether `url` may carry tokens: `https`, or `http` to a loopback address
/// (127.0.0.0/8, `[::1]`) for the sandbox and tests.
pub fn is_secure_url(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            _ => false,
        },
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// Wire types (the API as agreed; `educloud_contract::wire` will own them).
// ---------------------------------------------------------------------------

/// An RFC 9457 problem as the service sends it.
#[derive(Debug, Clone, Deserialize)]
pub struct Problem {
    #[serde(default)]
    pub r#type: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub status: Option<u16>,
    pub code: String,
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
}

pub use educloud_contract::wire::{
    Account, AccountStatus, Availability, CountyEntry as ConfiguredCounty, Identity,
    PasswordPolicy, RegistrationRequest, RegistrationResponse, ServiceConfiguration, Terms,
    TermsSection,
};

/// A new Education Cloud session. Tokens are secrets from the start.
#[derive(Debug)]
pub struct SessionTokens {
    pub access_token: SecretString,
    pub expires_in: u64,
    pub refresh_token: SecretString,
    pub refresh_expires_in: u64,
    pub account: Account,
}

impl From<educloud_contract::wire::SessionTokens> for SessionTokens {
    fn from(w: educloud_contract::wire::SessionTokens) -> Self {
        SessionTokens {
            access_token: SecretString::from(w.access_token.expose_secret().to_string()),
            expires_in: w.expires_in,
            refresh_token: SecretString::from(w.refresh_token.expose_secret().to_string()),
            refresh_expires_in: w.refresh_expires_in,
            account: w.account,
        }
    }
}

// ---------------------------------------------------------------------------
// The client.
// ---------------------------------------------------------------------------

/// A client for one Education Cloud service's API (`{api_base}`).
#[derive(Debug, Clone)]
pub struct EduCloudClient {
    http: reqwest::Client,
    api_base: Url,
}

impl EduCloudClient {
    /// A client for `api_base` (e.g. `http://127.0.0.1:PORT/api/v1/`).
    pub fn new(http: reqwest::Client, api_base: Url) -> Result<Self> {
        if !is_secure_url(&api_base) {
            return Err(CoreError::BadResponse {
                what: "Education Cloud".into(),
                detail: format!("the API base {api_base} is not https"),
            });
        }
        let mut api_base = api_base;
        if !api_base.path().ends_with('/') {
            let path = format!("{}/", api_base.path());
            api_base.set_path(&path);
        }
        Ok(EduCloudClient { http, api_base })
    }

    /// The client for the desktop's service: waits for the service to be
    /// known, reads its configuration (cached) and uses its `api_base`.
    pub async fn for_desktop(desktop: &Desktop) -> Result<Self> {
        let http = http_client(desktop.policy())?;
        let config = crate::directory::service_configuration(desktop, false).await?;
        let api_base = Url::parse(&config.api_base).map_err(|e| CoreError::BadResponse {
            what: "Education Cloud".into(),
            detail: format!("api_base: {e}"),
        })?;
        Self::new(http, api_base)
    }

    /// Fetches `GET {service}/.well-known/educloud-configuration` (uncached).
    pub async fn fetch_configuration(
        http: &reqwest::Client,
        service: &Url,
    ) -> Result<ServiceConfiguration> {
        let url = service
            .join(".well-known/educloud-configuration")
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        if !is_secure_url(&url) {
            return Err(CoreError::BadResponse {
                what: "Education Cloud".into(),
                detail: format!("the service {service} is not https"),
            });
        }
        let resp = send(http.get(url)).await?;
        read_json_limited(resp, limits::CONFIGURATION, "the service configuration").await
    }

    pub fn api_base(&self) -> &Url {
        &self.api_base
    }

    fn url(&self, path: &str) -> Result<Url> {
        self.api_base
            .join(path)
            .map_err(|e| CoreError::Internal(format!("API path {path}: {e}")))
    }

    fn request(&self, method: Method, path: &str) -> Result<RequestBuilder> {
        Ok(self
            .http
            .request(method, self.url(path)?)
            .header(reqwest::header::ACCEPT, "application/json"))
    }

    /// `GET terms?lang=`.
    pub async fn terms(&self, lang: &str) -> Result<Terms> {
        let req = self.request(Method::GET, "terms")?.query(&[("lang", lang)]);
        read_json(send(req).await?).await
    }

    /// `GET accounts/availability?name=`.
    pub async fn availability(&self, name: &str) -> Result<Availability> {
        let req = self
            .request(Method::GET, "accounts/availability")?
            .query(&[("name", name)]);
        read_json(send(req).await?).await
    }

    /// `POST registrations`.
    pub async fn register(&self, body: &RegistrationRequest) -> Result<RegistrationResponse> {
        let req = self.request(Method::POST, "registrations")?.json(body);
        read_json(send(req).await?).await
    }

    /// `POST activations`.
    pub async fn activate(&self, token: &SecretString) -> Result<Account> {
        let req = self
            .request(Method::POST, "activations")?
            .json(&json!({ "token": token.expose_secret() }));
        read_json(send(req).await?).await
    }

    /// `POST activations/resend` (202).
    pub async fn resend_activation(&self, email: &str) -> Result<()> {
        let req = self
            .request(Method::POST, "activations/resend")?
            .json(&json!({ "email": email }));
        read_empty(send(req).await?).await
    }

    /// `POST password-resets` (202 whether or not the account exists).
    pub async fn request_password_reset(&self, email: &str) -> Result<()> {
        let req = self
            .request(Method::POST, "password-resets")?
            .json(&json!({ "email": email }));
        read_empty(send(req).await?).await
    }

    /// `POST password-resets/{token}` (204; revokes every session).
    pub async fn complete_password_reset(
        &self,
        token: &SecretString,
        password: &SecretString,
        password_confirm: &SecretString,
    ) -> Result<()> {
        let token = token.expose_secret();
        if token.is_empty()
            || !token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
        {
            return Err(CoreError::Service {
                status: 400,
                code: "reset.invalid".into(),
                field: None,
                detail: None,
            });
        }
        let req = self
            .request(Method::POST, &format!("password-resets/{token}"))?
            .json(&json!({
                "password": password.expose_secret(),
                "password_confirm": password_confirm.expose_secret(),
            }));
        read_empty(send(req).await?).await
    }

    /// `POST sessions` with an e-mail and password.
    pub async fn sign_in_password(
        &self,
        email: &str,
        password: &SecretString,
    ) -> Result<SessionTokens> {
        let req = self.request(Method::POST, "sessions")?.json(&json!({
            "method": "password",
            "email": email,
            "password": password.expose_secret(),
        }));
        read_tokens(send(req).await?).await
    }

    /// `POST sessions` with a verified county credential (token exchange).
    /// `account.not_registered` (404) means: offer registration.
    pub async fn sign_in_county(
        &self,
        county: &str,
        credential: &CountyCredential,
    ) -> Result<SessionTokens> {
        let mut body = json!({ "method": "county", "county": county });
        match credential {
            CountyCredential::IdToken(t) => body["id_token"] = json!(t.expose_secret()),
            CountyCredential::AccessToken(t) => body["access_token"] = json!(t.expose_secret()),
        }
        let req = self.request(Method::POST, "sessions")?.json(&body);
        read_tokens(send(req).await?).await
    }

    /// `POST sessions/refresh` (the refresh token rotates).
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<SessionTokens> {
        let req = self
            .request(Method::POST, "sessions/refresh")?
            .json(&json!({ "refresh_token": refresh_token.expose_secret() }));
        read_tokens(send(req).await?).await
    }

    /// `DELETE sessions/current` (revokes the refresh family too).
    pub async fn revoke(&self, access_token: &SecretString) -> Result<()> {
        let req = self
            .request(Method::DELETE, "sessions/current")?
            .bearer_auth(access_token.expose_secret());
        read_empty(send(req).await?).await
    }

    /// `POST sessions/revoke` with the REFRESH token: ends its whole
    /// session family whatever the state of its access token (expired
    /// after ~15 min). 204 whether or not the token was known (RFC 7009).
    pub async fn revoke_refresh_token(&self, refresh_token: &SecretString) -> Result<()> {
        let req = self.request(Method::POST, "sessions/revoke")?.json(&json!({
            "token": refresh_token.expose_secret(),
            "token_type_hint": educloud_contract::wire::TOKEN_TYPE_REFRESH,
        }));
        read_empty(send(req).await?).await
    }

    /// `GET me`.
    pub async fn me(&self, access_token: &SecretString) -> Result<Account> {
        let req = self
            .request(Method::GET, "me")?
            .bearer_auth(access_token.expose_secret());
        read_json(send(req).await?).await
    }

    /// `POST web-handoffs`: a one-time link (single use, ≤ 60 s, bound to
    /// this session) that signs the system browser in on the 教育雲服務
    /// page `target` (one of `educloud_contract::wire::WEB_TARGETS`). The
    /// URL is a credential: open it, never log or store it. A link off the
    /// service's own origin, or not https/loopback, is refused.
    pub async fn web_handoff(
        &self,
        access_token: &SecretString,
        target: &str,
    ) -> Result<educloud_contract::wire::WebHandoff> {
        let req = self
            .request(Method::POST, "web-handoffs")?
            .bearer_auth(access_token.expose_secret())
            .json(&json!({ "target": target }));
        let handoff: educloud_contract::wire::WebHandoff = read_json(send(req).await?).await?;
        let url = Url::parse(handoff.url.expose_secret()).ok();
        if !url.is_some_and(|u| is_secure_url(&u) && u.origin() == self.api_base.origin()) {
            return Err(CoreError::BadResponse {
                what: host_of(&self.api_base),
                detail: "the web hand-off link is not on the service's own secure origin".into(),
            });
        }
        Ok(handoff)
    }
}

/// Where a redirect we refuse to follow points (for the error's words).
pub(crate) fn redirect_target(resp: &Response) -> String {
    resp.headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("?")
        .to_string()
}

/// Sends a request; connection failures become `network.unreachable`,
/// redirects and problem documents become errors.
pub(crate) async fn send(req: RequestBuilder) -> Result<Response> {
    let resp = req.send().await.map_err(transport_error)?;
    let status = resp.status();
    if status.is_redirection() {
        let to = redirect_target(&resp);
        return Err(CoreError::BadResponse {
            what: host_of(resp.url()),
            detail: format!("refused to follow a redirect ({status}) to {to}"),
        });
    }
    if status.is_success() {
        return Ok(resp);
    }
    if let Some(e) = crate::net::proxy_status_error(&resp) {
        return Err(e);
    }
    Err(problem_error(resp).await)
}

fn host_of(url: &Url) -> String {
    url.host_str().unwrap_or("the server").to_string()
}

pub(crate) use crate::net::transport_error;

async fn problem_error(resp: Response) -> CoreError {
    let status = resp.status();
    let what = host_of(resp.url());
    // An error page past the cap is no problem document either.
    let body = read_limited(resp, limits::PROBLEM, "an error answer")
        .await
        .unwrap_or_default();
    match serde_json::from_slice::<Problem>(&body) {
        Ok(p) => CoreError::Service {
            status: status.as_u16(),
            code: p.code,
            field: p.field,
            detail: p.detail.or(p.title),
        },
        // A maintenance page, a proxy's "bad gateway": the service is not
        // there right now, in its own words (not "an unexpected answer").
        Err(_) if status.is_server_error() => CoreError::ServiceUnavailable {
            what,
            status: status.as_u16(),
        },
        Err(_) => CoreError::BadResponse {
            what,
            detail: format!("HTTP {status} without a problem document"),
        },
    }
}

async fn read_json<T: DeserializeOwned>(resp: Response) -> Result<T> {
    read_json_limited(resp, limits::API, "an Education Cloud answer").await
}

async fn read_json_limited<T: DeserializeOwned>(
    resp: Response,
    limit: u64,
    what: &str,
) -> Result<T> {
    let host = host_of(resp.url());
    let body = read_limited(resp, limit, what).await?;
    serde_json::from_slice(&body).map_err(|e| CoreError::BadResponse {
        what: host,
        detail: format!("unexpected JSON: {e}"),
    })
}

async fn read_empty(resp: Response) -> Result<()> {
    // Drain the body (capped) so the connection can be reused.
    let _ = read_limited(resp, limits::PROBLEM, "an empty answer").await;
    Ok(())
}

async fn read_tokens(resp: Response) -> Result<SessionTokens> {
    let wire: educloud_contract::wire::SessionTokens = read_json(resp).await?;
    Ok(wire.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_urls_are_https_or_loopback() {
        let ok = [
            "https://ntpc.sso.edu.tw",
            "http://127.0.0.1:8080/idp/ntpc",
            "http://127.5.6.7/",
            "http://[::1]:9/x",
        ];
        let bad = [
            "http://ntpc.sso.edu.tw",
            "http://localhost:8080/",
            "http://10.0.0.1/",
            "ftp://127.0.0.1/",
            "http://[::2]/",
        ];
        for u in ok {
            assert!(is_secure_url(&Url::parse(u).unwrap()), "{u}");
        }
        for u in bad {
            assert!(!is_secure_url(&Url::parse(u).unwrap()), "{u}");
        }
    }

    /// Issue 12 item 6: a service streaming an endless answer (a success
    /// or an error answer) is cut off at the cap, fast, on every API path.
    #[tokio::test]
    async fn an_endless_answer_from_the_service_is_cut_off() {
        use crate::net::tests::server;
        let endless = |status: &'static str| -> &'static str {
            match status {
                "200" => "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
                _ => "HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ntransfer-encoding: chunked\r\n\r\n",
            }
        };
        let http = crate::net::http_client(&crate::policy::Policy::default()).unwrap();
        let started = std::time::Instant::now();
        let (ok_url, _) = server(endless("200"), true).await;
        let err = EduCloudClient::fetch_configuration(&http, &ok_url)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "network.response_too_large");
        let client = EduCloudClient::new(http.clone(), ok_url.join("api/v1/").unwrap()).unwrap();
        let err = client
            .sign_in_password("a@example.com", &SecretString::from("pw".to_string()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "network.response_too_large");
        assert_eq!(
            client.terms("zh-TW").await.unwrap_err().code(),
            "network.response_too_large"
        );
        // An endless error answer: no problem document, said at once.
        let (bad_url, _) = server(endless("400"), true).await;
        let client = EduCloudClient::new(http, bad_url.join("api/v1/").unwrap()).unwrap();
        let err = client
            .me(&SecretString::from("t".to_string()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "network.bad_response", "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    /// A maintenance page (5xx, HTML) is the service being unavailable, not
    /// "an unexpected answer".
    #[tokio::test]
    async fn a_maintenance_page_is_service_unavailable() {
        use crate::net::tests::server;
        let (url, _) = server(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/html\r\nretry-after: 120\r\ncontent-length: 20\r\nconnection: close\r\n\r\n<h1>maintenance</h1>",
            false,
        )
        .await;
        let http = crate::net::http_client(&crate::policy::Policy::default()).unwrap();
        let err = EduCloudClient::fetch_configuration(&http, &url)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "network.service_unavailable", "{err}");
    }
}
