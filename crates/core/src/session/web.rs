//! 教育雲服務 in the browser, already signed in: a one-time web hand-off
//! (single use, ≤ 60 s, bound to this session). The link is a credential:
//! it goes from the service straight to the browser opener — never to the
//! log, the store or the UI.

use super::SessionState;
use crate::api::EduCloudClient;
use crate::desktop::Desktop;
use crate::Result;

impl SessionState {
    /// Opens `service` (`portal`, `market`, `pedia`, `video`) in the system
    /// browser, signed in as the current account.
    pub async fn open_service_signed_in(&self, desktop: &Desktop, service: &str) -> Result<()> {
        let token = self.access_token(desktop).await?;
        let api = EduCloudClient::for_desktop(desktop).await?;
        let handoff = api.web_handoff(&token, service).await?;
        desktop.browser.open(handoff.url.expose_secret())
    }
}
