//! The sandbox over real HTTPS (issue 14 item 3): `SandboxConfig::tls`
//! serves with a CA it makes, a reqwest client trusting only that CA does a
//! whole county sign-in; a client without it is refused; a data folder
//! keeps the CA across restarts; `SandboxConfig::public_url` makes every
//! advertised URL (configuration, issuers, county metadata, mails) use
//! another base.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use educloud_sandbox::idp::{CLIENT_ID, DEMO_PASSWORD};
use educloud_sandbox::testkit::{error_chain, FormBrowser, LoginForm};
use educloud_sandbox::{start, SandboxConfig, SandboxHandle};
use reqwest::{redirect, Certificate, Client, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use url::Url;

async fn tls_sandbox(data_dir: Option<std::path::PathBuf>) -> SandboxHandle {
    start(SandboxConfig {
        tls: true,
        data_dir,
        ..Default::default()
    })
    .await
    .expect("TLS sandbox starts")
}

/// A client that trusts the sandbox's CA and nothing else.
fn trusting(pem: &str) -> reqwest::ClientBuilder {
    Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(Certificate::from_pem(pem.as_bytes()).unwrap())
        .redirect(redirect::Policy::none())
}

async fn get_json(c: &Client, url: &str) -> Value {
    let res = c.get(url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "GET {url}");
    res.json().await.unwrap()
}

#[tokio::test]
async fn an_https_sandbox_is_trusted_through_its_ca_and_refused_without_it() {
    let h = tls_sandbox(None).await;
    let base = h.base_url().clone();
    assert_eq!(base.scheme(), "https");
    assert_eq!(h.local_url(), &base);
    let path = h.ca_cert_path().expect("a CA file").to_path_buf();
    let pem = std::fs::read_to_string(&path).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(h.ca_cert_pem(), Some(pem.as_str()));

    let c = trusting(&pem).build().unwrap();
    let config = get_json(&c, &format!("{base}.well-known/educloud-configuration")).await;
    let ntpc = config["counties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["code"] == "ntpc")
        .unwrap();
    assert_eq!(ntpc["issuer"], format!("{base}idp/ntpc"));
    // The certificate names localhost too.
    let by_name = format!(
        "https://localhost:{}/.well-known/educloud-configuration",
        base.port().unwrap()
    );
    assert_eq!(c.get(&by_name).send().await.unwrap().status(), 200);

    // Without the CA: a certificate error, not an answer.
    let plain = Client::builder().build().unwrap();
    let err = plain.get(base.as_str()).send().await.unwrap_err();
    let chain = error_chain(&err);
    assert!(
        chain.contains("certificate") || chain.contains("UnknownIssuer"),
        "{chain}"
    );
    // Plain HTTP on the TLS port gets nowhere either.
    let http = format!("http://127.0.0.1:{}/", base.port().unwrap());
    assert!(plain.get(&http).send().await.is_err());

    // An in-memory sandbox's CA lives in a temporary folder, gone at the stop.
    drop(h);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(!path.exists(), "{} left behind", path.display());
}

#[tokio::test]
async fn a_county_sign_in_runs_end_to_end_over_https() {
    let h = tls_sandbox(None).await;
    let pem = h.ca_cert_pem().unwrap().to_owned();
    let app = trusting(&pem).build().unwrap();
    let browser = FormBrowser::with_client(trusting(&pem));
    let issuer = h.idp().issuer("ntpc").unwrap().to_owned();
    assert!(issuer.starts_with("https://127.0.0.1:"), "{issuer}");
    let meta = get_json(&app, &format!("{issuer}/.well-known/openid-configuration")).await;
    assert_eq!(meta["issuer"], issuer);
    for k in ["authorization_endpoint", "token_endpoint", "jwks_uri"] {
        assert!(
            meta[k].as_str().unwrap().starts_with(&issuer),
            "{k}: {}",
            meta[k]
        );
    }
    let verifier = URL_SAFE_NO_PAD.encode([7u8; 32]);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let redirect_uri = "http://127.0.0.1:49152/callback/ntpc";
    let mut authorize = Url::parse(meta["authorization_endpoint"].as_str().unwrap()).unwrap();
    authorize.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect_uri),
        ("scope", "openid profile email eduinfo"),
        ("state", "s-1"),
        ("nonce", "n-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    let page = browser.get(&authorize).await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let form = LoginForm::parse(&html, &authorize).expect("login form");
    assert_eq!(form.action.scheme(), "https");
    let res = browser
        .submit(&form, "ntpcbound", DEMO_PASSWORD, false)
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let to = Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let q: HashMap<String, String> = to.query_pairs().into_owned().collect();
    assert_eq!(q.get("iss"), Some(&issuer));
    let tokens: Value = app
        .post(meta["token_endpoint"].as_str().unwrap())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier.as_str()),
            ("client_id", CLIENT_ID),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = app
        .post(format!("{}api/v1/sessions", h.base_url()))
        .json(&json!({"method": "county", "county": "ntpc", "id_token": tokens["id_token"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let session: Value = res.json().await.unwrap();
    assert_eq!(session["account"]["email"], "ntpcbound@mail.edu.tw");
}

#[tokio::test]
async fn a_data_folder_keeps_one_ca_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let first = tls_sandbox(Some(dir.path().to_path_buf())).await;
    let path = first.ca_cert_path().unwrap().to_path_buf();
    assert_eq!(path, dir.path().join(educloud_sandbox::tls::CA_FILE));
    let pem = std::fs::read_to_string(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let key = dir.path().join(educloud_sandbox::tls::CA_KEY_FILE);
        let mode = std::fs::metadata(key).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the CA key is the owner's only");
    }
    drop(first);
    let second = tls_sandbox(Some(dir.path().to_path_buf())).await;
    assert_eq!(std::fs::read_to_string(&path).unwrap(), pem);
    // The first start's CA file still verifies the new server certificate.
    let c = trusting(&pem).build().unwrap();
    let res = c.get(second.base_url().as_str()).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_public_url_is_what_the_sandbox_advertises() {
    let public = Url::parse("https://educloud.school.example").unwrap();
    let h = start(SandboxConfig {
        public_url: Some(public.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(h.base_url().as_str(), "https://educloud.school.example/");
    assert_eq!(h.local_url().scheme(), "http");
    let local = h.local_url().clone();
    let c = Client::new();
    let config = get_json(&c, &format!("{local}.well-known/educloud-configuration")).await;
    let text = config.to_string();
    assert!(!text.contains("127.0.0.1"), "{text}");
    for e in config["counties"].as_array().unwrap() {
        let issuer = e["issuer"].as_str().unwrap();
        assert!(
            issuer.starts_with("https://educloud.school.example/idp/"),
            "{issuer}"
        );
    }
    let meta = get_json(
        &c,
        &format!("{local}idp/kh/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(meta["issuer"], "https://educloud.school.example/idp/kh");
    assert!(meta["token_endpoint"]
        .as_str()
        .unwrap()
        .starts_with("https://educloud.school.example/idp/kh/"));
    // Mails link to the public base.
    let res = c
        .post(format!("{local}api/v1/password-resets"))
        .json(&json!({"email": "parent.demo@example.com"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let mails: Value = get_json(&c, &format!("{local}api/sandbox/outbox")).await;
    let link = mails[0]["links"][0].as_str().unwrap();
    assert!(
        link.starts_with("https://educloud.school.example/"),
        "{link}"
    );
    // The home page too.
    let home = c
        .get(local.as_str())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("https://educloud.school.example/.well-known/educloud-configuration"));
}

#[tokio::test]
async fn a_public_url_must_be_an_http_origin() {
    for bad in [
        "ftp://x.example/",
        "https://x.example/sub/",
        "https://x.example/?q=1",
        "https://user:pw@x.example/",
    ] {
        let err = start(SandboxConfig {
            public_url: Some(Url::parse(bad).unwrap()),
            ..Default::default()
        })
        .await
        .err()
        .unwrap_or_else(|| panic!("{bad} accepted"));
        assert_eq!(err.code(), "sandbox.config", "{bad}");
    }
}
