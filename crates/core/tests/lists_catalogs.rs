//! List-keeping tests (issue 11) for the UI's words:
//! - the two catalogs `ui/i18n/zh-TW.json` and `ui/i18n/en.json` have the
//!   same keys (and each value is non-empty text with the same `{name}`
//!   placeholders);
//! - every error code the app can show has words (`error.<code>`) in both:
//!   the rules' codes (`contract::rules::codes::ALL`), the API's codes
//!   (`contract::wire::code::ALL`) and the core's own codes
//!   (`CoreError::code()`).
//!
//! The core's codes: `CoreError::code()` returns fixed codes for most
//! variants, and `SignInRejected`/`Service`/`Invalid` carry codes chosen
//! where the error is made. The test finds them in `crates/core/src` (every
//! `code: "…"`, `rejected("…"`, `CoreError::invalid(…, "…")`, `=> "…"`
//! arms and `&str = "a.b"` constants) — so a code added anywhere in the core
//! without words fails here — and every code found must also be in the
//! core's own lists (`CoreError::all_codes()`, `oidc::code::ALL`). Seen
//! failing once: see /work/notes/h6-tests.md.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use educloud_contract::{rules::codes, wire};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn catalog(name: &str) -> BTreeMap<String, serde_json::Value> {
    let path = root().join("ui/i18n").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not a JSON object: {e}"))
}

/// `{name}` placeholders in a message.
fn placeholders(s: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        if let Some(close) = rest.find('}') {
            let name = &rest[..close];
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                out.insert(name.to_string());
            }
            rest = &rest[close + 1..];
        }
    }
    out
}

#[test]
fn both_catalogs_have_the_same_keys_and_placeholders() {
    let zh = catalog("zh-TW.json");
    let en = catalog("en.json");
    let zk: BTreeSet<_> = zh.keys().collect();
    let ek: BTreeSet<_> = en.keys().collect();
    let only_zh: Vec<_> = zk.difference(&ek).collect();
    let only_en: Vec<_> = ek.difference(&zk).collect();
    assert!(
        only_zh.is_empty() && only_en.is_empty(),
        "the catalogs' keys differ\nonly in zh-TW.json: {only_zh:?}\nonly in en.json: {only_en:?}"
    );
    let mut problems = Vec::new();
    for (k, z) in &zh {
        let e = &en[k];
        match (z.as_str(), e.as_str()) {
            (Some(z), Some(e)) if !z.trim().is_empty() && !e.trim().is_empty() => {
                if placeholders(z) != placeholders(e) {
                    problems.push(format!(
                        "{k}: placeholders differ ({:?} vs {:?})",
                        placeholders(z),
                        placeholders(e)
                    ));
                }
            }
            _ => problems.push(format!("{k}: not non-empty text in both catalogs")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Is `s` shaped like an error code: `area.reason` (lower-case words) or
/// the bare `internal`?
fn is_code(s: &str) -> bool {
    let word = |w: &str| {
        !w.is_empty()
            && w.starts_with(|c: char| c.is_ascii_lowercase())
            && w.chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
    };
    s == "internal" || matches!(s.split_once('.'), Some((a, r)) if word(a) && word(r))
}

/// The source without comments and without its `#[cfg(test)]` tail.
fn code_part(src: &str) -> String {
    let body = match src.find("#[cfg(test)]") {
        Some(at) => &src[..at],
        None => src,
    };
    body.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// String literals in `src` with the (whitespace-trimmed) text before each.
fn literals(src: &str) -> Vec<(String, String)> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            // A char literal such as '"' must not open a string.
            b'\'' if i + 2 < bytes.len() && bytes[i + 2] == b'\'' => i += 3,
            b'\'' if i + 3 < bytes.len() && bytes[i + 1] == b'\\' && bytes[i + 3] == b'\'' => {
                i += 4
            }
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < bytes.len() && bytes[j] != b'"' {
                    j += if bytes[j] == b'\\' { 2 } else { 1 };
                }
                let before = src[..i].trim_end();
                let ctx_start = before.len().saturating_sub(120);
                let ctx = before
                    .get(ctx_start..)
                    .or_else(|| before.get(before.len().saturating_sub(200)..))
                    .unwrap_or(before);
                out.push((src[start..j.min(src.len())].to_string(), ctx.to_string()));
                i = j + 1;
            }
            _ => i += 1,
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every code the core makes itself, found in crates/core/src.
fn core_codes() -> BTreeMap<String, String> {
    let mut files = Vec::new();
    rust_files(&root().join("crates/core/src"), &mut files);
    files.sort();
    let mut found = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(root()).unwrap_or(&f).display().to_string();
        let is_error_rs = f.ends_with("error.rs");
        let src = code_part(&std::fs::read_to_string(&f).expect("read source"));
        for (lit, before) in literals(&src) {
            if !is_code(&lit) {
                continue;
            }
            let last_stmt = before.rsplit([';', '{', '}']).next().unwrap_or("");
            let made_as_code = before.ends_with("code:")
                || before.ends_with("rejected(")
                || (before.ends_with("&str =") || before.ends_with("&'static str ="))
                || (before.ends_with(',') && last_stmt.contains("invalid("))
                || before.ends_with("=>")
                || (is_error_rs && before.ends_with('|'));
            if made_as_code {
                found.entry(lit).or_insert(rel.clone());
            }
        }
    }
    found
}

#[test]
fn the_core_code_finder_sees_the_codes_it_must() {
    // Guards the finder itself: if a refactor moves codes out of its sight
    // (so the words test below would pass vacuously), this fails.
    let found = core_codes();
    for must in [
        "network.unreachable",
        "signin.cancelled",
        "signin.state_mismatch",
        "session.not_signed_in",
        "keychain.unavailable",
        "policy.locked",
        "internal",
    ] {
        assert!(
            found.contains_key(must),
            "the finder lost {must}; found {found:?}"
        );
    }
    assert!(found.len() >= 25, "only {} core codes found", found.len());
}

/// The core's own lists of the codes it makes.
fn listed_core_codes() -> Vec<&'static str> {
    let mut all = educloud_core::CoreError::all_codes();
    all.extend_from_slice(educloud_core::oidc::code::ALL);
    all
}

#[test]
fn every_code_the_core_makes_is_in_its_lists() {
    // The lists the UI and the docs rely on keep themselves in step with the
    // code: a code made anywhere in crates/core/src must be in
    // `CoreError::all_codes()` or `oidc::code::ALL` (or be one of the
    // contract's codes the core passes through).
    let mut listed: BTreeSet<String> = listed_core_codes().iter().map(|c| c.to_string()).collect();
    listed.extend(codes::ALL.iter().map(|c| c.to_string()));
    listed.extend(wire::code::ALL.iter().map(|(c, _, _)| c.to_string()));
    let unlisted: Vec<String> = core_codes()
        .into_iter()
        .filter(|(c, _)| !listed.contains(c))
        .map(|(c, file)| format!("{c} (made in {file})"))
        .collect();
    assert!(
        unlisted.is_empty(),
        "codes the core makes but no list names (add them to CoreError::all_codes() in error.rs, or oidc::code::ALL):\n{}",
        unlisted.join("\n")
    );
}

#[test]
fn every_error_code_has_words_in_both_catalogs() {
    let zh = catalog("zh-TW.json");
    let en = catalog("en.json");
    let mut codes_with_source: BTreeMap<String, String> = BTreeMap::new();
    for c in codes::ALL {
        codes_with_source.insert(c.to_string(), "contract rules::codes::ALL".into());
    }
    for (c, _, _) in wire::code::ALL {
        codes_with_source.insert(c.to_string(), "contract wire::code::ALL".into());
    }
    for c in listed_core_codes() {
        codes_with_source
            .entry(c.to_string())
            .or_insert("CoreError::all_codes() / oidc::code::ALL".into());
    }
    for (c, file) in core_codes() {
        codes_with_source.entry(c).or_insert(file);
    }
    let mut missing = Vec::new();
    for (code, from) in &codes_with_source {
        let key = format!("error.{code}");
        let in_zh = zh.contains_key(&key);
        let in_en = en.contains_key(&key);
        if !(in_zh && in_en) {
            let which = match (in_zh, in_en) {
                (false, false) => "both catalogs",
                (false, true) => "zh-TW.json",
                _ => "en.json",
            };
            missing.push(format!("{key} (from {from}) missing in {which}"));
        }
    }
    assert!(
        missing.is_empty(),
        "{} error codes lack words:\n{}",
        missing.len(),
        missing.join("\n")
    );
}
