//! The county sign-in as a background task that the window and the CLI
//! share: [`SessionState::start_county_sign_in`] returns as soon as the
//! browser was asked to open the county's page ("請在瀏覽器中完成登入"),
//! [`SessionState::finish_county_sign_in`] waits for the result, and
//! [`SessionState::cancel_sign_in`] (取消) ends the wait. One at a time.

use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{lock, SessionState, SignInOutcome};
use crate::desktop::Desktop;
use crate::oidc::{SignInProgress, WaitingForBrowser};
use crate::{settings, CoreError, Result};

/// The running county sign-in's task.
pub(super) type Running = tokio::sync::Mutex<Option<JoinHandle<Result<SignInOutcome>>>>;

/// Hands the first "waiting for the browser" to the starter.
struct Announce(Mutex<Option<oneshot::Sender<WaitingForBrowser>>>);

impl SignInProgress for Announce {
    fn waiting_for_browser(&self, waiting: &WaitingForBrowser) {
        if let Some(tx) = lock(&self.0).take() {
            let _ = tx.send(waiting.clone());
        }
    }
}

impl SessionState {
    /// Starts a county sign-in in the background and returns once the
    /// browser was asked to open the county's page (or the start failed:
    /// its error). `signin.pending` while another one runs. The county
    /// becomes the default of the picker.
    pub async fn start_county_sign_in(
        self: &Arc<Self>,
        desktop: &Arc<Desktop>,
        county: &str,
        stay_signed_in: bool,
    ) -> Result<WaitingForBrowser> {
        let mut slot = self.running.lock().await;
        if slot.as_ref().is_some_and(|h| !h.is_finished()) {
            return Err(CoreError::SignInPending);
        }
        if let Err(e) = settings::set_default_county(desktop.policy(), &desktop.store, county) {
            tracing::debug!(code = e.code(), "the default county was not remembered");
        }
        let (tx, rx) = oneshot::channel();
        let (session, desktop) = (Arc::clone(self), Arc::clone(desktop));
        let county = county.to_string();
        let handle = tokio::spawn(async move {
            let announce = Announce(Mutex::new(Some(tx)));
            session
                .sign_in_county(&desktop, &county, stay_signed_in, &announce)
                .await
        });
        match rx.await {
            Ok(waiting) => {
                *slot = Some(handle);
                Ok(waiting)
            }
            // The flow ended before a browser was opened: its error says why.
            Err(_) => match handle.await {
                Ok(Err(e)) => Err(e),
                Ok(Ok(_)) => Err(CoreError::Internal(
                    "the sign-in ended without a browser".into(),
                )),
                Err(e) => Err(CoreError::Internal(e.to_string())),
            },
        }
    }

    /// Waits for the county sign-in [`Self::start_county_sign_in`] started
    /// (signed in, not registered, or its error: cancelled, timed out …).
    /// `signin.none_pending` when none was started.
    pub async fn finish_county_sign_in(&self) -> Result<SignInOutcome> {
        let handle = self
            .running
            .lock()
            .await
            .take()
            .ok_or(CoreError::NoSignInPending)?;
        let outcome = handle
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))??;
        if let SignInOutcome::NotRegistered(_) = &outcome {
            // The registration form comes next.
            crate::registration::warm_up_in_background();
        }
        Ok(outcome)
    }
}
