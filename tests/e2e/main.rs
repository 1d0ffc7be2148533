//! End-to-end tests: the real app window under Xvfb through tauri-driver +
//! WebKitWebDriver, headless Chromium as the system browser. See `rig.rs`.

mod rig;

mod bench;
mod home;
mod https;
mod paths;
mod register;
mod signin;
mod system_browser;
