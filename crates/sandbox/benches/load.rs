//! The sandbox under load (issue 7): N concurrent county sign-ins (default
//! 200) from a load client on loopback against a sandbox started in-process
//! with [`educloud_sandbox::start`].
//!
//! Each sign-in is what the desktop app and the user's browser do together
//! (two HTTP clients, each with its own connection):
//! GET the county's authorize URL (the login page) → POST the login form →
//! the 302 to the loopback redirect carries the code → POST the token
//! endpoint with the PKCE verifier → `POST api/v1/sessions` with the county's
//! ID token (the Taipei profile's access token). Discovery is fetched once
//! per county before the clock starts, as the app caches it. All sign-ins
//! are released at once and the whole run is bounded in time.
//!
//! The server and the load client run on separate Tokio runtimes in this one
//! process (the machine's cores are shared between them, as on a school PC).
//! Reported: errors, p50/p99 of "token endpoint + Education Cloud exchange"
//! (the budgeted figure), each part, the full flow and throughput, as one
//! probe result JSON (the `scripts/bench` probe protocol) written to
//! `$EDUCLOUD_BENCH_OUT/sandbox_load.json` (or `--out FILE`) and to stdout.
//!
//! `cargo bench -p educloud-sandbox --bench load -- [--clients N]
//! [--rounds R] [--timeout-secs S] [--out FILE]` (defaults: 200 clients,
//! 3 rounds, as one burst is at the mercy of whatever else the machine
//! does). Exits 1 when a sign-in fails for a reason other than the time
//! bound (the flow is broken), 0 otherwise; the budget verdict is
//! `scripts/bench`'s.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use educloud_sandbox::testkit::LoginForm;
use educloud_sandbox::{start, SandboxConfig};
use rand::RngCore as _;
use reqwest::{redirect, Client, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::Barrier;
use url::Url;

/// The OAuth client id of the desktop app.
const CLIENT_ID: &str = educloud_contract::wire::DESKTOP_CLIENT_ID;
/// The demo users' county password (clearly fake).
const DEMO_PASSWORD: &str = educloud_sandbox::idp::DEMO_PASSWORD;

struct Args {
    clients: usize,
    rounds: usize,
    timeout: Duration,
    out: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        clients: 200,
        rounds: 3,
        timeout: Duration::from_secs(60),
        out: std::env::var_os("EDUCLOUD_BENCH_OUT")
            .map(|d| PathBuf::from(d).join("sandbox_load.json")),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--clients" => {
                args.clients = value("--clients")?
                    .parse()
                    .map_err(|e| format!("--clients: {e}"))?;
            }
            "--rounds" => {
                args.rounds = value("--rounds")?
                    .parse()
                    .map_err(|e| format!("--rounds: {e}"))?;
            }
            "--timeout-secs" => {
                let s: u64 = value("--timeout-secs")?
                    .parse()
                    .map_err(|e| format!("--timeout-secs: {e}"))?;
                args.timeout = Duration::from_secs(s);
            }
            "--out" => args.out = Some(PathBuf::from(value("--out")?)),
            // `cargo bench` passes `--bench`; other harness flags are ignored.
            _ => {}
        }
    }
    if args.clients == 0 || args.rounds == 0 {
        return Err("--clients and --rounds must be at least 1".into());
    }
    Ok(args)
}

/// One county as the app knows it after discovery.
#[derive(Clone)]
struct County {
    code: String,
    scopes: String,
    authorize: Url,
    token: Url,
    /// Taipei's OAuth2 profile: exchange the access token, not an ID token.
    access_token_only: bool,
}

/// Why one sign-in failed.
#[derive(Debug)]
enum Failure {
    /// The run's time bound passed first.
    Timeout,
    /// Anything else: a broken flow.
    Flow(String),
}

/// Durations of one sign-in's parts (milliseconds).
#[derive(Default, Clone, Copy)]
struct Timing {
    page: f64,
    login: f64,
    token: f64,
    exchange: f64,
    total: f64,
}

fn random_b64(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The app's own HTTP client: no cookies, no redirects, its own connections.
fn app_client() -> Result<Client, String> {
    Client::builder()
        .redirect(redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("client: {e}"))
}

/// The user's browser: keeps cookies, never follows redirects.
fn browser() -> Result<Client, String> {
    Client::builder()
        .redirect(redirect::Policy::none())
        .cookie_store(true)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("client: {e}"))
}

fn flow_err(what: &str) -> impl Fn(reqwest::Error) -> Failure + '_ {
    move |e| Failure::Flow(format!("{what}: {e}"))
}

async fn expect_json(res: reqwest::Response, ok: StatusCode, what: &str) -> Result<Value, Failure> {
    let status = res.status();
    let body = res.text().await.map_err(flow_err(what))?;
    if status != ok {
        let short: String = body.chars().take(200).collect();
        return Err(Failure::Flow(format!("{what}: HTTP {status}: {short}")));
    }
    serde_json::from_str(&body).map_err(|e| Failure::Flow(format!("{what}: bad JSON: {e}")))
}

/// Discovery, once per county (what the app caches).
async fn discover(base: &Url) -> Result<Vec<County>, String> {
    let c = browser()?;
    let get = |url: String| {
        let c = c.clone();
        async move {
            let res = c
                .get(&url)
                .send()
                .await
                .map_err(|e| format!("{url}: {e}"))?;
            if res.status() != StatusCode::OK {
                return Err(format!("{url}: HTTP {}", res.status()));
            }
            res.json::<Value>().await.map_err(|e| format!("{url}: {e}"))
        }
    };
    let config = get(format!("{base}.well-known/educloud-configuration")).await?;
    let entries = config["counties"]
        .as_array()
        .ok_or("configuration has no counties")?;
    let mut counties = Vec::new();
    for e in entries {
        let code = e["code"].as_str().ok_or("county without code")?.to_owned();
        let issuer = e["issuer"].as_str().ok_or("county without issuer")?;
        let taipei = e["profile"] == "taipei_oauth2";
        let well_known = if taipei {
            "/.well-known/oauth-authorization-server"
        } else {
            "/.well-known/openid-configuration"
        };
        let meta = get(format!("{issuer}{well_known}")).await?;
        let url = |k: &str| {
            meta[k]
                .as_str()
                .and_then(|s| Url::parse(s).ok())
                .ok_or_else(|| format!("{code}: metadata has no {k}"))
        };
        let scopes = e["scopes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        counties.push(County {
            authorize: url("authorization_endpoint")?,
            token: url("token_endpoint")?,
            code,
            scopes,
            access_token_only: taipei,
        });
    }
    if counties.is_empty() {
        return Err("no counties".into());
    }
    Ok(counties)
}

/// One full county sign-in of `{code}bound` (bound to an Education Cloud account).
async fn sign_in(
    c: &Client,
    app: &Client,
    base: &Url,
    county: &County,
    port: u16,
) -> Result<Timing, Failure> {
    let start = Instant::now();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback/{}", county.code);
    let state = random_b64(16);
    let verifier = random_b64(32);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let mut url = county.authorize.clone();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", &county.scopes)
        .append_pair("state", &state)
        .append_pair("nonce", &random_b64(16))
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");

    // The login page (the user's browser).
    let res = c.get(url).send().await.map_err(flow_err("login page"))?;
    if res.status() != StatusCode::OK {
        return Err(Failure::Flow(format!("login page: HTTP {}", res.status())));
    }
    let html = res.text().await.map_err(flow_err("login page"))?;
    let form = LoginForm::parse(&html, &county.authorize)
        .ok_or_else(|| Failure::Flow("login page: no form".into()))?;
    let t_page = start.elapsed();

    // The login form → 302 to the app's loopback redirect with the code.
    let user = format!("{}bound", county.code);
    let res = c
        .post(form.action.clone())
        .form(&form.fields(&user, DEMO_PASSWORD, false))
        .send()
        .await
        .map_err(flow_err("login"))?;
    if res.status() != StatusCode::FOUND {
        return Err(Failure::Flow(format!("login: HTTP {}", res.status())));
    }
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| Url::parse(s).ok())
        .ok_or_else(|| Failure::Flow("login: no redirect".into()))?;
    let q: HashMap<String, String> = location.query_pairs().into_owned().collect();
    if q.get("state") != Some(&state) {
        return Err(Failure::Flow(format!("login: state mismatch ({location})")));
    }
    let code = q
        .get("code")
        .ok_or_else(|| Failure::Flow(format!("login: no code ({location})")))?;
    let t_login = start.elapsed();

    // The app: token endpoint with the PKCE verifier.
    let res = app
        .post(county.token.clone())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("code_verifier", verifier.as_str()),
            ("client_id", CLIENT_ID),
        ])
        .send()
        .await
        .map_err(flow_err("token"))?;
    let tokens = expect_json(res, StatusCode::OK, "token").await?;
    let t_token = start.elapsed();

    // The app: Education Cloud session from the county's token.
    let body = if county.access_token_only {
        json!({"method": "county", "county": county.code, "access_token": tokens["access_token"]})
    } else {
        json!({"method": "county", "county": county.code, "id_token": tokens["id_token"]})
    };
    let res = app
        .post(format!("{base}api/v1/sessions"))
        .json(&body)
        .send()
        .await
        .map_err(flow_err("session"))?;
    let session = expect_json(res, StatusCode::CREATED, "session").await?;
    if session["access_token"].as_str().is_none() {
        return Err(Failure::Flow("session: no access token".into()));
    }
    let t_session = start.elapsed();
    Ok(Timing {
        page: ms(t_page),
        login: ms(t_login - t_page),
        token: ms(t_token - t_login),
        exchange: ms(t_session - t_token),
        total: ms(t_session),
    })
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn dist(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (
        round2(percentile(&v, 50.0)),
        round2(percentile(&v, 99.0)),
        round2(v.last().copied().unwrap_or(f64::NAN)),
    )
}

/// What one burst of sign-ins produced.
#[derive(Default)]
struct Burst {
    timings: Vec<Timing>,
    timeouts: usize,
    failures: Vec<String>,
    wall: Duration,
}

/// Releases `clients` sign-ins at once (fresh browsers, app clients and
/// connections).
async fn burst(
    base: &Arc<Url>,
    counties: &Arc<Vec<County>>,
    clients: usize,
    timeout: Duration,
) -> Result<Burst, String> {
    let mut browsers = Vec::with_capacity(clients);
    for _ in 0..clients {
        browsers.push((browser()?, app_client()?));
    }
    let barrier = Arc::new(Barrier::new(clients + 1));
    let mut tasks = Vec::with_capacity(clients);
    for (i, (c, app)) in browsers.into_iter().enumerate() {
        let barrier = Arc::clone(&barrier);
        let counties = Arc::clone(counties);
        let base = Arc::clone(base);
        tasks.push(tokio::spawn(async move {
            let county = &counties[i % counties.len()];
            let port = 49152 + u16::try_from(i % 10_000).unwrap_or(0);
            barrier.wait().await;
            match tokio::time::timeout(timeout, sign_in(&c, &app, &base, county, port)).await {
                Ok(r) => r,
                Err(_) => Err(Failure::Timeout),
            }
        }));
    }
    barrier.wait().await;
    let started = Instant::now();
    let mut out = Burst::default();
    for t in tasks {
        match t.await {
            Ok(Ok(timing)) => out.timings.push(timing),
            Ok(Err(Failure::Timeout)) => out.timeouts += 1,
            Ok(Err(Failure::Flow(e))) => out.failures.push(e),
            Err(e) => out.failures.push(format!("task: {e}")),
        }
    }
    out.wall = started.elapsed();
    Ok(out)
}

async fn load(
    base: Url,
    clients: usize,
    rounds: usize,
    timeout: Duration,
) -> Result<Value, String> {
    let base = Arc::new(base);
    let counties = Arc::new(discover(&base).await?);
    let mut timings = Vec::new();
    let mut timeouts = 0usize;
    let mut failures: Vec<String> = Vec::new();
    let mut walls = Vec::new();
    let mut round_p99 = Vec::new();
    let mut throughputs = Vec::new();
    for _ in 0..rounds {
        let b = burst(&base, &counties, clients, timeout).await?;
        round_p99.push(dist(b.timings.iter().map(|t| t.token + t.exchange).collect()).1);
        throughputs.push(b.timings.len() as f64 / b.wall.as_secs_f64().max(1e-9));
        walls.push(b.wall);
        timings.extend(b.timings);
        timeouts += b.timeouts;
        failures.extend(b.failures);
    }
    throughputs.sort_by(f64::total_cmp);
    let throughput = throughputs[throughputs.len() / 2];
    let wall = walls.iter().max().copied().unwrap_or_default();
    let ok = timings.len();
    let errors = timeouts + failures.len();
    let part = |f: fn(&Timing) -> f64| dist(timings.iter().map(f).collect());
    let (p50, p99, max) = part(|t| t.token + t.exchange);
    let (full50, full99, full_max) = part(|t| t.total);
    let parts: Vec<Value> = [
        ("login page (GET authorize)", part(|t| t.page)),
        ("login form POST → code", part(|t| t.login)),
        ("token endpoint (PKCE)", part(|t| t.token)),
        (
            "Education Cloud exchange (POST sessions)",
            part(|t| t.exchange),
        ),
        ("token + exchange", (p50, p99, max)),
        ("full sign-in", (full50, full99, full_max)),
    ]
    .iter()
    .map(|(name, (a, b, c))| json!({"name": name, "p50": a, "p99": b, "max": c}))
    .collect();
    let mut sample_failures = failures.clone();
    sample_failures.sort();
    sample_failures.dedup();
    sample_failures.truncate(5);
    Ok(json!({
        "id": "sandbox_load",
        "title": format!("Sandbox under load: {clients} concurrent county sign-ins"),
        "unit": "ms",
        "n": clients * rounds,
        "stats": {
            "clients": clients,
            "ok": ok,
            "errors": errors,
            "timeouts": timeouts,
            "p50": p50,
            "p99": p99,
            "max": max,
            "full_flow_p50": full50,
            "full_flow_p99": full99,
            "rounds": rounds,
            "p99_per_round": round_p99,
            "slowest_round_wall_ms": round2(ms(wall)),
            "throughput_per_s": round2(throughput),
        },
        "parts": parts,
        "budgets": [
            {"metric": "errors", "max": 0, "unit": ""},
            {"metric": "p99", "max": 200, "unit": "ms"},
        ],
        "failures": sample_failures,
        "notes": format!(
            "{rounds} round(s) of {clients} sign-ins, each round released at once, against a \
             sandbox started in-process (its own Tokio runtime, a temporary data folder) with a \
             load client on loopback (another runtime). Each sign-in has its own browser (cookie \
             jar, connection: login page and form) and its own app client (a new connection: \
             token endpoint and exchange), as on separate PCs; users `{{county}}bound` \
             round-robin over the {} counties; discovery fetched once per county before the clock \
             starts; each sign-in bounded at {} s. p50/p99 (the budget) are token endpoint + \
             Education Cloud exchange over all rounds; throughput is the median round's; \
             the parts and the full flow (login page → login form → token → session) are \
             below.",
            counties.len(),
            timeout.as_secs()
        ),
    }))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("load: {e}");
            return ExitCode::from(2);
        }
    };
    let data = match tempfile::Builder::new().prefix("educloud-load-").tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("load: temp dir: {e}");
            return ExitCode::from(1);
        }
    };
    let runtime = |name: &str| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name(name)
            .build()
    };
    let (server_rt, client_rt) = match (runtime("sandbox"), runtime("load-client")) {
        (Ok(s), Ok(c)) => (s, c),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("load: runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let config = SandboxConfig {
        data_dir: Some(data.path().to_path_buf()),
        ..SandboxConfig::default()
    };
    let handle = match server_rt.block_on(start(config)) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("load: the sandbox did not start: {e}");
            return ExitCode::from(1);
        }
    };
    // The test kit's traffic recorder is not part of the measured server.
    handle.traffic().set_recording(false);
    let base = handle.base_url().clone();
    let result = client_rt.block_on(load(base, args.clients, args.rounds, args.timeout));
    // Stop the server inside its runtime, then the runtimes.
    server_rt.block_on(async move { drop(handle) });
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("load: {e}");
            return ExitCode::from(1);
        }
    };
    let text = serde_json::to_string_pretty(&report).unwrap_or_default();
    println!("{text}");
    if let Some(out) = &args.out {
        if let Err(e) = std::fs::write(out, &text) {
            eprintln!("load: cannot write {}: {e}", out.display());
            return ExitCode::from(1);
        }
    }
    let broken = report["failures"].as_array().is_some_and(|f| !f.is_empty());
    if broken || report["stats"]["ok"] == 0 {
        eprintln!("load: sign-ins failed: {}", report["failures"]);
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
