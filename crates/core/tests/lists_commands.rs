//! List-keeping test (issue 11): the shell's three lists of commands stay in
//! step — `COMMANDS` in `src-tauri/build.rs` (one `allow-<cmd>` permission
//! each), the handler list in `src-tauri/commands/mod.rs`
//! (`tauri::generate_handler![...]`) and the grants in `capabilities/*.json`
//! — and every command the UI invokes (`ui/js/*.js`) is one of them.
//!
//! It reads the files as text: the shell is a Tauri crate this (Tauri-free)
//! core crate cannot link, and the lists are what the build and the runtime
//! read. Seen failing once by removing `"terms"` from `COMMANDS` (and,
//! separately, `allow-terms` from the capability): see /work/notes/h6-tests.md.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

/// The text between `open` (first occurrence after `start`) and the
/// matching `close`.
fn between<'a>(text: &'a str, start: &str, open: char, close: char) -> &'a str {
    let at = text
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} not found"));
    let rest = &text[at..];
    // After the `=` if there is one (`const X: &[&str] = &[…]`).
    let rest = match rest
        .find('=')
        .filter(|&eq| eq < rest.find('!').unwrap_or(usize::MAX))
    {
        Some(eq) => &rest[eq..],
        None => rest,
    };
    let from = rest.find(open).expect("open") + 1;
    let to = from + rest[from..].find(close).expect("close");
    &rest[from..to]
}

/// Drops `//` comments so a commented-out entry does not count.
fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `COMMANDS` in src-tauri/build.rs.
fn build_commands() -> BTreeSet<String> {
    let src = strip_comments(&read("src-tauri/build.rs"));
    let body = between(&src, "const COMMANDS", '[', ']');
    let mut out = BTreeSet::new();
    for item in body.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let name = item
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or_else(|| panic!("COMMANDS entry is not a string literal: {item:?}"));
        assert!(out.insert(name.to_string()), "{name} twice in COMMANDS");
    }
    out
}

/// The commands given to `tauri::generate_handler![...]` (last path
/// segment: `signin::sign_out` → `sign_out`).
fn handler_commands() -> BTreeSet<String> {
    let src = strip_comments(&read("src-tauri/commands/mod.rs"));
    assert_eq!(
        src.matches("generate_handler!").count(),
        1,
        "expected exactly one generate_handler! in commands/mod.rs"
    );
    let body = between(&src, "generate_handler!", '[', ']');
    let mut out = BTreeSet::new();
    for item in body.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let name = item.rsplit("::").next().unwrap_or(item).trim();
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()),
            "unexpected handler entry {item:?}"
        );
        assert!(out.insert(name.to_string()), "{name} twice in the handler");
    }
    out
}

/// Every `allow-<cmd>` granted by any capability file, as `<cmd>` with `_`.
/// Other grants (`core:…`) are returned separately.
fn capability_grants() -> (BTreeSet<String>, BTreeSet<String>) {
    let mut app = BTreeSet::new();
    let mut other = BTreeSet::new();
    let dir = root().join("capabilities");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("capabilities/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no capability files");
    for f in files {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&f).expect("read capability"))
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for p in v["permissions"].as_array().expect("permissions array") {
            // A permission is a string or {"identifier": …, …}.
            let id = p
                .as_str()
                .or_else(|| p["identifier"].as_str())
                .expect("permission identifier");
            match id.strip_prefix("allow-") {
                Some(cmd) => {
                    assert!(
                        app.insert(cmd.replace('-', "_")),
                        "{id} granted twice ({})",
                        f.display()
                    );
                }
                None => {
                    other.insert(id.to_string());
                }
            }
        }
    }
    (app, other)
}

/// Commands the UI calls: `invoke('name'` / `invoke("name"` in ui/js.
fn ui_invokes() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir(root().join("ui/js"))
        .expect("ui/js")
        .flatten()
    {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "js") {
            continue;
        }
        let src = std::fs::read_to_string(&p).expect("read js");
        let mut rest = src.as_str();
        while let Some(at) = rest.find("invoke(") {
            rest = &rest[at + "invoke(".len()..];
            let t = rest.trim_start();
            let Some(q) = t.chars().next().filter(|c| *c == '\'' || *c == '"') else {
                continue; // invoke(cmd, …) inside the ipc wrapper itself
            };
            if let Some(end) = t[1..].find(q) {
                out.insert(t[1..1 + end].to_string());
            }
        }
    }
    out
}

fn diff(a: &BTreeSet<String>, b: &BTreeSet<String>) -> Vec<String> {
    a.difference(b).cloned().collect()
}

#[test]
fn commands_handler_and_capabilities_list_the_same_commands() {
    let build = build_commands();
    let handler = handler_commands();
    let (granted, _) = capability_grants();
    assert!(build.len() >= 20, "suspiciously few commands: {build:?}");
    let mut problems = Vec::new();
    for (what, missing) in [
        (
            "in COMMANDS (src-tauri/build.rs) but not in generate_handler!",
            diff(&build, &handler),
        ),
        (
            "in generate_handler! but not in COMMANDS (no allow-<cmd> permission is generated)",
            diff(&handler, &build),
        ),
        (
            "in COMMANDS but not granted in capabilities/ (allow-<cmd>)",
            diff(&build, &granted),
        ),
        (
            "granted in capabilities/ but not in COMMANDS",
            diff(&granted, &build),
        ),
    ] {
        if !missing.is_empty() {
            problems.push(format!("{what}: {missing:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_capability_grants_no_plugin_beyond_core_events() {
    let (_, other) = capability_grants();
    let unexpected: Vec<_> = other
        .iter()
        .filter(|p| p.as_str() != "core:event:default")
        .collect();
    assert!(
        unexpected.is_empty(),
        "capabilities grant more than the app's own commands: {unexpected:?}"
    );
}

#[test]
fn every_command_the_ui_invokes_exists() {
    let build = build_commands();
    let ui = ui_invokes();
    assert!(!ui.is_empty(), "found no invoke('…') calls in ui/js");
    let unknown = diff(&ui, &build);
    assert!(
        unknown.is_empty(),
        "ui/js invokes commands that are not in COMMANDS: {unknown:?}"
    );
}
