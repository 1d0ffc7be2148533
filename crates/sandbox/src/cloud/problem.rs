//! RFC 9457 problem answers and the request extractors that turn every bad
//! request into one (`request.invalid`), so no handler ever answers with a
//! bare string or a 500 for bad input.

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use educloud_contract::wire::{code, FieldProblem, Problem, PROBLEM_JSON};
use serde::de::DeserializeOwned;

/// An error answer of the Education Cloud API.
#[derive(Debug)]
pub struct ApiError {
    problem: Box<Problem>,
    www_authenticate: Option<&'static str>,
}

impl ApiError {
    pub fn new(code: &str) -> Self {
        ApiError {
            problem: Box::new(Problem::new(code)),
            www_authenticate: None,
        }
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.problem.field = Some(field.into());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.problem.detail = Some(detail.into());
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.problem.retry_after = Some(seconds.max(1));
        self
    }

    /// A 401 that tells the client to present a Bearer token.
    pub fn bearer_challenge(mut self) -> Self {
        self.www_authenticate = Some("Bearer realm=\"educloud\"");
        self
    }

    /// 422 with every field error; the first is repeated as `code`/`field`.
    pub fn fields(errors: Vec<FieldProblem>) -> Self {
        let first = errors.first().cloned().unwrap_or(FieldProblem {
            code: code::REQUEST_INVALID.into(),
            field: String::new(),
        });
        let mut e = ApiError::new(&first.code);
        e.problem.status = 422;
        if !first.field.is_empty() {
            e.problem.field = Some(first.field);
        }
        e.problem.errors = errors;
        e
    }

    /// A failure of ours: logged, answered without details.
    pub fn internal(what: impl std::fmt::Display) -> Self {
        tracing::error!(error = %what, "education cloud internal error");
        ApiError::new(code::INTERNAL)
    }

    pub fn code(&self) -> &str {
        &self.problem.code
    }

    pub fn problem(&self) -> &Problem {
        &self.problem
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        ApiError::internal(format!("sqlite: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry = self.problem.retry_after;
        let mut response = (status, Json(*self.problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(challenge) = self.www_authenticate {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if let Some(seconds) = retry {
            if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
                headers.insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

fn short(text: String) -> String {
    text.chars().take(200).collect()
}

/// `Json<T>` whose rejections are problems.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(code::REQUEST_TOO_LARGE);
    }
    ApiError::new(code::REQUEST_INVALID).detail(short(rejection.body_text()))
}

/// `Query<T>` whose rejections are problems.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError::new(code::REQUEST_INVALID).detail(short(rejection.body_text()))
}

/// The `Authorization: Bearer …` token, if well-formed.
pub struct Bearer(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| token.trim().to_owned())
            })
            .filter(|t| !t.is_empty());
        token.map(Bearer).ok_or_else(|| {
            ApiError::new(code::SESSION_INVALID)
                .detail("missing Bearer token")
                .bearer_challenge()
        })
    }
}

/// The client's IP address when the server was started with connect info
/// (for per-address throttling); `None` otherwise.
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip()),
        ))
    }
}
