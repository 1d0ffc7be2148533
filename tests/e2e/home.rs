//! The home screen as a teacher first sees it: zh-TW, the demo badge, the
//! seed's 登入 / 註冊 buttons, and the language switch (which persists).

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
