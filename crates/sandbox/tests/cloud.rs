//! The sandbox's Education Cloud over real HTTP: configuration, terms,
//! availability, both kinds of registration, activation, password resets,
//! sessions (password, county token exchange, refresh rotation, sign-out),
//! the outbox and SMTP relay. Every error path asserts its problem `code`.

mod cloud_support;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use cloud_support::*;
use educloud_contract::county::{IdpProfile, COUNTIES};
use educloud_contract::wire::{
    Account, AccountStatus, Availability, Identity, RegistrationResponse, ServiceConfiguration,
    SessionTokens, Terms,
};
use educloud_sandbox::SandboxConfig;
use serde_json::json;

// ---------------------------------------------------------------------------
// Configuration, terms, availability, the document

#[tokio::test]
async fn configuration_lists_23_counties_with_issuers_under_the_sandbox() {
    let env = Env::start().await;
    let res = env
        .http
        .get(env.url(".well-known/educloud-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cfg: ServiceConfiguration = res.json().await.unwrap();
    let base = env.sandbox.base_url().as_str();
    assert_eq!(cfg.environment, "sandbox");
    assert_eq!(cfg.api_base, format!("{base}api/v1/"));
    assert_eq!(cfg.terms_version, TERMS);
    assert_eq!(
        cfg.outbox_url.as_deref(),
        Some(format!("{base}outbox").as_str())
    );
    assert_eq!(
        (
            cfg.password_policy.min_length,
            cfg.password_policy.max_length
        ),
        (8, 64)
    );
    assert_eq!(cfg.counties.len(), 23);
    for (entry, info) in cfg.counties.iter().zip(COUNTIES) {
        assert_eq!(entry.code, info.code);
        assert_eq!(entry.issuer, format!("{base}idp/{}", info.code));
        assert_eq!(entry.client_id, "educloud-desktop");
        assert_eq!(entry.profile, info.profile);
        assert_eq!(entry.account_label_zh, info.account_label_zh);
        let expected: &[&str] = match info.profile {
            IdpProfile::SsoEduTw => &["openid", "profile", "email", "eduinfo"],
            IdpProfile::Kaohsiung => &["openid", "email", "profile", "kh_profile", "kh_titles"],
            IdpProfile::TaipeiOauth2 => &["user", "profile"],
            IdpProfile::Oidc => &["openid", "profile", "email"],
        };
        assert_eq!(entry.scopes, expected, "{}", info.code);
    }
    // The issuers really are the sandbox's IdPs.
    let ntpc = &cfg.counties[1];
    let disc: serde_json::Value = env
        .http
        .get(format!("{}/.well-known/openid-configuration", ntpc.issuer))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(disc["issuer"], ntpc.issuer.as_str());
}

#[tokio::test]
async fn terms_in_both_languages_and_bad_language_is_a_problem() {
    let env = Env::start().await;
    let zh: Terms = env.get("terms").await.json().await.unwrap();
    assert_eq!(zh.version, TERMS);
    assert_eq!(zh.lang, "zh-TW");
    assert!(zh.sections.len() >= 8);
    let all: String = zh.sections.iter().map(|s| s.body.clone()).collect();
    for needle in ["十八歲", "法定代理人", "本人", "啟用", "轉讓", "暫停"] {
        assert!(all.contains(needle), "{needle}");
    }
    let en: Terms = env.get("terms?lang=en").await.json().await.unwrap();
    assert_eq!(en.lang, "en");
    assert_eq!(en.sections.len(), zh.sections.len());
    let p = problem(env.get("terms?lang=fr").await, 400, "request.invalid").await;
    assert_eq!(p.field.as_deref(), Some("lang"));
}

#[tokio::test]
async fn availability_uses_the_rules_and_the_accounts() {
    let env = Env::start().await;
    let a: Availability = env
        .get("accounts/availability?name=brandnew.teacher")
        .await
        .json()
        .await
        .unwrap();
    assert!(a.available);
    assert_eq!(a.code, None);
    let a: Availability = env
        .get("accounts/availability?name=ntpcbound")
        .await
        .json()
        .await
        .unwrap();
    assert!(!a.available);
    assert_eq!(a.code.as_deref(), Some("account.taken"));
    let a: Availability = env
        .get("accounts/availability?name=ab")
        .await
        .json()
        .await
        .unwrap();
    assert!(!a.available);
    assert_eq!(a.code.as_deref(), Some("account.too_short"));
    let a: Availability = env
        .get("accounts/availability?name=postmaster")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a.code.as_deref(), Some("account.reserved"));
    let p = problem(
        env.get("accounts/availability").await,
        400,
        "request.invalid",
    )
    .await;
    assert_eq!(p.field.as_deref(), Some("name"));
}

#[tokio::test]
async fn the_openapi_document_is_served_with_this_origin_and_unknown_paths_are_problems() {
    let env = Env::start().await;
    let res = env
        .http
        .get(env.url("api/openapi.yaml"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let doc = res.text().await.unwrap();
    assert!(doc.starts_with("openapi: 3.1"));
    let origin = env
        .sandbox
        .base_url()
        .as_str()
        .trim_end_matches('/')
        .to_owned();
    assert!(
        doc.contains(&format!("- url: {origin}\n")),
        "servers names the sandbox"
    );
    assert!(!doc.contains("127.0.0.1:8080"));
    problem(env.get("no-such-thing").await, 404, "request.not_found").await;
}

#[tokio::test]
async fn malformed_bodies_are_request_invalid_and_huge_ones_too_large() {
    let env = Env::start().await;
    for path in [
        "registrations",
        "sessions",
        "activations",
        "sessions/refresh",
        "password-resets",
    ] {
        let res = env
            .http
            .post(env.api(path))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        problem(res, 400, "request.invalid").await;
    }
    // Valid JSON of the wrong shape.
    problem(
        env.post("registrations", &json!([1, 2])).await,
        400,
        "request.invalid",
    )
    .await;
    problem(
        env.post("registrations", &json!({"terms_version": TERMS}))
            .await,
        400,
        "request.invalid",
    )
    .await;
    problem(
        env.post("sessions", &json!({"method": "magic"})).await,
        400,
        "request.invalid",
    )
    .await;
    // No content type.
    let res = env
        .http
        .post(env.api("sessions"))
        .body("{}")
        .send()
        .await
        .unwrap();
    problem(res, 400, "request.invalid").await;
    let huge =
        json!({"identity": "other", "terms_version": TERMS, "avatar": "A".repeat(8 * 1024 * 1024)});
    problem(
        env.post("registrations", &huge).await,
        413,
        "request.too_large",
    )
    .await;
}

// ---------------------------------------------------------------------------
// Registration: other members

#[tokio::test]
async fn other_member_registers_pending_and_activates_once_by_the_mailed_link() {
    let env = Env::start().await;
    let email = "new.parent@example.com";
    let res = env
        .post("registrations", &other_body("New.Parent@Example.com"))
        .await;
    assert_eq!(res.status(), 201);
    let reg: RegistrationResponse = res.json().await.unwrap();
    assert_eq!(reg.status, AccountStatus::PendingActivation);
    assert_eq!(reg.account.email, email);
    assert_eq!(reg.account.identity, Identity::Other);
    assert_eq!(reg.account.display_name, "王大明");
    assert_eq!(reg.account.county, None);

    // Not yet: the right password gets its own code; a wrong one the generic.
    problem(
        env.password_session(email, PW).await,
        403,
        "auth.not_activated",
    )
    .await;
    problem(
        env.password_session(email, "Wrong-pass-123!").await,
        401,
        "auth.invalid_credentials",
    )
    .await;

    let mail = env.last_mail_to(email).await.expect("activation mail");
    assert!(mail.subject.contains("啟用"));
    assert_eq!(mail.links.len(), 1);
    let link = &mail.links[0];
    assert!(link.starts_with(&format!("{}activate?token=", env.sandbox.base_url())));
    assert!(mail.body.contains(link));

    let page = env.http.get(link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("啟用成功"));
    assert!(html.contains(email));

    let tokens = env.sign_in(email, PW).await;
    assert_eq!(tokens.account.status, AccountStatus::Active);

    // The link works once.
    let again = env.http.get(link).send().await.unwrap();
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains("activation.invalid"));
    let p = problem(
        env.post("activations", &json!({"token": token_of(link)}))
            .await,
        400,
        "activation.invalid",
    )
    .await;
    assert_eq!(p.field, None);
}

#[tokio::test]
async fn activation_by_api_expires_after_24_hours_and_bogus_tokens_fail() {
    let env = Env::start().await;
    for e in ["first.parent@example.com", "second.parent@example.com"] {
        assert_eq!(
            env.post("registrations", &other_body(e)).await.status(),
            201
        );
    }
    let first = token_of(
        &env.last_mail_to("first.parent@example.com")
            .await
            .unwrap()
            .links[0],
    );
    let second = token_of(
        &env.last_mail_to("second.parent@example.com")
            .await
            .unwrap()
            .links[0],
    );
    let res = env.post("activations", &json!({"token": first})).await;
    assert_eq!(res.status(), 200);
    let account: Account = res.json().await.unwrap();
    assert_eq!(account.status, AccountStatus::Active);
    problem(
        env.post("activations", &json!({"token": "nope"})).await,
        400,
        "activation.invalid",
    )
    .await;
    problem(
        env.post("activations", &json!({})).await,
        400,
        "request.invalid",
    )
    .await;
    env.advance(24 * 3600 + 1).await;
    problem(
        env.post("activations", &json!({"token": second})).await,
        410,
        "activation.expired",
    )
    .await;
    let page = env
        .http
        .get(env.url(&format!("activate?token={second}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 410);
    assert!(page.text().await.unwrap().contains("activation.expired"));
}

#[tokio::test]
async fn resend_is_throttled_once_a_minute_and_five_a_day() {
    let env = Env::start().await;
    let email = "slow.parent@example.com";
    assert_eq!(
        env.post("registrations", &other_body(email)).await.status(),
        201
    );
    let resend = || env.post("activations/resend", &json!({"email": email}));
    // The registration's own mail counts: a resend right away is too soon.
    let p = problem(resend().await, 429, "activation.throttled").await;
    assert!(p.retry_after.unwrap() <= 60);
    // Mails 2..=5, a minute apart.
    for n in 2..=5 {
        env.advance(61).await;
        assert_eq!(resend().await.status(), 202, "mail {n}");
    }
    let mails: Vec<_> = env
        .outbox()
        .await
        .into_iter()
        .filter(|m| m.to == email)
        .collect();
    assert_eq!(mails.len(), 5);
    env.advance(61).await;
    let res = resend().await;
    assert_eq!(res.headers()["retry-after"], "3600");
    let p = problem(res, 429, "activation.throttled").await;
    assert!(p.detail.unwrap().contains("five"));
    // A day later it works again, and every unexpired link still activates.
    env.advance(24 * 3600).await;
    assert_eq!(resend().await.status(), 202);
    let newest = env.last_mail_to(email).await.unwrap();
    let res = env
        .post("activations", &json!({"token": token_of(&newest.links[0])}))
        .await;
    assert_eq!(res.status(), 200);
    // Unknown and already active addresses: 202, no mail.
    let before = env.outbox().await.len();
    for e in ["nobody@example.com", email, "parent.demo@example.com"] {
        let res = env.post("activations/resend", &json!({"email": e})).await;
        assert_eq!(res.status(), 202, "{e}");
    }
    assert_eq!(env.outbox().await.len(), before);
    // The seeded pending member can ask for a first link.
    assert_eq!(
        env.post(
            "activations/resend",
            &json!({"email": "pending.demo@example.com"})
        )
        .await
        .status(),
        202
    );
    assert!(env.last_mail_to("pending.demo@example.com").await.is_some());
}

#[tokio::test]
async fn field_rules_answer_422_with_every_error_and_terms_must_be_current() {
    let env = Env::start().await;
    let mut body = other_body("weak.parent@example.com");
    body["password"] = json!("password");
    body["password_confirm"] = json!("Password");
    body["backup_email_confirm"] = json!("other@example.org");
    body["gender"] = json!("robot");
    let p = problem(
        env.post("registrations", &body).await,
        422,
        "email.mismatch",
    )
    .await;
    assert_eq!(p.field.as_deref(), Some("backup_email_confirm"));
    let fields: Vec<_> = p
        .errors
        .iter()
        .map(|e| (e.field.as_str(), e.code.as_str()))
        .collect();
    assert_eq!(
        fields,
        vec![
            ("backup_email_confirm", "email.mismatch"),
            ("password", "password.classes"),
            ("password_confirm", "password.mismatch"),
            ("gender", "gender.invalid"),
        ]
    );

    let mut body = other_body("x.parent@example.com");
    body["password"] = json!("Tr0ub4dor&3xyz");
    body["password_confirm"] = json!("Tr0ub4dor&3xyz");
    body["terms_version"] = json!("2025-01-01");
    problem(
        env.post("registrations", &body).await,
        409,
        "terms.outdated",
    )
    .await;
    body["terms_version"] = json!("");
    let p = problem(env.post("registrations", &body).await, 422, "required").await;
    assert_eq!(p.field.as_deref(), Some("terms"));

    // Staff: the account name's own rules.
    let token = env.id_token("ntpc", "ntpctest");
    let p = problem(
        env.post("registrations", &staff_body("ntpc", &token, "ab"))
            .await,
        422,
        "account.too_short",
    )
    .await;
    assert_eq!(p.field.as_deref(), Some("account_name"));
    let p = problem(
        env.post("registrations", &staff_body("ntpc", &token, "admin"))
            .await,
        422,
        "account.too_short",
    )
    .await;
    assert_eq!(p.field.as_deref(), Some("account_name"));
    let p = problem(
        env.post("registrations", &staff_body("ntpc", &token, "postmaster"))
            .await,
        422,
        "account.reserved",
    )
    .await;
    assert_eq!(p.field.as_deref(), Some("account_name"));
    // The password may not contain the account name.
    let mut body = staff_body("ntpc", &token, "kiteteacher");
    body["password"] = json!("Kiteteacher-93-Orbit");
    body["password_confirm"] = json!("Kiteteacher-93-Orbit");
    let p = problem(
        env.post("registrations", &body).await,
        422,
        "password.contains_account",
    )
    .await;
    assert_eq!(p.field.as_deref(), Some("password"));
    // Nothing was stored by any of these.
    assert!(env.outbox().await.is_empty());
}

#[tokio::test]
async fn other_member_email_taken_is_409_on_the_email_field() {
    let env = Env::start().await;
    let p = problem(
        env.post("registrations", &other_body("Parent.Demo@example.com"))
            .await,
        409,
        "account.taken",
    )
    .await;
    assert_eq!(p.field.as_deref(), Some("email"));
}

// ---------------------------------------------------------------------------
// Registration: staff bound to a county Open ID

#[tokio::test]
async fn staff_registers_with_a_county_id_token_and_names_come_from_the_county() {
    let env = Env::start().await;
    let token = env.id_token("ntpc", "ntpctest");
    let res = env
        .post("registrations", &staff_body("ntpc", &token, "Wang.Teacher"))
        .await;
    assert_eq!(res.status(), 201);
    let reg: RegistrationResponse = res.json().await.unwrap();
    assert_eq!(reg.status, AccountStatus::Active);
    let a = &reg.account;
    assert_eq!(a.email, "wang.teacher@mail.edu.tw");
    assert_eq!(a.identity, Identity::Staff);
    assert_eq!(a.display_name, "王小明", "from the token, not the body");
    assert_eq!(a.nickname, "王老師");
    assert_eq!(a.county.as_deref(), Some("ntpc"));
    assert_eq!(a.role.as_deref(), Some("教師"));
    assert_eq!(a.title.as_deref(), Some("專任教師"));
    assert_eq!(a.school_id.as_deref(), Some("014569"));
    assert_eq!(a.school_name.as_deref(), Some("新北市立育林國民中學"));
    // Active at once: no mail, password sign-in works.
    assert!(env.outbox().await.is_empty());
    let s = env.sign_in("wang.teacher@mail.edu.tw", PW).await;
    assert_eq!(s.account, reg.account);
    // The name is no longer available.
    let av: Availability = env
        .get("accounts/availability?name=wang.teacher")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(av.code.as_deref(), Some("account.taken"));

    // The same Open ID cannot bind a second account, even with a new token.
    let again = env.id_token("ntpc", "ntpctest");
    problem(
        env.post("registrations", &staff_body("ntpc", &again, "another.name"))
            .await,
        409,
        "openid.already_bound",
    )
    .await;
    // Another county user cannot take the name.
    let other = env.id_token("ntpc", "ntpcstaff");
    let p = problem(
        env.post("registrations", &staff_body("ntpc", &other, "wang.teacher"))
            .await,
        409,
        "account.taken",
    )
    .await;
    assert_eq!(p.field.as_deref(), Some("account_name"));
    // Nor a seeded one.
    let p = problem(
        env.post("registrations", &staff_body("ntpc", &other, "ntpcbound"))
            .await,
        409,
        "account.taken",
    )
    .await;
    assert_eq!(p.field.as_deref(), Some("account_name"));
    // The seeded {code}bound user is bound already.
    let bound = env.id_token("kl", "klbound");
    problem(
        env.post("registrations", &staff_body("kl", &bound, "kl.second"))
            .await,
        409,
        "openid.already_bound",
    )
    .await;
}

#[tokio::test]
async fn staff_county_token_problems() {
    let env = Env::start().await;
    let token = env.id_token("ntpc", "ntpctest");
    let mut body = staff_body("ntpc", &token, "token.tester");
    body.as_object_mut().unwrap().remove("county");
    let p = problem(env.post("registrations", &body).await, 422, "required").await;
    assert_eq!(p.field.as_deref(), Some("county"));
    let p = problem(
        env.post(
            "registrations",
            &staff_body("atlantis", &token, "token.tester"),
        )
        .await,
        422,
        "county.unknown",
    )
    .await;
    assert_eq!(p.field.as_deref(), Some("county"));
    let mut body = staff_body("ntpc", &token, "token.tester");
    body.as_object_mut().unwrap().remove("id_token");
    let p = problem(
        env.post("registrations", &body).await,
        400,
        "request.invalid",
    )
    .await;
    assert_eq!(p.field.as_deref(), Some("id_token"));
    problem(
        env.post(
            "registrations",
            &staff_body("ntpc", "not.a.jwt", "token.tester"),
        )
        .await,
        401,
        "token.invalid",
    )
    .await;
    // A token from another county (wrong issuer) or for another client.
    problem(
        env.post("registrations", &staff_body("kl", &token, "token.tester"))
            .await,
        401,
        "token.invalid",
    )
    .await;
    let foreign = env
        .sandbox
        .idp()
        .mint_id_token("ntpc", "ntpctest", "someone-else", None)
        .unwrap();
    problem(
        env.post(
            "registrations",
            &staff_body("ntpc", &foreign, "token.tester"),
        )
        .await,
        401,
        "token.invalid",
    )
    .await;
    // Tampered signature.
    let at = token.rfind('.').unwrap() + 5;
    let flipped = if &token[at..at + 1] == "A" { "B" } else { "A" };
    let tampered = format!("{}{flipped}{}", &token[..at], &token[at + 1..]);
    problem(
        env.post(
            "registrations",
            &staff_body("ntpc", &tampered, "token.tester"),
        )
        .await,
        401,
        "token.invalid",
    )
    .await;
    // Expired (the county's clock moves on).
    env.sandbox.idp().advance_clock(3601);
    problem(
        env.post("registrations", &staff_body("ntpc", &token, "token.tester"))
            .await,
        401,
        "token.expired",
    )
    .await;
    // Nothing was registered.
    let av: Availability = env
        .get("accounts/availability?name=token.tester")
        .await
        .json()
        .await
        .unwrap();
    assert!(av.available);
}

#[tokio::test]
async fn taipei_staff_register_and_sign_in_with_an_access_token() {
    let env = Env::start().await;
    let access = env.access_token("tp", "tptest");
    let mut body = staff_body("tp", "", "taipei.teacher");
    body.as_object_mut().unwrap().remove("id_token");
    body["access_token"] = json!(access);
    let res = env.post("registrations", &body).await;
    assert_eq!(res.status(), 201);
    let reg: RegistrationResponse = res.json().await.unwrap();
    assert_eq!(reg.account.county.as_deref(), Some("tp"));
    assert_eq!(
        reg.account.school_name.as_deref(),
        Some("臺北市立示範國民小學")
    );
    // Taipei needs the access token, not an ID token.
    let p = problem(
        env.post(
            "sessions",
            &json!({"method": "county", "county": "tp", "id_token": "x.y.z"}),
        )
        .await,
        400,
        "request.invalid",
    )
    .await;
    assert_eq!(p.field.as_deref(), Some("access_token"));
    let res = env
        .post(
            "sessions",
            &json!({"method": "county", "county": "tp", "access_token": access}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let s: SessionTokens = res.json().await.unwrap();
    assert_eq!(s.account.email, "taipei.teacher@mail.edu.tw");
    problem(
        env.post(
            "sessions",
            &json!({"method": "county", "county": "tp", "access_token": access}),
        )
        .await,
        401,
        "token.replayed",
    )
    .await;
    problem(
        env.post(
            "sessions",
            &json!({"method": "county", "county": "tp", "access_token": "bogus"}),
        )
        .await,
        401,
        "token.invalid",
    )
    .await;
}

#[tokio::test]
async fn avatar_is_checked_by_the_rules_and_stored_as_a_256_png() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::with(SandboxConfig {
        data_dir: Some(dir.path().to_owned()),
        ..Default::default()
    })
    .await;
    let img = image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let mut body = other_body("photo.parent@example.com");
    body["avatar"] = json!(STANDARD.encode(&png));
    assert_eq!(env.post("registrations", &body).await.status(), 201);

    let mut bad = other_body("bad.photo@example.com");
    bad["avatar"] = json!(STANDARD.encode(b"MZ\x90\x00 not an image"));
    let p = problem(env.post("registrations", &bad).await, 422, "avatar.format").await;
    assert_eq!(p.field.as_deref(), Some("avatar"));
    bad["avatar"] = json!("!!! not base64 !!!");
    problem(env.post("registrations", &bad).await, 422, "avatar.corrupt").await;
    // A field error and an avatar error are reported together, in form order.
    bad["nickname"] = json!("");
    let p = problem(env.post("registrations", &bad).await, 422, "required").await;
    let fields: Vec<_> = p.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["nickname", "avatar"]);

    // What the database keeps: the re-encoded square PNG, not the upload.
    let db = rusqlite::Connection::open(dir.path().join("education-cloud.sqlite3")).unwrap();
    let (stored, kind): (Vec<u8>, String) = db
        .query_row(
            "SELECT avatar, avatar_type FROM accounts WHERE email = 'photo.parent@example.com'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(kind, "image/png");
    assert_ne!(stored, png);
    let decoded = image::load_from_memory(&stored).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (256, 256));
}

// ---------------------------------------------------------------------------
// Sessions

#[tokio::test]
async fn password_sign_in_me_and_generic_errors() {
    let env = Env::start().await;
    let s = env.sign_in("Parent.Demo@Example.com", DEMO_PW).await;
    assert_eq!(s.token_type, "Bearer");
    assert_eq!(s.expires_in, 900);
    assert!(s.refresh_expires_in > 86_400);
    assert_eq!(s.access_token.expose_secret().len(), 43);
    let me: Account = env
        .get_bearer("me", s.access_token.expose_secret())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me.email, "parent.demo@example.com");
    assert_eq!(me.status, AccountStatus::Active);
    let staff = env.sign_in("ntpcbound@mail.edu.tw", DEMO_PW).await;
    assert_eq!(staff.account.county.as_deref(), Some("ntpc"));

    let wrong = problem(
        env.password_session("parent.demo@example.com", "Nope-nope-42")
            .await,
        401,
        "auth.invalid_credentials",
    )
    .await;
    let unknown = problem(
        env.password_session("ghost@example.com", DEMO_PW).await,
        401,
        "auth.invalid_credentials",
    )
    .await;
    assert_eq!(
        wrong, unknown,
        "a wrong e-mail and a wrong password look the same"
    );
    problem(
        env.password_session("pending.demo@example.com", DEMO_PW)
            .await,
        403,
        "auth.not_activated",
    )
    .await;
    problem(
        env.password_session("", "").await,
        401,
        "auth.invalid_credentials",
    )
    .await;
}

#[tokio::test]
async fn me_and_sign_out_need_a_live_bearer_token() {
    let env = Env::start().await;
    let res = env.get("me").await;
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    problem(res, 401, "session.invalid").await;
    problem(
        env.get_bearer("me", "made-up").await,
        401,
        "session.invalid",
    )
    .await;
    let res = env
        .http
        .get(env.api("me"))
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    problem(res, 401, "session.invalid").await;

    let s = env.sign_in("parent.demo@example.com", DEMO_PW).await;
    let access = s.access_token.expose_secret();
    assert_eq!(env.get_bearer("me", access).await.status(), 200);
    let res = env
        .http
        .delete(env.api("sessions/current"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    problem(env.get_bearer("me", access).await, 401, "session.invalid").await;
    let res = env
        .http
        .delete(env.api("sessions/current"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    problem(res, 401, "session.invalid").await;
    let res = env
        .http
        .delete(env.api("sessions/current"))
        .send()
        .await
        .unwrap();
    problem(res, 401, "session.invalid").await;
    // Signing out ends the refresh token too.
    problem(
        env.post(
            "sessions/refresh",
            &json!({"refresh_token": s.refresh_token.expose_secret()}),
        )
        .await,
        401,
        "refresh.invalid",
    )
    .await;

    // Access tokens live 15 minutes.
    let s = env.sign_in("parent.demo@example.com", DEMO_PW).await;
    env.advance(901).await;
    problem(
        env.get_bearer("me", s.access_token.expose_secret()).await,
        401,
        "session.invalid",
    )
    .await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let env = Env::start().await;
    let first = env.sign_in("parent.demo@example.com", DEMO_PW).await;
    let refresh = |t: &SessionTokens| {
        env.post(
            "sessions/refresh",
            &json!({"refresh_token": t.refresh_token.expose_secret()}),
        )
    };
    let res = refresh(&first).await;
    assert_eq!(res.status(), 200);
    let second: SessionTokens = res.json().await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_ne!(second.access_token, first.access_token);
    assert_eq!(
        env.get_bearer("me", second.access_token.expose_secret())
            .await
            .status(),
        200
    );

    // Presenting the rotated token again: the whole family ends.
    problem(refresh(&first).await, 401, "refresh.reused").await;
    problem(refresh(&second).await, 401, "refresh.invalid").await;
    problem(
        env.get_bearer("me", second.access_token.expose_secret())
            .await,
        401,
        "session.invalid",
    )
    .await;
    problem(
        env.get_bearer("me", first.access_token.expose_secret())
            .await,
        401,
        "session.invalid",
    )
    .await;

    // Other sessions of the account are untouched.
    let other = env.sign_in("parent.demo@example.com", DEMO_PW).await;
    problem(
        env.post("sessions/refresh", &json!({"refresh_token": "made-up"}))
            .await,
        401,
        "refresh.invalid",
    )
    .await;
    problem(
        env.post("sessions/refresh", &json!({})).await,
        400,
        "request.invalid",
    )
    .await;
    // Refresh tokens expire after 14 days.
    env.advance(14 * 24 * 3600 + 1).await;
    problem(refresh(&other).await, 401, "refresh.invalid").await;
}

#[tokio::test]
async fn county_sign_in_exchanges_each_id_token_once() {
    let env = Env::start().await;
    let token = env.id_token("ntpc", "ntpcbound");
    let exchange = |t: &str| {
        env.post(
            "sessions",
            &json!({"method": "county", "county": "ntpc", "id_token": t}),
        )
    };
    let res = exchange(&token).await;
    assert_eq!(res.status(), 201);
    let s: SessionTokens = res.json().await.unwrap();
    assert_eq!(s.account.email, "ntpcbound@mail.edu.tw");
    assert_eq!(s.account.display_name, "張雅婷");
    problem(exchange(&token).await, 401, "token.replayed").await;
    // A fresh login gives a fresh token, which works.
    assert_eq!(
        exchange(&env.id_token("ntpc", "ntpcbound")).await.status(),
        201
    );

    problem(exchange("garbage").await, 401, "token.invalid").await;
    let p = problem(
        env.post(
            "sessions",
            &json!({"method": "county", "county": "atlantis", "id_token": token}),
        )
        .await,
        422,
        "county.unknown",
    )
    .await;
    assert_eq!(p.field.as_deref(), Some("county"));
    let p = problem(
        env.post("sessions", &json!({"method": "county", "county": "ntpc"}))
            .await,
        400,
        "request.invalid",
    )
    .await;
    assert_eq!(p.field.as_deref(), Some("id_token"));
    // Kaohsiung's pairwise subjects bind too.
    let kh = env.id_token("kh", "khbound");
    let res = env
        .post(
            "sessions",
            &json!({"method": "county", "county": "kh", "id_token": kh}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let expired = env.id_token("ntpc", "ntpcbound");
    env.sandbox.idp().advance_clock(3601);
    problem(exchange(&expired).await, 401, "token.expired").await;
}

#[tokio::test]
async fn not_registered_leaves_the_token_usable_for_registration_then_sign_in() {
    let env = Env::start().await;
    let token = env.id_token("hc", "hctest");
    let exchange = || {
        env.post(
            "sessions",
            &json!({"method": "county", "county": "hc", "id_token": token}),
        )
    };
    problem(exchange().await, 404, "account.not_registered").await;
    problem(exchange().await, 404, "account.not_registered").await;
    let res = env
        .post(
            "registrations",
            &staff_body("hc", &token, "hsinchu.teacher"),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = exchange().await;
    assert_eq!(res.status(), 201);
    let s: SessionTokens = res.json().await.unwrap();
    assert_eq!(s.account.email, "hsinchu.teacher@mail.edu.tw");
    problem(exchange().await, 401, "token.replayed").await;
}

#[tokio::test]
async fn failed_password_sign_ins_are_throttled_per_account_and_per_address() {
    let env = Env::start().await;
    for _ in 0..5 {
        problem(
            env.password_session("parent.demo@example.com", "Wrong-pass-1!")
                .await,
            401,
            "auth.invalid_credentials",
        )
        .await;
    }
    // Even the right password waits now.
    let res = env
        .password_session("parent.demo@example.com", DEMO_PW)
        .await;
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&wait));
    let p = problem(res, 429, "auth.throttled").await;
    assert_eq!(p.retry_after, Some(wait));
    // Other accounts are not affected (yet).
    env.sign_in("ntpcbound@mail.edu.tw", DEMO_PW).await;
    // After the window the account may try again.
    env.advance(901).await;
    env.sign_in("parent.demo@example.com", DEMO_PW).await;

    // Per address: 20 failures from this client, spread over accounts.
    for i in 0..20 {
        let email = format!("nobody{i}@example.com");
        problem(
            env.password_session(&email, "Wrong-pass-1!").await,
            401,
            "auth.invalid_credentials",
        )
        .await;
    }
    problem(
        env.password_session("klbound@mail.edu.tw", DEMO_PW).await,
        429,
        "auth.throttled",
    )
    .await;
    env.advance(901).await;
    env.sign_in("klbound@mail.edu.tw", DEMO_PW).await;
}

// ---------------------------------------------------------------------------
// Password resets

#[tokio::test]
async fn password_reset_by_mailed_link_revokes_every_session() {
    let env = Env::start().await;
    let email = "parent.demo@example.com";
    let s1 = env.sign_in(email, DEMO_PW).await;
    let s2 = env.sign_in(email, DEMO_PW).await;
    // 202 for anyone; mail only for accounts.
    for e in [email, "nobody@example.com"] {
        assert_eq!(
            env.post("password-resets", &json!({"email": e}))
                .await
                .status(),
            202
        );
    }
    let out = env.outbox().await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].to, email);
    let link = &out[0].links[0];
    assert!(link.starts_with(&format!("{}reset?token=", env.sandbox.base_url())));
    let token = token_of(link);

    let confirm = |pw: &str, again: &str| {
        env.post(
            &format!("password-resets/{token}"),
            &json!({"password": pw, "password_confirm": again}),
        )
    };
    let p = problem(
        confirm("weakweak", "weakweak").await,
        422,
        "password.classes",
    )
    .await;
    assert_eq!(p.field.as_deref(), Some("password"));
    let p = problem(
        confirm("Parent.demo-2026!", "Parent.demo-2026!").await,
        422,
        "password.contains_account",
    )
    .await;
    assert_eq!(p.field.as_deref(), Some("password"));
    let p = problem(
        confirm("New-Kite-Lamp-77", "New-Kite-Lamp-78").await,
        422,
        "password.mismatch",
    )
    .await;
    assert_eq!(p.field.as_deref(), Some("password_confirm"));
    // Failed attempts did not use the link up.
    assert_eq!(
        confirm("New-Kite-Lamp-77", "New-Kite-Lamp-77")
            .await
            .status(),
        204
    );

    for s in [&s1, &s2] {
        problem(
            env.get_bearer("me", s.access_token.expose_secret()).await,
            401,
            "session.invalid",
        )
        .await;
        problem(
            env.post(
                "sessions/refresh",
                &json!({"refresh_token": s.refresh_token.expose_secret()}),
            )
            .await,
            401,
            "refresh.invalid",
        )
        .await;
    }
    problem(
        env.password_session(email, DEMO_PW).await,
        401,
        "auth.invalid_credentials",
    )
    .await;
    env.sign_in(email, "New-Kite-Lamp-77").await;
    // Once only.
    problem(
        confirm("Other-Kite-Lamp-55", "Other-Kite-Lamp-55").await,
        400,
        "reset.invalid",
    )
    .await;
    problem(
        env.post(
            "password-resets/made-up",
            &json!({"password": PW, "password_confirm": PW}),
        )
        .await,
        400,
        "reset.invalid",
    )
    .await;
    problem(
        env.post("password-resets", &json!({"mail": email})).await,
        400,
        "request.invalid",
    )
    .await;
}

#[tokio::test]
async fn reset_links_expire_after_an_hour_and_the_html_form_works() {
    let env = Env::start().await;
    let email = "ntpcbound@mail.edu.tw";
    assert_eq!(
        env.post("password-resets", &json!({"email": email}))
            .await
            .status(),
        202
    );
    let old = token_of(&env.last_mail_to(email).await.unwrap().links[0]);
    env.advance(3601).await;
    problem(
        env.post(
            &format!("password-resets/{old}"),
            &json!({"password": PW, "password_confirm": PW}),
        )
        .await,
        410,
        "reset.expired",
    )
    .await;
    let page = env
        .http
        .get(env.url(&format!("reset?token={old}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 410);

    // A new link, used through the page's form.
    assert_eq!(
        env.post("password-resets", &json!({"email": email}))
            .await
            .status(),
        202
    );
    let link = env.last_mail_to(email).await.unwrap().links[0].clone();
    let page = env.http.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("id=\"password\"") && html.contains("id=\"password_confirm\""));
    let token = token_of(&link);
    let weak = env
        .http
        .post(env.url("reset"))
        .form(&[
            ("token", token.as_str()),
            ("password", "short"),
            ("password_confirm", "short"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(weak.status(), 422);
    assert!(weak.text().await.unwrap().contains("password.too_short"));
    let done = env
        .http
        .post(env.url("reset"))
        .form(&[
            ("token", token.as_str()),
            ("password", PW),
            ("password_confirm", PW),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("密碼已重設"));
    env.sign_in(email, PW).await;
    let used = env.http.get(&link).send().await.unwrap();
    assert_eq!(used.status(), 400);
}

#[tokio::test]
async fn reset_mails_are_capped_silently() {
    let env = Env::start().await;
    for _ in 0..7 {
        let res = env
            .post(
                "password-resets",
                &json!({"email": "parent.demo@example.com"}),
            )
            .await;
        assert_eq!(res.status(), 202);
    }
    assert_eq!(env.outbox().await.len(), 5);
}

// ---------------------------------------------------------------------------
// Outbox and SMTP

#[tokio::test]
async fn outbox_page_lists_mail_newest_first_with_clickable_links() {
    let env = Env::start().await;
    let empty = env
        .http
        .get(env.url("outbox"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(empty.contains("outbox-empty"));
    for e in ["one.parent@example.com", "two.parent@example.com"] {
        assert_eq!(
            env.post("registrations", &other_body(e)).await.status(),
            201
        );
    }
    let json = env.outbox().await;
    assert_eq!(json.len(), 2);
    assert_eq!(json[0].to, "two.parent@example.com");
    assert!(json[0].id > json[1].id);
    assert!(json[0].sent_at.ends_with('Z'));
    let res = env.http.get(env.url("outbox")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = res.text().await.unwrap();
    assert!(
        !html.contains("<script") && !html.contains("http-equiv"),
        "self-contained"
    );
    let two = html.find("two.parent@example.com").unwrap();
    let one = html.find("one.parent@example.com").unwrap();
    assert!(two < one, "newest first");
    for m in &json {
        assert!(html.contains(&format!("<a href=\"{}\">", m.links[0])));
    }
}

/// A minimal SMTP server that records each message's DATA.
async fn fake_smtp() -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 fake ESMTP\r\n").await.unwrap();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(buf) = data.as_mut() {
                        if line == "." {
                            tx.send(data.take().unwrap()).unwrap();
                            write.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            buf.push_str(&line);
                            buf.push('\n');
                        }
                        continue;
                    }
                    let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250-fake\r\n250 8BITMIME\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"250 ok\r\n",
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, rx)
}

#[tokio::test]
async fn with_an_smtp_url_mail_is_also_delivered() {
    let (port, mut rx) = fake_smtp().await;
    let env = Env::with(SandboxConfig {
        smtp: Some(format!("smtp://127.0.0.1:{port}")),
        ..Default::default()
    })
    .await;
    assert_eq!(
        env.post("registrations", &other_body("smtp.parent@example.com"))
            .await
            .status(),
        201
    );
    let data = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
        .await
        .expect("delivered within 10 s")
        .unwrap();
    assert!(data.contains("To: smtp.parent@example.com"), "{data}");
    assert!(data.contains("no-reply@educloud-sandbox.test"));
    let link = &env.outbox().await[0].links[0];
    let token = token_of(link);
    // The body may be quoted-printable; the token itself is plain base64url.
    assert!(data.replace("=\n", "").contains(&token), "{data}");
}

#[tokio::test]
async fn a_bad_smtp_url_fails_start_with_a_code() {
    let err = educloud_sandbox::start(SandboxConfig {
        smtp: Some("gopher://nowhere".into()),
        ..Default::default()
    })
    .await
    .err()
    .expect("refused");
    assert_eq!(err.code(), "outbox.smtp_url");
}

#[tokio::test]
async fn a_persistent_sandbox_keeps_accounts_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let config = SandboxConfig {
        data_dir: Some(dir.path().to_owned()),
        ..Default::default()
    };
    {
        let env = Env::with(config.clone()).await;
        assert_eq!(
            env.post("registrations", &other_body("kept.parent@example.com"))
                .await
                .status(),
            201
        );
    }
    let env = Env::with(config).await;
    problem(
        env.password_session("kept.parent@example.com", PW).await,
        403,
        "auth.not_activated",
    )
    .await;
    env.sign_in("parent.demo@example.com", DEMO_PW).await;
    assert_eq!(env.outbox().await.len(), 1);
    // No password is stored in clear (main file and WAL alike).
    let s = env.sign_in("parent.demo@example.com", DEMO_PW).await;
    drop(env);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(PW));
        assert!(!text.contains(DEMO_PW));
        assert!(!text.contains(s.access_token.expose_secret()));
        assert!(!text.contains(s.refresh_token.expose_secret()));
    }
}

// ---------------------------------------------------------------------------
// The whole staff journey over HTTP, with a county login through its page

/// Logs `user` in at `county`'s real login page (code + PKCE S256) and
/// returns the token endpoint's JSON, as the desktop app would get it.
async fn county_login(env: &Env, county: &str, user: &str) -> serde_json::Value {
    use sha2::Digest as _;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let issuer = format!("{}idp/{county}", env.sandbox.base_url());
    let disc: serde_json::Value = browser
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let verifier = educloud_sandbox_token();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let redirect_uri = format!("http://127.0.0.1:50000/callback/{county}");
    let mut authorize = url::Url::parse(disc["authorization_endpoint"].as_str().unwrap()).unwrap();
    authorize.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", "educloud-desktop"),
        ("redirect_uri", redirect_uri.as_str()),
        ("scope", "openid profile email eduinfo"),
        ("state", "state-123"),
        ("nonce", "nonce-123"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    let html = browser
        .get(authorize.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("校務行政帳號"));
    let form = educloud_sandbox::testkit::LoginForm::parse(&html, &authorize).expect("login form");
    assert_eq!(form.action.as_str(), format!("{issuer}/login"));
    let res = browser
        .post(form.action.clone())
        .form(&form.fields(user, "demo-password", false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let to = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let code = to
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code on the redirect");
    let res = browser
        .post(disc["token_endpoint"].as_str().unwrap())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("code_verifier", verifier.as_str()),
            ("client_id", "educloud-desktop"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// A PKCE verifier (43 URL-safe characters).
fn educloud_sandbox_token() -> String {
    use rand::RngCore as _;
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[tokio::test]
async fn a_teacher_logs_in_at_the_county_page_registers_and_signs_in_with_the_same_token() {
    let env = Env::start().await;
    let tokens = county_login(&env, "ilc", "ilctest").await;
    let id_token = tokens["id_token"].as_str().expect("an ID token").to_owned();
    let exchange = || {
        env.post(
            "sessions",
            &json!({"method": "county", "county": "ilc", "id_token": id_token}),
        )
    };
    problem(exchange().await, 404, "account.not_registered").await;
    let res = env
        .post(
            "registrations",
            &staff_body("ilc", &id_token, "yilan.teacher"),
        )
        .await;
    assert_eq!(res.status(), 201);
    let reg: RegistrationResponse = res.json().await.unwrap();
    assert_eq!(reg.account.county.as_deref(), Some("ilc"));
    assert_eq!(reg.account.role.as_deref(), Some("教師"));
    let res = exchange().await;
    assert_eq!(res.status(), 201);
    let s: SessionTokens = res.json().await.unwrap();
    let me: Account = env
        .get_bearer("me", s.access_token.expose_secret())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me.email, "yilan.teacher@mail.edu.tw");
    // The same county account can also sign in by name + password now.
    env.sign_in("yilan.teacher@mail.edu.tw", PW).await;
    problem(exchange().await, 401, "token.replayed").await;
}

/// Issue 12 item 9: a Taipei access token the county issued to another
/// client (another app the teacher signed in to) signs nobody in here —
/// neither as a session nor as a registration. Before, any live token with
/// scope `user` was accepted.
#[tokio::test]
async fn a_taipei_access_token_of_another_client_is_refused() {
    let env = Env::start().await;
    // tpbound has an Education Cloud account: with the desktop's token it signs in.
    let other = env
        .sandbox
        .idp()
        .mint_access_token("tp", "tpbound", "another-app")
        .unwrap();
    let p = problem(
        env.post(
            "sessions",
            &json!({"method": "county", "county": "tp", "access_token": other}),
        )
        .await,
        401,
        "token.invalid",
    )
    .await;
    assert!(
        p.detail.as_deref().unwrap_or("").contains("another client"),
        "{p:?}"
    );
    let other = env
        .sandbox
        .idp()
        .mint_access_token("tp", "tptest", "another-app")
        .unwrap();
    let mut body = staff_body("tp", "", "taipei.other");
    body.as_object_mut().unwrap().remove("id_token");
    body["access_token"] = json!(other);
    problem(env.post("registrations", &body).await, 401, "token.invalid").await;
    // The desktop's own token still works.
    let mine = env.access_token("tp", "tpbound");
    let res = env
        .post(
            "sessions",
            &json!({"method": "county", "county": "tp", "access_token": mine}),
        )
        .await;
    assert_eq!(res.status(), 201);
}

/// Issue 12 item 3 (the service's side): after the access token expired
/// (15 minutes), `DELETE sessions/current` cannot end the session (401), but
/// `POST sessions/revoke` with the refresh token does: the refresh token
/// stops working. Unknown tokens get the same 204 (RFC 7009 §2.2).
#[tokio::test]
async fn revoke_by_refresh_token_ends_a_session_whose_access_token_expired() {
    let env = Env::start().await;
    let s = env.sign_in("parent.demo@example.com", DEMO_PW).await;
    env.advance(16 * 60).await;
    let res = env
        .http
        .delete(env.api("sessions/current"))
        .bearer_auth(s.access_token.expose_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "the access token has expired");
    let res = env
        .post(
            "sessions/revoke",
            &json!({"token": s.refresh_token.expose_secret(), "token_type_hint": "refresh_token"}),
        )
        .await;
    assert_eq!(res.status(), 204);
    let p = problem(
        env.post(
            "sessions/refresh",
            &json!({"refresh_token": s.refresh_token.expose_secret()}),
        )
        .await,
        401,
        "refresh.invalid",
    )
    .await;
    assert_eq!(p.detail.as_deref(), Some("the session has ended"));
    // Unknown token, odd hint, again: 204 all the same.
    for body in [
        json!({"token": "nobody-has-this"}),
        json!({"token": s.refresh_token.expose_secret(), "token_type_hint": "x"}),
    ] {
        assert_eq!(env.post("sessions/revoke", &body).await.status(), 204);
    }
    problem(
        env.post("sessions/revoke", &json!({"tokn": "x"})).await,
        400,
        "request.invalid",
    )
    .await;
}

/// An access token (live or expired) ends its session too, and the family's
/// rotated refresh tokens with it.
#[tokio::test]
async fn revoke_by_access_token_ends_the_whole_family() {
    let env = Env::start().await;
    let first = env.sign_in("parent.demo@example.com", DEMO_PW).await;
    let res = env
        .post(
            "sessions/refresh",
            &json!({"refresh_token": first.refresh_token.expose_secret()}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let second: SessionTokens = res.json().await.unwrap();
    let res = env
        .post(
            "sessions/revoke",
            &json!({"token": first.access_token.expose_secret(), "token_type_hint": "access_token"}),
        )
        .await;
    assert_eq!(res.status(), 204);
    problem(
        env.get_bearer("me", second.access_token.expose_secret())
            .await,
        401,
        "session.invalid",
    )
    .await;
    problem(
        env.post(
            "sessions/refresh",
            &json!({"refresh_token": second.refresh_token.expose_secret()}),
        )
        .await,
        401,
        "refresh.invalid",
    )
    .await;
}
