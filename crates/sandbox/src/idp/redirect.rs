//! Native-app redirect URIs (RFC 8252 §7.3) and PKCE (RFC 7636) checks.
//!
//! The registered redirect URIs of `educloud-desktop` are
//! `http://127.0.0.1/callback/{code}` and `http://[::1]/callback/{code}`;
//! any port matches, everything else must match exactly (the URI must also
//! be in canonical form, so `127.1`, `0x7f.0.0.1` or `%6e` tricks fail).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use url::{Host, Url};

fn loopback_http(raw: &str) -> Result<Url, &'static str> {
    let url = Url::parse(raw).map_err(|_| "not an absolute URL")?;
    if url.scheme() != "http" {
        return Err("scheme must be http (loopback)");
    }
    if url.as_str() != raw {
        return Err("not in canonical form");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry user info");
    }
    match url.host() {
        Some(Host::Ipv4(ip)) if ip == std::net::Ipv4Addr::LOCALHOST => {}
        Some(Host::Ipv6(ip)) if ip == std::net::Ipv6Addr::LOCALHOST => {}
        _ => return Err("host must be 127.0.0.1 or [::1]"),
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment");
    }
    Ok(url)
}

/// Checks an authorization request's `redirect_uri` for county `code`.
/// Returns the parsed URI, or why it is refused (shown on the error page).
pub fn validate_redirect_uri(raw: &str, code: &str) -> Result<Url, &'static str> {
    let url = loopback_http(raw)?;
    if url.path() != format!("/callback/{code}") {
        return Err("path must be /callback/{county}");
    }
    if url.query().is_some() {
        return Err("must not have a query");
    }
    Ok(url)
}

/// Checks an end-session `post_logout_redirect_uri`: loopback http, any path.
pub fn validate_post_logout_uri(raw: &str) -> Result<Url, &'static str> {
    loopback_http(raw)
}

/// `redirect_uri` with the response parameters appended.
pub fn with_params(uri: &Url, params: &[(&str, Option<&str>)]) -> Url {
    let mut out = uri.clone();
    {
        let mut q = out.query_pairs_mut();
        for (k, v) in params {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
    }
    out
}

/// BASE64URL(SHA256(verifier)) (RFC 7636 §4.2).
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A code verifier: 43–128 unreserved characters (RFC 7636 §4.1).
pub fn is_valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// An S256 challenge: exactly 43 base64url characters.
pub fn is_valid_s256_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_loopback_port_is_accepted() {
        for ok in [
            "http://127.0.0.1:49152/callback/ntpc",
            "http://127.0.0.1/callback/ntpc",
            "http://[::1]:8080/callback/ntpc",
        ] {
            assert!(validate_redirect_uri(ok, "ntpc").is_ok(), "{ok}");
        }
    }

    #[test]
    fn everything_else_is_refused() {
        for bad in [
            "http://localhost:1234/callback/ntpc",
            "https://127.0.0.1:1234/callback/ntpc",
            "http://127.0.0.2:1234/callback/ntpc",
            "http://127.1:1234/callback/ntpc",
            "http://127.0.0.1:1234/callback/kh",
            "http://127.0.0.1:1234/callback/ntpc/",
            "http://127.0.0.1:1234/callback/%6etpc",
            "http://127.0.0.1:1234/callback/ntpc?x=1",
            "http://127.0.0.1:1234/callback/ntpc#f",
            "http://u:p@127.0.0.1:1234/callback/ntpc",
            "http://evil.example/callback/ntpc",
            "com.example:/callback/ntpc",
            "/callback/ntpc",
            "",
        ] {
            assert!(validate_redirect_uri(bad, "ntpc").is_err(), "{bad}");
        }
    }

    #[test]
    fn params_are_appended_and_encoded() {
        let u = Url::parse("http://127.0.0.1:5/callback/tp").unwrap();
        let r = with_params(
            &u,
            &[("code", Some("a b")), ("state", None), ("iss", Some("x&y"))],
        );
        assert_eq!(
            r.as_str(),
            "http://127.0.0.1:5/callback/tp?code=a+b&iss=x%26y"
        );
    }

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(is_valid_verifier(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        ));
        assert!(!is_valid_verifier("short"));
        assert!(!is_valid_verifier(&"a".repeat(129)));
        assert!(is_valid_s256_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!is_valid_s256_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c="
        ));
    }
}
