//! Opening URLs in the user's **system browser** (never a webview: RFC 8252
//! §8.12) through one place that tests and IT can steer.
//!
//! Order: an explicit command (policy `BrowserCommand`, else the
//! `EDUCLOUD_BROWSER` environment variable where it applies — see
//! [`crate::policy::LoadedPolicy::browser_command`]) run with the URL as its
//! one extra argument; otherwise the OS default handler (`open` crate: xdg-open /
//! gio on Linux, `open` on macOS, `ShellExecute` on Windows). Under a desktop
//! `xdg-open` ignores `$BROWSER`, which is why the override exists.
//!
//! "Ok" means the launcher started, not that a page is showing: the UI keeps
//! the copy-link fallback visible while it waits.

use std::process::{Command, Stdio};

use crate::{CoreError, Result};

/// Something that can show a URL to the user (a trait so the CLI, the app
/// and tests share flows).
pub trait BrowserOpener: Send + Sync {
    fn open(&self, url: &str) -> Result<()>;
}

/// The system browser, optionally replaced by a configured command.
#[derive(Debug, Clone, Default)]
pub struct SystemBrowser {
    command: Option<String>,
}

impl SystemBrowser {
    /// The system browser, or `command` (a command line; the URL is added
    /// as its last argument). The caller decides which command applies
    /// ([`crate::policy::LoadedPolicy::browser_command`]); this reads no
    /// variable.
    pub fn new(command: Option<String>) -> Self {
        let command = command.filter(|c| !c.trim().is_empty());
        SystemBrowser { command }
    }

    /// The configured command, if any (for `doctor`).
    pub fn command(&self) -> Option<&str> {
        self.command.as_deref()
    }
}

impl BrowserOpener for SystemBrowser {
    fn open(&self, url: &str) -> Result<()> {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(CoreError::BrowserLaunch(
                "only http(s) URLs are opened".into(),
            ));
        }
        match &self.command {
            Some(cmd) => {
                let words = shell_words::split(cmd)
                    .map_err(|e| CoreError::BrowserLaunch(format!("browser command: {e}")))?;
                let (program, args) = words
                    .split_first()
                    .ok_or_else(|| CoreError::BrowserLaunch("empty browser command".into()))?;
                tracing::info!(
                    program,
                    "opening the browser through the configured command"
                );
                Command::new(program)
                    .args(args)
                    .arg(url)
                    .stdin(Stdio::null())
                    .spawn()
                    .map(|_child| ())
                    .map_err(|e| CoreError::BrowserLaunch(format!("{program}: {e}")))
            }
            None => {
                tracing::info!("opening the system browser");
                open::that_detached(url).map_err(|e| CoreError::BrowserLaunch(e.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_command_gets_the_url_as_its_last_argument() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("got-url");
        let cmd = format!(
            "sh -c 'printf %s \"$1\" > {}' browser",
            shell_words::quote(&out.display().to_string())
        );
        let b = SystemBrowser::new(Some(cmd));
        b.open("http://127.0.0.1:9/x?a=1&b=2").unwrap();
        for _ in 0..100 {
            if let Ok(s) = std::fs::read_to_string(&out) {
                if !s.is_empty() {
                    assert_eq!(s, "http://127.0.0.1:9/x?a=1&b=2");
                    return;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("browser command never ran");
    }

    #[test]
    fn refuses_non_http_urls_and_reports_missing_programs() {
        let b = SystemBrowser::new(Some("/nonexistent/browser".into()));
        assert_eq!(
            b.open("file:///etc/passwd").unwrap_err().code(),
            "browser.launch_failed"
        );
        assert_eq!(
            b.open("https://x.tw").unwrap_err().code(),
            "browser.launch_failed"
        );
    }
}
