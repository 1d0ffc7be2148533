//! IT policies: one model, several sources, one precedence rule —
//! **policy beats user setting beats default**.
//!
//! Sources, highest precedence first (each key comes from the first source
//! that sets it; machine beats user):
//! - Windows: `HKLM\SOFTWARE\Policies\EduCloud\Desktop`, then the same key
//!   under HKCU ([`windows`]);
//! - macOS: managed preferences for [`macos::BUNDLE_ID`], the computer-wide
//!   file, then the user's own ([`macos`]);
//! - Linux: the JSON file [`LINUX_POLICY_FILE`].
//!
//! The keys are declared once, in the table of `keys.rs`. The machine policy
//! is a floor no variable lowers: the developer variables
//! (`EDUCLOUD_POLICY`, `EDUCLOUD_SERVICE_URL`, `EDUCLOUD_BROWSER`) and their
//! rules are in [`load`](LoadedPolicy).
//!
//! Parsing and merging are OS-independent and tested on every OS; only the
//! few lines that open the registry or find the managed-preferences folder
//! are compiled per OS.

pub(crate) mod check;
mod keys;
mod load;
pub mod macos;
mod raw;
pub mod update;
pub mod windows;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

pub use keys::{Policy, KEYS};
pub use load::{
    Build, DeveloperOverrides, DeveloperVars, IgnoreReason, IgnoredVariable, LoadedPolicy,
};
pub use update::{channel_endpoint, UpdateGate};

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

impl EnvironmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EnvironmentKind::Sandbox => "sandbox",
            EnvironmentKind::Production => "production",
            EnvironmentKind::Custom => "custom",
        }
    }
}

/// The UI languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Language {
    #[serde(rename = "zh-TW", alias = "zh-tw")]
    ZhTw,
    #[serde(rename = "en")]
    En,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::ZhTw, Language::En];

    /// `zh-TW` or `en`.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::ZhTw => "zh-TW",
            Language::En => "en",
        }
    }

    /// Parses `zh-TW` / `en` (exactly as [`Language::as_str`] writes them).
    pub fn parse(s: &str) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// The update channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpdateChannel {
    Stable,
    Beta,
}

impl UpdateChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateChannel::Stable => "stable",
            UpdateChannel::Beta => "beta",
        }
    }
}

impl std::fmt::Display for UpdateChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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

impl Policy {
    /// Parses a JSON policy document key by key, with the same rules as the
    /// registry and the plist: a wrong value skips its key (reported), the
    /// other keys apply; unknown keys are reported, not fatal, so a newer
    /// template does not break an older app. `Err` only when the text is not
    /// a JSON object.
    pub fn from_json(text: &str) -> Result<(Policy, Vec<String>), String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let serde_json::Value::Object(obj) = value else {
            return Err("the document must be a JSON object".to_string());
        };
        Ok(raw::policy_from_values(
            obj.into_iter().map(|(k, v)| (k, Ok(v))),
            |_| false,
        ))
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

    /// The keys policy sets, in [`KEYS`] order.
    pub fn set_keys(&self) -> Vec<&'static str> {
        KEYS.iter().copied().filter(|k| self.is_set(k)).collect()
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
            "UpdateChannel":"stable","Language":"en","ProxyBypass":[],
            "AllowDeveloperOverrides":false}"#,
        )
        .unwrap();
        let empty = Policy::default();
        for key in KEYS {
            assert!(full.is_set(key) && full.display(key).is_some(), "{key}");
            assert!(!empty.is_set(key) && empty.display(key).is_none(), "{key}");
        }
        assert!(!full.is_set("NoSuchKey"));
    }
}
