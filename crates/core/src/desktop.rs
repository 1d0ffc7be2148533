//! [`Desktop`]: the core state one app process (window or CLI) holds — its
//! folders, store, policy, browser launcher and the Education Cloud service
//! it talks to. The Tauri shell and the CLI both build one of these and call
//! the same functions on it.

use std::sync::Arc;

use tokio::sync::OnceCell;
use url::Url;

use serde::{Deserialize, Serialize};

use crate::browser::{BrowserOpener, SystemBrowser};
use crate::paths::AppPaths;
use crate::policy::{EnvironmentKind, LoadedPolicy, Policy};
use crate::store::Store;
use crate::{settings, CoreError, Result};

/// The Education Cloud service this process talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEndpoint {
    pub kind: EnvironmentKind,
    pub base_url: Url,
}

pub struct Desktop {
    pub paths: AppPaths,
    pub store: Store,
    policy: LoadedPolicy,
    pub browser: Arc<dyn BrowserOpener>,
    service: OnceCell<ServiceEndpoint>,
}

impl Desktop {
    /// Opens the store under `paths` and reads the policy.
    pub fn open(paths: AppPaths, policy: LoadedPolicy) -> Result<Self> {
        paths.ensure()?;
        let store = open_store(&paths)?;
        let browser = Arc::new(SystemBrowser::new(
            policy.browser_command().map(str::to_string),
        ));
        Ok(Desktop {
            paths,
            store,
            policy,
            browser,
            service: OnceCell::new(),
        })
    }

    /// The policy in force (what every rule of the app asks).
    pub fn policy(&self) -> &Policy {
        self.policy.policy()
    }

    /// The policy with its sources and problems (for `doctor` and the
    /// diagnostics view).
    pub fn loaded_policy(&self) -> &LoadedPolicy {
        &self.policy
    }

    /// The one-time notice after a damaged store was moved aside (shown once
    /// by the window; `doctor` prints it), until [`Desktop::dismiss_store_notice`].
    pub fn store_notice(&self) -> Option<StoreNotice> {
        let text = self.store.setting(STORE_NOTICE_KEY).ok().flatten()?;
        serde_json::from_str(&text).ok()
    }

    /// The user has seen the notice.
    pub fn dismiss_store_notice(&self) -> Result<()> {
        self.store.clear_setting(STORE_NOTICE_KEY)
    }

    /// Replaces the browser launcher (tests).
    pub fn with_browser(mut self, browser: Arc<dyn BrowserOpener>) -> Self {
        self.browser = browser;
        self
    }

    /// The resolved environment choice (before any sandbox is started).
    pub fn environment(&self) -> Result<settings::Resolved<settings::EnvironmentChoice>> {
        settings::environment(&self.policy, &self.store)
    }

    /// Whether the user must choose the service first (a release build's
    /// first run: no policy, no earlier choice). The window shows the
    /// first-run screen; nothing connects until then.
    pub fn needs_service_choice(&self) -> Result<bool> {
        settings::needs_service_choice(&self.policy, &self.store)
    }

    /// Sets the service once it is known (the embedded sandbox's URL, or the
    /// configured one). Later calls are ignored.
    pub fn set_service(&self, endpoint: ServiceEndpoint) {
        let _ = self.service.set(endpoint);
    }

    /// The service, once known.
    pub fn service(&self) -> Option<&ServiceEndpoint> {
        self.service.get()
    }

    /// Waits until the service is known (the embedded sandbox starts in the
    /// background so the window is not delayed).
    pub async fn wait_service(&self) -> Result<&ServiceEndpoint> {
        for _ in 0..200 {
            if let Some(s) = self.service.get() {
                return Ok(s);
            }
            if self.needs_service_choice()? {
                return Err(CoreError::ServiceNotChosen);
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        Err(CoreError::Unreachable {
            what: "Education Cloud".into(),
            detail: "the service did not start".into(),
        })
    }
}

/// Where the notice about a recovered store is kept (in the fresh store).
const STORE_NOTICE_KEY: &str = "store_notice";

/// What the user is told, once, after the app found its store damaged (a
/// power cut mid-write) and started a fresh one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreNotice {
    /// Where the damaged file now is (kept for IT).
    pub moved_to: String,
    /// When it was moved (RFC 3339, UTC).
    pub at: String,
    /// What SQLite found.
    pub reason: String,
    /// What was in it and is lost: `drafts`, `accounts` (the account list on
    /// this PC), `history`, `settings`. Sessions kept with 保持登入狀態 are
    /// in the OS keychain, not in the store: they stay, and signing in again
    /// with the same account finds them.
    pub lost: Vec<String>,
}

/// Opens the store; a damaged one is moved aside (named with the date, in
/// the same folder) and a fresh store started, with a [`StoreNotice`] in it.
fn open_store(paths: &AppPaths) -> Result<Store> {
    let db = paths.database();
    let reason = match Store::open(&db) {
        Err(CoreError::StoreDamaged(reason)) => reason,
        other => return other,
    };
    let now = time::OffsetDateTime::now_utc();
    let moved_to = move_aside(&db, now)?;
    tracing::error!(
        reason,
        moved_to = %moved_to.display(),
        "the local store was damaged: moved aside, starting a fresh one"
    );
    let store = Store::open(&db)?;
    let notice = StoreNotice {
        moved_to: moved_to.display().to_string(),
        at: now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        reason,
        lost: ["drafts", "accounts", "history", "settings"]
            .map(String::from)
            .to_vec(),
    };
    let text = serde_json::to_string(&notice).map_err(|e| CoreError::Internal(e.to_string()))?;
    store.set_setting(STORE_NOTICE_KEY, &text)?;
    Ok(store)
}

/// Renames `db` (and its `-wal` / `-shm` files, so the fresh store does not
/// pick them up) to `educloud.damaged-<YYYYMMDDTHHMMSSZ>[-n].sqlite`.
fn move_aside(db: &std::path::Path, now: time::OffsetDateTime) -> Result<std::path::PathBuf> {
    let stamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let dir = db.parent().unwrap_or(std::path::Path::new("."));
    let target = (1..1000)
        .map(|n| {
            let suffix = if n == 1 {
                String::new()
            } else {
                format!("-{n}")
            };
            dir.join(format!("{DAMAGED_PREFIX}{stamp}{suffix}.sqlite"))
        })
        .find(|p| !p.exists())
        .ok_or_else(|| CoreError::StoreDamaged("no free name to move it aside".into()))?;
    std::fs::rename(db, &target)?;
    for ext in ["-wal", "-shm"] {
        let mut side = db.as_os_str().to_owned();
        side.push(ext);
        let side = std::path::PathBuf::from(side);
        if side.exists() {
            let mut to = target.as_os_str().to_owned();
            to.push(ext);
            std::fs::rename(&side, std::path::PathBuf::from(to))?;
        }
    }
    Ok(target)
}

/// The start of a moved-aside store's file name (see [`AppPaths::damaged_stores`]).
pub const DAMAGED_PREFIX: &str = "educloud.damaged-";

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &std::path::Path) -> Result<Desktop> {
        Desktop::open(AppPaths::under(dir), LoadedPolicy::default())
    }

    fn assert_recovered(dir: &std::path::Path, original: &[u8]) {
        let d = open(dir).expect("a damaged store must not stop the app");
        let notice = d.store_notice().expect("a notice");
        assert_eq!(notice.lost, ["drafts", "accounts", "history", "settings"]);
        let moved = std::path::PathBuf::from(&notice.moved_to);
        assert_eq!(d.paths.damaged_stores(), std::slice::from_ref(&moved));
        let name = moved.file_name().unwrap().to_str().unwrap().to_string();
        assert!(
            name.starts_with("educloud.damaged-20") && name.ends_with("Z.sqlite"),
            "{name}"
        );
        assert_eq!(std::fs::read(&moved).unwrap(), original, "kept as it was");
        // The fresh store works, and the notice survives a restart until
        // it is dismissed.
        d.store.set_setting("language", "en").unwrap();
        drop(d);
        let d = open(dir).unwrap();
        assert_eq!(d.store_notice(), Some(notice));
        d.dismiss_store_notice().unwrap();
        assert_eq!(d.store_notice(), None);
        drop(d);
        let d = open(dir).unwrap();
        assert_eq!(d.store_notice(), None);
        assert_eq!(d.store.setting("language").unwrap().as_deref(), Some("en"));
        assert_eq!(d.paths.damaged_stores().len(), 1);
    }

    #[test]
    fn a_garbage_store_is_moved_aside_and_a_fresh_one_starts() {
        let dir = tempfile::tempdir().unwrap();
        let garbage: Vec<u8> = (0..10_000u32).map(|i| (i * 7919 % 251) as u8).collect();
        std::fs::write(dir.path().join("educloud.sqlite"), &garbage).unwrap();
        std::fs::write(dir.path().join("educloud.sqlite-wal"), b"junk").unwrap();
        assert_recovered(dir.path(), &garbage);
        assert!(
            !dir.path().join("educloud.sqlite-wal").exists()
                || std::fs::read(dir.path().join("educloud.sqlite-wal")).unwrap() != b"junk"
        );
    }

    #[test]
    fn a_store_cut_short_by_a_power_failure_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        {
            let d = open(dir.path()).unwrap();
            for i in 0..400 {
                d.store
                    .set_setting(&format!("key-{i}"), &"x".repeat(500))
                    .unwrap();
            }
        }
        let db = dir.path().join("educloud.sqlite");
        let whole = std::fs::read(&db).unwrap();
        assert!(whole.len() > 64 * 1024, "{}", whole.len());
        let cut = &whole[..whole.len() / 2 + 100];
        std::fs::write(&db, cut).unwrap();
        assert_recovered(dir.path(), cut);
    }

    #[test]
    fn a_store_with_a_torn_page_inside_is_moved_aside() {
        // The header and the schema are intact, so the file opens; a page
        // in the middle was half written. Only SQLite's check finds it.
        let dir = tempfile::tempdir().unwrap();
        {
            let d = open(dir.path()).unwrap();
            for i in 0..400 {
                d.store
                    .set_setting(&format!("key-{i}"), &"x".repeat(500))
                    .unwrap();
            }
        }
        let db = dir.path().join("educloud.sqlite");
        let mut bytes = std::fs::read(&db).unwrap();
        let page = 4096;
        let middle = (bytes.len() / page / 2) * page;
        for (i, b) in bytes[middle..middle + page / 2].iter_mut().enumerate() {
            *b = (i % 7) as u8 + 0xA0;
        }
        std::fs::write(&db, &bytes).unwrap();
        assert_recovered(dir.path(), &bytes);
    }

    #[test]
    fn a_healthy_store_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        open(dir.path())
            .unwrap()
            .store
            .set_setting("a", "b")
            .unwrap();
        let d = open(dir.path()).unwrap();
        assert_eq!(d.store_notice(), None);
        assert!(d.paths.damaged_stores().is_empty());
        assert_eq!(d.store.setting("a").unwrap().as_deref(), Some("b"));
    }
}
