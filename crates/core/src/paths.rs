//! Where the app keeps its files: the OS app-data folder (Linux
//! `$XDG_DATA_HOME/educloud`, macOS `~/Library/Application Support/tw.EduCloud.educloud`,
//! Windows `%APPDATA%\EduCloud\educloud\data`), overridable with
//! `EDUCLOUD_DATA_DIR` for tests and portable setups.

use std::path::{Path, PathBuf};

use crate::{CoreError, Result};

/// The app's folders for one user.
#[derive(Debug, Clone)]
pub struct AppPaths {
    pub data_dir: PathBuf,
    pub log_dir: PathBuf,
}

impl AppPaths {
    /// Resolves the folders from the environment (does not create them).
    pub fn from_env() -> Result<Self> {
        if let Some(dir) = std::env::var_os("EDUCLOUD_DATA_DIR").filter(|v| !v.is_empty()) {
            return Ok(Self::under(Path::new(&dir)));
        }
        let dirs = directories::ProjectDirs::from("tw", "EduCloud", "educloud")
            .ok_or(CoreError::NoDataDir)?;
        Ok(AppPaths {
            data_dir: dirs.data_dir().to_path_buf(),
            log_dir: dirs.data_local_dir().join("logs"),
        })
    }

    /// Everything under one folder (tests, portable installs).
    pub fn under(root: &Path) -> Self {
        AppPaths {
            data_dir: root.to_path_buf(),
            log_dir: root.join("logs"),
        }
    }

    pub fn ensure(&self) -> Result<()> {
        std::fs::create_dir_all(&self.data_dir)?;
        std::fs::create_dir_all(&self.log_dir)?;
        Ok(())
    }

    /// The app's SQLite database.
    pub fn database(&self) -> PathBuf {
        self.data_dir.join("educloud.sqlite")
    }

    /// Damaged stores the app moved aside (kept for IT), oldest first.
    pub fn damaged_stores(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = std::fs::read_dir(&self.data_dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    n.starts_with(crate::desktop::DAMAGED_PREFIX) && n.ends_with(".sqlite")
                })
            })
            .collect();
        out.sort();
        out
    }

    /// The embedded sandbox's own folder (its SQLite file, keys, outbox).
    pub fn sandbox_dir(&self) -> PathBuf {
        self.data_dir.join("sandbox")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_puts_everything_below_one_root() {
        let p = AppPaths::under(Path::new("/tmp/x"));
        assert_eq!(p.database(), Path::new("/tmp/x/educloud.sqlite"));
        assert_eq!(p.log_dir, Path::new("/tmp/x/logs"));
        assert_eq!(p.sandbox_dir(), Path::new("/tmp/x/sandbox"));
    }
}
