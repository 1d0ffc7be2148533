//! macOS policy source: managed preferences for [`BUNDLE_ID`], as a
//! configuration profile (`deploy/macos/EduCloud.mobileconfig`, installed by
//! Jamf, Intune or by hand) leaves them:
//! `/Library/Managed Preferences/tw.edu.cloud.desktop.plist` (the computer)
//! and `/Library/Managed Preferences/<user>/tw.edu.cloud.desktop.plist` (the
//! user). The computer's file wins key by key, as HKLM does on Windows.
//!
//! Plist types per key: switches are `<true/>`/`<false/>` (integers 0/1 are
//! accepted), text is `<string>`, lists are `<array>` of strings,
//! `CountyOverrides` is a `<dict>` of county code → `<dict>` (JSON text in a
//! `<string>` is accepted too).
//!
//! Parsing (binary or XML plists) is OS-independent and tested everywhere;
//! only [`add_os_sources`] is compiled on macOS.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{raw, LoadedPolicy, Policy};

/// The app's bundle identifier: the managed-preferences domain.
pub const BUNDLE_ID: &str = "tw.edu.cloud.desktop";

/// Where macOS puts managed preferences.
pub const MANAGED_PREFERENCES_DIR: &str = "/Library/Managed Preferences";

/// Builds a policy from a managed-preferences dictionary. Profile
/// bookkeeping keys (`Payload…`) are ignored; other unknown keys and wrong
/// types are returned as problems.
pub fn policy_from_plist(dict: &plist::Dictionary) -> (Policy, Vec<String>) {
    let values = dict.iter().map(|(k, v)| (k.clone(), to_json(v)));
    raw::policy_from_values(values, |name| name.starts_with("Payload"))
}

fn to_json(v: &plist::Value) -> Result<Value, String> {
    Ok(match v {
        plist::Value::Boolean(b) => Value::Bool(*b),
        plist::Value::String(s) => Value::String(s.clone()),
        plist::Value::Integer(i) => match (i.as_signed(), i.as_unsigned()) {
            (Some(n), _) => Value::from(n),
            (None, Some(n)) => Value::from(n),
            (None, None) => return Err("an integer out of range".to_string()),
        },
        plist::Value::Real(r) => {
            serde_json::Number::from_f64(*r).map_or(Value::Null, Value::Number)
        }
        plist::Value::Array(items) => {
            Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?)
        }
        plist::Value::Dictionary(d) => Value::Object(
            d.iter()
                .map(|(k, v)| Ok((k.clone(), to_json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        plist::Value::Data(_) => return Err("<data> is not supported".to_string()),
        plist::Value::Date(_) => return Err("<date> is not supported".to_string()),
        _ => return Err("this plist type is not supported".to_string()),
    })
}

impl LoadedPolicy {
    /// Adds a managed-preferences plist (binary or XML) below the sources
    /// already added. A missing file adds nothing.
    pub fn add_plist_file(&mut self, path: &Path) {
        self.add_plist_file_as(path, true);
    }

    /// [`LoadedPolicy::add_plist_file`] for the computer's file (`machine`)
    /// or a user's.
    fn add_plist_file_as(&mut self, path: &Path, machine: bool) {
        let name = path.display().to_string();
        match plist::Value::from_file(path) {
            Ok(plist::Value::Dictionary(dict)) => {
                let (policy, problems) = policy_from_plist(&dict);
                self.problems
                    .extend(problems.into_iter().map(|p| format!("{name}: {p}")));
                if machine {
                    self.add(name, policy);
                } else {
                    self.add_user(name, policy);
                }
            }
            Ok(_) => self.problems.push(format!(
                "{name}: ignored, the top level must be a dictionary"
            )),
            Err(e) if e.as_io().map(std::io::Error::kind) == Some(std::io::ErrorKind::NotFound) => {
            }
            Err(e) => self.problems.push(format!("{name}: ignored, {e}")),
        }
    }
}

/// The managed-preferences files under `root`, computer first, then the
/// user's (if `user` is a plain account name).
pub fn managed_preference_files(root: &Path, user: Option<&str>) -> Vec<PathBuf> {
    let file = format!("{BUNDLE_ID}.plist");
    let mut out = vec![root.join(&file)];
    if let Some(user) =
        user.filter(|u| !u.is_empty() && *u != "." && *u != ".." && !u.contains(['/', '\\', '\0']))
    {
        out.push(root.join(user).join(&file));
    }
    out
}

/// Adds the computer's then the user's managed preferences under `root`.
pub fn add_managed_preferences(loaded: &mut LoadedPolicy, root: &Path, user: Option<&str>) {
    for (i, file) in managed_preference_files(root, user).iter().enumerate() {
        loaded.add_plist_file_as(file, i == 0);
    }
}

#[cfg(target_os = "macos")]
pub(super) fn add_os_sources(loaded: &mut LoadedPolicy) {
    let user = std::env::var("USER").ok();
    add_managed_preferences(loaded, Path::new(MANAGED_PREFERENCES_DIR), user.as_deref());
}

#[cfg(not(target_os = "macos"))]
pub(super) fn add_os_sources(_loaded: &mut LoadedPolicy) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_cannot_escape_the_folder() {
        let root = Path::new("/Library/Managed Preferences");
        assert_eq!(managed_preference_files(root, Some("../etc")).len(), 1);
        assert_eq!(managed_preference_files(root, Some("")).len(), 1);
        assert_eq!(managed_preference_files(root, None).len(), 1);
        assert_eq!(
            managed_preference_files(root, Some("teacher"))[1],
            Path::new("/Library/Managed Preferences/teacher/tw.edu.cloud.desktop.plist")
        );
    }

    #[test]
    fn data_and_dates_are_reported() {
        let mut d = plist::Dictionary::new();
        d.insert("Language".into(), plist::Value::Data(vec![1, 2]));
        d.insert("PayloadUUID".into(), plist::Value::String("x".into()));
        d.insert("DisableUpdates".into(), plist::Value::Integer(1.into()));
        let (p, problems) = policy_from_plist(&d);
        assert_eq!(p.disable_updates, Some(true));
        assert_eq!(problems, ["Language: ignored, <data> is not supported"]);
    }

    #[test]
    fn a_plist_that_is_not_a_dictionary_is_a_problem() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x.plist");
        plist::Value::Array(vec![]).to_file_xml(&f).unwrap();
        let mut l = LoadedPolicy::default();
        l.add_plist_file(&f);
        l.add_plist_file(&dir.path().join("missing.plist"));
        std::fs::write(dir.path().join("junk.plist"), "not a plist").unwrap();
        l.add_plist_file(&dir.path().join("junk.plist"));
        assert!(l.sources.is_empty());
        assert_eq!(l.problems.len(), 2, "{:?}", l.problems);
    }
}
