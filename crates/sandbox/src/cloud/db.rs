//! The Education Cloud's SQLite database: one connection behind a mutex
//! (the sandbox's load is a person or a test suite), a schema created on
//! open, and the account rows' mapping to the wire [`Account`].
//!
//! Tokens (activation, reset, access, refresh, used county tokens) are kept
//! only as SHA-256 digests; passwords only as argon2id PHC strings.
//! Uniqueness of account names and of (county, sub) bindings is enforced by
//! UNIQUE constraints, so concurrent registrations cannot both win.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use educloud_contract::wire::{Account, AccountStatus, Identity};
use rusqlite::{Connection, OptionalExtension, Row};

/// File name of the cloud's database inside the sandbox's data folder.
pub const DB_FILE: &str = "education-cloud.sqlite3";

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS accounts (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    identity      TEXT NOT NULL CHECK (identity IN ('staff', 'other')),
    status        TEXT NOT NULL CHECK (status IN ('active', 'pending_activation')),
    password_hash TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    nickname      TEXT NOT NULL,
    backup_email  TEXT NOT NULL,
    phone         TEXT,
    gender        TEXT,
    county        TEXT,
    sub           TEXT,
    role          TEXT,
    title         TEXT,
    school_id     TEXT,
    school_name   TEXT,
    avatar        BLOB,
    avatar_type   TEXT,
    created_at    INTEGER NOT NULL,
    UNIQUE (county, sub)
);
CREATE TABLE IF NOT EXISTS mail_tokens (
    digest     BLOB PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('activation', 'reset')),
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX IF NOT EXISTS mail_tokens_by_account ON mail_tokens (account_id, kind, created_at);
CREATE TABLE IF NOT EXISTS session_families (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    digest     BLOB PRIMARY KEY,
    family_id  INTEGER NOT NULL REFERENCES session_families(id) ON DELETE CASCADE,
    rotated_at INTEGER,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS access_tokens (
    digest     BLOB PRIMARY KEY,
    family_id  INTEGER NOT NULL REFERENCES session_families(id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS used_county_tokens (
    digest     BLOB PRIMARY KEY,
    county     TEXT NOT NULL,
    used_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS web_handoffs (
    digest     BLOB PRIMARY KEY,
    family_id  INTEGER NOT NULL REFERENCES session_families(id) ON DELETE CASCADE,
    target     TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE TABLE IF NOT EXISTS web_sessions (
    digest     BLOB PRIMARY KEY,
    family_id  INTEGER NOT NULL REFERENCES session_families(id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id       INTEGER PRIMARY KEY,
    to_addr  TEXT NOT NULL,
    subject  TEXT NOT NULL,
    body     TEXT NOT NULL,
    links    TEXT NOT NULL,
    sent_at  INTEGER NOT NULL
);
"#;

/// The shared connection.
#[derive(Clone)]
pub struct Db(Arc<Mutex<Connection>>);

impl Db {
    /// Opens (creating) the database in `dir`, or in memory for `None`.
    pub fn open(dir: Option<&Path>) -> rusqlite::Result<Db> {
        let conn = match dir {
            Some(dir) => {
                let conn = Connection::open(dir.join(DB_FILE))?;
                conn.pragma_update(None, "journal_mode", "WAL")?;
                conn
            }
            None => Connection::open_in_memory()?,
        };
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Db(Arc::new(Mutex::new(conn))))
    }

    /// The connection; never held across an `.await`.
    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// An account row (without the password hash and avatar).
#[derive(Debug, Clone)]
pub struct AccountRow {
    pub id: i64,
    pub account: Account,
}

pub const ACCOUNT_COLUMNS: &str = "id, email, identity, status, display_name, nickname, county, \
     title, role, school_id, school_name";

pub fn account_from_row(row: &Row<'_>) -> rusqlite::Result<AccountRow> {
    let identity: String = row.get(2)?;
    let status: String = row.get(3)?;
    Ok(AccountRow {
        id: row.get(0)?,
        account: Account {
            email: row.get(1)?,
            identity: if identity == "staff" {
                Identity::Staff
            } else {
                Identity::Other
            },
            status: if status == "active" {
                AccountStatus::Active
            } else {
                AccountStatus::PendingActivation
            },
            display_name: row.get(4)?,
            nickname: row.get(5)?,
            county: row.get(6)?,
            title: row.get(7)?,
            role: row.get(8)?,
            school_id: row.get(9)?,
            school_name: row.get(10)?,
        },
    })
}

pub fn account_by_id(conn: &Connection, id: i64) -> rusqlite::Result<Option<AccountRow>> {
    conn.query_row(
        &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1"),
        [id],
        account_from_row,
    )
    .optional()
}

pub fn account_by_email(conn: &Connection, email: &str) -> rusqlite::Result<Option<AccountRow>> {
    conn.query_row(
        &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE email = ?1"),
        [email],
        account_from_row,
    )
    .optional()
}

/// Which UNIQUE constraint an insert broke, if that is what failed.
pub fn unique_violation(e: &rusqlite::Error) -> Option<&'static str> {
    match e {
        rusqlite::Error::SqliteFailure(err, Some(msg))
            if err.code == rusqlite::ErrorCode::ConstraintViolation && msg.contains("UNIQUE") =>
        {
            if msg.contains("accounts.email") {
                Some("email")
            } else if msg.contains("accounts.sub") || msg.contains("accounts.county") {
                Some("openid")
            } else {
                Some("other")
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_constraints_are_recognised() {
        let db = Db::open(None).unwrap();
        let conn = db.lock();
        let insert = |email: &str, county: Option<&str>, sub: Option<&str>| {
            conn.execute(
                "INSERT INTO accounts (email, identity, status, password_hash, display_name, \
                 nickname, backup_email, county, sub, created_at) \
                 VALUES (?1, 'staff', 'active', 'x', 'n', 'n', 'b@example.com', ?2, ?3, 0)",
                rusqlite::params![email, county, sub],
            )
        };
        insert("a@mail.edu.tw", Some("ntpc"), Some("s1")).unwrap();
        let e = insert("a@mail.edu.tw", Some("ntpc"), Some("s2")).unwrap_err();
        assert_eq!(unique_violation(&e), Some("email"));
        let e = insert("b@mail.edu.tw", Some("ntpc"), Some("s1")).unwrap_err();
        assert_eq!(unique_violation(&e), Some("openid"));
        // NULL bindings (other members) never collide.
        insert("c@example.com", None, None).unwrap();
        insert("d@example.com", None, None).unwrap();
        let row = account_by_email(&conn, "a@mail.edu.tw").unwrap().unwrap();
        assert_eq!(row.account.identity, Identity::Staff);
    }
}
