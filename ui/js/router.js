// The screen registry and shared UI state (no imports of screens: they
// import this module, so there is no cycle).
//
// Every screen ends in words and a way on: a screen that takes longer than
// a moment shows a spinner with 取消 (back home); a screen whose command
// fails shows what happened, 重試 and 回首頁 — never a blank window.
import { apply, errorText, t } from './i18n.js';
import { clear, h } from './dom.js';

const screens = {};
export const state = { info: null, screen: 'home', params: {} };

/** How long a screen may take before the spinner with 取消 appears. */
const SLOW_MS = 250;
/** Bumped on every navigation: a screen that finishes late is dropped. */
let ticket = 0;

/** Registers a screen: render(container, params) builds it. */
export function screen(name, render) {
  screens[name] = render;
}

export async function show(name, params = {}) {
  const mine = ++ticket;
  const root = document.getElementById('screen');
  const render = screens[name] || screens.home;
  state.screen = name;
  state.params = params;
  // The screen is built off-document, then swapped in whole.
  let page = document.createElement('div');
  const slow = setTimeout(() => {
    if (mine === ticket) busy(root, name);
  }, SLOW_MS);
  try {
    await render(page, params);
  } catch (e) {
    if (mine !== ticket) return;
    page = document.createElement('div');
    page.append(problem(e, () => show(name, params)));
  } finally {
    clearTimeout(slow);
  }
  // Superseded: the user pressed 取消, or the screen moved on by itself.
  if (mine !== ticket) return;
  clear(root);
  root.removeAttribute('aria-busy');
  for (const k of Object.keys(root.dataset)) delete root.dataset[k];
  Object.assign(root.dataset, page.dataset);
  root.dataset.screen = name;
  root.append(...page.childNodes);
  apply(root);
  const focus = root.querySelector('[autofocus]') || root.querySelector('h1');
  if (focus) {
    if (focus.tagName === 'H1') focus.setAttribute('tabindex', '-1');
    focus.focus();
  }
}

/** The waiting state of a screen still loading: a spinner and 取消. */
function busy(root, name) {
  clear(root);
  root.dataset.screen = 'loading';
  root.dataset.loading = name;
  root.setAttribute('aria-busy', 'true');
  root.append(h('section', { class: 'card busy', id: 'busy' },
    h('div', { class: 'spinner', role: 'progressbar', 'aria-label': t('busy.label') }),
    h('p', { id: 'busy-text' }, t('busy.label')),
    h('div', { class: 'actions' },
      h('button', { id: 'busy-cancel', type: 'button', onclick: () => show('home') }, t('common.cancel')))));
  root.querySelector('#busy-cancel').focus();
}

/**
 * What kind of trouble an error is: `tls` (a certificate this computer
 * cannot trust — not a network outage), `proxy` (the network's proxy
 * refused), `outage` (the service or the network did not answer well), or
 * `other`.
 */
export function trouble(err) {
  const code = (err && err.code) || '';
  if (code.startsWith('network.tls_')) return 'tls';
  if (code.startsWith('network.proxy_')) return 'proxy';
  if (code.startsWith('network.') || code.startsWith('server.')) return 'outage';
  return 'other';
}

/** Whether a retry later may help (outages; not certificates or proxies). */
export function isOutage(err) {
  return trouble(err) === 'outage';
}

const PROBLEM_WORDS = {
  tls: ['problem.title_tls', 'problem.hint_tls'],
  proxy: ['problem.title_proxy', 'problem.hint_proxy'],
  outage: ['problem.title_outage', 'problem.hint_outage'],
  other: ['problem.title', 'problem.hint'],
};

/**
 * A card saying what went wrong and what to try, with 重試 (`retry`) and
 * 回首頁. Used for any screen whose command failed.
 */
export function problem(err, retry) {
  const [title, hint] = PROBLEM_WORDS[trouble(err)];
  return h('section', { class: 'card problem', id: 'problem', dataset: { trouble: trouble(err) } },
    h('h1', { id: 'problem-title' }, t(title)),
    h('p', { id: 'problem-reason', role: 'alert' }, errorText(err)),
    h('p', { class: 'hint', id: 'problem-hint' }, t(hint)),
    h('div', { class: 'actions' },
      h('button', { id: 'problem-retry', type: 'button', class: 'primary', onclick: retry }, t('problem.retry')),
      h('button', { id: 'problem-home', type: 'button', onclick: () => show('home') }, t('common.back_home'))));
}

/** Redraws the current screen (after a language switch). */
export function redraw() {
  return show(state.screen, state.params);
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

/**
 * Runs a slow action started by `button` (e.g. 登入): the button waits, a
 * spinner with 取消 appears in `slotId` after a moment. Resolves to
 * `{ok, value}` / `{ok: false, error}`, or `{cancelled: true}` when the
 * person pressed 取消 (a late answer is then handed to `onLate`).
 */
export function slowAction(button, slotId, run, onLate = () => {}) {
  return new Promise((resolve) => {
    let settled = false;
    const slot = document.getElementById(slotId);
    if (button) button.disabled = true;
    const cancel = h('button', { type: 'button', id: `${slotId}-cancel`, onclick: () => finish({ cancelled: true }) }, t('common.cancel'));
    const spinner = h('div', { class: 'inline-busy', id: `${slotId}-busy` },
      h('span', { class: 'spinner small', role: 'progressbar', 'aria-label': t('busy.label') }),
      h('span', {}, t('busy.label')), cancel);
    const timer = setTimeout(() => { if (!settled && slot) slot.append(spinner); }, SLOW_MS);
    function finish(result) {
      if (settled) {
        if (!result.cancelled) onLate(result);
        return;
      }
      settled = true;
      clearTimeout(timer);
      spinner.remove();
      if (button) button.disabled = false;
      resolve(result);
    }
    run().then((value) => finish({ ok: true, value }), (error) => finish({ ok: false, error }));
  });
}
