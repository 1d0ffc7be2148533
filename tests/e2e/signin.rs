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

/// The keychain user of a session kept from the embedded sandbox (the core
/// names it `<account> <service>`, the service being `sandbox` for the demo).
fn keychain_user(account: &str) -> String {
    format!("{account} sandbox")
}

/// The secret the app stored for `account` (JSON with the refresh token),
/// empty when there is none.
fn keychain_secret(account: &str) -> String {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", KEYCHAIN_SERVICE, "username"])
        .arg(keychain_user(account))
        .output()
        .expect("secret-tool (apt: libsecret-tools)");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Whether the real Secret Service holds a kept session for `account`.
fn keychain_has(account: &str) -> bool {
    !keychain_secret(account).trim().is_empty()
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
    // The refresh token lives in the keychain and nowhere else.
    let stored = keychain_secret(account);
    let token = serde_json::from_str::<serde_json::Value>(&stored).unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(token.len() >= 20, "{stored}");
    app.close().await;
    let leaks = rig::scan_for(profile.path(), &[&token, "demo-password"]);
    assert!(leaks.is_empty(), "{leaks:?}");

    // Relaunch: signed in silently from the keychain, no browser visit.
    let app = App::launch(&tools, &profile, &[]).await;
    app.wait_text("#account-details", account).await;
    app.screenshot("signin-4-restored").await;
    assert_eq!(profile.browser_visits().len(), 1);
    app.click("#sign-out").await;
    // A county account: 登出 asks whether to end the county's session too.
    // Asked for after a silent restore, it is either done (the county's
    // logout page opens) or said — never silently dropped.
    app.click("#sign-out-county").await;
    app.click("#sign-out-confirm").await;
    app.wait_for("#home-sign-in").await;
    let mut outcome = None;
    for _ in 0..50 {
        let visited = profile.browser_visits()[1..]
            .iter()
            .any(|v| v["url"].as_str().unwrap_or("").contains("/idp/ntpc/"));
        let toast = app.text("#toast").await;
        if visited || toast.contains("無法自動登出新北市") {
            outcome = Some((visited, toast));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        outcome.is_some(),
        "ending the county's browser session was asked for, and nothing was done or said"
    );
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
    app.click("#sign-out-confirm").await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_at_the_county_and_cancel_while_waiting() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    // The user presses 取消 on the county page: access_denied, said plainly.
    profile.set_browser_plan(json!({"action": "cancel"}), "signin-denied-browser");
    let app = App::launch(&tools, &profile, &[]).await;
    app.click("#home-sign-in").await;
    app.click("#county-login").await;
    app.wait_text("#failed-reason", "取消了登入或未授權").await;
    app.screenshot("signin-access-denied").await;
    let visits = profile.browser_visits();
    assert!(
        visits.last().unwrap()["text"]
            .as_str()
            .unwrap_or("")
            .contains("取消"),
        "{visits:?}"
    );
    app.click("#failed-retry").await;

    // The browser opens but the user never signs in: 取消 in the app ends
    // the wait, closes the loopback port and returns to the sign-in screen.
    profile.set_browser_plan(json!({"action": "open"}), "signin-cancel-browser");
    app.click("#county-login").await;
    app.wait_text("h1", "請在瀏覽器中完成").await;
    let url = app
        .wait_for("#authorize-url")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        url.contains("code_challenge_method=S256") && url.contains("state="),
        "{url}"
    );
    let redirect = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.to_string())
        .unwrap();
    assert!(redirect.starts_with("http://127.0.0.1:"), "{redirect}");
    app.screenshot("signin-waiting").await;
    app.click("#waiting-cancel").await;
    app.wait_text("h1", "教育雲單一登入").await;
    // The loopback listener is gone.
    let port = url::Url::parse(&redirect).unwrap().port().unwrap();
    let mut closed = false;
    for _ in 0..20 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(closed, "loopback port {port} still open after cancel");
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_device_policy_no_keychain_no_draft_next_launch_signed_out() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    profile.set_policy(json!({"SharedDevice": true}));
    profile.set_browser_plan(
        json!({"action": "login", "username": "tcbound", "password": "demo-password"}),
        "shared-device-browser",
    );
    let app = App::launch(&tools, &profile, &[]).await;
    app.click("#home-sign-in").await;
    let stay = app.wait_for("#stay-signed-in").await;
    assert_eq!(stay.attr("disabled").await.unwrap(), Some("true".into()));
    app.wait_text("#stay-signed-in-reason", "共用電腦").await;
    app.screenshot("shared-device-signin").await;
    // A 保持登入狀態 request cannot be forced through the command either.
    let res = app
        .invoke(
            "sign_in_password",
            json!({"email": "hcbound@mail.edu.tw", "password": "Demo-pass-2026!", "staySignedIn": true}),
        )
        .await;
    assert!(res["ok"].is_object(), "{res}");
    assert!(!keychain_has("hcbound@mail.edu.tw"));
    let status = app.invoke("session_status", json!({})).await;
    assert_eq!(status["ok"]["stay_signed_in"], false, "{status}");
    // No registration draft is kept.
    let saved = app
        .invoke(
            "save_draft",
            json!({"draft": {"step": "form", "identity": "other", "values": {"nickname": "x"}}}),
        )
        .await;
    assert_eq!(saved["ok"], false, "{saved}");
    app.close().await;
    // The next launch is signed out.
    let app = App::launch(&tools, &profile, &[]).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let status = app.invoke("session_status", json!({})).await;
    assert!(status["ok"]["account"].is_null(), "{status}");
    app.close().await;
}
