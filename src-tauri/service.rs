//! Connecting a process (window or CLI) to its Education Cloud: for the demo
//! environment, the embedded sandbox on a random loopback port; otherwise
//! the configured service URL.

use educloud_core::desktop::{Desktop, ServiceEndpoint};
use educloud_core::policy::EnvironmentKind;
use educloud_core::{CoreError, Result};

/// Resolves the environment and makes the service known to `desktop`. The
/// returned handle keeps an embedded sandbox alive; drop it to stop it.
/// A release build's first run (no policy, no choice yet) connects to
/// nothing: the window asks which service to use, then calls this again;
/// the CLI's commands answer `service.not_chosen` (see `educloud service`).
pub async fn connect(desktop: &Desktop) -> Result<Option<educloud_sandbox::SandboxHandle>> {
    if desktop.needs_service_choice()? {
        tracing::info!("no service chosen yet: the first-run screen asks");
        return Ok(None);
    }
    let env = desktop.environment()?.value;
    match env.kind {
        EnvironmentKind::Sandbox => {
            let config = educloud_sandbox::SandboxConfig {
                data_dir: Some(desktop.paths.sandbox_dir()),
                port: 0,
                ..Default::default()
            };
            let handle =
                educloud_sandbox::start(config)
                    .await
                    .map_err(|e| CoreError::Unreachable {
                        what: "the embedded sandbox".into(),
                        detail: e.to_string(),
                    })?;
            desktop.set_service(ServiceEndpoint {
                kind: EnvironmentKind::Sandbox,
                base_url: handle.base_url().clone(),
            });
            Ok(Some(handle))
        }
        kind => {
            let url = env
                .service_url
                .as_deref()
                .ok_or_else(|| CoreError::invalid("ServiceUrl", "policy.invalid"))?;
            let base_url = url::Url::parse(url)
                .map_err(|_| CoreError::invalid("ServiceUrl", "policy.invalid"))?;
            desktop.set_service(ServiceEndpoint { kind, base_url });
            Ok(None)
        }
    }
}
