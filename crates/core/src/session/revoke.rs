//! Ending sessions at their service, whatever the state of their access
//! token, and again at the next launch when it could not be done
//! (issue 12 items 3 and 4).
//!
//! A session is ended with its REFRESH token (`POST sessions/revoke`): the
//! access token may have expired long ago (~15 min), the refresh token lives
//! for days. When the service cannot be reached the refresh token moves to
//! the keychain entry "revoke <e-mail> <origin>" and SQLite notes only that
//! there is one (`pending_revocations`); [`SessionState::retry_revocations`]
//! tries again at the next launch — at that service only. A shared-device
//! session is noted the same way while it lives, so one left behind by a
//! killed app is revoked and wiped at the next launch.

use secrecy::SecretString;

use super::{now_unix, service_origin, Active, SessionState};
use crate::api::EduCloudClient;
use crate::desktop::Desktop;
use crate::vault::StoredSession;

/// What became of a session to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ended {
    /// The service ended it.
    Revoked,
    /// The service could not be reached: noted, retried at the next launch.
    Queued,
    /// Neither: no keychain to keep the token until then.
    Lost,
}

impl SessionState {
    /// Ends the session of `refresh_token` (`email`'s, issued by `origin`)
    /// at the service, or queues it for the next launch. `api` is the
    /// client for `origin` when the caller has one.
    pub(super) async fn end_session(
        &self,
        desktop: &Desktop,
        api: Option<&EduCloudClient>,
        email: &str,
        origin: &str,
        refresh_token: &SecretString,
    ) -> Ended {
        let revoked = match api {
            Some(api) => api.revoke_refresh_token(refresh_token).await,
            None => match EduCloudClient::for_desktop(desktop).await {
                Ok(api) => api.revoke_refresh_token(refresh_token).await,
                Err(e) => Err(e),
            },
        };
        match revoked {
            Ok(()) => {
                self.forget_revocation(desktop, email, origin).await;
                Ended::Revoked
            }
            Err(e) => {
                tracing::warn!(
                    code = e.code(),
                    "the session could not be ended at the service; retried at the next launch"
                );
                self.queue_revocation(desktop, email, origin, refresh_token)
                    .await
            }
        }
    }

    /// Keeps `refresh_token` in the keychain's revoke slot and notes it in
    /// SQLite (the token never goes there).
    pub(super) async fn queue_revocation(
        &self,
        desktop: &Desktop,
        email: &str,
        origin: &str,
        refresh_token: &SecretString,
    ) -> Ended {
        let stored = StoredSession {
            refresh_token: refresh_token.clone(),
            // Refresh tokens live for days; the entry says until when it
            // matters (at most this long from now).
            expires_at: now_unix().saturating_add(14 * 24 * 3600),
        };
        match self.vault.save_to_revoke(email, origin, &stored).await {
            Ok(()) => match desktop.store.add_pending_revocation(email, origin) {
                Ok(()) => Ended::Queued,
                Err(e) => {
                    tracing::warn!(code = e.code(), "could not note the session to end");
                    let _ = self.vault.delete_to_revoke(email, origin).await;
                    Ended::Lost
                }
            },
            Err(e) => {
                tracing::warn!(code = e.code(), "no keychain to keep the session to end");
                Ended::Lost
            }
        }
    }

    /// Forgets a queued revocation (done, or nothing left to end).
    pub(super) async fn forget_revocation(&self, desktop: &Desktop, email: &str, origin: &str) {
        let _ = self.vault.delete_to_revoke(email, origin).await;
        let _ = desktop.store.remove_pending_revocation(email, origin);
    }

    /// At launch: ends the sessions still to be ended at the service in use
    /// (a sign-out that was offline; a shared-device session a killed app
    /// left behind), then wipes their traces. Those of another service wait
    /// for it. Returns how many were ended.
    pub async fn retry_revocations(&self, desktop: &Desktop) -> usize {
        let Ok(pending) = desktop.store.pending_revocations() else {
            return 0;
        };
        if pending.is_empty() {
            return 0;
        }
        let Ok(here) = service_origin(desktop).await else {
            return 0;
        };
        // Those of another service wait for it: nothing is sent here.
        let pending: Vec<_> = pending.into_iter().filter(|(_, o)| *o == here).collect();
        if pending.is_empty() {
            return 0;
        }
        let api = EduCloudClient::for_desktop(desktop).await.ok();
        let mut ended = 0;
        for (email, origin) in pending {
            let token = match self.vault.load_to_revoke(&email, &origin).await {
                Ok(Some(stored)) => stored.refresh_token,
                // Nothing left to send (the entry is gone): drop the note.
                Ok(None) => {
                    let _ = desktop.store.remove_pending_revocation(&email, &origin);
                    continue;
                }
                Err(_) => continue,
            };
            let Some(api) = api.as_ref() else { break };
            match api.revoke_refresh_token(&token).await {
                Ok(()) => {
                    self.forget_revocation(desktop, &email, &origin).await;
                    if desktop.policy().shared_device() {
                        // A shared PC keeps nothing of the previous pupil.
                        let _ = desktop.store.forget_account(&email);
                    }
                    ended += 1;
                }
                Err(e) => {
                    tracing::info!(code = e.code(), "a session to end is still unreachable");
                    break;
                }
            }
        }
        if ended > 0 {
            tracing::info!(ended, "sessions ended at the service at launch");
        }
        ended
    }

    /// Ends the session `email`'s new one replaces, unless it is another
    /// account's kept session (still restorable from the keychain).
    pub(super) async fn end_replaced(
        &self,
        desktop: &Desktop,
        api: Option<&EduCloudClient>,
        prev: &Active,
        email: &str,
    ) {
        if prev.stay_signed_in && prev.account.email != email {
            return;
        }
        self.end_session(
            desktop,
            api,
            &prev.account.email,
            &prev.origin,
            &prev.refresh_token,
        )
        .await;
    }
}
