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
    /// An answer body larger than the cap for what it is (`net::limits`).
    #[error("{what} from {host} is larger than {limit} bytes")]
    ResponseTooLarge {
        what: String,
        host: String,
        limit: u64,
    },
    /// The service answered 5xx without a problem document (a maintenance
    /// page, an overloaded proxy in front of it).
    #[error("{what} is unavailable (HTTP {status})")]
    ServiceUnavailable { what: String, status: u16 },
    /// No answer within the time allowed (`net::CONNECT_TIMEOUT` /
    /// `net::REQUEST_TIMEOUT`).
    #[error("{what} did not answer in time")]
    NetworkTimedOut { what: String },
    /// The server's certificate was refused (untrusted CA, expired, another
    /// host's, revoked …): never the network's fault.
    #[error("the certificate of {what} is {problem}: {detail}")]
    Tls {
        what: String,
        problem: crate::net::TlsProblem,
        detail: String,
    },
    /// The proxy refused the connection: it wants a (different) user name
    /// and password (`auth`), or it could not open the tunnel.
    #[error("the proxy refused the connection to {what}: {detail}")]
    Proxy {
        what: String,
        auth: bool,
        detail: String,
    },
    /// The county sign-in failed a security check (state, iss, signature …).
    #[error("sign-in rejected: {code}")]
    SignInRejected { code: &'static str, detail: String },
    /// The identity provider itself said no (RFC 6749 §4.1.2.1 error).
    #[error("identity provider error {error:?}")]
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
    /// No session in this process (nothing to refresh, call or sign out).
    #[error("not signed in")]
    NotSignedIn,
    /// No county sign-in is waiting (finish, reopen the browser).
    #[error("no county sign-in is waiting")]
    NoSignInPending,
    /// The account has no session kept with 保持登入狀態 (account switching).
    #[error("{0} has no kept session on this device")]
    NotKept(String),
    /// The account's kept session was issued by another service than the
    /// one the app uses now: it is never sent there (issue 12 item 2).
    #[error("the kept session of {account} belongs to {origin}")]
    KeptForOtherService { account: String, origin: String },
    /// The kept session's refresh token has expired.
    #[error("the kept session has expired")]
    KeptSessionExpired,
    /// A refresh answered with another account than the session's.
    #[error("the refreshed session belongs to another account")]
    AccountChanged,
    /// The Education Cloud service is not known yet (still starting).
    #[error("the Education Cloud service is not ready")]
    ServiceNotReady,
    /// No service chosen yet (a release build's first run).
    #[error(
        "no Education Cloud service has been chosen yet (choose it in the window, or: \
         educloud service production | sandbox | <your organization's URL>)"
    )]
    ServiceNotChosen,
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
    /// The database file is damaged (not a database, or it fails SQLite's
    /// check): [`crate::desktop::Desktop::open`] moves it aside.
    #[error("the local store is damaged: {0}")]
    StoreDamaged(String),
    #[error("file system: {0}")]
    Io(#[from] std::io::Error),
    #[error("no data directory could be found for this user")]
    NoDataDir,
    #[error("internal error: {0}")]
    Internal(String),
}

/// The session's codes (the core's own, beside the contract's
/// `wire::code` and the sign-in checks' `oidc::code`): the core matches on
/// these constants, never on string literals.
pub mod code {
    pub const NOT_SIGNED_IN: &str = "session.not_signed_in";
    pub const NO_SIGN_IN_PENDING: &str = "signin.none_pending";
    pub const NOT_KEPT: &str = "session.not_kept";
    pub const OTHER_SERVICE: &str = "session.other_service";
    pub const REFRESH_EXPIRED: &str = "refresh.expired";
    pub const ACCOUNT_CHANGED: &str = "session.account_changed";
    pub const SERVICE_NOT_READY: &str = "service.not_ready";
    /// A release build with no policy and no choice yet: the user picks
    /// the service first (first-run screen, `educloud service`).
    pub const SERVICE_NOT_CHOSEN: &str = "service.not_chosen";
    /// The organization's service URL is not a URL.
    pub const SERVICE_URL_INVALID: &str = "service.url_invalid";
    /// The organization's service URL is not https.
    pub const SERVICE_URL_NOT_HTTPS: &str = "service.url_not_https";
    /// The URL answers, but not as an Education Cloud service (no
    /// `.well-known/educloud-configuration`).
    pub const SERVICE_NOT_EDUCLOUD: &str = "service.not_educloud";
    /// Not an error: a sign-out that could not reach the service; the
    /// session is ended there at the next launch ([`crate::session::SignOutResult`]).
    pub const NOT_REVOKED: &str = "signout.not_revoked";
    /// Not an error: 保持登入狀態 was asked for but could not be kept
    /// (the reason's own code is beside it).
    pub const NOT_KEPT_NOW: &str = "session.stay_signed_in_failed";

    /// Every code in this module (the catalogs' list-keeping test).
    pub const ALL: &[&str] = &[
        NOT_SIGNED_IN,
        NO_SIGN_IN_PENDING,
        NOT_KEPT,
        OTHER_SERVICE,
        REFRESH_EXPIRED,
        ACCOUNT_CHANGED,
        SERVICE_NOT_READY,
        SERVICE_NOT_CHOSEN,
        SERVICE_URL_INVALID,
        SERVICE_URL_NOT_HTTPS,
        SERVICE_NOT_EDUCLOUD,
        NOT_REVOKED,
        NOT_KEPT_NOW,
    ];
}

impl CoreError {
    /// The stable machine code for this error.
    pub fn code(&self) -> &str {
        match self {
            CoreError::Invalid { code, .. } | CoreError::Service { code, .. } => code,
            CoreError::Unreachable { .. } => "network.unreachable",
            CoreError::BadResponse { .. } => "network.bad_response",
            CoreError::ResponseTooLarge { .. } => "network.response_too_large",
            CoreError::ServiceUnavailable { .. } => "network.service_unavailable",
            CoreError::NetworkTimedOut { .. } => "network.timed_out",
            CoreError::Tls { problem, .. } => problem.code(),
            CoreError::Proxy { auth: true, .. } => "network.proxy_auth",
            CoreError::Proxy { auth: false, .. } => "network.proxy_failed",
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
            CoreError::NotSignedIn => code::NOT_SIGNED_IN,
            CoreError::NoSignInPending => code::NO_SIGN_IN_PENDING,
            CoreError::NotKept(_) => code::NOT_KEPT,
            CoreError::KeptForOtherService { .. } => code::OTHER_SERVICE,
            CoreError::KeptSessionExpired => code::REFRESH_EXPIRED,
            CoreError::AccountChanged => code::ACCOUNT_CHANGED,
            CoreError::ServiceNotReady => code::SERVICE_NOT_READY,
            CoreError::ServiceNotChosen => code::SERVICE_NOT_CHOSEN,
            CoreError::KeychainUnavailable(_) => "keychain.unavailable",
            CoreError::KeychainTooLarge(_) => "keychain.too_large",
            CoreError::Keychain(_) => "keychain.failed",
            CoreError::BrowserLaunch(_) => "browser.launch_failed",
            CoreError::PolicyLocked(_) => "policy.locked",
            CoreError::PolicyInvalid { .. } => "policy.invalid",
            CoreError::RegistrationDisabled => "registration.disabled",
            CoreError::CountyIdentityMissing => "session.county_identity_missing",
            CoreError::Store(_) | CoreError::Migration(_) => "store.failed",
            CoreError::StoreDamaged(_) => "store.damaged",
            CoreError::Io(_) => "io.failed",
            CoreError::NoDataDir => "io.no_data_dir",
            CoreError::Internal(_) => "internal",
        }
    }

    /// Every fixed code [`Self::code`] can return (not the pass-through
    /// ones: `Invalid` → the contract's rules codes, `Service` → its
    /// `wire::code`, `SignInRejected` → [`crate::oidc::code::ALL`], `Tls` →
    /// the TLS problems), then this module's [`code::ALL`] and the keychain's
    /// reasons ([`crate::vault::UnavailableReason::ALL`]) — for the test
    /// that keeps the UI catalogs in step.
    pub fn all_codes() -> Vec<&'static str> {
        let fixed = [
            "network.unreachable",
            "network.bad_response",
            "network.response_too_large",
            "network.proxy_auth",
            "network.proxy_failed",
            "network.service_unavailable",
            "network.timed_out",
            "network.tls_untrusted",
            "network.tls_expired",
            "network.tls_not_yet_valid",
            "network.tls_hostname",
            "network.tls_revoked",
            "network.tls_failed",
            "signin.access_denied",
            "signin.login_required",
            "signin.idp_error",
            "signin.cancelled",
            "signin.timed_out",
            "signin.pending",
            "county.unknown",
            "county.not_allowed",
            "keychain.unavailable",
            "keychain.too_large",
            "keychain.failed",
            "browser.launch_failed",
            "policy.locked",
            "policy.invalid",
            "language.unsupported",
            "registration.disabled",
            "session.county_identity_missing",
            "store.failed",
            "store.damaged",
            "io.failed",
            "io.no_data_dir",
            "internal",
        ];
        let keychain = crate::vault::UnavailableReason::ALL
            .iter()
            .map(|r| r.code());
        fixed
            .into_iter()
            .chain(code::ALL.iter().copied())
            .chain(keychain)
            .collect()
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
