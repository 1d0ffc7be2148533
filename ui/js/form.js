// Form building blocks: every field has a real <label for>, a hint, and an
// error slot announced politely to screen readers. Rules live in Rust: the
// error text comes from the code the command returns.
import { h } from './dom.js';
import { t, errorText } from './i18n.js';

/**
 * A labelled field. opts: {id, label (catalog key), type, required, hint,
 * autocomplete, readonly, value, suffix, help (catalog key for a ? toggle)}.
 */
export function field(opts) {
  const { id, label, type = 'text', required = false } = opts;
  const hintId = opts.hint ? `${id}-hint` : null;
  const errId = `${id}-error`;
  const input = h('input', {
    id, name: id, type,
    required: required || null,
    readonly: opts.readonly || null,
    autocomplete: opts.autocomplete || 'off',
    spellcheck: 'false',
    maxlength: opts.maxlength || 256,
    'aria-describedby': [hintId, errId].filter(Boolean).join(' '),
    'aria-required': required ? 'true' : null,
    inputmode: opts.inputmode || null,
  });
  if (opts.value !== undefined && opts.value !== null) input.value = opts.value;
  const labelEl = h('label', { for: id, class: required ? 'required' : null, 'data-i18n': label });
  let help = null;
  if (opts.help) {
    const helpId = `${id}-help`;
    // A list of catalog keys is the guide's numbered 說明; one key is a sentence.
    const panel = Array.isArray(opts.help)
      ? h('div', { id: helpId, class: 'help', hidden: true },
        h('p', { 'data-i18n': 'reg.help_heading' }),
        h('ol', {}, opts.help.map((k) => h('li', { 'data-i18n': k }))))
      : h('div', { id: helpId, class: 'help', hidden: true, 'data-i18n': opts.help });
    const toggle = h('button', {
      type: 'button', class: 'help-toggle', 'aria-expanded': 'false', 'aria-controls': helpId,
      'data-i18n-aria': `${label}.help_label`,
      onclick: () => {
        panel.hidden = !panel.hidden;
        toggle.setAttribute('aria-expanded', String(!panel.hidden));
      },
    }, '?');
    help = { toggle, panel };
  }
  return h('div', { class: 'field', id: `${id}-field` },
    h('div', { class: 'label-row' }, labelEl, help && help.toggle),
    help && help.panel,
    opts.suffix ? h('div', { class: 'with-suffix' }, input, h('span', { class: 'suffix' }, opts.suffix)) : input,
    opts.hint ? h('div', { id: hintId, class: 'hint', 'data-i18n': opts.hint }) : null,
    h('div', { id: errId, class: 'error', 'aria-live': 'polite' }),
  );
}

/** Shows (or clears) the error of one field from an ErrorDto. */
export function setFieldError(id, err) {
  const input = document.getElementById(id);
  const slot = document.getElementById(`${id}-error`);
  if (!slot) return false;
  slot.textContent = err ? errorText(err) : '';
  if (input) input.setAttribute('aria-invalid', err ? 'true' : 'false');
  return true;
}

/** A status line for a whole form (errors without a field). */
export function formStatus(id) {
  return h('div', { id, class: 'form-status', role: 'alert', 'aria-live': 'assertive' });
}

export function setStatus(id, err, ok = false) {
  const el = document.getElementById(id);
  if (!el) return;
  el.textContent = err ? (typeof err === 'string' ? t(err) : errorText(err)) : '';
  el.classList.toggle('ok', ok);
}

/** A modal <dialog> with the seed's 確定 button; resolves when closed. */
export function dialog({ title, body, okId = 'dialog-ok', cancel = false, okLabel = 'common.ok' }) {
  return new Promise((resolve) => {
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': 'dialog-title', 'aria-describedby': 'dialog-body' },
      h('h2', { id: 'dialog-title' }, t(title)),
      h('div', { id: 'dialog-body' }, typeof body === 'string' ? t(body) : body),
      h('div', { class: 'actions' },
        cancel ? h('button', { id: 'dialog-cancel', type: 'button', onclick: () => { dlg.close(); dlg.remove(); resolve(false); } }, t('common.cancel')) : null,
        h('button', { id: okId, type: 'button', class: 'primary', onclick: () => { dlg.close(); dlg.remove(); resolve(true); } }, t(okLabel)),
      ),
    );
    // Esc: the same as 取消 where there is one; otherwise the dialog stays.
    dlg.addEventListener('cancel', (e) => {
      e.preventDefault();
      if (cancel) { dlg.close(); dlg.remove(); resolve(false); }
    });
    document.body.append(dlg);
    dlg.showModal();
    dlg.querySelector(`#${okId}`).focus();
  });
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
