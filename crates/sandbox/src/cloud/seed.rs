//! The demo accounts every sandbox starts with (clearly fake; documented on
//! the sandbox home page and in `docs/notes/sandbox-cloud.md`):
//! - `{code}bound@mail.edu.tw` for every county: staff, active, bound to the
//!   county's `{code}bound` demo user;
//! - `parent.demo@example.com`: other member, active;
//! - `pending.demo@example.com`: other member, not activated yet.
//!
//! All have the password [`DEMO_CLOUD_PASSWORD`]. The seeding is idempotent
//! (`INSERT OR IGNORE`), so a persistent sandbox keeps what users changed.
//! One argon2id hash is computed at start and shared by the demo accounts
//! (same password; the shared salt only matters for fake accounts).

use educloud_contract::county::COUNTIES;
use educloud_contract::wire::STAFF_MAIL_DOMAIN;
use rusqlite::params;

use super::{Cloud, CloudError};

/// The Education Cloud password of every demo account. Clearly fake.
pub const DEMO_CLOUD_PASSWORD: &str = "Demo-pass-2026!";
/// The active demo member.
pub const DEMO_PARENT: &str = "parent.demo@example.com";
/// The demo member who has not opened the activation link.
pub const DEMO_PENDING: &str = "pending.demo@example.com";

pub(super) fn seed(cloud: &Cloud) -> Result<(), CloudError> {
    let phc = cloud
        .hasher
        .hash_now(DEMO_CLOUD_PASSWORD)
        .map_err(CloudError::Hashing)?;
    let now = cloud.now();
    let mut conn = cloud.db.lock();
    let tx = conn.transaction()?;
    let mut staff = 0;
    for county in COUNTIES {
        let Some(who) = cloud.counties.bound_demo_user(county.code) else {
            continue;
        };
        let email = format!("{}bound@{STAFF_MAIL_DOMAIN}", county.code);
        staff += tx.execute(
            "INSERT OR IGNORE INTO accounts (email, identity, status, password_hash, display_name, \
             nickname, backup_email, county, sub, role, title, school_id, school_name, created_at) \
             VALUES (?1, 'staff', 'active', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                email,
                phc,
                who.name,
                format!("{}老師", who.name.chars().next().unwrap_or('王')),
                format!("{}bound.backup@example.com", county.code),
                county.code,
                who.sub,
                who.role,
                who.title,
                who.school_id,
                who.school_name,
                now
            ],
        )?;
    }
    for (email, status, name, nickname) in [
        (DEMO_PARENT, "active", "李大同", "大同爸爸"),
        (DEMO_PENDING, "pending_activation", "黃小芬", "小芬媽媽"),
    ] {
        tx.execute(
            "INSERT OR IGNORE INTO accounts (email, identity, status, password_hash, display_name, \
             nickname, backup_email, created_at) VALUES (?1, 'other', ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                email,
                status,
                phc,
                name,
                nickname,
                email.replace("@example.com", ".backup@example.org"),
                now
            ],
        )?;
    }
    tx.commit()?;
    tracing::debug!(staff, "demo accounts seeded");
    Ok(())
}
