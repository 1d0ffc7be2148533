//! The fuzz targets' bodies: each takes the raw bytes an attacker or a
//! careless admin controls, feeds them to the app's own parser/check, and
//! asserts what must hold for ANY input (no panic, no hang, plus the
//! invariants written at each target). `fuzz_targets/*.rs` hand them to
//! libFuzzer (`cargo +nightly fuzz run <name>`); `tests/props.rs` feeds the
//! same functions on stable (committed corpora, past crashes, proptest).

use std::net::IpAddr;

use educloud_contract::rules::{Avatar, AVATAR_SIZE};
use educloud_core::policy::{macos, windows, Policy, KEYS};
use url::Url;

mod oidc;
pub use oidc::{claims, discovery, loopback, url_differential};

/// Every target by name, for the stable replay (`tests/props.rs`).
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("avatar", avatar),
    ("policy_json", policy_json),
    ("policy_reg", policy_reg),
    ("policy_plist", policy_plist),
    ("url_checks", url_checks),
    ("claims", claims),
    ("discovery", discovery),
    ("url_differential", url_differential),
    ("loopback", loopback),
];

/// Avatar upload (`rules::Avatar`): any bytes a user picks as their picture.
/// If accepted, the result is a PNG of at most AVATAR_SIZE² that is itself
/// an acceptable avatar of the same size (our output is a fixed point).
pub fn avatar(data: &[u8]) {
    if let Ok(a) = Avatar::process(data) {
        check_avatar(&a);
        let again = Avatar::process(a.png_bytes()).expect("our own avatar PNG is accepted again");
        assert_eq!(
            (again.width(), again.height()),
            (a.width(), a.height()),
            "re-processing our own avatar changed its size"
        );
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(a) = Avatar::from_base64(text) {
            check_avatar(&a);
        }
    }
}

fn check_avatar(a: &Avatar) {
    assert!(
        (1..=AVATAR_SIZE).contains(&a.width()) && (1..=AVATAR_SIZE).contains(&a.height()),
        "avatar of {}×{}",
        a.width(),
        a.height()
    );
    assert!(
        a.png_bytes().starts_with(b"\x89PNG\r\n\x1a\n"),
        "avatar is not a PNG"
    );
}

/// Everything the app does with a parsed policy: checks and `doctor`'s view.
fn exercise(p: &Policy) {
    let _ = p.check();
    for key in KEYS {
        assert_eq!(
            p.is_set(key),
            p.display(key).is_some(),
            "{key}: is_set and display disagree"
        );
    }
}

/// `/etc/educloud/policy.json` (or any file IT writes): key by key, a bad
/// value skips only its own key — so each key's fate is the same alone as
/// in the whole document.
pub fn policy_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok((policy, _problems)) = Policy::from_json(text) else {
        return;
    };
    exercise(&policy);
    let Ok(serde_json::Value::Object(obj)) = serde_json::from_str::<serde_json::Value>(text) else {
        panic!("from_json accepted what is not a JSON object");
    };
    for key in KEYS {
        // Names match keys case-insensitively and trimmed (as the registry
        // does): every spelling of this key, in the document's order.
        let spellings: serde_json::Map<String, serde_json::Value> = obj
            .iter()
            .filter(|(name, _)| name.trim().eq_ignore_ascii_case(key))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        if spellings.is_empty() {
            continue;
        }
        let alone = serde_json::Value::Object(spellings).to_string();
        let (single, _) = Policy::from_json(&alone).expect("an object");
        assert_eq!(
            single.display(key),
            policy.display(key),
            "{key}: applies differently alone than with the other keys"
        );
    }
}

fn fixed_env(name: &str) -> Option<String> {
    match name {
        "USERPROFILE" => Some(r"C:\Users\pupil".into()),
        "LOOP" => Some("%LOOP%".into()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

/// A `.reg` export (`educloud doctor --reg`, the fixtures, the shipped
/// example) and the registry values it holds; `REG_EXPAND_SZ` expansion.
pub fn policy_reg(data: &[u8]) {
    if let Ok(sections) = windows::parse_reg_export(data) {
        for s in &sections {
            let (p, _) = windows::policy_from_registry_with(&s.values, &fixed_env);
            exercise(&p);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        // Unknown names stay as written: with no variables, nothing changes.
        assert_eq!(
            windows::expand_env(text, &|_| None),
            text,
            "expand_env changed a text without known variables"
        );
        // A value that expands to its own reference must not loop.
        let _ = windows::expand_env(text, &fixed_env);
    }
}

/// A macOS managed-preferences plist (binary or XML), as MDM delivers it.
pub fn policy_plist(data: &[u8]) {
    let Ok(value) = plist::Value::from_reader(std::io::Cursor::new(data)) else {
        return;
    };
    if let plist::Value::Dictionary(dict) = value {
        let (p, _) = macos::policy_from_plist(&dict);
        exercise(&p);
    }
}

/// What `api::is_secure_url` must mean: https, or plain http to a loopback
/// IP literal — nothing else (no `localhost`, no other scheme).
fn secure_oracle(url: &Url) -> bool {
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

/// The URL checks: `api::is_secure_url` (service URL, issuers, endpoints)
/// against its definition, and the verdict survives a serialize → parse
/// round trip (the URL the app checked is the URL it later uses).
pub fn url_checks(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(url) = Url::parse(text) else {
        return;
    };
    let secure = educloud_core::api::is_secure_url(&url);
    assert_eq!(secure, secure_oracle(&url), "is_secure_url({url})");
    if let Ok(again) = Url::parse(url.as_str()) {
        assert_eq!(
            educloud_core::api::is_secure_url(&again),
            secure,
            "the verdict changed after a round trip: {url} → {again}"
        );
    }
}
