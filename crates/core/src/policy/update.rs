//! What the policy says about updates: whether the updater may check
//! ([`Policy::update_gate`]) and which channel's feed it reads
//! ([`channel_endpoint`]).

use super::{EnvironmentKind, Policy, UpdateChannel};

/// Whether the updater may check for a new version, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateGate {
    /// Check the given channel.
    Allowed { channel: UpdateChannel },
    /// `DisableUpdates` is set (IT deploys new versions itself).
    DisabledByPolicy,
    /// The offline demo never reaches for the network to update.
    DemoEnvironment,
    /// A developer's or test's service override (`EDUCLOUD_SERVICE_URL`), or
    /// a debug build: never update.
    Development,
}

impl Policy {
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
            UpdateGate::Allowed {
                channel: self.update_channel.unwrap_or(UpdateChannel::Stable),
            }
        }
    }
}

/// Rewrites an updater endpoint for a channel: the release workflow
/// publishes `latest.json` under the rolling releases `updater-stable` and
/// `updater-beta`, and the configured endpoint names `updater-stable`.
pub fn channel_endpoint(endpoint: &str, channel: UpdateChannel) -> String {
    match channel {
        UpdateChannel::Stable => endpoint.to_string(),
        other => endpoint.replace("/updater-stable/", &format!("/updater-{}/", other.as_str())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_gate_honours_policy_demo_and_development() {
        use EnvironmentKind::*;
        let none = Policy::default();
        let stable = UpdateGate::Allowed {
            channel: UpdateChannel::Stable,
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
        let (beta, _) = Policy::from_json(r#"{"UpdateChannel":"Beta"}"#).unwrap();
        assert_eq!(
            beta.update_gate(Custom, false, false),
            UpdateGate::Allowed {
                channel: UpdateChannel::Beta
            }
        );
        let (odd, _) = Policy::from_json(r#"{"UpdateChannel":"nightly"}"#).unwrap();
        assert_eq!(odd.update_gate(Production, false, false), stable);
    }

    #[test]
    fn channel_endpoints() {
        let e = "https://github.com/o/r/releases/download/updater-stable/latest.json";
        assert_eq!(channel_endpoint(e, UpdateChannel::Stable), e);
        assert_eq!(
            channel_endpoint(e, UpdateChannel::Beta),
            "https://github.com/o/r/releases/download/updater-beta/latest.json"
        );
    }
}
