// zh-TW first, English second. Every visible string comes from
// ui/i18n/<lang>.json; elements carry data-i18n (text), data-i18n-aria
// (aria-label) or data-i18n-placeholder attributes.
const catalogs = {};
let current = 'zh-TW';

const loading = {};

function load(lang) {
  if (!loading[lang]) {
    loading[lang] = fetch(`i18n/${lang}.json`)
      .then((res) => res.json())
      .then((catalog) => (catalogs[lang] = catalog));
  }
  return loading[lang];
}

/** Starts loading a catalog without waiting for it (start-up overlap). */
export function preload(lang) {
  load(lang).catch(() => {});
}

export async function setLanguage(lang) {
  await load('zh-TW');
  await load(lang);
  current = lang;
  document.documentElement.lang = lang === 'en' ? 'en' : 'zh-Hant-TW';
  apply(document);
}

export function language() {
  return current;
}

/** Looks a key up; `{name}` placeholders are filled from `vars`. */
export function t(key, vars = {}) {
  const text = catalogs[current]?.[key] ?? catalogs['zh-TW']?.[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
}

/** Words for an error code (falls back to a generic message with the code). */
export function errorText(err) {
  const code = (err && err.code) || 'internal';
  const key = `error.${code}`;
  if (catalogs[current]?.[key] || catalogs['zh-TW']?.[key]) return t(key);
  return t('error.unknown', { code });
}

export function apply(root) {
  root.querySelectorAll('[data-i18n]').forEach((el) => {
    el.textContent = t(el.dataset.i18n);
  });
  root.querySelectorAll('[data-i18n-aria]').forEach((el) => {
    el.setAttribute('aria-label', t(el.dataset.i18nAria));
  });
  root.querySelectorAll('[data-i18n-placeholder]').forEach((el) => {
    el.setAttribute('placeholder', t(el.dataset.i18nPlaceholder));
  });
}
