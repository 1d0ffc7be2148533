//! The policy keys, declared **once**: the table at the bottom of this file
//! generates the [`Policy`] struct, [`KEYS`], the key-by-key merge
//! ([`Policy::or`]), [`Policy::is_set`], [`Policy::display`] and the value
//! shape the registry / plist / JSON parsers coerce to ([`Policy::shape`]).
//! Adding a key is one line in the table (plus its templates in `deploy/`
//! and its row in `docs/it/policies.md`, which `tests/policy_sources.rs`
//! checks).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::{CountyOverride, EnvironmentKind, Language, UpdateChannel};

/// The shape a key's value takes in the loosely typed sources (registry,
/// plist), which [`super::raw`] coerces before serde checks the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Bool,
    Text,
    /// A string matched case-insensitively (`Environment`, `UpdateChannel`).
    Lowercase,
    /// A list of strings: an array, or one string separated by `;`, `,` or
    /// line breaks.
    List,
    /// A JSON object: an object (plist dictionary), or JSON text (one
    /// string, or the lines of a multi-line string joined).
    Object,
}

/// What each value type of the table brings: its shape in the loose
/// sources and how `doctor` prints it (secrets redacted).
pub(crate) trait KeyValue {
    const SHAPE: Shape;
    fn show(&self) -> String;
}

impl KeyValue for bool {
    const SHAPE: Shape = Shape::Bool;
    fn show(&self) -> String {
        self.to_string()
    }
}

impl KeyValue for String {
    const SHAPE: Shape = Shape::Text;
    fn show(&self) -> String {
        self.clone()
    }
}

impl KeyValue for Vec<String> {
    const SHAPE: Shape = Shape::List;
    fn show(&self) -> String {
        self.join(",")
    }
}

impl KeyValue for Vec<PathBuf> {
    const SHAPE: Shape = Shape::List;
    fn show(&self) -> String {
        self.iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl KeyValue for EnvironmentKind {
    const SHAPE: Shape = Shape::Lowercase;
    fn show(&self) -> String {
        self.as_str().to_string()
    }
}

impl KeyValue for UpdateChannel {
    const SHAPE: Shape = Shape::Lowercase;
    fn show(&self) -> String {
        self.as_str().to_string()
    }
}

impl KeyValue for Language {
    const SHAPE: Shape = Shape::Text;
    fn show(&self) -> String {
        self.as_str().to_string()
    }
}

impl KeyValue for BTreeMap<String, CountyOverride> {
    const SHAPE: Shape = Shape::Object;
    fn show(&self) -> String {
        self.iter()
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
    }
}

macro_rules! policy_keys {
    ($( $(#[$doc:meta])* $name:literal => $field:ident : $ty:ty, )*) => {
        /// Every key an IT policy can set. `None` means "not set by policy".
        /// Generated from the table in `policy/keys.rs`.
        #[derive(Debug, Clone, Default, Deserialize)]
        #[serde(default)]
        pub struct Policy {
            $( $(#[$doc])* #[serde(rename = $name)] pub $field: Option<$ty>, )*
        }

        /// The keys, in the order `doctor` prints them.
        pub const KEYS: &[&str] = &[$($name),*];

        impl Policy {
            /// Fills every key `self` leaves unset from `lower` (lower
            /// precedence).
            pub fn or(self, lower: Policy) -> Policy {
                Policy { $( $field: self.$field.or(lower.$field), )* }
            }

            /// Whether policy sets `key` (one of [`KEYS`]): the UI shows a
            /// lock and 由您的機構管理 / Managed by your organization on
            /// that setting.
            pub fn is_set(&self, key: &str) -> bool {
                match key {
                    $( $name => self.$field.is_some(), )*
                    _ => false,
                }
            }

            /// A printable value of one key for `doctor` (secrets redacted).
            pub fn display(&self, key: &str) -> Option<String> {
                let shown = match key {
                    $( $name => self.$field.as_ref().map(KeyValue::show), )*
                    _ => None,
                };
                // A proxy password is a secret (h4b-network).
                if key == "ProxyUrl" {
                    shown.map(|v| crate::net::proxy::redact(&v))
                } else {
                    shown
                }
            }

            /// The shape of `key`'s value (`None`: not a key).
            pub(crate) fn shape(key: &str) -> Option<Shape> {
                match key {
                    $( $name => Some(<$ty as KeyValue>::SHAPE), )*
                    _ => None,
                }
            }

            /// `self` without the keys `other` sets.
            pub fn without_keys_of(self, other: &Policy) -> Policy {
                Policy {
                    $( $field: if other.$field.is_some() { None } else { self.$field }, )*
                }
            }
        }
    };
}

policy_keys! {
    /// Which Education Cloud: `sandbox`, `production` or `custom`.
    "Environment" => environment: EnvironmentKind,
    /// The service URL (`custom`, or another production URL).
    "ServiceUrl" => service_url: String,
    /// The county preselected in the drop-down.
    "DefaultCounty" => default_county: String,
    /// Only these counties are offered.
    "AllowedCounties" => allowed_counties: Vec<String>,
    /// Counties added or changed by IT.
    "CountyOverrides" => county_overrides: BTreeMap<String, CountyOverride>,
    /// Whether 保持登入狀態 may be offered.
    "AllowStaySignedIn" => allow_stay_signed_in: bool,
    /// Shared-device mode (computer classrooms).
    "SharedDevice" => shared_device: bool,
    /// Hide registration.
    "DisableRegistration" => disable_registration: bool,
    /// The command line that opens the browser (the URL is appended).
    "BrowserCommand" => browser_command: String,
    /// The proxy for all of the app's HTTP.
    "ProxyUrl" => proxy_url: String,
    /// Hosts that go direct, not through `ProxyUrl`.
    "ProxyBypass" => proxy_bypass: Vec<String>,
    /// PEM files of CAs trusted besides the system's.
    "ExtraCaCertificates" => extra_ca_certificates: Vec<PathBuf>,
    /// No automatic updates (IT deploys new versions itself).
    "DisableUpdates" => disable_updates: bool,
    /// `stable` or `beta`.
    "UpdateChannel" => update_channel: UpdateChannel,
    /// The UI language: `zh-TW` or `en`.
    "Language" => language: Language,
    /// Whether the developer variables (`EDUCLOUD_POLICY`,
    /// `EDUCLOUD_SERVICE_URL`, `EDUCLOUD_BROWSER`) apply in a release build
    /// — never to a key the machine policy sets. Honoured only from the
    /// machine's own policy.
    "AllowDeveloperOverrides" => allow_developer_overrides: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_a_shape_and_only_keys_do() {
        for key in KEYS {
            assert!(Policy::shape(key).is_some(), "{key}");
        }
        assert_eq!(Policy::shape("NoSuchKey"), None);
        assert_eq!(Policy::shape("SharedDevice"), Some(Shape::Bool));
        assert_eq!(Policy::shape("UpdateChannel"), Some(Shape::Lowercase));
        assert_eq!(Policy::shape("ExtraCaCertificates"), Some(Shape::List));
        assert_eq!(Policy::shape("CountyOverrides"), Some(Shape::Object));
    }

    #[test]
    fn without_keys_of_drops_exactly_the_keys_set_above() {
        let (machine, _) = Policy::from_json(r#"{"SharedDevice":true}"#).unwrap();
        let (dev, _) = Policy::from_json(r#"{"SharedDevice":false,"Language":"en"}"#).unwrap();
        let rest = dev.without_keys_of(&machine);
        assert_eq!(rest.set_keys(), ["Language"]);
    }
}
