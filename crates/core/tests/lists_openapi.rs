//! List-keeping test (issue 11): the client's requests AND the sandbox's
//! answers match `docs/api/openapi.yaml`. (schemathesis in
//! `tests/openapi/run.sh` checks the server against the document with
//! generated requests; nothing checked the CLIENT until this.)
//!
//! The core's `EduCloudClient` goes through a full flow against the
//! in-process sandbox — configuration, terms, availability, a member
//! registration, activation, resend, password sign-in (right and wrong),
//! `me`, refresh, a web hand-off, sign-out by refresh token (twice), a
//! spent refresh token, county sign-in with an ID
//! token and with a Taipei access token, a staff registration, password
//! reset, sign-out — and the sandbox's testkit recorder keeps every
//! exchange; every operation of the document must have been exercised
//! (a new operation joins the flow). `tests/openapi/validate_traffic.py` (openapi-core, in the venv
//! `scripts/setup --test` makes) then validates each request (operation
//! exists; path/query/body match the schemas) and each answer (status
//! documented; content type and body match). A missing validator FAILS the
//! test (it never skips). Seen failing once: see /work/notes/h6-tests.md.

use std::path::{Path, PathBuf};
use std::process::Command;

use educloud_core::api::{http_client, EduCloudClient, RegistrationRequest};
use educloud_core::oidc::CountyCredential;
use educloud_core::policy::Policy;
use educloud_core::secret::SecretString;
use educloud_sandbox::{SandboxConfig, SandboxHandle};
use serde_json::{json, Value};

const PW: &str = "Str0ng-Pass-2026!";
const CLIENT_ID: &str = educloud_core::contract::wire::DESKTOP_CLIENT_ID;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    let venv = std::env::var_os("EDUCLOUD_OPENAPI_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/educloud-openapi-venv"))
        })
        .expect("HOME or EDUCLOUD_OPENAPI_VENV");
    venv.join("bin/python")
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_string())
}

/// The newest mailed link's `token` for `to` (sandbox outbox API).
async fn mailed_token(http: &reqwest::Client, sandbox: &SandboxHandle, to: &str) -> String {
    let url = sandbox.base_url().join("api/sandbox/outbox").unwrap();
    let mails: Value = http.get(url).send().await.unwrap().json().await.unwrap();
    let mail = mails
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["to"] == to)
        .unwrap_or_else(|| panic!("no mail to {to}: {mails}"));
    let text = mail.to_string();
    let at = text.find("token=").expect("a link with a token") + "token=".len();
    text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_.~".contains(*c))
        .collect()
}

fn member_body(email: &str, terms: &str) -> RegistrationRequest {
    serde_json::from_value(json!({
        "identity": "other",
        "terms_version": terms,
        "email": email,
        "email_confirm": email,
        "name": "王大明",
        "backup_email": "backup.parent@example.org",
        "backup_email_confirm": "backup.parent@example.org",
        "password": PW,
        "password_confirm": PW,
        "nickname": "大明"
    }))
    .expect("a registration body")
}

/// Drives the client through every operation it has; errors are expected
/// answers too (they are validated like the rest).
async fn full_flow(sandbox: &SandboxHandle) {
    let http = http_client(&Policy::default()).unwrap();
    let base = sandbox.base_url().clone();
    let config = EduCloudClient::fetch_configuration(&http, &base)
        .await
        .unwrap();
    let api =
        EduCloudClient::new(http.clone(), url::Url::parse(&config.api_base).unwrap()).unwrap();

    api.terms("zh-TW").await.unwrap();
    api.terms("en").await.unwrap();
    api.availability("wang.teacher").await.unwrap();
    let _ = api.availability("-bad name-").await;

    // A member registers, activates, resends (already active), signs in.
    let email = "openapi.parent@example.com";
    api.register(&member_body(email, &config.terms_version))
        .await
        .unwrap();
    let taken = api
        .register(&member_body(email, &config.terms_version))
        .await;
    assert!(taken.is_err(), "the same e-mail twice");
    let mut bad = member_body("x@example.com", &config.terms_version);
    bad.email_confirm = Some("y@example.com".into());
    assert!(api.register(&bad).await.is_err(), "a field rule fails");
    let token = mailed_token(&http, sandbox, email).await;
    api.activate(&secret(&token)).await.unwrap();
    assert!(api.activate(&secret("not-a-token")).await.is_err());
    api.resend_activation(email).await.unwrap();

    assert!(api.sign_in_password(email, &secret("wrong")).await.is_err());
    let s = api.sign_in_password(email, &secret(PW)).await.unwrap();
    api.me(&s.access_token).await.unwrap();
    assert!(api.me(&secret("not-a-token")).await.is_err());
    let s2 = api.refresh(&s.refresh_token).await.unwrap();
    let target = educloud_core::contract::wire::WEB_TARGETS[0];
    api.web_handoff(&s2.access_token, target).await.unwrap();
    // Sign-out by refresh token (RFC 7009: 204 also for a spent token).
    api.revoke_refresh_token(&s2.refresh_token).await.unwrap();
    api.revoke_refresh_token(&s2.refresh_token).await.unwrap();
    assert!(api.refresh(&s.refresh_token).await.is_err(), "spent");

    // County sign-in: an ID token (sso.edu.tw profile) of a bound teacher,
    // of a teacher with no account (→ registration), and Taipei's access
    // token; then that teacher's staff registration.
    let idp = sandbox.idp();
    let bound = idp
        .mint_id_token("ntpc", "ntpcbound", CLIENT_ID, Some("n"))
        .unwrap();
    let s3 = api
        .sign_in_county("ntpc", &CountyCredential::IdToken(secret(&bound)))
        .await
        .unwrap();
    let unbound = idp
        .mint_id_token("ntpc", "ntpctest", CLIENT_ID, Some("n"))
        .unwrap();
    assert!(api
        .sign_in_county("ntpc", &CountyCredential::IdToken(secret(&unbound)))
        .await
        .is_err());
    let tp = idp.mint_access_token("tp", "tptest", CLIENT_ID).unwrap();
    let _ = api
        .sign_in_county("tp", &CountyCredential::AccessToken(secret(&tp)))
        .await;
    let staff: RegistrationRequest = serde_json::from_value(json!({
        "identity": "staff",
        "terms_version": config.terms_version,
        "county": "ntpc",
        "id_token": unbound,
        "account_name": "openapi.teacher",
        "backup_email": "openapi.teacher.backup@example.org",
        "backup_email_confirm": "openapi.teacher.backup@example.org",
        "password": PW,
        "password_confirm": PW,
        "nickname": "王老師",
        "phone": "0912-345-678",
        "gender": "male"
    }))
    .unwrap();
    api.register(&staff).await.unwrap();

    // Password reset, then sign-out (and sign-out again: 401).
    api.request_password_reset(email).await.unwrap();
    let reset = mailed_token(&http, sandbox, email).await;
    let new_pw = "An0ther-Pass-2026!";
    api.complete_password_reset(&secret(&reset), &secret(new_pw), &secret(new_pw))
        .await
        .unwrap();
    api.revoke(&s3.access_token).await.unwrap();
    assert!(api.revoke(&s3.access_token).await.is_err());
}

/// `METHOD /path` for every operation in docs/api/openapi.yaml (the
/// document's own layout: `  /path:` then `    get:` …).
fn document_operations() -> Vec<String> {
    let doc = std::fs::read_to_string(root().join("docs/api/openapi.yaml")).expect("openapi.yaml");
    let mut ops = Vec::new();
    let mut in_paths = false;
    let mut path = None;
    for line in doc.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            in_paths = line == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  /").and_then(|l| l.strip_suffix(':')) {
            path = Some(format!("/{p}"));
        } else if let (Some(p), Some(m)) = (
            &path,
            line.strip_prefix("    ").and_then(|l| l.strip_suffix(':')),
        ) {
            if ["get", "post", "put", "patch", "delete"].contains(&m) {
                ops.push(format!("{} {p}", m.to_uppercase()));
            }
        }
    }
    assert!(ops.len() >= 10, "found only {ops:?} in the document");
    ops
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_requests_and_sandbox_answers_match_the_openapi_document() {
    let sandbox = educloud_sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    full_flow(&sandbox).await;
    let exchanges = sandbox.traffic().take();
    // (The test's own outbox reads are recorded and checked too.)
    let recorded: Vec<Value> = exchanges
        .iter()
        .map(|x| {
            json!({
                "method": x.method,
                "path": x.path,
                "query": x.query,
                "content_type": x.content_type,
                "auth_scheme": x.auth_scheme,
                "body": text(&x.body),
                "status": x.status,
                "response_content_type": x.response_content_type,
                "response_body": text(&x.response_body),
            })
        })
        .collect();
    // Every operation the client has was exercised (so a list that stops
    // matching cannot hide behind an untested call).
    let seen: std::collections::BTreeSet<String> = exchanges
        .iter()
        .map(|x| {
            let p = if x.path.starts_with("/api/v1/password-resets/") {
                "/api/v1/password-resets/{token}"
            } else {
                x.path.as_str()
            };
            format!("{} {p}", x.method)
        })
        .collect();
    // ... and every operation of the document (a new one must join the
    // flow above, so it is checked on both sides too).
    for op in document_operations() {
        assert!(
            seen.contains(&op),
            "{op} (in docs/api/openapi.yaml) was not exercised; seen {seen:?}"
        );
    }
    for op in [
        "GET /.well-known/educloud-configuration",
        "POST /api/v1/sessions/revoke",
        "POST /api/v1/web-handoffs",
        "GET /api/v1/terms",
        "GET /api/v1/accounts/availability",
        "POST /api/v1/registrations",
        "POST /api/v1/activations",
        "POST /api/v1/activations/resend",
        "POST /api/v1/password-resets",
        "POST /api/v1/password-resets/{token}",
        "POST /api/v1/sessions",
        "POST /api/v1/sessions/refresh",
        "DELETE /api/v1/sessions/current",
        "GET /api/v1/me",
    ] {
        assert!(seen.contains(op), "{op} was not recorded; seen {seen:?}");
    }
    // Kept after the run (target/tmp/openapi-traffic.json) to look at.
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("openapi-traffic.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&recorded).unwrap()).unwrap();
    let py = python();
    assert!(
        py.exists(),
        "{} is missing: run `scripts/setup --test` (makes the openapi-core venv) — this test fails, never skips",
        py.display()
    );
    let out = Command::new(&py)
        .arg(root().join("tests/openapi/validate_traffic.py"))
        .arg(root().join("docs/api/openapi.yaml"))
        .arg(&file)
        .output()
        .expect("run the validator");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{report}");
    assert!(
        out.status.success(),
        "the traffic does not match docs/api/openapi.yaml:\n{report}"
    );
}
