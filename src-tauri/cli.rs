//! The command line (same binary as the window). Subcommands never touch GTK
//! or a window, so they work over SSH and on headless machines.

use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use educloud_core::desktop::Desktop;
use educloud_core::paths::AppPaths;
use educloud_core::policy::{self, EnvironmentKind, LoadedPolicy};
use educloud_core::settings;
use educloud_core::CoreError;

#[derive(Debug, Parser)]
#[command(
    name = "educloud",
    version,
    about = "教育雲登入 · EduCloud Desktop — sign in to the Ministry of Education's Education Cloud",
    long_about = "With no subcommand, opens the window. Subcommands work without a display."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print the environment, folders, policy, keychain and network status
    /// (proxy, trust, the service's certificate and clock).
    Doctor {
        /// Test this URL the way the app connects (same trust and proxy):
        /// print the certificate chain it saw, the verdict and the clock.
        #[arg(long)]
        url: Option<String>,
    },
    /// Sign in: with a county Open ID in the browser, or an e-mail and
    /// password (read from a prompt, or from stdin when it is not a terminal).
    Login {
        /// County code (e.g. ntpc); see `educloud counties`.
        #[arg(long, conflicts_with = "email", required_unless_present = "email")]
        county: Option<String>,
        /// Education Cloud account e-mail.
        #[arg(long)]
        email: Option<String>,
        /// Keep the session in the OS keychain (保持登入狀態).
        #[arg(long)]
        stay_signed_in: bool,
        /// Seconds to wait for the browser.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Sign out (revokes the session and deletes the keychain entry).
    Logout {
        /// Every account kept on this device.
        #[arg(long)]
        all: bool,
    },
    /// Who is signed in (restoring a kept session), known accounts, history.
    Status,
    /// The county directory; `--check` tests each county's Open ID service.
    Counties {
        /// Check each IdP: metadata reachable, issuer matches, keys present.
        #[arg(long)]
        check: bool,
        #[command(subcommand)]
        action: Option<CountiesAction>,
    },
    /// Which Education Cloud this computer's user works with: show it, or
    /// choose the ministry's (`production`), the demo (`sandbox`) or the
    /// organization's (its URL, checked before it is saved).
    Service {
        /// `production`, `sandbox` or the organization's service URL.
        choice: Option<String>,
    },
    /// Run the local Education Cloud + county IdP sandbox until stopped.
    Sandbox {
        /// Loopback port (0 = any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Folder for the sandbox's data (default: in memory).
        #[arg(long)]
        data: Option<std::path::PathBuf>,
        /// Also deliver the outbox's mail through this SMTP server
        /// (e.g. smtp://127.0.0.1:2525).
        #[arg(long)]
        smtp: Option<String>,
        /// Serve HTTPS with a CA the sandbox makes (in --data, else a
        /// temporary folder); prints `CA <path>` before `READY <url>`.
        #[arg(long)]
        tls: bool,
        /// Advertise this base URL (an origin, e.g. https://edu.example/)
        /// instead of the listening one, behind a TLS-terminating reverse
        /// proxy; prints `LISTEN <local url>` before `READY <url>`.
        #[arg(long)]
        public_url: Option<url::Url>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum CountiesAction {
    /// IT check: sign in with a county in the browser and print the
    /// verified identity claims, without creating an Education Cloud session.
    Test {
        code: String,
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
}

pub fn main() -> ExitCode {
    let started = Instant::now();
    let cli = Cli::parse();
    if cli.command.is_none() {
        // Still one thread: the environment may be changed safely.
        crate::gui::choose_webview_rendering();
    }
    let paths = match AppPaths::from_env() {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    crate::logging::init(&paths.log_dir, cli.command.is_some());
    let code = match cli.command {
        None => {
            let log_dir = paths.log_dir.clone();
            match Desktop::open(paths, LoadedPolicy::load()) {
                Ok(desktop) => crate::gui::run(desktop, started),
                // Nobody sees stderr after a double-click: a native dialog too.
                Err(e) => crate::gui::cannot_start(&e, &log_dir),
            }
        }
        Some(Command::Doctor { url }) => match Desktop::open(paths, LoadedPolicy::load()) {
            Ok(desktop) => runtime(async move {
                doctor(&desktop).await;
                crate::doctor_net::network(&desktop, url.as_deref()).await
            }),
            Err(e) => fail(&e),
        },
        Some(Command::Service { choice }) => match Desktop::open(paths, LoadedPolicy::load()) {
            Ok(desktop) => runtime(async move { service(&desktop, choice).await }),
            Err(e) => fail(&e),
        },
        Some(Command::Sandbox {
            port,
            data,
            smtp,
            tls,
            public_url,
        }) => runtime(async move {
            let handle = educloud_sandbox::start(educloud_sandbox::SandboxConfig {
                data_dir: data,
                port,
                smtp,
                tls,
                public_url,
            })
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))?;
            if let Some(ca) = handle.ca_cert_path() {
                println!("CA {}", ca.display());
            }
            if handle.local_url() != handle.base_url() {
                println!("LISTEN {}", handle.local_url());
            }
            println!("READY {}", handle.base_url());
            // Ctrl-C or SIGTERM: stop gracefully (an in-memory --tls
            // sandbox's temporary CA folder goes with the handle).
            #[cfg(unix)]
            let term = async {
                use tokio::signal::unix::{signal, SignalKind};
                match signal(SignalKind::terminate()) {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            #[cfg(not(unix))]
            let term = std::future::pending::<()>();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                () = term => {}
            }
            drop(handle);
            Ok(())
        }),
        Some(command) => match Desktop::open(paths, LoadedPolicy::load()) {
            Ok(desktop) => runtime(crate::cli_session::run(desktop, command)),
            Err(e) => fail(&e),
        },
    };
    crate::logging::flush();
    code
}

fn runtime(fut: impl std::future::Future<Output = Result<(), CoreError>>) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&CoreError::Io(e)),
    };
    match rt.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// Prints the stable error code (and words) and exits non-zero.
pub(crate) fn fail(e: &CoreError) -> ExitCode {
    eprintln!("error[{}]: {e}", e.code());
    ExitCode::from(2)
}

async fn doctor(desktop: &Desktop) {
    println!("EduCloud Desktop {}", env!("CARGO_PKG_VERSION"));
    match (desktop.needs_service_choice(), desktop.environment()) {
        (Ok(true), _) => println!(
            "environment: not chosen yet — the window asks once \
             (or: educloud service production | sandbox | <your organization's URL>)"
        ),
        (_, Ok(env)) => println!(
            "environment: {} ({:?}{})",
            serde_json::to_value(env.value.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            env.origin,
            env.value
                .service_url
                .map(|u| format!(", {u}"))
                .unwrap_or_default()
        ),
        (_, Err(e)) => println!("environment: error[{}]", e.code()),
    }
    println!("data dir: {}", desktop.paths.data_dir.display());
    println!("database: {}", desktop.paths.database().display());
    if let Some(n) = desktop.store_notice() {
        println!(
            "store: damaged ({}); moved aside at {} to {} and a fresh store started — lost: {}; \
             sessions kept in the keychain stay",
            n.reason,
            n.at,
            n.moved_to,
            n.lost.join(", ")
        );
    }
    for p in desktop.paths.damaged_stores() {
        println!("damaged store kept for IT: {}", p.display());
    }
    println!("log dir: {}", desktop.paths.log_dir.display());
    if desktop.loaded_policy().sources.is_empty() {
        println!(
            "policy: none (looked at {})",
            policy_location(desktop.loaded_policy())
        );
    } else {
        println!("policy: {}", desktop.loaded_policy().sources.join(" > "));
    }
    for key in policy::KEYS {
        if let Some(v) = desktop.policy().display(key) {
            let from = desktop.loaded_policy().source_of(key).unwrap_or("policy");
            println!("  {key} = {v}    [{from}]");
        }
    }
    for p in &desktop.loaded_policy().problems {
        println!("  problem: {p}");
    }
    // Developer variables that were not applied (the machine policy is a
    // floor no variable lowers), each with the reason.
    for ignored in desktop.loaded_policy().ignored() {
        println!("ignored: {ignored}");
    }
    println!(
        "browser: {}",
        desktop
            .loaded_policy()
            .browser_command()
            .unwrap_or("system default")
    );
    println!("webview: {}", webview_version());
    let vault = educloud_core::vault::SessionVault::os();
    match vault.probe().await {
        educloud_core::vault::VaultStatus::Available => {
            println!("keychain: available ({})", vault.service())
        }
        educloud_core::vault::VaultStatus::Unavailable(r) => {
            println!("keychain: unavailable [{}] — 保持登入狀態 is off", r.code())
        }
    }
}

/// Where this process looked for the machine policy.
fn policy_location(loaded: &LoadedPolicy) -> String {
    let os = if cfg!(windows) {
        Some(format!(
            r"HKLM and HKCU\{}",
            policy::windows::WINDOWS_POLICY_KEY
        ))
    } else if cfg!(target_os = "macos") {
        Some(format!(
            "{}/{}.plist",
            policy::macos::MANAGED_PREFERENCES_DIR,
            policy::macos::BUNDLE_ID
        ))
    } else {
        None
    };
    let file = loaded.machine_file().map(|f| f.display().to_string());
    [os, file]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
}

/// `educloud service [production | sandbox | <url>]`: shows the service
/// and where the choice comes from, or makes the user's choice (the same
/// checks as the window's first-run screen).
async fn service(desktop: &Desktop, choice: Option<String>) -> Result<(), CoreError> {
    if let Some(choice) = choice {
        let (kind, url) = match choice.as_str() {
            "production" => (EnvironmentKind::Production, None),
            "sandbox" => (EnvironmentKind::Sandbox, None),
            url => (EnvironmentKind::Custom, Some(url)),
        };
        let chosen = settings::choose_service(desktop, kind, url).await?;
        println!(
            "chosen: {}{}",
            chosen.choice.kind.as_str(),
            chosen
                .choice
                .service_url
                .map(|u| format!(" {u}"))
                .unwrap_or_default()
        );
    }
    if desktop.needs_service_choice()? {
        println!("service: not chosen yet");
        return Ok(());
    }
    let env = desktop.environment()?;
    println!(
        "service: {}{} ({}{})",
        env.value.kind.as_str(),
        env.value
            .service_url
            .as_ref()
            .map(|u| format!(" {u}"))
            .unwrap_or_default(),
        serde_json::to_value(env.origin)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        if env.locked() {
            ", managed by your organization"
        } else {
            ""
        }
    );
    Ok(())
}

fn webview_version() -> String {
    tauri::webview_version().unwrap_or_else(|e| format!("unavailable ({e})"))
}
