//! The registration rules alone, with criterion (issue 7, part 5): the
//! whole form as the server checks it on `POST registrations`, one field as
//! the app checks it while the user types (account name, password with
//! zxcvbn), and a form full of mistakes. Context for the validation round
//! trip budget (≤ 5 ms p99 through the webview); `scripts/bench` folds the
//! medians into docs/performance.md.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use educloud_contract::rules::{
    validate_field, validate_registration, AccountName, Field, Identity, Password, PasswordContext,
    PasswordPolicy, RegistrationInput,
};
use secrecy::SecretString;

const PASSWORD: &str = "Shan-Lin-Jade-2026!";

/// A complete, valid staff (教師) registration.
fn staff_form() -> RegistrationInput {
    RegistrationInput {
        identity: Identity::Staff,
        terms_version: "2026-11-01".into(),
        county: "ntpc".into(),
        account_name: "wang.meiling".into(),
        backup_email: "meiling.wang@example.com".into(),
        backup_email_confirm: "meiling.wang@example.com".into(),
        password: SecretString::from(PASSWORD),
        password_confirm: SecretString::from(PASSWORD),
        nickname: "王老師".into(),
        phone: "0912-345-678".into(),
        gender: "female".into(),
        ..RegistrationInput::default()
    }
}

/// A complete, valid 其他 (parent) registration.
fn other_form() -> RegistrationInput {
    RegistrationInput {
        identity: Identity::Other,
        terms_version: "2026-11-01".into(),
        email: "chen.parent@example.com".into(),
        email_confirm: "chen.parent@example.com".into(),
        name: "陳大文".into(),
        backup_email: "chen.backup@example.org".into(),
        backup_email_confirm: "chen.backup@example.org".into(),
        password: SecretString::from(PASSWORD),
        password_confirm: SecretString::from(PASSWORD),
        nickname: "大文".into(),
        phone: "(02) 2345-6789 分機 12".into(),
        ..RegistrationInput::default()
    }
}

/// Every field wrong in some way (the user pressed 送出 too early).
fn bad_form() -> RegistrationInput {
    RegistrationInput {
        identity: Identity::Staff,
        account_name: "Admin..x".into(),
        backup_email: "not-an-address".into(),
        backup_email_confirm: "other".into(),
        password: SecretString::from("password1"),
        password_confirm: SecretString::from("password2"),
        phone: "12345".into(),
        gender: "unknown".into(),
        ..RegistrationInput::default()
    }
}

fn rules(c: &mut Criterion) {
    let policy = PasswordPolicy::default();
    let staff = staff_form();
    let other = other_form();
    let bad = bad_form();
    assert!(
        validate_registration(&staff, &policy).is_ok(),
        "staff form is valid"
    );
    assert!(
        validate_registration(&other, &policy).is_ok(),
        "other form is valid"
    );
    let errors = validate_registration(&bad, &policy)
        .err()
        .unwrap_or_default();
    assert!(errors.len() >= 5, "bad form has many errors: {errors:?}");
    assert!(AccountName::parse("wang.meiling").is_ok());
    let context = PasswordContext {
        account: "wang.meiling",
        user_inputs: &["王老師", "meiling.wang@example.com"],
    };
    assert!(Password::parse(PASSWORD, &context, &policy).is_ok());

    let mut g = c.benchmark_group("rules");
    g.bench_function("registration_staff_valid", |b| {
        b.iter(|| validate_registration(black_box(&staff), black_box(&policy)))
    });
    g.bench_function("registration_other_valid", |b| {
        b.iter(|| validate_registration(black_box(&other), black_box(&policy)))
    });
    g.bench_function("registration_all_invalid", |b| {
        b.iter(|| validate_registration(black_box(&bad), black_box(&policy)))
    });
    g.bench_function("account_name", |b| {
        b.iter(|| AccountName::parse(black_box("Wang.MeiLing@mail.edu.tw")))
    });
    g.bench_function("password_zxcvbn", |b| {
        b.iter(|| Password::parse(black_box(PASSWORD), black_box(&context), black_box(&policy)))
    });
    g.bench_function("field_password_live", |b| {
        b.iter(|| validate_field(Field::Password, black_box(&staff), black_box(&policy)))
    });
    g.bench_function("field_account_name_live", |b| {
        b.iter(|| validate_field(Field::AccountName, black_box(&staff), black_box(&policy)))
    });
    g.finish();
}

criterion_group!(benches, rules);
criterion_main!(benches);
