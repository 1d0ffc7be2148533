//! Sign-in local overhead (issue 7): from the county's redirect arriving on
//! the app's loopback port to signed in, each part timed — the code
//! exchange, the verification (ID token and the profile's identity calls),
//! the Education Cloud session, the keychain write, the SQLite writes — for
//! ≥ 50 county sign-ins against the sandbox on loopback.
//!
//! The real path: [`SessionState::sign_in_county`] for `ntpc` (the
//! sso.edu.tw profile: ID token, UserInfo, eduinfo) with 保持登入狀態 on,
//! the REAL OS keychain (Secret Service on Linux) and the store's SQLite
//! file on disk. The sandbox runs in-process on its own runtime; the
//! "browser" is an HTTP client that posts the county's login form (its time
//! is not measured: the clock starts when the redirect arrives). Discovery
//! and the JWKS are cached in the store as in the app; the first sign-ins
//! warm that up and are discarded. Each sign-in is followed by a sign-out,
//! which deletes the keychain entry, so nothing is left behind.
//!
//! `EDUCLOUD_BENCH_QUICK=1`: 3 sign-ins. `EDUCLOUD_BENCH_OUT=<dir>`: the
//! probe result (the `scripts/bench` protocol) goes to
//! `<dir>/signin_local.json`. No keychain → exit 1 with a message: run it as
//! `scripts/bench` does, inside `dbus-run-session` with an unlocked
//! gnome-keyring. The budget (≤ 30 ms p50) is judged by `scripts/bench`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use educloud_core::browser::BrowserOpener;
use educloud_core::desktop::{Desktop, ServiceEndpoint};
use educloud_core::oidc::NoProgress;
use educloud_core::paths::AppPaths;
use educloud_core::policy::{EnvironmentKind, LoadedPolicy};
use educloud_core::session::{SessionState, SignInOutcome, SignInTimings};
use educloud_core::vault::{SessionVault, VaultStatus};
use educloud_sandbox::testkit::{Act, FormBrowser};
use serde_json::{json, Value};
use url::Url;

const COUNTY: &str = "ntpc";
const USER: &str = "ntpcbound";
const EMAIL: &str = "ntpcbound@mail.edu.tw";
/// Sign-ins discarded first (metadata cache, connection pools, keychain).
const WARMUP: usize = 2;
/// A keychain service of its own: the bench never touches the app's entries.
const KEYCHAIN_SERVICE: &str = "tw.edu.cloud.desktop.bench";

// ---------------------------------------------------------------------------
// A browser that posts the county's login form over HTTP.
// ---------------------------------------------------------------------------

/// Opens each authorization request in a fresh scripted browser (the
/// sandbox's test kit): the login page, the form, the redirects (the last
/// one to the app's loopback port, which answers once verified).
struct FormOpener;

impl BrowserOpener for FormOpener {
    fn open(&self, url: &str) -> educloud_core::Result<()> {
        let url = url.to_string();
        tokio::spawn(async move {
            match FormBrowser::new().visit(&url, &Act::login(USER)).await {
                Ok(Some(page)) if (200..300).contains(&page.status) => {}
                Ok(Some(page)) => eprintln!("browser: the last page answered {}", page.status),
                Ok(None) => eprintln!("browser: no page"),
                Err(e) => eprintln!("browser: {e}"),
            }
        });
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The measurement.
// ---------------------------------------------------------------------------

/// Nearest rank on the sorted values (as tests/e2e/bench.rs).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

struct Stats {
    p50: f64,
    p99: f64,
    min: f64,
    max: f64,
    mean: f64,
}

fn stats(mut v: Vec<f64>) -> Stats {
    v.sort_by(|a, b| a.total_cmp(b));
    Stats {
        p50: round3(percentile(&v, 0.5)),
        p99: round3(percentile(&v, 0.99)),
        min: round3(v[0]),
        max: round3(v[v.len() - 1]),
        mean: round3(v.iter().sum::<f64>() / v.len() as f64),
    }
}

/// The parts in report order: id, what it covers, the value.
type Part = (&'static str, &'static str, fn(&SignInTimings) -> Duration);
const PARTS: [Part; 6] = [
    (
        "code_exchange",
        "county token endpoint (code + PKCE)",
        |t| t.code_exchange,
    ),
    (
        "verification",
        "ID token (signature, claims, at_hash) + UserInfo + eduinfo",
        |t| t.verification,
    ),
    (
        "cloud_session",
        "Education Cloud county exchange (POST sessions)",
        |t| t.cloud_session,
    ),
    ("keychain_write", "refresh token → OS keychain", |t| {
        t.keychain_write
    }),
    ("store_write", "SQLite: known account + history row", |t| {
        t.store_write
    }),
    (
        "other",
        "state/iss checks, browser page, loopback port closed",
        |t| t.other(),
    ),
];

/// The service key of the in-process sandbox (kind Sandbox) the kept
/// session is bound to.
const SANDBOX: &str = "sandbox";

async fn sign_in_once(
    desktop: &Desktop,
    session: &SessionState,
    check_keychain: bool,
) -> Result<SignInTimings, String> {
    let outcome = session
        .sign_in_county(desktop, COUNTY, true, &NoProgress)
        .await
        .map_err(|e| format!("sign-in failed: {} ({e})", e.code()))?;
    match outcome {
        SignInOutcome::SignedIn(a) if a.email == EMAIL => {}
        other => return Err(format!("unexpected outcome: {other:?}")),
    }
    let timings = session
        .last_sign_in_timings()
        .ok_or("the sign-in left no timings")?;
    let active = session.active().ok_or("not signed in")?;
    if !active.stay_signed_in {
        return Err("保持登入狀態 did not stick: the keychain write failed".into());
    }
    if check_keychain {
        let stored = session
            .vault()
            .load(EMAIL, SANDBOX)
            .await
            .map_err(|e| format!("keychain read: {e}"))?;
        if stored.is_none() {
            return Err("the keychain holds no entry after the sign-in".into());
        }
    }
    let out = session
        .sign_out(desktop, false)
        .await
        .map_err(|e| format!("sign-out failed: {e}"))?;
    if out.keychain_entries_deleted != 1 {
        return Err(format!(
            "sign-out deleted {} keychain entries (expected 1)",
            out.keychain_entries_deleted
        ));
    }
    Ok(timings)
}

async fn measure(base_url: Url, n: usize) -> Result<Vec<SignInTimings>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let browser = FormOpener;
    let desktop = Desktop::open(AppPaths::under(dir.path()), LoadedPolicy::default())
        .map_err(|e| format!("desktop: {e}"))?
        .with_browser(Arc::new(browser));
    desktop.set_service(ServiceEndpoint {
        kind: EnvironmentKind::Sandbox,
        base_url,
    });
    let session = SessionState::new(SessionVault::os_with_service(KEYCHAIN_SERVICE));
    if let VaultStatus::Unavailable(reason) = session.keychain_status().await {
        return Err(format!(
            "no usable OS keychain ({}): the keychain write is part of the measurement. \
             Run inside a session bus with an unlocked keyring, e.g. \
             XDG_DATA_HOME=$(mktemp -d) dbus-run-session -- bash -c 'echo -n pw | \
             gnome-keyring-daemon --unlock --components=secrets >/dev/null; cargo bench \
             -p educloud-core --bench signin_local' (scripts/bench does this)",
            reason.code()
        ));
    }
    let mut samples = Vec::with_capacity(n);
    let mut result = Ok(());
    for i in 0..WARMUP + n {
        match sign_in_once(&desktop, &session, i == 0).await {
            Ok(t) if i >= WARMUP => samples.push(t),
            Ok(_) => {}
            Err(e) => {
                result = Err(format!("sign-in {}: {e}", i + 1));
                break;
            }
        }
    }
    // Nothing left behind, whatever happened.
    let _ = session.sign_out(&desktop, true).await;
    let left = session.vault().load(EMAIL, SANDBOX).await;
    let deleted = session.vault().delete(EMAIL, SANDBOX).await;
    result?;
    match (left, deleted) {
        (Ok(None), Ok(false)) => Ok(samples),
        _ => Err("a keychain entry was left behind (now deleted)".into()),
    }
}

fn report(samples: &[SignInTimings], quick: bool) -> Value {
    let n = samples.len();
    let total = stats(samples.iter().map(|t| ms(t.total)).collect());
    println!("\nSign-in local overhead (loopback redirect → signed in), {COUNTY}, n = {n}\n");
    println!(
        "{:<16} {:>9} {:>9} {:>9} {:>9}  covers",
        "part", "p50 ms", "p99 ms", "min ms", "max ms"
    );
    let mut parts = Vec::new();
    for (id, covers, get) in PARTS {
        let s = stats(samples.iter().map(|t| ms(get(t))).collect());
        println!(
            "{id:<16} {:>9.3} {:>9.3} {:>9.3} {:>9.3}  {covers}",
            s.p50, s.p99, s.min, s.max
        );
        parts.push(json!({
            "name": id, "covers": covers,
            "p50": s.p50, "p99": s.p99, "min": s.min, "max": s.max, "mean": s.mean,
        }));
    }
    println!(
        "{:<16} {:>9.3} {:>9.3} {:>9.3} {:>9.3}  budget ≤ 30 ms p50\n",
        "total", total.p50, total.p99, total.min, total.max
    );
    json!({
        "id": "signin_local",
        "title": "Sign-in local overhead (loopback redirect → signed in)",
        "unit": "ms",
        "n": n,
        "stats": {
            "p50": total.p50, "p99": total.p99, "min": total.min, "max": total.max,
            "mean": total.mean, "n": n,
        },
        "budgets": [{"metric": "p50", "max": 30.0, "unit": "ms"}],
        "parts": parts,
        "notes": format!(
            "{n} county sign-ins ({COUNTY}, sso.edu.tw profile: ID token + UserInfo + eduinfo) \
             with 保持登入狀態 through SessionState::sign_in_county against the in-process sandbox \
             on loopback, {WARMUP} warm-up sign-ins discarded (discovery and JWKS then come from \
             the store's cache, as in the app); each followed by a sign-out. The clock starts when \
             the redirect reaches the loopback listener and stops once signed in (the history row \
             written). Real OS keychain (Secret Service, gnome-keyring in a private session bus), \
             SQLite file on disk (WAL, default synchronous). Parts: the county token endpoint, the \
             verification (ID-token signature and claims, at_hash, UserInfo, eduinfo), the \
             Education Cloud county exchange, the keychain write, the SQLite writes, and the rest \
             (state/iss checks, the browser's page, the loopback port closed).{}",
            if quick { " Quick mode: 3 sign-ins, not a measurement." } else { "" }
        ),
    })
}

fn main() -> ExitCode {
    let quick = std::env::var("EDUCLOUD_BENCH_QUICK").is_ok_and(|v| v == "1");
    let n = if quick { 3 } else { 60 };
    let runtime = |name: &str| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(name)
            .enable_all()
            .build()
            .expect("a Tokio runtime")
    };
    // The sandbox on its own runtime, as a server apart from the app.
    let server = runtime("sandbox");
    let sandbox = match server.block_on(educloud_sandbox::start(Default::default())) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("signin_local: the sandbox did not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The test kit's traffic recorder is not part of the measured server.
    sandbox.traffic().set_recording(false);
    let app = runtime("app");
    let measured = app.block_on(measure(sandbox.base_url().clone(), n));
    drop(app);
    drop(sandbox);
    let samples = match measured {
        Ok(s) => s,
        Err(e) => {
            eprintln!("signin_local: FAILED: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = report(&samples, quick);
    if let Some(dir) = std::env::var_os("EDUCLOUD_BENCH_OUT") {
        let dir = std::path::PathBuf::from(dir);
        let written = std::fs::create_dir_all(&dir)
            .and_then(|_| std::fs::write(dir.join("signin_local.json"), result.to_string()));
        if let Err(e) = written {
            eprintln!("signin_local: could not write the result: {e}");
            return ExitCode::FAILURE;
        }
    }
    println!("probe signin_local: {result}");
    ExitCode::SUCCESS
}
