//! Sign-in: county Open ID and e-mail + password, and the session put in place.

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::{
    lock, now_unix, service_origin, Active, PendingControl, SessionState, SignInMethod,
    SignInOutcome, SignInTimings, COUNTY_REVOKE_TIMEOUT,
};
use crate::api::{Account, EduCloudClient, SessionTokens};
use crate::contract::wire::code as wire;
use crate::desktop::Desktop;
use crate::directory::CountyDirectory;
use crate::oidc::{self, CountyIdentity, SignInOptions, SignInProgress, VerifiedCounty};
use crate::store::KnownAccount;
use crate::vault::StoredSession;
use crate::{CoreError, Result};

impl SessionState {
    // ---- sign-in ----

    /// County Open ID sign-in through the system browser, then the token
    /// exchange with Education Cloud.
    pub async fn sign_in_county(
        &self,
        desktop: &Desktop,
        county: &str,
        stay_signed_in: bool,
        progress: &dyn SignInProgress,
    ) -> Result<SignInOutcome> {
        *lock(&self.last_timings) = None;
        let mut timed = None;
        let result = self
            .sign_in_county_inner(desktop, county, stay_signed_in, progress, &mut timed)
            .await;
        let (account, outcome) = match &result {
            Ok(SignInOutcome::SignedIn(a)) => (Some(a.email.as_str()), "ok"),
            Ok(SignInOutcome::NotRegistered(_)) => (None, wire::ACCOUNT_NOT_REGISTERED),
            Err(e) => (None, e.code()),
        };
        let recording = Instant::now();
        self.record(
            desktop,
            SignInMethod::County,
            Some(county),
            account,
            outcome,
        );
        if let (Ok(SignInOutcome::SignedIn(_)), Some((received_at, mut t))) = (&result, timed) {
            t.store_write += recording.elapsed();
            t.total = received_at.elapsed();
            *lock(&self.last_timings) = Some(t);
            tracing::info!(
                county,
                redirect_to_signed_in_ms = oidc::ms(t.total),
                code_exchange_ms = oidc::ms(t.code_exchange),
                verification_ms = oidc::ms(t.verification),
                cloud_session_ms = oidc::ms(t.cloud_session),
                keychain_write_ms = oidc::ms(t.keychain_write),
                store_write_ms = oidc::ms(t.store_write),
                other_ms = oidc::ms(t.other()),
                "signed in with the county"
            );
        }
        result
    }

    async fn sign_in_county_inner(
        &self,
        desktop: &Desktop,
        county: &str,
        stay_signed_in: bool,
        progress: &dyn SignInProgress,
        timed: &mut Option<(Instant, SignInTimings)>,
    ) -> Result<SignInOutcome> {
        let directory = CountyDirectory::load(desktop).await?;
        let idp = directory.get(county)?.clone();
        let shared = desktop.policy().shared_device();
        let options = SignInOptions {
            timeout: *lock(&self.sign_in_timeout),
            prompt_login: shared,
            lang: None,
        };
        let pending = oidc::start_county_sign_in(desktop, &idp, &self.gate, options).await?;
        *lock(&self.pending) = Some(PendingControl {
            cancel: pending.canceller(),
            authorize_url: pending.authorize_url().to_string(),
            browser: desktop.browser.clone(),
        });
        progress.waiting_for_browser(pending.waiting());
        let verified = pending.wait_with(desktop, progress).await;
        *lock(&self.pending) = None;
        let verified = verified?;
        let exchange_started = Instant::now();
        let api = EduCloudClient::for_desktop(desktop).await?;
        let exchanged = api.sign_in_county(county, &verified.credential).await;
        let cloud_session = exchange_started.elapsed();
        match exchanged {
            Ok(tokens) => {
                let (account, mut t) = self
                    .establish(
                        desktop,
                        tokens,
                        SignInMethod::County,
                        Some(county.to_string()),
                        stay_signed_in,
                        verified.end_session_endpoint.clone(),
                        Some(idp.client_id.clone()),
                    )
                    .await?;
                t.code_exchange = verified.timings.code_exchange;
                t.verification = verified.timings.verification;
                t.cloud_session = cloud_session;
                *timed = Some((verified.redirect_received_at, t));
                let stale = lock(&self.registration).take();
                self.discard_county(desktop, stale).await;
                Ok(SignInOutcome::SignedIn(account))
            }
            Err(e) if e.code() == wire::ACCOUNT_NOT_REGISTERED => {
                let identity = verified.identity.clone();
                let stale = lock(&self.registration).replace(verified);
                self.discard_county(desktop, stale).await;
                Ok(SignInOutcome::NotRegistered(identity))
            }
            Err(e) => Err(e),
        }
    }

    /// E-mail + password sign-in.
    pub async fn sign_in_password(
        &self,
        desktop: &Desktop,
        email: &str,
        password: SecretString,
        stay_signed_in: bool,
    ) -> Result<Account> {
        let email = email.trim();
        // Bounded input: an address is at most 254 characters (RFC 5321), a
        // password at most the rules' input limit; nothing longer is sent.
        if email.is_empty() || email.len() > 254 {
            return Err(CoreError::invalid("email", "email.invalid"));
        }
        if password.expose_secret().len() > educloud_contract::rules::MAX_INPUT_BYTES {
            return Err(CoreError::invalid("password", "too_long"));
        }
        let result = async {
            let api = EduCloudClient::for_desktop(desktop).await?;
            let tokens = api.sign_in_password(email, &password).await?;
            self.establish(
                desktop,
                tokens,
                SignInMethod::Password,
                None,
                stay_signed_in,
                None,
                None,
            )
            .await
            .map(|(account, _)| account)
        }
        .await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.code(),
        };
        let account = result.as_ref().map(|a| a.email.clone()).ok();
        self.record(
            desktop,
            SignInMethod::Password,
            None,
            Some(account.as_deref().unwrap_or(email)),
            outcome,
        );
        result
    }

    /// Cancels the pending county sign-in (取消).
    pub fn cancel_sign_in(&self) -> bool {
        match lock(&self.pending).as_ref() {
            Some(p) => {
                p.cancel.cancel();
                true
            }
            None => false,
        }
    }

    /// Opens the pending sign-in's page again (重新開啟瀏覽器).
    pub fn reopen_browser(&self) -> Result<()> {
        let (browser, url) = match lock(&self.pending).as_ref() {
            Some(p) => (p.browser.clone(), p.authorize_url.clone()),
            None => return Err(CoreError::NoSignInPending),
        };
        browser.open(&url)
    }

    /// The pending sign-in's authorize URL (複製連結).
    pub fn pending_authorize_url(&self) -> Option<String> {
        lock(&self.pending)
            .as_ref()
            .map(|p| p.authorize_url.clone())
    }

    /// The identity of a county sign-in that found no account.
    pub fn pending_registration(&self) -> Option<CountyIdentity> {
        lock(&self.registration)
            .as_ref()
            .map(|v| v.identity.clone())
    }

    /// Hands the verified county sign-in (with its credential) to the
    /// registration; it is gone from here afterwards.
    pub fn take_pending_registration(&self) -> Option<VerifiedCounty> {
        lock(&self.registration).take()
    }

    /// The verified county sign-in waiting for a registration, left in
    /// place so a submission refused for a field can be retried.
    pub fn pending_county(&self) -> Option<VerifiedCounty> {
        lock(&self.registration).clone()
    }

    /// Puts a new session in place: 保持登入狀態 in the keychain (bound to
    /// the service that issued it), the known account, the previous
    /// session ended when nobody will restore it.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn establish(
        &self,
        desktop: &Desktop,
        tokens: SessionTokens,
        method: SignInMethod,
        county: Option<String>,
        stay_signed_in: bool,
        end_session: Option<Url>,
        client_id: Option<String>,
    ) -> Result<(Account, SignInTimings)> {
        let mut timings = SignInTimings::default();
        let policy = desktop.policy();
        let mut stay = stay_signed_in && policy.stay_signed_in_allowed();
        if stay_signed_in && !stay {
            tracing::info!("保持登入狀態 ignored: not allowed by policy");
        }
        let refresh_expires_at = now_unix().saturating_add(tokens.refresh_expires_in as i64);
        let email = tokens.account.email.clone();
        let origin = service_origin(desktop).await?;
        let mut stay_problem = None;
        if stay {
            let stored = StoredSession {
                refresh_token: tokens.refresh_token.clone(),
                expires_at: refresh_expires_at,
            };
            let writing = Instant::now();
            let saved = self.vault.save(&email, &origin, &stored).await;
            timings.keychain_write = writing.elapsed();
            if let Err(e) = saved {
                tracing::warn!(
                    code = e.code(),
                    "could not keep the session in the keychain"
                );
                stay = false;
                stay_problem = Some(e.code().to_string());
            }
        } else if let Some(kept_at) = self.kept_at(desktop, &email) {
            // A previous 保持登入狀態 of this account no longer applies.
            // (Only touched when there was one: a broken keychain can take
            // its full timeout to answer.)
            let writing = Instant::now();
            let _ = match &kept_at {
                Some(o) => self.vault.delete(&email, o).await,
                None => self.vault.delete_unbound(&email).await,
            };
            timings.keychain_write = writing.elapsed();
        }
        // Switching accounts: a session nobody will restore is ended at
        // its service (or at the next launch, when offline).
        let previous = self.lock_current().take();
        if let Some(prev) = previous {
            self.end_replaced(desktop, None, &prev, &email).await;
        }
        if policy.shared_device() {
            // Noted while it lives: a killed app's session is ended and
            // wiped at the next launch.
            self.queue_revocation(desktop, &email, &origin, &tokens.refresh_token)
                .await;
        }
        if !policy.shared_device() {
            let writing = Instant::now();
            desktop.store.remember_account(&KnownAccount {
                account: email.clone(),
                display_name: Some(tokens.account.display_name.clone()).filter(|n| !n.is_empty()),
                county: county.clone().or(tokens.account.county.clone()),
                method: method.as_str().to_string(),
                stay_signed_in: stay,
                last_signed_in: crate::store::now_rfc3339(),
                service_origin: Some(origin.clone()),
            })?;
            timings.store_write = writing.elapsed();
        }
        let account = tokens.account.clone();
        self.set_current(Some(Active {
            account: tokens.account,
            method,
            county,
            access_token: tokens.access_token,
            access_expires: Instant::now() + Duration::from_secs(tokens.expires_in),
            refresh_token: tokens.refresh_token,
            refresh_expires_at,
            stay_signed_in: stay,
            stay_problem,
            end_session,
            client_id,
            origin,
        }));
        Ok((account, timings))
    }

    /// Drops a verified county sign-in nobody will use any more (a pending
    /// registration replaced or signed out). A revocable credential — the
    /// Taipei profile's access token, with a `revocation_endpoint` — is
    /// revoked at the county first (RFC 7009); an ID token is only dropped
    /// (zeroized: `SecretString`). Returns whether the county revoked.
    pub(super) async fn discard_county(
        &self,
        desktop: &Desktop,
        verified: Option<VerifiedCounty>,
    ) -> bool {
        let Some(verified) = verified else {
            return false;
        };
        let revoking = oidc::revoke_county_credential(desktop, &verified);
        match tokio::time::timeout(COUNTY_REVOKE_TIMEOUT, revoking).await {
            Ok(Ok(revoked)) => revoked,
            Ok(Err(e)) => {
                tracing::warn!(
                    code = e.code(),
                    "the county token could not be revoked; dropped"
                );
                false
            }
            Err(_) => {
                tracing::warn!("revoking the county token timed out; dropped");
                false
            }
        }
    }
}
