//! The whole registration form: [`RegistrationInput`] (the body of
//! `POST registrations`, plain strings), [`validate_registration`] (every
//! field at once, so the UI can show each error under its field) and
//! [`validate_field`] (one field, for live checks while typing).
//!
//! Identity `staff` (教師、職員、學生) needs `account_name`; identity `other`
//! (家長、社會人士) needs `email`, `email_confirm` and `name`. Fields of the
//! other identity are ignored. The county ID/access token and the avatar are
//! not part of this check: the server verifies the token, and
//! [`crate::rules::Avatar::process`] checks an avatar when one is given.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize};

use super::email;
use super::password::{self, PasswordContext};
use super::text::clean_required;
use super::{
    AccountName, EmailAddress, Field, Gender, Nickname, Password, PasswordPolicy, PersonName,
    Phone, RuleError,
};

/// 選擇註冊身份.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Identity {
    /// 教師、職員、學生: has a county Open ID; the account is
    /// `name@mail.edu.tw`, active at once.
    #[default]
    Staff,
    /// 其他 (家長、社會人士): their own e-mail is the account, activated by
    /// an e-mail link.
    Other,
}

/// The registration form as typed. Deserializes the body of
/// `POST registrations`; unknown members (`id_token`, `access_token`,
/// `avatar`) are ignored, absent or `null` strings are empty. `Debug`
/// redacts both passwords; it is deliberately not `Serialize`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RegistrationInput {
    pub identity: Identity,
    #[serde(default, deserialize_with = "text")]
    pub terms_version: String,
    #[serde(default, deserialize_with = "text")]
    pub county: String,
    #[serde(default, deserialize_with = "text")]
    pub account_name: String,
    #[serde(default, deserialize_with = "text")]
    pub email: String,
    #[serde(default, deserialize_with = "text")]
    pub email_confirm: String,
    #[serde(default, deserialize_with = "text")]
    pub name: String,
    #[serde(default, deserialize_with = "text")]
    pub backup_email: String,
    #[serde(default, deserialize_with = "text")]
    pub backup_email_confirm: String,
    #[serde(default, deserialize_with = "secret")]
    pub password: SecretString,
    #[serde(default, deserialize_with = "secret")]
    pub password_confirm: SecretString,
    #[serde(default, deserialize_with = "text")]
    pub nickname: String,
    #[serde(default, deserialize_with = "text")]
    pub phone: String,
    #[serde(default, deserialize_with = "text")]
    pub gender: String,
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    Ok(SecretString::from(
        Option::<String>::deserialize(d)?.unwrap_or_default(),
    ))
}

/// A registration that passed every rule, normalized for storage: the
/// account address lower-cased (`name@mail.edu.tw` for staff, the member's
/// own e-mail for 其他), phone in E.164. `Serialize` leaves the password out
/// (store [`ValidRegistration::password`]'s hash, never the password);
/// `Debug` redacts it.
#[derive(Debug, Clone, Serialize)]
pub struct ValidRegistration {
    identity: Identity,
    account: EmailAddress,
    account_name: Option<AccountName>,
    name: Option<PersonName>,
    backup_email: EmailAddress,
    #[serde(skip)]
    password: Password,
    nickname: Nickname,
    phone: Option<Phone>,
    gender: Option<Gender>,
    terms_version: String,
    county: Option<String>,
}

impl ValidRegistration {
    pub fn identity(&self) -> Identity {
        self.identity
    }

    /// The account address, which is also the sign-in name.
    pub fn account(&self) -> &EmailAddress {
        &self.account
    }

    /// Staff: the chosen local part of `account`.
    pub fn account_name(&self) -> Option<&AccountName> {
        self.account_name.as_ref()
    }

    /// 其他: the typed name (staff names come from the county token).
    pub fn name(&self) -> Option<&PersonName> {
        self.name.as_ref()
    }

    pub fn backup_email(&self) -> &EmailAddress {
        &self.backup_email
    }

    pub fn password(&self) -> &Password {
        &self.password
    }

    pub fn nickname(&self) -> &Nickname {
        &self.nickname
    }

    pub fn phone(&self) -> Option<&Phone> {
        self.phone.as_ref()
    }

    pub fn gender(&self) -> Option<Gender> {
        self.gender
    }

    /// The terms version the user agreed to (trimmed, non-empty); the server
    /// compares it with the current one (`terms.outdated`).
    pub fn terms_version(&self) -> &str {
        &self.terms_version
    }

    /// The county code as sent (trimmed), if any; the server checks it
    /// against its directory and the verified token.
    pub fn county(&self) -> Option<&str> {
        self.county.as_deref()
    }
}

/// Checks the whole form and returns every field's first error, in form
/// order ([`Field::ALL`]), or the normalized registration.
pub fn validate_registration(
    input: &RegistrationInput,
    policy: &PasswordPolicy,
) -> Result<ValidRegistration, Vec<RuleError>> {
    let mut errors = Vec::new();

    let account = match input.identity {
        Identity::Staff => keep(
            &mut errors,
            AccountName::parse(&input.account_name).map(|n| (n.address(), Some(n), None)),
        ),
        Identity::Other => {
            let email = keep(
                &mut errors,
                EmailAddress::parse_member_account(&input.email),
            );
            let confirmed = keep(&mut errors, confirm_email(input));
            let name = keep(&mut errors, PersonName::parse(&input.name));
            match (email, confirmed, name) {
                (Some(email), Some(()), Some(name)) => Some((email, None, Some(name))),
                _ => None,
            }
        }
    };
    let backup_email = keep(&mut errors, check_backup(input));
    let backup_confirmed = keep(
        &mut errors,
        email::check_confirmation(
            Field::BackupEmailConfirm,
            &input.backup_email,
            &input.backup_email_confirm,
        ),
    );
    let password = keep(&mut errors, check_password(input, policy));
    let password_confirmed = keep(
        &mut errors,
        password::check_confirmation(
            input.password.expose_secret(),
            input.password_confirm.expose_secret(),
        ),
    );
    let nickname = keep(&mut errors, Nickname::parse(&input.nickname));
    let phone = keep(&mut errors, Phone::parse(&input.phone));
    let gender = keep(&mut errors, Gender::parse(&input.gender));
    let terms_version = keep(
        &mut errors,
        clean_required(Field::Terms, &input.terms_version).map(str::to_string),
    );

    match (
        account,
        backup_email,
        backup_confirmed,
        password,
        password_confirmed,
        nickname,
        phone,
        gender,
        terms_version,
    ) {
        (
            Some((account, account_name, name)),
            Some(backup_email),
            Some(()),
            Some(password),
            Some(()),
            Some(nickname),
            Some(phone),
            Some(gender),
            Some(terms_version),
        ) if errors.is_empty() => Ok(ValidRegistration {
            identity: input.identity,
            account,
            account_name,
            name,
            backup_email,
            password,
            nickname,
            phone,
            gender,
            terms_version,
            county: Some(input.county.trim())
                .filter(|c| !c.is_empty())
                .map(str::to_string),
        }),
        _ => {
            errors.sort_by_key(|e| e.field);
            Err(errors)
        }
    }
}

/// Checks one field as the whole-form check would (confirmations compare
/// with their pair; the backup e-mail with the account; the password with
/// the account name and nickname). Fields of the other identity, and
/// `avatar` (see [`crate::rules::Avatar::process`]), are always `Ok`.
pub fn validate_field(
    field: Field,
    input: &RegistrationInput,
    policy: &PasswordPolicy,
) -> Result<(), RuleError> {
    let staff = input.identity == Identity::Staff;
    match field {
        Field::AccountName if staff => AccountName::parse(&input.account_name).map(drop),
        Field::Email if !staff => EmailAddress::parse_member_account(&input.email).map(drop),
        Field::EmailConfirm if !staff => confirm_email(input),
        Field::Name if !staff => PersonName::parse(&input.name).map(drop),
        Field::AccountName | Field::Email | Field::EmailConfirm | Field::Name => Ok(()),
        Field::BackupEmail => check_backup(input).map(drop),
        Field::BackupEmailConfirm => email::check_confirmation(
            Field::BackupEmailConfirm,
            &input.backup_email,
            &input.backup_email_confirm,
        ),
        Field::Password => check_password(input, policy).map(drop),
        Field::PasswordConfirm => password::check_confirmation(
            input.password.expose_secret(),
            input.password_confirm.expose_secret(),
        ),
        Field::Nickname => Nickname::parse(&input.nickname).map(drop),
        Field::Phone => Phone::parse(&input.phone).map(drop),
        Field::Gender => Gender::parse(&input.gender).map(drop),
        Field::Avatar => Ok(()),
        Field::Terms => clean_required(Field::Terms, &input.terms_version).map(drop),
    }
}

/// The value, or `None` with its error recorded.
fn keep<T>(errors: &mut Vec<RuleError>, result: Result<T, RuleError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

fn confirm_email(input: &RegistrationInput) -> Result<(), RuleError> {
    email::check_confirmation(Field::EmailConfirm, &input.email, &input.email_confirm)
}

/// The account address if the account field is valid.
fn account_address(input: &RegistrationInput) -> Option<EmailAddress> {
    match input.identity {
        Identity::Staff => AccountName::parse(&input.account_name)
            .ok()
            .map(|n| n.address()),
        Identity::Other => EmailAddress::parse_member_account(&input.email).ok(),
    }
}

fn check_backup(input: &RegistrationInput) -> Result<EmailAddress, RuleError> {
    EmailAddress::parse_backup(&input.backup_email, account_address(input).as_ref())
}

/// The account name as typed (staff) or the e-mail's local part (其他),
/// for `password.contains_account`, without requiring it to be valid yet.
fn account_hint(input: &RegistrationInput) -> &str {
    let raw = match input.identity {
        Identity::Staff => input.account_name.trim(),
        Identity::Other => input.email.trim(),
    };
    raw.split('@').next().unwrap_or(raw)
}

fn check_password(
    input: &RegistrationInput,
    policy: &PasswordPolicy,
) -> Result<Password, RuleError> {
    let mut user_inputs = vec![input.nickname.as_str(), input.backup_email.as_str()];
    match input.identity {
        Identity::Staff => user_inputs.push(input.account_name.as_str()),
        Identity::Other => user_inputs.extend([input.name.as_str(), input.email.as_str()]),
    }
    let context = PasswordContext {
        account: account_hint(input),
        user_inputs: &user_inputs,
    };
    Password::parse(input.password.expose_secret(), &context, policy)
}

#[cfg(test)]
mod tests {
    use super::super::codes;
    use super::*;

    const PW: &str = "Kite-Lamp-93-Orbit";

    fn staff() -> RegistrationInput {
        serde_json::from_value(serde_json::json!({
            "identity": "staff",
            "terms_version": "2026-11-01",
            "county": "ntpc",
            "id_token": "eyJhbGciOiJSUzI1NiJ9.secret-token.sig",
            "account_name": " NtpcTeacher ",
            "backup_email": "Wang.XM@Gmail.com",
            "backup_email_confirm": "wang.xm@gmail.com",
            "password": PW,
            "password_confirm": PW,
            "nickname": " 小明老師 ",
            "phone": "02-2345-6789#123",
            "gender": "male",
            "avatar": null
        }))
        .unwrap()
    }

    fn other() -> RegistrationInput {
        serde_json::from_value(serde_json::json!({
            "identity": "other",
            "terms_version": "2026-11-01",
            "email": "Parent.Wang@Example.com",
            "email_confirm": "parent.wang@example.com",
            "name": "王大明",
            "backup_email": "wang.backup@example.org",
            "backup_email_confirm": "wang.backup@example.org",
            "password": PW,
            "password_confirm": PW,
            "nickname": "大明",
            "phone": null,
        }))
        .unwrap()
    }

    fn errors(input: &RegistrationInput) -> Vec<(Field, &'static str)> {
        validate_registration(input, &PasswordPolicy::default())
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    #[test]
    fn valid_staff_registration_is_normalized() {
        let v = validate_registration(&staff(), &PasswordPolicy::default()).unwrap();
        assert_eq!(v.identity(), Identity::Staff);
        assert_eq!(v.account().as_str(), "ntpcteacher@mail.edu.tw");
        assert_eq!(v.account_name().unwrap().as_str(), "ntpcteacher");
        assert_eq!(v.backup_email().as_str(), "wang.xm@gmail.com");
        assert_eq!(v.password().expose(), PW);
        assert_eq!(v.phone().unwrap().e164(), "+886223456789");
        assert_eq!(v.county(), Some("ntpc"));
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "identity": "staff",
                "account": "ntpcteacher@mail.edu.tw",
                "account_name": "ntpcteacher",
                "name": null,
                "backup_email": "wang.xm@gmail.com",
                "nickname": "小明老師",
                "phone": {"e164": "+886223456789", "extension": "123"},
                "gender": "male",
                "terms_version": "2026-11-01",
                "county": "ntpc"
            })
        );
        for shown in [json.to_string(), format!("{v:?}"), format!("{:?}", staff())] {
            assert!(!shown.contains("Kite"), "{shown}");
            assert!(!shown.contains("secret-token"), "{shown}");
        }
    }

    #[test]
    fn valid_other_registration_uses_the_email_as_account() {
        let v = validate_registration(&other(), &PasswordPolicy::default()).unwrap();
        assert_eq!(v.identity(), Identity::Other);
        assert_eq!(v.account().as_str(), "parent.wang@example.com");
        assert_eq!(v.account_name(), None);
        assert_eq!(v.name().unwrap().as_str(), "王大明");
        assert_eq!((v.phone(), v.gender(), v.county()), (None, None, None));
    }

    #[test]
    fn empty_form_reports_every_required_field_in_form_order() {
        let staff_empty = RegistrationInput::default();
        assert_eq!(
            errors(&staff_empty),
            [
                (Field::AccountName, codes::REQUIRED),
                (Field::BackupEmail, codes::REQUIRED),
                (Field::BackupEmailConfirm, codes::REQUIRED),
                (Field::Password, codes::REQUIRED),
                (Field::PasswordConfirm, codes::REQUIRED),
                (Field::Nickname, codes::REQUIRED),
                (Field::Terms, codes::REQUIRED),
            ]
        );
        let other_empty = RegistrationInput {
            identity: Identity::Other,
            ..RegistrationInput::default()
        };
        let got = errors(&other_empty);
        assert_eq!(
            &got[..4],
            [
                (Field::Email, codes::REQUIRED),
                (Field::EmailConfirm, codes::REQUIRED),
                (Field::Name, codes::REQUIRED),
                (Field::BackupEmail, codes::REQUIRED),
            ]
        );
        assert!(!got.iter().any(|(f, _)| *f == Field::AccountName));
    }

    #[test]
    fn all_errors_at_once() {
        let mut input = staff();
        input.account_name = "ｎｔｐｃｔｅｓｔ".into();
        input.backup_email = "ntpcteacher@mail".into();
        input.backup_email_confirm = "someone@else.tw".into();
        input.password = "short".into();
        input.password_confirm = "shorter".into();
        input.nickname = "x".repeat(21);
        input.phone = "12345".into();
        input.gender = "unknown".into();
        assert_eq!(
            errors(&input),
            [
                (Field::AccountName, codes::ACCOUNT_FULLWIDTH),
                (Field::BackupEmail, codes::EMAIL_INVALID),
                (Field::BackupEmailConfirm, codes::EMAIL_MISMATCH),
                (Field::Password, codes::PASSWORD_TOO_SHORT),
                (Field::PasswordConfirm, codes::PASSWORD_MISMATCH),
                (Field::Nickname, codes::NICKNAME_TOO_LONG),
                (Field::Phone, codes::PHONE_INVALID),
                (Field::Gender, codes::GENDER_INVALID),
            ]
        );
    }

    #[test]
    fn cross_field_rules() {
        // Backup equal to the staff account address.
        let mut input = staff();
        input.backup_email = "ntpcteacher@MAIL.edu.tw".into();
        input.backup_email_confirm = input.backup_email.clone();
        assert_eq!(
            errors(&input),
            [(Field::BackupEmail, codes::EMAIL_SAME_AS_ACCOUNT)]
        );
        // Backup equal to the member's own address.
        let mut input = other();
        input.backup_email = "parent.wang@example.com".into();
        input.backup_email_confirm = input.backup_email.clone();
        assert_eq!(
            errors(&input),
            [(Field::BackupEmail, codes::EMAIL_SAME_AS_ACCOUNT)]
        );
        // Password containing the account name / e-mail local part.
        let mut input = staff();
        input.password = "Ntpcteacher-93!x".into();
        input.password_confirm = input.password.clone();
        assert_eq!(
            errors(&input),
            [(Field::Password, codes::PASSWORD_CONTAINS_ACCOUNT)]
        );
        let mut input = other();
        input.password = "Parent.Wang-2026#".into();
        input.password_confirm = input.password.clone();
        assert_eq!(
            errors(&input),
            [(Field::Password, codes::PASSWORD_CONTAINS_ACCOUNT)]
        );
        // A member cannot claim a staff address.
        let mut input = other();
        input.email = "ntpcbound@mail.edu.tw".into();
        input.email_confirm = input.email.clone();
        assert_eq!(
            errors(&input),
            [(Field::Email, codes::EMAIL_RESERVED_DOMAIN)]
        );
        // The other identity's e-mail confirmation.
        let mut input = other();
        input.email_confirm = "parent.wang@example.co".into();
        assert_eq!(
            errors(&input),
            [(Field::EmailConfirm, codes::EMAIL_MISMATCH)]
        );
    }

    #[test]
    fn fields_of_the_other_identity_are_ignored() {
        let mut input = staff();
        input.email = "junk".into();
        input.name = "\u{0}".into();
        assert!(validate_registration(&input, &PasswordPolicy::default()).is_ok());
        let mut input = other();
        input.account_name = "ｊｕｎｋ".into();
        assert!(validate_registration(&input, &PasswordPolicy::default()).is_ok());
    }

    #[test]
    fn validate_field_agrees_with_the_whole_form() {
        let p = PasswordPolicy::default();
        let mut input = staff();
        for f in Field::ALL {
            assert_eq!(validate_field(f, &input, &p), Ok(()), "{f}");
        }
        input.password_confirm = "different".into();
        input.backup_email_confirm = "".into();
        input.terms_version = " ".into();
        input.email = "ignored for staff".into();
        let whole = validate_registration(&input, &p).unwrap_err();
        let live: Vec<RuleError> = Field::ALL
            .into_iter()
            .filter_map(|f| validate_field(f, &input, &p).err())
            .collect();
        assert_eq!(whole, live);
        assert_eq!(
            live,
            [
                RuleError::new(Field::BackupEmailConfirm, codes::REQUIRED),
                RuleError::new(Field::PasswordConfirm, codes::PASSWORD_MISMATCH),
                RuleError::new(Field::Terms, codes::REQUIRED),
            ]
        );
        // Live check of the backup against the account typed so far.
        input.backup_email = "NtpcTeacher@mail.edu.tw".into();
        assert_eq!(
            validate_field(Field::BackupEmail, &input, &p)
                .unwrap_err()
                .code,
            codes::EMAIL_SAME_AS_ACCOUNT
        );
    }

    #[test]
    fn deserializes_nulls_and_refuses_unknown_identity() {
        let input: RegistrationInput = serde_json::from_str(
            r#"{"identity":"other","email":null,"password":null,"phone":null}"#,
        )
        .unwrap();
        assert_eq!(input.identity, Identity::Other);
        assert!(input.email.is_empty() && input.password.expose_secret().is_empty());
        assert!(serde_json::from_str::<RegistrationInput>(r#"{"identity":"admin"}"#).is_err());
        assert!(serde_json::from_str::<RegistrationInput>(r#"{"email":"a@b.tw"}"#).is_err());
    }
}
