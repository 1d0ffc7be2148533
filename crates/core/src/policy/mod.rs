//! IT policies: one model, several sources, one precedence rule —
//! **policy beats user setting beats default**.
//!
//! Sources (first found wins per key; machine beats user):
//! - `EDUCLOUD_POLICY=<file>` (tests, IT trials) — replaces the Linux file;
//! - Linux `/etc/educloud/policy.json`;
//! - Windows `HKLM\SOFTWARE\Policies\EduCloud\Desktop`, then HKCU;
//! - macOS managed preferences for the bundle id.
//!
//! Parsing and merging are OS-independent so they are tested everywhere.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// The well-known Linux policy file.
pub const LINUX_POLICY_FILE: &str = "/etc/educloud/policy.json";

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

/// The policy in force and where it came from.
#[derive(Debug, Clone, Default)]
pub struct LoadedPolicy {
    pub policy: Policy,
    /// Each source that contributed, highest precedence first.
    pub sources: Vec<String>,
    /// Problems found (unreadable file, unknown keys): shown by `doctor` and
    /// in the diagnostics view.
    pub problems: Vec<String>,
}

impl LoadedPolicy {
    /// Reads the policy sources of this OS.
    pub fn load() -> LoadedPolicy {
        let file = std::env::var_os("EDUCLOUD_POLICY")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(LINUX_POLICY_FILE));
        let mut loaded = LoadedPolicy::default();
        loaded.add_file(&file);
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
        let current = std::mem::take(&mut self.policy);
        self.policy = current.or(policy);
        self.sources.push(name);
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
    }
}
