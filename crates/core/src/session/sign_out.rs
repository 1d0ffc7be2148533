//! Sign-out and removing an account from this device.

use super::{lock, service_key, SessionState, SignOutOptions, SignOutResult};
use crate::api::EduCloudClient;
use crate::desktop::Desktop;
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
            end_county_session: false,
        };
        self.sign_out_with(desktop, options).await
    }

    /// [`Self::sign_out`] with the choice to end the county's browser
    /// session too ([`SignOutOptions::end_county_session`]).
    pub async fn sign_out_with(
        &self,
        desktop: &Desktop,
        options: SignOutOptions,
    ) -> Result<SignOutResult> {
        let all = options.all;
        let mut result = SignOutResult::default();
        let active = self.lock_current().take();
        *lock(&self.generation) += 1;
        let registration = lock(&self.registration).take();
        let discarded_registration = registration.is_some();
        result.county_token_revoked = self.discard_county(desktop, registration).await;
        let api = EduCloudClient::for_desktop(desktop).await;
        if let Some(a) = &active {
            result.accounts.push(a.account.email.clone());
            if let Ok(api) = &api {
                match api.revoke(&a.access_token).await {
                    Ok(()) => result.revoked = true,
                    Err(e) => {
                        tracing::warn!(code = e.code(), "revocation failed; signed out locally")
                    }
                }
            }
            if (a.stay_signed_in || self.was_kept(desktop, &a.account.email))
                && self
                    .vault
                    .delete(&a.account.email, &a.origin)
                    .await
                    .unwrap_or(false)
            {
                result.keychain_entries_deleted += 1;
            }
            let _ = desktop.store.set_stay_signed_in(&a.account.email, false);
            if let (Some(endpoint), Some(client_id)) = (&a.end_session, &a.client_id) {
                let mut url = endpoint.clone();
                url.query_pairs_mut().append_pair("client_id", client_id);
                result.end_session_url = Some(url.to_string());
                if options.end_county_session || desktop.policy().shared_device() {
                    result.end_session_opened = desktop.browser.open(url.as_str()).is_ok();
                }
            }
        }
        // Kept sessions of another service are never sent here.
        let here = desktop.service().map(service_key);
        let kept: Vec<KnownAccount> = desktop
            .store
            .accounts()?
            .into_iter()
            .filter(|k| k.stay_signed_in && k.service_origin.is_some() && k.service_origin == here)
            .collect();
        let others: Vec<KnownAccount> = if all {
            kept
        } else if active.is_none() {
            kept.into_iter().take(1).collect()
        } else {
            Vec::new()
        };
        for known in others {
            let email = known.account;
            let origin = known.service_origin.unwrap_or_default();
            if let (Ok(Some(stored)), Ok(api)) = (self.vault.load(&email, &origin).await, &api) {
                // Revoke the kept family: refresh once, then end that session.
                if let Ok(tokens) = api.refresh(&stored.refresh_token).await {
                    if api.revoke(&tokens.access_token).await.is_ok() && active.is_none() {
                        result.revoked = true;
                    }
                }
            }
            if self.vault.delete(&email, &origin).await.unwrap_or(false) {
                result.keychain_entries_deleted += 1;
            }
            let _ = desktop.store.set_stay_signed_in(&email, false);
            if !result.accounts.contains(&email) {
                result.accounts.push(email);
            }
        }
        if result.accounts.is_empty() && !discarded_registration {
            return Err(CoreError::NotSignedIn);
        }
        Ok(result)
    }
}
