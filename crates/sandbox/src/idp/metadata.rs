//! Metadata (OIDC discovery / RFC 8414), JWKS and the status page.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::http::*;
use super::pages::{self, html, Locale};
use super::profile::{self};

// ---------------------------------------------------------------------------
// Metadata, JWKS, status

pub(super) async fn metadata(State(ctx): State<Ctx>) -> Response {
    let c = ctx.idp();
    Json(profile::metadata(c.info.profile, &c.issuer)).into_response()
}

pub(super) async fn jwks(State(ctx): State<Ctx>) -> Response {
    Json(ctx.idp().key_ring().jwks()).into_response()
}

pub(super) async fn status(State(ctx): State<Ctx>, RawQuery(q): RawQuery) -> Response {
    let c = ctx.idp();
    let locale = ui_locale_of(q.as_deref());
    let (heading, text) = match locale {
        Locale::Zh => ("服務正常", "這個示範縣市登入服務運作正常。"),
        Locale::En => (
            "Service is up",
            "This demo county sign-in service is working.",
        ),
    };
    html(
        StatusCode::OK,
        pages::message_page(locale, c.info, "status", heading, text),
        None,
    )
}

pub(super) fn ui_locale_of(query: Option<&str>) -> Locale {
    let p = Params::parse(query.unwrap_or("").as_bytes()).unwrap_or(Params(Vec::new()));
    Locale::from_ui_locales(p.get("ui_locales"))
}
