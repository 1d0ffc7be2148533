//! [`RuleError`]: which field failed ([`Field`]) and why (a stable code from
//! [`codes`]). Codes are part of the API contract (the server answers them as
//! RFC 9457 problems with `field`); they only ever grow.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The registration form's fields, in the order the form shows them (errors
/// from [`crate::rules::validate_registration`] come in this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// Staff: the local part of `name@mail.edu.tw`.
    AccountName,
    /// Other (家長、社會人士): their own address, which is the account.
    Email,
    EmailConfirm,
    /// Other: 姓名 as typed.
    Name,
    BackupEmail,
    BackupEmailConfirm,
    Password,
    PasswordConfirm,
    Nickname,
    Phone,
    Gender,
    Avatar,
    /// The accepted terms version (同意書).
    Terms,
}

impl Field {
    /// Every field, in form order.
    pub const ALL: [Field; 13] = [
        Field::AccountName,
        Field::Email,
        Field::EmailConfirm,
        Field::Name,
        Field::BackupEmail,
        Field::BackupEmailConfirm,
        Field::Password,
        Field::PasswordConfirm,
        Field::Nickname,
        Field::Phone,
        Field::Gender,
        Field::Avatar,
        Field::Terms,
    ];

    /// The wire name (same as serde's): `account_name`, `email_confirm`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Field::AccountName => "account_name",
            Field::Email => "email",
            Field::EmailConfirm => "email_confirm",
            Field::Name => "name",
            Field::BackupEmail => "backup_email",
            Field::BackupEmailConfirm => "backup_email_confirm",
            Field::Password => "password",
            Field::PasswordConfirm => "password_confirm",
            Field::Nickname => "nickname",
            Field::Phone => "phone",
            Field::Gender => "gender",
            Field::Avatar => "avatar",
            Field::Terms => "terms",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The wire name was not one of [`Field::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown field")]
pub struct UnknownField;

impl FromStr for Field {
    type Err = UnknownField;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Field::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or(UnknownField)
    }
}

/// One field failed one rule. Carries no user input (so no password can
/// leak through it): only the field and a code from [`codes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, thiserror::Error)]
#[error("{field}: {code}")]
pub struct RuleError {
    pub field: Field,
    /// A stable code from [`codes`], e.g. `account.too_short`.
    pub code: &'static str,
}

impl RuleError {
    pub const fn new(field: Field, code: &'static str) -> Self {
        RuleError { field, code }
    }
}

/// Every rule code. Generic codes (no dot) apply to any field; the others
/// belong to one area. The list is part of the API contract: codes are never
/// renamed or removed, only added. See `docs/notes/rules.md` for the
/// suggested zh-TW / English messages.
pub mod codes {
    /// Empty or whitespace-only where a value is needed (any field).
    pub const REQUIRED: &str = "required";
    /// Longer than any sane input for the field ([`crate::rules::MAX_INPUT_BYTES`]
    /// raw bytes), or longer than a field without its own length code allows
    /// (name, e-mail). Checked before anything else.
    pub const TOO_LONG: &str = "too_long";
    /// Control, bidi-override or invisible formatting characters (any field).
    pub const CONTROL_CHARS: &str = "control_chars";

    pub const ACCOUNT_TOO_SHORT: &str = "account.too_short";
    pub const ACCOUNT_TOO_LONG: &str = "account.too_long";
    /// Something other than `a–z 0–9 . _ -` (e.g. a space, `@`, `+`).
    pub const ACCOUNT_INVALID_CHARS: &str = "account.invalid_chars";
    /// 全形 characters (`ｎｔｐｃ`, `＿`, ideographic space): use 半形.
    pub const ACCOUNT_FULLWIDTH: &str = "account.fullwidth";
    /// Other non-ASCII characters, typically look-alikes (Cyrillic `а`, `с`).
    pub const ACCOUNT_NON_ASCII: &str = "account.non_ascii";
    pub const ACCOUNT_MUST_START_WITH_LETTER: &str = "account.must_start_with_letter";
    pub const ACCOUNT_DOUBLE_DOT: &str = "account.double_dot";
    /// Ends in `.` or `-`.
    pub const ACCOUNT_BAD_ENDING: &str = "account.bad_ending";
    pub const ACCOUNT_RESERVED: &str = "account.reserved";

    pub const EMAIL_INVALID: &str = "email.invalid";
    /// 全形 characters in an e-mail address (`＠`, `ｇｍａｉｌ`): use 半形.
    pub const EMAIL_FULLWIDTH: &str = "email.fullwidth";
    /// The confirmation differs from the address (on `*_confirm` fields).
    pub const EMAIL_MISMATCH: &str = "email.mismatch";
    /// The backup address is the account's own address.
    pub const EMAIL_SAME_AS_ACCOUNT: &str = "email.same_as_account";
    /// A member of identity 其他 gave an `@mail.edu.tw` address as their
    /// account: those are created for staff by the service itself.
    pub const EMAIL_RESERVED_DOMAIN: &str = "email.reserved_domain";

    pub const PASSWORD_TOO_SHORT: &str = "password.too_short";
    pub const PASSWORD_TOO_LONG: &str = "password.too_long";
    /// Fewer character classes (upper, lower, digit, symbol) than required.
    pub const PASSWORD_CLASSES: &str = "password.classes";
    pub const PASSWORD_CONTAINS_ACCOUNT: &str = "password.contains_account";
    /// zxcvbn score below the policy's `min_score` (common or guessable).
    pub const PASSWORD_WEAK: &str = "password.weak";
    /// 全形 characters in a password (an IME left in 全形 mode is invisible
    /// in a masked field): use 半形.
    pub const PASSWORD_FULLWIDTH: &str = "password.fullwidth";
    /// The confirmation differs (on `password_confirm`).
    pub const PASSWORD_MISMATCH: &str = "password.mismatch";

    pub const NICKNAME_TOO_LONG: &str = "nickname.too_long";
    pub const PHONE_INVALID: &str = "phone.invalid";
    pub const GENDER_INVALID: &str = "gender.invalid";

    /// Not a JPEG, PNG, WebP or GIF by its magic bytes (e.g. a renamed `.exe`).
    pub const AVATAR_FORMAT: &str = "avatar.format";
    /// More than [`crate::rules::AVATAR_MAX_BYTES`].
    pub const AVATAR_TOO_LARGE: &str = "avatar.too_large";
    /// Wider or taller than [`crate::rules::AVATAR_MAX_SIDE`] pixels, or
    /// needing more memory to decode than [`crate::rules::AVATAR_MAX_ALLOC`].
    pub const AVATAR_DIMENSIONS: &str = "avatar.dimensions";
    /// The header or the pixel data cannot be decoded.
    pub const AVATAR_CORRUPT: &str = "avatar.corrupt";

    /// All codes, generic first, then by area.
    pub const ALL: &[&str] = &[
        REQUIRED,
        TOO_LONG,
        CONTROL_CHARS,
        ACCOUNT_TOO_SHORT,
        ACCOUNT_TOO_LONG,
        ACCOUNT_INVALID_CHARS,
        ACCOUNT_FULLWIDTH,
        ACCOUNT_NON_ASCII,
        ACCOUNT_MUST_START_WITH_LETTER,
        ACCOUNT_DOUBLE_DOT,
        ACCOUNT_BAD_ENDING,
        ACCOUNT_RESERVED,
        EMAIL_INVALID,
        EMAIL_FULLWIDTH,
        EMAIL_MISMATCH,
        EMAIL_SAME_AS_ACCOUNT,
        EMAIL_RESERVED_DOMAIN,
        PASSWORD_TOO_SHORT,
        PASSWORD_TOO_LONG,
        PASSWORD_CLASSES,
        PASSWORD_CONTAINS_ACCOUNT,
        PASSWORD_WEAK,
        PASSWORD_FULLWIDTH,
        PASSWORD_MISMATCH,
        NICKNAME_TOO_LONG,
        PHONE_INVALID,
        GENDER_INVALID,
        AVATAR_FORMAT,
        AVATAR_TOO_LARGE,
        AVATAR_DIMENSIONS,
        AVATAR_CORRUPT,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_round_trip_through_serde_and_from_str() {
        for f in Field::ALL {
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{}\"", f.as_str()));
            assert_eq!(serde_json::from_str::<Field>(&json).unwrap(), f);
            assert_eq!(f.as_str().parse::<Field>(), Ok(f));
        }
        assert_eq!("Account_Name".parse::<Field>(), Err(UnknownField));
    }

    #[test]
    fn codes_are_unique_lower_snake_dotted_words() {
        let mut seen = std::collections::HashSet::new();
        for c in codes::ALL {
            assert!(seen.insert(*c), "duplicate code {c}");
            assert!(c.split('.').count() <= 2, "{c}");
            assert!(
                c.split('.')
                    .all(|w| !w.is_empty()
                        && w.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_')),
                "{c}"
            );
        }
    }

    #[test]
    fn error_displays_and_serializes_field_and_code() {
        let e = RuleError::new(Field::BackupEmail, codes::EMAIL_MISMATCH);
        assert_eq!(e.to_string(), "backup_email: email.mismatch");
        assert_eq!(
            serde_json::to_value(e).unwrap(),
            serde_json::json!({"field": "backup_email", "code": "email.mismatch"})
        );
    }
}
