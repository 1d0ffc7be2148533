// The one door to Rust. Every call returns the command's value or throws an
// ErrorDto {code, field?, detail?}; the catalogs turn codes into words.
const tauri = window.__TAURI__;

export async function invoke(cmd, args = {}) {
  if (!tauri || !tauri.core) {
    throw { code: 'internal', detail: 'not running inside EduCloud Desktop' };
  }
  try {
    return await tauri.core.invoke(cmd, args);
  } catch (e) {
    if (e && typeof e === 'object' && 'code' in e) throw e;
    throw { code: 'internal', detail: String(e) };
  }
}

export function listen(event, handler) {
  if (!tauri || !tauri.event) return Promise.resolve(() => {});
  return tauri.event.listen(event, (e) => handler(e.payload));
}
