//! The county IdPs over real HTTP: a full authorization-code + PKCE flow for
//! each of the three profiles (sso.edu.tw, Kaohsiung, Taipei) driven by
//! posting the login form, and the error paths a native client must meet.
//! Redirects are never followed; the browser's cookie jar is reqwest's.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use educloud_contract::county::{IdpProfile, COUNTIES};
use educloud_sandbox::idp::{CLIENT_ID, DEMO_PASSWORD, SANDBOX_CLIENT_SECRET};
use educloud_sandbox::{start, testkit, SandboxConfig, SandboxHandle};
use rand::RngCore as _;
use reqwest::{redirect, Client, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

async fn sandbox() -> SandboxHandle {
    start(SandboxConfig::default())
        .await
        .expect("sandbox starts")
}

/// A "browser": keeps cookies, never follows redirects.
fn browser() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

fn random_b64(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

struct Pkce {
    verifier: String,
    challenge: String,
}

fn pkce() -> Pkce {
    let verifier = random_b64(32);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

/// What the desktop app would put in its authorization request.
struct Flow {
    county: &'static str,
    redirect_uri: String,
    state: String,
    nonce: String,
    pkce: Pkce,
    scope: String,
}

impl Flow {
    fn new(county: &'static str, scope: &str) -> Self {
        Flow {
            county,
            redirect_uri: format!("http://127.0.0.1:49152/callback/{county}"),
            state: random_b64(16),
            nonce: random_b64(16),
            pkce: pkce(),
            scope: scope.to_owned(),
        }
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("response_type", "code".into()),
            ("client_id", CLIENT_ID.into()),
            ("redirect_uri", self.redirect_uri.clone()),
            ("scope", self.scope.clone()),
            ("state", self.state.clone()),
            ("nonce", self.nonce.clone()),
            ("code_challenge", self.pkce.challenge.clone()),
            ("code_challenge_method", "S256".into()),
        ]
    }

    fn url_with(
        &self,
        authorize: &str,
        edit: impl FnOnce(&mut Vec<(&'static str, String)>),
    ) -> Url {
        let mut p = self.params();
        edit(&mut p);
        let mut u = Url::parse(authorize).unwrap();
        u.query_pairs_mut()
            .extend_pairs(p.iter().map(|(k, v)| (*k, v.as_str())));
        u
    }

    fn url(&self, authorize: &str) -> Url {
        self.url_with(authorize, |_| {})
    }
}

async fn get_json(c: &Client, url: &str) -> Value {
    let res = c.get(url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "GET {url}");
    res.json().await.unwrap()
}

/// The county's metadata document (OIDC discovery, or RFC 8414 for Taipei).
async fn metadata(h: &SandboxHandle, county: &str) -> Value {
    let issuer = h.idp().issuer(county).unwrap().to_owned();
    let path = match educloud_contract::county::find(county).unwrap().profile {
        IdpProfile::TaipeiOauth2 => "/.well-known/oauth-authorization-server",
        _ => "/.well-known/openid-configuration",
    };
    get_json(&browser(), &format!("{issuer}{path}")).await
}

fn form_token(html: &str) -> String {
    testkit::attr_after(html, "name=\"ft\"", "value").expect("login form has a form token")
}

fn attr_of_id(html: &str, id: &str, attr: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let tag_start = html[..at].rfind('<').unwrap();
    let tag_end = html[at..].find('>').unwrap() + at;
    let tag = &html[tag_start..tag_end];
    let marker = format!("{attr}=\"");
    let s = tag.find(&marker).unwrap() + marker.len();
    let e = tag[s..].find('"').unwrap() + s;
    tag[s..e].replace("&amp;", "&")
}

async fn login_page(c: &Client, url: &Url) -> String {
    let res = c.get(url.clone()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "login page for {url}");
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"));
    res.text().await.unwrap()
}

async fn post_login(
    c: &Client,
    h: &SandboxHandle,
    county: &str,
    ft: &str,
    user: &str,
    pw: &str,
    remember: bool,
) -> reqwest::Response {
    let form = testkit::LoginForm {
        action: Url::parse(&format!("{}/login", h.idp().issuer(county).unwrap())).unwrap(),
        form_token: ft.to_owned(),
    };
    c.post(form.action.clone())
        .form(&form.fields(user, pw, remember))
        .send()
        .await
        .unwrap()
}

fn location(res: &reqwest::Response) -> Url {
    assert_eq!(res.status(), StatusCode::FOUND, "expected a 302");
    Url::parse(res.headers()["location"].to_str().unwrap()).unwrap()
}

fn query(u: &Url) -> HashMap<String, String> {
    u.query_pairs().into_owned().collect()
}

/// Logs in through the page and returns the redirect's parameters.
async fn code_for(
    c: &Client,
    h: &SandboxHandle,
    flow: &Flow,
    authorize: &str,
    user: &str,
) -> HashMap<String, String> {
    let html = login_page(c, &flow.url(authorize)).await;
    let ft = form_token(&html);
    let res = post_login(c, h, flow.county, &ft, user, DEMO_PASSWORD, false).await;
    let to = location(&res);
    assert!(to.as_str().starts_with(&flow.redirect_uri), "{to}");
    query(&to)
}

async fn exchange(c: &Client, token_endpoint: &str, flow: &Flow, code: &str) -> reqwest::Response {
    c.post(token_endpoint)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &flow.redirect_uri),
            ("code_verifier", &flow.pkce.verifier),
            ("client_id", CLIENT_ID),
        ])
        .send()
        .await
        .unwrap()
}

fn jwt_part(token: &str, i: usize) -> Value {
    let part = token.split('.').nth(i).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Verifies an ID token's signature like an outside relying party: with the
/// key from the published JWKS whose `kid` matches.
fn verify_with_jwks(token: &str, jwks: &Value, issuer: &str) -> Value {
    let kid = jwt_part(token, 0)["kid"].as_str().unwrap().to_owned();
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone()).unwrap();
    let jwk = set.find(&kid).expect("kid is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_issuer(&[issuer]);
    v.set_audience(&[CLIENT_ID]);
    jsonwebtoken::decode::<Value>(token, &key, &v)
        .unwrap()
        .claims
}

// ---------------------------------------------------------------------------
// The three profiles, end to end

#[tokio::test]
async fn sso_profile_full_flow_for_new_taipei() {
    let h = sandbox().await;
    let c = browser();
    let meta = metadata(&h, "ntpc").await;
    let issuer = format!("{}idp/ntpc", h.base_url());
    assert_eq!(meta["issuer"], issuer.as_str());
    let authorize = meta["authorization_endpoint"].as_str().unwrap();
    assert_eq!(authorize, format!("{issuer}/oidc/v1/azp"));

    let flow = Flow::new("ntpc", "openid profile email eduinfo");
    let html = login_page(&c, &flow.url(authorize)).await;
    for needle in [
        "新北市 Open ID 登入",
        "校務行政帳號",
        "校務行政密碼",
        "保持登入狀態",
        "id=\"login\"",
        "id=\"cancel\"",
        "註冊 (目前暫不開放)",
    ] {
        assert!(html.contains(needle), "login page lacks {needle}");
    }
    let ft = form_token(&html);
    let res = post_login(&c, &h, "ntpc", &ft, "ntpctest", DEMO_PASSWORD, false).await;
    let q = query(&location(&res));
    assert_eq!(q["state"], flow.state);
    assert_eq!(q["iss"], issuer, "RFC 9207 iss");
    assert!(!q.contains_key("error"));

    let res = exchange(
        &c,
        meta["token_endpoint"].as_str().unwrap(),
        &flow,
        &q["code"],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let tok: Value = res.json().await.unwrap();
    assert_eq!(tok["token_type"], "Bearer");
    assert_eq!(tok["expires_in"], 3600);
    assert!(
        tok.get("refresh_token").is_none(),
        "no offline_access, no refresh token"
    );
    let id_token = tok["id_token"].as_str().unwrap();
    let access = tok["access_token"].as_str().unwrap();

    let jwks = get_json(&c, meta["jwks_uri"].as_str().unwrap()).await;
    let claims = verify_with_jwks(id_token, &jwks, &issuer);
    assert_eq!(claims["nonce"], flow.nonce.as_str());
    assert_eq!(claims["azp"], CLIENT_ID);
    assert_eq!(claims["preferred_username"], "ntpctest");
    assert_eq!(claims["name"], "王小明");
    assert_eq!(claims["email"], "ntpctest@ntpc.edu.tw");
    assert!(claims["auth_time"].is_i64());
    assert_eq!(jwt_part(id_token, 0)["alg"], "RS256");
    let sub = claims["sub"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(sub).is_ok(), "sub is a UUID");

    // The cloud half's view of the same token.
    let cc = h
        .idp()
        .verify_id_token("ntpc", id_token, CLIENT_ID)
        .unwrap();
    assert_eq!(cc.sub, sub);
    assert_eq!(
        (cc.school_id.as_str(), cc.school_name.as_str()),
        ("014569", "新北市立育林國民中學")
    );
    assert_eq!((cc.role.as_str(), cc.title.as_str()), ("教師", "專任教師"));

    let ui: Value = c
        .get(meta["userinfo_endpoint"].as_str().unwrap())
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ui["sub"], sub);
    assert_eq!(ui["name"], "王小明");
    assert_eq!(ui["email_verified"], true);

    let edu: Value = c
        .get(format!("{issuer}/cncresource/api/v1/eduinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(edu["schoolid"], "014569");
    assert_eq!(edu["sub"], sub);
    assert_eq!(
        edu["titles"][0]["titles"],
        serde_json::json!(["教師", "專任教師"])
    );
}

#[tokio::test]
async fn kaohsiung_profile_full_flow_with_client_secret_post() {
    let h = sandbox().await;
    let c = browser();
    let meta = metadata(&h, "kh").await;
    let issuer = format!("{}idp/kh", h.base_url());
    assert_eq!(meta["issuer"], issuer.as_str());
    assert_eq!(
        meta["authorization_endpoint"],
        format!("{issuer}/oauth2/auth")
    );
    assert_eq!(meta["token_endpoint"], format!("{issuer}/oauth2/token"));
    assert_eq!(meta["jwks_uri"], format!("{issuer}/.well-known/jwks.json"));
    assert_eq!(
        meta["subject_types_supported"],
        serde_json::json!(["pairwise"])
    );

    let flow = Flow::new("kh", "openid email profile kh_profile kh_titles");
    let q = code_for(
        &c,
        &h,
        &flow,
        meta["authorization_endpoint"].as_str().unwrap(),
        "khtest",
    )
    .await;
    assert_eq!(q["iss"], issuer);
    let tok: Value = c
        .post(meta["token_endpoint"].as_str().unwrap())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", &flow.redirect_uri),
            ("code_verifier", &flow.pkce.verifier),
            ("client_id", CLIENT_ID),
            ("client_secret", SANDBOX_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id_token = tok["id_token"].as_str().expect("kh issues an ID token");
    let jwks = get_json(&c, meta["jwks_uri"].as_str().unwrap()).await;
    let claims = verify_with_jwks(id_token, &jwks, &issuer);
    assert_eq!(claims["kh_profile"]["fullname"], "王小明");
    assert_eq!(
        claims["kh_profile"]["schoolid"],
        claims["kh_titles"][0]["schoolid"]
    );
    assert_eq!(claims["kh_titles"][0]["titles"][0], "教師");
    // Pairwise: the subject depends on the client.
    let user = h.idp().demo_user("kh", "khtest").unwrap();
    assert_eq!(claims["sub"], user.subject_for(CLIENT_ID).as_str());
    assert_ne!(
        user.subject_for(CLIENT_ID),
        user.subject_for("another-client")
    );

    let ui: Value = c
        .get(meta["userinfo_endpoint"].as_str().unwrap())
        .bearer_auth(tok["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ui["sub"], claims["sub"]);
    assert_eq!(ui["kh_profile"]["email"], "khtest@kh.edu.tw");

    // A wrong secret is refused.
    let flow2 = Flow::new("kh", "openid");
    let q2 = code_for(
        &c,
        &h,
        &flow2,
        meta["authorization_endpoint"].as_str().unwrap(),
        "khtest",
    )
    .await;
    let res = c
        .post(meta["token_endpoint"].as_str().unwrap())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", q2["code"].as_str()),
            ("redirect_uri", &flow2.redirect_uri),
            ("code_verifier", &flow2.pkce.verifier),
            ("client_id", CLIENT_ID),
            ("client_secret", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
}

#[tokio::test]
async fn taipei_profile_full_flow_without_id_token() {
    let h = sandbox().await;
    let c = browser();
    let issuer = format!("{}idp/tp", h.base_url());
    // Plain OAuth2: RFC 8414 metadata, no OIDC discovery, no JWKS.
    let meta = metadata(&h, "tp").await;
    assert_eq!(meta["issuer"], issuer.as_str());
    assert!(meta.get("jwks_uri").is_none());
    let res = c
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let flow = Flow::new("tp", "user profile");
    let q = code_for(
        &c,
        &h,
        &flow,
        meta["authorization_endpoint"].as_str().unwrap(),
        "tptest",
    )
    .await;
    assert_eq!(q["iss"], issuer);
    // client_secret_basic this time.
    let res = c
        .post(meta["token_endpoint"].as_str().unwrap())
        .basic_auth(CLIENT_ID, Some(SANDBOX_CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", &flow.redirect_uri),
            ("code_verifier", &flow.pkce.verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let tok: Value = res.json().await.unwrap();
    assert!(tok.get("id_token").is_none(), "Taipei issues no ID token");
    let access = tok["access_token"].as_str().unwrap();

    let user: Value = c
        .get(format!("{issuer}/api/user"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user["role"], "教師");
    assert_eq!(user["name"], "王小明");
    assert_eq!(user["email"], "tptest@tp.edu.tw");
    let profile: Value = c
        .get(format!("{issuer}/api/profile"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(profile["organization"], "臺北市立示範國民小學");
    assert_eq!(profile["gender"], "M");

    let cc = h
        .idp()
        .identity_for_access_token("tp", access, CLIENT_ID)
        .unwrap();
    assert_eq!(cc.sub, user["uuid"].as_str().unwrap());
    assert_eq!(cc.school_id, profile["o"].as_str().unwrap());
    assert_eq!(
        h.idp()
            .verify_id_token("tp", access, CLIENT_ID)
            .unwrap_err()
            .code(),
        "idp.wrong_profile"
    );
}

// ---------------------------------------------------------------------------
// Discovery for every county

#[tokio::test]
async fn discovery_of_all_23_issuers_matches() {
    let h = sandbox().await;
    let c = browser();
    assert_eq!(COUNTIES.len(), 23);
    for county in COUNTIES {
        let issuer = format!("{}idp/{}", h.base_url(), county.code);
        assert_eq!(h.idp().issuer(county.code), Some(issuer.as_str()));
        let meta = metadata(&h, county.code).await;
        assert_eq!(meta["issuer"], issuer.as_str(), "{}", county.code);
        assert_eq!(
            meta["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
        for ep in [
            "authorization_endpoint",
            "token_endpoint",
            "revocation_endpoint",
        ] {
            assert!(
                meta[ep].as_str().unwrap().starts_with(&issuer),
                "{} {ep}",
                county.code
            );
        }
        if county.profile.has_id_token() {
            let jwks = get_json(&c, meta["jwks_uri"].as_str().unwrap()).await;
            assert!(!jwks["keys"].as_array().unwrap().is_empty());
            assert_eq!(
                meta["id_token_signing_alg_values_supported"],
                serde_json::json!(["RS256"])
            );
        }
        if county.profile == IdpProfile::SsoEduTw {
            assert_eq!(
                meta["authorization_endpoint"],
                format!("{issuer}/oidc/v1/azp")
            );
            assert_eq!(
                meta["userinfo_endpoint"],
                format!("{issuer}/oidc/v1/userinfo")
            );
            assert_eq!(meta["jwks_uri"], format!("{issuer}/oidc/v1/jwksets"));
            assert_eq!(
                meta["end_session_endpoint"],
                format!("{issuer}/auth-logout")
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Error paths

#[tokio::test]
async fn wrong_password_shows_an_error_on_the_same_page() {
    let h = sandbox().await;
    let c = browser();
    let meta = metadata(&h, "ntpc").await;
    let authorize = meta["authorization_endpoint"].as_str().unwrap();
    let flow = Flow::new("ntpc", "openid profile");
    let html = login_page(&c, &flow.url(authorize)).await;
    assert!(!html.contains("id=\"login-error\""));
    let ft = form_token(&html);
    let res = post_login(&c, &h, "ntpc", &ft, "ntpctest", "not-the-password", false).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("location").is_none());
    let page = res.text().await.unwrap();
    assert!(page.contains("id=\"login-error\""));
    assert!(page.contains("帳號或密碼錯誤"));
    assert!(
        page.contains("value=\"ntpctest\""),
        "the account name is kept"
    );
    // An unknown account gets the same message.
    let res = post_login(&c, &h, "ntpc", &ft, "nobody", DEMO_PASSWORD, false).await;
    assert!(res.text().await.unwrap().contains("id=\"login-error\""));
    // The right password on the same form then works.
    let res = post_login(
        &c,
        &h,
        "ntpc",
        &form_token(&page),
        "ntpctest",
        DEMO_PASSWORD,
        false,
    )
    .await;
    assert!(query(&location(&res)).contains_key("code"));

    // English page, English error.
    let flow = Flow::new("ntpc", "openid");
    let url = flow.url_with(authorize, |p| p.push(("ui_locales", "en".into())));
    let html = login_page(&c, &url).await;
    assert!(html.contains("New Taipei City Open ID sign-in"));
    let res = post_login(
        &c,
        &h,
        "ntpc",
        &form_token(&html),
        "ntpctest",
        "nope",
        false,
    )
    .await;
    let page = res.text().await.unwrap();
    assert!(page.contains("id=\"login-error\""));
    assert!(page.contains("The account or password is wrong"));
}

#[tokio::test]
async fn the_english_switch_link_keeps_the_request() {
    let h = sandbox().await;
    let c = browser();
    let meta = metadata(&h, "ntpc").await;
    let flow = Flow::new("ntpc", "openid");
    let html = login_page(
        &c,
        &flow.url(meta["authorization_endpoint"].as_str().unwrap()),
    )
    .await;
    let href = attr_of_id(&html, "lang-switch", "href");
    assert!(href.contains("ui_locales=en"));
    let en = login_page(&c, &h.base_url().join(&href).unwrap()).await;
    assert!(en.contains("lang=\"en\""));
    assert!(en.contains("School administration account"));
    let res = post_login(
        &c,
        &h,
        "ntpc",
        &form_token(&en),
        "ntpctest",
        DEMO_PASSWORD,
        false,
    )
    .await;
    assert_eq!(query(&location(&res))["state"], flow.state);
}

#[tokio::test]
async fn pkce_is_required_and_plain_is_refused() {
    let h = sandbox().await;
    let c = browser();
    let meta = metadata(&h, "ntpc").await;
    let authorize = meta["authorization_endpoint"].as_str().unwrap();
    let flow = Flow::new("ntpc", "openid");
    let cases: Vec<Url> = vec![
        flow.url_with(authorize, |p| {
            p.retain(|(k, _)| !k.starts_with("code_challenge"))
        }),
        flow.url_with(authorize, |p| {
            p.retain(|(k, _)| *k != "code_challenge_method");
            p.push(("code_challenge_method", "plain".into()));
        }),
        flow.url_with(authorize, |p| {
            p.retain(|(k, _)| *k != "code_challenge_method")
        }),
    ];
    for url in cases {
        let res = c.get(url.clone()).send().await.unwrap();
        let q = query(&location(&res));
        assert_eq!(q["error"], "invalid_request", "{url}");
        assert_eq!(q["state"], flow.state);
        assert_eq!(q["iss"], format!("{}idp/ntpc", h.base_url()));
    }
}

#[tokio::test]
async fn a_bad_redirect_uri_or_client_gets_a_page_never_a_redirect() {
    let h = sandbox().await;
    let c = browser();
    let meta = metadata(&h, "ntpc").await;
    let authorize = meta["authorization_endpoint"].as_str().unwrap();
    let flow = Flow::new("ntpc", "openid");
    let mut cases: Vec<Url> = [
        "http://localhost:49152/callback/ntpc",
        "http://127.0.0.1:49152/callback/kh",
        "https://127.0.0.1:49152/callback/ntpc",
        "http://evil.example/callback/ntpc",
        "http://127.0.0.1:49152/callback/ntpc?x=1",
    ]
    .iter()
    .map(|bad| {
        flow.url_with(authorize, |p| {
            p.retain(|(k, _)| *k != "redirect_uri");
            p.push(("redirect_uri", (*bad).into()));
        })
    })
    .collect();
    cases.push(flow.url_with(authorize, |p| {
        p.retain(|(k, _)| *k != "client_id");
        p.push(("client_id", "someone-else".into()));
    }));
    for url in cases {
        let res = c.get(url.clone()).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{url}");
        assert!(
            res.headers().get("location").is_none(),
            "{url} must not redirect"
        );
        assert!(res.text().await.unwrap().contains("id=\"idp-error\""));
    }
    // [::1] with any port is fine.
    let v6 = flow.url_with(authorize, |p| {
        p.retain(|(k, _)| *k != "redirect_uri");
        p.push(("redirect_uri", "http://[::1]:50000/callback/ntpc".into()));
    });
    assert_eq!(c.get(v6).send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn a_code_is_single_use_and_reuse_revokes_its_tokens() {
    let h = sandbox().await;
    let c = browser();
    let meta = metadata(&h, "ntpc").await;
    let token_ep = meta["token_endpoint"].as_str().unwrap();
    let flow = Flow::new("ntpc", "openid profile");
    let q = code_for(
        &c,
        &h,
        &flow,
        meta["authorization_endpoint"].as_str().unwrap(),
        "ntpcstaff",
    )
    .await;
    let first = exchange(&c, token_ep, &flow, &q["code"]).await;
    assert_eq!(first.status(), StatusCode::OK);
    let access = first.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let userinfo = meta["userinfo_endpoint"].as_str().unwrap();
    assert_eq!(
        c.get(userinfo)
            .bearer_auth(&access)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    let second = exchange(&c, token_ep, &flow, &q["code"]).await;
    assert_eq!(second.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        second.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let res = c.get(userinfo).bearer_auth(&access).send().await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "tokens of a replayed code are revoked"
    );
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
}

#[tokio::test]
async fn a_wrong_verifier_or_redirect_uri_fails_and_burns_the_code() {
    let h = sandbox().await;
    let c = browser();
    let meta = metadata(&h, "ntpc").await;
    let authorize = meta["authorization_endpoint"].as_str().unwrap();
    let token_ep = meta["token_endpoint"].as_str().unwrap();

    let flow = Flow::new("ntpc", "openid");
    let q = code_for(&c, &h, &flow, authorize, "ntpctest").await;
    let wrong = Flow {
        pkce: pkce(),
        ..Flow::new("ntpc", "openid")
    };
    let res = c
        .post(token_ep)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", &flow.redirect_uri),
            ("code_verifier", &wrong.pkce.verifier),
            ("client_id", CLIENT_ID),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"].as_str().unwrap().contains("PKCE"));
    // The right verifier is too late now.
    let res = exchange(&c, token_ep, &flow, &q["code"]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // A different redirect_uri (another port) than the authorization request's.
    let flow = Flow::new("ntpc", "openid");
    let q = code_for(&c, &h, &flow, authorize, "ntpctest").await;
    let other = Flow {
        redirect_uri: "http://127.0.0.1:49153/callback/ntpc".into(),
        pkce: Pkce {
            verifier: flow.pkce.verifier.clone(),
            challenge: flow.pkce.challenge.clone(),
        },
        ..Flow::new("ntpc", "openid")
    };
    let res = exchange(&c, token_ep, &other, &q["code"]).await;
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let h = sandbox().await;
    let c = browser();
    let meta = metadata(&h, "ntpc").await;
    let flow = Flow::new("ntpc", "openid");
    let q = code_for(
        &c,
        &h,
        &flow,
        meta["authorization_endpoint"].as_str().unwrap(),
        "ntpctest",
    )
    .await;
    // The admin switch moves the IdP clock past the 60 s code lifetime.
    let res = c
        .post(format!(
            "{}idp/_admin/advance-clock?seconds=61",
            h.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = exchange(
        &c,
        meta["token_endpoint"].as_str().unwrap(),
        &flow,
        &q["code"],
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("expired"));
}

#[tokio::test]
async fn cancel_returns_access_denied() {
    let h = sandbox().await;
    let c = browser();
    let meta = metadata(&h, "ntpc").await;
    let flow = Flow::new("ntpc", "openid");
    let html = login_page(
        &c,
        &flow.url(meta["authorization_endpoint"].as_str().unwrap()),
    )
    .await;
    let href = attr_of_id(&html, "cancel", "href");
    let res = c
        .get(h.base_url().join(&href).unwrap())
        .send()
        .await
        .unwrap();
    let to = location(&res);
    assert!(to.as_str().starts_with(&flow.redirect_uri));
    let q = query(&to);
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], flow.state);
    assert_eq!(q["iss"], format!("{}idp/ntpc", h.base_url()));
    assert!(!q.contains_key("code"));
    // The form is gone: logging in with it now fails.
    let res = post_login(
        &c,
        &h,
        "ntpc",
        &form_token(&html),
        "ntpctest",
        DEMO_PASSWORD,
        false,
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_login_form_only_works_in_the_browser_it_was_served_to() {
    let h = sandbox().await;
    let c = browser();
    let meta = metadata(&h, "ntpc").await;
    let flow = Flow::new("ntpc", "openid");
    let html = login_page(
        &c,
        &flow.url(meta["authorization_endpoint"].as_str().unwrap()),
    )
    .await;
    let ft = form_token(&html);
    // Another browser (no binding cookie) posting the same form token.
    let other = browser();
    let res = post_login(&other, &h, "ntpc", &ft, "ntpctest", DEMO_PASSWORD, false).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("location").is_none());
    // A cross-site POST is refused too.
    let res = c
        .post(format!("{}idp/ntpc/login", h.base_url()))
        .header("origin", "http://evil.example")
        .form(&[
            ("ft", ft.as_str()),
            ("username", "ntpctest"),
            ("password", DEMO_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // The real browser still can.
    let res = post_login(&c, &h, "ntpc", &ft, "ntpctest", DEMO_PASSWORD, false).await;
    assert!(query(&location(&res)).contains_key("code"));
}

#[tokio::test]
async fn userinfo_takes_the_token_from_the_header_only() {
    let h = sandbox().await;
    let c = browser();
    let meta = metadata(&h, "ntpc").await;
    let flow = Flow::new("ntpc", "openid profile");
    let q = code_for(
        &c,
        &h,
        &flow,
        meta["authorization_endpoint"].as_str().unwrap(),
        "ntpctest",
    )
    .await;
    let tok: Value = exchange(
        &c,
        meta["token_endpoint"].as_str().unwrap(),
        &flow,
        &q["code"],
    )
    .await
    .json()
    .await
    .unwrap();
    let access = tok["access_token"].as_str().unwrap();
    let userinfo = meta["userinfo_endpoint"].as_str().unwrap();

    let res = c
        .get(format!("{userinfo}?access_token={access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let res = c.get(userinfo).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let res = c.get(userinfo).bearer_auth("made-up").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = c.get(userinfo).bearer_auth(access).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // eduinfo needs its scope.
    let res = c
        .get(format!(
            "{}idp/ntpc/cncresource/api/v1/eduinfo",
            h.base_url()
        ))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn key_rotation_changes_the_kid_and_the_jwks_keeps_both() {
    let h = sandbox().await;
    let c = browser();
    let meta = metadata(&h, "ntpc").await;
    let issuer = meta["issuer"].as_str().unwrap().to_owned();
    let authorize = meta["authorization_endpoint"].as_str().unwrap();
    let token_ep = meta["token_endpoint"].as_str().unwrap();
    let jwks_uri = meta["jwks_uri"].as_str().unwrap();

    let flow = Flow::new("ntpc", "openid");
    let q = code_for(&c, &h, &flow, authorize, "ntpctest").await;
    let old: Value = exchange(&c, token_ep, &flow, &q["code"])
        .await
        .json()
        .await
        .unwrap();
    let old_token = old["id_token"].as_str().unwrap().to_owned();
    let old_kid = jwt_part(&old_token, 0)["kid"].as_str().unwrap().to_owned();

    let res = c
        .post(format!("{issuer}/_admin/rotate-keys"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let rotated: Value = res.json().await.unwrap();
    let new_kid = rotated["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);

    let jwks = get_json(&c, jwks_uri).await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()),
        "{kids:?}"
    );

    let flow = Flow::new("ntpc", "openid");
    let q = code_for(&c, &h, &flow, authorize, "ntpctest").await;
    let new: Value = exchange(&c, token_ep, &flow, &q["code"])
        .await
        .json()
        .await
        .unwrap();
    let new_token = new["id_token"].as_str().unwrap();
    assert_eq!(jwt_part(new_token, 0)["kid"], new_kid.as_str());
    // Both verify, from the JWKS and through the registry.
    verify_with_jwks(&old_token, &jwks, &issuer);
    verify_with_jwks(new_token, &jwks, &issuer);
    assert!(h
        .idp()
        .verify_id_token("ntpc", &old_token, CLIENT_ID)
        .is_ok());
    assert!(h
        .idp()
        .verify_id_token("ntpc", new_token, CLIENT_ID)
        .is_ok());
    // Another county's keys did not change.
    let kl = h.idp().jwks("kl").unwrap();
    assert_eq!(kl["keys"].as_array().unwrap().len(), 1);
    // Cross-site admin calls are refused.
    let res = c
        .post(format!("{issuer}/_admin/rotate-keys"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

// ---------------------------------------------------------------------------
// Sessions, refresh, revocation

#[tokio::test]
async fn stay_signed_in_skips_the_form_until_prompt_login_or_end_session() {
    let h = sandbox().await;
    let c = browser();
    let meta = metadata(&h, "ntpc").await;
    let authorize = meta["authorization_endpoint"].as_str().unwrap();
    let flow = Flow::new("ntpc", "openid");
    let html = login_page(&c, &flow.url(authorize)).await;
    let res = post_login(
        &c,
        &h,
        "ntpc",
        &form_token(&html),
        "ntpctest",
        DEMO_PASSWORD,
        true,
    )
    .await;
    assert!(query(&location(&res)).contains_key("code"));

    // Next time: straight back with a code.
    let flow = Flow::new("ntpc", "openid");
    let res = c.get(flow.url(authorize)).send().await.unwrap();
    let q = query(&location(&res));
    assert_eq!(q["state"], flow.state);
    let tok: Value = exchange(
        &c,
        meta["token_endpoint"].as_str().unwrap(),
        &flow,
        &q["code"],
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        jwt_part(tok["id_token"].as_str().unwrap(), 1)["preferred_username"],
        Value::Null
    );
    let claims = h
        .idp()
        .verify_id_token("ntpc", tok["id_token"].as_str().unwrap(), CLIENT_ID)
        .unwrap();
    assert_eq!(claims.preferred_username, "ntpctest");

    // prompt=login forces the form.
    let url = flow.url_with(authorize, |p| p.push(("prompt", "login".into())));
    assert_eq!(c.get(url).send().await.unwrap().status(), StatusCode::OK);

    // Another browser has no session: prompt=none → login_required.
    let url = flow.url_with(authorize, |p| p.push(("prompt", "none".into())));
    let q = query(&location(&browser().get(url).send().await.unwrap()));
    assert_eq!(q["error"], "login_required");

    // end_session clears it.
    let res = c
        .get(format!(
            "{}?post_logout_redirect_uri={}&state=bye",
            meta["end_session_endpoint"].as_str().unwrap(),
            "http%3A%2F%2F127.0.0.1%3A49152%2Fsigned-out"
        ))
        .send()
        .await
        .unwrap();
    let to = location(&res);
    assert_eq!(to.as_str(), "http://127.0.0.1:49152/signed-out?state=bye");
    assert_eq!(
        c.get(flow.url(authorize)).send().await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let h = sandbox().await;
    let c = browser();
    let meta = metadata(&h, "ntpc").await;
    let token_ep = meta["token_endpoint"].as_str().unwrap();
    let flow = Flow::new("ntpc", "openid offline_access");
    let q = code_for(
        &c,
        &h,
        &flow,
        meta["authorization_endpoint"].as_str().unwrap(),
        "ntpctest",
    )
    .await;
    let tok: Value = exchange(&c, token_ep, &flow, &q["code"])
        .await
        .json()
        .await
        .unwrap();
    let r1 = tok["refresh_token"]
        .as_str()
        .expect("offline_access gives a refresh token")
        .to_owned();
    let refresh = |rt: String| {
        let c = c.clone();
        let ep = token_ep.to_owned();
        async move {
            c.post(ep)
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", rt.as_str()),
                    ("client_id", CLIENT_ID),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let res = refresh(r1.clone()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let t2: Value = res.json().await.unwrap();
    let r2 = t2["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    let id2 = t2["id_token"].as_str().unwrap();
    let c1 = h
        .idp()
        .verify_id_token("ntpc", tok["id_token"].as_str().unwrap(), CLIENT_ID)
        .unwrap();
    let c2 = h.idp().verify_id_token("ntpc", id2, CLIENT_ID).unwrap();
    assert_eq!(
        (c1.sub, c1.issuer),
        (c2.sub, c2.issuer),
        "a refreshed ID token keeps iss/sub"
    );

    // Reusing the rotated token revokes the family: r2 is dead too.
    let res = refresh(r1).await;
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    let res = refresh(r2).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = c
        .get(meta["userinfo_endpoint"].as_str().unwrap())
        .bearer_auth(t2["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn revocation_ends_an_access_token() {
    let h = sandbox().await;
    let c = browser();
    let meta = metadata(&h, "kh").await;
    let flow = Flow::new("kh", "openid profile");
    let q = code_for(
        &c,
        &h,
        &flow,
        meta["authorization_endpoint"].as_str().unwrap(),
        "khstaff",
    )
    .await;
    let tok: Value = exchange(
        &c,
        meta["token_endpoint"].as_str().unwrap(),
        &flow,
        &q["code"],
    )
    .await
    .json()
    .await
    .unwrap();
    let access = tok["access_token"].as_str().unwrap();
    let revocation = meta["revocation_endpoint"].as_str().unwrap();
    let res = c
        .post(revocation)
        .form(&[
            ("token", access),
            ("token_type_hint", "access_token"),
            ("client_id", CLIENT_ID),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = c
        .get(meta["userinfo_endpoint"].as_str().unwrap())
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Unknown tokens are fine (RFC 7009 §2.2).
    let res = c
        .post(revocation)
        .form(&[("token", "never-issued"), ("client_id", CLIENT_ID)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

// ---------------------------------------------------------------------------
// The sandbox as a whole

#[tokio::test]
async fn the_home_page_lists_counties_demo_users_and_the_outbox() {
    let h = sandbox().await;
    let res = browser().get(h.base_url().clone()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("default-src 'none'"));
    let html = res.text().await.unwrap();
    for county in COUNTIES {
        assert!(
            html.contains(&format!("{}idp/{}", h.base_url(), county.code)),
            "{}",
            county.code
        );
    }
    for needle in [
        "ntpctest",
        DEMO_PASSWORD,
        "Demo-pass-2026!",
        "014569 新北市立育林國民中學",
        "id=\"outbox\"",
        "outbox\"",
    ] {
        assert!(html.contains(needle), "home page lacks {needle}");
    }
}

#[tokio::test]
async fn the_signing_key_and_subjects_survive_a_restart_with_a_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let config = SandboxConfig {
        data_dir: Some(dir.path().to_owned()),
        port: 0,
        ..Default::default()
    };
    let (token, sub) = {
        let h = start(config.clone()).await.unwrap();
        let t = h
            .idp()
            .mint_id_token("ntpc", "ntpctest", CLIENT_ID, None)
            .unwrap();
        let sub = h.idp().verify_id_token("ntpc", &t, CLIENT_ID).unwrap().sub;
        (t, sub)
    };
    assert!(dir.path().join(educloud_sandbox::idp::KEY_FILE).exists());
    let h = start(config).await.unwrap();
    // The port differs, so the issuer differs: compare keys and subjects.
    let kid = jwt_part(&token, 0)["kid"].as_str().unwrap().to_owned();
    let jwks = h.idp().jwks("ntpc").unwrap();
    assert_eq!(jwks["keys"][0]["kid"], kid.as_str());
    let t2 = h
        .idp()
        .mint_id_token("ntpc", "ntpctest", CLIENT_ID, None)
        .unwrap();
    assert_eq!(
        h.idp().verify_id_token("ntpc", &t2, CLIENT_ID).unwrap().sub,
        sub
    );
}
