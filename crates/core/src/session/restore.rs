//! Restore from the keychain (保持登入狀態) and the single-flight refresh.

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};

use super::{
    is_session_dead, lock, now_unix, service_origin, Active, SessionState, SignInMethod,
    ACCESS_MARGIN,
};
use crate::api::{Account, EduCloudClient, SessionTokens};
use crate::contract::wire::code as wire;
use crate::desktop::Desktop;
use crate::store::KnownAccount;
use crate::vault::StoredSession;
use crate::{CoreError, Result};

impl SessionState {
    // ---- restore and refresh ----

    /// Whether [`Self::restore_at_launch`] has anything to try: a policy
    /// that allows 保持登入狀態 and an account kept with it (one SQLite read,
    /// no keychain access). The shell starts the service at once when so, and
    /// defers it until the window is interactive otherwise.
    pub fn has_session_to_restore(desktop: &Desktop) -> bool {
        let policy = desktop.policy();
        if policy.shared_device() || !policy.stay_signed_in_allowed() {
            return false;
        }
        desktop
            .store
            .accounts()
            .map(|accounts| accounts.iter().any(|a| a.stay_signed_in))
            .unwrap_or(false)
    }

    /// At launch: signs the most recent 保持登入狀態 account in silently
    /// from the keychain. `Ok(None)` when there is nothing to restore.
    pub async fn restore_at_launch(&self, desktop: &Desktop) -> Result<Option<Account>> {
        // First the sessions still to be ended here (an offline sign-out, a
        // shared-device session a killed app left behind).
        self.retry_revocations(desktop).await;
        if desktop.policy().shared_device() || !desktop.policy().stay_signed_in_allowed() {
            return Ok(None);
        }
        let candidates: Vec<KnownAccount> = desktop
            .store
            .accounts()?
            .into_iter()
            .filter(|a| a.stay_signed_in)
            .collect();
        for known in candidates {
            match self.restore_account(desktop, &known.account).await {
                Ok(account) => return Ok(Some(account)),
                Err(
                    CoreError::NotKept(_)
                    | CoreError::AccountChanged
                    | CoreError::KeptForOtherService { .. },
                ) => continue,
                Err(e) if is_session_dead(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Signs `email` in from its keychain entry (account switching).
    /// `session.not_signed_in` when it has none.
    pub async fn restore_account(&self, desktop: &Desktop, email: &str) -> Result<Account> {
        let result = self.restore_inner(desktop, email).await;
        match &result {
            Ok(a) => self.record(
                desktop,
                SignInMethod::Restore,
                a.county.as_deref(),
                Some(email),
                "ok",
            ),
            Err(CoreError::NotKept(_) | CoreError::KeptForOtherService { .. }) => {}
            Err(e) => self.record(desktop, SignInMethod::Restore, None, Some(email), e.code()),
        }
        result
    }

    async fn restore_inner(&self, desktop: &Desktop, email: &str) -> Result<Account> {
        let _flight = self.refresh_lock.lock().await;
        // The kept session goes only to the service that issued it: decided
        // before any keychain read or network request.
        let origin = service_origin(desktop).await?;
        let known = desktop
            .store
            .accounts()?
            .into_iter()
            .find(|a| a.account == email);
        match known.as_ref().and_then(|k| k.service_origin.as_deref()) {
            Some(o) if o == origin => {}
            Some(other) => {
                return Err(CoreError::KeptForOtherService {
                    account: email.to_string(),
                    origin: other.to_string(),
                })
            }
            None => {
                // Kept before sessions were bound to their service: nobody
                // knows where it came from, so it is never sent anywhere.
                let _ = self.vault.delete_unbound(email).await;
                let _ = desktop.store.set_stay_signed_in(email, false);
                return Err(CoreError::NotKept(email.to_string()));
            }
        }
        let Some(stored) = self.vault.load(email, &origin).await? else {
            let _ = desktop.store.set_stay_signed_in(email, false);
            return Err(CoreError::NotKept(email.to_string()));
        };
        if stored.expires_at <= now_unix() {
            let _ = self.vault.delete(email, &origin).await;
            let _ = desktop.store.set_stay_signed_in(email, false);
            return Err(CoreError::KeptSessionExpired);
        }
        let api = EduCloudClient::for_desktop(desktop).await?;
        let tokens = match api.refresh(&stored.refresh_token).await {
            Ok(t) => t,
            Err(e) => {
                if is_session_dead(&e) {
                    self.forget_stored_if_ours(desktop, email, &origin, &stored.refresh_token)
                        .await;
                }
                return Err(e);
            }
        };
        self.check_same_account(desktop, email, &origin, &tokens)
            .await?;
        // Rotation: the new token is in the keychain before the old one is
        // dropped (it is dropped with `stored` at the end of this scope).
        self.save_rotated(desktop, email, &origin, &tokens).await;
        let county = known.as_ref().and_then(|k| k.county.clone());
        let account = tokens.account.clone();
        let expires = Instant::now() + Duration::from_secs(tokens.expires_in);
        let refresh_expires_at = now_unix().saturating_add(tokens.refresh_expires_in as i64);
        let previous = self.lock_current().take();
        if let Some(prev) = previous.filter(|p| p.account.email != email) {
            // (The same account's session is the family just refreshed.)
            self.end_replaced(desktop, Some(&api), &prev, email).await;
        }
        self.set_current(Some(Active {
            account: tokens.account,
            method: SignInMethod::Restore,
            county,
            access_token: tokens.access_token,
            access_expires: expires,
            refresh_token: tokens.refresh_token,
            refresh_expires_at,
            stay_signed_in: true,
            stay_problem: None,
            end_session: None,
            client_id: None,
            origin: origin.clone(),
        }));
        drop(stored);
        let _ = desktop.store.remember_account(&KnownAccount {
            account: email.to_string(),
            display_name: Some(account.display_name.clone()).filter(|n| !n.is_empty()),
            county: known.and_then(|k| k.county).or(account.county.clone()),
            method: SignInMethod::Restore.as_str().into(),
            stay_signed_in: true,
            last_signed_in: crate::store::now_rfc3339(),
            service_origin: Some(origin),
        });
        Ok(account)
    }

    async fn check_same_account(
        &self,
        desktop: &Desktop,
        email: &str,
        origin: &str,
        tokens: &SessionTokens,
    ) -> Result<()> {
        if tokens.account.email.eq_ignore_ascii_case(email) {
            return Ok(());
        }
        tracing::error!("a refresh answered with another account; the session is dropped");
        let _ = self.vault.delete(email, origin).await;
        let _ = desktop.store.set_stay_signed_in(email, false);
        if let Ok(api) = EduCloudClient::for_desktop(desktop).await {
            let _ = api.revoke(&tokens.access_token).await;
        }
        Err(CoreError::AccountChanged)
    }

    /// Deletes `email`'s keychain entry only if it still holds `token`:
    /// another process (a second launch) may have rotated and stored a
    /// newer one, which is not ours to delete.
    async fn forget_stored_if_ours(
        &self,
        desktop: &Desktop,
        email: &str,
        origin: &str,
        token: &SecretString,
    ) {
        use sha2::{Digest, Sha256};
        let ours = match self.vault.load(email, origin).await {
            Ok(Some(stored)) => {
                Sha256::digest(stored.refresh_token.expose_secret().as_bytes())
                    == Sha256::digest(token.expose_secret().as_bytes())
            }
            _ => false,
        };
        if ours {
            let _ = self.vault.delete(email, origin).await;
            let _ = desktop.store.set_stay_signed_in(email, false);
        }
    }

    /// Writes a rotated refresh token. If that fails the old entry is
    /// useless (rotated away), so it is deleted and 保持登入狀態 turned off.
    async fn save_rotated(
        &self,
        desktop: &Desktop,
        email: &str,
        origin: &str,
        tokens: &SessionTokens,
    ) -> bool {
        let stored = StoredSession {
            refresh_token: tokens.refresh_token.clone(),
            expires_at: now_unix().saturating_add(tokens.refresh_expires_in as i64),
        };
        match self.vault.save(email, origin, &stored).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(code = e.code(), "could not store the rotated refresh token");
                let _ = self.vault.delete(email, origin).await;
                let _ = desktop.store.set_stay_signed_in(email, false);
                false
            }
        }
    }

    /// Refreshes the current session (single-flight: concurrent callers
    /// share one refresh).
    pub async fn refresh(&self, desktop: &Desktop) -> Result<Account> {
        let seen = self.generation();
        let _flight = self.refresh_lock.lock().await;
        if self.generation() != seen {
            // Someone else refreshed (or signed out) while we waited.
            return self
                .lock_current()
                .as_ref()
                .map(|a| a.account.clone())
                .ok_or(CoreError::NotSignedIn);
        }
        let (refresh_token, email, stay, origin) = match self.lock_current().as_ref() {
            Some(a) => (
                a.refresh_token.clone(),
                a.account.email.clone(),
                a.stay_signed_in,
                a.origin.clone(),
            ),
            None => return Err(CoreError::NotSignedIn),
        };
        let api = EduCloudClient::for_desktop(desktop).await?;
        let tokens = match api.refresh(&refresh_token).await {
            Ok(t) => t,
            Err(e) => {
                if is_session_dead(&e) {
                    self.set_current(None);
                    if stay {
                        self.forget_stored_if_ours(desktop, &email, &origin, &refresh_token)
                            .await;
                    }
                }
                return Err(e);
            }
        };
        if let Err(e) = self
            .check_same_account(desktop, &email, &origin, &tokens)
            .await
        {
            self.set_current(None);
            return Err(e);
        }
        let still_stay = if stay {
            self.save_rotated(desktop, &email, &origin, &tokens).await
        } else {
            false
        };
        let account = tokens.account.clone();
        let mut guard = self.lock_current();
        if let Some(active) = guard.as_mut() {
            active.account = tokens.account;
            active.access_token = tokens.access_token;
            active.access_expires = Instant::now() + Duration::from_secs(tokens.expires_in);
            active.refresh_token = tokens.refresh_token;
            active.refresh_expires_at = now_unix().saturating_add(tokens.refresh_expires_in as i64);
            active.stay_signed_in = still_stay;
        }
        drop(guard);
        *lock(&self.generation) += 1;
        Ok(account)
    }

    /// A valid access token for API calls (refreshed when about to expire).
    pub async fn access_token(&self, desktop: &Desktop) -> Result<SecretString> {
        {
            let guard = self.lock_current();
            let active = guard.as_ref().ok_or(CoreError::NotSignedIn)?;
            if active.access_expires > Instant::now() + ACCESS_MARGIN {
                return Ok(active.access_token.clone());
            }
        }
        self.refresh(desktop).await?;
        self.lock_current()
            .as_ref()
            .map(|a| a.access_token.clone())
            .ok_or(CoreError::NotSignedIn)
    }

    /// `GET me` with the current session (refreshing once on 401).
    pub async fn me(&self, desktop: &Desktop) -> Result<Account> {
        let api = EduCloudClient::for_desktop(desktop).await?;
        let token = self.access_token(desktop).await?;
        match api.me(&token).await {
            Err(e) if e.code() == wire::SESSION_INVALID => {
                self.refresh(desktop).await?;
                let token = self.access_token(desktop).await?;
                api.me(&token).await
            }
            other => other,
        }
    }
}
