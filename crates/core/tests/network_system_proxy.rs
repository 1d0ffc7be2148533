//! Without a policy proxy the app uses the system's (issue 14 item 4): on
//! Linux the `HTTPS_PROXY` / `NO_PROXY` variables (reqwest's system proxy;
//! Windows and macOS add their settings through the same code). A real
//! TLS-inspecting proxy (mitmproxy) proves the request went through it: the
//! app saw the proxy's certificate. A policy `ProxyUrl` wins over the
//! variables. Its own test binary: the variables are process-wide.

mod net_support;

use educloud_core::net::{self, probe};
use educloud_core::policy::Policy;
use net_support::*;

#[tokio::test]
async fn the_system_proxy_variables_are_used_unless_policy_sets_a_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("The Service's Root");
    let ca_file = ca.write(dir.path(), "service-ca.pem");
    let service = https_server(&ca.leaf(&["127.0.0.1"], -1, 30), 0).await;
    let school = mitm("school", None, dir.path(), &[]);
    let other = mitm("other", None, dir.path(), &[]);
    let trust = |extra: &[&std::path::Path]| {
        Policy::from_json(&serde_json::json!({ "ExtraCaCertificates": extra }).to_string())
            .unwrap()
            .0
    };

    std::env::set_var(
        "HTTPS_PROXY",
        format!("http://127.0.0.1:{}", school.proc.port),
    );
    std::env::remove_var("NO_PROXY");
    std::env::remove_var("no_proxy");
    // Through the school's proxy: its CA is what must be trusted.
    let seen = probe::probe(&trust(&[&school.ca]), &service).await;
    assert!(seen.error.is_none(), "{:?}", seen.error);
    assert_eq!(seen.proxy.source, "system");
    assert!(seen.proxy.variables.iter().any(|(k, _)| k == "HTTPS_PROXY"));
    assert!(
        seen.chain[0].issuer.contains("mitmproxy"),
        "{:?}",
        seen.chain
    );
    let err = probe::probe(&trust(&[&ca_file]), &service).await;
    assert_eq!(err.error.unwrap().code, "network.tls_untrusted");

    // NO_PROXY sends the host direct: the service's own certificate.
    std::env::set_var("NO_PROXY", "127.0.0.1");
    let direct = probe::probe(&trust(&[&ca_file]), &service).await;
    assert!(direct.error.is_none(), "{:?}", direct.error);
    std::env::remove_var("NO_PROXY");

    // A policy proxy wins over the variables.
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
