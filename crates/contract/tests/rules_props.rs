//! Property tests of the registration rules: generated valid values pass
//! (and normalize idempotently), each class of invalid input fails with its
//! own code, nothing panics on arbitrary input, and the live one-field check
//! always agrees with the whole-form check.

use educloud_contract::rules::{
    codes, validate_field, validate_registration, AccountName, Avatar, EmailAddress, Field,
    Identity, Nickname, Password, PasswordContext, PasswordPolicy, Phone, RegistrationInput,
    RuleError, ACCOUNT_MAX_CHARS, MAX_INPUT_BYTES, NICKNAME_MAX_CHARS, RESERVED_NAMES,
};
use proptest::prelude::*;
use proptest::sample::select;

// ---- generators -----------------------------------------------------------

/// Valid account names: 6–30 of `a-z0-9._-`, a letter first, no `..`, not
/// ending in `.`/`-`, not reserved.
fn valid_account() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9._-]{4,28}[a-z0-9_]".prop_filter("no .. and not reserved", |s| {
        !s.contains("..") && !RESERVED_NAMES.contains(&s.as_str())
    })
}

fn valid_email() -> impl Strategy<Value = String> {
    (
        "[a-z0-9][a-z0-9._+-]{0,20}[a-z0-9]",
        "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?",
        prop::collection::vec("[a-z]{2,6}", 1..3),
    )
        .prop_filter("dot-atom local part", |(l, _, _)| !l.contains(".."))
        .prop_map(|(local, host, tlds)| format!("{local}@{host}.{}", tlds.join(".")))
}

/// Taiwan mobile numbers (09[0-8] + 7 digits) in the usual spellings, with
/// the E.164 form expected.
fn valid_mobile() -> impl Strategy<Value = (String, String)> {
    ("[0-8]", "[0-9]", "[0-9]{3}", "[0-9]{3}", 0..4usize).prop_map(|(a, b, c, d, style)| {
        let e164 = format!("+8869{a}{b}{c}{d}");
        let typed = match style {
            0 => format!("09{a}{b}-{c}-{d}"),
            1 => format!("09{a}{b}{c}{d}"),
            2 => format!("+886 9{a}{b} {c} {d}"),
            _ => format!("(09{a}{b}) {c}{d}"),
        };
        (typed, e164)
    })
}

/// Taipei landlines (02-[2-8]xxx-xxxx) with an optional extension.
fn valid_landline() -> impl Strategy<Value = (String, String, Option<String>)> {
    (
        "[2-8][0-9]{3}",
        "[0-9]{4}",
        proptest::option::of("[0-9]{1,6}"),
    )
        .prop_map(|(a, b, ext)| {
            let typed = match &ext {
                Some(e) => format!("02-{a}-{b}#{e}"),
                None => format!("(02){a}-{b}"),
            };
            (typed, format!("+8862{a}{b}"), ext)
        })
}

/// Nicknames: 1–20 printable characters of several scripts, no whitespace
/// at the ends.
fn valid_nickname() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        proptest::char::range('a', 'z'),
        proptest::char::range('A', 'Z'),
        proptest::char::range('0', '9'),
        proptest::char::range('\u{4E00}', '\u{9FFF}'),
        proptest::char::range('\u{3105}', '\u{3129}'),
        proptest::char::range('\u{1F600}', '\u{1F64F}'),
        Just('ｍ'),
    ];
    (
        ch.clone(),
        prop::collection::vec(prop_oneof![ch, Just(' '), Just('.')], 0..NICKNAME_MAX_CHARS),
    )
        .prop_map(|(first, rest)| {
            let mut s: String = std::iter::once(first).chain(rest).collect();
            while s.ends_with([' ', '.']) && s.chars().count() > 1 {
                s.pop();
            }
            s
        })
}

/// Control and invisible characters refused everywhere.
fn control_char() -> impl Strategy<Value = char> {
    prop_oneof![
        proptest::char::range('\u{0}', '\u{8}'),
        proptest::char::range('\u{E}', '\u{1F}'),
        Just('\u{7F}'),
        Just('\u{85}'),
        Just('\u{200B}'),
        Just('\u{202E}'),
        Just('\u{2066}'),
        Just('\u{FEFF}'),
        Just('\t'),
        Just('\n'),
    ]
}

/// Characters that look like ASCII letters but are not (Cyrillic, Greek,
/// Latin extensions), or are other non-ASCII letters.
fn lookalike() -> impl Strategy<Value = char> {
    select(vec![
        'а', 'е', 'о', 'р', 'с', 'х', 'у', 'і', 'ј', 'ѕ', 'ο', 'α', 'ν', 'ı', 'ɑ', 'é', 'ß', '王',
    ])
}

fn insert_at(s: &str, index: usize, c: char) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    let at = 1 + index % (chars.len() - 1); // strictly inside
    chars.insert(at, c);
    chars.into_iter().collect()
}

fn account_code(s: &str) -> &'static str {
    let e = AccountName::parse(s).unwrap_err();
    assert_eq!(e.field, Field::AccountName);
    e.code
}

// ---- account names --------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn valid_accounts_pass_and_normalize(name in valid_account(), pad in "[ \t\u{3000}]{0,3}") {
        let parsed = AccountName::parse(&name).unwrap();
        prop_assert_eq!(parsed.as_str(), name.as_str());
        let shouted = format!("{pad}{}{pad}", name.to_ascii_uppercase());
        prop_assert_eq!(AccountName::parse(&shouted).unwrap(), parsed.clone());
        let pasted = format!("{name}@mail.edu.tw");
        prop_assert_eq!(AccountName::parse(&pasted).unwrap(), parsed.clone());
        let address = parsed.address();
        prop_assert_eq!(address.as_str(), pasted.as_str());
        // The address is itself a valid e-mail.
        prop_assert_eq!(EmailAddress::parse(&pasted).unwrap(), parsed.address());
    }

    #[test]
    fn short_accounts(name in "[a-z][a-z0-9]{0,4}") {
        prop_assert_eq!(account_code(&name), codes::ACCOUNT_TOO_SHORT);
    }

    #[test]
    fn long_accounts(name in "[a-z][a-z0-9]{30,200}") {
        prop_assert!(name.len() > ACCOUNT_MAX_CHARS);
        prop_assert_eq!(account_code(&name), codes::ACCOUNT_TOO_LONG);
    }

    #[test]
    fn accounts_with_invalid_chars(
        name in valid_account(),
        at in any::<usize>(),
        bad in select(vec![' ', '@', '+', '!', '#', '$', '%', '&', '*', '/', '=', '?', '^', '`', '{', '|', '}', '~', ',', ':', ';', '<', '>', '(', ')', '[', ']', '"', '\'', '\\']),
    ) {
        prop_assert_eq!(account_code(&insert_at(&name, at, bad)), codes::ACCOUNT_INVALID_CHARS);
    }

    #[test]
    fn fullwidth_accounts(name in valid_account(), at in any::<usize>(), all in any::<bool>()) {
        let wide = |c: char| char::from_u32(c as u32 + 0xFEE0).unwrap();
        let input: String = if all {
            name.chars().map(wide).collect()
        } else {
            let i = at % name.len();
            name.chars().enumerate().map(|(j, c)| if i == j { wide(c) } else { c }).collect()
        };
        prop_assert_eq!(account_code(&input), codes::ACCOUNT_FULLWIDTH);
    }

    #[test]
    fn lookalike_accounts(name in valid_account(), at in any::<usize>(), c in lookalike()) {
        let i = at % name.len();
        let input: String = name.chars().enumerate().map(|(j, x)| if i == j { c } else { x }).collect();
        prop_assert_eq!(account_code(&input), codes::ACCOUNT_NON_ASCII);
    }

    #[test]
    fn accounts_not_starting_with_a_letter(first in "[0-9._-]", rest in "[a-z0-9]{5,20}") {
        prop_assert_eq!(account_code(&format!("{first}{rest}")), codes::ACCOUNT_MUST_START_WITH_LETTER);
    }

    #[test]
    fn accounts_with_double_dots(a in "[a-z][a-z0-9]{2,10}", b in "[a-z0-9]{2,10}") {
        prop_assert_eq!(account_code(&format!("{a}..{b}")), codes::ACCOUNT_DOUBLE_DOT);
    }

    #[test]
    fn accounts_with_bad_endings(name in "[a-z][a-z0-9_]{5,20}", end in "[.-]") {
        prop_assert_eq!(account_code(&format!("{name}{end}")), codes::ACCOUNT_BAD_ENDING);
    }

    #[test]
    fn reserved_accounts(name in select(RESERVED_NAMES.to_vec()).prop_filter("reachable", |n| n.len() >= 6)) {
        prop_assert_eq!(account_code(name), codes::ACCOUNT_RESERVED);
        prop_assert_eq!(account_code(&name.to_uppercase()), codes::ACCOUNT_RESERVED);
    }

    #[test]
    fn accounts_with_controls(name in valid_account(), at in any::<usize>(), c in control_char()) {
        prop_assert_eq!(account_code(&insert_at(&name, at, c)), codes::CONTROL_CHARS);
    }

    #[test]
    fn blank_input_is_required_everywhere(blank in "[ \t\r\n\u{3000}\u{A0}]{0,20}") {
        prop_assert_eq!(account_code(&blank), codes::REQUIRED);
        prop_assert_eq!(EmailAddress::parse(&blank).unwrap_err().code, codes::REQUIRED);
        prop_assert_eq!(Nickname::parse(&blank).unwrap_err().code, codes::REQUIRED);
        prop_assert_eq!(Phone::parse(&blank), Ok(None));
        let ctx = PasswordContext::default();
        prop_assert_eq!(
            Password::parse(&blank, &ctx, &PasswordPolicy::default()).unwrap_err().code,
            codes::REQUIRED
        );
    }

    #[test]
    fn oversized_input_is_too_long_everywhere(s in ".{1025,1500}") {
        prop_assume!(s.len() > MAX_INPUT_BYTES);
        prop_assert_eq!(account_code(&s), codes::TOO_LONG);
        prop_assert_eq!(EmailAddress::parse(&s).unwrap_err().code, codes::TOO_LONG);
        prop_assert_eq!(Nickname::parse(&s).unwrap_err().code, codes::TOO_LONG);
        prop_assert_eq!(Phone::parse(&s).unwrap_err().code, codes::TOO_LONG);
        let ctx = PasswordContext::default();
        prop_assert_eq!(
            Password::parse(&s, &ctx, &PasswordPolicy::default()).unwrap_err().code,
            codes::TOO_LONG
        );
    }

    #[test]
    fn account_parse_is_total_and_idempotent(s in any::<String>()) {
        match AccountName::parse(&s) {
            Ok(a) => prop_assert_eq!(AccountName::parse(a.as_str()).unwrap(), a),
            Err(e) => {
                prop_assert_eq!(e.field, Field::AccountName);
                prop_assert!(codes::ALL.contains(&e.code));
            }
        }
    }
}

// ---- e-mail, phone, nickname ---------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn valid_emails_pass_and_lowercase(email in valid_email()) {
        let parsed = EmailAddress::parse(&email).unwrap();
        prop_assert_eq!(parsed.as_str(), email.as_str());
        let shouted = format!(" {} ", email.to_uppercase());
        prop_assert_eq!(EmailAddress::parse(&shouted).unwrap(), parsed.clone());
        prop_assert_eq!(EmailAddress::parse(parsed.as_str()).unwrap(), parsed);
    }

    #[test]
    fn emails_without_at_are_invalid(s in "[a-z0-9.]{1,40}") {
        prop_assert_eq!(EmailAddress::parse(&s).unwrap_err().code, codes::EMAIL_INVALID);
    }

    #[test]
    fn emails_with_fullwidth_at(email in valid_email()) {
        let wide = email.replacen('@', "＠", 1);
        prop_assert_eq!(EmailAddress::parse(&wide).unwrap_err().code, codes::EMAIL_FULLWIDTH);
    }

    #[test]
    fn emails_with_lookalikes(email in valid_email(), c in lookalike()) {
        let input = format!("{c}{email}");
        prop_assert_eq!(EmailAddress::parse(&input).unwrap_err().code, codes::EMAIL_INVALID);
    }

    #[test]
    fn backup_equal_to_account_is_refused(name in valid_account()) {
        let account = AccountName::parse(&name).unwrap().address();
        let typed = format!("{}@Mail.Edu.TW", name.to_uppercase());
        prop_assert_eq!(
            EmailAddress::parse_backup(&typed, Some(&account)).unwrap_err(),
            RuleError::new(Field::BackupEmail, codes::EMAIL_SAME_AS_ACCOUNT)
        );
    }

    #[test]
    fn valid_mobiles_pass_as_e164((typed, e164) in valid_mobile()) {
        let p = Phone::parse(&typed).unwrap().unwrap();
        prop_assert_eq!(p.e164(), e164.as_str());
        prop_assert_eq!(p.extension(), None);
    }

    #[test]
    fn valid_landlines_pass_as_e164((typed, e164, ext) in valid_landline()) {
        let p = Phone::parse(&typed).unwrap().unwrap();
        prop_assert_eq!(p.e164(), e164.as_str());
        prop_assert_eq!(p.extension(), ext.as_deref());
    }

    #[test]
    fn phones_without_trunk_prefix_or_with_words_are_invalid(
        digits in "[1-9][0-9]{5,12}",
        word in "[a-df-su-wyz]{2,8}",
        (mobile, _) in valid_mobile(),
    ) {
        prop_assert_eq!(Phone::parse(&digits).unwrap_err().code, codes::PHONE_INVALID);
        prop_assert_eq!(Phone::parse(&format!("{mobile} {word}")).unwrap_err().code, codes::PHONE_INVALID);
    }

    #[test]
    fn valid_nicknames_pass(nick in valid_nickname(), pad in "[ \u{3000}]{0,2}") {
        let parsed = Nickname::parse(&format!("{pad}{nick}{pad}")).unwrap();
        prop_assert_eq!(parsed.as_str(), nick.as_str());
    }

    #[test]
    fn long_nicknames(nick in "[a-z\u{4E00}-\u{9FFF}]{21,60}") {
        prop_assert_eq!(Nickname::parse(&nick).unwrap_err().code, codes::NICKNAME_TOO_LONG);
    }

    #[test]
    fn nicknames_with_controls(nick in "[a-z]{2,10}", at in any::<usize>(), c in control_char()) {
        prop_assert_eq!(Nickname::parse(&insert_at(&nick, at, c)).unwrap_err().code, codes::CONTROL_CHARS);
    }
}

// ---- passwords ------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn short_passwords(pw in "[A-Z][a-z][0-9][!@#][a-zA-Z0-9]{0,3}") {
        let e = Password::parse(&pw, &PasswordContext::default(), &PasswordPolicy::default()).unwrap_err();
        prop_assert_eq!(e.code, codes::PASSWORD_TOO_SHORT);
    }

    #[test]
    fn long_passwords(pw in "[A-Z][a-z][0-9][!@#][a-zA-Z0-9]{61,100}") {
        let e = Password::parse(&pw, &PasswordContext::default(), &PasswordPolicy::default()).unwrap_err();
        prop_assert_eq!(e.code, codes::PASSWORD_TOO_LONG);
    }

    #[test]
    fn passwords_with_two_classes(pw in prop_oneof!["[a-z0-9]{8,30}", "[A-Z!@#$%^&*-]{8,30}", "[a-zA-Z]{8,30}"]) {
        let e = Password::parse(&pw, &PasswordContext::default(), &PasswordPolicy::default()).unwrap_err();
        prop_assert_eq!(e.code, codes::PASSWORD_CLASSES);
    }

    #[test]
    fn passwords_containing_the_account(name in valid_account(), pre in "[A-Z][0-9]", post in "[!@#$%][a-z]") {
        let pw = format!("{pre}{}{post}", name.to_uppercase());
        prop_assume!(pw.chars().count() <= 64);
        let ctx = PasswordContext { account: &name, user_inputs: &[] };
        let e = Password::parse(&pw, &ctx, &PasswordPolicy::default()).unwrap_err();
        prop_assert_eq!(e.code, codes::PASSWORD_CONTAINS_ACCOUNT);
    }

    #[test]
    fn passwords_with_fullwidth(pw in "[A-Z][a-z]{4}[0-9]{2}[!@#]", at in any::<usize>()) {
        let i = at % pw.len();
        let input: String = pw.chars().enumerate()
            .map(|(j, c)| if i == j { char::from_u32(c as u32 + 0xFEE0).unwrap() } else { c })
            .collect();
        let e = Password::parse(&input, &PasswordContext::default(), &PasswordPolicy::default()).unwrap_err();
        prop_assert_eq!(e.code, codes::PASSWORD_FULLWIDTH);
    }

    #[test]
    fn passwords_never_leak_into_errors_or_debug(tail in prop_oneof!["[ -~]{7,40}", ".{7,20}"], confirm in any::<String>()) {
        // A leading `Q` cannot occur in any message or code.
        let pw = format!("Q{tail}");
        let r = Password::check(&pw, &confirm, &PasswordContext::default(), &PasswordPolicy::default());
        let shown = match &r {
            Ok(p) => format!("{p:?}"),
            Err(e) => format!("{e} {e:?}"),
        };
        prop_assert!(!shown.contains(pw.trim_end()), "{}", shown);
    }
}

// ---- whole form -----------------------------------------------------------

fn field_value(valid: impl Strategy<Value = String> + 'static) -> BoxedStrategy<String> {
    prop_oneof![
        3 => valid,
        1 => Just(String::new()),
        1 => any::<String>(),
        1 => "[ -~]{0,40}",
    ]
    .boxed()
}

fn form() -> impl Strategy<Value = RegistrationInput> {
    let pw = prop_oneof![Just("Kite-Lamp-93-Orbit".to_string()), "[ -~]{0,20}"];
    (
        (
            any::<bool>(),
            field_value(valid_account()),
            field_value(valid_email()),
        ),
        (field_value(valid_email()), any::<bool>(), any::<bool>(), pw),
        (
            any::<bool>(),
            field_value(valid_nickname()),
            field_value(valid_mobile().prop_map(|m| m.0)),
        ),
        (
            field_value(Just("male".to_string())),
            field_value(Just("2026-11-01".to_string())),
        ),
    )
        .prop_map(
            |(
                (staff, account, email),
                (backup, same_email, same_backup, password),
                (same_pw, nickname, phone),
                (gender, terms),
            )| {
                RegistrationInput {
                    identity: if staff {
                        Identity::Staff
                    } else {
                        Identity::Other
                    },
                    terms_version: terms,
                    county: "ntpc".into(),
                    account_name: account,
                    email_confirm: if same_email {
                        email.clone()
                    } else {
                        format!("x{email}")
                    },
                    email,
                    name: "王小明".into(),
                    backup_email_confirm: if same_backup {
                        backup.clone()
                    } else {
                        String::new()
                    },
                    backup_email: backup,
                    password_confirm: if same_pw {
                        password.clone().into()
                    } else {
                        "nope".into()
                    },
                    password: password.into(),
                    nickname,
                    phone,
                    gender,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn live_checks_agree_with_the_whole_form(input in form()) {
        let policy = PasswordPolicy::default();
        let live: Vec<RuleError> = Field::ALL
            .into_iter()
            .filter_map(|f| validate_field(f, &input, &policy).err())
            .collect();
        match validate_registration(&input, &policy) {
            Ok(v) => {
                prop_assert!(live.is_empty(), "{:?}", live);
                let json = serde_json::to_string(&v).unwrap();
                prop_assert!(!json.contains("password"));
                let expected = match v.identity() {
                    Identity::Staff => format!("{}@mail.edu.tw", v.account_name().unwrap()),
                    Identity::Other => input.email.trim().to_lowercase(),
                };
                prop_assert_eq!(v.account().as_str(), expected.as_str());
            }
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                prop_assert_eq!(&errors, &live);
                let mut sorted = errors.clone();
                sorted.sort_by_key(|e| e.field);
                sorted.dedup_by_key(|e| e.field);
                prop_assert_eq!(sorted, errors, "one error per field, in form order");
            }
        }
    }
}

// ---- avatar ---------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_bytes_never_panic(
        magic in select(vec![
            &b""[..],
            &b"\xFF\xD8\xFF"[..],
            &b"\x89PNG\r\n\x1a\n"[..],
            &b"GIF89a"[..],
            &b"RIFF\0\0\0\0WEBP"[..],
            &b"MZ"[..],
            &b"\x7fELF"[..],
        ]),
        body in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut bytes = magic.to_vec();
        bytes.extend_from_slice(&body);
        if let Err(e) = Avatar::process(&bytes) {
            prop_assert_eq!(e.field, Field::Avatar);
            prop_assert!(codes::ALL.contains(&e.code));
            if magic == b"MZ" || magic == b"\x7fELF" {
                prop_assert_eq!(e.code, codes::AVATAR_FORMAT);
            }
        }
    }
}
