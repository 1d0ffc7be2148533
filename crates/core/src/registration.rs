//! Registration drafts: the wizard's progress kept in the local store so a
//! closed window does not lose a half-filled form.
//!
//! A [`RegistrationDraft`] holds the step, identity, county, accepted terms
//! version and every text field of the form — and by construction nothing
//! else: it has no member for a password, a county token or the avatar, so
//! those are dropped when a draft is deserialized from the UI and can never
//! be written to SQLite. Drafts are kept only where the IT policy allows
//! ([`Policy::drafts_allowed`]: not on shared devices); [`load`] also
//! removes a draft left from before such a policy.
//!
//! The form's rules are not applied to a draft (it is work in progress);
//! only sizes are bounded.
//!
//! The live checks ([`check_field`], [`check_form`]) run the contract's one
//! rule set with the service's password parameters; [`submit`] sends the
//! form with the county identity verified in this process (never stored).

use base64::Engine as _;
use educloud_contract::rules::{
    strength, validate_field, validate_registration, AccountName, Avatar, Field, Gender, Identity,
    PasswordContext, PasswordPolicy, RegistrationInput, RuleError, MAX_INPUT_BYTES,
};
use educloud_contract::wire::{
    self, Availability, RegistrationRequest, RegistrationResponse, Terms,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Deserializer, Serialize};

use crate::api::EduCloudClient;
use crate::desktop::Desktop;
use crate::oidc::{CountyCredential, VerifiedCounty};
use crate::policy::Policy;
use crate::settings;
use crate::store::Store;
use crate::{CoreError, Result};

/// The store's draft kind for the registration wizard.
pub const DRAFT_KIND: &str = "registration";

/// Longest county code or terms version kept in a draft.
const MAX_CODE_BYTES: usize = 64;

/// Where the wizard was (the UI's step names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", from = "String")]
pub enum RegistrationStep {
    /// 同意書. Also what an unknown step name (from an older or newer app)
    /// reads as: start again from the top.
    #[default]
    Consent,
    /// 選擇註冊身份.
    Identity,
    /// 選擇 Open ID (staff).
    County,
    /// The form itself.
    Form,
}

impl From<String> for RegistrationStep {
    fn from(name: String) -> Self {
        match name.as_str() {
            "identity" => RegistrationStep::Identity,
            "county" => RegistrationStep::County,
            "form" => RegistrationStep::Form,
            _ => RegistrationStep::Consent,
        }
    }
}

/// The form's text fields as typed (`gender` included), without passwords.
/// Empty fields are left out of the JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftValues {
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "String::is_empty"
    )]
    pub account_name: String,
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "String::is_empty"
    )]
    pub email: String,
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "String::is_empty"
    )]
    pub email_confirm: String,
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "String::is_empty"
    )]
    pub backup_email: String,
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "String::is_empty"
    )]
    pub backup_email_confirm: String,
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "String::is_empty"
    )]
    pub nickname: String,
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "String::is_empty"
    )]
    pub phone: String,
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "String::is_empty"
    )]
    pub gender: String,
}

/// The registration wizard's saved progress. The JSON shape is the UI's:
/// `{"step","identity","county","terms_version","values":{…}}`; unknown
/// members (e.g. a `password` a buggy caller put in `values`) are dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationDraft {
    #[serde(default)]
    pub step: RegistrationStep,
    #[serde(default)]
    pub identity: Option<Identity>,
    /// The county code chosen for the Open ID sign-in (staff).
    #[serde(default)]
    pub county: Option<String>,
    /// The terms version the user agreed to, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms_version: Option<String>,
    #[serde(default)]
    pub values: DraftValues,
}

fn text<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

impl RegistrationDraft {
    /// A draft of `input` at `step`: every field but the passwords.
    pub fn from_input(step: RegistrationStep, input: &RegistrationInput) -> RegistrationDraft {
        let optional = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        RegistrationDraft {
            step,
            identity: Some(input.identity),
            county: optional(&input.county),
            terms_version: optional(&input.terms_version),
            values: DraftValues {
                account_name: input.account_name.clone(),
                email: input.email.clone(),
                email_confirm: input.email_confirm.clone(),
                name: input.name.clone(),
                backup_email: input.backup_email.clone(),
                backup_email_confirm: input.backup_email_confirm.clone(),
                nickname: input.nickname.clone(),
                phone: input.phone.clone(),
                gender: input.gender.clone(),
            },
        }
        .bounded()
    }

    /// The form input to resume with (passwords empty: they are typed again).
    pub fn to_input(&self) -> RegistrationInput {
        let v = &self.values;
        RegistrationInput {
            identity: self.identity.unwrap_or_default(),
            terms_version: self.terms_version.clone().unwrap_or_default(),
            county: self.county.clone().unwrap_or_default(),
            account_name: v.account_name.clone(),
            email: v.email.clone(),
            email_confirm: v.email_confirm.clone(),
            name: v.name.clone(),
            backup_email: v.backup_email.clone(),
            backup_email_confirm: v.backup_email_confirm.clone(),
            nickname: v.nickname.clone(),
            phone: v.phone.clone(),
            gender: v.gender.clone(),
            ..RegistrationInput::default()
        }
    }

    /// Whether nothing worth resuming was typed or chosen.
    pub fn is_empty(&self) -> bool {
        self.identity.is_none() && self.county.is_none() && self.values == DraftValues::default()
    }

    /// The draft with every value within the rules' input cap (larger
    /// values could never pass `too_long` anyway) and a sane county code.
    fn bounded(mut self) -> RegistrationDraft {
        let v = &mut self.values;
        for value in [
            &mut v.account_name,
            &mut v.email,
            &mut v.email_confirm,
            &mut v.name,
            &mut v.backup_email,
            &mut v.backup_email_confirm,
            &mut v.nickname,
            &mut v.phone,
            &mut v.gender,
        ] {
            if value.len() > MAX_INPUT_BYTES {
                value.clear();
            }
        }
        for value in [&mut self.county, &mut self.terms_version] {
            if value.as_ref().is_some_and(|c| c.len() > MAX_CODE_BYTES) {
                *value = None;
            }
        }
        self
    }
}

/// Saves `draft` (replacing any earlier one) when the policy allows drafts;
/// otherwise does nothing. Returns whether it was saved.
pub fn save(store: &Store, policy: &Policy, draft: &RegistrationDraft) -> Result<bool> {
    if !policy.drafts_allowed() {
        return Ok(false);
    }
    let json = serde_json::to_string(&draft.clone().bounded())
        .map_err(|e| crate::CoreError::Internal(format!("draft serialization: {e}")))?;
    store.save_draft(DRAFT_KIND, &json)?;
    tracing::debug!(step = ?draft.step, "registration draft saved");
    Ok(true)
}

/// The saved draft, if any. Where drafts are not allowed (any more), a
/// leftover one is deleted and `None` returned; an unreadable one (from an
/// incompatible version) is deleted too.
pub fn load(store: &Store, policy: &Policy) -> Result<Option<RegistrationDraft>> {
    let Some(json) = store.draft(DRAFT_KIND)? else {
        return Ok(None);
    };
    if !policy.drafts_allowed() {
        store.delete_draft(DRAFT_KIND)?;
        tracing::info!("registration draft removed: drafts are not allowed on this device");
        return Ok(None);
    }
    match serde_json::from_str::<RegistrationDraft>(&json) {
        Ok(draft) => Ok(Some(draft.bounded())),
        Err(e) => {
            tracing::warn!(error = %e, "unreadable registration draft removed");
            store.delete_draft(DRAFT_KIND)?;
            Ok(None)
        }
    }
}

/// Deletes the saved draft (取消, after 送出, or "start over").
pub fn discard(store: &Store) -> Result<()> {
    store.delete_draft(DRAFT_KIND)
}

// ---------------------------------------------------------------------------
// Live checks, terms, availability, avatar, submission.

/// The result of checking one field while the user types.
#[derive(Debug, Clone, Serialize)]
pub struct FieldCheck {
    /// The rule the field breaks, if any.
    pub error: Option<RuleError>,
    /// For the password: the strength meter's level (0–4).
    pub strength: Option<u8>,
}

/// The password rules' parameters the service announces (the server stays
/// the authority); the contract's defaults when the service cannot be read.
pub async fn password_policy(desktop: &Desktop) -> PasswordPolicy {
    match crate::directory::service_configuration(desktop, false).await {
        Ok(config) => config.password_policy,
        Err(e) => {
            tracing::warn!(code = e.code(), "using the default password rules");
            PasswordPolicy::default()
        }
    }
}

fn password_context_inputs(input: &RegistrationInput) -> [&str; 4] {
    [
        input.nickname.as_str(),
        input.name.as_str(),
        input.email.as_str(),
        input.backup_email.as_str(),
    ]
}

/// Builds the password-strength estimator's dictionaries (hundreds of
/// milliseconds the first time) so the first keystroke in 密碼 does not
/// wait; call off the UI's critical path, e.g. after the first paint.
pub fn warm_up() {
    let _ = strength(
        "warm-up Kite Lamp 93",
        &PasswordContext {
            account: "",
            user_inputs: &[],
        },
    );
}

/// [`warm_up`] once per process on a thread of its own, started when the
/// registration is about to be used (its screen opens, or a county sign-in
/// finds no account) — not at launch: most launches only sign in, and the
/// estimator's dictionaries are several MB.
pub fn warm_up_in_background() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("strength-warm-up".into())
            .spawn(warm_up);
        if let Err(e) = spawned {
            tracing::debug!(error = %e, "no warm-up thread; the first check builds the dictionaries");
        }
    });
}

/// Checks one field of the form (its confirmation pair compares with it).
pub fn check_field(field: Field, input: &RegistrationInput, policy: &PasswordPolicy) -> FieldCheck {
    let error = validate_field(field, input, policy).err();
    let strength = (field == Field::Password).then(|| {
        let inputs = password_context_inputs(input);
        let account = if input.identity == Identity::Staff {
            input.account_name.as_str()
        } else {
            input.email.as_str()
        };
        strength(
            input.password.expose_secret(),
            &PasswordContext {
                account,
                user_inputs: &inputs,
            },
        )
    });
    FieldCheck { error, strength }
}

/// Checks the whole form: every field's error at once, in form order.
pub fn check_form(input: &RegistrationInput, policy: &PasswordPolicy) -> Vec<RuleError> {
    validate_registration(input, policy)
        .err()
        .unwrap_or_default()
}

/// The consent text in the UI's language.
pub async fn terms(desktop: &Desktop) -> Result<Terms> {
    let lang = settings::language(desktop.policy(), &desktop.store)?.value;
    EduCloudClient::for_desktop(desktop)
        .await?
        .terms(&lang)
        .await
}

/// Whether `name@mail.edu.tw` is free. The rules run first, so a name that
/// cannot be valid never reaches the service.
pub async fn availability(desktop: &Desktop, name: &str) -> Result<Availability> {
    match AccountName::parse(name) {
        Err(e) => Ok(Availability {
            name: name.chars().take(64).collect(),
            available: false,
            code: Some(e.code.to_string()),
        }),
        Ok(valid) => {
            EduCloudClient::for_desktop(desktop)
                .await?
                .availability(valid.as_str())
                .await
        }
    }
}

/// Checks and re-encodes a chosen photo: a 256×256 PNG without metadata,
/// returned as a `data:` URL for the preview and the submission.
pub fn process_avatar(bytes: &[u8]) -> Result<String> {
    let avatar = Avatar::process(bytes).map_err(rule_error)?;
    Ok(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(avatar.png_bytes())
    ))
}

fn rule_error(e: RuleError) -> CoreError {
    CoreError::invalid(e.field.as_str(), e.code)
}

/// Sends the registration. Staff registrations carry the county identity
/// this process verified (`county`); the avatar is the processed `data:`
/// URL from [`process_avatar`] (checked again here and by the server). On
/// success the draft is deleted.
pub async fn submit(
    desktop: &Desktop,
    input: &RegistrationInput,
    county: Option<&VerifiedCounty>,
    avatar: Option<&str>,
) -> Result<RegistrationResponse> {
    if desktop.policy().disable_registration.unwrap_or(false) {
        return Err(CoreError::RegistrationDisabled);
    }
    let policy = password_policy(desktop).await;
    if let Some(first) = check_form(input, &policy).into_iter().next() {
        return Err(rule_error(first));
    }
    let avatar = match avatar.filter(|a| !a.is_empty()) {
        Some(a) => {
            let checked = Avatar::from_base64(a).map_err(rule_error)?;
            Some(base64::engine::general_purpose::STANDARD.encode(checked.png_bytes()))
        }
        None => None,
    };
    let opt = |s: &str| (!s.trim().is_empty()).then(|| s.to_string());
    let mut request = RegistrationRequest {
        identity: input.identity,
        terms_version: input.terms_version.clone(),
        county: None,
        id_token: None,
        access_token: None,
        account_name: None,
        email: None,
        email_confirm: None,
        name: None,
        backup_email: input.backup_email.clone(),
        backup_email_confirm: input.backup_email_confirm.clone(),
        password: wire::Secret::new(input.password.expose_secret()),
        password_confirm: wire::Secret::new(input.password_confirm.expose_secret()),
        nickname: input.nickname.clone(),
        phone: opt(&input.phone),
        gender: Gender::parse(&input.gender).map_err(rule_error)?,
        avatar,
    };
    match input.identity {
        Identity::Staff => {
            let county = county.ok_or(CoreError::CountyIdentityMissing)?;
            request.county = Some(county.identity.county.clone());
            request.account_name = Some(input.account_name.clone());
            match &county.credential {
                CountyCredential::IdToken(t) => {
                    request.id_token = Some(wire::Secret::new(t.expose_secret()))
                }
                CountyCredential::AccessToken(t) => {
                    request.access_token = Some(wire::Secret::new(t.expose_secret()))
                }
            }
        }
        Identity::Other => {
            request.email = Some(input.email.clone());
            request.email_confirm = Some(input.email_confirm.clone());
            request.name = Some(input.name.clone());
        }
    }
    let response = EduCloudClient::for_desktop(desktop)
        .await?
        .register(&request)
        .await?;
    discard(&desktop.store)?;
    tracing::info!(status = ?response.status, "registration accepted");
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use educloud_contract::rules::{validate_field, Field, PasswordPolicy};

    const PASSWORD: &str = "Kite-Lamp-93-Orbit";

    fn shared_device() -> Policy {
        Policy {
            shared_device: Some(true),
            ..Policy::default()
        }
    }

    fn input() -> RegistrationInput {
        serde_json::from_value(serde_json::json!({
            "identity": "staff",
            "terms_version": "2026-11-01",
            "county": "ntpc",
            "id_token": "eyJhbGciOiJSUzI1NiJ9.county-token.sig",
            "account_name": "ntpcteacher",
            "backup_email": "wang@example.com",
            "backup_email_confirm": "wang@example.com",
            "password": PASSWORD,
            "password_confirm": PASSWORD,
            "nickname": "小明老師",
            "phone": "0912-345-678",
            "gender": "male",
            "avatar": "iVBORw0KGgoAAAANSUhEUg=="
        }))
        .unwrap()
    }

    #[test]
    fn round_trip_through_the_store() {
        let store = Store::in_memory().unwrap();
        let policy = Policy::default();
        assert_eq!(load(&store, &policy).unwrap(), None);
        let draft = RegistrationDraft::from_input(RegistrationStep::Form, &input());
        assert!(save(&store, &policy, &draft).unwrap());
        let loaded = load(&store, &policy).unwrap().unwrap();
        assert_eq!(loaded, draft);
        assert_eq!(loaded.step, RegistrationStep::Form);
        assert_eq!(loaded.identity, Some(Identity::Staff));
        assert_eq!(loaded.county.as_deref(), Some("ntpc"));
        assert_eq!(loaded.terms_version.as_deref(), Some("2026-11-01"));
        assert_eq!(loaded.values.nickname, "小明老師");
        // Resuming gives the same form minus the passwords.
        let resumed = loaded.to_input();
        let p = PasswordPolicy::default();
        assert_eq!(validate_field(Field::AccountName, &resumed, &p), Ok(()));
        assert_eq!(validate_field(Field::Phone, &resumed, &p), Ok(()));
        assert_eq!(
            validate_field(Field::Password, &resumed, &p)
                .unwrap_err()
                .code,
            "required"
        );
        discard(&store).unwrap();
        assert_eq!(load(&store, &policy).unwrap(), None);
    }

    #[test]
    fn saved_json_never_holds_a_password_token_or_avatar() {
        let store = Store::in_memory().unwrap();
        let policy = Policy::default();
        // From the typed form (which had both passwords and a token)…
        let draft = RegistrationDraft::from_input(RegistrationStep::Form, &input());
        save(&store, &policy, &draft).unwrap();
        let stored = store.draft(DRAFT_KIND).unwrap().unwrap();
        // …and from a UI payload that wrongly carries them.
        let from_ui: RegistrationDraft = serde_json::from_value(serde_json::json!({
            "step": "form",
            "identity": "other",
            "county": null,
            "password": PASSWORD,
            "id_token": "eyJhbGciOiJSUzI1NiJ9.county-token.sig",
            "values": {
                "email": "parent@example.com",
                "password": PASSWORD,
                "password_confirm": PASSWORD,
                "avatar": "iVBORw0KGgoAAAANSUhEUg==",
                "nickname": null
            }
        }))
        .unwrap();
        save(&store, &policy, &from_ui).unwrap();
        let stored_ui = store.draft(DRAFT_KIND).unwrap().unwrap();
        for json in [&stored, &stored_ui] {
            for secret in [
                PASSWORD,
                "county-token",
                "iVBORw0KGgo",
                "password",
                "id_token",
                "avatar",
            ] {
                assert!(!json.contains(secret), "{secret} in {json}");
            }
        }
        assert!(stored.contains("ntpcteacher") && stored.contains("小明老師"));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&stored_ui).unwrap(),
            serde_json::json!({
                "step": "form",
                "identity": "other",
                "county": null,
                "values": {"email": "parent@example.com"}
            })
        );
        assert!(!format!("{draft:?}").contains(PASSWORD));
    }

    #[test]
    fn shared_devices_keep_no_draft() {
        let store = Store::in_memory().unwrap();
        let draft = RegistrationDraft::from_input(RegistrationStep::Form, &input());
        assert!(!save(&store, &shared_device(), &draft).unwrap());
        assert_eq!(store.draft(DRAFT_KIND).unwrap(), None);
        // A draft saved before the device became shared is removed on load.
        assert!(save(&store, &Policy::default(), &draft).unwrap());
        assert_eq!(load(&store, &shared_device()).unwrap(), None);
        assert_eq!(store.draft(DRAFT_KIND).unwrap(), None);
    }

    #[test]
    fn unreadable_or_odd_drafts() {
        let store = Store::in_memory().unwrap();
        let policy = Policy::default();
        store.save_draft(DRAFT_KIND, "{not json").unwrap();
        assert_eq!(load(&store, &policy).unwrap(), None);
        assert_eq!(store.draft(DRAFT_KIND).unwrap(), None);
        // Unknown step names read as the first step; missing members default.
        store
            .save_draft(
                DRAFT_KIND,
                r#"{"step":"review","values":{"phone":"02-2345-6789"}}"#,
            )
            .unwrap();
        let d = load(&store, &policy).unwrap().unwrap();
        assert_eq!(d.step, RegistrationStep::Consent);
        assert_eq!(d.identity, None);
        assert_eq!(d.values.phone, "02-2345-6789");
        assert!(!d.is_empty());
        assert!(RegistrationDraft::default().is_empty());
    }

    #[test]
    fn oversized_values_are_not_kept() {
        let store = Store::in_memory().unwrap();
        let mut draft = RegistrationDraft::from_input(RegistrationStep::Form, &input());
        draft.values.nickname = "字".repeat(5000);
        draft.county = Some("x".repeat(10_000));
        save(&store, &Policy::default(), &draft).unwrap();
        let stored = store.draft(DRAFT_KIND).unwrap().unwrap();
        assert!(stored.len() < 2048, "{} bytes", stored.len());
        let loaded = load(&store, &Policy::default()).unwrap().unwrap();
        assert_eq!(loaded.values.nickname, "");
        assert_eq!(loaded.county, None);
        assert_eq!(loaded.values.account_name, "ntpcteacher");
    }

    #[test]
    fn step_names_match_the_ui() {
        for (step, name) in [
            (RegistrationStep::Consent, "consent"),
            (RegistrationStep::Identity, "identity"),
            (RegistrationStep::County, "county"),
            (RegistrationStep::Form, "form"),
        ] {
            assert_eq!(serde_json::to_value(step).unwrap(), name);
            assert_eq!(
                serde_json::from_value::<RegistrationStep>(name.into()).unwrap(),
                step
            );
        }
    }
}
