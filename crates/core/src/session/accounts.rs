//! The accounts on this PC: switching between kept accounts and removing
//! one (從這台電腦移除).

use super::{service_key, SessionState, SignOutResult};
use crate::api::Account;
use crate::desktop::Desktop;
use crate::Result;

impl SessionState {
    /// Signs in as `email` from its kept session (保持登入狀態), ending the
    /// current one at the service when nobody will restore it.
    /// `session.not_kept` when `email` has no kept session here.
    pub async fn switch_account(&self, desktop: &Desktop, email: &str) -> Result<Account> {
        self.restore_account(desktop, email).await
    }

    /// Removes `email` from this PC: signs it out when it is the current
    /// session, deletes its keychain entry, its row and its sign-in history.
    pub async fn remove_account(&self, desktop: &Desktop, email: &str) -> Result<SignOutResult> {
        let signed_in = self
            .lock_current()
            .as_ref()
            .is_some_and(|a| a.account.email == email);
        let mut result = SignOutResult::default();
        if signed_in {
            result = self.sign_out(desktop, false).await?;
        }
        let known = desktop
            .store
            .accounts()?
            .into_iter()
            .find(|k| k.account == email);
        match known {
            // Its kept session is ended at its service (or queued), and the
            // entry deleted.
            Some(k) if k.stay_signed_in && k.service_origin.is_some() => {
                let here = desktop.service().map(service_key);
                self.sign_out_kept(desktop, None, &k, here.as_deref(), &mut result)
                    .await;
            }
            Some(k) if k.stay_signed_in && self.vault.delete_unbound(email).await? => {
                result.keychain_entries_deleted += 1;
            }
            _ => {}
        }
        desktop.store.forget_account(email)?;
        if !result.accounts.iter().any(|a| a == email) {
            result.accounts.push(email.to_string());
        }
        Ok(result)
    }

    /// Removes an account from this device (keychain entry, row, history).
    pub async fn forget_account(&self, desktop: &Desktop, email: &str) -> Result<()> {
        self.remove_account(desktop, email).await.map(|_| ())
    }
}
