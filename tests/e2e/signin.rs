//! Flow B in the real window: county Open ID through headless Chromium (the
//! "system browser") filling the sandbox's county page, 保持登入狀態 in the
//! real Secret Service (gnome-keyring), silent sign-in after a restart,
//! 登出 removing the keychain entry; member sign-in; no keychain.

use std::process::Command;

use serde_json::json;

use crate::rig::{self, App, Profile};

/// The keychain service name debug builds use (release builds use
/// `tw.edu.cloud.desktop`).
const KEYCHAIN_SERVICE: &str = "tw.edu.cloud.desktop.dev";

/// Whether the real Secret Service holds an entry for `account`.
fn keychain_has(account: &str) -> bool {
    let out = Command::new("secret-tool")
        .args(["search", "--all", "service", KEYCHAIN_SERVICE])
        .output()
        .expect("secret-tool (apt: libsecret-tools)");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    text.contains(account)
}

fn secret_service_available() -> bool {
    let ok = Command::new("secret-tool")
        .args(["search", "--all", "service", "educloud-probe"])
        .output()
        .map(|o| o.status.success() || o.stderr.is_empty())
        .unwrap_or(false);
    if !ok && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("no Secret Service: run inside dbus-run-session with gnome-keyring (scripts/test)");
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn county_sign_in_stays_signed_in_across_restarts_then_signs_out() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    if !secret_service_available() {
        eprintln!("SKIPPED: no Secret Service here");
        return;
    }
    let profile = Profile::new();
    let account = "ntpcbound@mail.edu.tw";
    profile.set_browser_plan(
        json!({"action": "login", "username": "ntpcbound", "password": "demo-password"}),
        "signin-county-browser",
    );

    let app = App::launch(&tools, &profile, &[]).await;
    app.click("#home-sign-in").await;
    app.wait_text("h1", "教育雲單一登入").await;
    // The drop-down is in the seed's order and preselects nothing special.
    let options = app
        .client
        .execute(
            "return [...document.querySelectorAll('#county option')].map(o => o.textContent)",
            vec![],
        )
        .await
        .unwrap();
    let names: Vec<String> = serde_json::from_value(options).unwrap();
    assert_eq!(&names[..3], ["基隆市", "新北市", "臺北市"]);
    assert_eq!(names.len(), 23);
    app.screenshot("signin-1-screen").await;

    app.client
        .execute("document.getElementById('county').value = 'ntpc'", vec![])
        .await
        .unwrap();
    app.click("#stay-signed-in").await;
    app.click("#county-login").await;
    // The seed's success dialog, then the account screen.
    app.wait_text("#dialog-title", "登入成功").await;
    app.screenshot("signin-2-success-dialog").await;
    app.click("#success-ok").await;
    app.wait_text("#account-details", account).await;
    app.wait_text("#account-details", "新北市").await;
    app.screenshot("signin-3-account").await;
    let visits = profile.browser_visits();
    assert_eq!(visits.len(), 1, "{visits:?}");
    assert!(
        visits[0]["text"]
            .as_str()
            .unwrap_or("")
            .contains("登入完成"),
        "{visits:?}"
    );
    assert!(
        keychain_has(account),
        "no keychain entry after 保持登入狀態"
    );
    app.close().await;

    // Relaunch: signed in silently from the keychain, no browser visit.
    let app = App::launch(&tools, &profile, &[]).await;
    app.wait_text("#account-details", account).await;
    app.screenshot("signin-4-restored").await;
    assert_eq!(profile.browser_visits().len(), 1);
    app.click("#sign-out").await;
    app.wait_for("#home-sign-in").await;
    assert!(!keychain_has(account), "keychain entry left after 登出");
    app.close().await;

    // And the next launch stays signed out.
    let app = App::launch(&tools, &profile, &[]).await;
    app.wait_for("#home-sign-in").await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        app.client
            .execute(
                "return document.getElementById('screen').dataset.screen",
                vec![]
            )
            .await
            .unwrap(),
        "home"
    );
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_sign_in_wrong_password_then_right_and_unactivated() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    let app = App::launch(&tools, &profile, &[]).await;
    app.click("#home-sign-in").await;
    app.fill("#member-email", "parent.demo@example.com").await;
    app.fill("#member-password", "not-the-password").await;
    app.click("#member-login").await;
    app.wait_text("#member-status", "帳號或密碼錯誤").await;
    // The password field is emptied, nothing else is lost.
    assert_eq!(
        app.wait_for("#member-password")
            .await
            .prop("value")
            .await
            .unwrap(),
        Some(String::new())
    );
    app.screenshot("signin-member-wrong-password").await;

    app.fill("#member-password", "Demo-pass-2026!").await;
    app.click("#member-login").await;
    app.wait_text("#dialog-title", "登入成功").await;
    app.click("#success-ok").await;
    app.wait_text("#account-details", "parent.demo@example.com")
        .await;
    app.screenshot("signin-member-account").await;
    app.click("#sign-out").await;
    app.wait_for("#home-sign-in").await;

    app.click("#home-sign-in").await;
    app.fill("#member-email", "pending.demo@example.com").await;
    app.fill("#member-password", "Demo-pass-2026!").await;
    app.click("#member-login").await;
    app.wait_text("#member-status", "尚未啟用").await;
    app.wait_for("#member-resend").await;
    app.screenshot("signin-member-unactivated").await;
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_secret_service_stay_signed_in_is_disabled_with_a_reason() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    let app = App::launch(
        &tools,
        &profile,
        &[("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")],
    )
    .await;
    app.click("#home-sign-in").await;
    let stay = app.wait_for("#stay-signed-in").await;
    assert_eq!(stay.attr("disabled").await.unwrap(), Some("true".into()));
    app.wait_text("#stay-signed-in-reason", "鑰匙圈").await;
    app.screenshot("signin-no-keychain").await;
    app.close().await;
    // Nothing secret was written anywhere in the app's folders.
    let leaks = crate::rig::scan_for(profile.path(), &["demo-password", "Demo-pass-2026!"]);
    assert!(leaks.is_empty(), "{leaks:?}");
}
