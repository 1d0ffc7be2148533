//! The end-to-end rig: the REAL app binary in a real window under Xvfb,
//! driven through tauri-driver + WebKitWebDriver (fantoccini as the client),
//! with headless Debian Chromium as the user's system browser
//! (`tests/browser/county-login.mjs` as `EDUCLOUD_BROWSER`).
//!
//! Every test gets its own temporary HOME/XDG folders (a [`Profile`]), so
//! nothing lands in the real home and runs do not see each other. Every
//! process the rig starts is in its own process group and is killed on drop.
//! A missing tool FAILS the test (it never skips silently). A developer
//! without a display or the tools may opt out with `EDUCLOUD_E2E_SKIP=1`:
//! then the test prints `SKIPPED: …` and returns. `scripts/test` unsets it.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{elements::Element, Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// One app window at a time: the app is single-instance per session bus.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.lock().await
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn artifacts_dir() -> PathBuf {
    let dir = repo_root().join("target/e2e-artifacts");
    std::fs::create_dir_all(&dir).expect("artifact dir");
    dir
}

fn which(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return p.exists().then_some(p);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

fn cargo_bin(name: &str) -> Option<PathBuf> {
    which(name).or_else(|| {
        let home = std::env::var_os("HOME")?;
        let p = Path::new(&home).join(".cargo/bin").join(name);
        p.exists().then_some(p)
    })
}

/// The external tools the rig needs.
pub struct Tools {
    pub xvfb: PathBuf,
    pub tauri_driver: PathBuf,
    pub webkit_driver: PathBuf,
    pub node: PathBuf,
    pub chromium: PathBuf,
}

/// The developer's explicit opt-out: `EDUCLOUD_E2E_SKIP=1` (or `true`).
pub const SKIP_VAR: &str = "EDUCLOUD_E2E_SKIP";

fn skip_allowed() -> bool {
    std::env::var(SKIP_VAR).is_ok_and(|v| v == "1" || v == "true")
}

/// A tool or service the test needs is missing: fails the test, unless the
/// developer opted out with [`SKIP_VAR`] (then says so and returns `false`).
/// Use it as `if !rig::require(ok, "what is missing") { return; }`.
pub fn require(ok: bool, what: &str) -> bool {
    if ok {
        return true;
    }
    if skip_allowed() {
        eprintln!("SKIPPED ({SKIP_VAR} is set): {what}");
        return false;
    }
    panic!(
        "{what}\n(e2e tests fail when a tool is missing: install them with `scripts/setup --test`, \
         or set {SKIP_VAR}=1 to skip the window tests on a machine without a display)"
    );
}

/// Finds the tools; a missing one fails the test (see [`require`]).
pub fn tools() -> Option<Tools> {
    let found = [
        ("Xvfb (apt: xvfb)", which("Xvfb")),
        (
            "tauri-driver (cargo install tauri-driver --locked)",
            cargo_bin("tauri-driver"),
        ),
        (
            "WebKitWebDriver (apt: webkit2gtk-driver)",
            which("WebKitWebDriver"),
        ),
        ("node", which("node")),
        ("chromium (apt: chromium)", which("/usr/bin/chromium")),
        (
            "playwright-core (npm ci)",
            Some(repo_root().join("node_modules/playwright-core")).filter(|p| p.exists()),
        ),
    ];
    let missing: Vec<_> = found
        .iter()
        .filter(|(_, p)| p.is_none())
        .map(|(n, _)| *n)
        .collect();
    if !require(
        missing.is_empty(),
        &format!("e2e tools missing: {}", missing.join(", ")),
    ) {
        return None;
    }
    let get = |i: usize| found[i].1.clone().expect("checked above");
    Some(Tools {
        xvfb: get(0),
        tauri_driver: get(1),
        webkit_driver: get(2),
        node: get(3),
        chromium: get(4),
    })
}

/// A child process (and its process group) killed on drop.
pub struct Proc(Child);

impl Proc {
    fn spawn(cmd: &mut Command) -> Proc {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        Proc(cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}")))
    }

    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.0.id())])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.wait();
    }
}

/// A private X display.
pub struct Display {
    pub name: String,
    _proc: Proc,
}

impl Display {
    pub fn start(tools: &Tools) -> Display {
        use std::io::Read;
        let mut cmd = Command::new(&tools.xvfb);
        cmd.args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x900x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        let mut proc = Proc::spawn(&mut cmd);
        let mut out = proc.0.stdout.take().expect("piped");
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while out.read(&mut byte).map(|n| n == 1).unwrap_or(false) {
            if byte[0] == b'\n' {
                break;
            }
            buf.push(byte[0]);
        }
        let num = String::from_utf8_lossy(&buf).trim().to_string();
        assert!(!num.is_empty(), "Xvfb did not report a display");
        Display {
            name: format!(":{num}"),
            _proc: proc,
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A user's temporary home: folders, policy file and browser plan.
pub struct Profile {
    pub home: tempfile::TempDir,
}

impl Default for Profile {
    fn default() -> Self {
        Self::new()
    }
}

impl Profile {
    pub fn new() -> Profile {
        let home = tempfile::Builder::new()
            .prefix("educloud-e2e-")
            .tempdir()
            .expect("temp home");
        Profile { home }
    }

    pub fn path(&self) -> &Path {
        self.home.path()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.path().join("data/educloud")
    }

    pub fn policy_file(&self) -> PathBuf {
        self.path().join("policy.json")
    }

    pub fn set_policy(&self, policy: Value) {
        std::fs::write(self.policy_file(), policy.to_string()).expect("policy");
    }

    pub fn plan_file(&self) -> PathBuf {
        self.path().join("browser-plan.json")
    }

    pub fn browser_log(&self) -> PathBuf {
        self.path().join("browser.jsonl")
    }

    /// What the "system browser" will do on its next launch.
    pub fn set_browser_plan(&self, mut plan: Value, screenshots: &str) {
        plan["log"] = json!(self.browser_log());
        plan["screenshots"] = json!(artifacts_dir().join(screenshots));
        std::fs::write(self.plan_file(), plan.to_string()).expect("plan");
    }

    /// The browser's visits so far.
    pub fn browser_visits(&self) -> Vec<Value> {
        std::fs::read_to_string(self.browser_log())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The environment the app runs with.
    pub fn env(&self, display: &str) -> Vec<(String, String)> {
        let p = |s: &str| self.path().join(s).display().to_string();
        let browser = format!(
            "{} {}",
            which("node")
                .map(|n| n.display().to_string())
                .unwrap_or("node".into()),
            repo_root().join("tests/browser/county-login.mjs").display()
        );
        vec![
            ("HOME".into(), p("")),
            ("XDG_DATA_HOME".into(), p("data")),
            ("XDG_CONFIG_HOME".into(), p("config")),
            ("XDG_CACHE_HOME".into(), p("cache")),
            (
                "EDUCLOUD_POLICY".into(),
                self.policy_file().display().to_string(),
            ),
            ("EDUCLOUD_BROWSER".into(), browser),
            (
                "EDUCLOUD_TEST_BROWSER_PLAN".into(),
                self.plan_file().display().to_string(),
            ),
            ("DISPLAY".into(), display.to_string()),
            ("NO_AT_BRIDGE".into(), "1".into()),
        ]
    }
}

/// The running app, seen through WebDriver.
pub struct App {
    pub client: Client,
    pub display: Display,
    driver: Proc,
    pub log: PathBuf,
    watch: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// A WebDriver call has no timeout of its own: if the app or the driver ever
/// wedges, kill the whole process group after `limit` so the test fails with
/// an error instead of hanging the suite. (The group is normally gone long
/// before; killing a finished group is harmless.)
fn watchdog(pgid: u32, limit: Duration) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    std::thread::spawn(move || {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if flag.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        eprintln!("watchdog: the app did not finish within {limit:?}; killing it");
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status();
    });
    done
}

fn wait_port(port: u16, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listened on port {port}");
}

impl App {
    /// Launches the app binary for `profile` with extra environment.
    pub async fn launch(tools: &Tools, profile: &Profile, extra_env: &[(&str, &str)]) -> App {
        let display = Display::start(tools);
        let port = free_port();
        let native = free_port();
        let log = profile.path().join(format!("driver-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("driver log");
        let mut cmd = Command::new(&tools.tauri_driver);
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native.to_string(),
        ])
        .args([
            "--native-driver",
            &tools.webkit_driver.display().to_string(),
        ])
        .stdout(log_file.try_clone().expect("log"))
        .stderr(log_file);
        for (k, v) in profile.env(&display.name) {
            cmd.env(k, v);
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let driver = Proc::spawn(&mut cmd);
        let watch = watchdog(driver.id(), Duration::from_secs(240));
        wait_port(port, Duration::from_secs(20));
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("wry"));
        caps.insert(
            "tauri:options".into(),
            json!({"application": env!("CARGO_BIN_EXE_educloud")}),
        );
        let mut last = None;
        for _ in 0..3 {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => {
                    let app = App {
                        client,
                        display,
                        driver,
                        log,
                        watch,
                    };
                    app.wait_for("#screen[data-screen]").await;
                    return app;
                }
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        panic!(
            "WebDriver session failed: {last:?}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    pub async fn wait_for(&self, css: &str) -> Element {
        self.wait_for_timeout(css, Duration::from_secs(20)).await
    }

    pub async fn wait_for_timeout(&self, css: &str, timeout: Duration) -> Element {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(el) = self.client.find(Locator::Css(css)).await {
                if el.is_displayed().await.unwrap_or(false) {
                    return el;
                }
            }
            if Instant::now() > deadline {
                let src = self.client.source().await.unwrap_or_default();
                panic!("timed out waiting for {css}\n--- page ---\n{src}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the element's text contains `text`.
    pub async fn wait_text(&self, css: &str, text: &str) -> Element {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(el) = self.client.find(Locator::Css(css)).await {
                if el.text().await.map(|t| t.contains(text)).unwrap_or(false) {
                    return el;
                }
            }
            if Instant::now() > deadline {
                let got = match self.client.find(Locator::Css(css)).await {
                    Ok(el) => el.text().await.unwrap_or_default(),
                    Err(_) => "<absent>".into(),
                };
                panic!("timed out waiting for {css} to contain {text:?}; it has {got:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the element has no text (e.g. an error slot cleared).
    pub async fn wait_empty(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = match self.client.find(Locator::Css(css)).await {
                Ok(el) => el.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if text.trim().is_empty() {
                return;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {css} to be empty; it has {text:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn text(&self, css: &str) -> String {
        self.wait_for(css).await.text().await.unwrap_or_default()
    }

    pub async fn click(&self, css: &str) {
        let el = self.wait_for(css).await;
        el.click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let el = self.wait_for(css).await;
        el.clear().await.ok();
        el.send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Calls a Tauri command from the page (as the UI would).
    pub async fn invoke(&self, cmd: &str, args: Value) -> Value {
        let script = r#"
            const [cmd, args, done] = arguments;
            window.__TAURI__.core.invoke(cmd, args)
              .then((v) => done({ok: v === undefined ? null : v}))
              .catch((e) => done({err: e}));
        "#;
        self.client
            .execute_async(script, vec![json!(cmd), args])
            .await
            .unwrap_or_else(|e| panic!("invoke {cmd}: {e}"))
    }

    /// Saves a PNG of the window under target/e2e-artifacts/.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        // WebKitGTK under Xvfb can hand back the previous frame right after a
        // DOM change; give it a moment.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let png = self.client.screenshot().await.expect("screenshot");
        let path = artifacts_dir().join(format!("{name}.png"));
        std::fs::write(&path, &png).expect("write screenshot");
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        path
    }

    /// Ends the WebDriver session (closing the app) and the driver.
    pub async fn close(self) {
        let App {
            client,
            driver,
            display,
            watch,
            ..
        } = self;
        let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
        drop(driver);
        drop(display);
        watch.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Files under `dir` whose bytes contain any of `needles` (secret scans).
/// The browser's own plan/log files are the test's, not the app's: skipped.
pub fn scan_for(dir: &Path, needles: &[&str]) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name == "browser-plan.json" || name == "browser.jsonl" {
                continue;
            }
            if let Ok(bytes) = std::fs::read(&p) {
                for n in needles {
                    if bytes.windows(n.len()).any(|w| w == n.as_bytes()) {
                        hits.push(format!("{} contains {n:?}", p.display()));
                    }
                }
            }
        }
    }
    hits
}
