//! Password hashing with argon2id (the `argon2` crate, RustCrypto).
//!
//! Sandbox parameters are deliberately modest — m = 8 MiB, t = 2, p = 1 —
//! so that a test suite registering a hundred accounts on a 2-core machine
//! stays fast; production would use at least OWASP's m = 19 MiB, t = 2.
//! Hashing runs on the blocking pool, at most two at a time, so a burst of
//! registrations cannot exhaust memory or starve the async workers.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use educloud_contract::wire::Secret;
use tokio::sync::Semaphore;

use super::problem::ApiError;

/// Memory cost in KiB.
pub const M_COST_KIB: u32 = 8 * 1024;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

pub struct Hasher {
    argon: Argon2<'static>,
    slots: Semaphore,
    /// Verified against when the account does not exist, so a wrong e-mail
    /// costs as much time as a wrong password.
    decoy: String,
}

impl Hasher {
    pub fn new() -> Result<Hasher, String> {
        let params = Params::new(M_COST_KIB, T_COST, P_COST, None).map_err(|e| e.to_string())?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::generate(&mut OsRng);
        let decoy = argon
            .hash_password(b"decoy password for unknown accounts", &salt)
            .map_err(|e| e.to_string())?
            .to_string();
        Ok(Hasher {
            argon,
            slots: Semaphore::new(2),
            decoy,
        })
    }

    /// Hashes synchronously (start-up seeding only).
    pub fn hash_now(&self, password: &str) -> Result<String, String> {
        let salt = SaltString::generate(&mut OsRng);
        self.argon
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| e.to_string())
    }

    /// A PHC string (`$argon2id$v=19$m=8192,t=2,p=1$…`) for `password`.
    pub async fn hash(&self, password: &Secret) -> Result<String, ApiError> {
        let _slot = self.slots.acquire().await.map_err(ApiError::internal)?;
        let argon = self.argon.clone();
        let password = password.clone();
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon
                .hash_password(password.expose_secret().as_bytes(), &salt)
                .map(|h| h.to_string())
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
    }

    /// Whether `password` matches `phc`; with `None` (no such account) it
    /// checks against a decoy and returns false.
    pub async fn verify(&self, password: &Secret, phc: Option<String>) -> Result<bool, ApiError> {
        let _slot = self.slots.acquire().await.map_err(ApiError::internal)?;
        let argon = self.argon.clone();
        let password = password.clone();
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| self.decoy.clone());
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&phc)
                .map(|parsed| {
                    argon
                        .verify_password(password.expose_secret().as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .map_err(ApiError::internal)?;
        Ok(ok && known)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_are_argon2id_with_the_documented_params() {
        let h = Hasher::new().unwrap();
        let pw = Secret::new("Correct-horse-42");
        let phc = h.hash(&pw).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=8192,t=2,p=1$"), "{phc}");
        assert!(!phc.contains("Correct-horse"));
        assert!(h.verify(&pw, Some(phc.clone())).await.unwrap());
        assert!(!h.verify(&Secret::new("wrong"), Some(phc)).await.unwrap());
        assert!(!h.verify(&pw, None).await.unwrap());
        assert!(!h.verify(&pw, Some("not a phc".into())).await.unwrap());
    }
}
