//! Flow A in the real window: consent (scroll gate, 不同意並返回), identity,
//! 選擇 Open ID through headless Chromium on the sandbox's county page, the
//! form with Rust validation under each field, the seed's two 確定 dialogs,
//! sign-in with the new account; 其他 with the activation mail from the
//! sandbox outbox; a draft that survives a killed process.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::rig::{self, App, Profile};

const PASSWORD: &str = "Kite-Lamp-93-Orbit";

async fn js(app: &App, script: &str) -> Value {
    app.client
        .execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("{script}: {e}"))
}

/// Agrees to the terms the way a reader does: scrolls to the bottom first.
pub(crate) async fn agree_to_terms(app: &App) {
    app.wait_text("h1", "教育雲會員註冊同意書").await;
    let agree = app.wait_for("#terms-agree").await;
    assert_eq!(agree.attr("disabled").await.unwrap(), Some("true".into()));
    js(
        app,
        "const t = document.getElementById('terms'); t.scrollTop = t.scrollHeight; \
         t.dispatchEvent(new Event('scroll'));",
    )
    .await;
    for _ in 0..50 {
        if agree.attr("disabled").await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        agree.attr("disabled").await.unwrap(),
        None,
        "同意 stayed disabled"
    );
    app.click("#terms-agree").await;
}

async fn field_error(app: &App, id: &str, text: &str) {
    app.wait_text(&format!("#{id}-error"), text).await;
}

/// The embedded sandbox's URL (it starts once the window is interactive).
async fn service_url(app: &App) -> String {
    for _ in 0..100 {
        let info = app.invoke("app_info", json!({})).await;
        if let Some(url) = info["ok"]["service_url"].as_str() {
            return url.to_string();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the embedded sandbox never reported its URL")
}

fn http_get(url: &str) -> String {
    let rt = tokio::runtime::Handle::current();
    let url = url.to_string();
    std::thread::spawn(move || {
        rt.block_on(async move {
            reqwest::Client::new()
                .get(&url)
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .unwrap_or_else(|e| panic!("GET {url}: {e}"))
                .text()
                .await
                .unwrap()
        })
    })
    .join()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_disagree_goes_home_and_agree_needs_the_bottom() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    let app = App::launch(&tools, &profile, &[]).await;
    app.click("#home-register").await;
    app.wait_text("h1", "教育雲會員註冊同意書").await;
    let agree = app.wait_for("#terms-agree").await;
    assert_eq!(agree.attr("disabled").await.unwrap(), Some("true".into()));
    app.screenshot("register-1-consent").await;
    app.click("#terms-disagree").await;
    app.wait_for("#home-register").await;
    // Keyboard users: reaching the end marker enables 同意 too.
    app.click("#home-register").await;
    app.wait_for("#terms-end").await;
    js(&app, "document.getElementById('terms-end').focus()").await;
    app.wait_text("#terms-scroll-hint", "已讀完").await;
    assert_eq!(
        app.wait_for("#terms-agree")
            .await
            .attr("disabled")
            .await
            .unwrap(),
        None
    );
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teacher_registers_through_new_taipei_then_signs_in_with_email() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    profile.set_browser_plan(
        json!({"action": "login", "username": "ntpctest", "password": "demo-password"}),
        "register-county-browser",
    );
    let app = App::launch(&tools, &profile, &[]).await;
    app.click("#home-register").await;
    agree_to_terms(&app).await;
    app.wait_text("h1", "選擇註冊身份").await;
    app.screenshot("register-2-identity").await;
    app.click("#identity-next").await;
    app.wait_text("#identity-status", "請選擇").await;
    app.click("#identity-staff").await;
    app.click("#identity-next").await;
    app.wait_text("h1", "選擇 Open ID").await;
    js(&app, "document.getElementById('reg-county').value = 'ntpc'").await;
    app.screenshot("register-3-choose-openid").await;
    app.click("#reg-county-login").await;

    // Back from the county page: the form, with the county's claims.
    app.wait_text("h1", "教師/職員/學生 會員註冊").await;
    let claim = app.text("#claim-title").await;
    assert!(claim.contains("專任教師"), "{claim}");
    assert!(!app.text("#claim-name").await.is_empty());
    app.screenshot("register-4-form").await;

    // (f) each field's error, in words, under the field.
    app.fill("#account_name", "ab").await;
    field_error(&app, "account_name", "至少需要 6").await;
    app.fill("#account_name", "ｎｔｐｃｔｅａｃｈｅｒ").await;
    field_error(&app, "account_name", "全形").await;
    app.fill("#account_name", "ntpсteacher").await; // Cyrillic с
    field_error(&app, "account_name", "外形相似").await;
    app.fill("#backup_email", "not-an-email").await;
    field_error(&app, "backup_email", "格式不正確").await;
    app.fill("#backup_email", "wang.backup@example.com").await;
    app.fill("#backup_email_confirm", "other@example.com").await;
    field_error(&app, "backup_email_confirm", "不一致").await;
    app.fill("#password", "password1234").await;
    field_error(&app, "password", "至少 3 種").await;
    app.fill("#password", "short").await;
    field_error(&app, "password", "太短").await;
    app.fill("#password_confirm", "different").await;
    field_error(&app, "password_confirm", "不一致").await;
    app.fill("#nickname", &"長".repeat(25)).await;
    field_error(&app, "nickname", "最多 20").await;
    app.fill("#phone", "12345").await;
    field_error(&app, "phone", "台灣手機").await;
    app.screenshot("register-5-field-errors").await;
    // 送出 with errors: nothing is sent, every error stays visible.
    app.click("#reg-submit").await;
    app.wait_text("#reg-status", "有欄位需要修正").await;

    // Now correct values.
    app.fill("#account_name", "wang.teacher").await;
    app.fill("#backup_email_confirm", "wang.backup@example.com")
        .await;
    app.fill("#password", PASSWORD).await;
    app.fill("#password_confirm", PASSWORD).await;
    app.fill("#nickname", "王老師").await;
    app.fill("#phone", "0912-345-678").await;
    app.click("#gender-male").await;
    for id in [
        "account_name",
        "backup_email_confirm",
        "password",
        "phone",
        "nickname",
    ] {
        app.wait_empty(&format!("#{id}-error")).await;
    }
    let strength = js(
        &app,
        "return document.getElementById('password-strength').value",
    )
    .await;
    assert!(strength.as_f64().unwrap_or(0.0) >= 3.0, "{strength}");
    app.click("#reg-submit").await;
    app.wait_text("#dialog-title", "確認送出").await;
    app.screenshot("register-6-confirm-dialog").await;
    app.click("#confirm-ok").await;
    app.wait_text("#dialog-title", "註冊完成").await;
    app.screenshot("register-7-done-dialog").await;
    app.click("#done-ok").await;
    app.wait_text("#registered-account", "wang.teacher@mail.edu.tw")
        .await;
    app.screenshot("register-8-done").await;

    // Sign in with the new e-mail and password.
    app.click("#done-sign-in").await;
    app.fill("#member-email", "wang.teacher@mail.edu.tw").await;
    app.fill("#member-password", PASSWORD).await;
    app.click("#member-login").await;
    app.wait_text("#dialog-title", "登入成功").await;
    app.click("#success-ok").await;
    app.wait_text("#account-details", "wang.teacher@mail.edu.tw")
        .await;
    app.wait_text("#account-details", "新北市").await;
    app.close().await;
    let leaks = rig::scan_for(profile.path(), &[PASSWORD, "demo-password"]);
    assert!(leaks.is_empty(), "{leaks:?}");
}

fn kill_app() {
    let bin = env!("CARGO_BIN_EXE_educloud");
    let _ = Command::new("pkill").args(["-KILL", "-f", bin]).status();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parent_registers_activates_by_mail_and_a_killed_window_loses_nothing() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    let email = "lin.parent@example.com";

    let app = App::launch(&tools, &profile, &[]).await;
    app.click("#home-register").await;
    agree_to_terms(&app).await;
    app.click("#identity-other").await;
    app.click("#identity-next").await;
    app.wait_text("h1", "其他 (家長、社會人士) 會員註冊").await;
    app.fill("#name", "林小華").await;
    app.fill("#email", email).await;
    app.fill("#email_confirm", email).await;
    app.fill("#nickname", "小華媽媽").await;
    app.fill("#password", PASSWORD).await;
    tokio::time::sleep(Duration::from_millis(1200)).await; // the draft is saved while typing
    app.screenshot("register-other-1-form").await;

    // (e) the process is killed mid-form.
    kill_app();
    app.close().await;
    let app = App::launch(&tools, &profile, &[]).await;
    app.click("#home-register").await;
    app.wait_text("h1", "繼續上次的註冊?").await;
    app.screenshot("register-other-2-draft-offer").await;
    app.click("#draft-resume").await;
    agree_to_terms(&app).await;
    let picked = js(
        &app,
        "return document.getElementById('identity-other').checked",
    )
    .await;
    assert_eq!(picked, true);
    app.click("#identity-next").await;
    app.wait_text("h1", "其他 (家長、社會人士) 會員註冊").await;
    let value = |id: &'static str| {
        let app = &app;
        async move {
            app.wait_for(&format!("#{id}"))
                .await
                .prop("value")
                .await
                .unwrap()
                .unwrap_or_default()
        }
    };
    assert_eq!(value("name").await, "林小華");
    assert_eq!(value("email").await, email);
    assert_eq!(value("nickname").await, "小華媽媽");
    assert_eq!(
        value("password").await,
        "",
        "a password came back from the draft"
    );
    let leaks = rig::scan_for(profile.path(), &[PASSWORD]);
    assert!(leaks.is_empty(), "{leaks:?}");

    app.fill("#backup_email", "lin.backup@example.org").await;
    app.fill("#backup_email_confirm", "lin.backup@example.org")
        .await;
    app.fill("#password", PASSWORD).await;
    app.fill("#password_confirm", PASSWORD).await;
    app.click("#reg-submit").await;
    app.click("#confirm-ok").await;
    app.wait_text("#dialog-title", "註冊完成").await;
    app.click("#done-ok").await;
    app.wait_text("h1", "請至信箱收取啟用信").await;
    app.wait_for("#open-outbox").await;
    app.screenshot("register-other-3-check-mail").await;

    // Before activation the account cannot sign in.
    let base = service_url(&app).await;
    let res = app
        .invoke(
            "sign_in_password",
            json!({"email": email, "password": PASSWORD, "staySignedIn": false}),
        )
        .await;
    assert_eq!(res["err"]["code"], "auth.not_activated", "{res}");

    // The activation mail in the sandbox outbox; its link activates once.
    let outbox: Value =
        serde_json::from_str(&http_get(&format!("{base}api/sandbox/outbox"))).unwrap();
    let mail = outbox
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["to"] == email)
        .unwrap_or_else(|| panic!("no mail to {email}: {outbox}"));
    let link = mail["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l.as_str())
        .find(|l| l.contains("activate"))
        .expect("activation link")
        .to_string();
    let page = http_get(&link);
    assert!(page.contains("啟用成功"), "{page}");

    app.click("#done-sign-in").await;
    app.fill("#member-email", email).await;
    app.fill("#member-password", PASSWORD).await;
    app.click("#member-login").await;
    app.wait_text("#dialog-title", "登入成功").await;
    app.click("#success-ok").await;
    app.wait_text("#account-details", email).await;
    app.screenshot("register-other-4-signed-in").await;
    app.close().await;
    // The draft is gone after success.
    let db = profile.data_dir().join("educloud.sqlite");
    let out = Command::new("sqlite3")
        .arg(&db)
        .arg("SELECT count(*) FROM drafts")
        .output();
    if let Ok(out) = out {
        if out.status.success() {
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avatar_is_chosen_previewed_and_bad_files_are_refused() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    let photo = profile.path().join("photo.jpg");
    let made = Command::new("convert")
        .args(["-size", "640x400", "gradient:blue-yellow"])
        .arg(&photo)
        .status();
    if !made.map(|s| s.success()).unwrap_or(false) {
        assert!(
            std::env::var("CI").map(|v| v != "true").unwrap_or(true),
            "ImageMagick (convert) missing under CI"
        );
        eprintln!("SKIPPED: no ImageMagick convert");
        return;
    }
    let fake = profile.path().join("photo.png");
    std::fs::write(&fake, b"MZ\x90\x00this is really a Windows program").unwrap();

    let app = App::launch(&tools, &profile, &[]).await;
    app.click("#home-register").await;
    agree_to_terms(&app).await;
    app.click("#identity-other").await;
    app.click("#identity-next").await;
    let input = app
        .client
        .find(fantoccini::Locator::Css("#avatar"))
        .await
        .unwrap();
    input.send_keys(&photo.display().to_string()).await.unwrap();
    let preview = app.wait_for("#avatar-preview").await;
    let src = preview.attr("src").await.unwrap().unwrap_or_default();
    assert!(
        src.starts_with("data:image/png;base64,"),
        "{}",
        &src[..src.len().min(40)]
    );
    let size = js(
        &app,
        "const i = document.getElementById('avatar-preview'); return [i.naturalWidth, i.naturalHeight]",
    )
    .await;
    assert_eq!(size, json!([256, 256]));
    app.screenshot("register-avatar-preview").await;

    // A renamed program is refused with words, and the chosen photo stays.
    let input = app
        .client
        .find(fantoccini::Locator::Css("#avatar"))
        .await
        .unwrap();
    input.send_keys(&fake.display().to_string()).await.unwrap();
    field_error(&app, "avatar", "JPEG、PNG、WebP 或 GIF").await;
    assert!(app
        .wait_for("#avatar-preview")
        .await
        .is_displayed()
        .await
        .unwrap());
    app.click("#avatar-clear").await;
    app.screenshot("register-avatar-refused").await;
    let hidden = js(
        &app,
        "return document.getElementById('avatar-preview').hidden",
    )
    .await;
    assert_eq!(hidden, true);
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_password_and_resend_say_what_happens_next() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    let app = App::launch(&tools, &profile, &[]).await;
    app.click("#home-sign-in").await;
    app.click("#link-reset").await;
    app.fill("#reset-password-email", "parent.demo@example.com")
        .await;
    app.click("#reset-password-submit").await;
    app.wait_text("#reset-password-status", "請至信箱收信")
        .await;
    app.screenshot("signin-reset-password").await;
    let base = service_url(&app).await;
    let outbox: Value =
        serde_json::from_str(&http_get(&format!("{base}api/sandbox/outbox"))).unwrap();
    assert!(
        outbox
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["to"] == "parent.demo@example.com"),
        "{outbox}"
    );
    app.click("button[data-i18n='common.back']").await;
    app.click("#link-resend").await;
    app.fill("#resend-email", "pending.demo@example.com").await;
    app.click("#resend-submit").await;
    app.wait_text("#resend-status", "24 小時").await;
    // Again at once: the one-a-minute limit, in words.
    app.click("#resend-submit").await;
    app.wait_text("#resend-status", "太頻繁").await;
    app.screenshot("signin-resend-throttled").await;
    app.close().await;
}
