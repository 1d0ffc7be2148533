//! [`PasswordPolicy`] (served by the service configuration, so the server
//! stays authoritative) and [`Password`], a checked password that redacts
//! itself.
//!
//! Rules (facts.md, ours): `min_length`–`max_length` characters, at least
//! `min_classes` of upper/lower/digit/symbol, does not contain the account
//! name, zxcvbn score ≥ `min_score` (with the account name, nickname and
//! other typed values as user inputs, so `ntpcteacher2026!` is weak for
//! `ntpcteacher`), and the confirmation must match exactly. Passwords are
//! never trimmed or normalized: what the user typed is the password.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::text::{is_forbidden_control, is_fullwidth, MAX_INPUT_BYTES};
use super::{codes, Field, RuleError};

/// The password rules' parameters, as served in
/// `.well-known/educloud-configuration` → `password_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct PasswordPolicy {
    /// Minimum length in characters (Unicode scalar values).
    pub min_length: u32,
    /// Maximum length in characters.
    pub max_length: u32,
    /// How many of the four classes (upper, lower, digit, symbol) must
    /// appear; values above 4 mean 4.
    pub min_classes: u8,
    /// Minimum zxcvbn score, 0–4.
    pub min_score: u8,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 8,
            max_length: 64,
            min_classes: 3,
            min_score: 3,
        }
    }
}

/// What else the user typed, so the password may not reuse it.
#[derive(Debug, Clone, Copy, Default)]
pub struct PasswordContext<'a> {
    /// The account name: the staff local part, or the local part of a
    /// member's own e-mail. Refused inside the password (case-insensitive)
    /// when it has at least 4 characters.
    pub account: &'a str,
    /// Other values (nickname, name, e-mail addresses) given to zxcvbn as
    /// user inputs.
    pub user_inputs: &'a [&'a str],
}

/// A password that passed the policy. `Debug` prints `Password([redacted])`;
/// it is not `Serialize`; the text is wiped from memory on drop.
#[derive(Clone)]
pub struct Password(SecretString);

/// Account hints shorter than this are not searched for in the password.
const MIN_ACCOUNT_HINT_CHARS: usize = 4;

impl Password {
    /// Checks the password field alone (live validation while typing).
    pub fn parse(
        password: &str,
        context: &PasswordContext<'_>,
        policy: &PasswordPolicy,
    ) -> Result<Password, RuleError> {
        let err = |code| RuleError::new(Field::Password, code);
        if password.len() > MAX_INPUT_BYTES {
            return Err(err(codes::TOO_LONG));
        }
        if password.trim().is_empty() {
            return Err(err(codes::REQUIRED));
        }
        if password.chars().any(is_forbidden_control) {
            return Err(err(codes::CONTROL_CHARS));
        }
        if password.chars().any(is_fullwidth) {
            return Err(err(codes::PASSWORD_FULLWIDTH));
        }
        let length = password.chars().count();
        if length < policy.min_length as usize {
            return Err(err(codes::PASSWORD_TOO_SHORT));
        }
        if length > policy.max_length as usize {
            return Err(err(codes::PASSWORD_TOO_LONG));
        }
        if classes(password) < policy.min_classes.min(4) {
            return Err(err(codes::PASSWORD_CLASSES));
        }
        let account = context.account.trim().to_lowercase();
        if account.chars().count() >= MIN_ACCOUNT_HINT_CHARS
            && password.to_lowercase().contains(&account)
        {
            return Err(err(codes::PASSWORD_CONTAINS_ACCOUNT));
        }
        if strength(password, context) < policy.min_score {
            return Err(err(codes::PASSWORD_WEAK));
        }
        Ok(Password(SecretString::from(password)))
    }

    /// Checks the password and its confirmation (the whole-form check). The
    /// password's own error comes first; then `password_confirm` must be
    /// given and equal.
    pub fn check(
        password: &str,
        confirm: &str,
        context: &PasswordContext<'_>,
        policy: &PasswordPolicy,
    ) -> Result<Password, RuleError> {
        let checked = Password::parse(password, context, policy)?;
        check_confirmation(password, confirm)?;
        Ok(checked)
    }

    /// The password itself, for hashing (server) or sending (client).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// The zxcvbn strength score (0–4) of `password` given what else the user
/// typed (account, nickname, e-mails), for the strength meter. Inputs over
/// [`MAX_INPUT_BYTES`] score 0 without being examined.
pub fn strength(password: &str, context: &PasswordContext<'_>) -> u8 {
    if password.is_empty() || password.len() > MAX_INPUT_BYTES {
        return 0;
    }
    let inputs: Vec<&str> = std::iter::once(context.account)
        .chain(context.user_inputs.iter().copied())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    u8::from(zxcvbn::zxcvbn(password, &inputs).score())
}

/// `confirm` equals `password` exactly (field `password_confirm`).
pub(crate) fn check_confirmation(password: &str, confirm: &str) -> Result<(), RuleError> {
    let err = |code| RuleError::new(Field::PasswordConfirm, code);
    if confirm.len() > MAX_INPUT_BYTES {
        return Err(err(codes::TOO_LONG));
    }
    if confirm.is_empty() {
        return Err(err(codes::REQUIRED));
    }
    if confirm != password {
        return Err(err(codes::PASSWORD_MISMATCH));
    }
    Ok(())
}

/// How many of upper-case ASCII, lower-case ASCII, digits and anything else
/// (symbols, spaces, other scripts) appear.
fn classes(password: &str) -> u8 {
    let (mut upper, mut lower, mut digit, mut symbol) = (false, false, false, false);
    for c in password.chars() {
        match c {
            'A'..='Z' => upper = true,
            'a'..='z' => lower = true,
            '0'..='9' => digit = true,
            _ => symbol = true,
        }
    }
    [upper, lower, digit, symbol]
        .into_iter()
        .map(u8::from)
        .sum()
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "Kite-Lamp-93-Orbit";

    fn code(pw: &str) -> &'static str {
        code_with(pw, "ntpcteacher", &PasswordPolicy::default())
    }

    fn code_with(pw: &str, account: &str, policy: &PasswordPolicy) -> &'static str {
        let ctx = PasswordContext {
            account,
            user_inputs: &["小明", "tsaiwenhsin"],
        };
        let e = Password::parse(pw, &ctx, policy).unwrap_err();
        assert_eq!(e.field, Field::Password);
        e.code
    }

    #[test]
    fn strength_grows_with_unpredictability_and_knows_the_user() {
        let ctx = PasswordContext {
            account: "ntpcteacher",
            user_inputs: &["小明"],
        };
        assert_eq!(strength("", &ctx), 0);
        assert!(strength("password", &ctx) <= 1);
        assert!(strength(GOOD, &ctx) >= 3);
        assert!(strength("ntpcteacher2026", &ctx) < strength(GOOD, &ctx));
        assert_eq!(strength(&"x".repeat(5000), &ctx), 0);
    }

    fn ok(pw: &str) -> Password {
        let ctx = PasswordContext {
            account: "ntpcteacher",
            user_inputs: &[],
        };
        Password::check(pw, pw, &ctx, &PasswordPolicy::default()).unwrap()
    }

    #[test]
    fn policy_default_and_wire_shape() {
        let p = PasswordPolicy::default();
        assert_eq!(
            serde_json::to_value(p).unwrap(),
            serde_json::json!({"min_length":8,"max_length":64,"min_classes":3,"min_score":3})
        );
        let q: PasswordPolicy = serde_json::from_str(r#"{"min_length":12}"#).unwrap();
        assert_eq!((q.min_length, q.max_length, q.min_score), (12, 64, 3));
    }

    #[test]
    fn accepts_strong_passwords_verbatim() {
        assert_eq!(ok(GOOD).expose(), GOOD);
        assert_eq!(ok(" Tr0ub4dor&3 ").expose(), " Tr0ub4dor&3 ");
        assert_eq!(ok("Demo-pass-2026!").expose(), "Demo-pass-2026!");
        assert_eq!(ok("月光-River-2026").expose(), "月光-River-2026");
    }

    #[test]
    fn every_code() {
        assert_eq!(code(""), codes::REQUIRED);
        assert_eq!(code("        "), codes::REQUIRED);
        assert_eq!(code(&"Ab1!".repeat(2560)), codes::TOO_LONG);
        assert_eq!(code("Kite-Lamp\n93-Orbit"), codes::CONTROL_CHARS);
        assert_eq!(code("Kite-Lamp-93-Orbit\u{0}"), codes::CONTROL_CHARS);
        assert_eq!(code("Ｋｉｔｅ-Lamp-93-Orbit"), codes::PASSWORD_FULLWIDTH);
        assert_eq!(code("Kite\u{3000}Lamp-93"), codes::PASSWORD_FULLWIDTH);
        assert_eq!(code("Ab1!xyz"), codes::PASSWORD_TOO_SHORT);
        assert_eq!(
            code(&format!("Ab1!{}", "x".repeat(61))),
            codes::PASSWORD_TOO_LONG
        );
        assert_eq!(code("kitelampnine"), codes::PASSWORD_CLASSES);
        assert_eq!(code("kite-lamp-orbit"), codes::PASSWORD_CLASSES);
        assert_eq!(code("KITE9LAMP3ORBIT"), codes::PASSWORD_CLASSES);
        assert_eq!(code("xNtpcTeacher-93!"), codes::PASSWORD_CONTAINS_ACCOUNT);
        assert_eq!(code("P@ssw0rd2024"), codes::PASSWORD_WEAK);
        assert_eq!(code("Password1!"), codes::PASSWORD_WEAK);
        assert_eq!(code("Qwerty123!"), codes::PASSWORD_WEAK);
        // zxcvbn sees the user inputs: strong alone, weak with them.
        assert!(Password::parse(
            "Tsaiwenhsin-88",
            &PasswordContext::default(),
            &PasswordPolicy::default()
        )
        .is_ok());
        assert_eq!(code("Tsaiwenhsin-88"), codes::PASSWORD_WEAK);
    }

    #[test]
    fn short_account_hints_are_not_searched() {
        let ctx = PasswordContext {
            account: "kit",
            user_inputs: &[],
        };
        assert!(Password::parse(GOOD, &ctx, &PasswordPolicy::default()).is_ok());
        let ctx = PasswordContext {
            account: " LAMP ",
            user_inputs: &[],
        };
        assert_eq!(
            Password::parse(GOOD, &ctx, &PasswordPolicy::default())
                .unwrap_err()
                .code,
            codes::PASSWORD_CONTAINS_ACCOUNT
        );
    }

    #[test]
    fn policy_parameters_are_honoured() {
        let strict = PasswordPolicy {
            min_length: 20,
            ..PasswordPolicy::default()
        };
        assert_eq!(code_with(GOOD, "", &strict), codes::PASSWORD_TOO_SHORT);
        let all_four = PasswordPolicy {
            min_classes: 9,
            ..PasswordPolicy::default()
        };
        assert_eq!(
            code_with("KiteLamp93Orbit", "", &all_four),
            codes::PASSWORD_CLASSES
        );
        let lenient = PasswordPolicy {
            min_length: 4,
            max_length: 10,
            min_classes: 1,
            min_score: 0,
        };
        let ctx = PasswordContext::default();
        assert!(Password::parse("aaaa", &ctx, &lenient).is_ok());
        assert_eq!(code_with(GOOD, "", &lenient), codes::PASSWORD_TOO_LONG);
    }

    #[test]
    fn confirmation() {
        let ctx = PasswordContext::default();
        let p = PasswordPolicy::default();
        let e = Password::check(GOOD, "", &ctx, &p).unwrap_err();
        assert_eq!(e, RuleError::new(Field::PasswordConfirm, codes::REQUIRED));
        let e = Password::check(GOOD, &format!("{GOOD} "), &ctx, &p).unwrap_err();
        assert_eq!(
            e,
            RuleError::new(Field::PasswordConfirm, codes::PASSWORD_MISMATCH)
        );
        // The password's own error wins.
        let e = Password::check("short", "other", &ctx, &p).unwrap_err();
        assert_eq!(
            e,
            RuleError::new(Field::Password, codes::PASSWORD_TOO_SHORT)
        );
    }

    #[test]
    fn never_shown_by_debug_or_errors() {
        let p = ok(GOOD);
        let shown = format!("{p:?} {:?}", Some(&p));
        assert!(!shown.contains(GOOD) && shown.contains("[redacted]"));
        let e = Password::check(
            GOOD,
            "Kite-Lamp-93-Orbiq",
            &PasswordContext::default(),
            &PasswordPolicy::default(),
        )
        .unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("Kite") && !shown.contains("Orbi"));
    }
}
