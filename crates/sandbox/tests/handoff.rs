//! The one-time web hand-off (issue 13 item 7): the app's access token buys
//! a single-use, 60-second link bound to the session and a 教育雲服務 page;
//! opening it signs that browser in on the sandbox's web pages, which show
//! who is signed in. A used or late link, or one whose session was revoked,
//! signs nobody in; the link never reaches the log (`handoff_log.rs`).

mod cloud_support;

use cloud_support::*;
use educloud_contract::wire::{SessionTokens, WebHandoff};
use reqwest::{redirect, Client, StatusCode};
use serde_json::json;

/// A browser with its own cookie jar that never follows redirects itself.
fn browser() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

async fn handoff(env: &Env, s: &SessionTokens, target: &str) -> reqwest::Response {
    env.http
        .post(env.api("web-handoffs"))
        .bearer_auth(s.access_token.expose_secret())
        .json(&json!({ "target": target }))
        .send()
        .await
        .unwrap()
}

async fn link(env: &Env, s: &SessionTokens, target: &str) -> String {
    let res = handoff(env, s, target).await;
    assert_eq!(res.status(), 201);
    let h: WebHandoff = res.json().await.unwrap();
    assert_eq!(h.target, target);
    assert!(h.expires_in <= 60 && h.expires_in > 0);
    h.url.expose_secret().to_owned()
}

/// Opens `url` in `b`, follows one redirect, returns (status of the first
/// answer, final page).
async fn open(b: &Client, url: &str) -> (StatusCode, String) {
    let res = b.get(url).send().await.unwrap();
    let status = res.status();
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
    let page = match res.headers().get("location") {
        Some(to) => {
            let to = res.url().join(to.to_str().unwrap()).unwrap();
            b.get(to).send().await.unwrap().text().await.unwrap()
        }
        None => res.text().await.unwrap(),
    };
    (status, page)
}

async fn web_page(env: &Env, b: &Client, target: &str) -> String {
    let res = b
        .get(env.url(&format!("web/{target}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

#[tokio::test]
async fn a_hand_off_signs_the_browser_in_once_and_shows_who() {
    let env = Env::start().await;
    let s = env.sign_in("parent.demo@example.com", DEMO_PW).await;
    let url = link(&env, &s, "pedia").await;
    assert!(
        url.starts_with(&format!("{}handoff/", env.sandbox.base_url())),
        "{url}"
    );

    let b = browser();
    assert!(web_page(&env, &b, "pedia")
        .await
        .contains("id=\"signed-out\""));
    let (status, page) = open(&b, &url).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(page.contains("教育百科"), "{page}");
    assert!(page.contains("id=\"signed-in\""), "{page}");
    assert!(page.contains("parent.demo@example.com"), "{page}");
    // The web session covers the other service pages too.
    assert!(web_page(&env, &b, "portal")
        .await
        .contains("parent.demo@example.com"));

    // Used: a second browser (or the same one again) gets nobody signed in.
    let other = browser();
    let (status, page) = open(&other, &url).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("id=\"handoff-failed\""), "{page}");
    assert!(!page.contains("parent.demo"), "{page}");
    assert!(web_page(&env, &other, "pedia")
        .await
        .contains("id=\"signed-out\""));

    // Signing out in the app signs the browser out of the web pages too.
    let res = env
        .http
        .delete(env.api("sessions/current"))
        .bearer_auth(s.access_token.expose_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(web_page(&env, &b, "pedia")
        .await
        .contains("id=\"signed-out\""));
}

#[tokio::test]
async fn a_late_link_signs_nobody_in() {
    let env = Env::start().await;
    let s = env.sign_in("parent.demo@example.com", DEMO_PW).await;
    let url = link(&env, &s, "portal").await;
    env.advance(61).await;
    let b = browser();
    let (status, page) = open(&b, &url).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("id=\"handoff-failed\""));
    assert!(web_page(&env, &b, "portal")
        .await
        .contains("id=\"signed-out\""));
}

#[tokio::test]
async fn a_link_whose_session_was_revoked_signs_nobody_in() {
    let env = Env::start().await;
    let s = env.sign_in("parent.demo@example.com", DEMO_PW).await;
    let url = link(&env, &s, "video").await;
    let res = env
        .post(
            "sessions/revoke",
            &json!({"token": s.refresh_token.expose_secret(), "token_type_hint": "refresh_token"}),
        )
        .await;
    assert_eq!(res.status(), 204);
    let b = browser();
    let (status, _) = open(&b, &url).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(web_page(&env, &b, "video")
        .await
        .contains("id=\"signed-out\""));
}

#[tokio::test]
async fn a_hand_off_needs_a_live_session_and_a_known_target() {
    let env = Env::start().await;
    let res = env
        .http
        .post(env.api("web-handoffs"))
        .json(&json!({"target": "portal"}))
        .send()
        .await
        .unwrap();
    problem(res, 401, "session.invalid").await;
    let s = env.sign_in("parent.demo@example.com", DEMO_PW).await;
    let p = problem(handoff(&env, &s, "evil").await, 400, "request.invalid").await;
    assert_eq!(p.field.as_deref(), Some("target"));
    env.advance(16 * 60).await;
    problem(handoff(&env, &s, "portal").await, 401, "session.invalid").await;
    // A made-up link is the same "expired" page.
    let (status, _) = open(&browser(), &env.url("handoff/made-up-code")).await;
    assert_eq!(status, StatusCode::GONE);
    let res = browser().get(env.url("web/nowhere")).send().await.unwrap();
    assert_eq!(res.status(), 404);
}
