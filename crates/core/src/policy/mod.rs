//! IT policies: one model, several sources, one precedence rule —
//! **policy beats user setting beats default**.
//!
//! Sources, highest precedence first (each key comes from the first source
//! that sets it; machine beats user):
//! - Windows: `HKLM\SOFTWARE\Policies\EduCloud\Desktop`, then the same key
//!   under HKCU ([`windows`]);
//! - macOS: managed preferences for [`macos::BUNDLE_ID`], the computer-wide
//!   file, then the user's own ([`macos`]);
//! - a JSON file: `EDUCLOUD_POLICY=<file>` (tests, IT trials) if set, else on
//!   Linux [`LINUX_POLICY_FILE`]. Windows and macOS read no file by default,
//!   and an `EDUCLOUD_POLICY` file there ranks below the organization's
//!   registry / managed preferences, so it can never loosen them.
//!
//! Parsing and merging are OS-independent and tested on every OS; only the
//! few lines that open the registry or find the managed-preferences folder
//! are compiled per OS.

pub mod macos;
mod raw;
pub mod windows;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use educloud_contract::county::{self, IdpProfile};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::CoreError;

/// The well-known Linux policy file.
pub const LINUX_POLICY_FILE: &str = "/etc/educloud/policy.json";

/// The update channels `UpdateChannel` accepts.
pub const UPDATE_CHANNELS: &[&str] = &["stable", "beta"];

/// Which Education Cloud the app talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnvironmentKind {
    /// The embedded, offline demo (示範環境).
    Sandbox,
    /// The ministry's production service.
    Production,
    /// An organization's own service URL.
    Custom,
}

/// A county added or changed by IT.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CountyOverride {
    pub name_zh: Option<String>,
    pub name_en: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    /// Real county IdPs expect a confidential client; the secret may come
    /// only from policy, never from the binary.
    pub client_secret: Option<SecretString>,
    pub scopes: Option<Vec<String>>,
    /// `oidc`, `sso_edu_tw`, `kaohsiung` or `taipei_oauth2`.
    pub profile: Option<String>,
}

/// Every key an IT policy can set. `None` means "not set by policy".
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Policy {
    pub environment: Option<EnvironmentKind>,
    pub service_url: Option<String>,
    pub default_county: Option<String>,
    pub allowed_counties: Option<Vec<String>>,
    pub county_overrides: Option<BTreeMap<String, CountyOverride>>,
    pub allow_stay_signed_in: Option<bool>,
    pub shared_device: Option<bool>,
    pub disable_registration: Option<bool>,
    pub browser_command: Option<String>,
    pub proxy_url: Option<String>,
    pub extra_ca_certificates: Option<Vec<PathBuf>>,
    pub disable_updates: Option<bool>,
    pub update_channel: Option<String>,
    pub language: Option<String>,
}

/// The keys, in the order `doctor` prints them.
pub const KEYS: &[&str] = &[
    "Environment",
    "ServiceUrl",
    "DefaultCounty",
    "AllowedCounties",
    "CountyOverrides",
    "AllowStaySignedIn",
    "SharedDevice",
    "DisableRegistration",
    "BrowserCommand",
    "ProxyUrl",
    "ExtraCaCertificates",
    "DisableUpdates",
    "UpdateChannel",
    "Language",
];

/// Whether the updater may check for a new version, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateGate {
    /// Check the given channel (`stable` or `beta`).
    Allowed { channel: String },
    /// `DisableUpdates` is set (IT deploys new versions itself).
    DisabledByPolicy,
    /// The offline demo never reaches for the network to update.
    DemoEnvironment,
    /// A developer's or test's service override (`EDUCLOUD_SERVICE_URL`), or
    /// a debug build: never update.
    Development,
}

impl Policy {
    /// Parses a JSON policy document. Unknown keys are reported, not fatal,
    /// so a newer template does not break an older app.
    pub fn from_json(text: &str) -> Result<(Policy, Vec<String>), String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let obj = value
            .as_object()
            .ok_or_else(|| "the document must be a JSON object".to_string())?;
        let unknown = obj
            .keys()
            .filter(|k| !KEYS.contains(&k.as_str()))
            .map(|k| format!("unknown key {k}"))
            .collect();
        let policy = serde_json::from_value(value).map_err(|e| e.to_string())?;
        Ok((policy, unknown))
    }

    /// Fills every key `self` leaves unset from `lower` (lower precedence).
    pub fn or(self, lower: Policy) -> Policy {
        Policy {
            environment: self.environment.or(lower.environment),
            service_url: self.service_url.or(lower.service_url),
            default_county: self.default_county.or(lower.default_county),
            allowed_counties: self.allowed_counties.or(lower.allowed_counties),
            county_overrides: self.county_overrides.or(lower.county_overrides),
            allow_stay_signed_in: self.allow_stay_signed_in.or(lower.allow_stay_signed_in),
            shared_device: self.shared_device.or(lower.shared_device),
            disable_registration: self.disable_registration.or(lower.disable_registration),
            browser_command: self.browser_command.or(lower.browser_command),
            proxy_url: self.proxy_url.or(lower.proxy_url),
            extra_ca_certificates: self.extra_ca_certificates.or(lower.extra_ca_certificates),
            disable_updates: self.disable_updates.or(lower.disable_updates),
            update_channel: self.update_channel.or(lower.update_channel),
            language: self.language.or(lower.language),
        }
    }

    /// Shared-device mode (computer classrooms).
    pub fn shared_device(&self) -> bool {
        self.shared_device.unwrap_or(false)
    }

    /// Whether 保持登入狀態 may be offered at all.
    pub fn stay_signed_in_allowed(&self) -> bool {
        !self.shared_device() && self.allow_stay_signed_in.unwrap_or(true)
    }

    /// Whether drafts of the registration form may be kept.
    pub fn drafts_allowed(&self) -> bool {
        !self.shared_device()
    }

    /// Whether `county` may be used.
    pub fn county_allowed(&self, county: &str) -> bool {
        self.allowed_counties
            .as_ref()
            .is_none_or(|list| list.iter().any(|c| c == county))
    }

    /// Whether policy sets `key` (one of [`KEYS`]): the UI shows a lock and
    /// 由您的機構管理 / Managed by your organization on that setting.
    pub fn is_set(&self, key: &str) -> bool {
        match key {
            "Environment" => self.environment.is_some(),
            "ServiceUrl" => self.service_url.is_some(),
            "DefaultCounty" => self.default_county.is_some(),
            "AllowedCounties" => self.allowed_counties.is_some(),
            "CountyOverrides" => self.county_overrides.is_some(),
            "AllowStaySignedIn" => self.allow_stay_signed_in.is_some(),
            "SharedDevice" => self.shared_device.is_some(),
            "DisableRegistration" => self.disable_registration.is_some(),
            "BrowserCommand" => self.browser_command.is_some(),
            "ProxyUrl" => self.proxy_url.is_some(),
            "ExtraCaCertificates" => self.extra_ca_certificates.is_some(),
            "DisableUpdates" => self.disable_updates.is_some(),
            "UpdateChannel" => self.update_channel.is_some(),
            "Language" => self.language.is_some(),
            _ => false,
        }
    }

    /// The keys policy sets, in [`KEYS`] order.
    pub fn set_keys(&self) -> Vec<&'static str> {
        KEYS.iter().copied().filter(|k| self.is_set(k)).collect()
    }

    /// Whether the updater may run. `environment` is the resolved
    /// environment and `developer_override` whether it came from
    /// `EDUCLOUD_SERVICE_URL` (a developer's or a test's); the shell passes
    /// `cfg!(debug_assertions)` as `debug_build`.
    pub fn update_gate(
        &self,
        environment: EnvironmentKind,
        developer_override: bool,
        debug_build: bool,
    ) -> UpdateGate {
        if self.disable_updates == Some(true) {
            UpdateGate::DisabledByPolicy
        } else if environment == EnvironmentKind::Sandbox {
            UpdateGate::DemoEnvironment
        } else if developer_override || debug_build {
            UpdateGate::Development
        } else {
            let channel = self
                .update_channel
                .as_deref()
                .filter(|c| UPDATE_CHANNELS.contains(c))
                .unwrap_or("stable");
            UpdateGate::Allowed {
                channel: channel.to_string(),
            }
        }
    }

    /// Adds `ProxyUrl` and `ExtraCaCertificates` (PEM files, each may hold
    /// several certificates) to an HTTP client. A broken value is an error
    /// rather than a silent fallback to a direct, unfiltered connection.
    pub fn apply_network(
        &self,
        mut builder: reqwest::ClientBuilder,
    ) -> crate::Result<reqwest::ClientBuilder> {
        if let Some(proxy) = self.proxy_url.as_deref().filter(|p| !p.is_empty()) {
            let proxy =
                reqwest::Proxy::all(proxy).map_err(|e| invalid("ProxyUrl", e.to_string()))?;
            builder = builder.proxy(proxy);
        }
        for cert in self.extra_root_certificates()? {
            builder = builder.add_root_certificate(cert);
        }
        Ok(builder)
    }

    /// The certificates of `ExtraCaCertificates`, read now (for clients that
    /// are configured in an infallible callback).
    pub fn extra_root_certificates(&self) -> crate::Result<Vec<reqwest::Certificate>> {
        let mut out = Vec::new();
        for (path, pem) in self.extra_ca_pem()? {
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| invalid("ExtraCaCertificates", format!("{}: {e}", path.display())))?;
            out.extend(certs);
        }
        Ok(out)
    }

    /// The PEM text of each `ExtraCaCertificates` file, checked to hold at
    /// least one certificate — for HTTP clients of another `reqwest` version
    /// (the Tauri updater's), which parse it themselves.
    pub fn extra_ca_pem(&self) -> crate::Result<Vec<(PathBuf, Vec<u8>)>> {
        let mut out = Vec::new();
        for path in self.extra_ca_certificates.iter().flatten() {
            let pem = std::fs::read(path)
                .map_err(|e| invalid("ExtraCaCertificates", format!("{}: {e}", path.display())))?;
            if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                return Err(invalid(
                    "ExtraCaCertificates",
                    format!("{}: no PEM certificate in the file", path.display()),
                ));
            }
            out.push((path.clone(), pem));
        }
        Ok(out)
    }

    /// Values that parse but cannot work (a bad URL, an unknown county, an
    /// unsupported language): `(key, problem)` pairs for `doctor` and the
    /// diagnostics view. The app still starts; the value is used as far as
    /// it can be.
    pub fn check(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let known = |code: &str| {
            county::find(code).is_some()
                || self
                    .county_overrides
                    .as_ref()
                    .is_some_and(|m| m.contains_key(code))
        };
        if let Some(u) = &self.service_url {
            if let Err(e) = check_url(u, &["https"]) {
                out.push(("ServiceUrl", e));
            }
        }
        if self.environment == Some(EnvironmentKind::Custom) && self.service_url.is_none() {
            out.push(("Environment", "custom needs ServiceUrl".to_string()));
        }
        if let Some(c) = &self.default_county {
            if !known(c) {
                out.push(("DefaultCounty", format!("unknown county code {c}")));
            } else if !self.county_allowed(c) {
                out.push(("DefaultCounty", format!("{c} is not in AllowedCounties")));
            }
        }
        for c in self.allowed_counties.iter().flatten() {
            if !known(c) {
                out.push(("AllowedCounties", format!("unknown county code {c}")));
            }
        }
        for (code, o) in self.county_overrides.iter().flatten() {
            if !county::is_valid_code(code) {
                out.push((
                    "CountyOverrides",
                    format!("{code}: not a valid county code"),
                ));
                continue;
            }
            let added = county::find(code).is_none();
            let missing: Vec<&str> = [
                ("name_zh", o.name_zh.is_none()),
                ("issuer", o.issuer.is_none()),
                ("client_id", o.client_id.is_none()),
            ]
            .into_iter()
            .filter(|(_, m)| added && *m)
            .map(|(f, _)| f)
            .collect();
            if !missing.is_empty() {
                out.push((
                    "CountyOverrides",
                    format!("{code}: a new county needs {}", missing.join(", ")),
                ));
            }
            if let Some(Err(e)) = o.issuer.as_deref().map(|u| check_url(u, &["https"])) {
                out.push(("CountyOverrides", format!("{code}: issuer {e}")));
            }
            if let Some(p) = &o.profile {
                if serde_json::from_value::<IdpProfile>(serde_json::Value::String(p.clone()))
                    .is_err()
                {
                    out.push((
                        "CountyOverrides",
                        format!(
                            "{code}: unknown profile {p} (oidc, sso_edu_tw, kaohsiung, taipei_oauth2)"
                        ),
                    ));
                }
            }
        }
        if let Some(b) = &self.browser_command {
            if shell_words::split(b).map(|w| w.is_empty()).unwrap_or(true) {
                out.push(("BrowserCommand", "not a command line".to_string()));
            }
        }
        if let Some(p) = &self.proxy_url {
            if let Err(e) = check_url(p, &["http", "https", "socks5", "socks5h"]) {
                out.push(("ProxyUrl", e));
            }
        }
        if let Some(c) = &self.update_channel {
            if !UPDATE_CHANNELS.contains(&c.as_str()) {
                out.push((
                    "UpdateChannel",
                    format!("unknown channel {c} (stable, beta)"),
                ));
            }
        }
        if let Some(l) = &self.language {
            if !crate::settings::LANGUAGES.contains(&l.as_str()) {
                out.push((
                    "Language",
                    format!(
                        "unsupported {l} ({})",
                        crate::settings::LANGUAGES.join(", ")
                    ),
                ));
            }
        }
        out
    }

    /// A printable value of one key for `doctor` (secrets redacted).
    pub fn display(&self, key: &str) -> Option<String> {
        fn j<T: Serialize>(v: &T) -> String {
            serde_json::to_string(v).unwrap_or_default()
        }
        match key {
            "Environment" => self.environment.as_ref().map(j),
            "ServiceUrl" => self.service_url.clone(),
            "DefaultCounty" => self.default_county.clone(),
            "AllowedCounties" => self.allowed_counties.as_ref().map(|v| v.join(",")),
            "CountyOverrides" => self.county_overrides.as_ref().map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        format!(
                            "{k}(issuer={}, client_id={}, secret={})",
                            v.issuer.as_deref().unwrap_or("-"),
                            v.client_id.as_deref().unwrap_or("-"),
                            if v.client_secret.is_some() {
                                "[set]"
                            } else {
                                "-"
                            }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            }),
            "AllowStaySignedIn" => self.allow_stay_signed_in.map(|b| b.to_string()),
            "SharedDevice" => self.shared_device.map(|b| b.to_string()),
            "DisableRegistration" => self.disable_registration.map(|b| b.to_string()),
            "BrowserCommand" => self.browser_command.clone(),
            "ProxyUrl" => self.proxy_url.clone(),
            "ExtraCaCertificates" => self.extra_ca_certificates.as_ref().map(|v| {
                v.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            }),
            "DisableUpdates" => self.disable_updates.map(|b| b.to_string()),
            "UpdateChannel" => self.update_channel.clone(),
            "Language" => self.language.clone(),
            _ => None,
        }
    }
}

fn invalid(key: &str, detail: String) -> CoreError {
    CoreError::PolicyInvalid {
        source_name: key.to_string(),
        detail,
    }
}

/// Checks that `u` is an absolute URL with one of `schemes` (plain `http`
/// is also accepted for loopback hosts, which IT uses for local proxies and
/// tests use for the sandbox).
fn check_url(u: &str, schemes: &[&str]) -> Result<(), String> {
    let url = url::Url::parse(u).map_err(|e| format!("{u} is not a URL ({e})"))?;
    let loopback = matches!(url.host(), Some(url::Host::Domain("localhost")))
        || matches!(url.host(), Some(url::Host::Ipv4(a)) if a.is_loopback())
        || matches!(url.host(), Some(url::Host::Ipv6(a)) if a.is_loopback());
    if schemes.contains(&url.scheme()) || (url.scheme() == "http" && loopback) {
        Ok(())
    } else {
        Err(format!("{u}: scheme must be {}", schemes.join(" or ")))
    }
}

/// Rewrites an updater endpoint for a channel: the release workflow
/// publishes `latest.json` under the rolling releases `updater-stable` and
/// `updater-beta`, and the configured endpoint names `updater-stable`.
pub fn channel_endpoint(endpoint: &str, channel: &str) -> String {
    if channel == "stable" || !UPDATE_CHANNELS.contains(&channel) {
        endpoint.to_string()
    } else {
        endpoint.replace("/updater-stable/", &format!("/updater-{channel}/"))
    }
}

/// The policy in force and where it came from.
#[derive(Debug, Clone, Default)]
pub struct LoadedPolicy {
    pub policy: Policy,
    /// Each source that contributed, highest precedence first.
    pub sources: Vec<String>,
    /// Problems found (unreadable file, unknown keys): shown by `doctor` and
    /// in the diagnostics view.
    pub problems: Vec<String>,
    /// Which source set each key (see [`LoadedPolicy::source_of`]).
    key_sources: BTreeMap<&'static str, String>,
}

impl LoadedPolicy {
    /// Reads the policy sources of this OS (see the module documentation for
    /// the order), then checks the merged values.
    pub fn load() -> LoadedPolicy {
        let mut loaded = LoadedPolicy::default();
        windows::add_os_sources(&mut loaded);
        macos::add_os_sources(&mut loaded);
        let file = std::env::var_os("EDUCLOUD_POLICY")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(default_policy_file);
        if let Some(file) = file {
            loaded.add_file(&file);
        }
        loaded.add_checks();
        loaded
    }

    /// Adds a JSON file source (lower precedence than those already added).
    pub fn add_file(&mut self, path: &Path) {
        match std::fs::read_to_string(path) {
            Ok(text) => match Policy::from_json(&text) {
                Ok((p, unknown)) => {
                    let name = path.display().to_string();
                    self.problems
                        .extend(unknown.into_iter().map(|u| format!("{name}: {u}")));
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

    /// Adds a parsed source below those already added.
    pub fn add(&mut self, name: String, policy: Policy) {
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

/// The JSON file read when `EDUCLOUD_POLICY` is not set.
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
    use secrecy::ExposeSecret;

    const SAMPLE: &str = r#"{
      "Environment": "custom",
      "ServiceUrl": "https://educloud.example.tw",
      "DefaultCounty": "ntpc",
      "AllowedCounties": ["ntpc", "tp"],
      "CountyOverrides": {"ntpc": {"name_zh": "新北市", "issuer": "https://ntpc.sso.edu.tw",
          "client_id": "abc", "client_secret": "s3cr3t-value", "scopes": ["openid"], "profile": "oidc"}},
      "SharedDevice": true,
      "Language": "en",
      "FutureKey": 1
    }"#;

    #[test]
    fn parses_every_key_and_reports_unknown_ones() {
        let (p, unknown) = Policy::from_json(SAMPLE).unwrap();
        assert_eq!(p.environment, Some(EnvironmentKind::Custom));
        assert_eq!(p.default_county.as_deref(), Some("ntpc"));
        assert!(p.county_allowed("tp") && !p.county_allowed("kh"));
        assert!(p.shared_device() && !p.stay_signed_in_allowed() && !p.drafts_allowed());
        let o = &p.county_overrides.as_ref().unwrap()["ntpc"];
        assert_eq!(
            o.client_secret.as_ref().unwrap().expose_secret(),
            "s3cr3t-value"
        );
        assert_eq!(unknown, ["unknown key FutureKey"]);
        assert!(p.check().is_empty(), "{:?}", p.check());
    }

    #[test]
    fn secrets_do_not_show_in_debug_or_doctor() {
        let (p, _) = Policy::from_json(SAMPLE).unwrap();
        assert!(!format!("{p:?}").contains("s3cr3t-value"));
        let shown = p.display("CountyOverrides").unwrap();
        assert!(shown.contains("secret=[set]") && !shown.contains("s3cr3t"));
    }

    #[test]
    fn higher_source_wins_key_by_key() {
        let (machine, _) = Policy::from_json(r#"{"Language":"zh-TW"}"#).unwrap();
        let (user, _) = Policy::from_json(r#"{"Language":"en","DefaultCounty":"kh"}"#).unwrap();
        let mut l = LoadedPolicy::default();
        l.add("HKLM".into(), machine);
        l.add("HKCU".into(), user);
        assert_eq!(l.policy.language.as_deref(), Some("zh-TW"));
        assert_eq!(l.policy.default_county.as_deref(), Some("kh"));
        assert_eq!(l.sources, ["HKLM", "HKCU"]);
        assert_eq!(l.source_of("Language"), Some("HKLM"));
        assert_eq!(l.source_of("DefaultCounty"), Some("HKCU"));
        assert_eq!(l.source_of("SharedDevice"), None);
        assert_eq!(l.policy.set_keys(), ["DefaultCounty", "Language"]);
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
        let wrong_type = dir.path().join("wrong.json");
        std::fs::write(&wrong_type, r#"{"SharedDevice":"yes"}"#).unwrap();
        l.add_file(&wrong_type);
        assert_eq!(l.problems.len(), 2);
    }

    #[test]
    fn defaults_allow_everything() {
        let p = Policy::default();
        assert!(p.stay_signed_in_allowed() && p.drafts_allowed() && p.county_allowed("kl"));
        assert!(p.set_keys().is_empty() && p.check().is_empty());
    }

    #[test]
    fn is_set_and_display_agree_on_every_key() {
        let (full, _) = Policy::from_json(
            r#"{"Environment":"production","ServiceUrl":"https://a.tw","DefaultCounty":"kl",
            "AllowedCounties":[],"CountyOverrides":{},"AllowStaySignedIn":false,
            "SharedDevice":false,"DisableRegistration":false,"BrowserCommand":"firefox",
            "ProxyUrl":"http://127.0.0.1:3128","ExtraCaCertificates":[],"DisableUpdates":false,
            "UpdateChannel":"stable","Language":"en"}"#,
        )
        .unwrap();
        let empty = Policy::default();
        for key in KEYS {
            assert!(full.is_set(key) && full.display(key).is_some(), "{key}");
            assert!(!empty.is_set(key) && empty.display(key).is_none(), "{key}");
        }
        assert!(!full.is_set("NoSuchKey"));
    }

    #[test]
    fn check_finds_values_that_cannot_work() {
        let (p, _) = Policy::from_json(
            r#"{"Environment":"custom","ServiceUrl":"http://educloud.example.tw",
            "DefaultCounty":"kh","AllowedCounties":["tp","xx"],
            "CountyOverrides":{"newc":{"issuer":"https://idp.example.tw"},
                               "Bad Code":{},"tp":{"profile":"saml"}},
            "BrowserCommand":"'unclosed","ProxyUrl":"ftp://proxy","UpdateChannel":"nightly",
            "Language":"fr"}"#,
        )
        .unwrap();
        let found: Vec<String> = p.check().iter().map(|(k, m)| format!("{k}: {m}")).collect();
        let expect = [
            "ServiceUrl: http://educloud.example.tw: scheme must be https",
            "DefaultCounty: kh is not in AllowedCounties",
            "AllowedCounties: unknown county code xx",
            "CountyOverrides: Bad Code: not a valid county code",
            "CountyOverrides: newc: a new county needs name_zh, client_id",
            "CountyOverrides: tp: unknown profile saml",
            "BrowserCommand: not a command line",
            "ProxyUrl: ftp://proxy: scheme must be http or https or socks5 or socks5h",
            "UpdateChannel: unknown channel nightly (stable, beta)",
            "Language: unsupported fr (zh-TW, en)",
        ];
        for e in expect {
            assert!(
                found.iter().any(|f| f.starts_with(e)),
                "missing {e} in {found:#?}"
            );
        }
        assert_eq!(found.len(), expect.len(), "{found:#?}");
        // Loopback http is fine (local proxies, the sandbox).
        let (ok, _) = Policy::from_json(
            r#"{"ServiceUrl":"http://127.0.0.1:8080/","ProxyUrl":"http://localhost:3128"}"#,
        )
        .unwrap();
        assert!(ok.check().is_empty(), "{:?}", ok.check());
    }

    #[test]
    fn load_checks_name_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.json");
        std::fs::write(&f, r#"{"Language":"fr"}"#).unwrap();
        let mut l = LoadedPolicy::default();
        l.add_file(&f);
        l.add_checks();
        assert_eq!(
            l.problems,
            [format!(
                "{}: Language: unsupported fr (zh-TW, en)",
                f.display()
            )]
        );
    }

    #[test]
    fn update_gate_honours_policy_demo_and_development() {
        use EnvironmentKind::*;
        let none = Policy::default();
        let stable = UpdateGate::Allowed {
            channel: "stable".into(),
        };
        assert_eq!(none.update_gate(Production, false, false), stable);
        assert_eq!(
            none.update_gate(Sandbox, false, false),
            UpdateGate::DemoEnvironment
        );
        assert_eq!(
            none.update_gate(Custom, true, false),
            UpdateGate::Development
        );
        assert_eq!(
            none.update_gate(Production, false, true),
            UpdateGate::Development
        );
        let (off, _) = Policy::from_json(r#"{"DisableUpdates":true}"#).unwrap();
        assert_eq!(
            off.update_gate(Production, false, false),
            UpdateGate::DisabledByPolicy
        );
        let (beta, _) = Policy::from_json(r#"{"UpdateChannel":"beta"}"#).unwrap();
        assert_eq!(
            beta.update_gate(Custom, false, false),
            UpdateGate::Allowed {
                channel: "beta".into()
            }
        );
        let (odd, _) = Policy::from_json(r#"{"UpdateChannel":"nightly"}"#).unwrap();
        assert_eq!(odd.update_gate(Production, false, false), stable);
    }

    #[test]
    fn channel_endpoints() {
        let e = "https://github.com/o/r/releases/download/updater-stable/latest.json";
        assert_eq!(channel_endpoint(e, "stable"), e);
        assert_eq!(
            channel_endpoint(e, "beta"),
            "https://github.com/o/r/releases/download/updater-beta/latest.json"
        );
        assert_eq!(channel_endpoint(e, "../x"), e);
    }

    #[test]
    fn network_settings_reach_the_client_or_fail_loudly() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/policy");
        let (p, _) = Policy::from_json(&format!(
            r#"{{"ProxyUrl":"http://127.0.0.1:3128","ExtraCaCertificates":[{:?}]}}"#,
            fixtures.join("school-proxy-ca.pem")
        ))
        .unwrap();
        assert!(p
            .apply_network(reqwest::Client::builder())
            .unwrap()
            .build()
            .is_ok());
        let (missing, _) =
            Policy::from_json(r#"{"ExtraCaCertificates":["/nonexistent/ca.pem"]}"#).unwrap();
        let err = missing
            .apply_network(reqwest::Client::builder())
            .unwrap_err();
        assert_eq!(err.code(), "policy.invalid");
        let (not_pem, _) = Policy::from_json(&format!(
            r#"{{"ExtraCaCertificates":[{:?}]}}"#,
            fixtures.join("machine.plist")
        ))
        .unwrap();
        assert!(not_pem.apply_network(reqwest::Client::builder()).is_err());
        assert!(not_pem.extra_ca_pem().is_err());
        let (bad_proxy, _) = Policy::from_json(r#"{"ProxyUrl":"not a url"}"#).unwrap();
        assert!(bad_proxy.apply_network(reqwest::Client::builder()).is_err());
    }
}
