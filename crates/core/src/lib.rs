//! EduCloud Desktop's core: everything that is not the window.
//!
//! The Tauri shell (`src-tauri/`) and the CLI call into this crate; tests run
//! it without a window. Architecture invariants:
//! - this crate never depends on Tauri (CI checks `cargo tree`);
//! - secrets (passwords, tokens, codes, PKCE verifiers) are [`secret`]
//!   newtypes that redact in `Debug` and cannot be serialized;
//! - only the OS keychain ([`vault`]) holds a token at rest.

pub mod browser;
pub mod desktop;
pub mod error;
pub mod paths;
pub mod policy;
pub mod secret;
pub mod settings;
pub mod store;

// Sign-in side.
pub mod api;
pub mod directory;
pub mod net;
pub mod oidc;
pub mod session;
pub mod vault;

// Registration side.
pub mod registration;

// fuzz/ only (feature `fuzzing`, never in the app): wrappers over the
// crate-private parsers and checks that take outside input.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

pub use educloud_contract as contract;
pub use error::{CoreError, Result};
