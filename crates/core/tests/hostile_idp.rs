//! A hostile OpenID provider (and a hostile Education Cloud) in the test:
//! a small axum server that tampers with discovery, keys, redirects, tokens
//! and UserInfo on demand, proving the client rejects each attack. Tests are
//! named after the OpenID RP certification cases they mirror.
//!
//! The "browser" is [`FakeBrowser`]: a `BrowserOpener` that performs the
//! HTTP GET of the authorize URL and follows the IdP's redirect to the
//! app's loopback listener — a real HTTP round trip, no shortcut.
//!
//! The RSA keys below are throwaway test keys generated for this file.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use educloud_core::browser::BrowserOpener;
use educloud_core::desktop::{Desktop, ServiceEndpoint};
use educloud_core::directory::{CountyDirectory, CountyIdp, CountySource};
use educloud_core::oidc::{
    check_county, start_county_sign_in, CountyCredential, SignInGate, SignInOptions, VerifiedCounty,
};
use educloud_core::paths::AppPaths;
use educloud_core::policy::{EnvironmentKind, LoadedPolicy, Policy};
use educloud_core::secret::ExposeSecret;
use educloud_core::session::SessionState;
use educloud_core::vault::{MockKeychain, SessionVault, SERVICE_NAME};
use educloud_core::{contract::county::IdpProfile, CoreError};
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

const CLIENT_ID: &str = "educloud-desktop";

// ---------------------------------------------------------------------------
// Keys and JWTs
// ---------------------------------------------------------------------------

struct Key {
    kid: &'static str,
    pair: RsaKeyPair,
    public_pem: &'static str,
}

impl Key {
    fn new(kid: &'static str, private_pem: &str, public_pem: &'static str) -> Key {
        let b64: String = private_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let der = STANDARD.decode(b64).unwrap();
        Key {
            kid,
            pair: RsaKeyPair::from_pkcs8(&der).unwrap(),
            public_pem,
        }
    }

    fn jwk(&self, with_kid: bool) -> Value {
        let c: ring::rsa::PublicKeyComponents<Vec<u8>> = self.pair.public().into();
        let mut k = json!({
            "kty": "RSA", "use": "sig", "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(&c.n), "e": URL_SAFE_NO_PAD.encode(&c.e),
        });
        if with_kid {
            k["kid"] = json!(self.kid);
        }
        k
    }

    fn sign(&self, input: &[u8]) -> Vec<u8> {
        let mut sig = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                input,
                &mut sig,
            )
            .unwrap();
        sig
    }
}

fn b64json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// How the ID token is made (and which keys the JWKS shows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signing {
    /// RS256 with key A and its kid.
    Good,
    /// RS256 with key A, then one signature byte flipped.
    BadSignature,
    /// `alg: none`, no signature.
    AlgNone,
    /// HS256 keyed with key A's public key PEM.
    Hs256PublicKey,
    /// HS256 keyed with the (policy) client secret.
    Hs256ClientSecret,
    /// Signed with key B (kid b); the JWKS shows A only until it was
    /// fetched once, then A and B (a key rotation).
    RotatedAfterFirstFetch,
    /// Signed with key B; the JWKS never shows it.
    UnknownKid,
    /// No kid; the JWKS has A only.
    NoKidSingleKey,
    /// No kid; the JWKS has A and B.
    NoKidMultipleKeys,
}

/// The ID token's `at_hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AtHash {
    Absent,
    /// The left half of SHA-256 over the access token, base64url.
    Correct,
    /// The hash of another access token.
    Tampered,
}

// ---------------------------------------------------------------------------
// The hostile provider
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Tamper {
    signing: Signing,
    /// Discovery names this issuer instead of the real one.
    discovery_issuer: Option<String>,
    /// Discovery answers 302 to /elsewhere.
    discovery_redirects: bool,
    /// The token endpoint answers 302 to /elsewhere.
    token_redirects: bool,
    /// Discovery lists a plain-http, non-loopback token endpoint.
    insecure_token_endpoint: bool,
    /// Metadata says `authorization_response_iss_parameter_supported`.
    iss_supported: bool,
    /// `Some(None)` = no iss on the redirect; `Some(Some(x))` = iss x.
    redirect_iss: Option<Option<String>>,
    /// Replace the state on the redirect.
    redirect_state: Option<String>,
    /// Answer the authorization with this error.
    redirect_error: Option<&'static str>,
    /// … and this `error_description` (default "the user pressed 取消").
    redirect_error_description: Option<&'static str>,
    /// Claim overrides merged into the ID token (null removes a claim).
    claims: Value,
    /// UserInfo `sub` override.
    userinfo_sub: Option<String>,
    /// Require client_secret_basic with this secret.
    require_basic_secret: Option<String>,
    /// Delay before the token endpoint answers.
    token_delay: Duration,
    /// `at_hash` in the ID token.
    at_hash: AtHash,
    /// UserInfo answers 302 to /elsewhere.
    userinfo_redirects: bool,
    /// eduinfo (sso.edu.tw profile) answers 302 to /elsewhere.
    eduinfo_redirects: bool,
    /// eduinfo `sub` override.
    eduinfo_sub: Option<String>,
    /// `Cache-Control` of the discovery document.
    discovery_cache_control: Option<&'static str>,
    /// `Cache-Control` of the JWKS.
    jwks_cache_control: Option<&'static str>,
    /// The provider's clock minus the real one, in seconds: shifts the ID
    /// token's iat/exp/auth_time and the token answer's `Date` header (a
    /// computer clock that is off, seen from the app).
    clock_offset: i64,
    /// This endpoint ("discovery", "jwks", "token", "userinfo", "eduinfo")
    /// answers 200 with a body that never ends.
    endless: Option<&'static str>,
}

impl Default for Tamper {
    fn default() -> Self {
        Tamper {
            signing: Signing::Good,
            discovery_issuer: None,
            discovery_redirects: false,
            token_redirects: false,
            insecure_token_endpoint: false,
            iss_supported: true,
            redirect_iss: None,
            redirect_state: None,
            redirect_error: None,
            redirect_error_description: None,
            claims: json!({}),
            userinfo_sub: None,
            require_basic_secret: None,
            token_delay: Duration::ZERO,
            at_hash: AtHash::Absent,
            userinfo_redirects: false,
            eduinfo_redirects: false,
            eduinfo_sub: None,
            discovery_cache_control: None,
            jwks_cache_control: None,
            clock_offset: 0,
            endless: None,
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Log {
    discovery_fetches: usize,
    jwks_fetches: usize,
    authorize_query: HashMap<String, String>,
    token_calls: usize,
    token_form: HashMap<String, String>,
    token_authorization: Option<String>,
    userinfo_calls: usize,
    userinfo_header_bearer: bool,
    userinfo_token_in_query: bool,
    eduinfo_calls: usize,
    elsewhere_hits: usize,
}

struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
}

struct Op {
    issuer: String,
    base: String,
    a: Key,
    b: Key,
    tamper: Mutex<Tamper>,
    log: Mutex<Log>,
    grants: Mutex<HashMap<String, Grant>>,
    /// Bytes an endless answer has produced so far.
    endless_sent: std::sync::atomic::AtomicU64,
    /// Every access token and ID token the token endpoint issued: UserInfo,
    /// eduinfo and the Education Cloud double accept only these.
    issued_access: Mutex<Vec<String>>,
    issued_id_tokens: Mutex<Vec<String>>,
}

impl Op {
    /// The bearer token of `headers` when it is one this provider issued.
    fn issued_bearer(&self, headers: &HeaderMap) -> Option<String> {
        let token = headers
            .get("authorization")?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?
            .to_string();
        self.issued_access
            .lock()
            .unwrap()
            .contains(&token)
            .then_some(token)
    }
}

type Shared = Arc<Op>;

impl Op {
    fn tamper(&self) -> Tamper {
        self.tamper.lock().unwrap().clone()
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap()
    }

    fn id_token(&self, nonce: Option<&str>, access_token: &str) -> String {
        let t = self.tamper();
        let now = time_now() + t.clock_offset;
        let mut claims = json!({
            "iss": self.issuer, "sub": "hostile-sub-1", "aud": [CLIENT_ID], "azp": CLIENT_ID,
            "exp": now + 3600, "iat": now, "auth_time": now,
            "name": "王小明", "preferred_username": "teacher01", "email": "teacher01@mail.edu.tw",
        });
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        let half_hash =
            |token: &str| URL_SAFE_NO_PAD.encode(&Sha256::digest(token.as_bytes())[..16]);
        match t.at_hash {
            AtHash::Absent => {}
            AtHash::Correct => claims["at_hash"] = json!(half_hash(access_token)),
            AtHash::Tampered => claims["at_hash"] = json!(half_hash("at-another-token")),
        }
        if let Value::Object(over) = &t.claims {
            for (k, v) in over {
                if v.is_null() {
                    claims.as_object_mut().unwrap().remove(k);
                } else {
                    claims[k] = v.clone();
                }
            }
        }
        let (header, key): (Value, Option<&Key>) = match t.signing {
            Signing::Good | Signing::BadSignature => (
                json!({"alg":"RS256","typ":"JWT","kid":self.a.kid}),
                Some(&self.a),
            ),
            Signing::RotatedAfterFirstFetch | Signing::UnknownKid => (
                json!({"alg":"RS256","typ":"JWT","kid":self.b.kid}),
                Some(&self.b),
            ),
            Signing::NoKidSingleKey | Signing::NoKidMultipleKeys => {
                (json!({"alg":"RS256","typ":"JWT"}), Some(&self.a))
            }
            Signing::AlgNone => (json!({"alg":"none","typ":"JWT"}), None),
            Signing::Hs256PublicKey | Signing::Hs256ClientSecret => {
                (json!({"alg":"HS256","typ":"JWT","kid":self.a.kid}), None)
            }
        };
        let input = format!("{}.{}", b64json(&header), b64json(&claims));
        let sig = match (t.signing, key) {
            (Signing::AlgNone, _) => Vec::new(),
            (Signing::Hs256PublicKey, _) => hmac(self.a.public_pem.as_bytes(), input.as_bytes()),
            (Signing::Hs256ClientSecret, _) => hmac(
                t.require_basic_secret.as_deref().unwrap_or("").as_bytes(),
                input.as_bytes(),
            ),
            (Signing::BadSignature, Some(k)) => {
                let mut s = k.sign(input.as_bytes());
                s[10] ^= 0x55;
                s
            }
            (_, Some(k)) => k.sign(input.as_bytes()),
            (_, None) => Vec::new(),
        };
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::sign(&k, msg).as_ref().to_vec()
}

fn time_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn random_token() -> String {
    let mut b = [0u8; 24];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).unwrap();
    URL_SAFE_NO_PAD.encode(b)
}

async fn discovery(State(op): State<Shared>) -> Response {
    let t = op.tamper();
    if t.endless == Some("discovery") {
        return endless(&op);
    }
    op.log().discovery_fetches += 1;
    if t.discovery_redirects {
        return redirect_to(&format!("{}/elsewhere", op.base));
    }
    let token_endpoint = if t.insecure_token_endpoint {
        "http://op.example.tw/token".to_string()
    } else {
        format!("{}/token", op.issuer)
    };
    let mut resp = Json(json!({
        "issuer": t.discovery_issuer.unwrap_or_else(|| op.issuer.clone()),
        "authorization_endpoint": format!("{}/authorize", op.issuer),
        "token_endpoint": token_endpoint,
        "userinfo_endpoint": format!("{}/userinfo", op.issuer),
        "jwks_uri": format!("{}/jwks", op.issuer),
        "end_session_endpoint": format!("{}/logout", op.issuer),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": t.iss_supported,
    }))
    .into_response();
    if let Some(cc) = t.discovery_cache_control {
        resp.headers_mut()
            .insert("cache-control", cc.parse().unwrap());
    }
    resp
}

async fn jwks(State(op): State<Shared>) -> Response {
    let t = op.tamper();
    if t.endless == Some("jwks") {
        return endless(&op);
    }
    let fetches = {
        let mut log = op.log();
        log.jwks_fetches += 1;
        log.jwks_fetches
    };
    let keys = match t.signing {
        Signing::RotatedAfterFirstFetch if fetches > 1 => {
            vec![op.a.jwk(true), op.b.jwk(true)]
        }
        Signing::NoKidSingleKey => vec![op.a.jwk(false)],
        Signing::NoKidMultipleKeys => vec![op.a.jwk(false), op.b.jwk(false)],
        _ => vec![op.a.jwk(true)],
    };
    let mut resp = Json(json!({ "keys": keys })).into_response();
    if let Some(cc) = t.jwks_cache_control {
        resp.headers_mut()
            .insert("cache-control", cc.parse().unwrap());
    }
    resp
}

/// 200 with a JSON content type and a body that never ends (64 KiB chunks
/// as fast as the client reads them), counting what it produced.
fn endless(op: &Shared) -> Response {
    let op = op.clone();
    let chunk = axum::body::Bytes::from(vec![b' '; 64 * 1024]);
    let stream = futures_util::stream::repeat_with(move || {
        op.endless_sent
            .fetch_add(chunk.len() as u64, Ordering::SeqCst);
        Ok::<_, std::convert::Infallible>(chunk.clone())
    });
    (
        [("content-type", "application/json")],
        axum::body::Body::from_stream(stream),
    )
        .into_response()
}

fn redirect_to(location: &str) -> Response {
    (StatusCode::FOUND, [("location", location.to_string())]).into_response()
}

async fn authorize(State(op): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let t = op.tamper();
    op.log().authorize_query = q.clone();
    let bad = |why: &str| (StatusCode::BAD_REQUEST, why.to_string()).into_response();
    if q.get("response_type").map(String::as_str) != Some("code") {
        return bad("response_type");
    }
    if q.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return bad("pkce");
    }
    let (Some(redirect_uri), Some(challenge), Some(client_id)) = (
        q.get("redirect_uri"),
        q.get("code_challenge"),
        q.get("client_id"),
    ) else {
        return bad("missing parameters");
    };
    let code = random_token();
    op.grants.lock().unwrap().insert(
        code.clone(),
        Grant {
            client_id: client_id.clone(),
            redirect_uri: redirect_uri.clone(),
            challenge: challenge.clone(),
            nonce: q.get("nonce").cloned(),
        },
    );
    let mut url = url::Url::parse(redirect_uri).unwrap();
    {
        let mut pairs = url.query_pairs_mut();
        match t.redirect_error {
            Some(e) => {
                pairs.append_pair("error", e);
                pairs.append_pair(
                    "error_description",
                    t.redirect_error_description
                        .unwrap_or("the user pressed 取消"),
                );
            }
            None => {
                pairs.append_pair("code", &code);
            }
        }
        let state = t
            .redirect_state
            .clone()
            .or_else(|| q.get("state").cloned())
            .unwrap_or_default();
        pairs.append_pair("state", &state);
        match &t.redirect_iss {
            None => {
                pairs.append_pair("iss", &op.issuer);
            }
            Some(Some(other)) => {
                pairs.append_pair("iss", other);
            }
            Some(None) => {}
        }
    }
    redirect_to(url.as_str())
}

async fn token(
    State(op): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let t = op.tamper();
    {
        let mut log = op.log();
        log.token_calls += 1;
        log.token_form = form.clone();
        log.token_authorization = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
    }
    if t.endless == Some("token") {
        return endless(&op);
    }
    tokio::time::sleep(t.token_delay).await;
    if t.token_redirects {
        return redirect_to(&format!("{}/elsewhere", op.base));
    }
    let err = |e: &str| (StatusCode::BAD_REQUEST, Json(json!({ "error": e }))).into_response();
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return err("unsupported_grant_type");
    }
    let Some(grant) = form
        .get("code")
        .and_then(|c| op.grants.lock().unwrap().remove(c))
    else {
        return err("invalid_grant");
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != grant.challenge {
        return err("invalid_grant");
    }
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return err("invalid_grant");
    }
    match &t.require_basic_secret {
        Some(secret) => {
            // RFC 6749 §2.3.1: id and secret are form-urlencoded first.
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let expected = format!(
                "Basic {}",
                STANDARD.encode(format!("{}:{}", enc(CLIENT_ID), enc(secret)))
            );
            let got = headers.get("authorization").and_then(|v| v.to_str().ok());
            if got != Some(expected.as_str()) || form.contains_key("client_secret") {
                return (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({"error": "invalid_client"})),
                )
                    .into_response();
            }
        }
        None => {
            if form.get("client_id").map(String::as_str) != Some(grant.client_id.as_str()) {
                return err("invalid_client");
            }
        }
    }
    let access_token = format!("at-{}", random_token());
    let id_token = op.id_token(grant.nonce.as_deref(), &access_token);
    op.issued_access.lock().unwrap().push(access_token.clone());
    op.issued_id_tokens.lock().unwrap().push(id_token.clone());
    let mut resp = Json(json!({
        "id_token": id_token,
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 3600,
    }))
    .into_response();
    if t.clock_offset != 0 {
        resp.headers_mut().insert(
            "date",
            http_date(time_now() + t.clock_offset).parse().unwrap(),
        );
    }
    resp
}

/// An HTTP `Date` (IMF-fixdate) for a Unix time.
fn http_date(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

async fn userinfo(
    State(op): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let t = op.tamper();
    // Only an access token this provider issued (not any "at-…").
    let bearer = op.issued_bearer(&headers).is_some();
    {
        let mut log = op.log();
        log.userinfo_calls += 1;
        log.userinfo_header_bearer = bearer;
        log.userinfo_token_in_query = q.contains_key("access_token");
    }
    if t.endless == Some("userinfo") {
        return endless(&op);
    }
    if t.userinfo_redirects {
        return redirect_to(&format!("{}/elsewhere", op.base));
    }
    if !bearer || q.contains_key("access_token") {
        return (StatusCode::UNAUTHORIZED, "bearer header only").into_response();
    }
    Json(json!({
        "sub": t.userinfo_sub.unwrap_or_else(|| "hostile-sub-1".into()),
        "name": "王小明（UserInfo）",
        "email": "teacher01@mail.edu.tw",
        "school_name": "示範國民中學",
    }))
    .into_response()
}

/// sso.edu.tw's eduinfo resource (only asked for that profile).
async fn eduinfo(State(op): State<Shared>, headers: HeaderMap) -> Response {
    let t = op.tamper();
    op.log().eduinfo_calls += 1;
    if t.endless == Some("eduinfo") {
        return endless(&op);
    }
    if t.eduinfo_redirects {
        return redirect_to(&format!("{}/elsewhere", op.base));
    }
    if op.issued_bearer(&headers).is_none() {
        return (StatusCode::UNAUTHORIZED, "an issued bearer token only").into_response();
    }
    Json(json!({
        "sub": t.eduinfo_sub.unwrap_or_else(|| "hostile-sub-1".into()),
        "schoolid": "014569",
        "titles": [{"schoolid": "014569", "titles": ["教師", "專任教師"]}],
    }))
    .into_response()
}

/// The Taipei profile's `/api/user` (plain OAuth 2.0: the identity comes
/// from here, with an access token the provider issued).
async fn taipei_user(State(op): State<Shared>, headers: HeaderMap) -> Response {
    if op.tamper().endless == Some("taipei_user") {
        return endless(&op);
    }
    if op.issued_bearer(&headers).is_none() {
        return (StatusCode::UNAUTHORIZED, "an issued bearer token only").into_response();
    }
    Json(
        json!({"uuid": "tp-uuid-1", "name": "陳老師", "email": "chen@tp.edu.tw",
        "account": "chen01", "role": "教師"}),
    )
    .into_response()
}

async fn taipei_profile(State(op): State<Shared>, headers: HeaderMap) -> Response {
    if op.issued_bearer(&headers).is_none() {
        return (StatusCode::UNAUTHORIZED, "an issued bearer token only").into_response();
    }
    Json(json!({"o": "353604", "organization": "臺北市立示範國中", "title": "導師"}))
        .into_response()
}

async fn elsewhere(State(op): State<Shared>) -> Json<Value> {
    op.log().elsewhere_hits += 1;
    Json(json!({"issuer": "https://attacker.example", "access_token": "stolen"}))
}

// ---- the hostile Education Cloud (for session tests) ----

#[derive(Default)]
struct CloudLog {
    refresh_calls: AtomicUsize,
    revocations: AtomicUsize,
    session_calls: AtomicUsize,
}

/// One Education Cloud session family (a sign-in and its rotations).
struct Family {
    access: String,
    refresh: String,
    /// Refresh tokens rotated away (reusing one is refused).
    rotated: Vec<String>,
    revoked: bool,
}

struct Cloud {
    op: Shared,
    log: CloudLog,
    /// The account a refresh answers with.
    refresh_account: Mutex<String>,
    /// `POST sessions` answers 302 to /elsewhere.
    sessions_redirect: std::sync::atomic::AtomicBool,
    /// Every session it issued: refresh, revoke and sign-out are checked
    /// against these, as the real service does (docs/api/openapi.yaml).
    families: Mutex<Vec<Family>>,
}

impl Cloud {
    /// New tokens for `email`, recorded as family `index` (a new one when
    /// `None`).
    fn issue(&self, email: &str, index: Option<usize>) -> Value {
        let body = tokens(email);
        let access = body["access_token"].as_str().unwrap().to_string();
        let refresh = body["refresh_token"].as_str().unwrap().to_string();
        let mut families = self.families.lock().unwrap();
        match index {
            Some(i) => {
                let f = &mut families[i];
                let old = std::mem::replace(&mut f.refresh, refresh);
                f.rotated.push(old);
                f.access = access;
            }
            None => families.push(Family {
                access,
                refresh,
                rotated: Vec::new(),
                revoked: false,
            }),
        }
        body
    }

    /// Whether the family `refresh_token` belongs to (current or rotated)
    /// was ended.
    fn revoked(&self, refresh_token: &str) -> Option<bool> {
        self.families
            .lock()
            .unwrap()
            .iter()
            .find(|f| f.refresh == refresh_token || f.rotated.iter().any(|r| r == refresh_token))
            .map(|f| f.revoked)
    }
}

fn problem(status: StatusCode, code: &str) -> Response {
    (
        status,
        [("content-type", "application/problem+json")],
        Json(json!({"type":"about:blank","title":code,"status":status.as_u16(),"code":code})),
    )
        .into_response()
}

fn account(email: &str) -> Value {
    json!({"email": email, "identity": "staff", "status": "active",
           "display_name": "王小明", "nickname": "小明", "county": "hostile"})
}

fn tokens(email: &str) -> Value {
    json!({"access_token": format!("ec-at-{}", random_token()), "token_type": "Bearer",
           "expires_in": 900, "refresh_token": format!("ec-rt-{}", random_token()),
           "refresh_expires_in": 86400, "account": account(email)})
}

async fn cloud_config(State(c): State<Arc<Cloud>>) -> Json<Value> {
    Json(json!({
        "environment": "custom",
        "api_base": format!("{}/api/v1/", c.op.base),
        "terms_version": "2026-11-01",
        "password_policy": {"min_length": 8, "max_length": 64, "min_classes": 3, "min_score": 3},
        "counties": [{"code": "hostile", "name_zh": "惡意縣", "name_en": "Hostile County",
            "issuer": c.op.issuer, "client_id": CLIENT_ID, "scopes": ["openid", "profile", "email"],
            "profile": "oidc", "account_label_zh": "帳號", "account_label_en": "Account"}],
    }))
}

/// `POST sessions` (county): only an ID token the provider issued, exactly.
async fn cloud_sessions(State(c): State<Arc<Cloud>>, Json(body): Json<Value>) -> Response {
    c.log.session_calls.fetch_add(1, Ordering::SeqCst);
    if c.sessions_redirect.load(Ordering::SeqCst) {
        return redirect_to(&format!("{}/elsewhere", c.op.base));
    }
    let issued = body["id_token"]
        .as_str()
        .is_some_and(|t| c.op.issued_id_tokens.lock().unwrap().iter().any(|i| i == t));
    if body["method"] == "county" && body["county"] == "hostile" && issued {
        (
            StatusCode::CREATED,
            Json(c.issue("teacher01@mail.edu.tw", None)),
        )
            .into_response()
    } else {
        problem(StatusCode::UNAUTHORIZED, "token.invalid")
    }
}

/// `POST sessions/refresh`: only a family's current refresh token rotates;
/// a rotated one ends the family (`refresh.reused`), anything else is
/// `refresh.invalid`.
async fn cloud_refresh(State(c): State<Arc<Cloud>>, Json(body): Json<Value>) -> Response {
    c.log.refresh_calls.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let token = body["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let found = {
        let mut families = c.families.lock().unwrap();
        let current = families
            .iter()
            .position(|f| !f.revoked && f.refresh == token);
        if current.is_none() {
            if let Some(f) = families.iter_mut().find(|f| f.rotated.contains(&token)) {
                f.revoked = true;
                return problem(StatusCode::UNAUTHORIZED, "refresh.reused");
            }
        }
        current
    };
    let Some(index) = found else {
        return problem(StatusCode::UNAUTHORIZED, "refresh.invalid");
    };
    let email = c.refresh_account.lock().unwrap().clone();
    Json(c.issue(&email, Some(index))).into_response()
}

/// `DELETE sessions/current`: the bearer must be a live family's current
/// access token; that family ends.
async fn cloud_revoke(State(c): State<Arc<Cloud>>, headers: HeaderMap) -> Response {
    c.log.revocations.fetch_add(1, Ordering::SeqCst);
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let mut families = c.families.lock().unwrap();
    match families
        .iter_mut()
        .find(|f| !f.revoked && f.access == bearer)
    {
        Some(f) => {
            f.revoked = true;
            StatusCode::NO_CONTENT.into_response()
        }
        None => problem(StatusCode::UNAUTHORIZED, "session.invalid"),
    }
}

/// `POST sessions/revoke` (RFC 7009 style): ends the family of `token`
/// (any of its refresh tokens, or its access token); 204 for every
/// well-formed request, known token or not — so the test asks the family.
async fn cloud_revoke_token(State(c): State<Arc<Cloud>>, Json(body): Json<Value>) -> Response {
    c.log.revocations.fetch_add(1, Ordering::SeqCst);
    let Some(token) = body["token"].as_str().filter(|t| !t.is_empty()) else {
        return problem(StatusCode::BAD_REQUEST, "request.invalid");
    };
    let mut families = c.families.lock().unwrap();
    if let Some(f) = families
        .iter_mut()
        .find(|f| f.refresh == token || f.access == token || f.rotated.iter().any(|r| r == token))
    {
        f.revoked = true;
    }
    StatusCode::NO_CONTENT.into_response()
}

/// The running hostile servers.
struct Hostile {
    op: Shared,
    cloud: Arc<Cloud>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Hostile {
    async fn start(tamper: Tamper) -> Hostile {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let op = Arc::new(Op {
            issuer: format!("{base}/op"),
            base: base.clone(),
            a: Key::new("key-a", KEY_A, KEY_A_PUB),
            b: Key::new("key-b", KEY_B, KEY_B_PUB),
            tamper: Mutex::new(tamper),
            log: Mutex::new(Log::default()),
            grants: Mutex::new(HashMap::new()),
            endless_sent: Default::default(),
            issued_access: Default::default(),
            issued_id_tokens: Default::default(),
        });
        let cloud = Arc::new(Cloud {
            op: op.clone(),
            log: CloudLog::default(),
            refresh_account: Mutex::new("teacher01@mail.edu.tw".into()),
            sessions_redirect: Default::default(),
            families: Default::default(),
        });
        let idp = Router::new()
            .route("/op/.well-known/openid-configuration", get(discovery))
            .route("/op/jwks", get(jwks))
            .route("/op/authorize", get(authorize))
            .route("/op/token", post(token))
            .route("/op/userinfo", get(userinfo))
            .route("/op/cncresource/api/v1/eduinfo", get(eduinfo))
            // The Taipei profile's endpoints (derived from the issuer).
            .route("/op/oauth/authorize", get(authorize))
            .route("/op/oauth/token", post(token))
            .route("/op/api/user", get(taipei_user))
            .route("/op/api/profile", get(taipei_profile))
            .route("/elsewhere", get(elsewhere).post(elsewhere))
            .with_state(op.clone());
        let service = Router::new()
            .route("/.well-known/educloud-configuration", get(cloud_config))
            .route("/api/v1/sessions", post(cloud_sessions))
            .route("/api/v1/sessions/refresh", post(cloud_refresh))
            .route("/api/v1/sessions/current", delete(cloud_revoke))
            .route("/api/v1/sessions/revoke", post(cloud_revoke_token))
            .with_state(cloud.clone());
        let app = idp.merge(service);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        Hostile {
            op,
            cloud,
            _stop: tx,
        }
    }

    fn log(&self) -> Log {
        self.op.log().clone()
    }

    fn county(&self) -> CountyIdp {
        CountyIdp {
            code: "hostile".into(),
            name_zh: "惡意縣".into(),
            name_en: "Hostile County".into(),
            issuer: self.op.issuer.clone(),
            client_id: CLIENT_ID.into(),
            client_secret: None,
            scopes: vec!["openid".into(), "profile".into(), "email".into()],
            profile: IdpProfile::Oidc,
            account_label_zh: "帳號".into(),
            account_label_en: "Account".into(),
            source: CountySource::Policy,
        }
    }
}

// ---------------------------------------------------------------------------
// The browser
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BrowserMode {
    /// GET the authorize URL, follow its redirect to the loopback once.
    Follow,
    /// Like Follow, and deliver the same redirect a second time shortly
    /// after the first (a replay while the app verifies).
    FollowTwice,
    /// Opens, but the user never comes back.
    Idle,
    /// The launcher fails.
    Broken,
    /// Before the browser comes back, another local program sends the
    /// loopback port requests that are not the redirect (a wrong state, no
    /// state, a POST with the right state); then the browser follows.
    StrayFirst,
}

/// A page the browser ended on.
#[derive(Debug, Clone)]
struct Page {
    status: u16,
    body: String,
}

struct FakeBrowser {
    mode: Mutex<BrowserMode>,
    opened: AtomicUsize,
    pages: Arc<Mutex<Vec<Page>>>,
    /// What the stray requests of [`BrowserMode::StrayFirst`] got.
    strays: Arc<Mutex<Vec<Page>>>,
}

impl FakeBrowser {
    fn new(mode: BrowserMode) -> Arc<Self> {
        Arc::new(FakeBrowser {
            mode: Mutex::new(mode),
            opened: AtomicUsize::new(0),
            pages: Arc::new(Mutex::new(Vec::new())),
            strays: Arc::new(Mutex::new(Vec::new())),
        })
    }

    async fn pages(&self, n: usize) -> Vec<Page> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pages = self.pages.lock().unwrap().clone();
            if pages.len() >= n || Instant::now() > deadline {
                return pages;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// What a browser does with a URL: GET it, follow one redirect.
async fn visit(url: String, pages: Arc<Mutex<Vec<Page>>>, twice: bool) {
    let client = plain_client();
    let first = match client.get(&url).send().await {
        Ok(r) => r,
        Err(e) => {
            pages.lock().unwrap().push(Page {
                status: 0,
                body: e.to_string(),
            });
            return;
        }
    };
    let Some(location) = first
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        let status = first.status().as_u16();
        let body = first.text().await.unwrap_or_default();
        pages.lock().unwrap().push(Page { status, body });
        return;
    };
    let fetch = |client: reqwest::Client, location: String, pages: Arc<Mutex<Vec<Page>>>| async move {
        let page = match client.get(&location).send().await {
            Ok(r) => Page {
                status: r.status().as_u16(),
                body: r.text().await.unwrap_or_default(),
            },
            Err(e) => Page {
                status: 0,
                body: e.to_string(),
            },
        };
        pages.lock().unwrap().push(page);
    };
    let one = tokio::spawn(fetch(client.clone(), location.clone(), pages.clone()));
    if twice {
        tokio::time::sleep(Duration::from_millis(50)).await;
        fetch(client, location, pages).await;
    }
    let _ = one.await;
}

/// Requests a local program could send the loopback port before the real
/// redirect arrives (it knows the port, not the state; or the state, not
/// the method or the path).
async fn send_strays(authorize_url: String, strays: Arc<Mutex<Vec<Page>>>) {
    let url = url::Url::parse(&authorize_url).unwrap();
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    let (redirect_uri, state) = (param("redirect_uri"), param("state"));
    let client = plain_client();
    for (method, query) in [
        (reqwest::Method::GET, "code=forged&state=forged".to_string()),
        (reqwest::Method::GET, "error=access_denied".to_string()),
        (reqwest::Method::POST, format!("code=forged&state={state}")),
        (
            reqwest::Method::GET,
            format!("code=forged&state={state}&other=path"),
        ),
    ] {
        // The last one on another path of the same port.
        let target = if query.ends_with("other=path") {
            redirect_uri.replace("/callback/", "/elsewhere/")
        } else {
            redirect_uri.clone()
        };
        let r = client
            .request(method, format!("{target}?{query}"))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap_or_default();
        strays.lock().unwrap().push(Page { status, body });
    }
}

impl BrowserOpener for FakeBrowser {
    fn open(&self, url: &str) -> educloud_core::Result<()> {
        self.opened.fetch_add(1, Ordering::SeqCst);
        let mode = *self.mode.lock().unwrap();
        match mode {
            BrowserMode::Broken => Err(CoreError::BrowserLaunch("no browser here".into())),
            BrowserMode::Idle => Ok(()),
            BrowserMode::StrayFirst => {
                let (url, pages, strays) =
                    (url.to_string(), self.pages.clone(), self.strays.clone());
                tokio::spawn(async move {
                    send_strays(url.clone(), strays).await;
                    visit(url, pages, false).await;
                });
                Ok(())
            }
            BrowserMode::Follow | BrowserMode::FollowTwice => {
                tokio::spawn(visit(
                    url.to_string(),
                    self.pages.clone(),
                    mode == BrowserMode::FollowTwice,
                ));
                Ok(())
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The rig
// ---------------------------------------------------------------------------

struct Rig {
    hostile: Hostile,
    browser: Arc<FakeBrowser>,
    desktop: Desktop,
    _dir: tempfile::TempDir,
}

async fn rig_with(tamper: Tamper, mode: BrowserMode, policy: Policy) -> Rig {
    let hostile = Hostile::start(tamper).await;
    let dir = tempfile::tempdir().unwrap();
    let browser = FakeBrowser::new(mode);
    let mut loaded = LoadedPolicy::default();
    loaded.add("test".into(), policy);
    let desktop = Desktop::open(AppPaths::under(dir.path()), loaded)
        .unwrap()
        .with_browser(browser.clone());
    desktop.set_service(ServiceEndpoint {
        kind: EnvironmentKind::Custom,
        base_url: url::Url::parse(&format!("{}/", hostile.op.base)).unwrap(),
    });
    Rig {
        hostile,
        browser,
        desktop,
        _dir: dir,
    }
}

async fn rig(tamper: Tamper) -> Rig {
    rig_with(tamper, BrowserMode::Follow, Policy::default()).await
}

fn options() -> SignInOptions {
    SignInOptions {
        timeout: Duration::from_secs(15),
        prompt_login: false,
        lang: Some("zh-TW".into()),
    }
}

impl Rig {
    async fn sign_in_as(&self, idp: &CountyIdp) -> educloud_core::Result<VerifiedCounty> {
        let gate = SignInGate::new();
        let pending = start_county_sign_in(&self.desktop, idp, &gate, options()).await?;
        pending.wait(&self.desktop).await
    }

    async fn sign_in(&self) -> educloud_core::Result<VerifiedCounty> {
        self.sign_in_as(&self.hostile.county()).await
    }

    /// Signs in, expects the rejection `code`, and checks the browser was
    /// told in words.
    async fn rejected(&self, code: &str) -> CoreError {
        let err = self.sign_in().await.expect_err("the attack was accepted");
        assert_eq!(err.code(), code, "{err:?}");
        let pages = self.browser.pages(1).await;
        let page = pages.last().expect("the browser got no page");
        assert_eq!(page.status, 400, "{}", page.body);
        assert!(page.body.contains("登入沒有完成"), "{}", page.body);
        assert!(page.body.contains(code), "{}", page.body);
        err
    }
}

/// Nothing listens on `hostport` any more. Under ephemeral-port pressure
/// (a load test on the same machine) the connect may pick that very port as
/// its local port and connect to itself; that proves the same.
async fn assert_closed(hostport: &str) {
    if let Ok(s) = tokio::net::TcpStream::connect(hostport).await {
        let addr: SocketAddr = hostport.parse().unwrap();
        assert_eq!(s.local_addr().ok(), Some(addr), "port still open");
    }
}

fn tamper(f: impl FnOnce(&mut Tamper)) -> Tamper {
    let mut t = Tamper::default();
    f(&mut t);
    t
}

// ---------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------

#[tokio::test]
async fn rp_response_type_code() {
    let r = rig(Tamper::default()).await;
    let v = r.sign_in().await.unwrap();
    assert_eq!(v.identity.sub, "hostile-sub-1");
    assert_eq!(v.identity.county, "hostile");
    assert!(
        matches!(v.credential, CountyCredential::IdToken(ref t) if t.expose_secret().split('.').count() == 3)
    );
    // The request: code flow, PKCE S256, state, nonce, loopback redirect.
    let log = r.hostile.log();
    let q = &log.authorize_query;
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert!(q["state"].len() >= 22 && q["nonce"].len() >= 22, "{q:?}");
    let redirect = url::Url::parse(&q["redirect_uri"]).unwrap();
    assert_eq!(redirect.host_str(), Some("127.0.0.1"));
    assert_eq!(redirect.path(), "/callback/hostile");
    let scopes: Vec<&str> = q["scope"].split(' ').collect();
    assert_eq!(scopes, ["openid", "profile", "email"]);
    // A fresh 32-byte verifier: 43 base64url characters.
    assert_eq!(log.token_form["code_verifier"].len(), 43);
    assert!(log.token_authorization.is_none(), "public client: no Basic");
    // The browser saw the localized success page, and the port is closed.
    let pages = r.browser.pages(1).await;
    assert_eq!(pages[0].status, 200);
    assert!(pages[0].body.contains("登入完成，可以關閉此分頁"));
    let addr = format!(
        "{}:{}",
        redirect.host_str().unwrap(),
        redirect.port().unwrap()
    );
    assert_closed(&addr).await;
    assert_eq!(v.end_session_endpoint.unwrap().path(), "/op/logout");
}

#[tokio::test]
async fn rp_id_token_sig_rs256() {
    let r = rig(Tamper::default()).await;
    let v = r.sign_in().await.unwrap();
    let CountyCredential::IdToken(t) = &v.credential else {
        panic!("no ID token")
    };
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(t.expose_secret().split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(r.hostile.log().jwks_fetches, 1);
}

#[tokio::test]
async fn rp_scope_userinfo_claims() {
    let r = rig(Tamper::default()).await;
    let v = r.sign_in().await.unwrap();
    assert_eq!(v.identity.name.as_deref(), Some("王小明（UserInfo）"));
    assert_eq!(v.identity.school_name.as_deref(), Some("示範國民中學"));
    assert_eq!(v.identity.email.as_deref(), Some("teacher01@mail.edu.tw"));
    assert_eq!(v.identity.preferred_username.as_deref(), Some("teacher01"));
    assert_eq!(r.hostile.log().userinfo_calls, 1);
}

#[tokio::test]
async fn rp_userinfo_bearer_header() {
    let r = rig(Tamper::default()).await;
    r.sign_in().await.unwrap();
    let log = r.hostile.log();
    assert!(log.userinfo_header_bearer);
    assert!(!log.userinfo_token_in_query);
}

#[tokio::test]
async fn rp_userinfo_bad_sub_claim() {
    let r = rig(tamper(|t| t.userinfo_sub = Some("someone-else".into()))).await;
    r.rejected("signin.userinfo_sub_mismatch").await;
}

#[tokio::test]
async fn rp_nonce_invalid() {
    let r = rig(tamper(|t| {
        t.claims = json!({"nonce": "not-the-nonce-we-sent"})
    }))
    .await;
    r.rejected("signin.id_token_nonce").await;
}

#[tokio::test]
async fn rp_nonce_missing() {
    let r = rig(tamper(|t| t.claims = json!({"nonce": null}))).await;
    r.rejected("signin.id_token_nonce").await;
}

#[tokio::test]
async fn rp_id_token_bad_sig_rs256() {
    let r = rig(tamper(|t| t.signing = Signing::BadSignature)).await;
    r.rejected("signin.id_token_signature").await;
}

#[tokio::test]
async fn rp_id_token_sig_none() {
    let r = rig(tamper(|t| t.signing = Signing::AlgNone)).await;
    r.rejected("signin.id_token_signature").await;
}

#[tokio::test]
async fn rp_id_token_sig_hs256_keyed_with_the_public_key() {
    let r = rig(tamper(|t| t.signing = Signing::Hs256PublicKey)).await;
    r.rejected("signin.id_token_signature").await;
}

#[tokio::test]
async fn rp_id_token_sig_hs256_refused_even_for_a_confidential_client() {
    let secret = "policy-secret-123";
    let r = rig(tamper(|t| {
        t.signing = Signing::Hs256ClientSecret;
        t.require_basic_secret = Some(secret.into());
    }))
    .await;
    let mut idp = r.hostile.county();
    idp.client_secret = Some(secret.to_string().into());
    let err = r.sign_in_as(&idp).await.unwrap_err();
    assert_eq!(err.code(), "signin.id_token_signature", "{err:?}");
}

#[tokio::test]
async fn rp_id_token_issuer_mismatch() {
    let r = rig(tamper(|t| {
        t.claims = json!({"iss": "https://attacker.example"})
    }))
    .await;
    r.rejected("signin.id_token_issuer").await;
}

#[tokio::test]
async fn rp_id_token_aud() {
    let r = rig(tamper(|t| {
        t.claims = json!({"aud": ["another-client"], "azp": null})
    }))
    .await;
    r.rejected("signin.id_token_audience").await;
}

#[tokio::test]
async fn rp_id_token_azp_wrong() {
    let r = rig(tamper(|t| t.claims = json!({"azp": "another-client"}))).await;
    r.rejected("signin.id_token_audience").await;
}

#[tokio::test]
async fn rp_id_token_untrusted_extra_audience() {
    let r = rig(tamper(|t| {
        t.claims = json!({"aud": [CLIENT_ID, "another-client"], "azp": null})
    }))
    .await;
    r.rejected("signin.id_token_audience").await;
}

#[tokio::test]
async fn rp_id_token_sub() {
    let r = rig(tamper(|t| t.claims = json!({"sub": null}))).await;
    r.rejected("signin.bad_token_response").await;
    let r = rig(tamper(|t| t.claims = json!({"sub": ""}))).await;
    r.rejected("signin.id_token_subject").await;
}

#[tokio::test]
async fn rp_id_token_iat() {
    let r = rig(tamper(|t| t.claims = json!({"iat": time_now() + 3600}))).await;
    r.rejected("signin.id_token_iat").await;
}

#[tokio::test]
async fn rp_id_token_expired() {
    let r = rig(tamper(|t| {
        t.claims = json!({"exp": time_now() - 600, "iat": time_now() - 4200})
    }))
    .await;
    r.rejected("signin.id_token_expired").await;
}

// ---- wrong clocks (issue 14 item 5) ----

/// A computer clock a few minutes off (either way) still signs in: the
/// county's clock (its tokens and its `Date`) is 4 minutes ahead or behind.
#[tokio::test]
async fn a_clock_minutes_off_still_signs_in() {
    for offset in [-4 * 60, 4 * 60] {
        let r = rig(tamper(|t| t.clock_offset = offset)).await;
        r.sign_in()
            .await
            .unwrap_or_else(|e| panic!("offset {offset}: {e:?}"));
    }
    // A token that expired a minute ago by this computer's clock.
    let r = rig(tamper(|t| {
        t.claims = json!({"exp": time_now() - 60, "iat": time_now() - 3660})
    }))
    .await;
    r.sign_in().await.unwrap();
}

/// Hours off: the words name the computer's clock, not the token — decided
/// from the token answer's `Date` (faked here with the county's tokens).
#[tokio::test]
async fn a_clock_hours_off_is_named_as_the_clock() {
    for offset in [-3 * 3600, 3 * 3600, -30 * 3600] {
        let r = rig(tamper(|t| t.clock_offset = offset)).await;
        let err = r.rejected("clock.skewed").await;
        let CoreError::SignInRejected { detail, .. } = err else {
            panic!("{err:?}")
        };
        let way = if offset < 0 { "ahead of" } else { "behind" };
        assert!(
            detail.contains(way) && detail.contains("Date"),
            "{offset}: {detail}"
        );
        let pages = r.browser.pages(1).await;
        assert!(
            pages[0].body.contains("您電腦的時間不正確"),
            "{}",
            pages[0].body
        );
    }
}

// ---- shared devices: a fresh login (issue 12 item 4) ----

fn shared() -> SignInOptions {
    SignInOptions {
        prompt_login: true,
        ..options()
    }
}

impl Rig {
    async fn sign_in_shared(&self) -> educloud_core::Result<VerifiedCounty> {
        let gate = SignInGate::new();
        let pending =
            start_county_sign_in(&self.desktop, &self.hostile.county(), &gate, shared()).await?;
        pending.wait(&self.desktop).await
    }
}

/// The provider ignores prompt=login and max_age=0 (a browser session of
/// the previous pupil, ten minutes old): refused on a shared device.
#[tokio::test]
async fn shared_device_refuses_a_login_the_provider_did_not_repeat() {
    let r = rig(tamper(|t| {
        t.claims = json!({"auth_time": time_now() - 600})
    }))
    .await;
    let err = r
        .sign_in_shared()
        .await
        .expect_err("the old login was accepted");
    assert_eq!(err.code(), "signin.not_reauthenticated", "{err:?}");
    let q = r.hostile.log().authorize_query;
    assert_eq!(q.get("prompt").map(String::as_str), Some("login"), "{q:?}");
    assert_eq!(q.get("max_age").map(String::as_str), Some("0"), "{q:?}");
    let pages = r.browser.pages(1).await;
    assert_eq!(pages[0].status, 400);
    assert!(pages[0].body.contains("signin.not_reauthenticated"));
    // Even a login a few seconds before the request is not this one.
    let r = rig(tamper(|t| t.claims = json!({"auth_time": time_now() - 20}))).await;
    assert_eq!(
        r.sign_in_shared().await.unwrap_err().code(),
        "signin.not_reauthenticated"
    );
    // Not a shared device: the county's session is fine.
    let r = rig(tamper(|t| {
        t.claims = json!({"auth_time": time_now() - 600})
    }))
    .await;
    r.sign_in().await.unwrap();
    let q = r.hostile.log().authorize_query;
    assert!(
        !q.contains_key("max_age") && !q.contains_key("prompt"),
        "{q:?}"
    );
}

#[tokio::test]
async fn shared_device_refuses_an_id_token_without_auth_time() {
    let r = rig(tamper(|t| t.claims = json!({"auth_time": null}))).await;
    assert_eq!(
        r.sign_in_shared().await.unwrap_err().code(),
        "signin.not_reauthenticated"
    );
}

/// A real fresh login passes, also when the county's clock is off.
#[tokio::test]
async fn shared_device_accepts_a_fresh_login() {
    for offset in [0, -4 * 60, 4 * 60] {
        let r = rig(tamper(|t| t.clock_offset = offset)).await;
        r.sign_in_shared()
            .await
            .unwrap_or_else(|e| panic!("offset {offset}: {e:?}"));
    }
}

#[tokio::test]
async fn rp_id_token_kid_absent_single_jwks() {
    let r = rig(tamper(|t| t.signing = Signing::NoKidSingleKey)).await;
    let v = r.sign_in().await.unwrap();
    assert_eq!(v.identity.sub, "hostile-sub-1");
}

#[tokio::test]
async fn rp_id_token_kid_absent_multiple_jwks() {
    let r = rig(tamper(|t| t.signing = Signing::NoKidMultipleKeys)).await;
    let err = r.rejected("signin.id_token_signature").await;
    assert!(err.to_string().contains("signin.id_token_signature"));
    assert!(format!("{err:?}").contains("Ambiguous key"), "{err:?}");
}

#[tokio::test]
async fn rp_key_rotation_op_sign_key() {
    let r = rig(tamper(|t| t.signing = Signing::RotatedAfterFirstFetch)).await;
    let v = r.sign_in().await.unwrap();
    assert_eq!(v.identity.sub, "hostile-sub-1");
    assert_eq!(r.hostile.log().jwks_fetches, 2, "exactly one refetch");
}

#[tokio::test]
async fn rp_id_token_unknown_kid_after_exactly_one_refetch() {
    let r = rig(tamper(|t| t.signing = Signing::UnknownKid)).await;
    r.rejected("signin.id_token_signature").await;
    assert_eq!(
        r.hostile.log().jwks_fetches,
        2,
        "one fetch + one refetch, no more"
    );
}

#[tokio::test]
async fn rp_discovery_openid_configuration_and_jwks_uri_keys() {
    let r = rig(Tamper::default()).await;
    let health = check_county(&r.desktop, &r.hostile.county()).await;
    assert!(health.ok, "{health:?}");
    assert_eq!(health.jwks_keys, Some(1));
    let log = r.hostile.log();
    assert_eq!((log.discovery_fetches, log.jwks_fetches), (1, 1));
}

#[tokio::test]
async fn rp_discovery_issuer_not_matching_config() {
    let r = rig(tamper(|t| {
        t.discovery_issuer = Some("https://attacker.example".into())
    }))
    .await;
    let err = r.sign_in().await.unwrap_err();
    assert_eq!(err.code(), "signin.discovery_issuer_mismatch");
    // Nothing else happened: no keys fetched, no port, no browser.
    assert_eq!(r.hostile.log().jwks_fetches, 0);
    assert_eq!(r.browser.opened.load(Ordering::SeqCst), 0);
    let health = check_county(&r.desktop, &r.hostile.county()).await;
    assert_eq!(
        health.error.as_deref(),
        Some("signin.discovery_issuer_mismatch")
    );
}

#[tokio::test]
async fn insecure_endpoints_are_refused() {
    let r = rig(tamper(|t| t.insecure_token_endpoint = true)).await;
    let err = r.sign_in().await.unwrap_err();
    assert_eq!(err.code(), "signin.insecure_endpoint");
    let mut idp = r.hostile.county();
    idp.issuer = "http://op.example.tw".into();
    assert_eq!(
        r.sign_in_as(&idp).await.unwrap_err().code(),
        "signin.insecure_endpoint"
    );
}

/// A redirect with another state is not this sign-in's: refused with a
/// 400 page, the code never redeemed, and the app keeps waiting (here until
/// a short timeout) instead of ending the sign-in.
#[tokio::test]
async fn a_redirect_with_another_state_is_refused_and_the_sign_in_keeps_waiting() {
    let r = rig(tamper(|t| t.redirect_state = Some("forged-state".into()))).await;
    let gate = SignInGate::new();
    let short = SignInOptions {
        timeout: Duration::from_secs(2),
        ..options()
    };
    let pending = start_county_sign_in(&r.desktop, &r.hostile.county(), &gate, short)
        .await
        .unwrap();
    let err = pending.wait(&r.desktop).await.unwrap_err();
    assert_eq!(err.code(), "signin.timed_out", "{err:?}");
    let pages = r.browser.pages(1).await;
    assert_eq!(pages[0].status, 400, "{pages:?}");
    assert!(pages[0].body.contains("這不是目前的登入回應"), "{pages:?}");
    assert_eq!(r.hostile.log().token_calls, 0, "the code was redeemed");
}

/// Issue 12 item 5: stray requests on the loopback port before the real
/// redirect (a local program that found the port) get 400 pages and do not
/// end the sign-in; the real redirect still signs in.
#[tokio::test]
async fn stray_requests_before_the_redirect_do_not_end_the_sign_in() {
    let r = rig_with(
        Tamper::default(),
        BrowserMode::StrayFirst,
        Policy::default(),
    )
    .await;
    let verified = r
        .sign_in()
        .await
        .expect("a stray request ended the sign-in");
    assert_eq!(verified.identity.sub, "hostile-sub-1");
    let strays = r.browser.strays.lock().unwrap().clone();
    assert_eq!(strays.len(), 4, "{strays:?}");
    for page in &strays {
        assert_eq!(page.status, 400, "{page:?}");
        assert!(page.body.contains("這不是目前的登入回應"), "{page:?}");
    }
    let pages = r.browser.pages(1).await;
    assert_eq!(pages[0].status, 200, "{pages:?}");
    assert!(pages[0].body.contains("登入完成"), "{pages:?}");
    assert_eq!(r.hostile.log().token_calls, 1);
}

#[tokio::test]
async fn authorization_response_iss_mismatch_is_rejected() {
    let r = rig(tamper(|t| {
        t.redirect_iss = Some(Some("https://attacker.example".into()))
    }))
    .await;
    r.rejected("signin.iss_mismatch").await;
    assert_eq!(r.hostile.log().token_calls, 0);
}

#[tokio::test]
async fn missing_iss_is_rejected_when_the_metadata_promises_it() {
    let r = rig(tamper(|t| t.redirect_iss = Some(None))).await;
    r.rejected("signin.iss_missing").await;
    assert_eq!(r.hostile.log().token_calls, 0);
    // A provider that does not promise iss may omit it.
    let r = rig(tamper(|t| {
        t.redirect_iss = Some(None);
        t.iss_supported = false;
    }))
    .await;
    r.sign_in().await.unwrap();
}

#[tokio::test]
async fn access_denied_is_reported_in_words() {
    let r = rig(tamper(|t| t.redirect_error = Some("access_denied"))).await;
    let err = r.rejected("signin.access_denied").await;
    assert!(matches!(err, CoreError::IdpError { .. }));
    let pages = r.browser.pages(1).await;
    assert!(pages[0].body.contains("您已取消登入"));
    assert_eq!(r.hostile.log().token_calls, 0);
}

/// Log lines captured with the app's formatter (tracing-subscriber fmt).
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> LogBuffer {
        self.clone()
    }
}

/// Issue 12 item 7: an IdP's `error` / `error_description` with a newline
/// and a fake log line after it stays inside its own line, in the oidc
/// logs and where the shell logs the error (`error = %e`, as
/// `src-tauri/dto.rs` does).
#[tokio::test]
async fn a_forged_newline_from_the_provider_cannot_start_a_log_line() {
    const FORGED: &str = "1999-01-01T00:00:00.000000Z ERROR educloud: FORGED";
    // Global (a thread-scoped subscriber misses callsites other test
    // threads registered first); the other tests' lines land here too.
    static LOGS: std::sync::OnceLock<LogBuffer> = std::sync::OnceLock::new();
    let logs = LOGS.get_or_init(|| {
        let logs = LogBuffer::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        logs
    });
    let r = rig(tamper(|t| {
        t.redirect_error =
            Some("access_denied\n1999-01-01T00:00:00.000000Z ERROR educloud: FORGED");
        t.redirect_error_description =
            Some("bye\r\n1999-01-01T00:00:00.000000Z ERROR educloud: FORGED");
    }))
    .await;
    let err = r
        .sign_in()
        .await
        .expect_err("the error answer was accepted");
    tracing::warn!(code = err.code(), error = %err, "command failed");
    assert!(!err.to_string().contains('\n'), "{err}");
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.matches("FORGED").count() >= 2,
        "the values were not logged: {text}"
    );
    for line in text.lines() {
        assert!(
            !line.starts_with(&FORGED[..10]),
            "a forged line: {line:?}\n{text}"
        );
    }
}

/// Issue 12 item 6: every read of the county's answers has a size cap; an
/// endless body fails fast with `network.response_too_large`, and what the
/// server could push before the app stopped reading stays small.
#[tokio::test]
async fn endless_answers_from_the_provider_stop_at_their_size_cap() {
    for endpoint in [
        "discovery",
        "jwks",
        "token",
        "userinfo",
        "eduinfo",
        "taipei_user",
    ] {
        let r = rig(tamper(|t| t.endless = Some(endpoint))).await;
        let idp = match endpoint {
            "eduinfo" => as_sso(&r),
            "taipei_user" => as_taipei(&r),
            _ => r.hostile.county(),
        };
        let started = Instant::now();
        let err = tokio::time::timeout(Duration::from_secs(10), r.sign_in_as(&idp))
            .await
            .unwrap_or_else(|_| panic!("{endpoint}: still reading after 10 s"))
            .expect_err("an endless answer was accepted");
        assert_eq!(
            err.code(),
            "network.response_too_large",
            "{endpoint}: {err:?}"
        );
        let sent = r.hostile.op.endless_sent.load(Ordering::SeqCst);
        assert!(
            sent > 0,
            "{endpoint}: the endless answer was never asked for"
        );
        assert!(
            sent < 16 * 1024 * 1024,
            "{endpoint}: {sent} bytes pushed before the app stopped reading"
        );
        assert!(started.elapsed() < Duration::from_secs(5), "{endpoint}");
    }
}

#[tokio::test]
async fn second_redirect_while_verifying_is_told_the_sign_in_ended() {
    let r = rig_with(
        tamper(|t| t.token_delay = Duration::from_millis(400)),
        BrowserMode::FollowTwice,
        Policy::default(),
    )
    .await;
    r.sign_in().await.unwrap();
    let pages = r.browser.pages(2).await;
    assert_eq!(pages.len(), 2, "{pages:?}");
    let ended = pages
        .iter()
        .filter(|p| p.body.contains("此登入已結束"))
        .count();
    let done = pages.iter().filter(|p| p.body.contains("登入完成")).count();
    assert_eq!((ended, done), (1, 1), "{pages:?}");
    assert_eq!(r.hostile.log().token_calls, 1);
}

#[tokio::test]
async fn redirects_from_the_provider_are_never_followed() {
    let r = rig(tamper(|t| t.discovery_redirects = true)).await;
    assert_eq!(
        r.sign_in().await.unwrap_err().code(),
        "signin.redirect_refused"
    );
    let r = rig(tamper(|t| t.token_redirects = true)).await;
    r.rejected("signin.redirect_refused").await;
    assert_eq!(r.hostile.log().elsewhere_hits, 0, "a redirect was followed");
}

#[tokio::test]
async fn rp_token_endpoint_client_secret_basic() {
    let secret = "p0licy+secret/with:chars";
    let r = rig(tamper(|t| t.require_basic_secret = Some(secret.into()))).await;
    // The secret comes from IT policy through the directory, never the binary.
    let policy = Policy::from_json(&format!(
        r#"{{"CountyOverrides": {{"hostile": {{"issuer": "{}", "client_id": "{CLIENT_ID}",
            "client_secret": "{secret}", "profile": "oidc", "scopes": ["openid","profile","email"]}}}}}}"#,
        r.hostile.op.issuer
    ))
    .unwrap()
    .0;
    let config = serde_json::from_value(json!({
        "environment": "custom", "api_base": "http://127.0.0.1:9/api/v1/",
        "terms_version": "x", "password_policy": {"min_length": 8, "max_length": 64, "min_classes": 3, "min_score": 3},
        "counties": []
    }))
    .unwrap();
    let dir = CountyDirectory::from_configuration(&config, &policy);
    let idp = dir.get("hostile").unwrap().clone();
    let v = r.sign_in_as(&idp).await.unwrap();
    assert_eq!(v.identity.sub, "hostile-sub-1");
    let log = r.hostile.log();
    assert!(log.token_authorization.unwrap().starts_with("Basic "));
    assert!(!log.token_form.contains_key("client_secret"));
    // Without the secret the provider refuses the client.
    let err = r.sign_in().await.unwrap_err();
    assert_eq!(err.code(), "signin.idp_error");
    assert!(matches!(err, CoreError::IdpError { ref error, .. } if error == "invalid_client"));
}

#[tokio::test]
async fn one_pending_sign_in_at_a_time_cancel_and_timeout() {
    let r = rig_with(Tamper::default(), BrowserMode::Idle, Policy::default()).await;
    let gate = SignInGate::new();
    let idp = r.hostile.county();
    let pending = start_county_sign_in(&r.desktop, &idp, &gate, options())
        .await
        .unwrap();
    assert_eq!(
        start_county_sign_in(&r.desktop, &idp, &gate, options())
            .await
            .unwrap_err()
            .code(),
        "signin.pending"
    );
    let addr = pending.redirect_uri().clone();
    let cancel = pending.canceller();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        cancel.cancel();
    });
    let started = Instant::now();
    assert_eq!(
        pending.wait(&r.desktop).await.unwrap_err().code(),
        "signin.cancelled"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    let hostport = format!("{}:{}", addr.host_str().unwrap(), addr.port().unwrap());
    assert_closed(&hostport).await;
    // The gate is free again; a short timeout ends the wait.
    let pending = start_county_sign_in(
        &r.desktop,
        &idp,
        &gate,
        SignInOptions {
            timeout: Duration::from_millis(300),
            ..options()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        pending.wait(&r.desktop).await.unwrap_err().code(),
        "signin.timed_out"
    );
    assert_eq!(r.hostile.log().token_calls, 0);
}

#[tokio::test]
async fn a_browser_that_does_not_open_leaves_the_link_to_copy() {
    let r = rig_with(Tamper::default(), BrowserMode::Broken, Policy::default()).await;
    let gate = SignInGate::new();
    let pending = start_county_sign_in(&r.desktop, &r.hostile.county(), &gate, options())
        .await
        .unwrap();
    let waiting = pending.waiting().clone();
    assert!(!waiting.browser_opened);
    assert!(waiting.browser_error.is_some());
    assert_eq!(waiting.authorize_url, pending.authorize_url().as_str());
    // The user copies the link into a browser by hand.
    let pages = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(visit(waiting.authorize_url.clone(), pages.clone(), false));
    let v = pending.wait(&r.desktop).await.unwrap();
    assert_eq!(v.identity.sub, "hostile-sub-1");
}

#[tokio::test]
async fn rp_id_token_at_hash_mismatch() {
    let r = rig(tamper(|t| t.at_hash = AtHash::Tampered)).await;
    r.rejected("signin.id_token_at_hash").await;
}

#[tokio::test]
async fn rp_id_token_at_hash_matching_the_access_token_is_accepted() {
    let r = rig(tamper(|t| t.at_hash = AtHash::Correct)).await;
    let v = r.sign_in().await.unwrap();
    let CountyCredential::IdToken(t) = &v.credential else {
        panic!("no ID token")
    };
    // The token really carried one (16 bytes, base64url).
    let at_hash = jwt_claims(t.expose_secret())["at_hash"].clone();
    assert_eq!(at_hash.as_str().map(str::len), Some(22), "{at_hash}");
}

#[tokio::test]
async fn rp_userinfo_redirect_is_never_followed() {
    let r = rig(tamper(|t| t.userinfo_redirects = true)).await;
    r.rejected("signin.redirect_refused").await;
    let log = r.hostile.log();
    assert_eq!(log.userinfo_calls, 1);
    assert_eq!(log.elsewhere_hits, 0, "a redirect was followed");
}

/// The hostile county as sso.edu.tw (UserInfo, then eduinfo).
fn as_taipei(r: &Rig) -> CountyIdp {
    let mut idp = r.hostile.county();
    idp.profile = IdpProfile::TaipeiOauth2;
    idp.scopes = vec!["user".into(), "profile".into()];
    idp
}

/// Issue 12 item 4 for the Taipei profile (plain OAuth 2.0, no ID token):
/// the strongest it allows is to ask — prompt=login and max_age=0 are sent
/// on shared devices; nothing in its answers can prove a fresh login, so
/// the sign-in goes through (docs/security.md says so).
#[tokio::test]
async fn taipei_profile_on_a_shared_device_asks_for_a_fresh_login() {
    let r = rig(Tamper::default()).await;
    let gate = SignInGate::new();
    let pending = start_county_sign_in(&r.desktop, &as_taipei(&r), &gate, shared())
        .await
        .unwrap();
    let verified = pending.wait(&r.desktop).await.unwrap();
    assert_eq!(verified.identity.sub, "tp-uuid-1");
    assert_eq!(verified.identity.school_id.as_deref(), Some("353604"));
    assert!(matches!(
        verified.credential,
        CountyCredential::AccessToken(_)
    ));
    let q = r.hostile.log().authorize_query;
    assert_eq!(q.get("prompt").map(String::as_str), Some("login"), "{q:?}");
    assert_eq!(q.get("max_age").map(String::as_str), Some("0"), "{q:?}");
    assert!(!q["scope"].contains("openid"), "{q:?}");
}

fn as_sso(r: &Rig) -> CountyIdp {
    let mut idp = r.hostile.county();
    idp.profile = IdpProfile::SsoEduTw;
    idp
}

#[tokio::test]
async fn eduinfo_gives_school_and_titles_and_its_redirect_is_never_followed() {
    let r = rig(Tamper::default()).await;
    let v = r.sign_in_as(&as_sso(&r)).await.unwrap();
    assert_eq!(v.identity.school_id.as_deref(), Some("014569"));
    assert_eq!(v.identity.role.as_deref(), Some("教師"));
    assert_eq!(r.hostile.log().eduinfo_calls, 1);
    let r = rig(tamper(|t| t.eduinfo_redirects = true)).await;
    let err = r.sign_in_as(&as_sso(&r)).await.unwrap_err();
    assert_eq!(err.code(), "signin.redirect_refused", "{err:?}");
    let log = r.hostile.log();
    assert_eq!((log.eduinfo_calls, log.elsewhere_hits), (1, 0));
}

#[tokio::test]
async fn rp_eduinfo_bad_sub_claim() {
    let r = rig(tamper(|t| t.eduinfo_sub = Some("someone-else".into()))).await;
    let err = r.sign_in_as(&as_sso(&r)).await.unwrap_err();
    assert_eq!(err.code(), "signin.userinfo_sub_mismatch", "{err:?}");
}

#[tokio::test]
async fn education_cloud_redirects_are_never_followed() {
    let r = rig(Tamper::default()).await;
    r.hostile
        .cloud
        .sessions_redirect
        .store(true, Ordering::SeqCst);
    let kc = MockKeychain::new();
    let session = SessionState::new(SessionVault::mock(&kc));
    let err = session
        .sign_in_county(
            &r.desktop,
            "hostile",
            true,
            &educloud_core::oidc::NoProgress,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "network.bad_response", "{err:?}");
    assert!(
        err.detail()
            .unwrap()
            .contains("refused to follow a redirect"),
        "{err:?}"
    );
    assert_eq!(r.hostile.cloud.log.session_calls.load(Ordering::SeqCst), 1);
    assert_eq!(r.hostile.log().elsewhere_hits, 0, "a redirect was followed");
    assert!(session.active().is_none());
    assert!(kc.is_empty());
}

// ---- The metadata cache (discovery and JWKS in the store) ----

fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn cached(r: &Rig, key: &str) -> Option<Value> {
    r.desktop
        .store
        .cached(key)
        .unwrap()
        .map(|text| serde_json::from_str(&text).unwrap())
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn discovery_and_jwks_are_cached_per_issuer() {
    let r = rig(Tamper::default()).await;
    let issuer = r.hostile.op.issuer.clone();
    r.sign_in().await.unwrap();
    r.sign_in().await.unwrap();
    let log = r.hostile.log();
    assert_eq!(
        (log.discovery_fetches, log.jwks_fetches, log.token_calls),
        (1, 1, 2),
        "the second sign-in fetched metadata again"
    );
    let doc = cached(&r, &format!("oidc:discovery:{issuer}")).unwrap();
    assert_eq!(doc["issuer"], issuer.as_str());
    let jwks = cached(&r, &format!("oidc:jwks:{issuer}/jwks")).unwrap();
    assert_eq!(kids(&jwks), ["key-a"]);
    // The health check is a live check: it fetches, and refreshes the cache.
    assert!(check_county(&r.desktop, &r.hostile.county()).await.ok);
    let log = r.hostile.log();
    assert_eq!((log.discovery_fetches, log.jwks_fetches), (2, 2));
    r.sign_in().await.unwrap();
    let log = r.hostile.log();
    assert_eq!((log.discovery_fetches, log.jwks_fetches), (2, 2));
}

#[tokio::test]
async fn cache_control_from_the_provider_is_honoured() {
    let r = rig(tamper(|t| {
        t.discovery_cache_control = Some("public, max-age=5");
        t.jwks_cache_control = Some("no-store");
    }))
    .await;
    r.sign_in().await.unwrap();
    r.sign_in().await.unwrap();
    let log = r.hostile.log();
    assert_eq!(
        (log.discovery_fetches, log.jwks_fetches),
        (1, 2),
        "max-age=5 kept, no-store not"
    );
    assert!(cached(&r, &format!("oidc:jwks:{}/jwks", r.hostile.op.issuer)).is_none());
    // max-age=5 (not the default hour): expired six seconds later. (The
    // store counts whole seconds, so a shorter max-age would race the
    // two sign-ins above.)
    tokio::time::sleep(Duration::from_millis(6100)).await;
    r.sign_in().await.unwrap();
    let log = r.hostile.log();
    assert_eq!((log.discovery_fetches, log.jwks_fetches), (2, 3));
}

#[tokio::test]
async fn a_cached_discovery_naming_another_issuer_is_discarded() {
    let r = rig(Tamper::default()).await;
    let issuer = r.hostile.op.issuer.clone();
    let forged = json!({
        "issuer": "https://attacker.example",
        "authorization_endpoint": "https://attacker.example/authorize",
        "token_endpoint": "https://attacker.example/token",
        "jwks_uri": "https://attacker.example/jwks",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    let store = &r.desktop.store;
    store
        .put_cached(
            &format!("oidc:discovery:{issuer}"),
            &forged.to_string(),
            3600,
        )
        .unwrap();
    // A cached JWKS that no longer parses is discarded too.
    store
        .put_cached(&format!("oidc:jwks:{issuer}/jwks"), "not a JWKS", 3600)
        .unwrap();
    let v = r.sign_in().await.unwrap();
    assert_eq!(v.identity.sub, "hostile-sub-1");
    let log = r.hostile.log();
    assert_eq!((log.discovery_fetches, log.jwks_fetches), (1, 1));
    assert_eq!(log.token_calls, 1, "the real token endpoint was used");
    let doc = cached(&r, &format!("oidc:discovery:{issuer}")).unwrap();
    assert_eq!(doc["issuer"], issuer.as_str(), "the forged entry survived");
    assert_eq!(
        kids(&cached(&r, &format!("oidc:jwks:{issuer}/jwks")).unwrap()),
        ["key-a"]
    );
}

#[tokio::test]
async fn a_failed_sign_in_drops_the_cached_metadata() {
    let r = rig(Tamper::default()).await;
    r.sign_in().await.unwrap();
    r.hostile.op.tamper.lock().unwrap().claims = json!({"nonce": "not-the-nonce-we-sent"});
    assert_eq!(
        r.sign_in().await.unwrap_err().code(),
        "signin.id_token_nonce"
    );
    assert!(cached(&r, &format!("oidc:discovery:{}", r.hostile.op.issuer)).is_none());
    r.hostile.op.tamper.lock().unwrap().claims = json!({});
    r.sign_in().await.unwrap();
    let log = r.hostile.log();
    assert_eq!((log.discovery_fetches, log.jwks_fetches), (2, 2));
}

#[tokio::test]
async fn rp_key_rotation_op_sign_key_with_a_cached_jwks() {
    let r = rig(Tamper::default()).await;
    let jwks_key = format!("oidc:jwks:{}/jwks", r.hostile.op.issuer);
    r.sign_in().await.unwrap();
    assert_eq!(r.hostile.log().jwks_fetches, 1);
    // The provider rotates: tokens are now signed with key B, which the
    // cached JWKS does not have; the published JWKS has A and B.
    r.hostile.op.tamper.lock().unwrap().signing = Signing::RotatedAfterFirstFetch;
    let v = r.sign_in().await.unwrap();
    assert_eq!(v.identity.sub, "hostile-sub-1");
    let log = r.hostile.log();
    assert_eq!(
        (log.discovery_fetches, log.jwks_fetches),
        (1, 2),
        "exactly one refetch"
    );
    assert_eq!(kids(&cached(&r, &jwks_key).unwrap()), ["key-a", "key-b"]);
    // The updated cache knows key B: no more fetches.
    r.sign_in().await.unwrap();
    assert_eq!(r.hostile.log().jwks_fetches, 2);

    // A key nobody publishes, with key A cached: one refetch, then refused.
    let r = rig(Tamper::default()).await;
    r.sign_in().await.unwrap();
    r.hostile.op.tamper.lock().unwrap().signing = Signing::UnknownKid;
    assert_eq!(
        r.sign_in().await.unwrap_err().code(),
        "signin.id_token_signature"
    );
    let log = r.hostile.log();
    assert_eq!(
        (log.discovery_fetches, log.jwks_fetches),
        (1, 2),
        "one refetch, no more"
    );
}

/// The shell spawns these futures on a multi-threaded runtime (and Tauri
/// commands require `Send`): a non-`Send` value held across an await in the
/// sign-in or sign-out paths must fail here, in the core's own tests.
#[tokio::test]
async fn county_sign_in_and_sign_out_futures_are_send() {
    fn send<T: Send>(_: T) {}
    let r = rig(Tamper::default()).await;
    let session = SessionState::new(SessionVault::mock(&MockKeychain::new()));
    let progress = educloud_core::oidc::NoProgress;
    send(session.sign_in_county(&r.desktop, "hostile", false, &progress));
    send(session.sign_out(&r.desktop, true));
    send(educloud_core::oidc::test_county_sign_in(
        &r.desktop,
        "hostile",
        options(),
        &progress,
    ));
    let gate = SignInGate::new();
    let pending = start_county_sign_in(&r.desktop, &r.hostile.county(), &gate, options())
        .await
        .unwrap();
    send(pending.wait(&r.desktop));
}

// ---- Education Cloud session hostility ----

#[tokio::test]
async fn refresh_returning_another_account_is_rejected() {
    let r = rig(Tamper::default()).await;
    let kc = MockKeychain::new();
    let session = SessionState::new(SessionVault::mock(&kc));
    let outcome = session
        .sign_in_county(
            &r.desktop,
            "hostile",
            true,
            &educloud_core::oidc::NoProgress,
        )
        .await
        .unwrap();
    assert!(
        matches!(outcome, educloud_core::session::SignInOutcome::SignedIn(ref a) if a.email == "teacher01@mail.edu.tw")
    );
    assert!(kc.raw(SERVICE_NAME, "teacher01@mail.edu.tw").is_some());
    *r.hostile.cloud.refresh_account.lock().unwrap() = "someone.else@mail.edu.tw".into();
    let err = session.refresh(&r.desktop).await.unwrap_err();
    assert_eq!(err.code(), "session.account_changed");
    assert!(session.active().is_none(), "the session was kept");
    assert!(
        kc.raw(SERVICE_NAME, "teacher01@mail.edu.tw").is_none(),
        "the entry was kept"
    );
    assert!(kc.raw(SERVICE_NAME, "someone.else@mail.edu.tw").is_none());
    // The same at launch.
    let kc2 = MockKeychain::new();
    let s2 = SessionState::new(SessionVault::mock(&kc2));
    *r.hostile.cloud.refresh_account.lock().unwrap() = "teacher01@mail.edu.tw".into();
    s2.sign_in_county(
        &r.desktop,
        "hostile",
        true,
        &educloud_core::oidc::NoProgress,
    )
    .await
    .unwrap();
    let s3 = SessionState::new(SessionVault::mock(&kc2));
    *r.hostile.cloud.refresh_account.lock().unwrap() = "someone.else@mail.edu.tw".into();
    assert_eq!(s3.restore_at_launch(&r.desktop).await.unwrap(), None);
    assert!(s3.active().is_none());
    assert!(kc2.is_empty());
    let history = r.desktop.store.history(10).unwrap();
    assert!(
        history
            .iter()
            .any(|h| h.method == "restore" && h.outcome == "session.account_changed"),
        "{history:?}"
    );
}

#[tokio::test]
async fn refresh_is_single_flight_and_rotation_reaches_the_keychain_first() {
    let r = rig(Tamper::default()).await;
    let kc = MockKeychain::new();
    let session = Arc::new(SessionState::new(SessionVault::mock(&kc)));
    session
        .sign_in_county(
            &r.desktop,
            "hostile",
            true,
            &educloud_core::oidc::NoProgress,
        )
        .await
        .unwrap();
    let before = kc.raw(SERVICE_NAME, "teacher01@mail.edu.tw").unwrap();
    let desktop = Arc::new(r.desktop);
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let s = session.clone();
        let d = desktop.clone();
        tasks.push(tokio::spawn(
            async move { s.refresh(&d).await.map(|a| a.email) },
        ));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), "teacher01@mail.edu.tw");
    }
    assert_eq!(r.hostile.cloud.log.refresh_calls.load(Ordering::SeqCst), 1);
    let after = kc.raw(SERVICE_NAME, "teacher01@mail.edu.tw").unwrap();
    assert_ne!(before, after, "the rotated token was not stored");
    let stored: Value = serde_json::from_str(&after).unwrap();
    let current = stored["refresh_token"].as_str().unwrap().to_string();
    assert!(session.holds_refresh_token(&current));
    assert_eq!(r.hostile.cloud.revoked(&current), Some(false));
    // Sign-out revokes at the server and deletes the entry — this
    // session's family, not just any request answered 204.
    let out = session.sign_out(&desktop, false).await.unwrap();
    assert!(out.revoked);
    assert_eq!(
        r.hostile.cloud.revoked(&current),
        Some(true),
        "the signed-out session still lives at the service"
    );
    assert_eq!(out.keychain_entries_deleted, 1);
    assert!(out
        .end_session_url
        .unwrap()
        .contains("/op/logout?client_id=educloud-desktop"));
    assert!(kc.is_empty());
    assert_eq!(r.hostile.cloud.log.revocations.load(Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------------------
// Throwaway test keys (generated with `openssl genpkey -algorithm RSA`).
// ---------------------------------------------------------------------------

const KEY_A: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQC4s+TNROUdyy2X\n\
hsucdSqoZRBqEk6Z5lWiocqGZS8aEhszvyWt9K85UW2sH+Yg0MWD2Hxs37mK0wAU\n\
oRsrgHPbBuw2tfwJhEzsdH4CGIB2biXAwT0H7BtFpUU0xN/8lja7vZnQeTHNBP9b\n\
2eqHCNy5j8DpomM35A29kgjps3RV83NtSzHINIa3507yF/4SxMoJI8zmmXrjj1jL\n\
kVxnKezfWgYYXkAuofy2bCcNfH0R/WPc1RC0MqZsTgU5pVv5pYELkGHTb47co4zK\n\
4H54+ugZ5yRoi851khkrIVx3QKqN1/r0zQlZjjAealjkX4ustXh7DlbOc+EsaRsl\n\
E2mD53SNAgMBAAECggEAWPIIlPFAhIB7jCTVmJqz2DQTG4GFaIeLZa4UIXRIon1l\n\
rB24v3S9jRSxg9o4sETZWQy/no5+g2Po/gY3V1OcdzV2O0KYBN05TgUrSUcTVfTl\n\
KVXlVhNVbsyP70F/u9t6sB42HDbAzMJDVrAySKTz5khb1iblMN0Z4NiagjBxLZIj\n\
TFpikJ+FwVHSyPMl4uOf6WqSlZ9AwNT77VPgyLRWGqoWqcfBahQivOyqAwx2deCN\n\
Arg+di9TJgu/YNF1eXo3VF9jJiiIY+dDkTBQxnOgMTx3UanQP7rXlgGHp0AxyrND\n\
BpmUYiGJKZgJKW/5JpLVWb8RvXlm9ayLLT7Bqzii4QKBgQD+u/681nRVIoDRIYoF\n\
OZ0Du7Cbmt4ZGNymSgkg6Jaz7fg/2TOcLMgVRtgi253xdHHobMP4Y8kYm0YtUCLW\n\
yDbA1qTVwLy50wOvYWEEhrtbyQSd0CbKrn/U++ljlw1i9QclOReCY6GLJX/6zsW/\n\
E6EimB0cXD41y5WL2TEwaf1zmwKBgQC5ntK6Si6Wrc2jClNRowXgzXZW/yTo9jG3\n\
vlZ5sF7tzkYN/HhbDa5zuW4xXLXpGy8ulCtNR2kGJesukjkTel/BD8/oLNH+A3Zn\n\
LLowG9+VXIcWiqDUdWlsFhil7+fNL8dxp32APyPGsOAXmXPhkeiyMOguFGoyO1rr\n\
CiHTh15e9wKBgQDO4Q00fhLCpZ/quItoTO8Y/hCjfzYLOebRYmVhhaQHAyhPam4A\n\
01m39e5I+QWf+EseUV8i1p+WTVzEJkX1G2tkV65NLxfW7uoaQELTszxsgagvJsKq\n\
bufAqMpWKHIlwQwJjgFq0tF6uXzjy5RL53xBJTrXMo8Pj4SnrD/Hqvy9KwKBgQCw\n\
OFICva5hKnvRT1ouZMCN3UF98hgOerxUnoTmXkShK3Vijc+NUf3Oq7orbsLcnQw8\n\
Ajrh0OuqBJGz0uoQzdreJK7S0spBhvP/m3zfc3beC8vL4KwzR4xgKtIXpxy/tZ55\n\
DfOdr1O9q+nzPaHAAo+Rq9Cg/oybR7JW9XWLpjY3nQKBgQCrKuCrUsWUE6hrw5qn\n\
9WJKZsBNaaP//I8Igt6LPL/sPzBNM1ueDlEklADCWQMc0Zsxl59CbYYvLWQjetr5\n\
dSI9NhqAjDMogyxAOm8KDMremH3WSLl0ScsO6BNxIbyfyRJ+I/vPVdMvCViD+qA0\n\
+4WsTvkEyTrsrSFBvh2ARWQQ5A==\n\
-----END PRIVATE KEY-----\n";

const KEY_A_PUB: &str = "\
-----BEGIN PUBLIC KEY-----\n\
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAuLPkzUTlHcstl4bLnHUq\n\
qGUQahJOmeZVoqHKhmUvGhIbM78lrfSvOVFtrB/mINDFg9h8bN+5itMAFKEbK4Bz\n\
2wbsNrX8CYRM7HR+AhiAdm4lwME9B+wbRaVFNMTf/JY2u72Z0HkxzQT/W9nqhwjc\n\
uY/A6aJjN+QNvZII6bN0VfNzbUsxyDSGt+dO8hf+EsTKCSPM5pl6449Yy5FcZyns\n\
31oGGF5ALqH8tmwnDXx9Ef1j3NUQtDKmbE4FOaVb+aWBC5Bh02+O3KOMyuB+ePro\n\
GeckaIvOdZIZKyFcd0Cqjdf69M0JWY4wHmpY5F+LrLV4ew5WznPhLGkbJRNpg+d0\n\
jQIDAQAB\n\
-----END PUBLIC KEY-----\n";

const KEY_B: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC93KFxD1qkAEpI\n\
bDQSoJczlZv4fNbgGAurJm+xz7hBpdwQk6iYdcSAUVjSOXlps5lOAQFrEjkhXgki\n\
HyLtBDQebcLbPNUYVXvcAugSnByWP0T5og1Pc6eET/OJKZ4Gr4K2Rsb+kbUmOy3T\n\
6UyOTcVUGJBzauWZ1MeIowIryNj8LEaf+wbegrwpN0JQCJm/2Qj6HjMGA3dDeBd9\n\
1iWjM1Av8BgG3OAV0BIo7dKetlSthcb5miwbRmQ2l0+KNh7kF6ihjij917sEzIuy\n\
WT8SSn0BRguvZisDraU7i+cJ+mQ+P0vFAn6V5+5D4NNMKojlIF7jylxhrPyyKcCd\n\
RaYXe4iFAgMBAAECggEAQHr5Y03tISyuDbmd18OthknlvjcbvOC9ucMkhPWAZN9B\n\
BWo4hIrekRvPeBon52OlCa5ivmvidjgbDvkXIfre/oSVfGLFFm4V0is0iPl25foX\n\
4VYNgjHLry5+DdPSBQA/ess/0v5GUPUhQ8qEgwHbpgtvp5si3iM7HucJmjgspTuI\n\
Ip7QJXxHpLc8+l0L8s06bz5vWmcqhncslrZeThwuobKHAV3P/QT9chgJmMLsb94+\n\
5coGswC3o+bgqNfgZJzPH7c+H8AbHVEFawaInWCnHG2j86jT+RE1qi8+vNT2/fyK\n\
mEK2MCIVSgqTRTqElsUIbD4nylHsKBQpm+M9OhKzIwKBgQDsqNMfmySVonmsLesC\n\
HjZHG0T+ET0quy6ARBvPovROp0KYyakuG1zQiLWAtVuC5zK5FiXHandl/oEOOsEU\n\
vmEPX900ftK1A5L9LCREhmEN2+t0Detgg1EV5ShvbEuIo1RZkxCNibF5nYmiI3SU\n\
+TSeeDSyIUIUS4KQSqY/SWD2ZwKBgQDNYL+KDLNqy4LGnKek5Qc3b5UF/xR3MlI3\n\
ZmmiPwo+plg5/nqyeBWAFFAh0zgshSRXtkbVxoNoX39Yh6SM9O0jHzdfO376XDO4\n\
/+hM/HzhgEQ5CXmlI6Nfm0AhCSQ3xmBvd/VaOic+2VRRmhjr8Rndm8apfigQ0udf\n\
P9A1OSa+MwKBgQCz1PXZJoL+UaAzfhD+YwbLsaUTivX36pTDUv3vIdyTh/XLNDIi\n\
nxhAPiHt0+Hd7uFUU8gRaI2iK2rV7T+bC6+lhysIIPbsJfMj/s7wY0yMw3h/j7Q0\n\
epS7Fo9LW/dptPL7vgzuAJuj1lonotmL+nJJmP4x/aPA2EA2dQMvRAsyMQKBgQCM\n\
nlmG4/tUe9MmucvvEwFF65hVarlQg5vXYr+g3xjcnHh7/Ml1uNK/xyi2gDBOCzs+\n\
8wa9CBahOAGxU+5OtMRI7+6xvcLLGKYxXMZpL9cxbulHRD2N3EDYDSxzchbiOWl9\n\
6NyM0pRca+FXnfLCWWokWaxEEKTOIBlbFg4w4tisEQKBgEx3EKq7S9K9io1Y1pc7\n\
RH8kjV2cpDL+Cp7P30RRnuIa10V8zZpUqjoJN9qibUSqeMo+qPFDbN2Dgg2fvwz+\n\
qlCdhVANTClB89rElqZ6dm4WiBE3JB6cZGMrKKIsW6A9cbFsNJJdQEuz8D63IbCx\n\
c/Qv767zT9iYxQu+xS9S0k9g\n\
-----END PRIVATE KEY-----\n";

const KEY_B_PUB: &str = "\
-----BEGIN PUBLIC KEY-----\n\
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAvdyhcQ9apABKSGw0EqCX\n\
M5Wb+HzW4BgLqyZvsc+4QaXcEJOomHXEgFFY0jl5abOZTgEBaxI5IV4JIh8i7QQ0\n\
Hm3C2zzVGFV73ALoEpwclj9E+aINT3OnhE/ziSmeBq+CtkbG/pG1Jjst0+lMjk3F\n\
VBiQc2rlmdTHiKMCK8jY/CxGn/sG3oK8KTdCUAiZv9kI+h4zBgN3Q3gXfdYlozNQ\n\
L/AYBtzgFdASKO3SnrZUrYXG+ZosG0ZkNpdPijYe5BeooY4o/de7BMyLslk/Ekp9\n\
AUYLr2YrA62lO4vnCfpkPj9LxQJ+lefuQ+DTTCqI5SBe48pcYaz8sinAnUWmF3uI\n\
hQIDAQAB\n\
-----END PUBLIC KEY-----\n";
