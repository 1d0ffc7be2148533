// Flow B: 教育雲單一登入 — member sign-in, county Open ID through the system
// browser, 保持登入狀態, the 登入成功 dialog and the account screen.
import { invoke } from './ipc.js';
import { t, language, errorText } from './i18n.js';
import { h } from './dom.js';
import { field, formStatus, setStatus, setFieldError, dialog } from './form.js';
import { screen, show, state, showError, slowAction, isOutage, trouble, toast } from './router.js';
import { countyName, rememberCounties } from './counties.js';

// County IdP health (the county page's 測試服務是否正常?), checked once per
// window session and again on request: code → {ok, code, at}.
const health = {};
const HEALTH_TTL_MS = 5 * 60 * 1000;

/** The county drop-down in the seed's order, preselecting the default. */
export async function countySelect(id) {
  const info = await invoke('counties');
  rememberCounties(info.counties);
  const select = h('select', { id, name: id, 'aria-describedby': `${id}-error ${id}-health` });
  for (const c of info.counties) {
    const opt = h('option', { value: c.code }, countyName(c.code));
    if (c.code === info.default_county.value) opt.selected = true;
    select.append(opt);
  }
  const note = h('p', { id: `${id}-health`, class: 'hint health', 'aria-live': 'polite' });
  const test = h('button', { id: `${id}-test`, type: 'button', class: 'link', onclick: () => checkCounty(select, note, select.value, true) }, t('county.test'));
  select.addEventListener('change', () => showHealth(select, note));
  // Marks counties whose Open ID service does not answer (never blocks).
  checkAll(select, note, info.counties.map((c) => c.code));
  return { select, info, note, test };
}

function checkAll(select, note, codes) {
  const now = Date.now();
  for (const code of codes) {
    // A county that answered recently is not asked again; one that failed is.
    if (health[code]?.ok && now - health[code].at < HEALTH_TTL_MS) continue;
    checkCounty(select, note, code, false);
  }
  showHealth(select, note);
}

async function checkCounty(select, note, code, announce) {
  if (announce) note.textContent = t('county.testing', { county: countyName(code) });
  const started = Date.now();
  let result;
  try {
    const r = await invoke('check_county', { county: code });
    result = { ok: r.ok, code: r.error, at: Date.now(), announced: announce };
  } catch (e) {
    result = { ok: false, code: e.code, at: Date.now(), announced: announce };
  }
  // A check that started earlier and ended later does not replace a newer answer.
  if (!health[code] || health[code].at < started) health[code] = result;
  showHealth(select, note);
}

function showHealth(select, note) {
  for (const opt of select.options) {
    const down = health[opt.value] && !health[opt.value].ok;
    opt.textContent = down ? `${countyName(opt.value)} ${t('county.down_mark')}` : countyName(opt.value);
    if (down) opt.dataset.health = 'down'; else delete opt.dataset.health;
  }
  const now = health[select.value];
  if (now && !now.ok) {
    note.textContent = t('county.down', { county: countyName(select.value) });
    note.classList.add('warn');
  } else {
    // "正常" only after the person asked (測試服務是否正常?).
    note.textContent = now && now.announced ? t('county.up', { county: countyName(select.value) }) : '';
    note.classList.remove('warn');
  }
}

screen('sign-in', async (root) => {
  const status = await invoke('session_status').catch(() => null);
  const keychain = status?.keychain || { available: false, reason: 'keychain.unavailable' };
  const { select, info, note, test } = await countySelect('county');
  const stay = h('input', { id: 'stay-signed-in', type: 'checkbox', disabled: !keychain.available || null, 'aria-describedby': 'stay-signed-in-reason' });
  const memberForm = h('form', { id: 'member-form', class: 'card', novalidate: true, onsubmit: (e) => { e.preventDefault(); memberSignIn(stay.checked); } },
    h('h2', { 'data-i18n': 'signin.member_title' }),
    field({ id: 'member-email', label: 'signin.email', type: 'email', autocomplete: 'username', required: true }),
    field({ id: 'member-password', label: 'signin.password', type: 'password', autocomplete: 'current-password', required: true }),
    formStatus('member-status'),
    h('div', { class: 'actions' }, h('button', { id: 'member-login', type: 'submit', class: 'primary', 'data-i18n': 'signin.login' })),
  );
  const countyForm = h('form', { id: 'county-form', class: 'card', onsubmit: (e) => { e.preventDefault(); countySignIn(select.value, stay.checked, 'sign-in'); } },
    h('h2', { 'data-i18n': 'signin.county_title' }),
    h('div', { class: 'field' },
      h('div', { class: 'label-row' },
        h('label', { for: 'county', 'data-i18n': 'signin.choose_county' }),
        info.default_county.locked ? h('span', { class: 'lock', 'data-i18n': 'policy.managed' }) : null),
      select,
      note,
      test,
      h('div', { id: 'county-error', class: 'error', 'aria-live': 'polite' })),
    formStatus('county-status'),
    h('div', { class: 'actions' }, h('button', { id: 'county-login', type: 'submit', class: 'primary', 'data-i18n': 'signin.login' })),
  );
  root.append(
    h('h1', { 'data-i18n': 'signin.title' }),
    h('div', { class: 'two-up' }, memberForm, countyForm),
    h('div', { class: 'card stay' },
      h('div', { class: 'check' }, stay, h('label', { for: 'stay-signed-in', 'data-i18n': 'signin.stay_signed_in' })),
      h('p', { id: 'stay-signed-in-reason', class: 'hint', 'data-i18n': keychain.available ? 'signin.stay_hint' : `keychain.reason.${keychain.reason || 'keychain.unavailable'}` }),
    ),
    h('nav', { class: 'links', 'aria-label': t('signin.more') },
      h('button', { id: 'link-reset', type: 'button', class: 'link', 'data-i18n': 'signin.reset_password', onclick: () => show('reset-password') }),
      ' | ',
      h('button', { id: 'link-resend', type: 'button', class: 'link', 'data-i18n': 'signin.resend', onclick: () => show('resend') }),
      state.info?.registration_enabled === false ? null : ' | ',
      state.info?.registration_enabled === false ? null
        : h('button', { id: 'link-join', type: 'button', class: 'link', 'data-i18n': 'signin.join', onclick: () => show('register') }),
    ),
    h('div', { class: 'actions' }, h('button', { type: 'button', id: 'back-home', 'data-i18n': 'common.back_home', onclick: () => show('home') })),
  );
});

async function memberSignIn(stay) {
  const email = document.getElementById('member-email').value;
  const pw = document.getElementById('member-password');
  setStatus('member-status', null);
  setFieldError('member-email', null);
  const password = pw.value;
  pw.value = '';
  const res = await slowAction(document.getElementById('member-login'), 'member-status',
    () => invoke('sign_in_password', { email, password, staySignedIn: stay }),
    // 取消 was pressed but the service signed in after all: do not leave a
    // session the person walked away from.
    (late) => { if (late.ok) invoke('sign_out', { all: false }).catch(() => {}); });
  if (res.cancelled) return;
  if (res.ok) {
    await signedIn(res.value);
    return;
  }
  const e = res.error;
  if (e.field === 'email') setFieldError('member-email', e);
  setStatus('member-status', e);
  if (e.code === 'auth.not_activated') {
    const el = document.getElementById('member-status');
    el.append(' ', h('button', { type: 'button', class: 'link', id: 'member-resend', onclick: () => show('resend', { email }) }, t('signin.resend')));
  }
  if (isOutage(e)) addRetry('member-status', 'member-retry', () => memberSignIn(stay));
}

/** A 重試 button after a form-level error that a retry may fix. */
function addRetry(slotId, id, again) {
  const el = document.getElementById(slotId);
  if (!el) return;
  el.append(' ', h('button', { type: 'button', class: 'link', id, onclick: again }, t('problem.retry')));
}

/**
 * Starts a county sign-in in the system browser and shows the waiting screen.
 * `purpose` is 'sign-in' or 'register'. Resolves to the outcome or null.
 */
export async function countySignIn(county, stay, purpose) {
  setStatus('county-status', null);
  const button = document.getElementById(purpose === 'register' ? 'reg-county-login' : 'county-login');
  const started = await slowAction(button, 'county-status',
    () => invoke('start_county_sign_in', { county, staySignedIn: stay }),
    (late) => { if (late.ok) invoke('cancel_sign_in').catch(() => {}); });
  if (started.cancelled) return null;
  if (!started.ok) {
    // The county's service did not answer: said in words, with 重試 and home.
    await show('sign-in-failed', { error: started.error, purpose, county });
    return null;
  }
  await show('waiting', { pending: started.value, purpose });
  try {
    const outcome = await invoke('finish_county_sign_in');
    if (outcome.kind === 'signed_in') {
      await signedIn(outcome.account);
    } else if (purpose === 'sign-in') {
      // Signed in at the county, but no Education Cloud account yet.
      await show('not-registered', { identity: outcome.identity });
    } else {
      await show('register', { identity: outcome.identity });
    }
    return outcome;
  } catch (e) {
    if (e.code === 'signin.cancelled') {
      await show(purpose === 'register' ? 'register' : 'sign-in', purpose === 'register' ? { step: 'county' } : {});
      return null;
    }
    await show('sign-in-failed', { error: e, purpose, county });
    return null;
  }
}

screen('waiting', (root, { pending }) => {
  const url = h('input', { id: 'authorize-url', type: 'text', readonly: true, value: pending.authorize_url, 'aria-labelledby': 'authorize-url-label' });
  url.value = pending.authorize_url;
  root.append(
    h('section', { class: 'card waiting', 'aria-busy': 'true' },
      h('h1', {}, t('waiting.title', { county: countyName(pending.county) })),
      // No browser could be started: said at once, the link is the way on.
      pending.browser_opened === false
        ? h('p', { id: 'browser-failed', class: 'form-status', role: 'alert' }, t('error.browser.launch_failed'))
        : h('p', { 'data-i18n': 'waiting.body' }),
      h('div', { class: 'spinner', role: 'progressbar', 'aria-label': t('waiting.progress') }),
      h('p', { id: 'authorize-url-label', class: 'hint', 'data-i18n': 'waiting.copy_hint' }),
      url,
      h('div', { class: 'actions' },
        h('button', { id: 'waiting-reopen', type: 'button', 'data-i18n': 'waiting.reopen', onclick: () => invoke('reopen_browser').catch(showError) }),
        h('button', { id: 'waiting-copy', type: 'button', 'data-i18n': 'waiting.copy', onclick: () => copyLink(url) }),
        h('button', { id: 'waiting-cancel', type: 'button', 'data-i18n': 'common.cancel', onclick: () => invoke('cancel_sign_in').catch(showError) }),
      ),
      h('p', { id: 'copy-status', class: 'hint', 'aria-live': 'polite' }),
    ),
  );
});

async function copyLink(input) {
  input.select();
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    document.execCommand && document.execCommand('copy');
  }
  document.getElementById('copy-status').textContent = t('waiting.copied');
}

screen('sign-in-failed', (root, { error, purpose, county }) => {
  const kind = trouble(error);
  const title = { outage: 'failed.title_outage', tls: 'problem.title_tls', proxy: 'problem.title_proxy' }[kind] || 'failed.title';
  const hint = kind === 'outage' && county ? t('failed.hint_outage', { county: countyName(county) })
    : kind === 'tls' ? t('problem.hint_tls') : kind === 'proxy' ? t('problem.hint_proxy') : null;
  root.append(
    h('section', { class: 'card problem' },
      h('h1', { 'data-i18n': title }),
      h('p', { id: 'failed-reason', role: 'alert' }, errorText(error)),
      hint ? h('p', { class: 'hint', id: 'failed-hint' }, hint) : null,
      h('div', { class: 'actions' },
        h('button', { id: 'failed-retry', type: 'button', class: 'primary', 'data-i18n': 'failed.retry', onclick: () => show(purpose === 'register' ? 'register' : 'sign-in', purpose === 'register' ? { step: 'county' } : {}) }),
        h('button', { id: 'failed-home', type: 'button', 'data-i18n': 'common.back_home', onclick: () => show('home') }),
      ),
    ),
  );
});

// 你的 Open ID 尚未註冊教育雲帳號: the county said who this is, Education
// Cloud has no account for it. Registration continues with that identity.
screen('not-registered', (root, { identity }) => {
  root.append(
    h('section', { class: 'card', id: 'not-registered' },
      h('h1', { 'data-i18n': 'notreg.title' }),
      h('p', { id: 'not-registered-who' }, t('notreg.who', { county: countyName(identity.county), name: identity.name || identity.preferred_username || '' })),
      h('p', { 'data-i18n': 'notreg.body' }),
      h('div', { class: 'actions' },
        h('button', { id: 'not-registered-home', type: 'button', 'data-i18n': 'common.back_home', onclick: () => show('home') }),
        h('button', { id: 'not-registered-register', type: 'button', class: 'primary', 'data-i18n': 'notreg.register',
          onclick: () => show('register', { identity, fromSignIn: true }) }),
      ),
    ),
  );
});

/** The seed's 登入成功 dialog, then the account screen. */
export async function signedIn(account) {
  const who = account?.display_name || account?.nickname || account?.email || '';
  await dialog({ title: 'success.title', body: t('success.body', { name: who }), okId: 'success-ok' });
  await show('account', { account });
}

const SERVICES = ['portal', 'market', 'pedia', 'video'];
const METHODS = ['county', 'password', 'refresh', 'restore'];

/** Who is signed in, in words: 職稱 is the role and title, the school apart. */
function schoolText(a) {
  if (a.school_name) return a.school_name;
  if (a.school_id) return t('account.school_code', { code: a.school_id });
  return '';
}

screen('account', async (root) => {
  const status = await invoke('session_status');
  const a = status.account;
  if (!a) return show('sign-in');
  const who = [
    ['account.name', a.display_name || a.nickname || ''],
    ['account.account', a.email],
    ['account.county', countyName(a.county)],
    ['account.school', schoolText(a)],
    ['account.title_label', [a.role, a.title].filter(Boolean).join(' · ')],
    ['account.stay', t(status.stay_signed_in ? 'common.yes' : 'common.no')],
  ].filter(([, v]) => v);
  root.append(...[
    h('section', { class: 'card' },
      h('h1', { 'data-i18n': 'account.title' }),
      // 保持登入狀態 was asked for but the keychain refused it: said, not silent.
      status.stay_signed_in_problem
        ? h('p', { class: 'banner-inline', id: 'stay-problem', role: 'status' },
          `${t('error.session.stay_signed_in_failed')} ${errorText({ code: status.stay_signed_in_problem })}`)
        : null,
      h('dl', { id: 'account-details', class: 'details' }, who.map(([k, v]) => [h('dt', { 'data-i18n': k }), h('dd', {}, v)])),
      h('div', { class: 'actions' },
        h('button', { id: 'sign-out', type: 'button', class: 'primary', 'data-i18n': 'account.sign_out', onclick: () => signOut(a) }),
        h('button', { id: 'add-account', type: 'button', 'data-i18n': 'account.add', onclick: () => show('sign-in') }),
      ),
    ),
    h('section', { class: 'card' },
      h('h2', { 'data-i18n': 'account.services' }),
      h('p', { class: 'hint', 'data-i18n': 'account.services_hint' }),
      h('ul', { class: 'services' }, SERVICES.map((s) => h('li', {},
        h('button', { type: 'button', class: 'link', id: `service-${s}`, 'data-i18n': `service.${s}`, onclick: () => openService(s) })))),
      h('p', { id: 'service-status', class: 'form-status', role: 'alert', 'aria-live': 'assertive' }),
    ),
    knownAccounts(status.known_accounts, a.email),
    h('section', { class: 'card' },
      h('h2', { 'data-i18n': 'account.history' }),
      h('table', { id: 'history', class: 'history' },
        h('thead', {}, h('tr', {}, ['history.time', 'history.method', 'history.county', 'history.outcome'].map((k) => h('th', { scope: 'col', 'data-i18n': k })))),
        h('tbody', {}, status.history.map((e) => h('tr', {},
          h('td', {}, new Date(e.at).toLocaleString(language() === 'en' ? 'en' : 'zh-TW')),
          h('td', {}, t(METHODS.includes(e.method) ? `history.method.${e.method}` : 'history.method.other')),
          h('td', {}, countyName(e.county)),
          h('td', {}, e.outcome === 'ok' ? t('history.ok') : errorText({ code: e.outcome })))))),
    ),
  ].filter(Boolean));
});

/** 這台電腦上的帳號: switch to a kept account, or remove one from this PC. */
function knownAccounts(known, current) {
  if (!known.length) return null;
  return h('section', { class: 'card' },
    h('h2', { 'data-i18n': 'account.known' }),
    h('p', { class: 'hint', 'data-i18n': 'account.known_hint' }),
    h('ul', { id: 'known-accounts', class: 'known' }, known.map((k, i) => h('li', { dataset: { account: k.account } },
      h('span', { class: 'who' }, k.display_name ? `${k.display_name} · ${k.account}` : k.account),
      k.account === current
        ? h('span', { class: 'hint' }, t('account.current'))
        : k.other_service
          ? h('span', { class: 'hint', id: `other-service-${i}` }, t('account.other_service'))
          : h('button', { type: 'button', class: 'link', id: `switch-${i}`, 'aria-label': t('account.switch_to', { account: k.account }), onclick: () => switchTo(k.account) }, t('account.switch')),
      h('button', { type: 'button', class: 'link danger', id: `remove-${i}`, 'aria-label': t('account.remove_label', { account: k.account }), onclick: () => removeAccount(k.account, k.account === current) }, t('account.remove'))))),
    h('p', { id: 'known-status', class: 'form-status', role: 'alert', 'aria-live': 'assertive' }));
}

function switchTo(account) {
  return show('switching', { account });
}

// Switching signs in silently from the keychain (it may wait for the
// service: the router shows the spinner with 取消 meanwhile).
screen('switching', async (root, { account }) => {
  try {
    await invoke('switch_account', { account });
  } catch (e) {
    if (state.screen !== 'switching') return;
    // The kept session is gone or the service does not answer: say so,
    // and offer signing in again or going back.
    root.append(h('section', { class: 'card problem', id: 'switch-failed' },
      h('h1', { 'data-i18n': 'account.switch_failed_title' }),
      h('p', { id: 'switch-failed-reason', role: 'alert' }, errorText(e)),
      h('div', { class: 'actions' },
        h('button', { id: 'switch-failed-sign-in', type: 'button', class: 'primary', 'data-i18n': 'home.sign_in', onclick: () => show('sign-in') }),
        h('button', { id: 'switch-failed-home', type: 'button', 'data-i18n': 'common.back_home', onclick: () => show('home') }))));
    return;
  }
  // 取消 was pressed meanwhile: stay where the person went.
  if (state.screen === 'switching') return show('account');
});

async function removeAccount(account, isCurrent) {
  const sure = await dialog({ title: 'account.remove_title', body: t('account.remove_body', { account }), okId: 'remove-confirm', cancel: true });
  if (!sure) return;
  try {
    const out = await invoke('remove_account', { account });
    if (out && out.notice) showError({ code: out.notice });
  } catch (e) {
    setStatus('known-status', e);
    return;
  }
  await show(isCurrent ? 'home' : 'account');
}

/**
 * 登出, with two choices for a shared PC without a SharedDevice policy: also
 * end the county's browser session, and also remove the account from this
 * PC (its keychain entry, its row and its history) — nothing left behind.
 */
async function signOut(a) {
  const shared = !!state.info?.shared_device;
  const countyBox = a.county ? h('input', { type: 'checkbox', id: 'sign-out-county', checked: shared || null }) : null;
  const forgetBox = h('input', { type: 'checkbox', id: 'sign-out-forget', checked: shared || null });
  const body = h('span', {},
    countyBox ? h('span', { class: 'check' }, countyBox, h('label', { for: 'sign-out-county' }, t('signout.county', { county: countyName(a.county) }))) : null,
    h('span', { class: 'check' }, forgetBox, h('label', { for: 'sign-out-forget' }, t('signout.forget'))),
    h('span', { class: 'hint block' }, t('signout.shared_hint')));
  const sure = await dialog({ title: 'signout.title', body, okId: 'sign-out-confirm', cancel: true, okLabel: 'account.sign_out' });
  if (!sure) return;
  await show('signing-out', { endCounty: !!countyBox?.checked, forget: forgetBox.checked, county: a.county });
}

// Signing out may wait for the service (revocation): spinner with 取消
// meanwhile; the local part (keychain, session) is done either way.
screen('signing-out', async (root, { endCounty, forget, county }) => {
  try {
    const out = await invoke('sign_out', { all: false, endCountySession: endCounty, forget });
    // Signed out here, but the service could not be told: said, not silent.
    if (out && out.notice) showError({ code: out.notice });
    // The county's browser session was asked to end, but this session (a
    // restored or switched one) carries no logout page: say so, not silent.
    else if (endCounty && out && !out.end_session_opened) toast(t('signout.county_not_ended', { county: countyName(county) }));
  } catch (e) {
    showError(e);
  }
  if (state.screen === 'signing-out') return show('home');
});

async function openService(service) {
  setStatus('service-status', null);
  try {
    // A one-time link signs the browser in; the link itself never comes here.
    await invoke('open_service_signed_in', { service });
  } catch (e) {
    setStatus('service-status', e);
  }
}

function simpleEmailScreen(name, { title, body, command, done }) {
  screen(name, (root, params = {}) => {
    const send = async () => {
      setStatus(`${name}-status`, null);
      setFieldError(`${name}-email`, null);
      const res = await slowAction(document.getElementById(`${name}-submit`), `${name}-status`,
        () => invoke(command, { email: document.getElementById(`${name}-email`).value }));
      if (res.cancelled) return;
      if (res.ok) return setStatus(`${name}-status`, done, true);
      const err = res.error;
      if (err.field) setFieldError(`${name}-email`, err); else setStatus(`${name}-status`, err);
      if (isOutage(err)) addRetry(`${name}-status`, `${name}-retry`, send);
    };
    const form = h('form', { id: `${name}-form`, class: 'card', novalidate: true, onsubmit: (e) => { e.preventDefault(); send(); } },
      h('h1', { 'data-i18n': title }),
      h('p', { 'data-i18n': body }),
      field({ id: `${name}-email`, label: 'signin.email', type: 'email', required: true, value: params.email || '' }),
      formStatus(`${name}-status`),
      h('div', { class: 'actions' },
        h('button', { id: `${name}-submit`, type: 'submit', class: 'primary', 'data-i18n': 'common.submit' }),
        h('button', { type: 'button', 'data-i18n': 'common.back', onclick: () => show('sign-in') })));
    root.append(form);
  });
}

simpleEmailScreen('reset-password', { title: 'reset.title', body: 'reset.body', command: 'request_password_reset', done: 'reset.done' });
simpleEmailScreen('resend', { title: 'resend.title', body: 'resend.body', command: 'resend_activation', done: 'resend.done' });
