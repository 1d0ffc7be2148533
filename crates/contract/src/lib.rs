//! The contract between EduCloud Desktop and the Education Cloud service.
//!
//! Everything both sides of the API must agree on lives here, and nothing
//! else: the county directory's static facts ([`county`]), the API's wire
//! types and RFC 9457 problem codes ([`wire`]), and the single rule set that
//! validates registration fields ([`rules`]) — used by the app for instant
//! feedback and by the sandbox server as the authority.
//!
//! Architecture invariant: this crate does no I/O and knows nothing of Tauri,
//! HTTP clients or storage.

pub mod county;
pub mod rules;
pub mod text;
pub mod wire;
