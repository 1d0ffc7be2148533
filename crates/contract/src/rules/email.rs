//! [`EmailAddress`]: a member's own address (the account of identity
//! 其他) and every backup address (備用信箱).
//!
//! Syntax is checked by the `email_address` crate (RFC 5321/5322 dot-atom
//! local part, domain labels) with display names and IP literals refused and
//! a dot required in the domain; on top of that, ASCII only (a 全形 `＠` is
//! the usual IME mistake and gets its own code), no quoted local parts, at
//! most 254 characters. Stored lower-cased: the service treats addresses
//! case-insensitively.

use std::fmt;

use email_address::Options;
use serde::{Deserialize, Serialize};

use super::text::{clean_required, is_fullwidth};
use super::{codes, Field, RuleError, ACCOUNT_DOMAIN};

/// RFC 5321's path limit minus the angle brackets.
pub const EMAIL_MAX_CHARS: usize = 254;

/// A syntactically valid, normalized (trimmed, lower-case) e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses the member's own address (field `email`).
    pub fn parse(input: &str) -> Result<EmailAddress, RuleError> {
        parse_in(Field::Email, input)
    }

    /// Parses the address a member of identity 其他 registers with (field
    /// `email`): valid, and not in `mail.edu.tw` — those addresses are the
    /// staff accounts the service creates, so nobody may claim one as a
    /// general member (`email.reserved_domain`).
    pub fn parse_member_account(input: &str) -> Result<EmailAddress, RuleError> {
        let email = parse_in(Field::Email, input)?;
        if email.domain() == ACCOUNT_DOMAIN {
            return Err(RuleError::new(Field::Email, codes::EMAIL_RESERVED_DOMAIN));
        }
        Ok(email)
    }

    /// Parses a backup address (field `backup_email`): valid, and not the
    /// account's own address (`name@mail.edu.tw` for staff, the member's
    /// e-mail for 其他) — a backup must reach the user when the account
    /// cannot.
    pub fn parse_backup(
        input: &str,
        account: Option<&EmailAddress>,
    ) -> Result<EmailAddress, RuleError> {
        let backup = parse_in(Field::BackupEmail, input)?;
        if account.is_some_and(|a| *a == backup) {
            return Err(RuleError::new(
                Field::BackupEmail,
                codes::EMAIL_SAME_AS_ACCOUNT,
            ));
        }
        Ok(backup)
    }

    /// An address known valid by construction (an account name + domain).
    pub(crate) fn from_valid(address: String) -> EmailAddress {
        EmailAddress(address)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the last `@`.
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or(&self.0, |(l, _)| l)
    }

    /// The part after the last `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

/// Parses an address for `field` (`email` or `backup_email`).
pub(crate) fn parse_in(field: Field, input: &str) -> Result<EmailAddress, RuleError> {
    let err = |code| RuleError::new(field, code);
    let text = clean_required(field, input)?;
    if text.chars().any(is_fullwidth) {
        return Err(err(codes::EMAIL_FULLWIDTH));
    }
    if !text.is_ascii() || text.len() > EMAIL_MAX_CHARS || text.starts_with('"') {
        return Err(err(codes::EMAIL_INVALID));
    }
    let options = Options::default()
        .without_display_text()
        .without_domain_literal()
        .with_required_tld();
    email_address::EmailAddress::parse_with_options(text, options)
        .map_err(|_| err(codes::EMAIL_INVALID))?;
    Ok(EmailAddress(text.to_ascii_lowercase()))
}

/// `confirm` repeats `original` (compared trimmed and case-insensitively,
/// as stored). An empty confirmation is `required`.
pub(crate) fn check_confirmation(
    field: Field,
    original: &str,
    confirm: &str,
) -> Result<(), RuleError> {
    let confirm = clean_required(field, confirm)?;
    if !confirm.eq_ignore_ascii_case(original.trim()) {
        return Err(RuleError::new(field, codes::EMAIL_MISMATCH));
    }
    Ok(())
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = RuleError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        EmailAddress::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(value: EmailAddress) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(input: &str) -> &'static str {
        let e = EmailAddress::parse(input).unwrap_err();
        assert_eq!(e.field, Field::Email);
        e.code
    }

    #[test]
    fn accepts_and_normalizes() {
        for (input, want) in [
            ("parent.demo@example.com", "parent.demo@example.com"),
            ("  Wang.XM+edu@Gmail.COM\n", "wang.xm+edu@gmail.com"),
            ("a_b-c@school.ntpc.edu.tw", "a_b-c@school.ntpc.edu.tw"),
            ("x@y.tw", "x@y.tw"),
        ] {
            let e = EmailAddress::parse(input).unwrap();
            assert_eq!(e.as_str(), want);
        }
        let e = EmailAddress::parse("wang@mail.edu.tw").unwrap();
        assert_eq!((e.local_part(), e.domain()), ("wang", "mail.edu.tw"));
    }

    #[test]
    fn every_code() {
        assert_eq!(code(""), codes::REQUIRED);
        assert_eq!(code("   "), codes::REQUIRED);
        assert_eq!(code(&"a".repeat(10 * 1024)), codes::TOO_LONG);
        assert_eq!(code("a\u{0}b@example.com"), codes::CONTROL_CHARS);
        assert_eq!(code("wang＠gmail.com"), codes::EMAIL_FULLWIDTH);
        assert_eq!(code("ｗａｎｇ@gmail.com"), codes::EMAIL_FULLWIDTH);
        for bad in [
            "wang",
            "wang@",
            "@gmail.com",
            "wang@localhost",
            "wang@@gmail.com",
            "wang@gmail..com",
            "wang.@gmail.com",
            "wang@[127.0.0.1]",
            "Wang <wang@gmail.com>",
            "\"wang xm\"@gmail.com",
            "wang xm@gmail.com",
            "wang@gmail.com.",
            "w\u{0430}ng@gmail.com",
            "王@例子.台灣",
            "wang@-gmail.com",
        ] {
            assert_eq!(code(bad), codes::EMAIL_INVALID, "{bad:?}");
        }
        let long = format!("{}@{}.com", "a".repeat(64), "b".repeat(190));
        assert!(long.len() > EMAIL_MAX_CHARS);
        assert_eq!(code(&long), codes::EMAIL_INVALID);
    }

    #[test]
    fn backup_must_not_be_the_account() {
        let account = EmailAddress::parse("ntpcteacher@mail.edu.tw").unwrap();
        let e = EmailAddress::parse_backup("NtpcTeacher@Mail.edu.tw", Some(&account)).unwrap_err();
        assert_eq!(
            e,
            RuleError::new(Field::BackupEmail, codes::EMAIL_SAME_AS_ACCOUNT)
        );
        assert!(EmailAddress::parse_backup("other@mail.edu.tw", Some(&account)).is_ok());
        assert!(EmailAddress::parse_backup("ntpcteacher@gmail.com", Some(&account)).is_ok());
        assert_eq!(
            EmailAddress::parse_backup("nope", None).unwrap_err(),
            RuleError::new(Field::BackupEmail, codes::EMAIL_INVALID)
        );
    }

    #[test]
    fn members_cannot_take_staff_addresses() {
        assert_eq!(
            EmailAddress::parse_member_account(" NtpcBound@Mail.Edu.TW ").unwrap_err(),
            RuleError::new(Field::Email, codes::EMAIL_RESERVED_DOMAIN)
        );
        assert!(EmailAddress::parse("ntpcbound@mail.edu.tw").is_ok());
        assert!(EmailAddress::parse_member_account("wang@school.ntpc.edu.tw").is_ok());
        assert_eq!(
            EmailAddress::parse_member_account("nope").unwrap_err().code,
            codes::EMAIL_INVALID
        );
    }

    #[test]
    fn confirmation() {
        assert!(check_confirmation(Field::EmailConfirm, "a@b.tw", " A@B.tw ").is_ok());
        assert_eq!(
            check_confirmation(Field::EmailConfirm, "a@b.tw", "a@c.tw").unwrap_err(),
            RuleError::new(Field::EmailConfirm, codes::EMAIL_MISMATCH)
        );
        assert_eq!(
            check_confirmation(Field::BackupEmailConfirm, "a@b.tw", "").unwrap_err(),
            RuleError::new(Field::BackupEmailConfirm, codes::REQUIRED)
        );
    }
}
