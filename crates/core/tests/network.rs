//! The app's HTTP against real TLS and real proxies (issue 14): a refused
//! certificate says why (untrusted, expired, not yet valid, another host's)
//! instead of blaming the network; the policy's CA, proxy, proxy password
//! and bypass list reach every request; `doctor --url`'s probe shows the
//! chain it saw and the server's clock.
//!
//! Real parts: the sandbox (`educloud_sandbox::start`), mitmproxy as a
//! TLS-terminating reverse proxy in front of it and as a TLS-inspecting
//! forward proxy, tinyproxy as a forward proxy that needs a password; an
//! in-process HTTPS server with generated certificates for the
//! certificate cases. The OS store (SSL_CERT_FILE) is in
//! `network_os_store.rs` (its own process: the variable is process-wide).

mod net_support;

use educloud_core::api::EduCloudClient;
use educloud_core::net::{self, probe};
use educloud_core::policy::Policy;
use educloud_core::secret::secret;
use educloud_sandbox::SandboxConfig;
use net_support::*;
use url::Url;

const MEMBER: &str = "parent.demo@example.com";
const MEMBER_PASSWORD: &str = "Demo-pass-2026!";

fn policy(json: serde_json::Value) -> Policy {
    let (p, problems) = Policy::from_json(&json.to_string()).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    p
}

fn trusting(ca: &std::path::Path) -> Policy {
    policy(serde_json::json!({ "ExtraCaCertificates": [ca] }))
}

async fn get(p: &Policy, url: &Url) -> educloud_core::Result<reqwest::Response> {
    let http = net::http_client(p)?;
    http.get(url.clone())
        .send()
        .await
        .map_err(net::transport_error)
}

/// Member sign-in with the service at `base` (its API under `/api/v1/`).
async fn member_sign_in(p: &Policy, base: &Url) -> educloud_core::Result<String> {
    let http = net::http_client(p)?;
    let config = EduCloudClient::fetch_configuration(&http, base).await?;
    assert!(!config.counties.is_empty());
    let client = EduCloudClient::new(http, base.join("api/v1/").unwrap())?;
    let tokens = client
        .sign_in_password(MEMBER, &secret(MEMBER_PASSWORD))
        .await?;
    Ok(tokens.account.email)
}

// ---------------------------------------------------------------------------
// Certificates, each refusal in its own words.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn each_refused_certificate_has_its_code_and_words() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("EduCloud Test Root");
    let ca_file = ca.write(dir.path(), "ca.pem");
    let trusted = trusting(&ca_file);

    let good = https_server(&ca.leaf(&["127.0.0.1", "localhost"], -1, 30), 0).await;
    let resp = get(&trusted, &good).await.expect("a trusted certificate");
    assert_eq!(resp.status(), 200);

    let cases = [
        (good.clone(), Policy::default(), "network.tls_untrusted"),
        (
            https_server(&ca.leaf(&["127.0.0.1"], -30, -1), 0).await,
            trusted.clone(),
            "network.tls_expired",
        ),
        (
            https_server(&ca.leaf(&["127.0.0.1"], 2, 30), 0).await,
            trusted.clone(),
            "network.tls_not_yet_valid",
        ),
        (
            https_server(&ca.leaf(&["cloud.example.tw"], -1, 30), 0).await,
            trusted.clone(),
            "network.tls_hostname",
        ),
    ];
    for (url, p, code) in cases {
        let err = get(&p, &url).await.unwrap_err();
        assert_eq!(err.code(), code, "{err}");
        // Never blamed on the network, and words in both languages.
        assert_ne!(err.code(), "network.unreachable");
        let (zh, en) = words(code);
        assert!(!zh.is_empty() && !en.is_empty());
    }
    // The same classification through the API client's own path.
    let http = net::http_client(&Policy::default()).unwrap();
    let err = EduCloudClient::fetch_configuration(&http, &good)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "network.tls_untrusted");
}

#[tokio::test]
async fn the_probe_shows_the_chain_the_verdict_and_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("EduCloud Probe Root");
    let ca_file = ca.write(dir.path(), "ca.pem");
    // A server whose clock is 3 hours ahead of ours.
    let url = https_server(&ca.leaf(&["127.0.0.1"], -1, 30), 3 * 3600).await;

    let untrusted = probe::probe(&Policy::default(), &url).await;
    assert_eq!(
        untrusted.error.as_ref().unwrap().code,
        "network.tls_untrusted"
    );
    assert_eq!(untrusted.chain.len(), 1, "the leaf the server sent");
    assert!(
        untrusted.chain[0].subject.contains("CN=127.0.0.1"),
        "{:?}",
        untrusted.chain
    );
    assert!(untrusted.chain[0].issuer.contains("CN=EduCloud Probe Root"));
    assert!(!untrusted.chain[0].not_after.is_empty());

    let trusted = probe::probe(&trusting(&ca_file), &url).await;
    assert!(trusted.error.is_none(), "{:?}", trusted.error);
    assert_eq!(trusted.status, Some(200));
    let offset = trusted.clock_offset_secs.unwrap();
    assert!((3 * 3600 - 5..=3 * 3600 + 5).contains(&offset), "{offset}");
    assert_eq!(trusted.clock_ok(), Some(false));

    let on_time = https_server(&ca.leaf(&["127.0.0.1"], -1, 30), 90).await;
    let p = probe::probe(&trusting(&ca_file), &on_time).await;
    assert_eq!(p.clock_ok(), Some(true), "minutes off are fine");
}

// ---------------------------------------------------------------------------
// A TLS-terminating reverse proxy (mitmproxy) in front of the sandbox.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn behind_a_reverse_proxy_sign_in_needs_its_ca() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = educloud_sandbox::start(SandboxConfig::default())
        .await
        .unwrap();
    let reverse = mitm("reverse", Some(sandbox.base_url()), dir.path(), &[]);
    let base = Url::parse(&format!("https://127.0.0.1:{}/", reverse.proc.port)).unwrap();

    let email = member_sign_in(&trusting(&reverse.ca), &base)
        .await
        .expect("sign-in over HTTPS with the proxy's CA trusted");
    assert_eq!(email, MEMBER);

    let err = member_sign_in(&Policy::default(), &base).await.unwrap_err();
    assert_eq!(err.code(), "network.tls_untrusted", "{err}");
    let (zh, en) = words("network.tls_untrusted");
    assert!(zh.contains("憑證") && en.contains("certificate"));
}

// ---------------------------------------------------------------------------
// A TLS-inspecting forward proxy (mitmproxy): the school's proxy.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn through_a_tls_inspecting_proxy_sign_in_needs_the_proxy_ca() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = educloud_sandbox::start(SandboxConfig::default())
        .await
        .unwrap();
    // The "internet" service: HTTPS with its own CA.
    let service = mitm("service", Some(sandbox.base_url()), dir.path(), &[]);
    let base = Url::parse(&format!("https://127.0.0.1:{}/", service.proc.port)).unwrap();
    // The school's inspecting proxy, with another CA.
    let school = mitm("school", None, dir.path(), &[]);
    let proxy_url = format!("http://127.0.0.1:{}", school.proc.port);

    // The school's CA deployed, everything through the proxy (an empty
    // bypass list: the test service is on loopback).
    let deployed = policy(serde_json::json!({
        "ProxyUrl": proxy_url,
        "ProxyBypass": [],
        "ExtraCaCertificates": [school.ca],
    }));
    assert_eq!(member_sign_in(&deployed, &base).await.unwrap(), MEMBER);
    // The chain the app saw is the proxy's (what IT sees in doctor).
    let seen = probe::probe(&deployed, &base).await;
    assert!(seen.error.is_none(), "{:?}", seen.error);
    assert!(
        seen.chain.iter().any(|c| c.issuer.contains("mitmproxy")),
        "{:?}",
        seen.chain
    );
    assert_eq!(seen.proxy.source, "policy");

    // The proxy's CA not deployed: refused, in words, not "unreachable".
    let missing = policy(serde_json::json!({
        "ProxyUrl": proxy_url,
        "ProxyBypass": [],
        "ExtraCaCertificates": [service.ca],
    }));
    let err = member_sign_in(&missing, &base).await.unwrap_err();
    assert_eq!(err.code(), "network.tls_untrusted", "{err}");

    // The default bypass list (localhost, 127.0.0.1, [::1]) sends loopback
    // direct: the service's own certificate, not the proxy's.
    let bypassed = policy(serde_json::json!({
        "ProxyUrl": proxy_url,
        "ExtraCaCertificates": [service.ca],
    }));
    assert_eq!(member_sign_in(&bypassed, &base).await.unwrap(), MEMBER);
    let direct = probe::probe(&bypassed, &base).await;
    assert!(direct.error.is_none(), "{:?}", direct.error);
    assert_eq!(direct.proxy.bypass, ["localhost", "127.0.0.1", "[::1]"]);
}

// ---------------------------------------------------------------------------
// A forward proxy that needs a password (tinyproxy, basic authentication).
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_proxy_password_in_the_policy_url_works_and_its_absence_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = educloud_sandbox::start(SandboxConfig::default())
        .await
        .unwrap();
    let service = mitm("service", Some(sandbox.base_url()), dir.path(), &[]);
    let base = Url::parse(&format!("https://127.0.0.1:{}/", service.proc.port)).unwrap();
    let proxy = tinyproxy_with_auth("teacher", "s3cret-Pw", dir.path());
    let with = |userinfo: &str| {
        policy(serde_json::json!({
            "ProxyUrl": format!("http://{userinfo}127.0.0.1:{}", proxy.port),
            "ProxyBypass": [],
            "ExtraCaCertificates": [service.ca],
        }))
    };

    // HTTPS through the proxy (CONNECT with Proxy-Authorization).
    assert_eq!(
        member_sign_in(&with("teacher:s3cret-Pw@"), &base)
            .await
            .unwrap(),
        MEMBER
    );
    assert!(proxy.log().contains("CONNECT"), "{}", proxy.log());
    // No password: the proxy's 407.
    let err = member_sign_in(&with(""), &base).await.unwrap_err();
    assert_eq!(err.code(), "network.proxy_auth", "{err}");
    let (zh, en) = words("network.proxy_auth");
    assert!(zh.contains("Proxy") && en.contains("proxy"));
    // A wrong password: tinyproxy answers 401 (not 407), which the HTTP
    // stack only reports as an unsuccessful tunnel — still the proxy's
    // fault in words, never "unreachable", never the password.
    let err = member_sign_in(&with("teacher:wrong@"), &base)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "network.proxy_failed", "{err}");
    assert!(!err.to_string().contains("s3cret") && !err.to_string().contains("wrong"));
    // Plain HTTP through the proxy: its 407 answer, named the same way.
    let plain = sandbox.base_url().clone();
    assert_eq!(
        member_sign_in(&with("teacher:s3cret-Pw@"), &plain)
            .await
            .unwrap(),
        MEMBER
    );
    let err = member_sign_in(&with(""), &plain).await.unwrap_err();
    assert_eq!(err.code(), "network.proxy_auth", "{err}");
    // A proxy that answers a wrong password with 407 as the standard says
    // (mitmproxy's proxyauth): named as the password problem.
    let strict = mitm("strict", None, dir.path(), &["proxyauth=teacher:s3cret-Pw"]);
    let strict_policy = |userinfo: &str| {
        policy(serde_json::json!({
            "ProxyUrl": format!("http://{userinfo}127.0.0.1:{}", strict.proc.port),
            "ProxyBypass": [],
            "ExtraCaCertificates": [strict.ca],
        }))
    };
    assert_eq!(
        member_sign_in(&strict_policy("teacher:s3cret-Pw@"), &base)
            .await
            .unwrap(),
        MEMBER
    );
    let err = member_sign_in(&strict_policy("teacher:wrong@"), &base)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "network.proxy_auth", "{err}");
    // The password never shows where doctor prints the proxy.
    let shown = net::proxy::choice(&with("teacher:s3cret-Pw@"));
    assert!(shown.authenticated);
    assert!(!format!("{shown:?}").contains("s3cret"));
}

// ---------------------------------------------------------------------------
// The whole county sign-in behind the reverse proxy (the sandbox advertising
// the proxy's https origin, `--public-url`), then through the school's
// inspecting proxy too.
// ---------------------------------------------------------------------------

mod county {
    use std::sync::{Arc, Mutex};

    use educloud_core::browser::BrowserOpener;
    use educloud_core::desktop::{Desktop, ServiceEndpoint};
    use educloud_core::paths::AppPaths;
    use educloud_core::policy::{EnvironmentKind, LoadedPolicy, Policy};
    use educloud_core::session::{SessionState, SignInOutcome};
    use educloud_core::vault::{MockKeychain, SessionVault};
    use educloud_sandbox::testkit::{Act, FormBrowser};
    use educloud_sandbox::SandboxConfig;
    use url::Url;

    use super::net_support::*;
    use super::policy;

    /// The system browser: posts the county's login form over HTTPS (it
    /// trusts `ca`, as a school PC's browser trusts the deployed CA).
    struct Browser {
        form: FormBrowser,
        errors: Arc<Mutex<Vec<String>>>,
    }

    impl BrowserOpener for Browser {
        fn open(&self, url: &str) -> educloud_core::Result<()> {
            let (form, url, errors) = (self.form.clone(), url.to_string(), self.errors.clone());
            tokio::spawn(async move {
                if let Err(e) = form.visit(&url, &Act::login("ntpcbound")).await {
                    errors.lock().unwrap().push(e);
                }
            });
            Ok(())
        }
    }

    async fn county_sign_in(
        p: Policy,
        base: &Url,
        browser_ca: &std::path::Path,
    ) -> educloud_core::Result<String> {
        let dir = tempfile::tempdir().unwrap();
        let pem = std::fs::read(browser_ca).unwrap();
        let form = FormBrowser::with_client(
            reqwest::Client::builder()
                .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
                .no_proxy(),
        );
        let errors = Arc::new(Mutex::new(Vec::new()));
        let mut loaded = LoadedPolicy::default();
        loaded.add("test".into(), p);
        let desktop = Desktop::open(AppPaths::under(dir.path()), loaded)
            .unwrap()
            .with_browser(Arc::new(Browser {
                form,
                errors: errors.clone(),
            }));
        desktop.set_service(ServiceEndpoint {
            kind: EnvironmentKind::Custom,
            base_url: base.clone(),
        });
        let keychain = MockKeychain::new();
        let session = SessionState::new(SessionVault::mock(&keychain));
        let out = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            session.sign_in_county(&desktop, "ntpc", false, &educloud_core::oidc::NoProgress),
        )
        .await
        .expect("the sign-in finished");
        assert!(
            errors.lock().unwrap().is_empty(),
            "{:?}",
            errors.lock().unwrap()
        );
        match out? {
            SignInOutcome::SignedIn(a) => Ok(a.email),
            other => panic!("not signed in: {other:?}"),
        }
    }

    #[tokio::test]
    async fn county_sign_in_behind_a_reverse_proxy_and_through_an_inspecting_proxy() {
        let dir = tempfile::tempdir().unwrap();
        // The reverse proxy's port is chosen first: the sandbox advertises it.
        let port = free_port();
        let public = Url::parse(&format!("https://127.0.0.1:{port}/")).unwrap();
        let sandbox = educloud_sandbox::start(SandboxConfig {
            public_url: Some(public.clone()),
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let reverse = mitm_on("reverse", port, Some(sandbox.local_url()), dir.path(), &[]);

        // Every county URL the app uses is the proxy's https origin.
        let direct = policy(serde_json::json!({ "ExtraCaCertificates": [reverse.ca] }));
        assert_eq!(
            county_sign_in(direct, &public, &reverse.ca).await.unwrap(),
            "ntpcbound@mail.edu.tw"
        );

        // The school's inspecting proxy in front of everything the app
        // sends (the browser keeps its own settings and goes direct).
        let school = mitm("school", None, dir.path(), &[]);
        let through = policy(serde_json::json!({
            "ProxyUrl": format!("http://127.0.0.1:{}", school.proc.port),
            "ProxyBypass": [],
            "ExtraCaCertificates": [school.ca],
        }));
        assert_eq!(
            county_sign_in(through, &public, &reverse.ca).await.unwrap(),
            "ntpcbound@mail.edu.tw"
        );
        // Without the school's CA: the certificate, in words.
        let missing = policy(serde_json::json!({
            "ProxyUrl": format!("http://127.0.0.1:{}", school.proc.port),
            "ProxyBypass": [],
        }));
        let err = county_sign_in(missing, &public, &reverse.ca)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "network.tls_untrusted", "{err}");
    }

    /// A county IdP whose certificate is not trusted (the service's is):
    /// the county sign-in says it is the certificate, not the network.
    #[tokio::test]
    async fn a_county_idp_with_an_untrusted_certificate_is_named_so() {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let public = Url::parse(&format!("https://127.0.0.1:{port}/")).unwrap();
        let sandbox = educloud_sandbox::start(SandboxConfig {
            public_url: Some(public.clone()),
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let reverse = mitm_on("reverse", port, Some(sandbox.local_url()), dir.path(), &[]);
        // The county's IdP on another origin with a CA nobody trusts.
        let county = TestCa::new("Unknown County CA");
        let idp = https_server(&county.leaf(&["127.0.0.1"], -1, 30), 0).await;
        let p = policy(serde_json::json!({
            "ExtraCaCertificates": [reverse.ca],
            "CountyOverrides": {"ntpc": {"issuer": idp.join("idp/ntpc").unwrap().to_string()}},
        }));
        let err = county_sign_in(p, &public, &reverse.ca).await.unwrap_err();
        assert_eq!(err.code(), "network.tls_untrusted", "{err}");
    }
}
