//! [`LoadedPolicy`]: the policy in force, where each key came from, the
//! problems found while reading the sources, and which developer variables
//! apply.
//!
//! **The machine policy is a floor.** Nothing a user can set — a variable, a
//! file of their own — lowers it:
//! - a debug build honours the developer variables (`EDUCLOUD_POLICY` names
//!   the machine policy file, the stand-in for `/etc/educloud/policy.json`;
//!   `EDUCLOUD_SERVICE_URL`, `EDUCLOUD_BROWSER`);
//! - a release build reads the machine policy where the OS keeps it and
//!   honours the variables only when that policy sets
//!   `AllowDeveloperOverrides` — and then `EDUCLOUD_POLICY` is a file below
//!   every policy source (it can fill keys IT left unset, never change one),
//!   and `EDUCLOUD_SERVICE_URL` / `EDUCLOUD_BROWSER` yield to a policy that
//!   sets the service or the browser.
//!
//! Each variable that was not applied is listed in [`LoadedPolicy::ignored`]
//! with the reason (`educloud doctor` prints them). For tests, a debug build
//! also reads `EDUCLOUD_MACHINE_POLICY=<file>` (the machine policy file) and
//! `EDUCLOUD_RELEASE_RULES=1` (apply the release rules); a release build
//! ignores both.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::{macos, windows, Policy, KEYS, LINUX_POLICY_FILE};

/// A binary whose developer variables apply as a debug build's do: a debug
/// build, or an optimized one built with the `developer-build` feature (only
/// `scripts/bench`'s window probes; never an installer).
pub const DEVELOPER_BINARY: bool = cfg!(debug_assertions) || cfg!(feature = "developer-build");

/// Which rules apply to the developer variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// A debug build: the developer variables apply (the policy still wins
    /// for the keys it sets); the service defaults to the demo.
    Debug,
    /// A release build (or a debug build with `EDUCLOUD_RELEASE_RULES=1`):
    /// the variables apply only where the machine policy allows them; with
    /// no policy and no earlier choice the user picks the service.
    Release,
}

impl Build {
    /// This process's rules: a release build is always [`Build::Release`];
    /// a debug build unless `EDUCLOUD_RELEASE_RULES=1`.
    pub fn current() -> Build {
        if !DEVELOPER_BINARY || std::env::var("EDUCLOUD_RELEASE_RULES").as_deref() == Ok("1") {
            Build::Release
        } else {
            Build::Debug
        }
    }
}

impl Default for Build {
    /// The compiled build, without reading any variable.
    fn default() -> Self {
        if DEVELOPER_BINARY {
            Build::Debug
        } else {
            Build::Release
        }
    }
}

/// The developer variables as the process received them.
#[derive(Debug, Clone, Default)]
pub struct DeveloperVars {
    /// `EDUCLOUD_POLICY`.
    pub policy_file: Option<PathBuf>,
    /// `EDUCLOUD_MACHINE_POLICY` (read by debug builds only).
    pub machine_policy_file: Option<PathBuf>,
    /// `EDUCLOUD_SERVICE_URL`.
    pub service_url: Option<String>,
    /// `EDUCLOUD_BROWSER`.
    pub browser: Option<String>,
}

impl DeveloperVars {
    /// Reads the variables (empty values count as unset).
    pub fn from_env() -> DeveloperVars {
        let text = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let path = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        DeveloperVars {
            policy_file: path("EDUCLOUD_POLICY"),
            machine_policy_file: path("EDUCLOUD_MACHINE_POLICY"),
            service_url: text("EDUCLOUD_SERVICE_URL"),
            browser: text("EDUCLOUD_BROWSER"),
        }
    }
}

/// Why a developer variable (or one key of the `EDUCLOUD_POLICY` file) was
/// not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnoreReason {
    /// A release build, and the machine policy does not set
    /// `AllowDeveloperOverrides`.
    NotAllowed,
    /// The policy sets this key; a variable never changes it.
    SetByPolicy(&'static str),
    /// Only debug builds read this variable.
    DebugOnly,
}

impl std::fmt::Display for IgnoreReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IgnoreReason::NotAllowed => f.write_str(
                "a release build applies developer variables only where the machine policy \
                 sets AllowDeveloperOverrides",
            ),
            IgnoreReason::SetByPolicy(key) => write!(f, "the policy sets {key}"),
            IgnoreReason::DebugOnly => f.write_str("only debug builds read it"),
        }
    }
}

/// A developer variable that was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredVariable {
    /// `EDUCLOUD_POLICY`, `EDUCLOUD_SERVICE_URL`, …
    pub variable: &'static str,
    /// The variable's value (a path, a URL, a command line).
    pub value: String,
    /// For one key of the `EDUCLOUD_POLICY` file: that key.
    pub key: Option<&'static str>,
    pub reason: IgnoreReason,
}

impl std::fmt::Display for IgnoredVariable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.variable, self.value)?;
        if let Some(key) = self.key {
            write!(f, " (its {key})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// The developer variables in force (after the rules).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeveloperOverrides {
    /// `EDUCLOUD_SERVICE_URL`: a custom service instead of the user's choice.
    pub service_url: Option<String>,
    /// `EDUCLOUD_BROWSER`: the browser command when policy sets none.
    pub browser: Option<String>,
}

/// The policy in force and where it came from.
#[derive(Debug, Clone, Default)]
pub struct LoadedPolicy {
    policy: Policy,
    /// Each source that contributed, highest precedence first.
    pub sources: Vec<String>,
    /// Problems found (unreadable file, unknown keys): shown by `doctor` and
    /// in the diagnostics view.
    pub problems: Vec<String>,
    /// Which source set each key (see [`LoadedPolicy::source_of`]).
    key_sources: BTreeMap<&'static str, String>,
    /// The sources that speak for the whole computer (HKLM, the computer's
    /// managed preferences, the machine file) — the only ones whose
    /// `AllowDeveloperOverrides` counts.
    machine_sources: BTreeSet<String>,
    build: Build,
    /// The machine policy file this process read (or looked for).
    machine_file: Option<PathBuf>,
    developer: DeveloperOverrides,
    ignored: Vec<IgnoredVariable>,
}

impl LoadedPolicy {
    /// Reads the policy sources of this OS and the developer variables under
    /// this process's rules (see the module documentation), then checks the
    /// merged values.
    pub fn load() -> LoadedPolicy {
        LoadedPolicy::load_with(
            Build::current(),
            DeveloperVars::from_env(),
            |loaded| {
                windows::add_os_sources(loaded);
                macos::add_os_sources(loaded);
            },
            default_policy_file(),
        )
    }

    /// [`LoadedPolicy::load`] with its inputs given: the rules, the
    /// variables, the OS's own sources (registry, managed preferences) and
    /// where the machine policy file is (Linux: [`LINUX_POLICY_FILE`]).
    pub fn load_with(
        build: Build,
        vars: DeveloperVars,
        os_sources: impl FnOnce(&mut LoadedPolicy),
        machine_file: Option<PathBuf>,
    ) -> LoadedPolicy {
        let mut loaded = LoadedPolicy {
            build,
            ..LoadedPolicy::default()
        };
        os_sources(&mut loaded);
        let debug_binary = DEVELOPER_BINARY;
        let machine_var = match vars.machine_policy_file {
            Some(file) if !debug_binary => {
                loaded.ignore(
                    "EDUCLOUD_MACHINE_POLICY",
                    &file.display(),
                    None,
                    IgnoreReason::DebugOnly,
                );
                None
            }
            other => other,
        };
        // In a debug build without EDUCLOUD_MACHINE_POLICY, EDUCLOUD_POLICY
        // is the machine file (what tests and developers have always used).
        let (machine_file, developer_file) = match (build, machine_var) {
            (Build::Debug, None) => (vars.policy_file.or(machine_file), None),
            (_, machine_var) => (machine_var.or(machine_file), vars.policy_file),
        };
        if let Some(file) = &machine_file {
            loaded.add_file(file);
        }
        loaded.machine_file = machine_file;
        let allowed = build == Build::Debug || loaded.machine_allows_overrides();
        if let Some(file) = developer_file {
            if allowed {
                loaded.add_developer_file(&file);
            } else {
                loaded.ignore(
                    "EDUCLOUD_POLICY",
                    &file.display(),
                    None,
                    IgnoreReason::NotAllowed,
                );
            }
        }
        if let Some(url) = vars.service_url {
            let set_by_policy = ["Environment", "ServiceUrl"]
                .into_iter()
                .find(|k| loaded.policy.is_set(k));
            match (allowed, set_by_policy) {
                (false, _) => {
                    loaded.ignore("EDUCLOUD_SERVICE_URL", &url, None, IgnoreReason::NotAllowed)
                }
                (true, Some(key)) => loaded.ignore(
                    "EDUCLOUD_SERVICE_URL",
                    &url,
                    None,
                    IgnoreReason::SetByPolicy(key),
                ),
                (true, None) => loaded.developer.service_url = Some(url),
            }
        }
        if let Some(command) = vars.browser {
            match (allowed, loaded.policy.browser_command.is_some()) {
                (false, _) => {
                    loaded.ignore("EDUCLOUD_BROWSER", &command, None, IgnoreReason::NotAllowed)
                }
                (true, true) => loaded.ignore(
                    "EDUCLOUD_BROWSER",
                    &command,
                    None,
                    IgnoreReason::SetByPolicy("BrowserCommand"),
                ),
                (true, false) => loaded.developer.browser = Some(command),
            }
        }
        loaded.add_checks();
        loaded
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The rules this process runs under.
    pub fn build(&self) -> Build {
        self.build
    }

    /// The machine policy file read (or looked for; `None` on Windows and
    /// macOS unless a debug build was given one).
    pub fn machine_file(&self) -> Option<&Path> {
        self.machine_file.as_deref()
    }

    /// The developer variables in force.
    pub fn developer(&self) -> &DeveloperOverrides {
        &self.developer
    }

    /// The developer variables (or keys of the `EDUCLOUD_POLICY` file) that
    /// were not applied, and why.
    pub fn ignored(&self) -> &[IgnoredVariable] {
        &self.ignored
    }

    /// The browser command in force: policy `BrowserCommand`, else
    /// `EDUCLOUD_BROWSER` where it applies.
    pub fn browser_command(&self) -> Option<&str> {
        self.policy
            .browser_command
            .as_deref()
            .or(self.developer.browser.as_deref())
            .filter(|c| !c.trim().is_empty())
    }

    /// Whether the computer's own policy sets `AllowDeveloperOverrides`.
    fn machine_allows_overrides(&self) -> bool {
        self.policy.allow_developer_overrides == Some(true)
            && self
                .source_of("AllowDeveloperOverrides")
                .is_some_and(|s| self.machine_sources.contains(s))
    }

    fn ignore(
        &mut self,
        variable: &'static str,
        value: &dyn std::fmt::Display,
        key: Option<&'static str>,
        reason: IgnoreReason,
    ) {
        let ignored = IgnoredVariable {
            variable,
            value: value.to_string(),
            key,
            reason,
        };
        tracing::warn!(%ignored, "developer variable ignored");
        self.ignored.push(ignored);
    }

    /// Adds the `EDUCLOUD_POLICY` file below every policy source: only the
    /// keys no source sets apply (each other one is listed as ignored), and
    /// never `AllowDeveloperOverrides`.
    fn add_developer_file(&mut self, path: &Path) {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                return self
                    .problems
                    .push(format!("{}: unreadable, {e}", path.display()))
            }
        };
        let name = path.display().to_string();
        match Policy::from_json(&text) {
            Ok((mut p, problems)) => {
                self.problems
                    .extend(problems.into_iter().map(|u| format!("{name}: {u}")));
                if p.allow_developer_overrides.take().is_some() {
                    self.ignore(
                        "EDUCLOUD_POLICY",
                        &name,
                        Some("AllowDeveloperOverrides"),
                        IgnoreReason::SetByPolicy("AllowDeveloperOverrides"),
                    );
                }
                for key in p.set_keys() {
                    if self.policy.is_set(key) {
                        self.ignore(
                            "EDUCLOUD_POLICY",
                            &name,
                            Some(key),
                            IgnoreReason::SetByPolicy(key),
                        );
                    }
                }
                self.add_source(name, p, false);
            }
            Err(e) => self.problems.push(format!("{name}: ignored, {e}")),
        }
    }

    /// Adds a JSON file of the computer's (lower precedence than the sources
    /// already added).
    pub fn add_file(&mut self, path: &Path) {
        match std::fs::read_to_string(path) {
            Ok(text) => match Policy::from_json(&text) {
                Ok((p, problems)) => {
                    let name = path.display().to_string();
                    self.problems
                        .extend(problems.into_iter().map(|u| format!("{name}: {u}")));
                    self.add(name, p);
                }
                Err(e) => self
                    .problems
                    .push(format!("{}: ignored, {e}", path.display())),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => self
                .problems
                .push(format!("{}: unreadable, {e}", path.display())),
        }
    }

    /// Adds a parsed source of the computer's (HKLM, the computer's managed
    /// preferences, the machine file) below those already added.
    pub fn add(&mut self, name: String, policy: Policy) {
        self.add_source(name, policy, true);
    }

    /// Adds a parsed source of the user's (HKCU, the user's managed
    /// preferences) below those already added.
    pub fn add_user(&mut self, name: String, policy: Policy) {
        self.add_source(name, policy, false);
    }

    fn add_source(&mut self, name: String, policy: Policy, machine: bool) {
        if machine {
            self.machine_sources.insert(name.clone());
        }
        for key in KEYS {
            if !self.policy.is_set(key) && policy.is_set(key) {
                self.key_sources.insert(key, name.clone());
            }
        }
        let current = std::mem::take(&mut self.policy);
        self.policy = current.or(policy);
        self.sources.push(name);
    }

    /// The source that set `key`, if policy sets it.
    pub fn source_of(&self, key: &str) -> Option<&str> {
        self.key_sources.get(key).map(String::as_str)
    }

    /// Appends [`Policy::check`]'s findings to `problems`, naming the source
    /// of each key.
    pub fn add_checks(&mut self) {
        for (key, problem) in self.policy.check() {
            let source = self.source_of(key).unwrap_or("policy");
            self.problems.push(format!("{source}: {key}: {problem}"));
        }
    }
}

/// Where the computer's policy file is: Linux only (Windows and macOS keep
/// policy in the registry and in managed preferences).
fn default_policy_file() -> Option<PathBuf> {
    if cfg!(any(windows, target_os = "macos")) {
        None
    } else {
        Some(PathBuf::from(LINUX_POLICY_FILE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_source_wins_key_by_key() {
        let (machine, _) = Policy::from_json(r#"{"Language":"zh-TW"}"#).unwrap();
        let (user, _) = Policy::from_json(r#"{"Language":"en","DefaultCounty":"kh"}"#).unwrap();
        let mut l = LoadedPolicy::default();
        l.add("HKLM".into(), machine);
        l.add("HKCU".into(), user);
        assert_eq!(l.policy().language, Some(super::super::Language::ZhTw));
        assert_eq!(l.policy().default_county.as_deref(), Some("kh"));
        assert_eq!(l.sources, ["HKLM", "HKCU"]);
        assert_eq!(l.source_of("Language"), Some("HKLM"));
        assert_eq!(l.source_of("DefaultCounty"), Some("HKCU"));
        assert_eq!(l.source_of("SharedDevice"), None);
        assert_eq!(l.policy().set_keys(), ["DefaultCounty", "Language"]);
    }

    #[test]
    fn missing_file_is_no_policy_and_broken_file_is_a_problem() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = LoadedPolicy::default();
        l.add_file(&dir.path().join("none.json"));
        assert!(l.sources.is_empty() && l.problems.is_empty());
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{not json").unwrap();
        l.add_file(&bad);
        assert!(l.sources.is_empty());
        assert_eq!(l.problems.len(), 1);
        // A wrong value skips its key only; the file's other keys apply.
        let wrong_type = dir.path().join("wrong.json");
        std::fs::write(
            &wrong_type,
            r#"{"SharedDevice":"yes","DisableRegistration":true}"#,
        )
        .unwrap();
        l.add_file(&wrong_type);
        assert_eq!(l.problems.len(), 2, "{:?}", l.problems);
        assert!(l.problems[1].contains("SharedDevice: ignored"));
        assert_eq!(l.policy().set_keys(), ["DisableRegistration"]);
    }

    #[test]
    fn load_checks_name_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.json");
        std::fs::write(&f, r#"{"DefaultCounty":"xx"}"#).unwrap();
        let mut l = LoadedPolicy::default();
        l.add_file(&f);
        l.add_checks();
        assert_eq!(
            l.problems,
            [format!(
                "{}: DefaultCounty: unknown county code xx",
                f.display()
            )]
        );
    }

    /// The pupil's file: every loosening a variable could bring.
    const PUPIL: &str = r#"{"SharedDevice":false,"AllowStaySignedIn":true,
        "DisableRegistration":false,"Environment":"sandbox",
        "ProxyUrl":"http://127.0.0.1:8888","ExtraCaCertificates":["/tmp/evil-ca.pem"],
        "BrowserCommand":"evil-browser","AllowDeveloperOverrides":true}"#;

    const SCHOOL: &str = r#"{"SharedDevice":true,"AllowStaySignedIn":false,
        "DisableRegistration":true,"Environment":"production"}"#;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let f = dir.path().join(name);
        std::fs::write(&f, text).unwrap();
        f
    }

    fn vars(policy_file: Option<PathBuf>) -> DeveloperVars {
        DeveloperVars {
            policy_file,
            machine_policy_file: None,
            service_url: Some("https://evil.example/".into()),
            browser: Some("evil-browser".into()),
        }
    }

    fn ignored(l: &LoadedPolicy) -> Vec<(&'static str, Option<&'static str>, IgnoreReason)> {
        l.ignored()
            .iter()
            .map(|i| (i.variable, i.key, i.reason.clone()))
            .collect()
    }

    #[test]
    fn release_build_linux_the_machine_file_is_a_floor_educloud_policy_cannot_replace() {
        let dir = tempfile::tempdir().unwrap();
        let machine = write(&dir, "policy.json", SCHOOL);
        let pupil = write(&dir, "pupil.json", PUPIL);
        let l = LoadedPolicy::load_with(
            Build::Release,
            vars(Some(pupil)),
            |_| {},
            Some(machine.clone()),
        );
        let p = l.policy();
        assert_eq!(p.shared_device, Some(true));
        assert_eq!(p.allow_stay_signed_in, Some(false));
        assert_eq!(p.disable_registration, Some(true));
        assert_eq!(
            p.environment,
            Some(super::super::EnvironmentKind::Production)
        );
        assert_eq!(p.set_keys().len(), 4, "{:?}", p.set_keys());
        assert_eq!(l.sources, [machine.display().to_string()]);
        assert_eq!(*l.developer(), DeveloperOverrides::default());
        assert_eq!(l.browser_command(), None);
        assert_eq!(
            ignored(&l),
            [
                ("EDUCLOUD_POLICY", None, IgnoreReason::NotAllowed),
                ("EDUCLOUD_SERVICE_URL", None, IgnoreReason::NotAllowed),
                ("EDUCLOUD_BROWSER", None, IgnoreReason::NotAllowed),
            ]
        );
    }

    #[test]
    fn release_build_windows_and_macos_variables_cannot_add_keys_it_left_unset() {
        let dir = tempfile::tempdir().unwrap();
        let pupil = write(&dir, "pupil.json", PUPIL);
        let (hklm, _) = Policy::from_json(r#"{"SharedDevice":true}"#).unwrap();
        let l = LoadedPolicy::load_with(
            Build::Release,
            vars(Some(pupil)),
            |l| l.add("HKLM".into(), hklm),
            None,
        );
        assert_eq!(l.policy().set_keys(), ["SharedDevice"]);
        assert_eq!(l.policy().proxy_url, None);
        assert_eq!(l.policy().extra_ca_certificates, None);
        assert_eq!(l.browser_command(), None);
        assert_eq!(l.ignored().len(), 3);
        assert!(l.ignored()[0].to_string().starts_with("EDUCLOUD_POLICY="));
    }

    #[test]
    fn allowed_overrides_fill_only_what_the_machine_leaves_unset() {
        let dir = tempfile::tempdir().unwrap();
        let machine = write(
            &dir,
            "policy.json",
            r#"{"AllowDeveloperOverrides":true,"SharedDevice":true,"BrowserCommand":"firefox"}"#,
        );
        let dev = write(
            &dir,
            "dev.json",
            r#"{"SharedDevice":false,"Language":"en","AllowDeveloperOverrides":false}"#,
        );
        let l = LoadedPolicy::load_with(Build::Release, vars(Some(dev)), |_| {}, Some(machine));
        let p = l.policy();
        assert_eq!(p.shared_device, Some(true));
        assert_eq!(p.language, Some(super::super::Language::En));
        assert_eq!(p.allow_developer_overrides, Some(true));
        assert_eq!(l.browser_command(), Some("firefox"));
        assert_eq!(
            l.developer().service_url.as_deref(),
            Some("https://evil.example/")
        );
        assert_eq!(
            ignored(&l),
            [
                (
                    "EDUCLOUD_POLICY",
                    Some("AllowDeveloperOverrides"),
                    IgnoreReason::SetByPolicy("AllowDeveloperOverrides")
                ),
                (
                    "EDUCLOUD_POLICY",
                    Some("SharedDevice"),
                    IgnoreReason::SetByPolicy("SharedDevice")
                ),
                (
                    "EDUCLOUD_BROWSER",
                    None,
                    IgnoreReason::SetByPolicy("BrowserCommand")
                ),
            ]
        );
    }

    #[test]
    fn only_the_computer_can_allow_overrides() {
        let (user, _) = Policy::from_json(r#"{"AllowDeveloperOverrides":true}"#).unwrap();
        let l = LoadedPolicy::load_with(
            Build::Release,
            vars(None),
            |l| l.add_user("HKCU".into(), user),
            None,
        );
        assert_eq!(*l.developer(), DeveloperOverrides::default());
        assert_eq!(l.ignored().len(), 2);
    }

    #[test]
    fn debug_build_honours_variables_but_never_over_a_policy_key() {
        let dir = tempfile::tempdir().unwrap();
        // EDUCLOUD_POLICY names the machine file in a debug build.
        let file = write(&dir, "policy.json", r#"{"SharedDevice":true}"#);
        let l = LoadedPolicy::load_with(Build::Debug, vars(Some(file)), |_| {}, None);
        assert_eq!(l.policy().shared_device, Some(true));
        assert_eq!(l.browser_command(), Some("evil-browser"));
        assert!(l.developer().service_url.is_some() && l.ignored().is_empty());
        let fixed = write(
            &dir,
            "fixed.json",
            r#"{"ServiceUrl":"https://edu.example.tw/","BrowserCommand":"firefox"}"#,
        );
        let l = LoadedPolicy::load_with(Build::Debug, vars(Some(fixed)), |_| {}, None);
        assert_eq!(l.browser_command(), Some("firefox"));
        assert_eq!(
            ignored(&l),
            [
                (
                    "EDUCLOUD_SERVICE_URL",
                    None,
                    IgnoreReason::SetByPolicy("ServiceUrl")
                ),
                (
                    "EDUCLOUD_BROWSER",
                    None,
                    IgnoreReason::SetByPolicy("BrowserCommand")
                ),
            ]
        );
    }

    #[test]
    fn the_machine_policy_variable_is_for_debug_builds_only() {
        let dir = tempfile::tempdir().unwrap();
        let machine = write(&dir, "machine.json", SCHOOL);
        let l = LoadedPolicy::load_with(
            Build::Release,
            DeveloperVars {
                machine_policy_file: Some(machine),
                ..DeveloperVars::default()
            },
            |_| {},
            None,
        );
        if DEVELOPER_BINARY {
            assert_eq!(l.policy().shared_device, Some(true));
            assert!(l.ignored().is_empty());
        } else {
            assert_eq!(l.policy().shared_device, None);
            assert_eq!(l.ignored()[0].reason, IgnoreReason::DebugOnly);
        }
    }
}
