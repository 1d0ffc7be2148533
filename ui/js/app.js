// The wizard's frame: language, environment badge, home screen, start-up.
import { invoke, listen } from './ipc.js';
import { setLanguage, language, t, preload } from './i18n.js';
import { h, clear } from './dom.js';
import { screen, show, state, showError, redraw } from './router.js';
import { loadCountyNames } from './counties.js';
import { portalLinks, showUpdateNotice, showStoreNotice } from './settings.js';
import './signin.js';
import './register.js';

// The page's launch timeline, handed to Rust with ui_ready (diagnostics).
const marks = { module_start: performance.now() };

screen('home', async (root) => {
  // Nothing decides the service yet (a release's first run): ask first.
  if (state.info?.needs_service_choice) return show('first-run');
  // A stored "stay signed in" session was restored at launch: go straight in.
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
      state.info?.environment === 'sandbox'
        ? h('p', { class: 'hint', id: 'demo-hint' }, t('env.demo_hint'))
        : null,
    ),
  );
});

async function switchLanguage(lang) {
  try {
    await invoke('set_language', { language: lang });
    await setLanguage(lang);
    markLanguage();
    drawFooter();
    // A screen that is an action under way (signing out, switching) is not
    // run again for new words: it moves on by itself.
    if (!['signing-out', 'switching'].includes(state.screen)) await redraw();
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
  // The zh-TW catalog loads while Rust answers app_info.
  preload('zh-TW');
  let info;
  try {
    info = await invoke('app_info');
  } catch (e) {
    info = { language: { value: 'zh-TW', locked: false }, environment: 'sandbox', registration_enabled: true };
  }
  marks.app_info = performance.now();
  state.info = info;
  await setLanguage(info.language.value);
  marks.catalog = performance.now();
  // Nothing chosen yet (first run): no service to badge.
  document.getElementById('demo-badge').hidden = info.environment !== 'sandbox' || !!info.needs_service_choice;
  document.getElementById('version').textContent = info.version ? `v${info.version}` : '';
  document.getElementById('open-settings').addEventListener('click', () => show('settings'));
  drawFooter();
  loadCountyNames();
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
  // A release with nothing deciding the service asks once which to use.
  await show(info.needs_service_choice ? 'first-run' : 'home');
  marks.home = performance.now();
  if (info.store_notice) showStoreNotice(info.store_notice);
  watchUpdates();
  // Tell Rust the first screen is painted and live (launch → interactive).
  requestAnimationFrame(() => requestAnimationFrame(() => {
    performance.mark('educloud-ui-ready');
    invoke('ui_ready', { marks: launchMarks() }).catch(() => {});
  }));
  // Then, off the launch path: a session kept with 保持登入狀態 signs in silently.
  try {
    const restored = await invoke('restore_session');
    if (restored && state.screen === 'home') {
      await show('account');
      performance.mark('educloud-restored');
    }
  } catch (e) {
    if (e.code !== 'session.not_signed_in') showError(e);
  }
}

/** The footer's portal links, redrawn in the current language. */
function drawFooter() {
  const slot = document.getElementById('footer-links');
  clear(slot);
  slot.append(portalLinks('footer'));
}

/** 有新版本，重新啟動後更新: shown when an update has been downloaded. */
function watchUpdates() {
  if (state.info?.updates_enabled === false) return;
  // The event says a download finished; asking update_status marks the
  // update as told (only then is it installed at exit).
  listen('update-ready', () => {
    invoke('update_status').then((u) => { if (u && u.status === 'downloaded') showUpdateNotice(u); }).catch(() => {});
  }).catch(() => {});
  invoke('update_status').then((u) => { if (u && u.status === 'downloaded') showUpdateNotice(u); }).catch(() => {});
}

function launchMarks() {
  const out = { ...marks, painted: performance.now(), page_origin_ms: performance.timeOrigin };
  const nav = performance.getEntriesByType('navigation')[0];
  if (nav) {
    out.html_fetched = nav.responseEnd;
    out.dom_interactive = nav.domInteractive;
    out.dom_content_loaded = nav.domContentLoadedEventEnd;
  }
  for (const p of performance.getEntriesByType('paint')) out[p.name] = p.startTime;
  for (const r of performance.getEntriesByType('resource')) {
    out[`res.${r.name.split('/').pop()}`] = r.responseEnd;
  }
  return out;
}

start();
