//! The local SQLite store: settings, known accounts, drafts, cached
//! documents and the sign-in history — never a secret.
//!
//! Migrations are embedded (`migrations/<timestamp>_<name>/up.sql`) and run
//! by `rusqlite_migration` on open; the database uses WAL and a busy timeout
//! so the app and a CLI invocation can share it.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension};
use rusqlite_migration::{Migrations, M};
use serde::Serialize;
use time::OffsetDateTime;

use crate::{CoreError, Result};

const MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!("../migrations/20261125T1200_init/up.sql")),
    M::up(include_str!(
        "../migrations/20261206T1840_session_binding/up.sql"
    )),
];

/// A handle on the app's database. Cheap operations only; callers on an
/// async runtime may call it directly (each call is a few microseconds).
pub struct Store {
    conn: Mutex<Connection>,
}

/// One row of the sign-in history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    pub at: String,
    pub method: String,
    pub county: Option<String>,
    pub account: Option<String>,
    pub outcome: String,
}

/// An account known on this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KnownAccount {
    pub account: String,
    pub display_name: Option<String>,
    pub county: Option<String>,
    pub method: String,
    pub stay_signed_in: bool,
    pub last_signed_in: String,
    /// The service its kept session belongs to (an origin, or `sandbox`);
    /// `None` before sessions were bound to their service.
    pub service_origin: Option<String>,
}

pub(crate) fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// SQLite's "not a database" and "malformed" mean the file is damaged;
/// anything else (locked, read-only, a full disk) is not the file's fault.
fn damaged_or_failed(e: impl Into<CoreError>) -> CoreError {
    match e.into() {
        CoreError::Store(rusqlite::Error::SqliteFailure(f, detail))
            if matches!(
                f.code,
                rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
            ) =>
        {
            CoreError::StoreDamaged(detail.unwrap_or_else(|| f.to_string()))
        }
        other => other,
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path`, checks it and
    /// migrates it. A file SQLite cannot use — not a database, or one that
    /// fails `PRAGMA quick_check` (a power cut mid-write) — is
    /// [`CoreError::StoreDamaged`]; [`crate::desktop::Desktop::open`] then
    /// moves it aside and starts a fresh store.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let conn = Connection::open(path).map_err(damaged_or_failed)?;
        let check = || -> Result<()> {
            // The first read of the file: "file is not a database" shows here.
            let verdict: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
            if verdict == "ok" {
                Ok(())
            } else {
                Err(CoreError::StoreDamaged(verdict))
            }
        };
        check().map_err(damaged_or_failed)?;
        Self::init(conn).map_err(damaged_or_failed)
    }

    /// An in-memory database (tests, `--ephemeral`).
    pub fn in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Self> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Migrations::from_slice(MIGRATIONS)
            .to_latest(&mut conn)
            .map_err(|e| CoreError::Migration(e.to_string()))?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A poisoned lock only means another thread panicked mid-call; the
        // connection itself is still consistent (SQLite is transactional).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    // ---- settings ----
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO settings(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    pub fn clear_setting(&self, key: &str) -> Result<()> {
        self.conn()
            .execute("DELETE FROM settings WHERE key = ?1", [key])?;
        Ok(())
    }

    // ---- cache ----
    /// A cached value that has not expired.
    pub fn cached(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT value FROM cache WHERE key = ?1 AND expires_at > ?2",
                params![key, now_unix()],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn put_cached(&self, key: &str, value: &str, ttl_secs: i64) -> Result<()> {
        self.conn().execute(
            "INSERT INTO cache(key, value, expires_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
            params![key, value, now_unix().saturating_add(ttl_secs)],
        )?;
        Ok(())
    }

    pub fn drop_cached(&self, key: &str) -> Result<()> {
        self.conn()
            .execute("DELETE FROM cache WHERE key = ?1", [key])?;
        Ok(())
    }

    // ---- drafts ----
    pub fn draft(&self, kind: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT data FROM drafts WHERE kind = ?1", [kind], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn save_draft(&self, kind: &str, data: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO drafts(kind, data, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(kind) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
            params![kind, data, now_rfc3339()],
        )?;
        Ok(())
    }

    pub fn delete_draft(&self, kind: &str) -> Result<()> {
        self.conn()
            .execute("DELETE FROM drafts WHERE kind = ?1", [kind])?;
        Ok(())
    }

    // ---- accounts ----
    pub fn remember_account(&self, a: &KnownAccount) -> Result<()> {
        self.conn().execute(
            "INSERT INTO accounts(account, display_name, county, method, stay_signed_in, last_signed_in, service_origin)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(account) DO UPDATE SET display_name = excluded.display_name,
               county = excluded.county, method = excluded.method,
               stay_signed_in = excluded.stay_signed_in, last_signed_in = excluded.last_signed_in,
               service_origin = excluded.service_origin",
            params![
                a.account,
                a.display_name,
                a.county,
                a.method,
                a.stay_signed_in,
                a.last_signed_in,
                a.service_origin
            ],
        )?;
        Ok(())
    }

    pub fn set_stay_signed_in(&self, account: &str, on: bool) -> Result<()> {
        self.conn().execute(
            "UPDATE accounts SET stay_signed_in = ?2 WHERE account = ?1",
            params![account, on],
        )?;
        Ok(())
    }

    /// Removes `account` from this device: its row and its sign-in history
    /// (one transaction).
    pub fn forget_account(&self, account: &str) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM accounts WHERE account = ?1", [account])?;
        tx.execute("DELETE FROM sign_in_history WHERE account = ?1", [account])?;
        tx.commit()?;
        Ok(())
    }

    /// Known accounts, most recently used first.
    pub fn accounts(&self) -> Result<Vec<KnownAccount>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT account, display_name, county, method, stay_signed_in, last_signed_in, service_origin
             FROM accounts ORDER BY last_signed_in DESC, account",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(KnownAccount {
                account: r.get(0)?,
                display_name: r.get(1)?,
                county: r.get(2)?,
                method: r.get(3)?,
                stay_signed_in: r.get(4)?,
                last_signed_in: r.get(5)?,
                service_origin: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    // ---- sessions still to be ended at their service (no token here) ----

    /// Notes that `account`'s session at `origin` is still to be revoked.
    pub fn add_pending_revocation(&self, account: &str, origin: &str) -> Result<()> {
        self.conn().execute(
            "INSERT OR REPLACE INTO pending_revocations(account, service_origin, since)
             VALUES (?1, ?2, ?3)",
            params![account, origin, now_rfc3339()],
        )?;
        Ok(())
    }

    /// The sessions still to be revoked: `(account, origin)`, oldest first.
    pub fn pending_revocations(&self) -> Result<Vec<(String, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT account, service_origin FROM pending_revocations ORDER BY since, account",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Forgets a pending revocation (done, or nothing left to revoke).
    pub fn remove_pending_revocation(&self, account: &str, origin: &str) -> Result<()> {
        self.conn().execute(
            "DELETE FROM pending_revocations WHERE account = ?1 AND service_origin = ?2",
            params![account, origin],
        )?;
        Ok(())
    }

    // ---- history ----
    pub fn record_sign_in(
        &self,
        method: &str,
        county: Option<&str>,
        account: Option<&str>,
        outcome: &str,
    ) -> Result<()> {
        self.conn().execute(
            "INSERT INTO sign_in_history(at, method, county, account, outcome) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![now_rfc3339(), method, county, account, outcome],
        )?;
        Ok(())
    }

    /// The newest `limit` history rows, newest first.
    pub fn history(&self, limit: u32) -> Result<Vec<HistoryEntry>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT at, method, county, account, outcome FROM sign_in_history
             ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], |r| {
            Ok(HistoryEntry {
                at: r.get(0)?,
                method: r.get(1)?,
                county: r.get(2)?,
                account: r.get(3)?,
                outcome: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        assert!(Migrations::from_slice(MIGRATIONS).validate().is_ok());
    }

    #[test]
    fn file_database_survives_reopen_and_uses_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b.sqlite");
        {
            let s = Store::open(&path).unwrap();
            s.set_setting("language", "en").unwrap();
            s.save_draft("registration", "{\"nickname\":\"x\"}")
                .unwrap();
            let mode: String = s
                .conn()
                .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .unwrap();
            assert_eq!(mode, "wal");
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.setting("language").unwrap().as_deref(), Some("en"));
        assert!(s.draft("registration").unwrap().is_some());
        s.delete_draft("registration").unwrap();
        assert!(s.draft("registration").unwrap().is_none());
    }

    #[test]
    fn cache_expires() {
        let s = Store::in_memory().unwrap();
        s.put_cached("k", "v", 60).unwrap();
        assert_eq!(s.cached("k").unwrap().as_deref(), Some("v"));
        s.put_cached("k", "v", -1).unwrap();
        assert_eq!(s.cached("k").unwrap(), None);
    }

    #[test]
    fn history_is_newest_first_and_accounts_upsert() {
        let s = Store::in_memory().unwrap();
        s.record_sign_in("county", Some("ntpc"), None, "ok")
            .unwrap();
        s.record_sign_in("password", None, Some("a@b.tw"), "auth.invalid_credentials")
            .unwrap();
        let h = s.history(10).unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].method, "password");
        let mut a = KnownAccount {
            account: "t@mail.edu.tw".into(),
            display_name: Some("王".into()),
            county: Some("ntpc".into()),
            method: "county".into(),
            stay_signed_in: false,
            last_signed_in: now_rfc3339(),
            service_origin: Some("https://cloud.edu.tw".into()),
        };
        s.remember_account(&a).unwrap();
        a.stay_signed_in = true;
        s.remember_account(&a).unwrap();
        let all = s.accounts().unwrap();
        assert_eq!(all.len(), 1);
        assert!(all[0].stay_signed_in);
        assert_eq!(
            all[0].service_origin.as_deref(),
            Some("https://cloud.edu.tw")
        );
        // Pending revocations: a marker only (the token is in the keychain).
        s.add_pending_revocation("t@mail.edu.tw", "https://cloud.edu.tw")
            .unwrap();
        s.add_pending_revocation("t@mail.edu.tw", "https://cloud.edu.tw")
            .unwrap();
        assert_eq!(
            s.pending_revocations().unwrap(),
            [(
                "t@mail.edu.tw".to_string(),
                "https://cloud.edu.tw".to_string()
            )]
        );
        s.remove_pending_revocation("t@mail.edu.tw", "https://cloud.edu.tw")
            .unwrap();
        assert!(s.pending_revocations().unwrap().is_empty());
    }
}
