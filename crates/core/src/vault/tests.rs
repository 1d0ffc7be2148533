//! The vault over the in-process mock keychain.

use super::*;

const O: &str = "https://cloud.example.tw";

fn session(token: &str) -> StoredSession {
    StoredSession {
        refresh_token: SecretString::from(token.to_string()),
        expires_at: 1_900_000_000,
    }
}

#[test]
fn debug_builds_use_the_dev_service_name() {
    assert_eq!(
        SERVICE_NAME,
        if cfg!(debug_assertions) {
            "tw.edu.cloud.desktop.dev"
        } else {
            "tw.edu.cloud.desktop"
        }
    );
    assert!(!format!("{:?}", session("rt-secret")).contains("rt-secret"));
}

#[tokio::test]
async fn mock_round_trip_and_no_entry_is_none() {
    let kc = MockKeychain::new();
    let v = SessionVault::mock(&kc);
    assert!(v.load("a@mail.edu.tw", O).await.unwrap().is_none());
    v.save("a@mail.edu.tw", O, &session("rt-1")).await.unwrap();
    let raw = kc.raw(SERVICE_NAME, "a@mail.edu.tw").unwrap();
    let json: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(json["refresh_token"], "rt-1");
    assert_eq!(json["expires_at"], 1_900_000_000);
    v.save("a@mail.edu.tw", O, &session("rt-2")).await.unwrap();
    let got = v.load("a@mail.edu.tw", O).await.unwrap().unwrap();
    assert_eq!(got.refresh_token.expose_secret(), "rt-2");
    assert_eq!(kc.len(), 1);
    assert!(v.delete("a@mail.edu.tw", O).await.unwrap());
    assert!(!v.delete("a@mail.edu.tw", O).await.unwrap());
    assert!(kc.is_empty());
}

#[tokio::test]
async fn mock_too_large_is_refused_before_any_write() {
    let kc = MockKeychain::new();
    let v = SessionVault::mock(&kc);
    let big = "x".repeat(MAX_ENTRY_BYTES);
    let err = v.save("a@b.tw", O, &session(&big)).await.unwrap_err();
    assert_eq!(err.code(), "keychain.too_large");
    assert_eq!(kc.writes(), 0);
    // Just under the cap fits.
    let fits = "x".repeat(MAX_ENTRY_BYTES - 80 - O.len());
    v.save("a@b.tw", O, &session(&fits)).await.unwrap();
}

#[tokio::test]
async fn mock_faults_become_unavailable_reasons() {
    let kc = MockKeychain::new();
    let v = SessionVault::mock(&kc).with_timeout(Duration::from_millis(200));
    assert_eq!(v.probe().await, VaultStatus::Available);
    assert!(kc.is_empty(), "the probe cleans up");
    kc.set_fault(Some(MockFault::Locked));
    assert_eq!(
        v.probe().await,
        VaultStatus::Unavailable(UnavailableReason::Locked)
    );
    kc.set_fault(Some(MockFault::NoBus));
    assert_eq!(
        v.probe().await,
        VaultStatus::Unavailable(UnavailableReason::NoBus)
    );
    let err = v.load("a@b.tw", O).await.unwrap_err();
    assert_eq!(err.code(), "keychain.unavailable");
    assert!(err.to_string().contains("keychain.no_bus"), "{err}");
    kc.set_fault(Some(MockFault::Hang(Duration::from_secs(2))));
    let started = std::time::Instant::now();
    assert_eq!(
        v.probe().await,
        VaultStatus::Unavailable(UnavailableReason::TimedOut)
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn platform_messages_are_sorted_into_reasons() {
    let pf = |m: &str| keyring::Error::PlatformFailure(m.to_string().into());
    let reason = |e: keyring::Error| match classify(&e) {
        Failure::Unavailable(r, _) => Some(r),
        _ => None,
    };
    assert_eq!(
        reason(pf(
            "DBus error: The name org.freedesktop.secrets was not provided by any .service files"
        )),
        Some(UnavailableReason::NoProvider)
    );
    assert_eq!(
        reason(pf(
            "DBus error: Unable to autolaunch a dbus-daemon without a $DISPLAY for X11"
        )),
        Some(UnavailableReason::NoBus)
    );
    assert_eq!(
        reason(pf("something else")),
        Some(UnavailableReason::Failed)
    );
    assert_eq!(reason(keyring::Error::NoEntry), None);
}

#[test]
fn the_cap_is_counted_in_the_backends_units() {
    // keyring on Windows stores a password as UTF-16: two bytes per unit.
    assert_eq!(stored_len("abc", BlobUnits::Utf8), 3);
    assert_eq!(stored_len("abc", BlobUnits::Utf16), 6);
    // 保持 is 6 UTF-8 bytes, 2 UTF-16 units; 😀 is 4 bytes, 2 units.
    assert_eq!(stored_len("保持", BlobUnits::Utf8), 6);
    assert_eq!(stored_len("保持", BlobUnits::Utf16), 4);
    assert_eq!(stored_len("😀", BlobUnits::Utf16), 4);
    // A 2,000-character ASCII entry fits 2,560 bytes as UTF-8 but not as
    // UTF-16: the check Windows needs.
    let long = "x".repeat(2000);
    assert!(stored_len(&long, BlobUnits::Utf8) <= MAX_ENTRY_BYTES);
    assert!(stored_len(&long, BlobUnits::Utf16) > MAX_ENTRY_BYTES);
    assert_eq!(
        BACKEND_UNITS,
        if cfg!(windows) {
            BlobUnits::Utf16
        } else {
            BlobUnits::Utf8
        }
    );
}

#[tokio::test]
async fn an_entry_is_bound_to_the_origin_that_issued_it() {
    let kc = MockKeychain::new();
    let v = SessionVault::mock(&kc);
    v.save("a@b.tw", O, &session("rt-1")).await.unwrap();
    assert_eq!(kc.users(SERVICE_NAME), [format!("a@b.tw {O}")]);
    let raw: serde_json::Value =
        serde_json::from_str(&kc.raw(SERVICE_NAME, "a@b.tw").unwrap()).unwrap();
    assert_eq!(raw["origin"], O);
    // Another service finds nothing.
    assert!(v
        .load("a@b.tw", "https://other.example")
        .await
        .unwrap()
        .is_none());
    // An entry whose value names another origin than its name is not used.
    let other = SessionVault::mock(&kc);
    other
        .save_user(
            entry_user("c@b.tw", O),
            "https://evil.example",
            &session("rt-x"),
        )
        .await
        .unwrap();
    assert!(v.load("c@b.tw", O).await.unwrap().is_none());
    // The to-revoke slot is separate from the kept one.
    v.save_to_revoke("a@b.tw", O, &session("rt-old"))
        .await
        .unwrap();
    let kept = v.load("a@b.tw", O).await.unwrap().unwrap();
    assert_eq!(kept.refresh_token.expose_secret(), "rt-1");
    let old = v.load_to_revoke("a@b.tw", O).await.unwrap().unwrap();
    assert_eq!(old.refresh_token.expose_secret(), "rt-old");
    assert!(v.delete_to_revoke("a@b.tw", O).await.unwrap());
    assert!(v.load("a@b.tw", O).await.unwrap().is_some());
}
