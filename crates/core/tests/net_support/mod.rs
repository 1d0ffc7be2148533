//! Real parts for the network tests: an in-process HTTPS server with a
//! generated CA (rcgen + rustls), and real proxies from the package
//! registries run as child processes — mitmproxy (PyPI, a TLS-terminating
//! reverse proxy and a TLS-inspecting forward proxy) and tinyproxy (Debian,
//! a forward proxy with basic authentication). Every server listens on
//! 127.0.0.1 only; every child runs under `timeout` and is stopped when its
//! handle drops, so it stops by itself even if the test dies.
//!
//! A missing tool fails the test with the command that installs it (never
//! a silent skip).
#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const MITM_INSTALL: &str = "python3 -m venv $HOME/.cache/educloud-mitmproxy-venv && \
     $HOME/.cache/educloud-mitmproxy-venv/bin/pip install 'mitmproxy>=11,<13'";
pub const TINYPROXY_INSTALL: &str = "apt-get install -y tinyproxy-bin";

// ---------------------------------------------------------------------------
// A generated CA and server certificates.
// ---------------------------------------------------------------------------

pub struct TestCa {
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "EduCloud tests");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        TestCa {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for `names`, valid from `not_before` to
    /// `not_after` (offsets in days from now).
    pub fn leaf(&self, names: &[&str], not_before_days: i64, not_after_days: i64) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(DnType::CommonName, names[0]);
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now + time::Duration::days(not_before_days);
        params.not_after = now + time::Duration::days(not_after_days);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    pub fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, &self.cert_pem).unwrap();
        path
    }
}

/// An HTTPS server on 127.0.0.1 answering every request with 200 and a
/// small JSON body (and a `Date` header `date_offset_secs` away from now).
/// Stops when the test's runtime ends.
pub async fn https_server(leaf: &Leaf, date_offset_secs: i64) -> url::Url {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(leaf.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                let mut buf = [0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let date = httpdate_fmt(date_offset_secs);
                let body = r#"{"ok":true}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ndate: {date}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    url::Url::parse(&format!("https://127.0.0.1:{port}/")).unwrap()
}

fn httpdate_fmt(offset_secs: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_secs);
    let f = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.format(&f).unwrap()
}

// ---------------------------------------------------------------------------
// Child processes.
// ---------------------------------------------------------------------------

/// A child process stopped (SIGTERM through `timeout`) when dropped.
pub struct Proc {
    child: Child,
    pub port: u16,
    pub name: &'static str,
    log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A free port for a proxy started as another process, chosen BELOW the
/// kernel's ephemeral range (32768–60999 on Linux): a port the kernel hands
/// out for `bind(0)` (the sandboxes and servers of tests running in
/// parallel) or for an outgoing connection could otherwise be taken between
/// this check and the proxy's own bind — the proxy then fails to start and
/// the test talks to somebody else's listener (seen once in CI).
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
        ^ std::process::id().wrapping_mul(2_654_435_761);
    for _ in 0..200 {
        let n = seed.wrapping_add(NEXT.fetch_add(7_919, Ordering::Relaxed));
        let port = 20_000 + (n % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between 20000 and 32000 on 127.0.0.1");
}

/// Runs `program args` under `timeout 600` and waits until 127.0.0.1:port
/// accepts connections.
pub fn spawn(name: &'static str, program: &Path, args: &[String], port: u16, dir: &Path) -> Proc {
    let log = dir.join(format!("{name}.log"));
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new("timeout")
        .arg("600")
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("{name}: cannot start {}: {e}", program.display()));
    let proc = Proc {
        child,
        port,
        name,
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{name} did not listen on 127.0.0.1:{port}; its log:\n{}",
            proc.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The listener must be this process's: one that exited (its port was
    // taken) leaves somebody else answering.
    let mut proc = proc;
    std::thread::sleep(Duration::from_millis(200));
    if let Ok(Some(status)) = proc.child.try_wait() {
        panic!(
            "{name} exited ({status}) although 127.0.0.1:{port} answers; its log:\n{}",
            proc.log()
        );
    }
    proc
}

/// `mitmdump`: $MITMDUMP, else the venv scripts/setup makes, else PATH.
pub fn mitmdump() -> PathBuf {
    if let Some(p) = std::env::var_os("MITMDUMP") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
        .join(".cache/educloud-mitmproxy-venv/bin/mitmdump");
    if venv.exists() {
        return venv;
    }
    which("mitmdump").unwrap_or_else(|| {
        panic!("mitmproxy is not installed (needed for the real-proxy tests); install it with:\n  {MITM_INSTALL}")
    })
}

pub fn tinyproxy() -> PathBuf {
    which("tinyproxy").unwrap_or_else(|| {
        panic!("tinyproxy is not installed (needed for the proxy-password tests); install it with:\n  {TINYPROXY_INSTALL}")
    })
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// A running mitmproxy and the CA it signs its certificates with.
pub struct Mitm {
    pub proc: Proc,
    pub ca: PathBuf,
}

/// mitmproxy as a TLS-terminating reverse proxy in front of `upstream`
/// (`https://127.0.0.1:<port>/`), or (`upstream = None`) as a
/// TLS-inspecting forward proxy (`http://127.0.0.1:<port>`), with its own
/// fresh CA in `dir/<name>`. `extra` are more `--set` options.
pub fn mitm(name: &'static str, upstream: Option<&url::Url>, dir: &Path, extra: &[&str]) -> Mitm {
    mitm_on(name, free_port(), upstream, dir, extra)
}

/// [`mitm`] on a port chosen beforehand (a reverse proxy whose origin the
/// sandbox must advertise before the proxy starts).
pub fn mitm_on(
    name: &'static str,
    port: u16,
    upstream: Option<&url::Url>,
    dir: &Path,
    extra: &[&str],
) -> Mitm {
    let confdir = dir.join(name);
    std::fs::create_dir_all(&confdir).unwrap();
    let mut args: Vec<String> = vec![
        "--listen-host".into(),
        "127.0.0.1".into(),
        "--listen-port".into(),
        port.to_string(),
        "--set".into(),
        format!("confdir={}", confdir.display()),
        // Upstreams here are the tests' own servers.
        "--set".into(),
        "ssl_insecure=true".into(),
        "--set".into(),
        "termlog_verbosity=warn".into(),
    ];
    if let Some(up) = upstream {
        args.push("--mode".into());
        args.push(format!("reverse:{up}"));
    }
    for e in extra {
        args.push("--set".into());
        args.push(e.to_string());
    }
    let proc = spawn(name, &mitmdump(), &args, port, dir);
    let ca = confdir.join("mitmproxy-ca-cert.pem");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ca.exists() {
        assert!(Instant::now() < deadline, "mitmproxy wrote no CA");
        std::thread::sleep(Duration::from_millis(50));
    }
    Mitm { proc, ca }
}

/// tinyproxy as a forward proxy (CONNECT and plain HTTP) that wants
/// `user:password` (basic authentication).
pub fn tinyproxy_with_auth(user: &str, password: &str, dir: &Path) -> Proc {
    let port = free_port();
    let conf = dir.join("tinyproxy.conf");
    std::fs::write(
        &conf,
        format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 60\nMaxClients 20\nAllow 127.0.0.1\n\
             BasicAuth {user} {password}\nLogLevel Info\nDisableViaHeader Yes\n"
        ),
    )
    .unwrap();
    spawn(
        "tinyproxy",
        &tinyproxy(),
        &["-d".into(), "-c".into(), conf.display().to_string()],
        port,
        dir,
    )
}

/// The words of an error code in both catalogs (zh-TW, en); panics when
/// either lacks them.
pub fn words(code: &str) -> (String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/i18n");
    let get = |lang: &str| {
        let text = std::fs::read_to_string(root.join(format!("{lang}.json"))).unwrap();
        let map: serde_json::Value = serde_json::from_str(&text).unwrap();
        map.get(format!("error.{code}"))
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("no words for error.{code} in {lang}.json"))
            .to_string()
    };
    (get("zh-TW"), get("en"))
}
