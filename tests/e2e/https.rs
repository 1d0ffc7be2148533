//! The whole thing over HTTPS in the real window (issue 14): the sandbox
//! serves HTTPS with a CA it generates (`educloud sandbox --tls`), the app
//! trusts that CA the way it reads the OS store on Linux (`SSL_CERT_FILE`,
//! no policy), and headless Chromium — the system browser — trusts it
//! through the NSS database in the user's home (`~/.pki/nssdb`, where
//! Chromium on Linux reads locally added roots; `certutil`). County sign-in
//! and the registration run end to end; without the CA the window says it
//! is the certificate, not the network.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::json;

use crate::rig::{self, App, Profile};

const PASSWORD: &str = "Kite-Lamp-93-Orbit";

/// `educloud sandbox --tls` as a child process (stopped on drop; under
/// `timeout`, so it also stops by itself).
struct TlsSandbox {
    child: std::process::Child,
    url: String,
    ca: PathBuf,
    _data: tempfile::TempDir,
}

impl TlsSandbox {
    fn start() -> TlsSandbox {
        let data = tempfile::tempdir().unwrap();
        let mut child = Command::new("timeout")
            .args([
                "600",
                env!("CARGO_BIN_EXE_educloud"),
                "sandbox",
                "--tls",
                "--data",
            ])
            .arg(data.path())
            .env("EDUCLOUD_DATA_DIR", data.path().join("app"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("educloud sandbox --tls");
        let out = child.stdout.take().unwrap();
        let (mut url, mut ca) = (None, None);
        for line in BufReader::new(out).lines() {
            let line = line.unwrap();
            if let Some(p) = line.strip_prefix("CA ") {
                ca = Some(PathBuf::from(p.trim()));
            }
            if let Some(u) = line.strip_prefix("READY ") {
                url = Some(u.trim().to_string());
                break;
            }
        }
        let url = url.expect("the sandbox printed no READY line");
        assert!(url.starts_with("https://127.0.0.1:"), "{url}");
        TlsSandbox {
            child,
            url,
            ca: ca.expect("the sandbox printed no CA line"),
            _data: data,
        }
    }
}

impl Drop for TlsSandbox {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Adds `ca` to the NSS database Chromium reads in `home`.
fn chromium_trusts(home: &Path, ca: &Path) {
    let db = home.join(".pki/nssdb");
    std::fs::create_dir_all(&db).unwrap();
    let db = format!("sql:{}", db.display());
    let certutil = |args: &[&str]| {
        let ok = Command::new("certutil")
            .args(args)
            .status()
            .unwrap_or_else(|e| panic!("certutil (apt: libnss3-tools): {e}"))
            .success();
        assert!(ok, "certutil {args:?}");
    };
    certutil(&["-d", &db, "-N", "--empty-password"]);
    certutil(&[
        "-d",
        &db,
        "-A",
        "-t",
        "C,,",
        "-n",
        "educloud-sandbox",
        "-i",
        &ca.display().to_string(),
    ]);
}

fn tools_and_certutil() -> Option<rig::Tools> {
    let tools = rig::tools()?;
    let certutil = Command::new("certutil").arg("-H").output().is_ok();
    rig::require(
        certutil,
        "certutil missing (apt: libnss3-tools) for Chromium's trust store",
    )
    .then_some(tools)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn county_sign_in_over_https_with_the_ca_in_the_os_store() {
    let _serial = rig::serial().await;
    let Some(tools) = tools_and_certutil() else {
        return;
    };
    let sandbox = TlsSandbox::start();
    let profile = Profile::new();
    chromium_trusts(profile.path(), &sandbox.ca);
    profile.set_browser_plan(
        json!({"action": "login", "username": "ntpcbound", "password": "demo-password"}),
        "https-signin-browser",
    );
    let ca = sandbox.ca.display().to_string();
    let env = [
        ("EDUCLOUD_SERVICE_URL", sandbox.url.as_str()),
        ("SSL_CERT_FILE", ca.as_str()),
    ];
    let app = App::launch(&tools, &profile, &env).await;
    let info = app.invoke("app_info", json!({})).await;
    assert_eq!(
        info["ok"]["service_url"].as_str(),
        Some(sandbox.url.as_str()),
        "{info}"
    );
    app.click("#home-sign-in").await;
    app.wait_text("h1", "教育雲單一登入").await;
    app.client
        .execute("document.getElementById('county').value = 'ntpc'", vec![])
        .await
        .unwrap();
    app.click("#county-login").await;
    app.wait_text("#dialog-title", "登入成功").await;
    app.screenshot("https-1-county-signed-in").await;
    app.click("#success-ok").await;
    app.wait_text("#account-details", "ntpcbound@mail.edu.tw")
        .await;
    // The browser went to the county page over HTTPS and trusted it.
    let visits = profile.browser_visits();
    assert_eq!(visits.len(), 1, "{visits:?}");
    assert_eq!(visits[0]["ok"], true, "{visits:?}");
    assert!(
        visits[0]["url"]
            .as_str()
            .unwrap_or("")
            .starts_with("https://127.0.0.1:"),
        "{visits:?}"
    );
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_over_https_then_member_sign_in() {
    let _serial = rig::serial().await;
    let Some(tools) = tools_and_certutil() else {
        return;
    };
    let sandbox = TlsSandbox::start();
    let profile = Profile::new();
    chromium_trusts(profile.path(), &sandbox.ca);
    profile.set_browser_plan(
        json!({"action": "login", "username": "ntpctest", "password": "demo-password"}),
        "https-register-browser",
    );
    let ca = sandbox.ca.display().to_string();
    let env = [
        ("EDUCLOUD_SERVICE_URL", sandbox.url.as_str()),
        ("SSL_CERT_FILE", ca.as_str()),
    ];
    let app = App::launch(&tools, &profile, &env).await;
    app.click("#home-register").await;
    crate::register::agree_to_terms(&app).await;
    app.wait_text("h1", "選擇註冊身份").await;
    app.click("#identity-staff").await;
    app.click("#identity-next").await;
    app.wait_text("h1", "選擇 Open ID").await;
    app.client
        .execute(
            "document.getElementById('reg-county').value = 'ntpc'",
            vec![],
        )
        .await
        .unwrap();
    app.click("#reg-county-login").await;
    app.wait_text("h1", "教師/職員/學生 會員註冊").await;
    app.fill("#account_name", "https.teacher").await;
    app.fill("#backup_email", "https.backup@example.com").await;
    app.fill("#backup_email_confirm", "https.backup@example.com")
        .await;
    app.fill("#password", PASSWORD).await;
    app.fill("#password_confirm", PASSWORD).await;
    app.fill("#nickname", "林老師").await;
    app.click("#reg-submit").await;
    app.wait_text("#dialog-title", "確認送出").await;
    app.click("#confirm-ok").await;
    app.wait_text("#dialog-title", "註冊完成").await;
    app.screenshot("https-2-registered").await;
    app.click("#done-ok").await;
    app.wait_text("#registered-account", "https.teacher@mail.edu.tw")
        .await;
    app.click("#done-sign-in").await;
    app.fill("#member-email", "https.teacher@mail.edu.tw").await;
    app.fill("#member-password", PASSWORD).await;
    app.click("#member-login").await;
    app.wait_text("#dialog-title", "登入成功").await;
    app.click("#success-ok").await;
    app.wait_text("#account-details", "https.teacher@mail.edu.tw")
        .await;
    app.screenshot("https-3-member-signed-in").await;
    app.close().await;
    let leaks = rig::scan_for(profile.path(), &[PASSWORD, "demo-password"]);
    assert!(leaks.is_empty(), "{leaks:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_ca_the_window_names_the_certificate() {
    let _serial = rig::serial().await;
    let Some(tools) = tools_and_certutil() else {
        return;
    };
    let sandbox = TlsSandbox::start();
    let profile = Profile::new();
    // An "OS store" that lacks the sandbox's CA.
    let other = profile.path().join("other-ca.pem");
    std::fs::write(
        &other,
        include_str!("../../crates/core/tests/fixtures/policy/school-proxy-ca.pem"),
    )
    .unwrap();
    let other = other.display().to_string();
    let env = [
        ("EDUCLOUD_SERVICE_URL", sandbox.url.as_str()),
        ("SSL_CERT_FILE", other.as_str()),
    ];
    let app = App::launch(&tools, &profile, &env).await;
    app.click("#home-sign-in").await;
    // The teacher's words say it is the certificate, and what to do.
    app.wait_text("#problem-reason", "安全憑證").await;
    let reason = app.text("#problem-reason").await;
    assert!(reason.contains("資訊人員"), "{reason}");
    // …and the screen does not blame the network.
    let title = app.text("#problem-title").await;
    assert!(
        title.contains("安全連線") && !title.contains("無法連線"),
        "{title}"
    );
    let hint = app.text("#problem-hint").await;
    assert!(hint.contains("不是網路斷線"), "{hint}");
    app.screenshot("https-4-untrusted").await;
    app.close().await;
}

/// `educloud doctor --url` against the HTTPS sandbox: the chain it saw, the
/// verdict as the error's own code (exit 2), and the clock against the
/// server's `Date` once the certificate is trusted. (No window needed.)
#[test]
fn doctor_url_prints_the_chain_the_verdict_and_the_clock() {
    let sandbox = TlsSandbox::start();
    let home = tempfile::tempdir().unwrap();
    let url = format!("{}.well-known/educloud-configuration", sandbox.url);
    let doctor = |cert_file: &Path| {
        Command::new(env!("CARGO_BIN_EXE_educloud"))
            .args(["doctor", "--url", &url])
            .env("HOME", home.path())
            .env("EDUCLOUD_DATA_DIR", home.path().join("data"))
            .env("EDUCLOUD_POLICY", home.path().join("none.json"))
            .env("SSL_CERT_FILE", cert_file)
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .output()
            .expect("educloud doctor")
    };
    let other = home.path().join("other-ca.pem");
    std::fs::write(
        &other,
        include_str!("../../crates/core/tests/fixtures/policy/school-proxy-ca.pem"),
    )
    .unwrap();

    let refused = doctor(&other);
    let out = String::from_utf8_lossy(&refused.stdout);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{out}\n{err}");
    assert!(err.contains("error[network.tls_untrusted]"), "{err}");
    assert!(out.contains("certificate 0: CN=EduCloud Sandbox"), "{out}");
    assert!(out.contains("issuer: ") && out.contains("valid: "), "{out}");
    assert!(
        out.contains("verdict: error[network.tls_untrusted]"),
        "{out}"
    );
    assert!(out.contains("proxy: the system's"), "{out}");

    let trusted = doctor(&sandbox.ca);
    let out = String::from_utf8_lossy(&trusted.stdout);
    assert!(trusted.status.success(), "{out}");
    assert!(out.contains("verdict: ok (HTTP 200)"), "{out}");
    assert!(out.contains("clock: server Date"), "{out}");
    assert!(out.contains("(ok)"), "{out}");
}
