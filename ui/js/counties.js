// County names, localised from codes in ONE place. The names come from Rust
// (`county_names`: the built-in directory, known without the network) and
// from the county listing the picker loads (which includes the service's
// and IT policy's names); every screen asks `countyName(code)`.
import { invoke } from './ipc.js';
import { language } from './i18n.js';

const names = {};
let loading = null;

/** Learns names from a list of {code, name_zh, name_en}. */
export function rememberCounties(list) {
  for (const c of list || []) names[c.code] = { zh: c.name_zh, en: c.name_en };
}

/** Loads the built-in names once (local, never waits for the network). */
export function loadCountyNames() {
  if (!loading) {
    loading = invoke('county_names')
      .then((list) => rememberCounties(list))
      .catch(() => { loading = null; });
  }
  return loading;
}

/** The county's name in the current language (its code if unknown). */
export function countyName(code) {
  if (!code) return '';
  const n = names[code];
  if (!n) return code;
  return language() === 'en' ? n.en : n.zh;
}
