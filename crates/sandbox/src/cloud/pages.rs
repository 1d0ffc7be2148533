//! Small self-contained HTML pages (no scripts, no remote resources): the
//! activation and password-reset landing pages and the outbox.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// Escapes text for HTML element content and attribute values (the one
/// shared function, [`educloud_contract::text::escape_html`]).
pub use educloud_contract::text::escape_html as escape;

const STYLE: &str = "body{font-family:'Noto Sans CJK TC','Noto Sans TC',system-ui,sans-serif;\
margin:0;background:#f4f7fb;color:#1b2733}\
header{background:#1d5fa7;color:#fff;padding:12px 24px}header b{font-size:1.1em}\
header span{margin-left:12px;background:#f2b632;color:#222;border-radius:4px;padding:1px 8px;font-size:.8em}\
main{max-width:760px;margin:24px auto;background:#fff;border-radius:8px;padding:24px 32px;\
box-shadow:0 1px 4px rgba(0,0,0,.12)}h1{font-size:1.4em}.ok{color:#1b7f3b}.err{color:#b3261e}\
label{display:block;margin:12px 0 4px}input[type=password]{width:100%;max-width:360px;padding:6px;font-size:1em}\
button{margin-top:16px;padding:8px 24px;font-size:1em;background:#1d5fa7;color:#fff;border:0;border-radius:4px}\
.mail{border-top:1px solid #dde3ea;padding:12px 0}.mail pre{white-space:pre-wrap;font-family:inherit;\
background:#f8fafc;padding:8px;border-radius:4px}.meta{color:#5b6875;font-size:.9em}";

/// A whole page with the sandbox header.
pub fn page(status: StatusCode, title: &str, body_html: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"zh-Hant-TW\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{title} — 教育雲 示範環境</title><style>{STYLE}</style></head>\
         <body><header><b>教育雲 Education Cloud</b><span>示範環境 / Demo</span></header>\
         <main>{body_html}</main></body></html>",
        title = escape(title),
    );
    (status, Html(html)).into_response()
}
