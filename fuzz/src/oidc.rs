//! Targets over the county sign-in's outside input (IdP answers, the
//! loopback redirect) and the URL checks' differential, through the core's
//! `fuzzing` feature (crates/core/src/fuzzing.rs) and the sandbox's
//! redirect check (`educloud_sandbox::testkit`).

use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use educloud_core::fuzzing as core;
use serde_json::Value;
use url::Url;

/// ID-token claims (+ eduinfo under `"_eduinfo"`) → `CountyIdentity`:
/// never a panic; the county and subject are the ones given; every text
/// the identity carries is trimmed and non-empty (an empty role or school
/// would show as a blank row in the account screen).
pub fn claims(data: &[u8]) {
    let Ok(Value::Object(mut claims)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let eduinfo = claims.remove("_eduinfo");
    let id = core::identity_from_claims("ntpc", "sub-1", &claims, eduinfo.as_ref());
    assert_eq!((id.county.as_str(), id.sub.as_str()), ("ntpc", "sub-1"));
    for (what, v) in [
        ("name", &id.name),
        ("email", &id.email),
        ("preferred_username", &id.preferred_username),
        ("school_name", &id.school_name),
        ("school_id", &id.school_id),
        ("role", &id.role),
        ("title", &id.title),
    ] {
        if let Some(s) = v {
            assert!(
                !s.trim().is_empty() && s.trim() == s,
                "{what} is {s:?} (blank or untrimmed)"
            );
        }
    }
}

const ISSUER: &str = "https://ntpc.sso.edu.tw";

fn secure(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => url
            .host_str()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .and_then(|h| h.parse::<IpAddr>().ok())
            .is_some_and(|ip| ip.is_loopback()),
        _ => false,
    }
}

/// A discovery document (bytes) for the configured issuer: if the app
/// accepts it, its issuer is exactly the configured one and every endpoint
/// is https or loopback. Also the JWKS parser on the same bytes.
pub fn discovery(data: &[u8]) {
    if let Ok(urls) = core::parse_discovery(ISSUER, data) {
        assert_eq!(urls[0], ISSUER, "accepted another issuer");
        for u in &urls[1..] {
            let parsed = Url::parse(u).expect("an accepted endpoint is a URL");
            assert!(secure(&parsed), "accepted an insecure endpoint {u}");
        }
    }
    let _ = core::parse_jwks(data);
}

fn sandbox_redirect(raw: &str, county: &str) -> bool {
    educloud_sandbox::testkit::validate_redirect_uri(raw, county).is_ok()
}

/// Differential of the URL checks: `api::is_secure_url`, the discovery
/// endpoint check, the county-issuer check, the policy URL check, and the
/// sandbox's redirect-URI check (the reference server) must agree where
/// their meanings overlap.
pub fn url_differential(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = Url::parse(text).ok();
    let secure_core = parsed
        .as_ref()
        .is_some_and(educloud_core::api::is_secure_url);
    // The endpoint check is exactly parse + is_secure_url.
    assert_eq!(
        core::check_endpoint(text),
        secure_core,
        "check_endpoint({text:?})"
    );
    // An accepted issuer is secure and has no query or fragment.
    if core::check_issuer("ntpc", text).is_ok() {
        let u = parsed.as_ref().expect("an accepted issuer parses");
        assert!(
            secure_core && u.query().is_none() && u.fragment().is_none(),
            "issuer {text:?}"
        );
    }
    // What the app calls secure, policy accepts as an https URL …
    if secure_core {
        assert!(
            core::check_policy_url(text, &["https"]).is_ok(),
            "is_secure_url accepts {text:?} but the policy check refuses it"
        );
    }
    // A policy `ServiceUrl` that `doctor` passes is one the API client
    // accepts (else IT is told "fine" and the app then refuses it).
    let doc = serde_json::json!({ "ServiceUrl": text }).to_string();
    if let Ok((policy, _)) = educloud_core::policy::Policy::from_json(&doc) {
        if policy.service_url.is_some() && !policy.check().iter().any(|(k, _)| *k == "ServiceUrl") {
            assert!(
                secure_core,
                "policy check passes ServiceUrl {text:?}; the API client refuses it"
            );
        }
    }
    // Likewise a county issuer in policy `CountyOverrides` that check()
    // passes is one the directory keeps.
    let doc = serde_json::json!({ "CountyOverrides": { "labc": {
        "name_zh": "實驗", "client_id": "c", "issuer": text } } })
    .to_string();
    if let Ok((policy, _)) = educloud_core::policy::Policy::from_json(&doc) {
        if policy.county_overrides.is_some()
            && !policy.check().iter().any(|(k, _)| *k == "CountyOverrides")
        {
            assert!(
                core::check_issuer("labc", text).is_ok(),
                "policy check passes issuer {text:?}; the directory drops it"
            );
        }
    }
    // The sandbox accepts a redirect URI only where the app's loopback would
    // be: http on 127.0.0.1/[::1], the county's callback path, secure.
    for county in ["ntpc", "tp"] {
        if sandbox_redirect(text, county) {
            let u = parsed.as_ref().expect("an accepted redirect URI parses");
            assert!(secure_core, "sandbox accepts insecure {text:?}");
            assert_eq!(u.path(), format!("/callback/{county}"));
            assert!(matches!(u.host_str(), Some("127.0.0.1") | Some("[::1]")));
        }
    }
    // The app's own redirect URI form is always accepted by the sandbox.
    if data.len() >= 2 {
        let port = u16::from_le_bytes([data[0], data[1]]);
        let codes = educloud_core::contract::county::COUNTIES;
        let c = &codes[data.len() % codes.len()];
        for host in ["127.0.0.1", "[::1]"] {
            let ours = format!("http://{host}:{port}/callback/{}", c.code);
            let ours = Url::parse(&ours)
                .expect("our redirect URI parses")
                .to_string();
            assert!(
                sandbox_redirect(&ours, c.code),
                "the sandbox refuses our {ours}"
            );
        }
    }
}

const STATE: &str = "st4te";

struct Listener {
    rt: tokio::runtime::Runtime,
    lb: Option<core::Loopback>,
}

fn listener() -> &'static Mutex<Listener> {
    static L: OnceLock<Mutex<Listener>> = OnceLock::new();
    L.get_or_init(|| {
        // A peer that closes first must not kill the fuzzer with SIGPIPE
        // (Rust's own main ignores it; libFuzzer's C main does not).
        // SAFETY: setting a signal disposition to SIG_IGN, once, before any
        // socket is written.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        Mutex::new(Listener { rt, lb: None })
    })
}

/// Raw bytes sent to the loopback redirect listener of a sign-in that
/// expects state `st4te` (the `{path}` placeholder becomes the callback
/// path): the listener hands a request to the flow ONLY when it is a GET
/// carrying exactly one `state` equal to the expected one; anything else
/// gets an answer and the listener keeps waiting.
pub fn loopback(data: &[u8]) {
    let mut l = listener().lock().unwrap_or_else(|p| p.into_inner());
    let l = &mut *l;
    if l.lb.is_none() {
        l.lb = Some(
            l.rt.block_on(core::Loopback::bind("ntpc", STATE))
                .expect("bind"),
        );
    }
    let lb = l.lb.as_mut().expect("bound");
    let text = String::from_utf8_lossy(data).replace("{path}", &lb.path());
    if let Ok(mut s) = TcpStream::connect(lb.addr()) {
        let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
        let _ = s.write_all(text.as_bytes());
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    }
    if let Some(params) = l.rt.block_on(lb.taken(Duration::from_millis(1))) {
        let states: Vec<_> = params.iter().filter(|(k, _)| k == "state").collect();
        assert!(
            states.len() == 1 && states[0].1 == STATE,
            "the flow was handed a request without this sign-in's state: {params:?}"
        );
        assert!(
            text.trim_start().starts_with("GET "),
            "the flow was handed a request that is not a GET: {text:?}"
        );
        // The redirect was taken: the next input gets a fresh listener.
        if let Some(old) = l.lb.take() {
            l.rt.block_on(old.close());
        }
    }
}
