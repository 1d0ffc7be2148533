//! The app trusts what the operating system trusts (issue 14 item 1). On
//! Linux rustls-platform-verifier reads the system store through
//! rustls-native-certs, which honours `SSL_CERT_FILE`: a private CA placed
//! there is trusted with no policy at all, exactly as a CA IT deploys to
//! the system store. Its own test binary: the variable is process-wide.

mod net_support;

use educloud_core::api::EduCloudClient;
use educloud_core::net;
use educloud_core::policy::Policy;
use educloud_core::secret::secret;
use educloud_sandbox::SandboxConfig;
use net_support::*;
use url::Url;

#[tokio::test]
async fn a_ca_in_the_os_store_is_trusted_without_any_policy() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = educloud_sandbox::start(SandboxConfig::default())
        .await
        .unwrap();
    let reverse = mitm("reverse", Some(sandbox.base_url()), dir.path(), &[]);
    let base = Url::parse(&format!("https://127.0.0.1:{}/", reverse.proc.port)).unwrap();
    let other = TestCa::new("Some Other Root").write(dir.path(), "other.pem");

    let sign_in = || async {
        let http = net::http_client(&Policy::default())?;
        EduCloudClient::fetch_configuration(&http, &base).await?;
        let client = EduCloudClient::new(http, base.join("api/v1/").unwrap())?;
        client
            .sign_in_password("parent.demo@example.com", &secret("Demo-pass-2026!"))
            .await
            .map(|t| t.account.email)
    };

    // The "system store" holds another CA only: refused, in words.
    std::env::remove_var("SSL_CERT_DIR");
    std::env::set_var("SSL_CERT_FILE", &other);
    let err = sign_in().await.unwrap_err();
    assert_eq!(err.code(), "network.tls_untrusted", "{err}");

    // IT deploys the proxy's CA to the system store: trusted, no policy.
    std::env::set_var("SSL_CERT_FILE", &reverse.ca);
    assert_eq!(sign_in().await.unwrap(), "parent.demo@example.com");
}
