//! The one place the cloud calls the shared rule set
//! (`educloud_contract::rules`) — the same functions the app runs — and
//! turns rule failures into 422 problems with `code`, `field` and the full
//! `errors` list.

use educloud_contract::rules::{AccountName, Password, PasswordContext, PasswordPolicy, RuleError};
use educloud_contract::wire::{FieldProblem, Secret};

use super::problem::ApiError;

/// The password policy this service enforces (and serves).
pub fn policy() -> PasswordPolicy {
    PasswordPolicy::default()
}

/// A 422 problem listing `errors` (in the order given).
pub fn rule_errors(errors: &[RuleError]) -> ApiError {
    ApiError::fields(
        errors
            .iter()
            .map(|e| FieldProblem {
                code: e.code.to_owned(),
                field: e.field.as_str().to_owned(),
            })
            .collect(),
    )
}

/// 422 for one field outside the rule set's fields (e.g. `county`).
pub fn field_error(field: &str, code: &str) -> ApiError {
    ApiError::fields(vec![FieldProblem {
        code: code.to_owned(),
        field: field.to_owned(),
    }])
}

/// The rule code why `name` cannot be a staff account name, if any.
pub fn account_name(name: &str) -> Result<(), String> {
    AccountName::parse(name)
        .map(drop)
        .map_err(|e| e.code.to_owned())
}

/// A new password for an existing account (password reset): the policy,
/// not containing the account name, and the confirmation.
pub fn new_password(
    password: &Secret,
    confirm: &Secret,
    account_email: &str,
) -> Result<(), ApiError> {
    let local = account_email.split('@').next().unwrap_or(account_email);
    let inputs = [account_email];
    let context = PasswordContext {
        account: local,
        user_inputs: &inputs,
    };
    Password::check(
        password.expose_secret(),
        confirm.expose_secret(),
        &context,
        &policy(),
    )
    .map(drop)
    .map_err(|e| rule_errors(&[e]))
}
