//! `tauri-baseline`: the bare Tauri v2 window that `scripts/bench` measures
//! EduCloud Desktop against — same window size, same release profile, one
//! page and one command. After its first paint the page calls `ready`, which
//! prints `EDUCLOUD_UI_READY <ms since process start>` exactly like the app.

use std::process::ExitCode;
use std::time::Instant;

/// When `main` started.
struct Started(Instant);

/// Called once by the page after its first paint.
#[tauri::command]
fn ready(started: tauri::State<'_, Started>) {
    let ms = started.0.elapsed().as_secs_f64() * 1000.0;
    println!("EDUCLOUD_UI_READY {ms:.1}");
}

fn main() -> ExitCode {
    let started = Instant::now();
    let result = tauri::Builder::default()
        .manage(Started(started))
        .invoke_handler(tauri::generate_handler![ready])
        .run(tauri::generate_context!());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tauri-baseline: the window could not start: {e}");
            ExitCode::from(1)
        }
    }
}
