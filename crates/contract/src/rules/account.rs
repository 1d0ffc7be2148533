//! [`AccountName`]: the local part of a staff account `name@mail.edu.tw`.
//!
//! Rules (facts.md "Account rules", ours): 6–30 characters, lower-case ASCII
//! letters, digits, `.`, `_`, `-`; starts with a letter; no `..`; does not
//! end in `.` or `-`; reserved names refused. Input is trimmed, upper-case
//! ASCII is lower-cased, and a pasted `@mail.edu.tw` suffix is dropped (the
//! form shows the domain beside the field).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::text::{clean_required, is_fullwidth};
use super::{codes, EmailAddress, Field, RuleError};

/// The domain of every staff account.
pub const ACCOUNT_DOMAIN: &str = "mail.edu.tw";
pub const ACCOUNT_MIN_CHARS: usize = 6;
pub const ACCOUNT_MAX_CHARS: usize = 30;

/// Names nobody may register: mail-system roles, the service's own names and
/// words that would impersonate staff of the service. Only names of 6+
/// characters can reach this check (shorter ones are `account.too_short`);
/// the short ones are listed anyway so the list reads as the policy.
pub const RESERVED_NAMES: &[&str] = &[
    "abuse",
    "account",
    "accounts",
    "admin",
    "administrator",
    "daemon",
    "educloud",
    "help",
    "helpdesk",
    "hostmaster",
    "info",
    "mailer-daemon",
    "moe",
    "no-reply",
    "no_reply",
    "nobody",
    "noreply",
    "oidcservice",
    "openid",
    "password",
    "postmaster",
    "register",
    "registration",
    "root",
    "security",
    "service",
    "services",
    "support",
    "sysadmin",
    "system",
    "webmaster",
];

/// A valid, normalized (lower-case) account local part.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountName(String);

impl AccountName {
    /// Parses what the user typed in the 帳號 field.
    pub fn parse(input: &str) -> Result<AccountName, RuleError> {
        let err = |code| RuleError::new(Field::AccountName, code);
        let text = clean_required(Field::AccountName, input)?;
        let text = strip_domain(text);
        if text.is_empty() {
            return Err(err(codes::REQUIRED));
        }
        if text.chars().any(is_fullwidth) {
            return Err(err(codes::ACCOUNT_FULLWIDTH));
        }
        if !text.is_ascii() {
            return Err(err(codes::ACCOUNT_NON_ASCII));
        }
        let name = text.to_ascii_lowercase();
        if !name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        }) {
            return Err(err(codes::ACCOUNT_INVALID_CHARS));
        }
        if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(err(codes::ACCOUNT_MUST_START_WITH_LETTER));
        }
        if name.len() < ACCOUNT_MIN_CHARS {
            return Err(err(codes::ACCOUNT_TOO_SHORT));
        }
        if name.len() > ACCOUNT_MAX_CHARS {
            return Err(err(codes::ACCOUNT_TOO_LONG));
        }
        if name.contains("..") {
            return Err(err(codes::ACCOUNT_DOUBLE_DOT));
        }
        if name.ends_with(['.', '-']) {
            return Err(err(codes::ACCOUNT_BAD_ENDING));
        }
        if RESERVED_NAMES.contains(&name.as_str()) {
            return Err(err(codes::ACCOUNT_RESERVED));
        }
        Ok(AccountName(name))
    }

    /// The local part, e.g. `ntpcteacher`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The full account address, e.g. `ntpcteacher@mail.edu.tw`.
    pub fn address(&self) -> EmailAddress {
        EmailAddress::from_valid(format!("{}@{ACCOUNT_DOMAIN}", self.0))
    }
}

/// Drops a trailing `@mail.edu.tw` (any ASCII case) the user pasted.
fn strip_domain(text: &str) -> &str {
    let Some(split) = text.len().checked_sub(ACCOUNT_DOMAIN.len() + 1) else {
        return text;
    };
    match (text.get(..split), text.get(split..)) {
        (Some(local), Some(suffix))
            if suffix.starts_with('@') && suffix[1..].eq_ignore_ascii_case(ACCOUNT_DOMAIN) =>
        {
            local.trim_end()
        }
        _ => text,
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for AccountName {
    type Error = RuleError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let parsed = AccountName::parse(&value)?;
        Ok(parsed)
    }
}

impl From<AccountName> for String {
    fn from(value: AccountName) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(input: &str) -> &'static str {
        let e = AccountName::parse(input).unwrap_err();
        assert_eq!(e.field, Field::AccountName);
        e.code
    }

    #[test]
    fn accepts_and_normalizes() {
        for (input, want) in [
            ("ntpcteacher", "ntpcteacher"),
            ("  NtpcTeacher \n", "ntpcteacher"),
            ("wang.xm_2026-a", "wang.xm_2026-a"),
            ("abcdef", "abcdef"),
            (
                "a23456789012345678901234567890",
                "a23456789012345678901234567890",
            ),
            ("teacher01@mail.edu.tw", "teacher01"),
            ("Teacher01@MAIL.EDU.TW", "teacher01"),
            ("abcde_", "abcde_"),
        ] {
            let a = AccountName::parse(input).unwrap();
            assert_eq!(a.as_str(), want, "{input:?}");
            assert_eq!(a.address().as_str(), format!("{want}@mail.edu.tw"));
        }
    }

    #[test]
    fn every_code() {
        assert_eq!(code(""), codes::REQUIRED);
        assert_eq!(code(" \t \u{3000}"), codes::REQUIRED);
        assert_eq!(code("@mail.edu.tw"), codes::REQUIRED);
        assert_eq!(code(&"a".repeat(10 * 1024)), codes::TOO_LONG);
        assert_eq!(code("ntpc\u{0}test"), codes::CONTROL_CHARS);
        assert_eq!(code("ntpc\ttest"), codes::CONTROL_CHARS);
        assert_eq!(code("ｎｔｐｃｔｅｓｔ"), codes::ACCOUNT_FULLWIDTH);
        assert_eq!(code("ntpc＿test"), codes::ACCOUNT_FULLWIDTH);
        assert_eq!(code("ntpc\u{3000}test"), codes::ACCOUNT_FULLWIDTH);
        // Cyrillic с (U+0441) and а (U+0430): look-alikes.
        assert_eq!(code("ntp\u{0441}test"), codes::ACCOUNT_NON_ASCII);
        assert_eq!(code("\u{0430}bcdefg"), codes::ACCOUNT_NON_ASCII);
        assert_eq!(code("王小明老師"), codes::ACCOUNT_NON_ASCII);
        assert_eq!(code("ntpc test"), codes::ACCOUNT_INVALID_CHARS);
        assert_eq!(code("ntpc+test"), codes::ACCOUNT_INVALID_CHARS);
        assert_eq!(code("ntpc@gmail.com"), codes::ACCOUNT_INVALID_CHARS);
        assert_eq!(code("1ntpctest"), codes::ACCOUNT_MUST_START_WITH_LETTER);
        assert_eq!(code(".ntpctest"), codes::ACCOUNT_MUST_START_WITH_LETTER);
        assert_eq!(code("_ntpctest"), codes::ACCOUNT_MUST_START_WITH_LETTER);
        assert_eq!(code("abcde"), codes::ACCOUNT_TOO_SHORT);
        assert_eq!(
            code(&format!("a{}", "b".repeat(30))),
            codes::ACCOUNT_TOO_LONG
        );
        assert_eq!(code("wang..xm"), codes::ACCOUNT_DOUBLE_DOT);
        assert_eq!(code("wangxm."), codes::ACCOUNT_BAD_ENDING);
        assert_eq!(code("wangxm-"), codes::ACCOUNT_BAD_ENDING);
        assert_eq!(code("postmaster"), codes::ACCOUNT_RESERVED);
        assert_eq!(code("Administrator"), codes::ACCOUNT_RESERVED);
        assert_eq!(code("oidcservice@mail.edu.tw"), codes::ACCOUNT_RESERVED);
        assert_eq!(code("admin"), codes::ACCOUNT_TOO_SHORT);
    }

    #[test]
    fn serde_round_trip_refuses_invalid() {
        let a = AccountName::parse("ntpcteacher").unwrap();
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, "\"ntpcteacher\"");
        assert_eq!(serde_json::from_str::<AccountName>(&json).unwrap(), a);
        assert!(serde_json::from_str::<AccountName>("\"ab\"").is_err());
    }
}
