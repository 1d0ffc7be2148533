//! The home screen as a teacher first sees it: zh-TW, the demo badge, the
//! seed's 登入 / 註冊 buttons, and the language switch (which persists).

use serde_json::json;

use crate::rig::{self, App, Profile};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_screen_language_switch_and_persistence() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();

    let app = App::launch(&tools, &profile, &[]).await;
    assert_eq!(app.text("#home-sign-in").await, "登入");
    assert_eq!(app.text("#home-register").await, "註冊");
    app.wait_text("#demo-badge", "示範環境").await;
    let lang = app
        .client
        .execute("return document.documentElement.lang", vec![])
        .await
        .unwrap();
    assert_eq!(lang, "zh-Hant-TW");
    let shot = app.screenshot("home-zh-TW").await;
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);

    app.click("button.lang[data-lang='en']").await;
    app.wait_text("#home-sign-in", "Sign in").await;
    assert_eq!(app.text("#home-register").await, "Register");
    app.screenshot("home-en").await;
    app.close().await;

    // The choice survives a restart (kept in the SQLite store).
    let app = App::launch(&tools, &profile, &[]).await;
    app.wait_text("#home-sign-in", "Sign in").await;
    app.click("button.lang[data-lang='zh-TW']").await;
    app.wait_text("#home-sign-in", "登入").await;
    app.close().await;
    assert!(profile.data_dir().join("educloud.sqlite").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_locks_the_language() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    profile.set_policy(serde_json::json!({"Language": "en"}));
    let app = App::launch(&tools, &profile, &[]).await;
    app.wait_text("#home-sign-in", "Sign in").await;
    app.wait_text("#lang-lock", "Managed by your organization")
        .await;
    let disabled = app
        .client
        .execute(
            "return [...document.querySelectorAll('button.lang')].every(b => b.disabled)",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(disabled, true);
    // The command refuses too, not only the UI.
    let res = app
        .invoke("set_language", serde_json::json!({"language": "zh-TW"}))
        .await;
    assert_eq!(res["err"]["code"], "policy.locked", "{res}");
    app.screenshot("home-policy-locked").await;
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_launch_focuses_the_first_and_exits() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    let app = App::launch(&tools, &profile, &[]).await;
    app.wait_for("#home-sign-in").await;
    let mut second = std::process::Command::new(env!("CARGO_BIN_EXE_educloud"));
    for (k, v) in profile.env(&app.display.name) {
        second.env(k, v);
    }
    let mut child = second.spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the second instance kept running");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status}");
    // The first window is still there and answers.
    assert_eq!(app.text("#home-sign-in").await, "登入");
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrow_window_like_200_percent_zoom_and_dark_mode() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    let app = App::launch(&tools, &profile, &[("GTK_THEME", "Adwaita:dark")]).await;
    // 200% zoom of the 960-pixel window leaves 480 CSS pixels: the same
    // layout as a 480-pixel window at 100%.
    app.client.set_window_size(480, 720).await.unwrap();
    // The resize reflows the header and the card: click only once the page
    // has its new width (a click computed before the reflow can miss).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let width = app
            .client
            .execute("return window.innerWidth", vec![])
            .await
            .unwrap();
        if width.as_f64().is_some_and(|w| w <= 480.0) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the window never became 480 pixels wide: {width}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    app.click("#home-register").await;
    app.wait_for("#terms").await;
    let overflow = app
        .client
        .execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        overflow.as_i64().unwrap_or(99) <= 0,
        "horizontal scroll: {overflow}"
    );
    let dark = app
        .client
        .execute(
            "return matchMedia('(prefers-color-scheme: dark)').matches",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        dark, true,
        "GTK dark theme not seen as prefers-color-scheme: dark"
    );
    let bg = app
        .client
        .execute(
            "return getComputedStyle(document.body).backgroundColor",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(bg, "rgb(17, 22, 29)", "dark background expected");
    app.screenshot("narrow-dark-consent").await;
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csp_blocks_inline_and_remote_scripts_and_ungranted_commands_are_refused() {
    let _serial = rig::serial().await;
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    let app = App::launch(&tools, &profile, &[]).await;
    app.wait_for("#home-sign-in").await;
    let res = app
        .client
        .execute_async(
            r#"const done = arguments[0];
               const violations = [];
               document.addEventListener('securitypolicyviolation', (e) => violations.push(e.violatedDirective));
               const inline = document.createElement('script');
               inline.textContent = 'window.__inlineRan = true;';
               document.body.append(inline);
               const remote = document.createElement('script');
               remote.src = 'https://example.invalid/x.js';
               document.body.append(remote);
               let evalBlocked = false;
               try { window.eval('1 + 1'); } catch (e) { evalBlocked = true; }
               setTimeout(() => done({ inlineRan: !!window.__inlineRan, evalBlocked, violations }), 800);"#,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(res["inlineRan"], false, "{res}");
    assert_eq!(res["evalBlocked"], true, "{res}");
    let violations = res["violations"].as_array().cloned().unwrap_or_default();
    assert!(violations.len() >= 2, "{res}");
    // A registered plugin whose permission the window was not granted, and
    // a command that does not exist: both refused.
    let updater = app.invoke("plugin:updater|check", json!({})).await;
    assert!(updater.get("err").is_some(), "{updater}");
    let unknown = app
        .invoke("read_any_file", json!({"path": "/etc/passwd"}))
        .await;
    assert!(unknown.get("err").is_some(), "{unknown}");
    app.close().await;
}
