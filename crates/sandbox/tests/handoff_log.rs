//! The one-time web hand-off's link never reaches the log (issue 13 item
//! 7): every log line of the sandbox and its libraries, at every level, is
//! captured while a hand-off is issued, redeemed and refused again, and the
//! code is not in it.

mod cloud_support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use cloud_support::*;
use educloud_contract::wire::WebHandoff;
use reqwest::{redirect, Client, StatusCode};
use serde_json::json;

async fn link(env: &Env, access: &str, target: &str) -> String {
    let res = env
        .http
        .post(env.api("web-handoffs"))
        .bearer_auth(access)
        .json(&json!({ "target": target }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let h: WebHandoff = res.json().await.unwrap();
    h.url.expose_secret().to_owned()
}

async fn open(b: &Client, url: &str) -> StatusCode {
    b.get(url).send().await.unwrap().status()
}

/// Everything written to the log while the hand-off is issued and used
/// (every level, the sandbox's and its libraries'): the code is not there.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_link_never_reaches_the_log() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .finish();
    // The process-wide subscriber (this test binary has only this test):
    // a thread-scoped one misses events when callsite interest is cached.
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let env = Env::start().await;
    let s = env.sign_in("parent.demo@example.com", DEMO_PW).await;
    let url = link(&env, s.access_token.expose_secret(), "market").await;
    let code = url.rsplit('/').next().unwrap().to_owned();
    let b = Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    assert_eq!(open(&b, &url).await, StatusCode::SEE_OTHER);
    assert_eq!(open(&b, &url).await, StatusCode::GONE);
    let log = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(
        log.contains("web hand-off issued"),
        "the log was captured: {log}"
    );
    assert!(log.contains("web hand-off redeemed"));
    assert!(!log.contains(&code), "the hand-off code is in the log");
}
