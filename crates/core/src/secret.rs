//! Secrets as types that cannot leak by accident.
//!
//! Passwords, tokens, authorization codes and PKCE verifiers are
//! [`secrecy::SecretString`]s: `Debug` prints `[REDACTED]`, there is no
//! `Display` and no `Serialize`, and the memory is zeroed on drop. Reading
//! one takes an explicit [`ExposeSecret::expose_secret`] call, which is easy
//! to audit (`rg expose_secret`).

pub use secrecy::{ExposeSecret, SecretString};

/// Makes a [`SecretString`] from anything string-like.
pub fn secret(value: impl Into<String>) -> SecretString {
    SecretString::from(value.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = secret("hunter2-very-secret");
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(s.expose_secret(), "hunter2-very-secret");
    }
}
