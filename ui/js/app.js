// The wizard's frame: language, environment badge, screen routing.
import { invoke } from './ipc.js';
import { setLanguage, language, apply, t, errorText } from './i18n.js';
import { h, clear } from './dom.js';

const screens = {};
export const state = { info: null };

/** Registers a screen: render(container, params) builds it. */
export function screen(name, render) {
  screens[name] = render;
}

export async function show(name, params = {}) {
  const root = document.getElementById('screen');
  clear(root);
  const render = screens[name] || screens.home;
  await render(root, params);
  apply(root);
  root.dataset.screen = name;
  const focus = root.querySelector('[autofocus]') || root.querySelector('h1');
  if (focus) {
    if (focus.tagName === 'H1') focus.setAttribute('tabindex', '-1');
    focus.focus();
  }
}

export function toast(message) {
  const el = document.getElementById('toast');
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (el.hidden = true), 6000);
}

export function showError(err) {
  toast(errorText(err));
}

screen('home', (root) => {
  root.append(
    h('section', { class: 'card home' },
      h('h1', { 'data-i18n': 'home.title' }),
      h('p', { class: 'lead', 'data-i18n': 'home.lead' }),
      h('div', { class: 'actions' },
        h('button', { id: 'home-sign-in', class: 'primary', type: 'button', 'data-i18n': 'home.sign_in', onclick: () => show('sign-in') }),
        state.info?.registration_enabled === false
          ? null
          : h('button', { id: 'home-register', type: 'button', 'data-i18n': 'home.register', onclick: () => show('register') }),
      ),
    ),
  );
});

async function switchLanguage(lang) {
  try {
    await invoke('set_language', { language: lang });
    await setLanguage(lang);
    markLanguage();
    await show(document.getElementById('screen').dataset.screen || 'home');
  } catch (e) {
    showError(e);
  }
}

function markLanguage() {
  document.querySelectorAll('button.lang').forEach((b) => {
    b.setAttribute('aria-pressed', String(b.dataset.lang === language()));
  });
}

async function start() {
  let info;
  try {
    info = await invoke('app_info');
  } catch (e) {
    info = { language: { value: 'zh-TW', locked: false }, environment: 'sandbox', registration_enabled: true };
  }
  state.info = info;
  await setLanguage(info.language.value);
  document.getElementById('demo-badge').hidden = info.environment !== 'sandbox';
  document.getElementById('version').textContent = info.version ? `v${info.version}` : '';
  const locked = info.language.locked;
  document.getElementById('lang-lock').hidden = !locked;
  document.querySelectorAll('button.lang').forEach((b) => {
    b.disabled = locked;
    b.addEventListener('click', () => switchLanguage(b.dataset.lang));
  });
  markLanguage();
  if (info.policy_problems && info.policy_problems.length) {
    const banner = document.getElementById('policy-banner');
    banner.textContent = t('policy.problems');
    banner.hidden = false;
  }
  await show('home');
  // Tell Rust the first screen is painted and live (launch → interactive).
  requestAnimationFrame(() => requestAnimationFrame(() => invoke('ui_ready').catch(() => {})));
}

// Screens register themselves; import them after the frame exists.
await Promise.all([]);
start();
