// Flow B: 教育雲單一登入 — member sign-in, county Open ID through the system
// browser, 保持登入狀態, the 登入成功 dialog and the account screen.
import { invoke } from './ipc.js';
import { t, language } from './i18n.js';
import { h } from './dom.js';
import { field, formStatus, setStatus, setFieldError, dialog } from './form.js';
import { screen, show, state, showError } from './router.js';

export function countyName(c) {
  return language() === 'en' ? c.name_en : c.name_zh;
}

/** The county drop-down in the seed's order, preselecting the default. */
export async function countySelect(id) {
  const info = await invoke('counties');
  const select = h('select', { id, name: id, 'aria-describedby': `${id}-error` });
  for (const c of info.counties) {
    const opt = h('option', { value: c.code }, countyName(c));
    if (c.code === info.default_county.value) opt.selected = true;
    select.append(opt);
  }
  return { select, info };
}

screen('sign-in', async (root) => {
  const status = await invoke('session_status').catch(() => null);
  const keychain = status?.keychain || { available: false, reason: 'keychain.unavailable' };
  const { select, info } = await countySelect('county');
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
      ' | ',
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
  try {
    const account = await invoke('sign_in_password', { email, password: pw.value, staySignedIn: stay });
    pw.value = '';
    await signedIn(account);
  } catch (e) {
    pw.value = '';
    if (e.field === 'email') setFieldError('member-email', e);
    setStatus('member-status', e);
    if (e.code === 'auth.not_activated') {
      const el = document.getElementById('member-status');
      el.append(' ', h('button', { type: 'button', class: 'link', id: 'member-resend', onclick: () => show('resend', { email }) }, t('signin.resend')));
    }
  }
}

/**
 * Starts a county sign-in in the system browser and shows the waiting screen.
 * `purpose` is 'sign-in' or 'register'. Resolves to the outcome or null.
 */
export async function countySignIn(county, stay, purpose) {
  let pending;
  try {
    pending = await invoke('start_county_sign_in', { county, staySignedIn: stay });
  } catch (e) {
    setStatus('county-status', e);
    return null;
  }
  await show('waiting', { pending, purpose });
  try {
    const outcome = await invoke('finish_county_sign_in');
    if (outcome.kind === 'signed_in') {
      await signedIn(outcome.account);
    } else {
      // Not registered yet: offer registration with the same verified identity.
      await show('register', { identity: outcome.identity, fromSignIn: purpose === 'sign-in' });
    }
    return outcome;
  } catch (e) {
    if (e.code === 'signin.cancelled') {
      await show(purpose === 'register' ? 'register' : 'sign-in', purpose === 'register' ? { step: 'county' } : {});
      return null;
    }
    await show('sign-in-failed', { error: e, purpose });
    return null;
  }
}

screen('waiting', (root, { pending }) => {
  const url = h('input', { id: 'authorize-url', type: 'text', readonly: true, value: pending.authorize_url, 'aria-labelledby': 'authorize-url-label' });
  url.value = pending.authorize_url;
  root.append(
    h('section', { class: 'card waiting', 'aria-busy': 'true' },
      h('h1', {}, t('waiting.title', { county: pending.county_name })),
      h('p', { 'data-i18n': 'waiting.body' }),
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

screen('sign-in-failed', (root, { error, purpose }) => {
  root.append(
    h('section', { class: 'card' },
      h('h1', { 'data-i18n': 'failed.title' }),
      h('p', { id: 'failed-reason', role: 'alert' }, t(`error.${error.code}`) !== `error.${error.code}` ? t(`error.${error.code}`) : t('error.unknown', { code: error.code })),
      h('div', { class: 'actions' },
        h('button', { id: 'failed-retry', type: 'button', class: 'primary', 'data-i18n': 'failed.retry', onclick: () => show(purpose === 'register' ? 'register' : 'sign-in', purpose === 'register' ? { step: 'county' } : {}) }),
        h('button', { type: 'button', 'data-i18n': 'common.back_home', onclick: () => show('home') }),
      ),
    ),
  );
});

/** The seed's 登入成功 dialog, then the account screen. */
export async function signedIn(account) {
  await dialog({ title: 'success.title', body: 'success.body', okId: 'success-ok' });
  await show('account', { account });
}

const SERVICES = ['portal', 'market', 'pedia', 'video'];

screen('account', async (root) => {
  let status;
  try {
    status = await invoke('session_status');
  } catch (e) {
    showError(e);
    return show('home');
  }
  const a = status.account;
  if (!a) return show('sign-in');
  const who = [
    ['account.name', a.display_name || a.nickname || ''],
    ['account.account', a.email],
    ['account.county', a.county_name || ''],
    ['account.school', [a.school_name, a.role, a.title].filter(Boolean).join(' · ')],
    ['account.stay', t(status.stay_signed_in ? 'common.yes' : 'common.no')],
  ].filter(([, v]) => v);
  root.append(
    h('section', { class: 'card' },
      h('h1', { 'data-i18n': 'account.title' }),
      h('dl', { id: 'account-details', class: 'details' }, who.map(([k, v]) => [h('dt', { 'data-i18n': k }), h('dd', {}, v)])),
      h('div', { class: 'actions' },
        h('button', { id: 'sign-out', type: 'button', class: 'primary', 'data-i18n': 'account.sign_out', onclick: signOut }),
      ),
    ),
    h('section', { class: 'card' },
      h('h2', { 'data-i18n': 'account.services' }),
      h('ul', { class: 'services' }, SERVICES.map((s) => h('li', {},
        h('button', { type: 'button', class: 'link', id: `service-${s}`, 'data-i18n': `service.${s}`, onclick: () => invoke('open_service', { service: s }).catch(showError) })))),
    ),
    status.known_accounts.length > 1 ? h('section', { class: 'card' },
      h('h2', { 'data-i18n': 'account.known' }),
      h('ul', { id: 'known-accounts' }, status.known_accounts.map((k) => h('li', {},
        k.account, ' ',
        k.account === a.email ? h('span', { class: 'hint', 'data-i18n': 'account.current' })
          : h('button', { type: 'button', class: 'link', onclick: () => switchTo(k.account) }, t('account.switch'))))),
    ) : null,
    h('section', { class: 'card' },
      h('h2', { 'data-i18n': 'account.history' }),
      h('table', { id: 'history', class: 'history' },
        h('thead', {}, h('tr', {}, ['history.time', 'history.method', 'history.county', 'history.outcome'].map((k) => h('th', { scope: 'col', 'data-i18n': k })))),
        h('tbody', {}, status.history.map((e) => h('tr', {},
          h('td', {}, new Date(e.at).toLocaleString(language() === 'en' ? 'en' : 'zh-TW')),
          h('td', {}, t(`history.method.${e.method}`)),
          h('td', {}, e.county_name || e.county || ''),
          h('td', {}, e.outcome === 'ok' ? t('history.ok') : t(`error.${e.outcome}`)))))),
    ),
  );
});

async function switchTo(account) {
  try {
    await invoke('switch_account', { account });
    await show('account');
  } catch (e) {
    showError(e);
    await show('sign-in');
  }
}

async function signOut() {
  try {
    await invoke('sign_out', { all: false });
  } catch (e) {
    showError(e);
  }
  await show('home');
}

function simpleEmailScreen(name, { title, body, command, done }) {
  screen(name, (root, params = {}) => {
    const form = h('form', { id: `${name}-form`, class: 'card', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      setStatus(`${name}-status`, null);
      setFieldError(`${name}-email`, null);
      try {
        await invoke(command, { email: document.getElementById(`${name}-email`).value });
        setStatus(`${name}-status`, done, true);
      } catch (err) {
        if (err.field) setFieldError(`${name}-email`, err); else setStatus(`${name}-status`, err);
      }
    } },
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
