//! EduCloud Desktop's shell: the CLI (same binary) and the Tauri window.
//! Everything that is not the window lives in `educloud-core`; the commands
//! here only adapt it (see `ARCHITECTURE.md`).

mod cli;
mod cli_session;
mod commands;
mod doctor_net;
mod dto;
mod gui;
mod launch;
mod logging;
mod service;
mod updater;

use std::process::ExitCode;

/// Parses the command line and runs the window or a CLI subcommand.
pub fn run() -> ExitCode {
    cli::main()
}
