//! [`LoadedPolicy`]: the policy in force, where each key came from, and the
//! problems found while reading the sources.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{macos, windows, Policy, KEYS, LINUX_POLICY_FILE};

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

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Adds a JSON file source (lower precedence than those already added).
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
}
