//! Without a policy proxy the app uses the system's (issue 14 item 4): on
//! Linux the `HTTPS_PROXY` / `NO_PROXY` variables (the matcher reqwest uses;
//! Windows and macOS add their settings through the same code) — except
//! loopback, which always goes direct (the embedded demo service). A real
//! TLS-inspecting proxy (mitmproxy) proves where a request went: through
//! it, the app is shown the proxy's certificate. A policy `ProxyUrl` wins
//! over the variables. Its own test binary: the variables are process-wide.

mod net_support;

use educloud_core::net::{self, probe};
use educloud_core::policy::Policy;
use net_support::*;
use url::Url;

fn trust(extra: &[&std::path::Path]) -> Policy {
    Policy::from_json(&serde_json::json!({ "ExtraCaCertificates": extra }).to_string())
        .unwrap()
        .0
}

#[tokio::test]
async fn the_system_proxy_variables_are_used_unless_policy_sets_a_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("The Service's Root");
    let ca_file = ca.write(dir.path(), "service-ca.pem");
    let service = https_server(&ca.leaf(&["127.0.0.1"], -1, 30), 0).await;
    // Lazy: the proxy answers the TLS handshake before it tries the
    // (unreachable) upstream, so its certificate shows where we went.
    let school = mitm("school", None, dir.path(), &["connection_strategy=lazy"]);
    let other = mitm("other", None, dir.path(), &[]);

    std::env::set_var(
        "HTTPS_PROXY",
        format!("http://127.0.0.1:{}", school.proc.port),
    );
    std::env::remove_var("NO_PROXY");
    std::env::remove_var("no_proxy");

    // A host on the internet (an .invalid name: nothing leaves this computer
    // but a failing name lookup) goes through the system proxy: the app is
    // shown the school proxy's certificate (then its 502: the test has no
    // internet).
    let internet = Url::parse("https://cloud.educloud-test.invalid/").unwrap();
    let seen = probe::probe(&trust(&[&school.ca]), &internet).await;
    assert_eq!(seen.proxy.source, "system");
    assert!(seen.proxy.variables.iter().any(|(k, _)| k == "HTTPS_PROXY"));
    assert!(
        seen.chain
            .first()
            .is_some_and(|c| c.issuer.contains("mitmproxy")),
        "{seen:?}"
    );
    assert!(seen.error.is_none(), "{:?}", seen.error);
    assert_eq!(seen.status, Some(502));
    // Not trusting the proxy's CA: refused in words.
    let refused = probe::probe(&trust(&[&ca_file]), &internet).await;
    assert_eq!(refused.error.unwrap().code, "network.tls_untrusted");

    // NO_PROXY sends a host direct (here: nowhere, as there is no internet).
    std::env::set_var("NO_PROXY", "educloud-test.invalid");
    let direct = probe::probe(&trust(&[&school.ca]), &internet).await;
    assert!(direct.chain.is_empty(), "{direct:?}");
    assert_ne!(direct.status, Some(502));
    std::env::remove_var("NO_PROXY");

    // Loopback (the demo service) always goes direct: the service's own
    // certificate, although HTTPS_PROXY is set and NO_PROXY is not.
    let local = probe::probe(&trust(&[&ca_file]), &service).await;
    assert!(local.error.is_none(), "{:?}", local.error);
    assert!(local.chain[0].issuer.contains("The Service's Root"));

    // A policy proxy wins over the variables (and, with an empty bypass
    // list, takes loopback too).
    let policy = Policy::from_json(
        &serde_json::json!({
            "ProxyUrl": format!("http://127.0.0.1:{}", other.proc.port),
            "ProxyBypass": [],
            "ExtraCaCertificates": [other.ca],
        })
        .to_string(),
    )
    .unwrap()
    .0;
    let http = net::http_client(&policy).unwrap();
    let resp = http
        .get(service.clone())
        .send()
        .await
        .map_err(net::transport_error);
    assert_eq!(resp.unwrap().status(), 200, "through the policy's proxy");
    std::env::remove_var("HTTPS_PROXY");
}
