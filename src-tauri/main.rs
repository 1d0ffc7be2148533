//! `educloud`: the window with no arguments, the CLI with a subcommand.
#![cfg_attr(
    all(not(debug_assertions), target_os = "windows"),
    windows_subsystem = "windows"
)]

fn main() -> std::process::ExitCode {
    educloud_desktop::run()
}
