//! The ONE registration rule set, shared by the app (live validation under
//! each field) and the sandbox server (the authority that answers `422` with
//! the same codes).
//!
//! Two stages, as in `shared/design/style.md`: raw form input
//! ([`RegistrationInput`], plain strings) is parsed into validated types
//! ([`AccountName`], [`EmailAddress`], [`Password`], [`Nickname`],
//! [`PersonName`], [`Phone`], [`Gender`], [`Avatar`]) that cannot exist
//! invalid. Every failure is a [`RuleError`]: the [`Field`] it belongs under
//! and a stable machine code from [`codes`] that the UI catalogs turn into
//! zh-TW / English words.
//!
//! Architecture invariants:
//! - pure and deterministic: no I/O, no clock, no randomness — the same input
//!   gives the same answer on the desktop and on the server;
//! - no panics on any input (property-tested), bounded work: every text field
//!   is refused above [`MAX_INPUT_BYTES`] before any other work, an avatar
//!   above [`AVATAR_MAX_BYTES`] before any parsing, and image dimensions are
//!   read from the header before a pixel is decoded;
//! - passwords are accepted as `&str`, kept only in [`Password`] (a
//!   `secrecy::SecretString`), never copied into an error, never printed by
//!   `Debug`, never serialized.

mod account;
mod avatar;
mod email;
mod error;
mod form;
mod password;
mod phone;
mod profile;
mod text;

pub use account::{
    AccountName, ACCOUNT_DOMAIN, ACCOUNT_MAX_CHARS, ACCOUNT_MIN_CHARS, RESERVED_NAMES,
};
pub use avatar::{Avatar, AVATAR_MAX_ALLOC, AVATAR_MAX_BYTES, AVATAR_MAX_SIDE, AVATAR_SIZE};
pub use email::{EmailAddress, EMAIL_MAX_CHARS};
pub use error::{codes, Field, RuleError, UnknownField};
pub use form::{
    validate_field, validate_registration, Identity, RegistrationInput, ValidRegistration,
};
pub use password::{strength, Password, PasswordContext, PasswordPolicy};
pub use phone::{Phone, PHONE_MAX_CHARS};
pub use profile::{Gender, Nickname, PersonName, NAME_MAX_CHARS, NICKNAME_MAX_CHARS};
pub use text::MAX_INPUT_BYTES;
