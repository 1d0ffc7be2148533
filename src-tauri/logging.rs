//! `tracing` set-up: a daily file in the OS log folder, plus stderr for the
//! CLI. Secrets cannot reach these logs because they are redacting newtypes
//! (`educloud_core::secret`), never plain strings.

use std::path::Path;
use std::sync::Mutex;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

/// The file writer's guard: dropping it flushes the log.
static GUARD: Mutex<Option<WorkerGuard>> = Mutex::new(None);

/// Flushes and closes the log file (call before the process exits: Tauri
/// ends the process with `exit`, which runs no destructors).
pub fn flush() {
    drop(GUARD.lock().unwrap_or_else(|p| p.into_inner()).take());
}

/// Starts logging for the process's life (see [`flush`]).
pub fn init(log_dir: &Path, to_stderr: bool) {
    let filter = EnvFilter::try_from_env("EDUCLOUD_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,hyper=warn,reqwest=warn,tao=warn,wry=warn"));
    let (file_layer, guard) = match std::fs::create_dir_all(log_dir) {
        Ok(()) => {
            let appender = tracing_appender::rolling::daily(log_dir, "educloud.log");
            let (writer, guard) = tracing_appender::non_blocking(appender);
            (
                Some(fmt::layer().with_ansi(false).with_writer(writer)),
                Some(guard),
            )
        }
        Err(_) => (None, None),
    };
    let stderr_layer = to_stderr.then(|| {
        fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(false)
            .without_time()
    });
    let stderr_filter = tracing_subscriber::filter::LevelFilter::WARN;
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(file_layer)
        .with(stderr_layer.with_filter(stderr_filter))
        .try_init();
    *GUARD.lock().unwrap_or_else(|p| p.into_inner()) = guard;
    install_panic_hook();
}

/// A panic is a bug: it is logged (where and what; secrets are redacting
/// types, so a message cannot carry one) and the log flushed before the
/// process stops (release builds abort on panic, Cargo.toml).
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!(panic = %info, "internal error: the app stops");
        // `try_lock`: a panic while the guard is held must not deadlock here.
        if let Ok(mut guard) = GUARD.try_lock() {
            drop(guard.take());
        }
        previous(info);
    }));
}
