//! The Education Cloud API's wire types: the JSON bodies of
//! `docs/api/openapi.yaml`, shared by the app's client (`educloud-core`) and
//! the sandbox server so both sides serialize the same shapes.
//!
//! Conventions:
//! - Field names are the JSON names (snake_case); enums are snake_case strings.
//! - Optional request fields are `Option` with `#[serde(default)]` and are
//!   left out of the JSON when `None`.
//! - Passwords and tokens are [`Secret`]s: they serialize as plain strings on
//!   the wire (they must reach the server) but `Debug` prints `[redacted]`,
//!   so a request or response can be logged without leaking them.
//! - Errors are RFC 9457 problem details ([`Problem`], media type
//!   [`PROBLEM_JSON`]) with a stable machine [`Problem::code`]; the codes the
//!   service itself raises are in [`code`], the field rule codes come from
//!   [`crate::rules`].

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::county::IdpProfile;
/// `password_policy` in the service configuration.
pub use crate::rules::PasswordPolicy;
/// The two kinds of account (`staff` = 教師、職員、學生 with a county Open
/// ID, `other` = 家長、社會人士) and 性別 (`male` / `female`): the rule
/// set's own types, so the form and the wire cannot disagree.
pub use crate::rules::{Gender, Identity};

/// Media type of every error body (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The OAuth client id the desktop app is registered under at every county.
pub const DESKTOP_CLIENT_ID: &str = "educloud-desktop";

/// The mail domain of every staff (教育雲端帳號) account.
pub const STAFF_MAIL_DOMAIN: &str = "mail.edu.tw";

/// A password or token on the wire. Serializes as the bare string; `Debug`
/// never shows the value. Read it with [`Secret::expose_secret`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value (every call site is a place where it can leak:
    /// keep them few and auditable).
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

// ---------------------------------------------------------------------------
// Service configuration: GET {base}.well-known/educloud-configuration

/// The service configuration document the app reads first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceConfiguration {
    /// `sandbox` for the local stand-in, `production` for the real service.
    pub environment: String,
    /// Absolute base URL of the API, ending in `/` (e.g. `{base}api/v1/`).
    pub api_base: String,
    /// The terms version a registration must accept (e.g. `2026-11-01`).
    pub terms_version: String,
    /// The password rules' parameters (the server stays the authority).
    pub password_policy: PasswordPolicy,
    /// The county directory, in the seed's drop-down order.
    pub counties: Vec<CountyEntry>,
    /// Where the sandbox shows the mail it sends (absent in production).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox_url: Option<String>,
}

/// One county's (or the ministry's) Open ID provider as the service
/// configuration lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountyEntry {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    /// The issuer (for the Taipei profile: the OAuth2 base URL), no trailing
    /// slash.
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub profile: IdpProfile,
    /// The county's own words for its account (e.g. 校務行政帳號).
    pub account_label_zh: String,
    pub account_label_en: String,
}

// ---------------------------------------------------------------------------
// GET api/v1/terms?lang=zh-TW|en

/// The consent text a registration accepts, by version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terms {
    pub version: String,
    /// `zh-TW` or `en`.
    #[serde(default)]
    pub lang: String,
    pub title: String,
    pub sections: Vec<TermsSection>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermsSection {
    pub heading: String,
    pub body: String,
}

// ---------------------------------------------------------------------------
// GET api/v1/accounts/availability?name=

/// Whether `name@mail.edu.tw` can still be chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Availability {
    pub name: String,
    pub available: bool,
    /// Why not: a rule code (the name is malformed or reserved) or
    /// `account.taken`; `null` when available.
    #[serde(default)]
    pub code: Option<String>,
}

// ---------------------------------------------------------------------------
// Accounts

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Active,
    PendingActivation,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::PendingActivation => "pending_activation",
        }
    }
}

/// An Education Cloud account as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// `name@mail.edu.tw` (staff) or the member's own address (other).
    pub email: String,
    pub identity: Identity,
    pub status: AccountStatus,
    /// The real name: from the county's verified claims (staff) or typed
    /// (other).
    pub display_name: String,
    pub nickname: String,
    /// The county code the account is bound to (staff only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub county: Option<String>,
    /// Job title, e.g. 專任教師 (staff only, from the county).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Role, e.g. 教師 / 職員 (staff only, from the county).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub school_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub school_name: Option<String>,
}

// ---------------------------------------------------------------------------
// POST api/v1/registrations

/// A registration as the app sends it. The server validates every field with
/// [`crate::rules`] again and takes name, title and school of a staff
/// account from the verified county token, never from this body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationRequest {
    pub identity: Identity,
    /// Must equal the service configuration's `terms_version`.
    /// The server deserializes this body with
    /// [`crate::rules::RegistrationInput`] (plus the tokens and avatar), so
    /// every field failure is a 422 rule code, never a 400.
    pub terms_version: String,
    /// Staff: the county code whose Open ID signed the user in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub county: Option<String>,
    /// Staff: the county's ID token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<Secret>,
    /// Staff at a county without ID tokens (the Taipei profile): the county
    /// access token, checked at the county's user API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<Secret>,
    /// Staff: the local part of `name@mail.edu.tw`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
    /// Other: the member's own address, which becomes the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_confirm: Option<String>,
    /// Other: the member's real name as typed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub backup_email: String,
    #[serde(default)]
    pub backup_email_confirm: String,
    #[serde(default)]
    pub password: Secret,
    #[serde(default)]
    pub password_confirm: Secret,
    #[serde(default)]
    pub nickname: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<Gender>,
    /// The picture as base64 (standard alphabet, padding optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
}

/// 201 answer to a registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationResponse {
    pub account: Account,
    pub status: AccountStatus,
}

// ---------------------------------------------------------------------------
// Activations and password resets

/// `POST api/v1/activations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationRequest {
    pub token: Secret,
}

/// `POST api/v1/activations/resend` and `POST api/v1/password-resets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailRequest {
    pub email: String,
}

/// `POST api/v1/password-resets/{token}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordResetConfirm {
    pub password: Secret,
    pub password_confirm: Secret,
}

// ---------------------------------------------------------------------------
// Sessions

/// `POST api/v1/sessions`: sign in with a password or exchange a county
/// token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum SessionRequest {
    Password {
        email: String,
        password: Secret,
    },
    County {
        county: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id_token: Option<Secret>,
        /// The Taipei profile's access token instead of an ID token.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        access_token: Option<Secret>,
    },
}

/// `POST api/v1/sessions/refresh`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRequest {
    pub refresh_token: Secret,
}

/// `POST api/v1/sessions/revoke` (RFC 7009 style): ends the session family
/// of `token` — a refresh token (rotated or not, expired or not) or an
/// access token (expired or not) — without needing a live access token.
/// Always 204 for a well-formed request, whether or not the token was known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeRequest {
    pub token: Secret,
    /// [`TOKEN_TYPE_REFRESH`] or [`TOKEN_TYPE_ACCESS`]: where the service
    /// looks first; any other value is ignored (both kinds are searched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type_hint: Option<String>,
}

/// [`RevokeRequest::token_type_hint`] for a refresh token.
pub const TOKEN_TYPE_REFRESH: &str = "refresh_token";
/// [`RevokeRequest::token_type_hint`] for an access token.
pub const TOKEN_TYPE_ACCESS: &str = "access_token";

/// The 教育雲服務 pages a web hand-off may open (`POST api/v1/web-handoffs`):
/// 教育雲 (portal), 教育大市集 (market), 教育百科 (pedia), 教育媒體影音 (video).
pub const WEB_TARGETS: &[&str] = &["portal", "market", "pedia", "video"];

/// `POST api/v1/web-handoffs` (Bearer): a one-time link that signs a
/// browser in to the service's web page `target` (one of [`WEB_TARGETS`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebHandoffRequest {
    pub target: String,
}

/// A one-time web hand-off: open `url` in the browser within `expires_in`
/// seconds (≤ 60). The URL is a credential: single use, never logged.
/// `url` is a [`Secret`]: redacted in `Debug`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebHandoff {
    pub url: Secret,
    pub expires_in: u64,
    pub target: String,
}

/// A signed-in session: an opaque access token (Bearer, 15 minutes) and a
/// rotating refresh token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionTokens {
    pub access_token: Secret,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds the access token is valid.
    pub expires_in: u64,
    pub refresh_token: Secret,
    /// Seconds the refresh token is valid.
    pub refresh_expires_in: u64,
    pub account: Account,
}

// ---------------------------------------------------------------------------
// Sandbox outbox: GET {base}api/sandbox/outbox

/// One mail the sandbox sent, as its outbox shows it (tests read these to
/// follow activation and reset links).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMail {
    pub id: i64,
    pub to: String,
    pub subject: String,
    pub body: String,
    /// Every link in the body, in order.
    pub links: Vec<String>,
    /// RFC 3339 UTC.
    pub sent_at: String,
}

// ---------------------------------------------------------------------------
// Problems (RFC 9457)

/// An error answer. `code` is stable and localized by the UI; `field` names
/// the request field for validation errors (the JSON name, e.g.
/// `account_name`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// A URI naming the problem type: `urn:educloud:problem:{code}`.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Every field error when a registration fails validation (extension
    /// member); the first one is repeated in `code` / `field`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
    /// Seconds until a throttled request may be retried (extension member).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// One field's rule failure inside [`Problem::errors`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldProblem {
    pub code: String,
    pub field: String,
}

impl Problem {
    /// A problem with the status and title [`code::status`] /
    /// [`code::title`] give for `code`.
    pub fn new(code: &str) -> Self {
        Problem {
            type_uri: format!("urn:educloud:problem:{code}"),
            title: code::title(code).to_owned(),
            status: code::status(code),
            code: code.to_owned(),
            field: None,
            detail: None,
            errors: Vec::new(),
            retry_after: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code, self.status)?;
        if let Some(field) = &self.field {
            write!(f, " field {field}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

/// The problem codes the service itself raises (field rule codes come from
/// [`crate::rules`] and are answered with 422).
pub mod code {
    pub const REQUEST_INVALID: &str = "request.invalid";
    pub const REQUEST_TOO_LARGE: &str = "request.too_large";
    pub const NOT_FOUND: &str = "request.not_found";
    pub const INTERNAL: &str = "server.internal";
    pub const AUTH_INVALID_CREDENTIALS: &str = "auth.invalid_credentials";
    pub const AUTH_NOT_ACTIVATED: &str = "auth.not_activated";
    pub const AUTH_THROTTLED: &str = "auth.throttled";
    pub const ACCOUNT_NOT_REGISTERED: &str = "account.not_registered";
    pub const ACCOUNT_TAKEN: &str = "account.taken";
    pub const OPENID_ALREADY_BOUND: &str = "openid.already_bound";
    pub const TERMS_OUTDATED: &str = "terms.outdated";
    pub const COUNTY_UNKNOWN: &str = "county.unknown";
    pub const TOKEN_INVALID: &str = "token.invalid";
    pub const TOKEN_EXPIRED: &str = "token.expired";
    pub const TOKEN_REPLAYED: &str = "token.replayed";
    pub const REFRESH_INVALID: &str = "refresh.invalid";
    pub const REFRESH_REUSED: &str = "refresh.reused";
    pub const SESSION_INVALID: &str = "session.invalid";
    pub const ACTIVATION_INVALID: &str = "activation.invalid";
    pub const ACTIVATION_EXPIRED: &str = "activation.expired";
    pub const ACTIVATION_THROTTLED: &str = "activation.throttled";
    pub const RESET_INVALID: &str = "reset.invalid";
    pub const RESET_EXPIRED: &str = "reset.expired";

    /// Every service code with its HTTP status and English title.
    pub const ALL: &[(&str, u16, &str)] = &[
        (REQUEST_INVALID, 400, "The request is malformed"),
        (REQUEST_TOO_LARGE, 413, "The request body is too large"),
        (NOT_FOUND, 404, "No such resource"),
        (INTERNAL, 500, "Internal error"),
        (AUTH_INVALID_CREDENTIALS, 401, "Wrong account or password"),
        (AUTH_NOT_ACTIVATED, 403, "The account is not activated yet"),
        (AUTH_THROTTLED, 429, "Too many sign-in attempts"),
        (
            ACCOUNT_NOT_REGISTERED,
            404,
            "No account is bound to this Open ID",
        ),
        (ACCOUNT_TAKEN, 409, "The account name is taken"),
        (
            OPENID_ALREADY_BOUND,
            409,
            "This Open ID is already bound to an account",
        ),
        (
            TERMS_OUTDATED,
            409,
            "The accepted terms are not the current version",
        ),
        (COUNTY_UNKNOWN, 422, "Unknown county"),
        (TOKEN_INVALID, 401, "The county token is not valid"),
        (TOKEN_EXPIRED, 401, "The county token has expired"),
        (TOKEN_REPLAYED, 401, "The county token was already used"),
        (REFRESH_INVALID, 401, "The refresh token is not valid"),
        (
            REFRESH_REUSED,
            401,
            "The refresh token was already used; the session is revoked",
        ),
        (
            SESSION_INVALID,
            401,
            "Not signed in or the session has ended",
        ),
        (ACTIVATION_INVALID, 400, "The activation link is not valid"),
        (ACTIVATION_EXPIRED, 410, "The activation link has expired"),
        (ACTIVATION_THROTTLED, 429, "Too many activation mails"),
        (RESET_INVALID, 400, "The password reset link is not valid"),
        (RESET_EXPIRED, 410, "The password reset link has expired"),
    ];

    /// The HTTP status for a code: the table's, else 422 (a field rule).
    pub fn status(code: &str) -> u16 {
        ALL.iter()
            .find(|(c, _, _)| *c == code)
            .map_or(422, |(_, s, _)| *s)
    }

    /// A short English title for a code (the UI localizes by code).
    pub fn title(code: &str) -> &'static str {
        ALL.iter()
            .find(|(c, _, _)| *c == code)
            .map_or("A field is not valid", |(_, _, t)| *t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_serialize_plainly_but_never_debug_print() {
        let req = SessionRequest::Password {
            email: "parent.demo@example.com".into(),
            password: Secret::new("Demo-pass-2026!"),
        };
        let shown = format!("{req:?}");
        assert!(!shown.contains("Demo-pass"), "{shown}");
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(
            v,
            json!({"method":"password","email":"parent.demo@example.com","password":"Demo-pass-2026!"})
        );
    }

    #[test]
    fn county_session_request_is_tagged_by_method() {
        let v: SessionRequest =
            serde_json::from_value(json!({"method":"county","county":"tp","access_token":"abc"}))
                .unwrap();
        match v {
            SessionRequest::County {
                county,
                id_token,
                access_token,
            } => {
                assert_eq!(county, "tp");
                assert!(id_token.is_none());
                assert_eq!(access_token.unwrap().expose_secret(), "abc");
            }
            other => panic!("{other:?}"),
        }
        assert!(serde_json::from_value::<SessionRequest>(json!({"method":"magic"})).is_err());
    }

    #[test]
    fn problem_has_rfc9457_members_and_known_statuses() {
        let p = Problem::new(code::ACCOUNT_TAKEN).with_field("account_name");
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["type"], "urn:educloud:problem:account.taken");
        assert_eq!(v["status"], 409);
        assert_eq!(v["code"], "account.taken");
        assert_eq!(v["field"], "account_name");
        assert!(v.get("errors").is_none());
        assert_eq!(Problem::new("password.too_short").status, 422);
        for (c, s, _) in code::ALL {
            assert_eq!(code::status(c), *s);
            assert!((400..600).contains(s), "{c}");
        }
    }

    #[test]
    fn account_omits_absent_staff_fields() {
        let a = Account {
            email: "parent.demo@example.com".into(),
            identity: Identity::Other,
            status: AccountStatus::PendingActivation,
            display_name: "王小明".into(),
            nickname: "小明".into(),
            county: None,
            title: None,
            role: None,
            school_id: None,
            school_name: None,
        };
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["status"], "pending_activation");
        assert_eq!(v["identity"], "other");
        assert!(v.get("county").is_none());
        let back: Account = serde_json::from_value(v).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn registration_request_tolerates_missing_optionals() {
        let r: RegistrationRequest =
            serde_json::from_value(json!({"identity":"other","terms_version":"2026-11-01"}))
                .unwrap();
        assert_eq!(r.identity, Identity::Other);
        assert!(r.password.is_empty());
        assert!(r.avatar.is_none());
    }

    #[test]
    fn a_wire_registration_is_what_the_rules_read() {
        let req = RegistrationRequest {
            identity: Identity::Staff,
            terms_version: "2026-11-01".into(),
            county: Some("ntpc".into()),
            id_token: Some(Secret::new("header.payload.sig")),
            access_token: None,
            account_name: Some("ntpcteacher".into()),
            email: None,
            email_confirm: None,
            name: None,
            backup_email: "wang.backup@example.org".into(),
            backup_email_confirm: "wang.backup@example.org".into(),
            password: Secret::new("Kite-Lamp-93-Orbit"),
            password_confirm: Secret::new("Kite-Lamp-93-Orbit"),
            nickname: "小明老師".into(),
            phone: Some("0912-345-678".into()),
            gender: Some(Gender::Female),
            avatar: None,
        };
        let json = serde_json::to_value(&req).unwrap();
        assert_eq!(json["gender"], "female");
        let input: crate::rules::RegistrationInput = serde_json::from_value(json).unwrap();
        let valid =
            crate::rules::validate_registration(&input, &PasswordPolicy::default()).unwrap();
        assert_eq!(valid.account().as_str(), "ntpcteacher@mail.edu.tw");
        assert_eq!(valid.gender(), Some(Gender::Female));
    }
}
