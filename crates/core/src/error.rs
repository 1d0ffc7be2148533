//! The core's one error type. Every variant has a stable machine code
//! (`area.reason`) that the UI's catalogs turn into zh-TW / English words and
//! the CLI prints; the codes are part of the product's contract and only grow.

use std::fmt;

pub type Result<T, E = CoreError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A field failed the shared rule set; `code` is the rule's code.
    #[error("invalid {field}: {code}")]
    Invalid { field: String, code: String },
    /// The Education Cloud service answered with an RFC 9457 problem.
    #[error("service problem {code} (HTTP {status})")]
    Service {
        status: u16,
        code: String,
        field: Option<String>,
        detail: Option<String>,
    },
    #[error("cannot reach {what}: {detail}")]
    Unreachable { what: String, detail: String },
    #[error("unexpected answer from {what}: {detail}")]
    BadResponse { what: String, detail: String },
    /// The county sign-in failed a security check (state, iss, signature …).
    #[error("sign-in rejected: {code}")]
    SignInRejected { code: &'static str, detail: String },
    /// The identity provider itself said no (RFC 6749 §4.1.2.1 error).
    #[error("identity provider error {error}")]
    IdpError {
        error: String,
        description: Option<String>,
    },
    #[error("sign-in was cancelled")]
    Cancelled,
    #[error("sign-in timed out")]
    TimedOut,
    #[error("another sign-in is already waiting")]
    SignInPending,
    #[error("unknown county {0}")]
    UnknownCounty(String),
    #[error("county {0} is not allowed by policy")]
    CountyNotAllowed(String),
    #[error("not signed in")]
    NotSignedIn,
    #[error("keychain unavailable: {0}")]
    KeychainUnavailable(String),
    #[error("keychain entry too large ({0} bytes)")]
    KeychainTooLarge(usize),
    #[error("keychain failure: {0}")]
    Keychain(String),
    #[error("could not open the browser: {0}")]
    BrowserLaunch(String),
    #[error("setting {0} is fixed by policy")]
    PolicyLocked(&'static str),
    #[error("policy source {source_name} is invalid: {detail}")]
    PolicyInvalid { source_name: String, detail: String },
    #[error("registration is disabled by policy")]
    RegistrationDisabled,
    /// A staff registration without a county sign-in in this process.
    #[error("no verified county identity for this registration")]
    CountyIdentityMissing,
    #[error("local store: {0}")]
    Store(#[from] rusqlite::Error),
    #[error("local store migration: {0}")]
    Migration(String),
    #[error("file system: {0}")]
    Io(#[from] std::io::Error),
    #[error("no data directory could be found for this user")]
    NoDataDir,
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoreError {
    /// The stable machine code for this error.
    pub fn code(&self) -> &str {
        match self {
            CoreError::Invalid { code, .. } | CoreError::Service { code, .. } => code,
            CoreError::Unreachable { .. } => "network.unreachable",
            CoreError::BadResponse { .. } => "network.bad_response",
            CoreError::SignInRejected { code, .. } => code,
            CoreError::IdpError { error, .. } => match error.as_str() {
                "access_denied" => "signin.access_denied",
                "login_required" | "interaction_required" => "signin.login_required",
                _ => "signin.idp_error",
            },
            CoreError::Cancelled => "signin.cancelled",
            CoreError::TimedOut => "signin.timed_out",
            CoreError::SignInPending => "signin.pending",
            CoreError::UnknownCounty(_) => "county.unknown",
            CoreError::CountyNotAllowed(_) => "county.not_allowed",
            CoreError::NotSignedIn => "session.not_signed_in",
            CoreError::KeychainUnavailable(_) => "keychain.unavailable",
            CoreError::KeychainTooLarge(_) => "keychain.too_large",
            CoreError::Keychain(_) => "keychain.failed",
            CoreError::BrowserLaunch(_) => "browser.launch_failed",
            CoreError::PolicyLocked(_) => "policy.locked",
            CoreError::PolicyInvalid { .. } => "policy.invalid",
            CoreError::RegistrationDisabled => "registration.disabled",
            CoreError::CountyIdentityMissing => "session.county_identity_missing",
            CoreError::Store(_) | CoreError::Migration(_) => "store.failed",
            CoreError::Io(_) => "io.failed",
            CoreError::NoDataDir => "io.no_data_dir",
            CoreError::Internal(_) => "internal",
        }
    }

    /// The form field the error belongs under, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            CoreError::Invalid { field, .. } => Some(field),
            CoreError::Service { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// Extra words for diagnostics (never contains a secret).
    pub fn detail(&self) -> Option<String> {
        match self {
            CoreError::Service { detail, .. } => detail.clone(),
            CoreError::IdpError { description, .. } => description.clone(),
            CoreError::Invalid { .. } | CoreError::Cancelled | CoreError::TimedOut => None,
            other => Some(other.to_string()),
        }
    }

    pub fn invalid(field: impl fmt::Display, code: impl fmt::Display) -> Self {
        CoreError::Invalid {
            field: field.to_string(),
            code: code.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_dotted_words() {
        let samples = [
            CoreError::Cancelled,
            CoreError::TimedOut,
            CoreError::NotSignedIn,
            CoreError::KeychainUnavailable("x".into()),
            CoreError::PolicyLocked("Language"),
            CoreError::IdpError {
                error: "access_denied".into(),
                description: None,
            },
        ];
        let codes: Vec<_> = samples.iter().map(|e| e.code().to_string()).collect();
        assert_eq!(
            codes,
            [
                "signin.cancelled",
                "signin.timed_out",
                "session.not_signed_in",
                "keychain.unavailable",
                "policy.locked",
                "signin.access_denied"
            ]
        );
    }

    #[test]
    fn invalid_carries_its_field() {
        let e = CoreError::invalid("backup_email", "email.mismatch");
        assert_eq!(e.code(), "email.mismatch");
        assert_eq!(e.field(), Some("backup_email"));
        assert_eq!(e.detail(), None);
    }
}
