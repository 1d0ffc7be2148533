// 設定 / 關於: which Education Cloud this app uses and where that choice
// came from (IT policy 🔒, the person, the developer's variable), the
// version, 檢查更新; the first-run service choice; the notices the window
// shows once (an update ready to install, a damaged local store).
import { invoke } from './ipc.js';
import { t, errorText } from './i18n.js';
import { h } from './dom.js';
import { field, formStatus, setStatus, setFieldError } from './form.js';
import { screen, show, state, slowAction } from './router.js';

const KINDS = ['production', 'custom', 'sandbox'];

/** 教育雲 (教育部) / 機構的服務 / 示範環境, in words. */
export function serviceName(kind) {
  return t(`service_kind.${kind}`);
}

/** The three choices as labelled radio buttons, with the URL field. */
function serviceChoices(current, url) {
  const radio = (kind) => h('div', { class: 'choice' },
    h('input', { type: 'radio', name: 'service-kind', id: `service-kind-${kind}`, value: kind, checked: current === kind || null, 'aria-describedby': `service-kind-${kind}-hint` }),
    h('label', { for: `service-kind-${kind}` },
      h('strong', {}, serviceName(kind)),
      h('span', { id: `service-kind-${kind}-hint`, class: 'hint' }, t(`service_kind.${kind}_hint`))));
  const urlField = field({ id: 'service-url', label: 'settings.service_url', type: 'url', hint: 'settings.service_url_hint', value: url || '', inputmode: 'url' });
  const box = h('fieldset', { class: 'choices', id: 'service-choices' },
    h('legend', {}, t('settings.service')),
    KINDS.map(radio),
    urlField);
  const sync = () => {
    const kind = box.querySelector('input[name=service-kind]:checked')?.value;
    urlField.hidden = kind !== 'custom';
  };
  box.addEventListener('change', sync);
  sync();
  return box;
}

/** Saves the choice (the core checks an organisation's URL first). */
async function saveChoice(button, statusId, after) {
  const kind = document.querySelector('input[name=service-kind]:checked')?.value;
  setStatus(statusId, null);
  setFieldError('service-url', null);
  if (!kind) return setStatus(statusId, 'settings.pick_service');
  const url = kind === 'custom' ? document.getElementById('service-url').value.trim() : null;
  const res = await slowAction(button, statusId, () => invoke('choose_service', { kind, url }));
  if (res.cancelled) return;
  if (!res.ok) {
    const e = res.error;
    if (kind === 'custom' && (e.field === 'service_url' || e.field === 'url' || e.code.startsWith('network.') || e.code.startsWith('service.'))) {
      setFieldError('service-url', e);
      document.getElementById('service-url').focus();
      return;
    }
    setStatus(statusId, e);
    return;
  }
  state.info = await invoke('app_info').catch(() => state.info);
  document.getElementById('demo-badge').hidden = state.info?.environment !== 'sandbox' || state.info?.needs_service_choice;
  await after(res.value || {});
}

// ---- First run: asked once when nothing decides the service ----
screen('first-run', (root) => {
  root.append(h('form', { class: 'card', id: 'first-run', novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    saveChoice(document.getElementById('first-run-save'), 'first-run-status', () => show('home'));
  } },
  h('h1', { 'data-i18n': 'firstrun.title' }),
  h('p', { 'data-i18n': 'firstrun.lead' }),
  serviceChoices(null, ''),
  h('p', { class: 'hint', 'data-i18n': 'firstrun.later' }),
  formStatus('first-run-status'),
  h('div', { class: 'actions' },
    h('button', { id: 'first-run-save', type: 'submit', class: 'primary', 'data-i18n': 'common.ok' }))));
});

// ---- 設定 / 關於 ----
screen('settings', async (root) => {
  const info = await invoke('app_info');
  state.info = info;
  const env = info.environment;
  const source = info.environment_locked ? 'policy' : (info.environment_origin || 'default');
  const current = h('dl', { class: 'details', id: 'settings-current' },
    h('dt', {}, t('settings.service')),
    h('dd', { id: 'settings-service' }, serviceName(env),
      info.service_url && env !== 'sandbox' ? h('span', { class: 'hint block', id: 'settings-service-url' }, info.service_url) : null),
    h('dt', {}, t('settings.source')),
    h('dd', { id: 'settings-source' }, info.environment_locked ? h('span', { class: 'locked' }, `🔒 ${t('policy.managed')}`) : t(`settings.source.${source}`)),
    h('dt', {}, t('settings.version')),
    h('dd', { id: 'settings-version' }, info.version || ''),
  );
  const change = info.environment_locked || source === 'environment' ? null : h('form', { class: 'card', id: 'settings-change', novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    saveChoice(document.getElementById('settings-save'), 'settings-status', async (chosen) => {
      await show('settings');
      setStatus('settings-status', chosen.restart_needed ? 'settings.saved_restart' : 'settings.saved', true);
    });
  } },
  h('h2', { 'data-i18n': 'settings.change' }),
  h('p', { class: 'hint', 'data-i18n': 'settings.change_hint' }),
  serviceChoices(env, env === 'custom' ? info.service_url : ''),
  formStatus('settings-status'),
  h('div', { class: 'actions' }, h('button', { id: 'settings-save', type: 'submit', class: 'primary', 'data-i18n': 'settings.save' })));
  const updates = info.updates_enabled === false ? null : h('section', { class: 'card', id: 'settings-updates' },
    h('h2', { 'data-i18n': 'settings.updates' }),
    h('p', { id: 'update-result', class: 'form-status', role: 'status', 'aria-live': 'polite' }),
    h('div', { class: 'actions' },
      h('button', { id: 'check-update', type: 'button', 'data-i18n': 'settings.check_update', onclick: checkUpdate })));
  root.append(...[
    h('section', { class: 'card' },
      h('h1', { 'data-i18n': 'settings.title' }),
      current,
      info.environment_locked ? h('p', { class: 'hint', id: 'settings-locked' }, t('settings.locked_hint')) : null,
      source === 'environment' ? h('p', { class: 'hint' }, t('settings.env_hint')) : null),
    change,
    updates,
    h('section', { class: 'card', id: 'settings-help' },
      h('h2', { 'data-i18n': 'settings.help' }),
      portalLinks()),
    h('div', { class: 'actions' }, h('button', { id: 'settings-home', type: 'button', 'data-i18n': 'common.back_home', onclick: () => show('home') })),
  ].filter(Boolean));
});

async function checkUpdate() {
  setStatus('update-result', null);
  const res = await slowAction(document.getElementById('check-update'), 'update-result', () => invoke('check_for_update'));
  if (res.cancelled) return;
  const el = document.getElementById('update-result');
  if (!res.ok) {
    el.textContent = errorText(res.error);
    return;
  }
  const u = res.value || {};
  if (u.status === 'downloaded') {
    el.textContent = t('update.ready', { version: u.version || '' });
    showUpdateNotice(u);
  } else if (u.status === 'skipped') {
    const known = ['policy', 'demo', 'debug', 'override', 'no_endpoint'];
    el.textContent = t(`update.skipped.${known.includes(u.reason) ? u.reason : 'other'}`);
  } else {
    el.textContent = t('update.none');
  }
}

/** The portal's 常見問題 | 聯絡我們 | 隱私權政策 (opened in the system browser). */
export function portalLinks(prefix = 'portal') {
  const link = (page) => h('button', { type: 'button', class: 'link', id: `${prefix}-${page}`, onclick: () => invoke('open_portal_page', { page }).catch(() => {}) }, t(`portal.${page}`));
  return h('nav', { class: 'links portal', 'aria-label': t('portal.label') }, link('faq'), ' | ', link('contact'), ' | ', link('privacy'));
}

// ---- Notices shown once in the window ----
const notices = () => document.getElementById('notices');

/** 有新版本，重新啟動後更新 — with 立即重新啟動. */
export function showUpdateNotice(update) {
  if (document.getElementById('update-notice')) return;
  // Asking marks the update as told: only a told update is installed at exit.
  invoke('update_status').catch(() => {});
  notices().append(h('div', { class: 'banner info', id: 'update-notice', role: 'status' },
    h('span', { id: 'update-notice-text' }, t('update.notice', { version: update?.version || '' })),
    h('button', { type: 'button', id: 'update-restart', class: 'primary', onclick: async () => {
      try {
        await invoke('restart_to_update');
      } catch (e) {
        document.getElementById('update-notice-text').textContent = errorText(e);
      }
    } }, t('update.restart'))));
}

/** What was lost when the local store was damaged (told once). */
export function showStoreNotice(notice) {
  if (document.getElementById('store-notice')) return;
  notices().append(h('div', { class: 'banner warn', id: 'store-notice', role: 'alert' },
    h('p', { id: 'store-notice-text' }, t('store.notice', { file: notice.moved_to || '' })),
    h('button', { type: 'button', id: 'store-notice-ok', onclick: async () => {
      await invoke('dismiss_store_notice').catch(() => {});
      document.getElementById('store-notice')?.remove();
    } }, t('common.ok'))));
}
