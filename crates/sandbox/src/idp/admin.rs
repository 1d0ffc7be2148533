//! Admin switches for tests (refused from other sites): key rotation and
//! the IdP clock.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::error::OAuthError;
use super::http::*;
use super::IdpRegistry;

// ---------------------------------------------------------------------------
// Admin switches for tests (refused from other sites)

pub(super) async fn rotate_keys(State(ctx): State<Ctx>, headers: HeaderMap) -> Response {
    if cross_site(&ctx.reg, &headers) {
        return OAuthError::new(
            StatusCode::FORBIDDEN,
            "access_denied",
            "cross-site admin request",
        )
        .into_response();
    }
    let code = ctx.idp().info.code;
    match ctx.reg.rotate_keys(code).await {
        Ok(kid) => {
            let kids: Vec<Value> = ctx
                .idp()
                .key_ring()
                .jwks()
                .get("keys")
                .and_then(Value::as_array)
                .map(|keys| keys.iter().filter_map(|k| k.get("kid").cloned()).collect())
                .unwrap_or_default();
            json_no_store(StatusCode::OK, json!({ "kid": kid, "kids": kids }))
        }
        Err(e) => json_no_store(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "error": "server_error", "error_description": e.to_string() }),
        ),
    }
}

pub(super) async fn advance_clock(
    State(reg): State<Arc<IdpRegistry>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if cross_site(&reg, &headers) {
        return OAuthError::new(
            StatusCode::FORBIDDEN,
            "access_denied",
            "cross-site admin request",
        )
        .into_response();
    }
    let p = Params::parse(q.unwrap_or_default().as_bytes()).unwrap_or(Params(Vec::new()));
    match p.get("seconds").and_then(|s| s.parse::<i64>().ok()) {
        Some(s) if s > 0 => {
            reg.advance_clock(s);
            json_no_store(StatusCode::OK, json!({ "now": reg.now() }))
        }
        _ => OAuthError::invalid_request("seconds must be a positive integer").into_response(),
    }
}
