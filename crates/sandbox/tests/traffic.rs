//! The test kit's traffic recorder: every request of the API document (and
//! only those) is kept with its answer, as h6's OpenAPI check of the app's
//! client needs — and never a Bearer token's value.

mod cloud_support;

use cloud_support::*;
use serde_json::json;

#[tokio::test]
async fn the_recorder_keeps_api_requests_and_their_answers() {
    let env = Env::start().await;
    env.sandbox.traffic().clear();
    let res = env
        .http
        .get(env.url(".well-known/educloud-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Not part of the API document: not recorded.
    let res = env
        .http
        .get(env.url("idp/ntpc/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = env.http.get(env.url("outbox")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let s = env.sign_in("parent.demo@example.com", DEMO_PW).await;
    let token = s.access_token.expose_secret().to_owned();
    let res = env.get_bearer("me", &token).await;
    assert_eq!(res.status(), 200);
    let res = env
        .http
        .get(env.api("accounts/availability?nam=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    let log = env.sandbox.traffic().take();
    let paths: Vec<&str> = log.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/.well-known/educloud-configuration",
            "/api/v1/sessions",
            "/api/v1/me",
            "/api/v1/accounts/availability",
        ]
    );
    let sign_in = &log[1];
    assert_eq!(sign_in.method, "POST");
    assert_eq!(sign_in.content_type.as_deref(), Some("application/json"));
    assert_eq!(sign_in.json().unwrap()["email"], "parent.demo@example.com");
    assert_eq!(sign_in.status, 201);
    assert_eq!(
        sign_in.response_json().unwrap()["account"]["email"],
        "parent.demo@example.com"
    );
    let me = &log[2];
    assert_eq!(me.auth_scheme.as_deref(), Some("Bearer"));
    assert!(!me.auth_scheme.as_deref().unwrap_or("").contains(&token));
    let bad = &log[3];
    assert_eq!(bad.query.as_deref(), Some("nam=x"));
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.response_content_type.as_deref(),
        Some("application/problem+json")
    );
    assert!(bad
        .response_headers
        .iter()
        .any(|(k, v)| k == "content-type" && v == "application/problem+json"));
    // take() emptied the record; the answers still reached the client intact.
    assert!(env.sandbox.traffic().exchanges().is_empty());
    let res = env
        .post(
            "sessions",
            &json!({"method": "password", "email": "x@example.com", "password": "nope"}),
        )
        .await;
    problem(res, 401, "auth.invalid_credentials").await;
    assert_eq!(env.sandbox.traffic().exchanges().len(), 1);
    // Off (benchmarks): nothing more is kept, answers are unchanged.
    env.sandbox.traffic().set_recording(false);
    let res = env
        .http
        .get(env.url(".well-known/educloud-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(env.sandbox.traffic().exchanges().len(), 1);
}
