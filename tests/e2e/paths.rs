//! Issue 13: every path a person takes ends in words and a way on — read in
//! the real window by the words a person sees. Sign-in-first registration;
//! the service down (closed port, 503, a stall past the timeout) and a
//! county IdP down, each with 重試 that works once the service is back; the
//! seed's help; the account screen; 設定 / 關於; the whole set in English.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::register::agree_to_terms;
use crate::rig::{self, App, Profile};

const PASSWORD: &str = "Kite-Lamp-93-Orbit";

async fn js(app: &App, script: &str) -> Value {
    app.client
        .execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("{script}: {e}"))
}

/// Picks a county in the sign-in screen's drop-down (once it is there).
async fn pick_county(app: &App, code: &str) {
    app.wait_for("#county").await;
    js(
        app,
        &format!(
            "const s = document.getElementById('county'); s.value = '{code}'; \
             s.dispatchEvent(new Event('change'));"
        ),
    )
    .await;
}

/// What the screen shows, as text (for "no raw key, no null" checks).
async fn screen_text(app: &App) -> String {
    js(app, "return document.body.innerText")
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Fails if the window shows a catalog key, `null` or `undefined`.
async fn assert_words_only(app: &App, context: &str) {
    let text = screen_text(app).await;
    for bad in ["null", "undefined", "error.", "history.method.", "[object"] {
        assert!(
            !text.contains(bad),
            "{context}: the window shows {bad:?}:\n{text}"
        );
    }
    // A catalog key looks like `area.word_word` with no space around it.
    let keyish = text.split_whitespace().find(|w| {
        let parts: Vec<&str> = w.split('.').collect();
        parts.len() >= 2
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
    });
    assert!(
        keyish.is_none(),
        "{context}: a raw key {keyish:?} in:\n{text}"
    );
}

/// A stand-in for Education Cloud on `port`: answers every request with a
/// 503 maintenance page, or accepts and never answers (a stall).
struct FakeService(tokio::task::JoinHandle<()>);

impl FakeService {
    async fn start(port: u16, stall: bool) -> FakeService {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the fake service");
        FakeService(tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut sock, _)) = listener.accept().await {
                if stall {
                    held.push(sock);
                    continue;
                }
                tokio::spawn(async move {
                    let mut buf = [0u8; 8192];
                    let _ = sock.read(&mut buf).await;
                    let body = "<h1>系統維護中 Maintenance</h1>";
                    let head = format!(
                        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html; charset=utf-8\r\n\
                         Retry-After: 60\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(body.as_bytes()).await;
                });
            }
        }))
    }

    /// Stops it: the port is free again (held connections close).
    async fn stop(self) {
        self.0.abort();
        let _ = self.0.await;
    }
}

/// The real service (a sandbox) coming back on the same port.
async fn service_back(port: u16) -> educloud_sandbox::SandboxHandle {
    for _ in 0..50 {
        match educloud_sandbox::start(educloud_sandbox::SandboxConfig {
            data_dir: None,
            port,
            ..Default::default()
        })
        .await
        {
            Ok(h) => return h,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("the sandbox could not take port {port} back");
}

/// The screen says in words that the service cannot be reached, offers 重試
/// and 回首頁, and 回首頁 works.
async fn outage_card(app: &App, shot: &str) {
    app.wait_for_timeout("#problem", Duration::from_secs(50))
        .await;
    app.wait_text("#problem-title", "無法連線到教育雲服務")
        .await;
    let reason = app.text("#problem-reason").await;
    assert!(!reason.trim().is_empty(), "no words for the outage");
    app.wait_text("#problem-retry", "重試").await;
    app.wait_text("#problem-home", "回首頁").await;
    assert_words_only(app, shot).await;
    app.screenshot(shot).await;
}

// ---- 1. Sign-in-first registration -------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signin_first_registration_at_taichung_ends_signed_in() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    // 臺中市's test teacher has no Education Cloud account yet.
    profile.set_browser_plan(
        json!({"action": "login", "username": "tctest", "password": "demo-password"}),
        "paths-signin-first-browser",
    );
    let app = App::launch(&tools, &profile, &[]).await;
    app.click("#home-sign-in").await;
    app.wait_text("h1", "教育雲單一登入").await;
    pick_county(&app, "tc").await;
    app.click("#county-login").await;

    // Said plainly, with the verified identity, and a way on.
    app.wait_text("h1", "你的 Open ID 尚未註冊教育雲帳號").await;
    app.wait_text("#not-registered-who", "臺中市").await;
    assert_words_only(&app, "not registered").await;
    app.screenshot("paths-1-not-registered").await;
    app.click("#not-registered-register").await;

    // The same wizard as 註冊, from the consent on (the scroll gate holds).
    agree_to_terms(&app).await;
    app.wait_text("h1", "教師/職員/學生 會員註冊").await;
    app.wait_text("#claim-county", "臺中市").await;
    // The school apart from 職稱: its name where the county gives one, else
    // its code said as a code (sso.edu.tw's eduinfo carries only `schoolid`).
    let school = app.text("#claim-school").await;
    assert!(
        school.contains("臺中市立示範國民中學") || school.starts_with("學校代碼 "),
        "學校: {school}"
    );
    let title = app.text("#claim-title").await;
    assert!(
        title.contains("專任教師") && !title.chars().any(|c| c.is_ascii_digit()),
        "職稱: {title}"
    );

    // The seed's help: 帳號(Email)'s numbered 說明 behind "?", 備用信箱's sentence.
    app.click("#account_name-field .help-toggle").await;
    app.wait_text("#account_name-help", "您目前沒有教育部雲端電子郵件")
        .await;
    let items = js(
        &app,
        "return document.querySelectorAll('#account_name-help li').length",
    )
    .await;
    assert_eq!(items, json!(4));
    app.wait_text("#account_name-help", "各縣市教育局之Open ID帳號、密碼")
        .await;
    app.wait_text(
        "#backup_email-hint",
        "為供日後發送忘記密碼信函時使用，請填寫永久電子信箱帳號",
    )
    .await;
    app.screenshot("paths-1-form-help").await;

    app.fill("#account_name", "tc.newteacher").await;
    app.fill("#backup_email", "tc.newteacher@example.com").await;
    app.fill("#backup_email_confirm", "tc.newteacher@example.com")
        .await;
    app.fill("#password", PASSWORD).await;
    app.fill("#password_confirm", PASSWORD).await;
    for id in ["account_name", "backup_email_confirm", "password_confirm"] {
        app.wait_empty(&format!("#{id}-error")).await;
    }
    app.click("#reg-submit").await;
    // 確定 ×2, 註冊完成, then signed in: the account screen.
    app.wait_text("#dialog-title", "確認送出").await;
    app.click("#confirm-ok").await;
    app.wait_text("#dialog-title", "註冊完成").await;
    app.screenshot("paths-1-done-dialog").await;
    app.click("#done-ok").await;
    app.wait_text("#account-details", "tc.newteacher@mail.edu.tw")
        .await;
    app.wait_text("#account-details", "臺中市").await;
    assert_words_only(&app, "account after registration").await;
    app.screenshot("paths-1-signed-in").await;
    app.close().await;
    let leaks = rig::scan_for(profile.path(), &[PASSWORD, "demo-password"]);
    assert!(leaks.is_empty(), "{leaks:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_field_is_named_on_the_form() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    profile.set_browser_plan(
        json!({"action": "login", "username": "tctest", "password": "demo-password"}),
        "paths-refused-browser",
    );
    let app = App::launch(&tools, &profile, &[]).await;
    app.click("#home-sign-in").await;
    pick_county(&app, "tc").await;
    app.click("#county-login").await;
    app.click("#not-registered-register").await;
    agree_to_terms(&app).await;
    app.wait_text("h1", "教師/職員/學生 會員註冊").await;
    // An account name the service already has: refused by the service on
    // 送出 (the live check is bypassed by sending at once).
    js(
        &app,
        "document.getElementById('account_name').value = 'tcbound'; \
         for (const [id, v] of [['backup_email','x.backup@example.com'],['backup_email_confirm','x.backup@example.com'],\
         ['password','Kite-Lamp-93-Orbit'],['password_confirm','Kite-Lamp-93-Orbit']]) document.getElementById(id).value = v;",
    )
    .await;
    app.click("#reg-submit").await;
    app.click("#confirm-ok").await;
    app.wait_text("#account_name-error", "已被使用").await;
    app.wait_text("#reg-status", "帳號(Email)").await;
    app.screenshot("paths-1-refused-field").await;
    app.close().await;
}

// ---- 2. Outages ----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_on_a_closed_port_then_back() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    let port = rig::free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let app = App::launch(&tools, &profile, &[("EDUCLOUD_SERVICE_URL", &url)]).await;
    // 登入: words, 重試, 回首頁 — not an empty window.
    app.click("#home-sign-in").await;
    outage_card(&app, "paths-2-closed-signin").await;
    app.click("#problem-retry").await;
    outage_card(&app, "paths-2-closed-signin-retry").await;
    app.click("#problem-home").await;
    app.wait_for("#home-register").await;
    // 註冊 too, and its way home.
    app.click("#home-register").await;
    outage_card(&app, "paths-2-closed-register").await;
    // The same words in English (the language switch redraws the card).
    app.click("button.lang[data-lang='en']").await;
    app.wait_text("#problem-title", "Cannot reach the Education Cloud service")
        .await;
    app.wait_text("#problem-retry", "Retry").await;
    assert_words_only(&app, "en outage").await;
    app.screenshot("paths-en-9-outage").await;
    app.click("button.lang[data-lang='zh-TW']").await;
    app.wait_text("#problem-title", "無法連線到教育雲服務")
        .await;
    // The service comes back: 重試 gets the consent.
    let _service = service_back(port).await;
    app.click("#problem-retry").await;
    app.wait_text("h1", "教育雲會員註冊同意書").await;
    app.click("#terms-disagree").await;
    app.click("#home-sign-in").await;
    app.wait_text("h1", "教育雲單一登入").await;
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_answering_503_then_back() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    let port = rig::free_port();
    let fake = FakeService::start(port, false).await;
    let url = format!("http://127.0.0.1:{port}/");
    let app = App::launch(&tools, &profile, &[("EDUCLOUD_SERVICE_URL", &url)]).await;
    app.click("#home-sign-in").await;
    app.wait_for_timeout("#problem", Duration::from_secs(50))
        .await;
    let reason = app.text("#problem-reason").await;
    assert!(!reason.trim().is_empty());
    app.wait_text("#problem-retry", "重試").await;
    assert_words_only(&app, "503").await;
    app.screenshot("paths-2-503-signin").await;
    fake.stop().await;
    let _service = service_back(port).await;
    app.click("#problem-retry").await;
    app.wait_text("h1", "教育雲單一登入").await;
    // A member sign-in works now.
    app.fill("#member-email", "parent.demo@example.com").await;
    app.fill("#member-password", "Demo-pass-2026!").await;
    app.click("#member-login").await;
    app.wait_text("#dialog-title", "登入成功").await;
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_that_stalls_shows_a_spinner_with_cancel_then_words() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    let port = rig::free_port();
    let fake = FakeService::start(port, true).await;
    let url = format!("http://127.0.0.1:{port}/");
    let app = App::launch(&tools, &profile, &[("EDUCLOUD_SERVICE_URL", &url)]).await;
    // While waiting: a spinner with 取消, which takes the person home.
    app.click("#home-sign-in").await;
    app.wait_for("#busy .spinner").await;
    app.wait_text("#busy-cancel", "取消").await;
    app.screenshot("paths-2-stall-spinner").await;
    app.click("#busy-cancel").await;
    app.wait_for("#home-sign-in").await;
    // Waiting it out: past the timeout, words and 重試.
    app.click("#home-register").await;
    app.wait_for("#busy-cancel").await;
    outage_card(&app, "paths-2-stall-timeout").await;
    fake.stop().await;
    let _service = service_back(port).await;
    app.click("#problem-retry").await;
    app.wait_text("h1", "教育雲會員註冊同意書").await;
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn county_idp_down_is_marked_can_be_tried_and_recovers() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    let idp_port = rig::free_port();
    profile.set_policy(json!({"CountyOverrides": {"tc": {
        "issuer": format!("http://127.0.0.1:{idp_port}/idp/tc")
    }}}));
    profile.set_browser_plan(json!({"action": "open"}), "paths-idp-down-browser");
    let app = App::launch(&tools, &profile, &[]).await;
    app.click("#home-sign-in").await;
    pick_county(&app, "tc").await;
    // Marked in the picker (the county page's 測試服務是否正常?), still selectable.
    app.wait_text("#county-health", "測試服務是否正常?").await;
    app.wait_text("#county option[value='tc']", "服務可能異常")
        .await;
    let ntpc = app.text("#county option[value='ntpc']").await;
    assert_eq!(ntpc, "新北市");
    app.screenshot("paths-2-idp-marked").await;
    // Tried anyway: words, 再試一次 and 回首頁.
    app.click("#county-login").await;
    app.wait_for("#failed-reason").await;
    app.wait_text("h1", "無法連線到縣市 Open ID 服務").await;
    app.wait_text("#failed-hint", "臺中市").await;
    app.wait_for("#failed-home").await;
    assert_words_only(&app, "idp down").await;
    app.screenshot("paths-2-idp-down").await;
    // The IdP comes back: 再試一次 → the picker no longer marks it.
    let _idp = service_back(idp_port).await;
    app.click("#failed-retry").await;
    app.wait_text("h1", "教育雲單一登入").await;
    pick_county(&app, "tc").await;
    app.click("#county-test").await;
    app.wait_text("#county-health", "服務正常").await;
    let tc = app.text("#county option[value='tc']").await;
    assert_eq!(tc, "臺中市");
    app.close().await;
}

// ---- 3, 5, 6. 設定 / 關於, the portal's help, updates ---------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_about_shows_the_service_source_version_and_portal_links() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    profile.set_browser_plan(json!({"action": "open"}), "paths-portal-browser");
    let app = App::launch(&tools, &profile, &[]).await;
    app.click("#open-settings").await;
    app.wait_text("h1", "設定 / 關於").await;
    app.wait_text("#settings-service", "示範環境").await;
    app.wait_text("#settings-source", "預設").await;
    app.wait_text("#settings-version", env!("CARGO_PKG_VERSION"))
        .await;
    app.wait_for("#service-kind-production").await;
    app.click("#check-update").await;
    app.wait_text("#update-result", "示範環境不檢查更新").await;
    assert_words_only(&app, "settings").await;
    app.screenshot("paths-3-settings").await;
    // The notice an update download brings (drawn as the update-ready event
    // does; a real download needs a signed release with an update feed).
    js(
        &app,
        "import('./js/settings.js').then((m) => m.showUpdateNotice({ version: '9.9.9' }))",
    )
    .await;
    app.wait_text("#update-notice-text", "有新版本，重新啟動後更新")
        .await;
    app.wait_text("#update-restart", "立即重新啟動").await;
    app.screenshot("paths-6-update-notice").await;
    // Nothing is really waiting here: 立即重新啟動 says so instead of restarting.
    app.click("#update-restart").await;
    app.wait_text("#update-notice-text", "沒有已下載").await;
    // 常見問題 opens in the system browser.
    app.click("#footer-faq").await;
    for _ in 0..100 {
        if !profile.browser_visits().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let visits = profile.browser_visits();
    assert!(
        visits
            .iter()
            .any(|v| v["url"].as_str().unwrap_or("").contains("cloud.edu.tw/faq")),
        "{visits:?}"
    );
    app.wait_text("#footer-links", "隱私權政策").await;
    app.wait_text("#footer-links", "聯絡我們").await;
    app.click("#settings-home").await;
    app.wait_for("#home-sign-in").await;
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_fixes_the_service_and_hides_updates() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    profile.set_policy(json!({"Environment": "sandbox", "DisableUpdates": true}));
    let app = App::launch(&tools, &profile, &[]).await;
    app.click("#open-settings").await;
    app.wait_text("#settings-source", "由您的機構管理").await;
    app.wait_for("#settings-locked").await;
    let none = js(
        &app,
        "return [!!document.getElementById('settings-change'), !!document.getElementById('check-update'), !!document.getElementById('update-notice')]",
    )
    .await;
    assert_eq!(none, json!([false, false, false]));
    app.screenshot("paths-3-settings-locked").await;
    app.close().await;
}

// ---- 4, 9. The account screen and accounts on this PC ----------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_screen_has_words_only_and_switches_between_kept_accounts() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    profile.set_browser_plan(
        json!({"action": "login", "username": "ntpcbound", "password": "demo-password"}),
        "paths-accounts-browser",
    );
    let app = App::launch(&tools, &profile, &[]).await;
    app.click("#home-sign-in").await;
    pick_county(&app, "ntpc").await;
    app.click("#stay-signed-in").await;
    app.click("#county-login").await;
    app.wait_text("#dialog-title", "登入成功").await;
    // The portal's words, not the guide's caption about the dialog.
    let body = app.text("#dialog-body").await;
    assert!(!body.contains("見到此對話框"), "{body}");
    app.screenshot("paths-4-success-dialog").await;
    app.click("#success-ok").await;
    app.wait_text("#account-details", "ntpcbound@mail.edu.tw")
        .await;
    let details = app.text("#account-details").await;
    assert!(
        !details.contains("014569 ·"),
        "a school code as 職稱: {details}"
    );
    app.wait_text("#history", "縣市 Open ID").await;
    assert_words_only(&app, "account").await;
    app.screenshot("paths-9-account").await;

    // A second kept account on this PC (a parent's, member sign-in).
    app.click("#add-account").await;
    app.wait_for("#stay-signed-in").await;
    app.click("#stay-signed-in").await;
    app.fill("#member-email", "parent.demo@example.com").await;
    app.fill("#member-password", "Demo-pass-2026!").await;
    app.click("#member-login").await;
    app.click("#success-ok").await;
    app.wait_text("#account-details", "parent.demo@example.com")
        .await;
    app.wait_text("#known-accounts", "ntpcbound@mail.edu.tw")
        .await;
    app.screenshot("paths-4-known-accounts").await;

    // Switch back to the teacher: signed in silently from the keychain.
    app.click("#known-accounts li[data-account='ntpcbound@mail.edu.tw'] button[id^='switch-']")
        .await;
    app.wait_text("#account-details", "ntpcbound@mail.edu.tw")
        .await;
    app.wait_text("#history", "自動登入").await;
    assert_words_only(&app, "after switching").await;
    app.screenshot("paths-4-switched").await;

    // Remove the parent's account from this PC: gone from the list.
    app.click("#known-accounts li[data-account='parent.demo@example.com'] button[id^='remove-']")
        .await;
    app.wait_text("#dialog-title", "從這台電腦移除帳號?").await;
    app.screenshot("paths-4-remove-confirm").await;
    app.click("#remove-confirm").await;
    app.wait_text("#account-details", "ntpcbound@mail.edu.tw")
        .await;
    for _ in 0..50 {
        if !app.text("#known-accounts").await.contains("parent.demo") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!app.text("#known-accounts").await.contains("parent.demo"));

    // Sign out: the choice to also end the county's browser session (after
    // a county sign-in in this window, where the county's page is known).
    app.click("#add-account").await;
    pick_county(&app, "ntpc").await;
    app.click("#county-login").await;
    app.click("#success-ok").await;
    app.wait_text("#account-details", "ntpcbound@mail.edu.tw")
        .await;
    profile.set_browser_plan(json!({"action": "open"}), "paths-accounts-logout-browser");
    let before = profile.browser_visits().len();
    app.click("#sign-out").await;
    app.wait_text("#dialog-body", "同時登出新北市的 Open ID")
        .await;
    app.click("#sign-out-county").await;
    // Leave nothing behind: the account goes from this PC too.
    app.click("#sign-out-forget").await;
    app.screenshot("paths-4-sign-out-choice").await;
    app.click("#sign-out-confirm").await;
    app.wait_for("#home-sign-in").await;
    let mut visited = false;
    for _ in 0..100 {
        visited = profile.browser_visits()[before..]
            .iter()
            .any(|v| v["url"].as_str().unwrap_or("").contains("/idp/ntpc/"));
        if visited {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        visited,
        "the county's sign-out page was not opened: {:?}",
        profile.browser_visits()
    );
    let status = app.invoke("session_status", json!({})).await;
    let known = status["ok"]["known_accounts"].to_string();
    assert!(
        !known.contains("ntpcbound"),
        "the account stayed on this PC: {known}"
    );

    app.close().await;
}

// ---- The whole set in English ------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_screen_once_in_english() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    profile.set_browser_plan(
        json!({"action": "login", "username": "tctest", "password": "demo-password"}),
        "paths-en-browser",
    );
    let app = App::launch(&tools, &profile, &[]).await;
    app.click("button.lang[data-lang='en']").await;
    app.wait_text("#home-sign-in", "Sign in").await;
    app.screenshot("paths-en-1-home").await;
    app.click("#open-settings").await;
    app.wait_text("h1", "Settings / About").await;
    app.wait_text("#settings-service", "Demo environment").await;
    assert_words_only(&app, "en settings").await;
    app.screenshot("paths-en-2-settings").await;
    app.click("#settings-home").await;
    app.click("#home-sign-in").await;
    app.wait_text("h1", "single sign-on").await;
    assert_words_only(&app, "en sign-in").await;
    app.screenshot("paths-en-3-signin").await;
    pick_county(&app, "tc").await;
    app.click("#county-login").await;
    app.wait_text("h1", "Your Open ID has no Education Cloud account yet")
        .await;
    app.wait_text("#not-registered-who", "Taichung").await;
    assert_words_only(&app, "en not registered").await;
    app.screenshot("paths-en-4-not-registered").await;
    app.click("#not-registered-register").await;
    app.wait_for("#terms-agree").await;
    app.screenshot("paths-en-5-consent").await;
    js(
        &app,
        "const t = document.getElementById('terms'); t.scrollTop = t.scrollHeight; t.dispatchEvent(new Event('scroll'));",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.click("#terms-agree").await;
    app.wait_for("#account_name").await;
    app.click("#account_name-field .help-toggle").await;
    app.wait_text("#account_name-help", "Ministry of Education cloud mailbox")
        .await;
    assert_words_only(&app, "en form").await;
    app.screenshot("paths-en-6-form").await;
    app.click("#reg-cancel").await;
    app.click("#cancel-confirm").await;
    app.wait_text("#home-sign-in", "Sign in").await;
    // A member sign-in and the account screen.
    app.click("#home-sign-in").await;
    app.fill("#member-email", "parent.demo@example.com").await;
    app.fill("#member-password", "Demo-pass-2026!").await;
    app.click("#member-login").await;
    app.wait_text("#dialog-title", "Signed in").await;
    app.screenshot("paths-en-7-success").await;
    app.click("#success-ok").await;
    app.wait_text("#account-details", "parent.demo@example.com")
        .await;
    assert_words_only(&app, "en account").await;
    app.screenshot("paths-en-8-account").await;
    app.close().await;
}

// ---- 3. First run: a release build with nothing deciding asks once ----------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_asks_once_checks_the_url_then_connects() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    let port = rig::free_port();
    // The release rules in this debug build (no policy, no earlier choice).
    let release = [("EDUCLOUD_RELEASE_RULES", "1")];
    let app = App::launch(&tools, &profile, &release).await;
    app.wait_text("h1", "要使用哪一個教育雲服務?").await;
    app.wait_for("#service-kind-production").await;
    app.wait_for("#service-kind-sandbox").await;
    assert_words_only(&app, "first run").await;
    app.screenshot("paths-3-first-run").await;
    // The organization's service: its URL is checked before it is saved.
    app.click("#service-kind-custom").await;
    app.fill("#service-url", "http://cloud.example.edu.tw/")
        .await;
    app.click("#first-run-save").await;
    app.wait_text("#service-url-error", "https://").await;
    app.fill("#service-url", &format!("http://127.0.0.1:{port}/"))
        .await;
    app.click("#first-run-save").await;
    app.wait_for("#service-url-error").await;
    let said = app.text("#service-url-error").await;
    assert!(!said.trim().is_empty());
    app.screenshot("paths-3-first-run-url-refused").await;
    // The service answers: saved, and the app connects to it.
    let _service = service_back(port).await;
    app.click("#first-run-save").await;
    app.wait_for("#home-sign-in").await;
    app.click("#home-sign-in").await;
    app.wait_text("h1", "教育雲單一登入").await;
    app.click("#open-settings").await;
    app.wait_text("#settings-service", "機構的服務").await;
    app.wait_text("#settings-service-url", &format!("127.0.0.1:{port}"))
        .await;
    app.wait_text("#settings-source", "您的選擇").await;
    app.screenshot("paths-3-settings-chosen").await;
    app.close().await;
    // Asked once: the next start goes straight home.
    let app = App::launch(&tools, &profile, &release).await;
    app.wait_for("#home-sign-in").await;
    app.close().await;
}

// ---- 8. A damaged local store ----------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_store_is_set_aside_and_said_once() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    // A power cut mid-write: the file is there but not a database.
    std::fs::create_dir_all(profile.data_dir()).unwrap();
    std::fs::write(
        profile.data_dir().join("educloud.sqlite"),
        b"SQLite format 3\0\xff\xff garbage after a power cut",
    )
    .unwrap();
    let app = App::launch(&tools, &profile, &[]).await;
    app.wait_for("#store-notice").await;
    app.wait_text("#store-notice-text", "本機資料檔已損毀")
        .await;
    app.wait_text("#store-notice-text", "鑰匙圈").await;
    app.wait_for("#home-sign-in").await;
    assert_words_only(&app, "store notice").await;
    app.screenshot("paths-8-store-notice").await;
    app.click("#store-notice-ok").await;
    for _ in 0..50 {
        if js(&app, "return !document.getElementById('store-notice')").await == json!(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.close().await;
    let kept: Vec<_> = std::fs::read_dir(profile.data_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("damaged"))
        .collect();
    assert!(!kept.is_empty(), "the damaged file was not kept for IT");
    // Said once.
    let app = App::launch(&tools, &profile, &[]).await;
    app.wait_for("#home-sign-in").await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        js(&app, "return !!document.getElementById('store-notice')").await,
        json!(false)
    );
    app.close().await;
}

/// Window titles on `display` (xwininfo).
fn window_names(display: &str) -> String {
    let out = std::process::Command::new("xwininfo")
        .args(["-root", "-tree"])
        .env("DISPLAY", display)
        .output()
        .expect("xwininfo (apt: x11-utils)");
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_before_the_window_reaches_the_user_in_a_native_dialog_and_the_log() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    let display = rig::Display::start(&tools);
    // The store cannot be opened at all (a folder where the file should be):
    // not a damaged file that could be set aside.
    let data = profile.path().join("blocked-data");
    std::fs::create_dir_all(data.join("educloud.sqlite").join("x")).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_educloud"));
    for (k, v) in profile.env(&display.name) {
        cmd.env(k, v);
    }
    cmd.env("EDUCLOUD_DATA_DIR", &data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut shown = false;
    for _ in 0..100 {
        if window_names(&display.name).contains("EduCloud Desktop") {
            shown = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A screenshot of the whole display, for the record.
    let shot = rig::artifacts_dir().join("paths-8-native-dialog.png");
    let _ = std::process::Command::new("import")
        .args(["-window", "root"])
        .arg(&shot)
        .env("DISPLAY", &display.name)
        .status();
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(shown, "no dialog window appeared; stderr: {stderr}");
    assert!(stderr.contains("error["), "{stderr}");
    // The log has it too.
    let logs = rig::scan_for(profile.path(), &["the app cannot start"]);
    assert!(!logs.is_empty(), "nothing in the log");
}

// ---- 7. 教育雲服務 without a second sign-in ---------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_open_signed_in_through_a_one_time_link_never_logged() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    let app = App::launch(&tools, &profile, &[]).await;
    app.click("#home-sign-in").await;
    app.fill("#member-email", "parent.demo@example.com").await;
    app.fill("#member-password", "Demo-pass-2026!").await;
    app.click("#member-login").await;
    app.click("#success-ok").await;
    app.wait_text("#account-details", "parent.demo@example.com")
        .await;
    profile.set_browser_plan(json!({"action": "open"}), "paths-7-handoff-browser");
    app.click("#service-pedia").await;
    let mut visit = None;
    for _ in 0..150 {
        if let Some(v) = profile.browser_visits().into_iter().next() {
            visit = Some(v);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let visit = visit.expect("the browser was not opened");
    let link = visit["url"].as_str().unwrap_or_default().to_string();
    assert!(link.contains("/handoff/"), "{visit}");
    // The browser landed on 教育百科 signed in as this account.
    assert!(
        visit["final_url"]
            .as_str()
            .unwrap_or("")
            .contains("/web/pedia"),
        "{visit}"
    );
    assert!(
        visit["text"]
            .as_str()
            .unwrap_or("")
            .contains("parent.demo@example.com"),
        "{visit}"
    );
    app.screenshot("paths-7-services").await;
    // A used link signs nobody in.
    let again = {
        let link = link.clone();
        tokio::spawn(async move {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
                .get(&link)
                .send()
                .await
                .map(|r| r.status().as_u16())
        })
        .await
        .unwrap()
        .unwrap()
    };
    assert_eq!(again, 410, "a used hand-off link worked again");
    app.close().await;
    // The link never reached the app's log, store or anything else it wrote.
    let code = link.rsplit('/').next().unwrap_or_default().to_string();
    let leaks = rig::scan_for(profile.path(), &[&code]);
    assert!(leaks.is_empty(), "{leaks:?}");
}

// ---- 200% zoom and dark mode on the new screens ----------------------------------------

/// No sideways scrolling at this width.
async fn no_overflow(app: &App, context: &str) {
    let overflow = js(
        app,
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
    )
    .await;
    assert!(
        overflow.as_i64().unwrap_or(99) <= 0,
        "{context}: horizontal scroll {overflow}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_screens_at_200_percent_zoom_in_dark_mode() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    profile.set_browser_plan(
        json!({"action": "login", "username": "tctest", "password": "demo-password"}),
        "paths-dark-browser",
    );
    let port = rig::free_port();
    let app = App::launch(&tools, &profile, &[("GTK_THEME", "Adwaita:dark")]).await;
    // 200% zoom of the 960-pixel window leaves 480 CSS pixels.
    app.client.set_window_size(480, 720).await.unwrap();
    let dark = js(
        &app,
        "return matchMedia('(prefers-color-scheme: dark)').matches",
    )
    .await;
    assert_eq!(dark, true);
    app.click("#open-settings").await;
    app.wait_text("h1", "設定 / 關於").await;
    no_overflow(&app, "settings").await;
    app.screenshot("paths-zoom-dark-settings").await;
    // The organization's URL refused, under its field.
    app.click("#service-kind-custom").await;
    app.fill("#service-url", &format!("http://127.0.0.1:{port}/"))
        .await;
    app.click("#settings-save").await;
    app.wait_for("#service-url-error").await;
    no_overflow(&app, "settings error").await;
    app.screenshot("paths-zoom-dark-settings-error").await;
    app.click("#settings-home").await;
    app.click("#home-sign-in").await;
    pick_county(&app, "tc").await;
    no_overflow(&app, "sign-in").await;
    app.screenshot("paths-zoom-dark-signin").await;
    app.click("#county-login").await;
    app.wait_text("h1", "你的 Open ID 尚未註冊教育雲帳號").await;
    no_overflow(&app, "not registered").await;
    app.screenshot("paths-zoom-dark-not-registered").await;
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_lost_mid_form_keeps_the_form_and_retry_sends_it() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    let port = rig::free_port();
    let service = service_back(port).await;
    let url = format!("http://127.0.0.1:{port}/");
    let app = App::launch(&tools, &profile, &[("EDUCLOUD_SERVICE_URL", &url)]).await;
    app.click("#home-register").await;
    agree_to_terms(&app).await;
    app.click("#identity-other").await;
    app.click("#identity-next").await;
    app.wait_text("h1", "其他 (家長、社會人士) 會員註冊").await;
    let email = "chen.parent@example.com";
    app.fill("#name", "陳小明").await;
    app.fill("#email", email).await;
    app.fill("#email_confirm", email).await;
    app.fill("#backup_email", "chen.backup@example.org").await;
    app.fill("#backup_email_confirm", "chen.backup@example.org")
        .await;
    app.fill("#nickname", "小明爸爸").await;
    app.fill("#password", PASSWORD).await;
    app.fill("#password_confirm", PASSWORD).await;
    app.wait_empty("#password_confirm-error").await;
    // The service goes away while the form is open.
    drop(service);
    app.click("#reg-submit").await;
    app.click("#confirm-ok").await;
    app.wait_text("#reg-status", "您填的資料都還在").await;
    app.wait_text("#reg-retry", "重試").await;
    assert_words_only(&app, "mid-form outage").await;
    app.screenshot("paths-2-mid-form-outage").await;
    let kept = app
        .wait_for("#nickname")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(kept, "小明爸爸");
    // Back: 重試 sends the same form.
    let _service = service_back(port).await;
    app.click("#reg-retry").await;
    app.click("#confirm-ok").await;
    app.wait_text("#dialog-title", "註冊完成").await;
    app.click("#done-ok").await;
    app.wait_text("#registered-account", email).await;
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_browser_says_so_and_offers_the_link() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    let app = App::launch(
        &tools,
        &profile,
        &[("EDUCLOUD_BROWSER", "/nonexistent/educloud-test-browser")],
    )
    .await;
    app.click("#home-sign-in").await;
    pick_county(&app, "ntpc").await;
    app.click("#county-login").await;
    app.wait_text("#browser-failed", "無法開啟瀏覽器").await;
    app.wait_for("#waiting-copy").await;
    let link = app
        .wait_for("#authorize-url")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(link.contains("/idp/ntpc/"), "{link}");
    assert_words_only(&app, "no browser").await;
    app.screenshot("paths-2-no-browser").await;
    app.click("#waiting-cancel").await;
    app.wait_text("h1", "教育雲單一登入").await;
    app.close().await;
}

/// Presses a key on whatever has the keyboard focus.
async fn press(app: &App, key: &str) {
    let el = app
        .client
        .active_element()
        .await
        .expect("a focused element");
    el.send_keys(key).await.expect("key");
    tokio::time::sleep(Duration::from_millis(150)).await;
}

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outage_card_works_by_keyboard_alone() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    let port = rig::free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let app = App::launch(&tools, &profile, &[("EDUCLOUD_SERVICE_URL", &url)]).await;
    // 登入 by keyboard: focus it, Enter.
    js(&app, "document.getElementById('home-sign-in').focus()").await;
    press(&app, ENTER).await;
    outage_card(&app, "paths-2-keyboard-card").await;
    // The card's heading has the focus; Tab reaches 重試, then 回首頁.
    press(&app, TAB).await;
    let focused = js(&app, "return document.activeElement.id").await;
    assert_eq!(focused, json!("problem-retry"));
    press(&app, ENTER).await;
    app.wait_for("#problem-retry").await;
    press(&app, TAB).await;
    press(&app, TAB).await;
    let focused = js(&app, "return document.activeElement.id").await;
    assert_eq!(focused, json!("problem-home"));
    press(&app, ENTER).await;
    app.wait_for("#home-sign-in").await;
    app.close().await;
}
