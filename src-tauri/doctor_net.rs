//! `educloud doctor`'s network part: which proxy the app uses, what it
//! trusts, and — for the service (or `--url <url>`) — one request made the
//! way the app makes them, with the certificate chain it saw, the verdict
//! and the server's clock against this computer's.

use educloud_core::desktop::Desktop;
use educloud_core::net::{probe, proxy};
use educloud_core::policy::EnvironmentKind;
use educloud_core::CoreError;

pub async fn network(desktop: &Desktop, url: Option<&str>) -> Result<(), CoreError> {
    let policy = desktop.policy();
    let choice = proxy::choice(policy);
    match &choice.url {
        Some(u) => println!(
            "proxy: {u} (policy ProxyUrl{}), direct: {}",
            if choice.authenticated {
                ", with a password"
            } else {
                ""
            },
            if choice.bypass.is_empty() {
                "nothing (ProxyBypass is empty)".to_string()
            } else {
                choice.bypass.join(", ")
            }
        ),
        None => println!(
            "proxy: the system's ({}; PAC files are not run)",
            if cfg!(any(windows, target_os = "macos")) {
                "the OS proxy settings and their exceptions, and the *_PROXY variables"
            } else {
                "the HTTPS_PROXY/HTTP_PROXY/ALL_PROXY and NO_PROXY variables"
            }
        ),
    }
    for (name, value) in &choice.variables {
        println!("  {name}={value}");
    }
    let extra = policy.extra_ca_certificates.as_ref().map_or(0, Vec::len);
    println!(
        "trust: {}{}",
        if cfg!(windows) {
            "the Windows certificate store"
        } else if cfg!(target_os = "macos") {
            "the macOS keychain"
        } else {
            "the system certificate store (SSL_CERT_FILE / SSL_CERT_DIR when set)"
        },
        if extra > 0 {
            format!(" + {extra} ExtraCaCertificates file(s)")
        } else {
            String::new()
        }
    );
    if let Err(e) = educloud_core::net::tls::client_config(policy) {
        println!("  error[{}]: {e}", e.code());
    }

    let target = match url {
        Some(u) => Some(
            url::Url::parse(u)
                .map_err(|e| CoreError::invalid("url", format!("url.invalid ({e})")))?,
        ),
        None => service_url(desktop),
    };
    let Some(target) = target else {
        println!("connection: not tested (the demo runs inside the app; use --url <url>)");
        return Ok(());
    };
    let seen = probe::probe(policy, &target).await;
    println!("connection: {}", seen.url);
    for (i, cert) in seen.chain.iter().enumerate() {
        println!("  certificate {i}: {}", cert.subject);
        println!("    issuer: {}", cert.issuer);
        println!("    valid: {} … {}", cert.not_before, cert.not_after);
        println!("    sha256: {}", cert.sha256);
    }
    match (&seen.error, seen.status) {
        (None, Some(status)) => println!("  verdict: ok (HTTP {status})"),
        (Some(e), _) => println!("  verdict: error[{}] {}", e.code, e.message),
        (None, None) => println!("  verdict: no answer"),
    }
    match (seen.clock_offset_secs, seen.clock_ok()) {
        (Some(offset), Some(ok)) => println!(
            "clock: server Date {} — this computer is {} {}",
            seen.server_date.as_deref().unwrap_or("?"),
            describe_offset(-offset),
            if ok {
                "(ok)"
            } else {
                "(WRONG: set the date and time to update automatically)"
            }
        ),
        _ => println!("clock: not compared (no Date from the server)"),
    }
    // `--url`: the verdict is the exit status (2, with the error's own code).
    match seen.cause {
        Some(e) if url.is_some() => Err(e),
        _ => Ok(()),
    }
}

/// The service's configuration URL (production or the organization's),
/// `None` for the demo.
fn service_url(desktop: &Desktop) -> Option<url::Url> {
    let env = desktop.environment().ok()?;
    if env.value.kind == EnvironmentKind::Sandbox {
        return None;
    }
    let base = url::Url::parse(env.value.service_url.as_deref()?).ok()?;
    base.join(".well-known/educloud-configuration").ok()
}

/// `offset` = this computer minus the server, in words.
fn describe_offset(offset: i64) -> String {
    let (sign, secs) = if offset < 0 {
        ("behind", -offset)
    } else {
        ("ahead", offset)
    };
    if secs < 2 {
        "on time".to_string()
    } else if secs < 120 {
        format!("{secs} s {sign}")
    } else if secs < 7200 {
        format!("{} min {sign}", secs / 60)
    } else {
        format!("{} h {} min {sign}", secs / 3600, secs % 3600 / 60)
    }
}
