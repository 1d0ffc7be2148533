//! Sign-in against the real sandbox (`educloud_sandbox::start`) over
//! loopback: county Open ID for the three profiles (ntpc = sso.edu.tw,
//! kh = Kaohsiung, tp = Taipei OAuth2) with the county login form posted
//! over HTTP by [`SandboxBrowser`], member sign-in, stay-signed-in across
//! two "launches", and every error path: wrong password, unactivated,
//! throttled, IdP down, browser never returns, cancel, access_denied.
//!
//! The keychain here is the in-process [`MockKeychain`] (the real Secret
//! Service is covered by `vault_secret_service.rs`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use educloud_core::api::EduCloudClient;
use educloud_core::browser::BrowserOpener;
use educloud_core::desktop::{Desktop, ServiceEndpoint};
use educloud_core::directory::CountyDirectory;
use educloud_core::oidc::{
    check_county, test_county_sign_in, NoProgress, SignInOptions, SignInProgress, WaitingForBrowser,
};
use educloud_core::paths::AppPaths;
use educloud_core::policy::{EnvironmentKind, LoadedPolicy, Policy};
use educloud_core::secret::{secret, ExposeSecret};
use educloud_core::session::{SessionState, SignInOutcome, SignOutOptions};
use educloud_core::vault::{MockKeychain, SessionVault, SERVICE_NAME};
use educloud_core::CoreError;
use educloud_sandbox::testkit::{Act, FormBrowser, Page};
use educloud_sandbox::{SandboxConfig, SandboxHandle};

const COUNTY_PASSWORD: &str = "demo-password";
const CLOUD_PASSWORD: &str = "Demo-pass-2026!";

// ---------------------------------------------------------------------------
// A browser that fills the county's login form over HTTP (the sandbox's
// test kit), opened by the app through `BrowserOpener`.
// ---------------------------------------------------------------------------

struct SandboxBrowser {
    act: Mutex<Act>,
    pages: Arc<Mutex<Vec<Page>>>,
    browser: FormBrowser,
    opened: Mutex<Vec<String>>,
}

impl SandboxBrowser {
    fn new() -> Arc<Self> {
        Arc::new(SandboxBrowser {
            act: Mutex::new(Act::Idle),
            pages: Arc::new(Mutex::new(Vec::new())),
            browser: FormBrowser::new(),
            opened: Mutex::new(Vec::new()),
        })
    }

    fn will(&self, act: Act) {
        *self.act.lock().unwrap() = act;
        self.pages.lock().unwrap().clear();
    }

    fn login(&self, user: &str) {
        self.will(Act::Login {
            user: user.into(),
            password: COUNTY_PASSWORD.into(),
            remember: false,
        });
    }

    async fn last_page(&self) -> Page {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(p) = self.pages.lock().unwrap().last().cloned() {
                return p;
            }
            assert!(Instant::now() < deadline, "the browser shows no page");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl BrowserOpener for SandboxBrowser {
    fn open(&self, url: &str) -> educloud_core::Result<()> {
        self.opened.lock().unwrap().push(url.to_string());
        let act = self.act.lock().unwrap().clone();
        let (browser, pages, url) = (self.browser.clone(), self.pages.clone(), url.to_string());
        tokio::spawn(async move {
            if let Some(page) = browser.visit(&url, &act).await.unwrap() {
                pages.lock().unwrap().push(page);
            }
        });
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The rig
// ---------------------------------------------------------------------------

struct Rig {
    sandbox: SandboxHandle,
    desktop: Desktop,
    browser: Arc<SandboxBrowser>,
    keychain: MockKeychain,
    dir: tempfile::TempDir,
}

async fn rig_with(policy: Policy) -> Rig {
    let sandbox = educloud_sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let dir = tempfile::tempdir().unwrap();
    let browser = SandboxBrowser::new();
    let mut loaded = LoadedPolicy::default();
    loaded.add("test".into(), policy);
    let desktop = open_desktop(&dir, loaded, &browser, &sandbox);
    Rig {
        sandbox,
        desktop,
        browser,
        keychain: MockKeychain::new(),
        dir,
    }
}

fn open_desktop(
    dir: &tempfile::TempDir,
    policy: LoadedPolicy,
    browser: &Arc<SandboxBrowser>,
    sandbox: &SandboxHandle,
) -> Desktop {
    let desktop = Desktop::open(AppPaths::under(dir.path()), policy)
        .unwrap()
        .with_browser(browser.clone());
    desktop.set_service(ServiceEndpoint {
        kind: EnvironmentKind::Sandbox,
        base_url: sandbox.base_url().clone(),
    });
    desktop
}

async fn rig() -> Rig {
    rig_with(Policy::default()).await
}

impl Rig {
    fn session(&self) -> SessionState {
        SessionState::new(SessionVault::mock(&self.keychain))
    }

    /// A second launch of the app: new process state, same files and
    /// keychain.
    fn relaunch(&self) -> (Desktop, SessionState) {
        let desktop = open_desktop(
            &self.dir,
            LoadedPolicy::default(),
            &self.browser,
            &self.sandbox,
        );
        (desktop, self.session())
    }
}

#[derive(Default)]
struct Recorder {
    waiting: Mutex<Option<WaitingForBrowser>>,
    redirected: Mutex<bool>,
}

impl SignInProgress for Recorder {
    fn waiting_for_browser(&self, w: &WaitingForBrowser) {
        *self.waiting.lock().unwrap() = Some(w.clone());
    }
    fn redirect_received(&self, _county: &str) {
        *self.redirected.lock().unwrap() = true;
    }
}

fn signed_in(o: SignInOutcome) -> educloud_core::api::Account {
    match o {
        SignInOutcome::SignedIn(a) => a,
        other => panic!("not signed in: {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// County sign-in, the three profiles
// ---------------------------------------------------------------------------

#[tokio::test]
async fn ntpc_county_sign_in_of_a_bound_teacher_with_stay_signed_in_survives_a_relaunch() {
    let r = rig().await;
    let session = r.session();
    // Nothing kept yet: the window defers starting its service.
    assert!(!SessionState::has_session_to_restore(&r.desktop));
    r.browser.login("ntpcbound");
    let progress = Recorder::default();
    let account = signed_in(
        session
            .sign_in_county(&r.desktop, "ntpc", true, &progress)
            .await
            .unwrap(),
    );
    assert_eq!(account.email, "ntpcbound@mail.edu.tw");
    let waiting = progress.waiting.lock().unwrap().clone().unwrap();
    assert!(waiting.browser_opened);
    assert_eq!(waiting.county_name_zh, "新北市");
    assert!(waiting.authorize_url.contains("/idp/ntpc/oidc/v1/azp?"));
    assert!(*progress.redirected.lock().unwrap());
    let page = r.browser.last_page().await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("登入完成，可以關閉此分頁"),
        "{}",
        page.body
    );
    let timing = session.last_redirect_to_signed_in().unwrap();
    eprintln!("MEASURED redirect received → signed in (ntpc, loopback): {timing:?}");
    assert!(timing < Duration::from_secs(5));
    // Each part of the local overhead was timed, and they fit in the total.
    let t = session.last_sign_in_timings().unwrap();
    assert_eq!(t.total, timing);
    for (part, d) in [
        ("code_exchange", t.code_exchange),
        ("verification", t.verification),
        ("cloud_session", t.cloud_session),
        ("keychain_write", t.keychain_write),
        ("store_write", t.store_write),
    ] {
        assert!(d > Duration::ZERO, "{part} not timed: {t:?}");
    }
    assert_eq!(
        t.code_exchange
            + t.verification
            + t.cloud_session
            + t.keychain_write
            + t.store_write
            + t.other(),
        t.total,
        "{t:?}"
    );
    // 保持登入狀態: only the refresh token, in the keychain.
    let raw = r
        .keychain
        .raw(SERVICE_NAME, "ntpcbound@mail.edu.tw")
        .unwrap();
    let stored: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert!(session.holds_refresh_token(stored["refresh_token"].as_str().unwrap()));
    let status = session.status(&r.desktop).await.unwrap();
    let active = status.signed_in.unwrap();
    assert!(active.stay_signed_in);
    assert_eq!(active.county.as_deref(), Some("ntpc"));
    // Second launch: silent sign-in from the keychain, token rotated.
    let (desktop2, session2) = r.relaunch();
    assert!(SessionState::has_session_to_restore(&desktop2));
    let restored = session2
        .restore_at_launch(&desktop2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(restored.email, "ntpcbound@mail.edu.tw");
    let raw2 = r
        .keychain
        .raw(SERVICE_NAME, "ntpcbound@mail.edu.tw")
        .unwrap();
    assert_ne!(raw, raw2, "the refresh token did not rotate");
    assert_eq!(
        session2.me(&desktop2).await.unwrap().email,
        "ntpcbound@mail.edu.tw"
    );
    // The first launch's refresh token was rotated away: reuse is refused.
    let err = session.refresh(&r.desktop).await.unwrap_err();
    assert_eq!(err.code(), "refresh.reused");
    // Sign-out: revoked, entry gone, county logout page offered.
    let out = session2.sign_out(&desktop2, false).await.unwrap();
    assert_eq!(out.accounts, ["ntpcbound@mail.edu.tw"]);
    assert_eq!(out.keychain_entries_deleted, 1);
    assert!(r.keychain.is_empty());
    let (desktop3, session3) = r.relaunch();
    assert!(!SessionState::has_session_to_restore(&desktop3));
    assert!(session3
        .restore_at_launch(&desktop3)
        .await
        .unwrap()
        .is_none());
    let history = desktop3.store.history(20).unwrap();
    let methods: Vec<_> = history
        .iter()
        .map(|h| (h.method.as_str(), h.outcome.as_str()))
        .collect();
    assert!(methods.contains(&("county", "ok")), "{methods:?}");
    assert!(methods.contains(&("restore", "ok")), "{methods:?}");
}

#[tokio::test]
async fn ntpc_teacher_without_an_account_is_offered_registration_with_the_verified_identity() {
    let r = rig().await;
    let session = r.session();
    r.browser.login("ntpctest");
    let outcome = session
        .sign_in_county(&r.desktop, "ntpc", false, &NoProgress)
        .await
        .unwrap();
    let SignInOutcome::NotRegistered(id) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(id.county, "ntpc");
    assert!(!id.sub.is_empty());
    assert_eq!(id.preferred_username.as_deref(), Some("ntpctest"));
    assert_eq!(id.school_id.as_deref(), Some("014569"));
    assert_eq!(id.role.as_deref(), Some("教師"));
    assert_eq!(id.title.as_deref(), Some("專任教師"));
    assert!(id.name.is_some());
    assert_eq!(session.pending_registration(), Some(id.clone()));
    let verified = session.take_pending_registration().unwrap();
    assert_eq!(verified.identity, id);
    assert!(session.pending_registration().is_none());
    let history = r.desktop.store.history(5).unwrap();
    assert_eq!(history[0].outcome, "account.not_registered");
    assert!(r.keychain.is_empty());
}

#[tokio::test]
async fn kaohsiung_profile_signs_in_and_reads_kh_claims() {
    let r = rig().await;
    let session = r.session();
    r.browser.login("khbound");
    let a = signed_in(
        session
            .sign_in_county(&r.desktop, "kh", false, &NoProgress)
            .await
            .unwrap(),
    );
    assert_eq!(a.email, "khbound@mail.edu.tw");
    eprintln!(
        "MEASURED redirect received → signed in (kh, loopback): {:?}",
        session.last_redirect_to_signed_in().unwrap()
    );
    assert!(
        r.keychain.is_empty(),
        "no stay-signed-in, no keychain write"
    );
    let t = session.last_sign_in_timings().unwrap();
    assert_eq!(t.keychain_write, Duration::ZERO, "{t:?}");
    assert!(t.verification > Duration::ZERO, "{t:?}");
    r.browser.login("khtest");
    let SignInOutcome::NotRegistered(id) = session
        .sign_in_county(&r.desktop, "kh", false, &NoProgress)
        .await
        .unwrap()
    else {
        panic!("khtest is not bound")
    };
    assert!(
        session.last_sign_in_timings().is_none(),
        "a sign-in that did not sign in leaves no timings"
    );
    assert_eq!(id.county, "kh");
    assert!(id.school_id.is_some(), "{id:?}");
    assert_eq!(id.role.as_deref(), Some("教師"), "{id:?}");
}

#[tokio::test]
async fn taipei_oauth2_profile_signs_in_without_an_id_token() {
    let r = rig().await;
    let session = r.session();
    r.browser.login("tpbound");
    let a = signed_in(
        session
            .sign_in_county(&r.desktop, "tp", false, &NoProgress)
            .await
            .unwrap(),
    );
    assert_eq!(a.email, "tpbound@mail.edu.tw");
    eprintln!(
        "MEASURED redirect received → signed in (tp, loopback): {:?}",
        session.last_redirect_to_signed_in().unwrap()
    );
    r.browser.login("tptest");
    let SignInOutcome::NotRegistered(id) = session
        .sign_in_county(&r.desktop, "tp", false, &NoProgress)
        .await
        .unwrap()
    else {
        panic!("tptest is not bound")
    };
    assert_eq!(id.county, "tp");
    assert!(!id.sub.is_empty());
    assert_eq!(
        id.school_name.as_deref(),
        Some("臺北市立示範國民小學"),
        "{id:?}"
    );
    let verified = session.take_pending_registration().unwrap();
    assert!(matches!(
        verified.credential,
        educloud_core::oidc::CountyCredential::AccessToken(_)
    ));
}

#[tokio::test]
async fn every_sandbox_county_passes_the_health_check() {
    let r = rig().await;
    let dir = CountyDirectory::load(&r.desktop).await.unwrap();
    assert_eq!(dir.counties().len(), 23);
    for idp in dir.counties() {
        let h = check_county(&r.desktop, idp).await;
        assert!(h.ok, "{h:?}");
        if idp.profile.has_id_token() {
            assert!(h.jwks_keys.unwrap() >= 1);
        }
    }
}

// ---------------------------------------------------------------------------
// Member sign-in
// ---------------------------------------------------------------------------

#[tokio::test]
async fn member_sign_in_and_its_error_paths() {
    let r = rig().await;
    let session = r.session();
    let a = session
        .sign_in_password(
            &r.desktop,
            "parent.demo@example.com",
            secret(CLOUD_PASSWORD),
            false,
        )
        .await
        .unwrap();
    assert_eq!(a.email, "parent.demo@example.com");
    assert_eq!(session.me(&r.desktop).await.unwrap().email, a.email);
    let err = session
        .sign_in_password(
            &r.desktop,
            "parent.demo@example.com",
            secret("Wrong-pass-2026!"),
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "auth.invalid_credentials");
    let err = session
        .sign_in_password(
            &r.desktop,
            "pending.demo@example.com",
            secret(CLOUD_PASSWORD),
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "auth.not_activated");
    // Throttling: repeated failures on one account.
    let mut last = None;
    for _ in 0..8 {
        let e = session
            .sign_in_password(
                &r.desktop,
                "ntpcbound@mail.edu.tw",
                secret("Nope-nope-2026!"),
                false,
            )
            .await
            .unwrap_err();
        last = Some(e.code().to_string());
        if e.code() == "auth.throttled" {
            break;
        }
        assert_eq!(e.code(), "auth.invalid_credentials");
    }
    assert_eq!(last.as_deref(), Some("auth.throttled"));
    // History has every attempt, never a password.
    let history = r.desktop.store.history(50).unwrap();
    assert!(history.iter().any(|h| h.outcome == "auth.not_activated"));
    assert!(history.iter().any(|h| h.outcome == "auth.throttled"));
    let token = session.access_token(&r.desktop).await.unwrap();
    let out = session.sign_out(&r.desktop, false).await.unwrap();
    assert!(out.revoked);
    assert!(
        out.end_session_url.is_none(),
        "member sessions have no county logout"
    );
    assert!(matches!(
        session.me(&r.desktop).await.unwrap_err(),
        CoreError::NotSignedIn
    ));
    // Nothing secret at rest in the app's folder.
    let mut haystack = Vec::new();
    for entry in std::fs::read_dir(r.dir.path()).unwrap().flatten() {
        if entry.path().is_file() {
            haystack.extend(std::fs::read(entry.path()).unwrap());
        }
    }
    let text = String::from_utf8_lossy(&haystack);
    for needle in [
        CLOUD_PASSWORD,
        "Wrong-pass-2026!",
        "Nope-nope-2026!",
        token.expose_secret(),
    ] {
        assert!(
            !text.contains(needle),
            "a secret is at rest in the app folder"
        );
    }
}

// ---------------------------------------------------------------------------
// County error paths
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_user_cancels_at_the_county_access_denied() {
    let r = rig().await;
    let session = r.session();
    r.browser.will(Act::Cancel);
    let err = session
        .sign_in_county(&r.desktop, "ntpc", false, &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "signin.access_denied");
    let page = r.browser.last_page().await;
    assert!(page.body.contains("您已取消登入"), "{}", page.body);
    assert_eq!(
        r.desktop.store.history(1).unwrap()[0].outcome,
        "signin.access_denied"
    );
}

#[tokio::test]
async fn a_wrong_county_password_stays_on_the_county_page_until_the_app_gives_up() {
    let r = rig().await;
    let session = r.session();
    session.set_sign_in_timeout(Duration::from_millis(1500));
    r.browser.will(Act::Login {
        user: "ntpctest".into(),
        password: "wrong-password".into(),
        remember: false,
    });
    let err = session
        .sign_in_county(&r.desktop, "ntpc", false, &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "signin.timed_out");
    let page = r.browser.last_page().await;
    assert!(page.body.contains("id=\"login-error\""), "{}", page.body);
}

#[tokio::test]
async fn the_browser_never_returns_timeout_then_cancel() {
    let r = rig().await;
    let session = Arc::new(r.session());
    r.browser.will(Act::Idle);
    session.set_sign_in_timeout(Duration::from_millis(400));
    let started = Instant::now();
    let err = session
        .sign_in_county(&r.desktop, "ntpc", false, &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "signin.timed_out");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Cancel (取消 in the app) while waiting.
    session.set_sign_in_timeout(Duration::from_secs(60));
    let s = session.clone();
    let canceller = tokio::spawn(async move {
        for _ in 0..200 {
            if s.pending_authorize_url().is_some() {
                assert!(s.reopen_browser().is_ok());
                return s.cancel_sign_in();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    });
    let err = session
        .sign_in_county(&r.desktop, "ntpc", false, &NoProgress)
        .await
        .unwrap_err();
    assert!(canceller.await.unwrap(), "nothing to cancel");
    assert_eq!(err.code(), "signin.cancelled");
    assert!(session.pending_authorize_url().is_none());
    assert_eq!(
        r.browser.opened.lock().unwrap().len(),
        3,
        "open + reopen + open"
    );
    let outcomes: Vec<String> = r
        .desktop
        .store
        .history(5)
        .unwrap()
        .into_iter()
        .map(|h| h.outcome)
        .collect();
    assert_eq!(outcomes[..2], ["signin.cancelled", "signin.timed_out"]);
}

#[tokio::test]
async fn an_idp_that_is_down_is_unreachable() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let policy = Policy::from_json(&format!(
        r#"{{"CountyOverrides": {{"ntpc": {{"issuer": "http://127.0.0.1:{closed}/idp/ntpc"}}}}}}"#
    ))
    .unwrap()
    .0;
    let r = rig_with(policy).await;
    let session = r.session();
    r.browser.login("ntpctest");
    let err = session
        .sign_in_county(&r.desktop, "ntpc", false, &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "network.unreachable");
    assert!(
        r.browser.opened.lock().unwrap().is_empty(),
        "no browser for a dead IdP"
    );
    let dir = CountyDirectory::load(&r.desktop).await.unwrap();
    let h = check_county(&r.desktop, dir.get("ntpc").unwrap()).await;
    assert_eq!(h.error.as_deref(), Some("network.unreachable"));
}

#[tokio::test]
async fn policy_can_restrict_counties_and_shared_devices_keep_no_session() {
    let policy = Policy::from_json(r#"{"AllowedCounties": ["ntpc"], "SharedDevice": true}"#)
        .unwrap()
        .0;
    let r = rig_with(policy).await;
    let session = r.session();
    let err = session
        .sign_in_county(&r.desktop, "kh", false, &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "county.not_allowed");
    r.browser.login("ntpcbound");
    signed_in(
        session
            .sign_in_county(&r.desktop, "ntpc", true, &NoProgress)
            .await
            .unwrap(),
    );
    assert!(r.browser.opened.lock().unwrap()[0].contains("prompt=login"));
    // No kept session; only the note that lets the next launch end this one
    // should the app be killed (issue 12 item 4).
    assert!(r
        .keychain
        .raw(SERVICE_NAME, "ntpcbound@mail.edu.tw")
        .is_none());
    assert_eq!(
        r.keychain.users(SERVICE_NAME),
        ["revoke ntpcbound@mail.edu.tw sandbox"]
    );
    assert!(!SessionState::has_session_to_restore(&r.desktop));
    let stay = session.stay_signed_in(&r.desktop).await;
    assert_eq!(stay.reason.as_deref(), Some("policy.shared_device"));
    let out = session.sign_out(&r.desktop, false).await.unwrap();
    let logout = out.end_session_url.unwrap();
    assert!(logout.contains("/idp/ntpc/auth-logout"), "{logout}");
    assert!(
        out.end_session_opened,
        "shared devices end the county session"
    );
    assert!(out.revoked);
    assert!(r.keychain.is_empty(), "nothing left after the sign-out");
    assert!(r.desktop.store.pending_revocations().unwrap().is_empty());
}

#[tokio::test]
async fn counties_test_verifies_the_identity_without_a_session() {
    let r = rig().await;
    r.browser.login("ntpcstaff");
    let v = test_county_sign_in(
        &r.desktop,
        "ntpc",
        SignInOptions {
            timeout: Duration::from_secs(20),
            ..SignInOptions::default()
        },
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(v.identity.preferred_username.as_deref(), Some("ntpcstaff"));
    assert_eq!(v.identity.role.as_deref(), Some("職員"), "{:?}", v.identity);
    assert!(r.desktop.store.accounts().unwrap().is_empty());
    assert!(r.desktop.store.history(5).unwrap().is_empty());
    assert!(r.keychain.is_empty());
}

// ---------------------------------------------------------------------------
// Cached metadata and county token revocation
// ---------------------------------------------------------------------------

fn cached_json(desktop: &Desktop, key: &str) -> Option<serde_json::Value> {
    desktop
        .store
        .cached(key)
        .unwrap()
        .map(|text| serde_json::from_str(&text).unwrap())
}

#[tokio::test]
async fn a_county_key_rotation_is_picked_up_through_the_cached_jwks() {
    let r = rig().await;
    let session = r.session();
    let idp = CountyDirectory::load(&r.desktop)
        .await
        .unwrap()
        .get("ntpc")
        .unwrap()
        .clone();
    r.browser.login("ntpcbound");
    signed_in(
        session
            .sign_in_county(&r.desktop, "ntpc", false, &NoProgress)
            .await
            .unwrap(),
    );
    // Discovery and JWKS are cached per issuer / jwks_uri.
    let discovery = cached_json(&r.desktop, &format!("oidc:discovery:{}", idp.issuer))
        .expect("discovery not cached");
    assert_eq!(discovery["issuer"], idp.issuer.as_str());
    let jwks_key = format!("oidc:jwks:{}", discovery["jwks_uri"].as_str().unwrap());
    let kids = |desktop: &Desktop| -> Vec<String> {
        cached_json(desktop, &jwks_key).expect("JWKS not cached")["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect()
    };
    let before = kids(&r.desktop);
    // The county rotates its signing key; the cached JWKS does not know it.
    let rotated: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/_admin/rotate-keys", idp.issuer))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_kid = rotated["kid"].as_str().unwrap().to_string();
    assert!(!before.contains(&new_kid), "{before:?}");
    r.browser.login("ntpcbound");
    let a = signed_in(
        session
            .sign_in_county(&r.desktop, "ntpc", false, &NoProgress)
            .await
            .unwrap(),
    );
    assert_eq!(a.email, "ntpcbound@mail.edu.tw");
    // The unknown kid refetched the JWKS once and updated the cache.
    assert!(kids(&r.desktop).contains(&new_kid));
}

/// `GET {tp issuer}/api/user` with `token`: the HTTP status.
async fn taipei_user_status(issuer: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{issuer}/api/user"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn pending_taipei_token(session: &SessionState) -> String {
    match session
        .pending_county()
        .expect("no pending registration")
        .credential
    {
        educloud_core::oidc::CountyCredential::AccessToken(t) => t.expose_secret().to_string(),
        other => panic!("not an access token: {other:?}"),
    }
}

#[tokio::test]
async fn a_pending_taipei_registration_token_is_revoked_at_the_county_on_sign_out() {
    let r = rig().await;
    let session = r.session();
    let issuer = CountyDirectory::load(&r.desktop)
        .await
        .unwrap()
        .get("tp")
        .unwrap()
        .issuer
        .clone();
    r.browser.login("tptest");
    let outcome = session
        .sign_in_county(&r.desktop, "tp", false, &NoProgress)
        .await
        .unwrap();
    assert!(matches!(outcome, SignInOutcome::NotRegistered(_)));
    let first = pending_taipei_token(&session);
    assert!(session
        .pending_county()
        .unwrap()
        .revocation
        .is_some_and(|rv| rv.endpoint.path().ends_with("/oauth/revoke")));
    assert_eq!(taipei_user_status(&issuer, &first).await, 200);
    // A second county sign-in replaces the pending one: the first token is
    // revoked at the county.
    r.browser.login("tptest");
    session
        .sign_in_county(&r.desktop, "tp", false, &NoProgress)
        .await
        .unwrap();
    let second = pending_taipei_token(&session);
    assert_ne!(first, second);
    assert_eq!(taipei_user_status(&issuer, &first).await, 401);
    assert_eq!(taipei_user_status(&issuer, &second).await, 200);
    // Sign-out discards the pending registration and revokes its token.
    let out = session.sign_out(&r.desktop, false).await.unwrap();
    assert!(out.county_token_revoked);
    assert!(out.accounts.is_empty(), "{out:?}");
    assert!(session.pending_county().is_none());
    assert_eq!(taipei_user_status(&issuer, &second).await, 401);
    // Nothing left: a second sign-out has nothing to do.
    assert_eq!(
        session
            .sign_out(&r.desktop, false)
            .await
            .unwrap_err()
            .code(),
        "session.not_signed_in"
    );
}

#[tokio::test]
async fn a_pending_id_token_registration_is_dropped_not_revoked() {
    let r = rig().await;
    let session = r.session();
    r.browser.login("ntpctest");
    let outcome = session
        .sign_in_county(&r.desktop, "ntpc", false, &NoProgress)
        .await
        .unwrap();
    assert!(matches!(outcome, SignInOutcome::NotRegistered(_)));
    // sso.edu.tw has a revocation endpoint, but the credential is an ID
    // token (not an OAuth token; its access token was never kept).
    assert!(session.pending_county().unwrap().revocation.is_some());
    let out = session.sign_out(&r.desktop, false).await.unwrap();
    assert!(!out.county_token_revoked);
    assert!(session.pending_county().is_none());
}

// ---------------------------------------------------------------------------
// Issue 12 item 2: a kept session is bound to the service that issued it
// ---------------------------------------------------------------------------

/// The app over `dir`, its service `sandbox` as an organization's service
/// (`Custom`: bound by origin, as a real service is).
fn desktop_at(
    dir: &tempfile::TempDir,
    browser: &Arc<SandboxBrowser>,
    sandbox: &SandboxHandle,
) -> Desktop {
    let desktop = Desktop::open(AppPaths::under(dir.path()), LoadedPolicy::default())
        .unwrap()
        .with_browser(browser.clone());
    desktop.set_service(ServiceEndpoint {
        kind: EnvironmentKind::Custom,
        base_url: sandbox.base_url().clone(),
    });
    desktop
}

#[tokio::test]
async fn a_kept_session_is_only_ever_sent_to_the_service_that_issued_it() {
    let r = rig().await;
    let other = educloud_sandbox::start(SandboxConfig::default())
        .await
        .expect("second sandbox");
    let email = "parent.demo@example.com";
    let issuer_origin = r.sandbox.base_url().origin().ascii_serialization();
    // Signed in with 保持登入狀態 at the first service.
    let at_issuer = desktop_at(&r.dir, &r.browser, &r.sandbox);
    let session = r.session();
    session
        .sign_in_password(&at_issuer, email, secret(CLOUD_PASSWORD), true)
        .await
        .unwrap();
    assert!(session.active().unwrap().stay_signed_in);
    let raw = r.keychain.raw(SERVICE_NAME, email).unwrap();
    assert!(raw.contains(&issuer_origin), "the entry names its service");
    drop(session);

    // Started again, pointed at another service: it receives NOTHING, and
    // the account shows as belonging to another service, not signed in.
    other.traffic().clear();
    let elsewhere = desktop_at(&r.dir, &r.browser, &other);
    let session = r.session();
    assert_eq!(session.restore_at_launch(&elsewhere).await.unwrap(), None);
    assert!(session.active().is_none());
    let seen = other.traffic().exchanges();
    assert!(
        seen.is_empty(),
        "the other service received {:?}",
        seen.iter().map(|e| e.path.clone()).collect::<Vec<_>>()
    );
    let err = session.switch_account(&elsewhere, email).await.unwrap_err();
    assert_eq!(err.code(), "session.other_service");
    let status = session.status(&elsewhere).await.unwrap();
    let known = status
        .known_accounts
        .iter()
        .find(|k| k.account == email)
        .unwrap();
    assert_eq!(
        known.service_origin.as_deref(),
        Some(issuer_origin.as_str())
    );
    assert_ne!(status.service_origin, known.service_origin);
    assert!(known.stay_signed_in, "still kept for its own service");
    assert!(other.traffic().exchanges().is_empty());
    drop(session);

    // Back at the issuing service, the kept session still works.
    let back = desktop_at(&r.dir, &r.browser, &r.sandbox);
    let session = r.session();
    let restored = session.restore_at_launch(&back).await.unwrap().unwrap();
    assert_eq!(restored.email, email);
    let token = issued_refresh_token(&r.sandbox);
    drop(session);

    // `educloud logout --all` against the other service: the kept session
    // is signed out here but still not sent there; it is ended at its own
    // service the next time the app runs against it.
    let session = r.session();
    let out = session.sign_out(&elsewhere, true).await.unwrap();
    assert_eq!(out.accounts, [email]);
    assert_eq!(out.not_revoked, [email]);
    assert!(other.traffic().exchanges().is_empty());
    assert!(r.keychain.raw(SERVICE_NAME, email).is_none());
    let session = r.session();
    assert_eq!(session.restore_at_launch(&back).await.unwrap(), None);
    assert_eq!(refresh_code(&back, &token).await, "refresh.invalid");
    assert!(r.keychain.is_empty());
}

// ---------------------------------------------------------------------------
// Issue 12 items 3 and 4: sign-out always ends the session at the service
// ---------------------------------------------------------------------------

/// The refresh token of the newest session `sandbox` issued (from its
/// traffic recorder: the answer of `POST /api/v1/sessions[/refresh]`).
fn issued_refresh_token(sandbox: &SandboxHandle) -> String {
    sandbox
        .traffic()
        .exchanges()
        .iter()
        .rev()
        .filter(|e| (200..300).contains(&e.status) && e.path.starts_with("/api/v1/sessions"))
        .find_map(|e| {
            e.response_json()?["refresh_token"]
                .as_str()
                .map(str::to_string)
        })
        .expect("no session was issued")
}

/// What the service says about a refresh token now.
async fn refresh_code(desktop: &Desktop, token: &str) -> String {
    let api = EduCloudClient::for_desktop(desktop).await.unwrap();
    match api.refresh(&secret(token)).await {
        Ok(_) => "ok".into(),
        Err(e) => e.code().to_string(),
    }
}

#[tokio::test]
async fn sign_out_ends_the_session_at_the_service_after_the_access_token_expired() {
    let r = rig().await;
    let session = r.session();
    session
        .sign_in_password(
            &r.desktop,
            "parent.demo@example.com",
            secret(CLOUD_PASSWORD),
            false,
        )
        .await
        .unwrap();
    let token = issued_refresh_token(&r.sandbox);
    // 16 minutes later: the access token (15 min) has expired.
    r.sandbox.cloud().clock().advance(16 * 60);
    let out = session.sign_out(&r.desktop, false).await.unwrap();
    assert!(out.revoked, "{out:?}");
    assert!(out.not_revoked.is_empty());
    assert_eq!(out.notice, None);
    assert_eq!(refresh_code(&r.desktop, &token).await, "refresh.invalid");
}

#[tokio::test]
async fn switching_accounts_ends_the_previous_session_after_its_access_token_expired() {
    let r = rig().await;
    let session = r.session();
    session
        .sign_in_password(
            &r.desktop,
            "parent.demo@example.com",
            secret(CLOUD_PASSWORD),
            false,
        )
        .await
        .unwrap();
    let first = issued_refresh_token(&r.sandbox);
    r.sandbox.cloud().clock().advance(16 * 60);
    r.browser.login("ntpcbound");
    signed_in(
        session
            .sign_in_county(&r.desktop, "ntpc", false, &NoProgress)
            .await
            .unwrap(),
    );
    assert_eq!(refresh_code(&r.desktop, &first).await, "refresh.invalid");
}

#[tokio::test]
async fn an_offline_sign_out_says_so_and_the_session_is_ended_at_the_next_launch() {
    let data = tempfile::tempdir().unwrap();
    let config = |port| SandboxConfig {
        data_dir: Some(data.path().to_path_buf()),
        port,
        ..Default::default()
    };
    let sandbox = educloud_sandbox::start(config(0)).await.unwrap();
    let port = sandbox.base_url().port().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let browser = SandboxBrowser::new();
    let keychain = MockKeychain::new();
    let desktop = desktop_at(&dir, &browser, &sandbox);
    let session = SessionState::new(SessionVault::mock(&keychain));
    let email = "parent.demo@example.com";
    session
        .sign_in_password(&desktop, email, secret(CLOUD_PASSWORD), false)
        .await
        .unwrap();
    let token = issued_refresh_token(&sandbox);
    let origin = sandbox.base_url().origin().ascii_serialization();
    // The network goes away.
    drop(sandbox);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let out = session.sign_out(&desktop, false).await.unwrap();
    assert!(!out.revoked);
    assert_eq!(out.not_revoked, [email]);
    assert!(out.retry_at_launch);
    assert_eq!(out.notice, Some("signout.not_revoked"));
    assert!(session.active().is_none(), "signed out here all the same");
    assert_eq!(
        desktop.store.pending_revocations().unwrap(),
        [(email.to_string(), origin.clone())]
    );
    // The token waits in the keychain only, never in SQLite.
    let waiting = keychain
        .raw(SERVICE_NAME, &format!("revoke {email}"))
        .unwrap();
    assert!(waiting.contains(&token));
    drop(desktop);
    let mut folders = vec![dir.path().to_path_buf()];
    let mut files = 0;
    while let Some(folder) = folders.pop() {
        for f in std::fs::read_dir(folder).unwrap().flatten() {
            let path = f.path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            files += 1;
            let bytes = std::fs::read(&path).unwrap_or_default();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(&token),
                "the token is in {path:?}"
            );
        }
    }
    assert!(files > 0, "the store was looked at");
    // The next launch, online again: the session is ended there.
    let mut sandbox = None;
    for _ in 0..50 {
        match educloud_sandbox::start(config(port)).await {
            Ok(s) => {
                sandbox = Some(s);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let sandbox = sandbox.expect("the sandbox restarts on its port");
    let desktop = desktop_at(&dir, &browser, &sandbox);
    let session = SessionState::new(SessionVault::mock(&keychain));
    assert_eq!(session.restore_at_launch(&desktop).await.unwrap(), None);
    assert!(desktop.store.pending_revocations().unwrap().is_empty());
    assert!(keychain.is_empty());
    assert_eq!(refresh_code(&desktop, &token).await, "refresh.invalid");
}

#[tokio::test]
async fn a_shared_device_session_left_by_a_killed_app_is_ended_and_wiped_at_the_next_launch() {
    let shared = || {
        let mut loaded = LoadedPolicy::default();
        loaded.add(
            "test".into(),
            Policy::from_json(r#"{"SharedDevice": true}"#).unwrap().0,
        );
        loaded
    };
    let r = rig_with(Policy::from_json(r#"{"SharedDevice": true}"#).unwrap().0).await;
    let session = r.session();
    session
        .sign_in_password(
            &r.desktop,
            "parent.demo@example.com",
            secret(CLOUD_PASSWORD),
            false,
        )
        .await
        .unwrap();
    let token = issued_refresh_token(&r.sandbox);
    // The app is killed: no sign-out.
    drop(session);
    let desktop = open_desktop(&r.dir, shared(), &r.browser, &r.sandbox);
    let session = r.session();
    assert_eq!(session.restore_at_launch(&desktop).await.unwrap(), None);
    assert_eq!(refresh_code(&desktop, &token).await, "refresh.invalid");
    assert!(
        r.keychain.is_empty(),
        "{:?}",
        r.keychain.users(SERVICE_NAME)
    );
    assert!(desktop.store.pending_revocations().unwrap().is_empty());
    assert!(desktop.store.accounts().unwrap().is_empty());
}

// ---------------------------------------------------------------------------
// Issue 13 item 4: the accounts on this PC
// ---------------------------------------------------------------------------

fn kept_token(keychain: &MockKeychain, email: &str) -> String {
    let raw = keychain.raw(SERVICE_NAME, email).expect("kept");
    let json: serde_json::Value = serde_json::from_str(&raw).unwrap();
    json["refresh_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn switch_between_kept_accounts_remove_one_and_end_the_county_session() {
    let r = rig().await;
    let session = r.session();
    let teacher = "ntpcbound@mail.edu.tw";
    let parent = "parent.demo@example.com";
    r.browser.login("ntpcbound");
    signed_in(
        session
            .sign_in_county(&r.desktop, "ntpc", true, &NoProgress)
            .await
            .unwrap(),
    );
    session
        .sign_in_password(&r.desktop, parent, secret(CLOUD_PASSWORD), true)
        .await
        .unwrap();
    // Both kept: switch back and forth.
    assert_eq!(
        session
            .switch_account(&r.desktop, teacher)
            .await
            .unwrap()
            .email,
        teacher
    );
    assert_eq!(session.active().unwrap().account.email, teacher);
    assert_eq!(
        session
            .switch_account(&r.desktop, parent)
            .await
            .unwrap()
            .email,
        parent
    );
    let status = session.status(&r.desktop).await.unwrap();
    let kept: Vec<_> = status
        .known_accounts
        .iter()
        .filter(|k| k.stay_signed_in)
        .map(|k| k.account.as_str())
        .collect();
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(status
        .history
        .iter()
        .any(|h| h.account.as_deref() == Some(teacher)));

    // 從這台電腦移除 the teacher (not the current account): its keychain
    // entry, row and history go, and its session is ended at the service.
    let token = kept_token(&r.keychain, teacher);
    let out = session.remove_account(&r.desktop, teacher).await.unwrap();
    assert_eq!(out.accounts, [teacher]);
    assert_eq!(out.keychain_entries_deleted, 1);
    assert!(out.revoked);
    assert!(r.keychain.raw(SERVICE_NAME, teacher).is_none());
    let status = session.status(&r.desktop).await.unwrap();
    assert!(status.known_accounts.iter().all(|k| k.account != teacher));
    assert!(status
        .history
        .iter()
        .all(|h| h.account.as_deref() != Some(teacher)));
    assert_eq!(refresh_code(&r.desktop, &token).await, "refresh.invalid");
    assert_eq!(session.active().unwrap().account.email, parent, "untouched");
    let err = session
        .switch_account(&r.desktop, teacher)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "session.not_kept");

    // Removing the current account signs it out too.
    let out = session.remove_account(&r.desktop, parent).await.unwrap();
    assert!(out.revoked);
    assert!(session.active().is_none());
    assert!(r.keychain.is_empty());
    assert!(session
        .status(&r.desktop)
        .await
        .unwrap()
        .known_accounts
        .is_empty());

    // Sign-out with the choice to end the county's browser session too (not
    // a shared device): the county's logout page opens in the browser.
    r.browser.login("ntpcbound");
    signed_in(
        session
            .sign_in_county(&r.desktop, "ntpc", false, &NoProgress)
            .await
            .unwrap(),
    );
    let opened_before = r.browser.opened.lock().unwrap().len();
    let out = session
        .sign_out_with(
            &r.desktop,
            SignOutOptions {
                all: false,
                end_county_session: true,
                forget: true,
            },
        )
        .await
        .unwrap();
    assert!(out.end_session_opened);
    // With `forget`, nothing of the account is left on this PC.
    let status = session.status(&r.desktop).await.unwrap();
    assert!(status.known_accounts.is_empty());
    assert!(status.history.iter().all(|h| h.account.is_none()));
    assert!(r.keychain.is_empty());
    let opened = r.browser.opened.lock().unwrap().clone();
    assert_eq!(opened.len(), opened_before + 1);
    assert!(opened.last().unwrap().contains("/idp/ntpc/auth-logout"));
    // Without the choice it is only offered.
    r.browser.login("ntpcbound");
    signed_in(
        session
            .sign_in_county(&r.desktop, "ntpc", false, &NoProgress)
            .await
            .unwrap(),
    );
    let out = session.sign_out(&r.desktop, false).await.unwrap();
    assert!(out.end_session_url.is_some());
    assert!(!out.end_session_opened);
}

#[tokio::test]
async fn at_exit_a_session_nobody_will_restore_is_ended_a_kept_one_stays() {
    let r = rig().await;
    let session = r.session();
    let email = "parent.demo@example.com";
    session
        .sign_in_password(&r.desktop, email, secret(CLOUD_PASSWORD), false)
        .await
        .unwrap();
    let token = issued_refresh_token(&r.sandbox);
    let out = session.end_unkept(&r.desktop).await.unwrap();
    assert!(out.revoked);
    assert_eq!(refresh_code(&r.desktop, &token).await, "refresh.invalid");
    session
        .sign_in_password(&r.desktop, email, secret(CLOUD_PASSWORD), true)
        .await
        .unwrap();
    assert!(session.end_unkept(&r.desktop).await.is_none());
    assert!(session.active().is_some());
    assert!(r.keychain.raw(SERVICE_NAME, email).is_some());
}

#[tokio::test]
async fn a_session_kept_before_the_binding_is_never_sent_anywhere() {
    use keyring::credential::CredentialBuilderApi;
    let r = rig().await;
    let email = "parent.demo@example.com";
    // What an older version left: a row without a service and an entry
    // named by the e-mail alone.
    r.desktop
        .store
        .remember_account(&educloud_core::store::KnownAccount {
            account: email.into(),
            display_name: None,
            county: None,
            method: "password".into(),
            stay_signed_in: true,
            last_signed_in: "2026-12-01T00:00:00Z".into(),
            service_origin: None,
        })
        .unwrap();
    r.keychain
        .build(None, SERVICE_NAME, email)
        .unwrap()
        .set_password(r#"{"refresh_token":"rt-legacy","expires_at":1900000000}"#)
        .unwrap();
    r.sandbox.traffic().clear();
    let session = r.session();
    assert_eq!(session.restore_at_launch(&r.desktop).await.unwrap(), None);
    assert!(r
        .sandbox
        .traffic()
        .exchanges()
        .iter()
        .all(|e| !String::from_utf8_lossy(&e.body).contains("rt-legacy")));
    assert!(r.keychain.is_empty(), "the unbound entry is deleted");
    let known = r.desktop.store.accounts().unwrap();
    assert!(!known[0].stay_signed_in);
}
