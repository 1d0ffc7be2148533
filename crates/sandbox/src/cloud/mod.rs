//! The sandbox's Education Cloud: the service configuration, the consent
//! text, registrations (staff bound to a county Open ID, other members
//! activated by e-mail), password resets, sessions with rotating refresh
//! tokens, and the outbox that stands in for mail — the API of
//! `docs/api/openapi.yaml`, served under `{base}api/v1/`.
//!
//! Architecture invariant: every registration field is validated here with
//! `educloud_contract::rules`, the same functions the app runs; nothing the
//! client says about a staff member's name, title or school is believed —
//! those come from the verified county token.

pub mod county;
pub mod db;
pub mod handoff;
mod mailflows;
pub mod pages;
pub mod passwords;
pub mod problem;
mod registration;
mod seed;
mod sessions;
pub mod terms;
pub mod throttle;
pub mod tokens;
mod validation;

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use educloud_contract::county::{IdpProfile, COUNTIES};
use educloud_contract::wire::{
    code, Availability, CountyEntry, ServiceConfiguration, Terms, DESKTOP_CLIENT_ID,
    STAFF_MAIL_DOMAIN,
};
use serde::Deserialize;
use url::Url;

use crate::outbox::{self, Outbox, OutboxError};
pub use county::{CountyCheckError, CountyCredential, CountyIdentity, CountyVerifier};
use problem::{ApiError, ApiJson, ApiQuery};
pub use terms::TERMS_VERSION;

/// The OpenAPI document the sandbox implements (served at `/api/openapi.yaml`).
pub const OPENAPI_YAML: &str = include_str!("../../../../docs/api/openapi.yaml");

/// Largest request body accepted (a 5 MB avatar as base64 plus the form).
pub const MAX_BODY_BYTES: usize = 7 * 1024 * 1024;

/// How to open the cloud.
pub struct CloudConfig {
    /// The sandbox's base URL, ending in `/`.
    pub base_url: Url,
    /// Folder for `education-cloud.sqlite3`; `None` = in memory.
    pub data_dir: Option<PathBuf>,
    /// Optional SMTP URL to deliver the outbox's mail.
    pub smtp: Option<String>,
    /// Checks county ID / access tokens.
    pub counties: Arc<dyn CountyVerifier>,
}

#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    #[error("education cloud database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error("password hashing: {0}")]
    Hashing(String),
}

impl CloudError {
    pub fn code(&self) -> &'static str {
        match self {
            CloudError::Db(_) => "cloud.db",
            CloudError::Outbox(e) => e.code(),
            CloudError::Hashing(_) => "cloud.hashing",
        }
    }
}

/// The running Education Cloud's state.
pub struct Cloud {
    base: Url,
    db: db::Db,
    outbox: Arc<Outbox>,
    clock: tokens::Clock,
    hasher: passwords::Hasher,
    counties: Arc<dyn CountyVerifier>,
    throttle: throttle::Throttle,
}

impl Cloud {
    /// Opens the database, seeds the demo accounts and returns the cloud.
    pub fn open(config: CloudConfig) -> Result<Arc<Cloud>, CloudError> {
        let db = db::Db::open(config.data_dir.as_deref())?;
        let outbox = Arc::new(Outbox::new(db.clone(), config.smtp.as_deref())?);
        let hasher = passwords::Hasher::new().map_err(CloudError::Hashing)?;
        let cloud = Cloud {
            base: config.base_url,
            db,
            outbox,
            clock: tokens::Clock::default(),
            hasher,
            counties: config.counties,
            throttle: throttle::Throttle::default(),
        };
        seed::seed(&cloud)?;
        Ok(Arc::new(cloud))
    }

    /// The cloud's routes, at absolute paths under the sandbox's base.
    pub fn router(self: &Arc<Self>) -> Router {
        let api = Router::new()
            .route("/terms", get(get_terms))
            .route("/accounts/availability", get(availability))
            .route("/registrations", post(registration::register))
            .route("/activations", post(mailflows::activate))
            .route("/activations/resend", post(mailflows::resend_activation))
            .route("/password-resets", post(mailflows::request_reset))
            .route("/password-resets/{token}", post(mailflows::confirm_reset))
            .route("/sessions", post(sessions::create))
            .route("/sessions/refresh", post(sessions::refresh))
            .route("/sessions/current", delete(sessions::delete_current))
            .route("/sessions/revoke", post(sessions::revoke))
            .route("/web-handoffs", post(handoff::create))
            .route("/me", get(sessions::me))
            .fallback(api_not_found);
        Router::new()
            .route("/.well-known/educloud-configuration", get(configuration))
            .route("/api/openapi.yaml", get(openapi))
            .route("/activate", get(mailflows::activate_page))
            .route("/handoff/{code}", get(handoff::redeem))
            .route("/web/{target}", get(handoff::web_page))
            .route(
                "/reset",
                get(mailflows::reset_page).post(mailflows::reset_form),
            )
            .route("/api/sandbox/clock", post(advance_clock))
            .nest("/api/v1", api)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(Arc::clone(self))
            .merge(outbox::routes(Arc::clone(&self.outbox)))
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    pub fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }

    /// The cloud's clock (tests advance it through `/api/sandbox/clock`).
    pub fn clock(&self) -> &tokens::Clock {
        &self.clock
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now()
    }

    /// `{base}{path}` (path without a leading slash).
    pub(crate) fn link(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

type AppState = State<Arc<Cloud>>;

/// The scopes the desktop app asks a county for, by profile.
pub fn scopes(profile: IdpProfile) -> &'static [&'static str] {
    match profile {
        IdpProfile::SsoEduTw => &["openid", "profile", "email", "eduinfo"],
        IdpProfile::Kaohsiung => &["openid", "email", "profile", "kh_profile", "kh_titles"],
        IdpProfile::TaipeiOauth2 => &["user", "profile"],
        IdpProfile::Oidc => &["openid", "profile", "email"],
    }
}

async fn configuration(State(cloud): AppState) -> Json<ServiceConfiguration> {
    let counties = COUNTIES
        .iter()
        .map(|c| CountyEntry {
            code: c.code.to_owned(),
            name_zh: c.name_zh.to_owned(),
            name_en: c.name_en.to_owned(),
            issuer: cloud.link(&format!("idp/{}", c.code)),
            client_id: DESKTOP_CLIENT_ID.to_owned(),
            scopes: scopes(c.profile).iter().map(|s| (*s).to_owned()).collect(),
            profile: c.profile,
            account_label_zh: c.account_label_zh.to_owned(),
            account_label_en: c.account_label_en.to_owned(),
        })
        .collect();
    Json(ServiceConfiguration {
        environment: "sandbox".into(),
        api_base: cloud.link("api/v1/"),
        terms_version: TERMS_VERSION.into(),
        password_policy: validation::policy(),
        counties,
        outbox_url: Some(cloud.link("outbox")),
    })
}

async fn openapi(State(cloud): AppState) -> Response {
    // The document's example server is replaced by this sandbox's origin.
    let origin = cloud.base.as_str().trim_end_matches('/');
    let body = OPENAPI_YAML.replace("http://127.0.0.1:8080", origin);
    (
        [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
        body,
    )
        .into_response()
}

#[derive(Deserialize)]
struct TermsQuery {
    lang: Option<String>,
}

async fn get_terms(ApiQuery(q): ApiQuery<TermsQuery>) -> Result<Json<Terms>, ApiError> {
    let lang = match q.lang.as_deref() {
        None => terms::TermsLang::ZhTw,
        Some(tag) => terms::TermsLang::parse(tag).ok_or_else(|| {
            ApiError::new(code::REQUEST_INVALID)
                .field("lang")
                .detail("lang must be zh-TW or en")
        })?,
    };
    Ok(Json(terms::terms(lang)))
}

#[derive(Deserialize)]
struct AvailabilityQuery {
    name: Option<String>,
}

async fn availability(
    State(cloud): AppState,
    ApiQuery(q): ApiQuery<AvailabilityQuery>,
) -> Result<Json<Availability>, ApiError> {
    let name = q.name.ok_or_else(|| {
        ApiError::new(code::REQUEST_INVALID)
            .field("name")
            .detail("name is required")
    })?;
    if let Err(rule_code) = validation::account_name(&name) {
        return Ok(Json(Availability {
            name,
            available: false,
            code: Some(rule_code),
        }));
    }
    let email = format!("{}@{STAFF_MAIL_DOMAIN}", name.to_ascii_lowercase());
    let taken = db::account_by_email(&cloud.db.lock(), &email)?.is_some();
    Ok(Json(Availability {
        name,
        available: !taken,
        code: taken.then(|| code::ACCOUNT_TAKEN.to_owned()),
    }))
}

#[derive(Deserialize)]
struct ClockAdvance {
    seconds: u32,
}

/// Sandbox admin switch: moves the cloud's clock forward (to test expiries).
async fn advance_clock(
    State(cloud): AppState,
    ApiJson(req): ApiJson<ClockAdvance>,
) -> Json<serde_json::Value> {
    cloud.clock.advance(req.seconds);
    Json(serde_json::json!({ "now": tokens::rfc3339(cloud.now()) }))
}

async fn api_not_found() -> ApiError {
    ApiError::new(code::NOT_FOUND)
}

/// Turns a `(StatusCode, T)` into a response with that status.
pub(crate) fn created<T: serde::Serialize>(body: T) -> (StatusCode, Json<T>) {
    (StatusCode::CREATED, Json(body))
}
