//! Sign-out and removing an account from this device.

use super::revoke::Ended;
use super::{lock, service_key, SessionState, SignOutOptions, SignOutResult};
use crate::api::EduCloudClient;
use crate::desktop::Desktop;
use crate::error::code;
use crate::store::KnownAccount;
use crate::{CoreError, Result};

impl SessionState {
    // ---- sign-out ----

    /// Signs out: revokes at the server, deletes the keychain entry and
    /// offers (on shared devices: opens) the county's logout page. With
    /// `all`, every account kept on this device is signed out too. With no
    /// session in this process, the most recent kept account is signed out
    /// (the CLI's `educloud logout`). A pending registration's county
    /// sign-in is discarded, its access token revoked at the county when it
    /// has one (Taipei) and the county a `revocation_endpoint`; discarding
    /// only that is a sign-out too (`accounts` empty).
    /// `session.not_signed_in` when there was nothing at all.
    pub async fn sign_out(&self, desktop: &Desktop, all: bool) -> Result<SignOutResult> {
        let options = SignOutOptions {
            all,
            ..Default::default()
        };
        self.sign_out_with(desktop, options).await
    }

    /// When the app exits: a session not kept with 保持登入狀態 has nobody
    /// to hold it afterwards, so it is ended at the service (or at the next
    /// launch, offline). `None` when there was none to end.
    pub async fn end_unkept(&self, desktop: &Desktop) -> Option<SignOutResult> {
        if self.active().is_none_or(|a| a.stay_signed_in) {
            return None;
        }
        self.sign_out(desktop, false).await.ok()
    }

    /// [`Self::sign_out`] with the choice to end the county's browser
    /// session too ([`SignOutOptions::end_county_session`]).
    pub async fn sign_out_with(
        &self,
        desktop: &Desktop,
        options: SignOutOptions,
    ) -> Result<SignOutResult> {
        let mut result = SignOutResult::default();
        let active = self.lock_current().take();
        *lock(&self.generation) += 1;
        let registration = lock(&self.registration).take();
        let discarded_registration = registration.is_some();
        result.county_token_revoked = self.discard_county(desktop, registration).await;
        if let Some(a) = &active {
            let email = &a.account.email;
            result.accounts.push(email.clone());
            // The refresh token ends the session even after the access
            // token expired; offline, it is ended at the next launch.
            let ended = self
                .end_session(desktop, None, email, &a.origin, &a.refresh_token)
                .await;
            result.note(email, ended);
            if (a.stay_signed_in || self.was_kept(desktop, email))
                && self.vault.delete(email, &a.origin).await.unwrap_or(false)
            {
                result.keychain_entries_deleted += 1;
            }
            let _ = desktop.store.set_stay_signed_in(email, false);
            if let (Some(endpoint), Some(client_id)) = (&a.end_session, &a.client_id) {
                let mut url = endpoint.clone();
                url.query_pairs_mut().append_pair("client_id", client_id);
                result.end_session_url = Some(url.to_string());
                if options.end_county_session || desktop.policy().shared_device() {
                    result.end_session_opened = desktop.browser.open(url.as_str()).is_ok();
                }
            }
        }
        let kept: Vec<KnownAccount> = desktop
            .store
            .accounts()?
            .into_iter()
            .filter(|k| k.stay_signed_in && k.service_origin.is_some())
            .collect();
        let here = desktop.service().map(service_key);
        let others: Vec<KnownAccount> = if options.all {
            kept
        } else if active.is_none() {
            // `educloud logout`: the most recent account kept for this service.
            kept.into_iter()
                .filter(|k| k.service_origin == here)
                .take(1)
                .collect()
        } else {
            Vec::new()
        };
        for known in others {
            // (The client is made only when something is sent: a kept
            // session of another service sends nothing here, not even a
            // configuration request.)
            self.sign_out_kept(desktop, None, &known, here.as_deref(), &mut result)
                .await;
        }
        if result.accounts.is_empty() && !discarded_registration {
            return Err(CoreError::NotSignedIn);
        }
        if options.forget {
            for email in &result.accounts {
                desktop.store.forget_account(email)?;
            }
        }
        Ok(result)
    }

    /// Ends a session kept in the keychain and deletes its entry. One of
    /// another service is never sent here: it waits in the revoke slot
    /// until the app runs against its own service again.
    pub(super) async fn sign_out_kept(
        &self,
        desktop: &Desktop,
        api: Option<&EduCloudClient>,
        known: &KnownAccount,
        here: Option<&str>,
        result: &mut SignOutResult,
    ) {
        let email = &known.account;
        let origin = known.service_origin.clone().unwrap_or_default();
        if let Ok(Some(stored)) = self.vault.load(email, &origin).await {
            let ended = if Some(origin.as_str()) == here {
                self.end_session(desktop, api, email, &origin, &stored.refresh_token)
                    .await
            } else {
                self.queue_revocation(desktop, email, &origin, &stored.refresh_token)
                    .await
            };
            result.note(email, ended);
        }
        if self.vault.delete(email, &origin).await.unwrap_or(false) {
            result.keychain_entries_deleted += 1;
        }
        let _ = desktop.store.set_stay_signed_in(email, false);
        if !result.accounts.contains(email) {
            result.accounts.push(email.clone());
        }
    }
}

impl SignOutResult {
    fn note(&mut self, email: &str, ended: Ended) {
        match ended {
            Ended::Revoked => self.revoked = true,
            Ended::Queued | Ended::Lost => {
                self.not_revoked.push(email.to_string());
                self.retry_at_launch |= ended == Ended::Queued;
                self.notice = Some(code::NOT_REVOKED);
            }
        }
    }
}
