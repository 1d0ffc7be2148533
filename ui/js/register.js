// Flow A: 教育部教育雲帳號申請 — consent, identity, (county Open ID), the
// form with live Rust validation, the seed's two 確定 dialogs, done.
// The form is saved as a draft while typing (never passwords); the rules
// are Rust's: this file only shows the codes it gets back.
import { invoke } from './ipc.js';
import { t, errorText } from './i18n.js';
import { h } from './dom.js';
import { field, formStatus, setStatus, setFieldError, dialog, debounce } from './form.js';
import { screen, show, state, showError, slowAction, isOutage } from './router.js';
import { countySelect, countySignIn } from './signin.js';
import { countyName } from './counties.js';

// The wizard's memory for this window (the verified county identity stays
// in Rust; here only its display claims).
const wiz = {
  identity: null, // 'staff' | 'other'
  county: null, // the verified identity's display claims (county, sub, name, …) once signed in
  terms_version: null,
  fromSignIn: false, // came from 登入 with an Open ID that has no account yet
  values: {}, // form values except passwords
  avatar: null, // data URL of the processed 256×256 PNG
};

const TEXT_FIELDS = ['account_name', 'email', 'email_confirm', 'name', 'backup_email', 'backup_email_confirm', 'nickname', 'phone'];
const SECRET_FIELDS = ['password', 'password_confirm'];

function draftPayload(step) {
  const values = {};
  for (const k of TEXT_FIELDS) if (wiz.values[k]) values[k] = wiz.values[k];
  if (wiz.values.gender) values.gender = wiz.values.gender;
  return { step, identity: wiz.identity, county: wiz.county?.county || null, values };
}

// Draft saves run one after another; a registration that finished bumps
// the generation so a save still waiting (debounced or in flight) cannot
// bring the draft back after it was deleted.
let draftGeneration = 0;
let draftSaving = Promise.resolve();
// The generation is taken when the person typed, not when the debounce
// fires: a change event while 送出 runs (focus moving to the dialog) must not
// save the draft again after the registration succeeded.
const queueDraftSave = debounce((step, generation) => {
  const draft = draftPayload(step);
  draftSaving = draftSaving
    .then(() => (generation === draftGeneration ? invoke('save_draft', { draft }) : null))
    .catch(() => {});
}, 300);
const saveDraft = (step) => queueDraftSave(step, draftGeneration);

async function forgetDraft() {
  draftGeneration++;
  await draftSaving;
  await invoke('discard_draft').catch(() => {});
}

screen('register', async (root, params = {}) => {
  if (params.identity) {
    // Came from a county sign-in that found no account: same identity. From
    // 登入, the wizard starts at the consent (the 註冊 path agreed already).
    wiz.identity = 'staff';
    wiz.county = params.identity;
    if (params.fromSignIn) {
      wiz.fromSignIn = true;
      wiz.terms_version = null;
    }
    return renderStep(root, wiz.terms_version ? 'form' : 'consent');
  }
  if (params.step) return renderStep(root, params.step);
  // A fresh start: offer a kept draft first.
  let draft = null;
  try {
    draft = await invoke('load_draft');
  } catch {
    draft = null;
  }
  if (draft && draft.values && Object.keys(draft.values).length) {
    root.append(h('section', { class: 'card' },
      h('h1', { 'data-i18n': 'draft.title' }),
      h('p', { 'data-i18n': 'draft.body' }),
      h('div', { class: 'actions' },
        h('button', { id: 'draft-resume', type: 'button', class: 'primary', 'data-i18n': 'draft.resume', onclick: () => {
          wiz.identity = draft.identity;
          wiz.values = { ...draft.values };
          wiz.county = null;
          // The terms are agreed again in every session; the identity and
          // the typed values come back on the next steps.
          show('register', { step: 'consent' });
        } }),
        h('button', { id: 'draft-discard', type: 'button', 'data-i18n': 'draft.discard', onclick: async () => {
          await invoke('discard_draft').catch(() => {});
          resetWizard();
          show('register', { step: 'consent' });
        } }),
      )));
    return;
  }
  resetWizard();
  return renderStep(root, 'consent');
});

function resetWizard() {
  wiz.identity = null;
  wiz.county = null;
  wiz.fromSignIn = false;
  wiz.terms_version = null;
  wiz.values = {};
  wiz.avatar = null;
}

async function renderStep(root, step) {
  root.dataset.step = step;
  if (step === 'consent') return consentStep(root);
  if (step === 'identity') return identityStep(root);
  if (step === 'county') return countyStep(root);
  if (step === 'form') return formStep(root);
  return consentStep(root);
}

// ---- 1. 教育雲會員註冊同意書 ----
async function consentStep(root) {
  // A service that does not answer: the screen says so, with 重試 and 回首頁.
  const terms = await invoke('terms');
  // The identity is known already when the wizard came from 登入.
  const next = wiz.fromSignIn && wiz.county ? 'form' : 'identity';
  const agree = h('button', { id: 'terms-agree', type: 'button', class: 'primary', disabled: true, 'aria-describedby': 'terms-scroll-hint', 'data-i18n': 'consent.agree',
    onclick: () => { wiz.terms_version = terms.version; show('register', { step: next }); } });
  const end = h('p', { id: 'terms-end', class: 'terms-end', tabindex: '0', 'data-i18n': 'consent.end' });
  const box = h('div', { id: 'terms', class: 'terms', tabindex: '0', role: 'region', 'aria-labelledby': 'terms-title' },
    h('h2', { id: 'terms-title' }, terms.title),
    h('p', { class: 'hint' }, t('consent.version', { version: terms.version })),
    terms.sections.map((s) => [h('h3', {}, s.heading), ...s.body.split('\n').filter(Boolean).map((p) => h('p', {}, p))]),
    end);
  const enable = () => {
    agree.disabled = false;
    document.getElementById('terms-scroll-hint').textContent = t('consent.read');
  };
  const atBottom = () => box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
  box.addEventListener('scroll', () => { if (atBottom()) enable(); });
  // A screen-reader or keyboard user who reaches the end counts too.
  end.addEventListener('focus', enable);
  root.append(h('section', { class: 'card' },
    h('h1', { 'data-i18n': 'consent.title' }),
    h('p', { 'data-i18n': 'consent.lead' }),
    box,
    h('p', { id: 'terms-scroll-hint', class: 'hint', 'aria-live': 'polite', 'data-i18n': 'consent.scroll' }),
    h('div', { class: 'actions' },
      h('button', { id: 'terms-disagree', type: 'button', 'data-i18n': 'consent.disagree', onclick: () => { resetWizard(); show('home'); } }),
      agree)));
  requestAnimationFrame(() => { if (atBottom()) enable(); });
}

// ---- 2. 選擇註冊身份 ----
function identityStep(root) {
  const radio = (value, label, hint) => h('div', { class: 'choice' },
    h('input', { type: 'radio', name: 'identity', id: `identity-${value}`, value, checked: wiz.identity === value || null, 'aria-describedby': `identity-${value}-hint` }),
    h('label', { for: `identity-${value}` }, h('strong', { 'data-i18n': label }), h('span', { id: `identity-${value}-hint`, class: 'hint', 'data-i18n': hint })));
  const next = async () => {
    const picked = document.querySelector('input[name=identity]:checked');
    if (!picked) {
      setStatus('identity-status', 'identity.pick');
      return;
    }
    wiz.identity = picked.value;
    saveDraft('identity');
    await show('register', { step: picked.value === 'staff' ? 'county' : 'form' });
  };
  root.append(h('section', { class: 'card' },
    h('h1', { 'data-i18n': 'identity.title' }),
    h('fieldset', { class: 'choices' },
      h('legend', { 'data-i18n': 'identity.legend' }),
      radio('staff', 'identity.staff', 'identity.staff_hint'),
      radio('other', 'identity.other', 'identity.other_hint')),
    formStatus('identity-status'),
    h('div', { class: 'actions' },
      h('button', { id: 'identity-back', type: 'button', 'data-i18n': 'common.prev', onclick: () => show('register', { step: 'consent' }) }),
      h('button', { id: 'identity-next', type: 'button', class: 'primary', 'data-i18n': 'common.next', onclick: next }))));
}

// ---- 3. 選擇 Open ID ----
async function countyStep(root) {
  const { select, note, test } = await countySelect('reg-county');
  root.append(h('form', { class: 'card', id: 'reg-county-form', onsubmit: (e) => {
    e.preventDefault();
    countySignIn(select.value, false, 'register');
  } },
  h('h1', { 'data-i18n': 'regcounty.title' }),
  h('p', { 'data-i18n': 'regcounty.lead' }),
  h('div', { class: 'field' }, h('label', { for: 'reg-county', 'data-i18n': 'signin.choose_county' }), select, note, test),
  formStatus('county-status'),
  h('div', { class: 'actions' },
    h('button', { type: 'button', id: 'county-back', 'data-i18n': 'common.prev', onclick: () => show('register', { step: 'identity' }) }),
    h('button', { type: 'submit', id: 'reg-county-login', class: 'primary', 'data-i18n': 'signin.login' }))));
}

// ---- 4. 會員註冊 form ----
function formStep(root) {
  const staff = wiz.identity === 'staff';
  const v = wiz.values;
  const claims = wiz.county || {};
  if (staff && !claims.sub) return show('register', { step: 'county' });
  if (!wiz.terms_version) return show('register', { step: 'consent' });
  if (staff && !v.account_name && claims.preferred_username) v.account_name = claims.preferred_username;
  if (!v.nickname && claims.name) v.nickname = claims.name;
  const shown = (label, value, id) => h('div', { class: 'field' },
    h('span', { class: 'label', id: `${id}-label`, 'data-i18n': label }),
    h('output', { id, 'aria-labelledby': `${id}-label` }, value || '—'));
  const genderField = h('fieldset', { class: 'field gender', id: 'gender-field', 'aria-describedby': 'gender-error' },
    h('legend', { 'data-i18n': 'reg.gender' }),
    ['male', 'female'].map((g) => h('span', { class: 'check' },
      h('input', { type: 'radio', name: 'gender', id: `gender-${g}`, value: g, checked: v.gender === g || null }),
      h('label', { for: `gender-${g}`, 'data-i18n': `reg.gender.${g}` }))),
    h('div', { id: 'gender-error', class: 'error', 'aria-live': 'polite' }));
  const avatarInput = h('input', { id: 'avatar', type: 'file', accept: 'image/png,image/jpeg,image/webp,image/gif', class: 'visually-hidden', 'aria-describedby': 'avatar-error' });
  const preview = h('img', { id: 'avatar-preview', alt: '', width: 96, height: 96, hidden: !wiz.avatar || null, src: wiz.avatar || null });
  avatarInput.addEventListener('change', () => pickAvatar(avatarInput, preview));
  const form = h('form', { id: 'reg-form', class: 'card', novalidate: true, onsubmit: (e) => { e.preventDefault(); submit(); } },
    h('h1', { 'data-i18n': staff ? 'reg.title_staff' : 'reg.title_other' }),
    h('p', { class: 'banner-inline', 'data-i18n': 'reg.banner' }),
    h('p', { class: 'hint', 'data-i18n': 'reg.required_note' }),
    staff ? [
      shown('reg.name', claims.name, 'claim-name'),
      shown('reg.county', countyName(claims.county), 'claim-county'),
      shown('reg.school', claims.school_name || (claims.school_id ? t('account.school_code', { code: claims.school_id }) : ''), 'claim-school'),
      shown('reg.title', [claims.role, claims.title].filter(Boolean).join(' · '), 'claim-title'),
      field({ id: 'account_name', label: 'reg.account', required: true, suffix: '@mail.edu.tw', help: ACCOUNT_HELP, value: v.account_name, maxlength: 64 }),
    ] : [
      field({ id: 'name', label: 'reg.name', required: true, value: v.name, autocomplete: 'name' }),
      field({ id: 'email', label: 'reg.email_other', type: 'email', required: true, hint: 'reg.email_other_hint', value: v.email, autocomplete: 'email' }),
      field({ id: 'email_confirm', label: 'reg.email_other_confirm', type: 'email', required: true, value: v.email_confirm }),
    ],
    field({ id: 'backup_email', label: 'reg.backup_email', type: 'email', required: true, hint: 'reg.backup_email_hint', value: v.backup_email }),
    field({ id: 'backup_email_confirm', label: 'reg.backup_email_confirm', type: 'email', required: true, value: v.backup_email_confirm }),
    field({ id: 'password', label: 'reg.password', type: 'password', required: true, help: 'reg.password_help', autocomplete: 'new-password', maxlength: 128 }),
    h('meter', { id: 'password-strength', min: 0, max: 4, value: 0, 'aria-labelledby': 'password-strength-label' }),
    h('span', { id: 'password-strength-label', class: 'hint' }, t('reg.strength', { level: t('reg.strength.0') })),
    field({ id: 'password_confirm', label: 'reg.password_confirm', type: 'password', required: true, autocomplete: 'new-password', maxlength: 128 }),
    field({ id: 'nickname', label: 'reg.nickname', required: true, value: v.nickname }),
    field({ id: 'phone', label: 'reg.phone', type: 'tel', hint: 'reg.phone_hint', value: v.phone, inputmode: 'tel' }),
    genderField,
    h('div', { class: 'field avatar' },
      h('span', { class: 'label', 'data-i18n': 'reg.avatar' }),
      preview,
      h('div', { class: 'actions' },
        h('label', { for: 'avatar', class: 'button', id: 'avatar-choose', tabindex: '0', role: 'button', onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); avatarInput.click(); } } }, t('reg.avatar_choose')),
        avatarInput,
        h('button', { id: 'avatar-clear', type: 'button', 'data-i18n': 'reg.avatar_clear', onclick: () => { wiz.avatar = null; preview.hidden = true; preview.removeAttribute('src'); setFieldError('avatar', null); } })),
      h('div', { id: 'avatar-error', class: 'error', 'aria-live': 'polite' })),
    formStatus('reg-status'),
    h('div', { class: 'actions' },
      h('button', { id: 'reg-cancel', type: 'button', 'data-i18n': 'common.cancel', onclick: cancel }),
      h('button', { id: 'reg-submit', type: 'submit', class: 'primary', 'data-i18n': 'common.submit' })));
  root.append(form);
  // One timer per field: typing in the next field must not cancel the
  // check of the one just left.
  const timers = {};
  const live = (id) => {
    timers[id] = timers[id] || debounce(() => validate(id), 350);
    timers[id]();
  };
  form.addEventListener('input', (e) => {
    const id = e.target.id;
    if (TEXT_FIELDS.includes(id)) wiz.values[id] = e.target.value;
    if (e.target.name === 'gender') wiz.values.gender = e.target.value;
    if (TEXT_FIELDS.includes(id) || e.target.name === 'gender') saveDraft('form');
    if (TEXT_FIELDS.includes(id) || SECRET_FIELDS.includes(id)) live(id);
  });
  form.addEventListener('change', (e) => {
    if (e.target.name === 'gender') { wiz.values.gender = e.target.value; saveDraft('form'); }
  });
}

/** The form's values as the Rust RegistrationInput expects them. */
function currentInput() {
  const val = (id) => document.getElementById(id)?.value ?? '';
  const input = {
    identity: wiz.identity,
    terms_version: wiz.terms_version || '',
    county: wiz.county?.county || '',
    backup_email: val('backup_email'),
    backup_email_confirm: val('backup_email_confirm'),
    password: val('password'),
    password_confirm: val('password_confirm'),
    nickname: val('nickname'),
    phone: val('phone'),
    gender: document.querySelector('input[name=gender]:checked')?.value || '',
  };
  if (wiz.identity === 'staff') input.account_name = val('account_name');
  else Object.assign(input, { name: val('name'), email: val('email'), email_confirm: val('email_confirm') });
  return input;
}

/** The guide's numbered 說明 behind 帳號(Email)'s "?". */
const ACCOUNT_HELP = ['reg.account_help.1', 'reg.account_help.2', 'reg.account_help.3', 'reg.account_help.4'];

/** Each field's label, to name a field the form cannot point at. */
const FIELD_LABELS = {
  account_name: 'reg.account', email: 'reg.email_other', email_confirm: 'reg.email_other_confirm', name: 'reg.name',
  backup_email: 'reg.backup_email', backup_email_confirm: 'reg.backup_email_confirm', password: 'reg.password',
  password_confirm: 'reg.password_confirm', nickname: 'reg.nickname', phone: 'reg.phone', gender: 'reg.gender',
  avatar: 'reg.avatar', terms: 'consent.title', county: 'reg.county',
};

/** "請修正「備用信箱」：…" — the form-level line always names the field. */
function namedError(e) {
  const label = FIELD_LABELS[e.field];
  return label ? t('reg.fix_field', { field: t(label), error: errorText(e) }) : errorText(e);
}

const PAIRS = { backup_email: 'backup_email_confirm', password: 'password_confirm', email: 'email_confirm' };

async function validate(id) {
  const input = currentInput();
  try {
    const res = await invoke('validate_field', { field: id, input });
    setFieldError(id, res.error || null);
    if (id === 'password') {
      const meter = document.getElementById('password-strength');
      meter.value = res.strength ?? 0;
      document.getElementById('password-strength-label').textContent = t('reg.strength', { level: t(`reg.strength.${res.strength ?? 0}`) });
    }
    if (id === 'account_name' && !res.error) {
      const avail = await invoke('check_availability', { name: input.account_name });
      if (!avail.available) setFieldError(id, { code: avail.code || 'account.taken' });
    }
    // A change to a field re-checks its confirmation once that has a value.
    const pair = PAIRS[id];
    if (pair && document.getElementById(pair)?.value) validate(pair);
  } catch (e) {
    setFieldError(id, e);
  }
}

async function pickAvatar(inputEl, preview) {
  const file = inputEl.files && inputEl.files[0];
  inputEl.value = '';
  if (!file) return;
  setFieldError('avatar', null);
  // Too big to even read: said before reading 100 MB into memory.
  if (file.size > 5 * 1024 * 1024) {
    setFieldError('avatar', { code: 'avatar.too_large' });
    return;
  }
  const bytes = new Uint8Array(await file.arrayBuffer());
  try {
    const res = await invoke('process_avatar', { bytes: Array.from(bytes) });
    wiz.avatar = res.data_url;
    preview.src = res.data_url;
    preview.hidden = false;
  } catch (e) {
    setFieldError('avatar', e);
  }
}

async function cancel() {
  const sure = await dialog({ title: 'reg.cancel_title', body: 'reg.cancel_body', okId: 'cancel-confirm', cancel: true });
  if (!sure) return;
  await forgetDraft();
  resetWizard();
  await show('home');
}

async function submit() {
  const input = currentInput();
  setStatus('reg-status', null);
  // Every field again, all errors at once, before anything is sent.
  let errors = [];
  try {
    errors = await invoke('validate_registration', { input });
  } catch (e) {
    setStatus('reg-status', e);
    return;
  }
  document.querySelectorAll('#reg-form .error').forEach((el) => { el.textContent = ''; });
  if (errors.length) {
    if (errors.some((e) => e.field === 'terms')) return consentAgain();
    const unplaced = errors.filter((e) => !setFieldError(e.field, e));
    statusText(unplaced.length ? namedError(unplaced[0]) : t('reg.fix_errors'));
    const first = document.getElementById(errors[0].field) || document.querySelector(`#${errors[0].field}-field input`);
    if (first) first.focus();
    return;
  }
  // The seed: a confirmation dialog (確定), then the result dialog (確定).
  const go = await dialog({ title: 'reg.confirm_title', body: 'reg.confirm_body', okId: 'confirm-ok', cancel: true });
  if (!go) return;
  const res = await slowAction(document.getElementById('reg-submit'), 'reg-status',
    () => invoke('submit_registration', { input, avatar: wiz.avatar }));
  if (res.cancelled) {
    statusText(t('reg.cancelled_wait'));
    return;
  }
  if (!res.ok) return submitFailed(res.error);
  const result = res.value;
  const fromSignIn = wiz.fromSignIn;
  await forgetDraft();
  await dialog({ title: 'reg.done_dialog_title', body: result.status === 'active' ? 'reg.done_dialog_active' : 'reg.done_dialog_pending', okId: 'done-ok' });
  resetWizard();
  if (fromSignIn && result.status === 'active') {
    // Came from 登入: the person wanted to be signed in. The account is new
    // and active; sign in with what was just set (no second browser trip).
    try {
      await invoke('sign_in_password', { email: result.account.email, password: input.password, staySignedIn: false });
      await show('account');
      return;
    } catch (e) {
      showError(e);
    }
  }
  await show('registered', { result });
}

function statusText(text) {
  const el = document.getElementById('reg-status');
  if (el) el.textContent = text;
}

/** The 同意書 is missing or changed: agree again, then back to the form. */
async function consentAgain() {
  await dialog({ title: 'reg.terms_changed_title', body: 'reg.terms_again', okId: 'terms-changed-ok' });
  wiz.terms_version = null;
  if (wiz.identity === 'staff' && wiz.county) wiz.fromSignIn = true;
  await show('register', { step: 'consent' });
}

async function submitFailed(e) {
  if (e.code === 'terms.outdated') return consentAgain();
  if (e.code === 'token.expired' || e.code === 'token.invalid' || e.code === 'token.replayed' || e.code === 'session.county_identity_missing') {
    await dialog({ title: 'reg.county_again_title', body: `error.${e.code}`, okId: 'county-again-ok' });
    await show('register', { step: 'county' });
    return;
  }
  if (e.field === 'terms') return consentAgain();
  if (e.field && setFieldError(e.field, e)) {
    (document.getElementById(e.field) || document.querySelector(`#${e.field}-field input`))?.focus();
  }
  if (e.field) {
    statusText(namedError(e));
  } else if (isOutage(e)) {
    // Nothing is lost: the form keeps every value; 重試 sends it again.
    statusText(`${errorText(e)} ${t('reg.kept_retry')}`);
    document.getElementById('reg-status').append(' ', h('button', { type: 'button', class: 'link', id: 'reg-retry', onclick: submit }, t('problem.retry')));
  } else {
    statusText(`${errorText(e)} ${t('reg.form_error_hint')}`);
  }
}

screen('registered', (root, { result }) => {
  const active = result.status === 'active';
  root.append(h('section', { class: 'card', id: 'registered' },
    h('h1', { 'data-i18n': active ? 'done.title_active' : 'done.title_pending' }),
    h('p', { id: 'registered-account' }, t('done.account', { account: result.account.email })),
    h('p', { 'data-i18n': active ? 'done.how_to_sign_in' : 'done.check_mail' }),
    !active && state.info?.environment === 'sandbox'
      ? h('p', {}, h('button', { id: 'open-outbox', type: 'button', class: 'link', 'data-i18n': 'done.open_outbox', onclick: () => invoke('open_outbox').catch(showError) }))
      : null,
    h('div', { class: 'actions' },
      !active ? h('button', { id: 'done-resend', type: 'button', 'data-i18n': 'signin.resend', onclick: () => show('resend', { email: result.account.email }) }) : null,
      h('button', { id: 'done-sign-in', type: 'button', class: 'primary', 'data-i18n': 'home.sign_in', onclick: () => show('sign-in') }))));
});

