//! Shared helpers of the Education Cloud tests: a sandbox on 127.0.0.1:0, a
//! JSON client, registration bodies, county tokens minted by the sandbox's
//! own IdPs, and an assertion that an answer is a given RFC 9457 problem.

#![allow(dead_code)]

use educloud_contract::wire::{OutboxMail, Problem, SessionTokens, PROBLEM_JSON};
use educloud_sandbox::idp::CLIENT_ID;
use educloud_sandbox::{start, SandboxConfig, SandboxHandle};
use reqwest::{redirect, Client, Response};
use serde_json::{json, Value};

pub const TERMS: &str = "2026-11-01";
/// A password the rules accept (no account name in it, zxcvbn score ≥ 3).
pub const PW: &str = "Kite-Lamp-93-Orbit";
pub const DEMO_PW: &str = "Demo-pass-2026!";

pub struct Env {
    pub sandbox: SandboxHandle,
    pub http: Client,
}

impl Env {
    pub async fn start() -> Env {
        Env::with(SandboxConfig::default()).await
    }

    pub async fn with(config: SandboxConfig) -> Env {
        let sandbox = start(config).await.expect("sandbox starts");
        let http = Client::builder()
            .redirect(redirect::Policy::none())
            .build()
            .unwrap();
        Env { sandbox, http }
    }

    pub fn url(&self, path: &str) -> String {
        format!(
            "{}{}",
            self.sandbox.base_url(),
            path.trim_start_matches('/')
        )
    }

    pub fn api(&self, path: &str) -> String {
        self.url(&format!("api/v1/{path}"))
    }

    /// POSTs JSON to `api/v1/{path}` (the body is serialized at once, so
    /// the future borrows nothing but `self`).
    pub fn post(
        &self,
        path: &str,
        body: &Value,
    ) -> impl std::future::Future<Output = Response> + '_ {
        let request = self.http.post(self.api(path)).json(body);
        async move { request.send().await.unwrap() }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http.get(self.api(path)).send().await.unwrap()
    }

    pub async fn get_bearer(&self, path: &str, token: &str) -> Response {
        self.http
            .get(self.api(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn outbox(&self) -> Vec<OutboxMail> {
        let res = self
            .http
            .get(self.url("api/sandbox/outbox"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// The newest mail to `to`, if any.
    pub async fn last_mail_to(&self, to: &str) -> Option<OutboxMail> {
        self.outbox().await.into_iter().find(|m| m.to == to)
    }

    /// Moves the Education Cloud's clock forward.
    pub async fn advance(&self, seconds: u32) {
        let res = self
            .http
            .post(self.url("api/sandbox/clock"))
            .json(&json!({ "seconds": seconds }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }

    /// An ID token of a demo user as the county's token endpoint issues it.
    pub fn id_token(&self, county: &str, user: &str) -> String {
        self.sandbox
            .idp()
            .mint_id_token(county, user, CLIENT_ID, Some("nonce"))
            .unwrap()
    }

    /// A Taipei-profile access token of a demo user.
    pub fn access_token(&self, county: &str, user: &str) -> String {
        self.sandbox
            .idp()
            .mint_access_token(county, user, CLIENT_ID)
            .unwrap()
    }

    pub async fn password_session(&self, email: &str, password: &str) -> Response {
        self.post(
            "sessions",
            &json!({"method": "password", "email": email, "password": password}),
        )
        .await
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> SessionTokens {
        let res = self.password_session(email, password).await;
        assert_eq!(res.status(), 201, "sign in as {email}");
        res.json().await.unwrap()
    }
}

/// Asserts `res` is `application/problem+json` with `status` and `code`.
pub async fn problem(res: Response, status: u16, code: &str) -> Problem {
    let got = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = res.text().await.unwrap();
    assert_eq!(got, status, "status for {code}: {body}");
    assert_eq!(ct, PROBLEM_JSON, "content type for {code}");
    let p: Problem = serde_json::from_str(&body).unwrap();
    assert_eq!(p.code, code, "{body}");
    assert_eq!(p.status, status);
    assert_eq!(p.type_uri, format!("urn:educloud:problem:{code}"));
    assert!(!p.title.is_empty());
    p
}

/// A complete staff registration body (county ID token).
pub fn staff_body(county: &str, id_token: &str, account_name: &str) -> Value {
    json!({
        "identity": "staff",
        "terms_version": TERMS,
        "county": county,
        "id_token": id_token,
        "account_name": account_name,
        "name": "不會被採用 (ignored)",
        "backup_email": format!("{account_name}.backup@example.org"),
        "backup_email_confirm": format!("{account_name}.backup@example.org"),
        "password": PW,
        "password_confirm": PW,
        "nickname": "王老師",
        "phone": "0912-345-678",
        "gender": "male"
    })
}

/// A complete "other" member registration body.
pub fn other_body(email: &str) -> Value {
    json!({
        "identity": "other",
        "terms_version": TERMS,
        "email": email,
        "email_confirm": email,
        "name": "王大明",
        "backup_email": "backup.parent@example.org",
        "backup_email_confirm": "backup.parent@example.org",
        "password": PW,
        "password_confirm": PW,
        "nickname": "大明"
    })
}

/// The `token` query parameter of a mailed link.
pub fn token_of(link: &str) -> String {
    url::Url::parse(link)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .expect("link has a token")
}
