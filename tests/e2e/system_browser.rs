//! The test "system browser" (headless Debian Chromium through
//! `tests/browser/county-login.mjs`) really opens a loopback page, fills a
//! login form and follows the redirect — the same way later tests drive the
//! county pages.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use crate::rig::{self, Profile};

/// A two-page server on 127.0.0.1:0 that stops after `max` requests.
fn serve(max: usize) -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(max) {
            let Ok(mut s) = stream else { continue };
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut reader = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).ok();
            let mut len = 0;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).ok();
            let (status, extra, page) = if line.starts_with("POST /login") {
                tx.send(String::from_utf8_lossy(&body).to_string()).ok();
                (
                    "302 Found",
                    "Location: /callback/test?code=abc\r\n",
                    String::new(),
                )
            } else if line.starts_with("GET /callback/") {
                (
                    "200 OK",
                    "",
                    "<html><body><h1>登入完成，可以關閉此分頁</h1></body></html>".to_string(),
                )
            } else {
                ("200 OK", "", "<html><body><form method=post action=/login>\
                    <input id=username name=username><input id=password name=password type=password>\
                    <input id=remember name=remember type=checkbox><button id=login>登入</button></form></body></html>".to_string())
            };
            let resp = format!(
                "HTTP/1.1 {status}\r\n{extra}Content-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
            s.write_all(resp.as_bytes()).ok();
        }
    });
    (port, rx)
}

#[test]
fn headless_chromium_fills_a_loopback_login_page() {
    let Some(tools) = rig::tools() else { return };
    let profile = Profile::new();
    profile.set_browser_plan(
        serde_json::json!({"action": "login", "username": "ntpctest", "password": "pw", "remember": true}),
        "system-browser",
    );
    let (port, posted) = serve(4);
    let status = Command::new(&tools.node)
        .arg(rig::repo_root().join("tests/browser/county-login.mjs"))
        .arg(format!("http://127.0.0.1:{port}/start"))
        .env("EDUCLOUD_TEST_BROWSER_PLAN", profile.plan_file())
        .status()
        .unwrap();
    assert!(status.success());
    let form = posted.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(
        form.contains("username=ntpctest") && form.contains("remember=on"),
        "{form}"
    );
    let visits = profile.browser_visits();
    assert_eq!(visits.len(), 1, "{visits:?}");
    assert_eq!(visits[0]["ok"], true);
    assert!(visits[0]["final_url"]
        .as_str()
        .unwrap()
        .contains("/callback/test?code=abc"));
    assert!(visits[0]["text"].as_str().unwrap().contains("登入完成"));
}
