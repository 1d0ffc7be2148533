//! Which proxy the app's HTTP goes through — one choice for every request:
//!
//! 1. IT policy `ProxyUrl` (`http://[user:password@]host:port`; the password
//!    is never logged or shown), with `ProxyBypass`: hosts that go direct
//!    (default `localhost`, `127.0.0.1`, `[::1]`; an empty list sends
//!    everything through the proxy). Entries are host names (a name also
//!    matches its subdomains), IP addresses or networks (`10.0.0.0/8`), or
//!    `*`.
//! 2. Otherwise the system's proxy, read as reqwest reads it (hyper-util's
//!    matcher): on Windows the Internet Options (WinINet) proxy and its
//!    bypass list, on macOS the network settings' proxies and exceptions,
//!    everywhere the `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` and `NO_PROXY`
//!    variables — except that loopback (`localhost`, 127.0.0.0/8, `[::1]`:
//!    the embedded demo service) always goes direct.
//!    PAC files (automatic proxy configuration scripts) are not run.
//!
//! The app's own loopback redirect listener (county sign-in) is a server:
//! no proxy is ever involved there.

use serde::Serialize;
use url::Url;

use crate::policy::Policy;
use crate::Result;

/// The bypass list when policy sets `ProxyUrl` but not `ProxyBypass`.
pub const DEFAULT_BYPASS: &[&str] = &["localhost", "127.0.0.1", "[::1]"];

/// The environment variables reqwest reads for the system proxy.
pub const PROXY_VARIABLES: &[&str] = &[
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// The proxy choice in words, for `doctor` and the diagnostics view (no
/// password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyChoice {
    /// `policy` (ProxyUrl) or `system`.
    pub source: &'static str,
    /// The policy's proxy URL with any password replaced by `***`.
    pub url: Option<String>,
    /// Whether the policy's URL carries a user name (basic authentication).
    pub authenticated: bool,
    /// Hosts that go direct (policy); empty = everything through the proxy.
    pub bypass: Vec<String>,
    /// The proxy variables set in this process (values redacted the same
    /// way); on Windows and macOS the system settings apply as well.
    pub variables: Vec<(String, String)>,
}

/// Replaces the password of a URL-like text (`scheme://user:pw@host…` or
/// `user:pw@host…`) with `***`.
pub fn redact(text: &str) -> String {
    let (scheme, rest) = match text.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), text),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:***"),
                None => userinfo.to_string(),
            };
            format!("{scheme}{user}@{host}{path}")
        }
        None => text.to_string(),
    }
}

/// The bypass list in force for the policy proxy.
pub fn bypass_list(policy: &Policy) -> Vec<String> {
    match &policy.proxy_bypass {
        Some(list) => list
            .iter()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .collect(),
        None => DEFAULT_BYPASS.iter().map(|h| h.to_string()).collect(),
    }
}

/// Describes the choice [`apply`] makes.
pub fn choice(policy: &Policy) -> ProxyChoice {
    let variables = PROXY_VARIABLES
        .iter()
        .filter_map(|name| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| (name.to_string(), redact(&v)))
        })
        .collect();
    match policy_url(policy) {
        Some(url) => ProxyChoice {
            source: "policy",
            authenticated: Url::parse(url).is_ok_and(|u| !u.username().is_empty()),
            url: Some(redact(url)),
            bypass: bypass_list(policy),
            variables,
        },
        None => ProxyChoice {
            source: "system",
            url: None,
            authenticated: false,
            bypass: Vec::new(),
            variables,
        },
    }
}

fn policy_url(policy: &Policy) -> Option<&str> {
    policy
        .proxy_url
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
}

/// The policy's proxy, parsed once for every HTTP client of the app
/// (core's and the updater's, which is another reqwest version).
#[derive(Clone)]
pub struct PolicyProxy {
    /// The proxy without user information.
    pub url: Url,
    /// Basic-authentication user name and password (decoded).
    pub credentials: Option<(String, secrecy::SecretString)>,
    /// The bypass list as reqwest's `NoProxy::from_string` takes it
    /// (comma-separated, IPv6 without brackets).
    pub no_proxy: String,
}

impl PolicyProxy {
    /// The user name and password for `Proxy::basic_auth`.
    pub fn basic_auth(&self) -> Option<(&str, &str)> {
        use secrecy::ExposeSecret;
        self.credentials
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.expose_secret()))
    }
}

impl std::fmt::Debug for PolicyProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyProxy")
            .field("url", &self.url.as_str())
            .field("user", &self.credentials.as_ref().map(|c| &c.0))
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

/// The policy's `ProxyUrl` and `ProxyBypass`, checked: `None` when policy
/// sets no proxy (the system's applies). Only `http://` and `https://`
/// proxies are supported.
pub fn policy_proxy(policy: &Policy) -> Result<Option<PolicyProxy>> {
    let Some(url) = policy_url(policy) else {
        return Ok(None);
    };
    let parsed =
        Url::parse(url).map_err(|e| super::invalid("ProxyUrl", format!("{}: {e}", redact(url))))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(super::invalid(
            "ProxyUrl",
            format!(
                "{}: only http:// and https:// proxies are supported",
                redact(url)
            ),
        ));
    }
    let credentials = (!parsed.username().is_empty()).then(|| {
        (
            percent_encoding_decode(parsed.username()),
            secrecy::SecretString::from(percent_encoding_decode(parsed.password().unwrap_or(""))),
        )
    });
    let mut bare = parsed;
    let _ = bare.set_username("");
    let _ = bare.set_password(None);
    let no_proxy = bypass_list(policy)
        .into_iter()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
        .collect::<Vec<_>>()
        .join(",");
    Ok(Some(PolicyProxy {
        url: bare,
        credentials,
        no_proxy,
    }))
}

/// Whether `url` points at this computer (`localhost`, 127.0.0.0/8,
/// `[::1]`): the embedded demo service and local tests, never worth a
/// system proxy (which could not reach them anyway).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The system's proxy for `url` (Windows/macOS settings and their
/// exceptions, the `*_PROXY`/`NO_PROXY` variables), loopback always direct;
/// the proxy's credentials (if any) ride in the returned URL's userinfo,
/// which reqwest turns into `Proxy-Authorization`.
fn system_proxy_for(
    system: &hyper_util::client::proxy::matcher::Matcher,
    url: &Url,
) -> Option<Url> {
    if is_loopback(url) {
        return None;
    }
    let uri: http::Uri = url.as_str().parse().ok()?;
    let intercept = system.intercept(&uri)?;
    let mut target = Url::parse(&intercept.uri().to_string()).ok()?;
    // The matcher keeps the variables' user:password as a Basic header.
    let basic = intercept
        .basic_auth()
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(b).ok()
        })
        .and_then(|b| String::from_utf8(b).ok());
    if let Some((user, password)) = basic.as_deref().and_then(|b| b.split_once(':')) {
        // (set_username/set_password percent-encode.)
        let _ = target.set_username(user);
        let _ = target.set_password(Some(password));
    }
    Some(target)
}

/// Sets the proxy of an HTTP client: the policy's (with its bypass list)
/// or, when policy sets none, the system's — loopback always direct.
pub fn apply(policy: &Policy, builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder> {
    let Some(p) = policy_proxy(policy)? else {
        let system = hyper_util::client::proxy::matcher::Matcher::from_system();
        return Ok(builder.proxy(reqwest::Proxy::custom(move |url| {
            system_proxy_for(&system, url)
        })));
    };
    let mut proxy = reqwest::Proxy::all(p.url.as_str())
        .map_err(|e| super::invalid("ProxyUrl", format!("{}: {e}", p.url)))?;
    if let Some((user, password)) = p.basic_auth() {
        proxy = proxy.basic_auth(user, password);
    }
    proxy = proxy.no_proxy(reqwest::NoProxy::from_string(&p.no_proxy));
    Ok(builder.proxy(proxy))
}

fn percent_encoding_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> Policy {
        Policy::from_json(json).unwrap().0
    }

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact("http://teacher:s3cr%40t@proxy.school.tw:3128"),
            "http://teacher:***@proxy.school.tw:3128"
        );
        assert_eq!(redact("proxy:3128"), "proxy:3128");
        assert_eq!(redact("u:p@w@proxy:3128/x@y"), "u:***@proxy:3128/x@y");
        assert_eq!(redact("http://u@proxy/"), "http://u@proxy/");
        let p = policy(r#"{"ProxyUrl":"http://t:s3cret@127.0.0.1:3128"}"#);
        // What doctor prints for the policy key.
        assert_eq!(
            p.display("ProxyUrl").as_deref(),
            Some("http://t:***@127.0.0.1:3128")
        );
        let c = choice(&p);
        assert_eq!(c.source, "policy");
        assert!(c.authenticated);
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn bypass_defaults_to_loopback_and_an_empty_list_bypasses_nothing() {
        assert_eq!(
            bypass_list(&policy(r#"{"ProxyUrl":"http://127.0.0.1:3128"}"#)),
            ["localhost", "127.0.0.1", "[::1]"]
        );
        assert!(bypass_list(&policy(r#"{"ProxyUrl":"http://p:1","ProxyBypass":[]}"#)).is_empty());
        assert_eq!(
            bypass_list(&policy(r#"{"ProxyBypass":["intra.school.tw", " "]}"#)),
            ["intra.school.tw"]
        );
        assert_eq!(choice(&Policy::default()).source, "system");
    }

    #[test]
    fn the_system_proxy_never_takes_loopback() {
        let system = hyper_util::client::proxy::matcher::Matcher::builder()
            .all("http://u:pw@proxy.school.tw:3128")
            .build();
        for direct in [
            "http://127.0.0.1:8080/",
            "https://localhost/",
            "http://[::1]:9/",
            "http://127.9.9.9/",
        ] {
            assert_eq!(
                system_proxy_for(&system, &Url::parse(direct).unwrap()),
                None,
                "{direct}"
            );
        }
        let via = system_proxy_for(&system, &Url::parse("https://cloud.edu.tw/").unwrap()).unwrap();
        assert_eq!(via.host_str(), Some("proxy.school.tw"));
        assert_eq!((via.username(), via.password()), ("u", Some("pw")));
    }

    #[test]
    fn user_info_is_decoded() {
        assert_eq!(percent_encoding_decode("s3cr%40t+x"), "s3cr@t+x");
    }

    #[test]
    fn unsupported_or_broken_proxies_are_refused() {
        for bad in ["socks5://127.0.0.1:1080", "not a url"] {
            let p = policy(&format!(r#"{{"ProxyUrl":{bad:?}}}"#));
            let err = apply(&p, reqwest::Client::builder()).unwrap_err();
            assert_eq!(err.code(), "policy.invalid", "{bad}");
            assert!(!err.to_string().contains("s3cret"));
        }
    }
}
