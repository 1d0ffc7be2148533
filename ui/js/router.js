// The screen registry and shared UI state (no imports of screens: they
// import this module, so there is no cycle).
import { apply, errorText } from './i18n.js';
import { clear } from './dom.js';

const screens = {};
export const state = { info: null, screen: 'home', params: {} };

/** Registers a screen: render(container, params) builds it. */
export function screen(name, render) {
  screens[name] = render;
}

export async function show(name, params = {}) {
  const root = document.getElementById('screen');
  clear(root);
  const render = screens[name] || screens.home;
  state.screen = name;
  state.params = params;
  root.dataset.screen = name;
  await render(root, params);
  apply(root);
  const focus = root.querySelector('[autofocus]') || root.querySelector('h1');
  if (focus) {
    if (focus.tagName === 'H1') focus.setAttribute('tabindex', '-1');
    focus.focus();
  }
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
