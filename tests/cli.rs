//! The CLI half of the binary, run as a user would: no display, a temporary
//! home, real files.

use std::process::Command;

fn educloud(home: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_educloud"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("EDUCLOUD_POLICY", home.join("no-policy.json"));
    c
}

#[test]
fn version_prints_the_package_version() {
    let home = tempfile::tempdir().unwrap();
    let out = educloud(home.path()).arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.trim(),
        format!("educloud {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn doctor_works_without_a_display_and_reports_policy() {
    let home = tempfile::tempdir().unwrap();
    let policy = home.path().join("policy.json");
    std::fs::write(&policy, r#"{"DefaultCounty":"ntpc","SharedDevice":true}"#).unwrap();
    let out = educloud(home.path())
        .env("EDUCLOUD_POLICY", &policy)
        .arg("doctor")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("environment: sandbox"), "{text}");
    assert!(
        text.contains(&format!("policy: {}", policy.display())),
        "{text}"
    );
    assert!(text.contains("DefaultCounty = ntpc"), "{text}");
    assert!(text.contains("SharedDevice = true"), "{text}");
    // The database was created under the temporary home, nowhere else.
    assert!(
        home.path().join("data/educloud/educloud.sqlite").exists(),
        "{text}"
    );
}

#[test]
fn a_broken_policy_is_reported_not_fatal() {
    let home = tempfile::tempdir().unwrap();
    let policy = home.path().join("policy.json");
    std::fs::write(&policy, "{oops").unwrap();
    let out = educloud(home.path())
        .env("EDUCLOUD_POLICY", &policy)
        .arg("doctor")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("problem:") && text.contains("not valid JSON"),
        "{text}"
    );
}

#[test]
fn unknown_subcommand_fails_with_usage() {
    let home = tempfile::tempdir().unwrap();
    let out = educloud(home.path()).arg("frobnicate").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage"));
}
