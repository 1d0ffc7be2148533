//! The county login page and the IdP's other HTML pages.
//!
//! Self-contained (one inline stylesheet allowed by its hash, no scripts, no
//! external resources) under a strict Content-Security-Policy. zh-TW by
//! default, English with `ui_locales=en`. The element ids (`username`,
//! `password`, `remember`, `login`, `cancel`, `login-error`) are what the
//! end-to-end tests drive.

use std::sync::OnceLock;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use educloud_contract::county::CountyInfo;
use sha2::{Digest, Sha256};

/// The language of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    #[default]
    Zh,
    En,
}

impl Locale {
    /// Picks the first supported tag of an OIDC `ui_locales` list.
    pub fn from_ui_locales(v: Option<&str>) -> Self {
        for tag in v.unwrap_or("").split_whitespace() {
            let t = tag.to_ascii_lowercase();
            if t == "en" || t.starts_with("en-") {
                return Locale::En;
            }
            if t == "zh" || t.starts_with("zh-") {
                return Locale::Zh;
            }
        }
        Locale::Zh
    }

    pub fn tag(self) -> &'static str {
        match self {
            Locale::Zh => "zh-TW",
            Locale::En => "en",
        }
    }

    fn html_lang(self) -> &'static str {
        match self {
            Locale::Zh => "zh-Hant-TW",
            Locale::En => "en",
        }
    }

    fn pick(self, zh: &'static str, en: &'static str) -> &'static str {
        match self {
            Locale::Zh => zh,
            Locale::En => en,
        }
    }
}

/// HTML-escapes text for element content and quoted attribute values (the
/// one shared function, [`educloud_contract::text::escape_html`]).
pub use educloud_contract::text::escape_html as esc;

const CSS: &str = "\
*{box-sizing:border-box}\
body{margin:0;font-family:\"Noto Sans TC\",\"Microsoft JhengHei\",\"PingFang TC\",sans-serif;background:#eef2f6;color:#1d2733}\
.bar{display:flex;justify-content:space-between;align-items:center;background:#1f5f99;color:#fff;padding:.7rem 1.5rem}\
.bar a{color:#fff}.brand{font-weight:700;font-size:1.15rem}.bar nav a{margin-left:1rem}\
.demo{margin:0;background:#fff4d6;color:#6b4e00;padding:.45rem 1.5rem;font-size:.9rem}\
.wrap{display:flex;flex-wrap:wrap;gap:1.5rem;max-width:56rem;margin:2rem auto;padding:0 1rem}\
.card{flex:1 1 22rem;background:#fff;border:1px solid #cfd8e3;border-radius:6px;padding:1.5rem 1.75rem}\
.card h1{font-size:1.3rem;margin:0 0 1rem}\
label{display:block;margin:.9rem 0 .3rem;font-weight:600}\
input[type=text],input[type=password]{width:100%;padding:.55rem .6rem;font-size:1rem;border:1px solid #9fb0c3;border-radius:4px}\
label.check{font-weight:400;display:flex;gap:.4rem;align-items:center}\
.actions{display:flex;gap:1rem;align-items:center;margin-top:1.2rem}\
button{background:#1f5f99;color:#fff;border:0;border-radius:4px;padding:.55rem 1.6rem;font-size:1rem;cursor:pointer}\
button:focus,a:focus,input:focus{outline:3px solid #f2b705;outline-offset:2px}\
.error{background:#fdecea;color:#8a1c12;border:1px solid #f5c2bc;border-radius:4px;padding:.6rem .8rem}\
.muted{color:#5b6b7c;font-size:.9rem}\
.links{flex:0 1 14rem;background:#fff;border:1px solid #cfd8e3;border-radius:6px;padding:1rem 1.25rem}\
.links h2{font-size:1rem;margin:.2rem 0 .6rem}.links ul{margin:0;padding-left:1.1rem;line-height:1.9}\
footer{text-align:center;color:#5b6b7c;font-size:.85rem;margin:2rem 0}";

fn css_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        format!(
            "'sha256-{}'",
            STANDARD.encode(Sha256::digest(CSS.as_bytes()))
        )
    })
}

/// Wraps `body` in the page skeleton.
fn document(locale: Locale, title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"referrer\" content=\"no-referrer\">\
<title>{title}</title><style>{CSS}</style></head><body>{body}</body></html>\n",
        lang = locale.html_lang(),
        title = esc(title),
    )
}

/// An HTML response with the security headers. `form_action` adds allowed
/// targets for form submissions (the login form's redirect goes to the
/// app's loopback port, and browsers apply `form-action` to redirects).
pub fn html(status: StatusCode, page: String, form_action: Option<&str>) -> Response {
    let mut csp = format!(
        "default-src 'none'; style-src {}; img-src data:; base-uri 'none'; frame-ancestors 'none'",
        css_hash()
    );
    match form_action {
        Some("*") => {}
        Some(extra) => csp.push_str(&format!("; form-action 'self' {extra}")),
        None => csp.push_str("; form-action 'self'"),
    }
    let mut res = (status, page).into_response();
    let h: &mut HeaderMap = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

/// Everything the login page shows.
pub struct LoginPage<'a> {
    pub county: &'a CountyInfo,
    pub locale: Locale,
    /// The per-request form token (hidden field `ft`).
    pub form_token: &'a str,
    /// Absolute path of the form's POST target.
    pub action: &'a str,
    /// Link that cancels (→ `error=access_denied`).
    pub cancel_href: &'a str,
    /// The same authorization request in the other language.
    pub switch_href: &'a str,
    /// The sandbox home (官網 / 首頁).
    pub home_href: &'a str,
    pub status_href: &'a str,
    pub spec_href: &'a str,
    pub username: &'a str,
    pub error: Option<LoginError>,
}

/// Why the login page is shown again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginError {
    WrongPassword,
    TooManyAttempts,
}

/// The county's password label: its account label with 帳號 → 密碼.
fn password_label(county: &CountyInfo, locale: Locale) -> String {
    match locale {
        Locale::Zh => match county.account_label_zh.strip_suffix("帳號") {
            Some(stem) => format!("{stem}密碼"),
            None => "密碼".into(),
        },
        Locale::En => "Password".into(),
    }
}

/// "新北市 Open ID 登入" / "New Taipei City Open ID sign-in".
pub fn login_title(county: &CountyInfo, locale: Locale) -> String {
    match locale {
        Locale::Zh => format!("{} Open ID 登入", county.name_zh),
        Locale::En => format!("{} Open ID sign-in", county.name_en),
    }
}

fn demo_notice(l: Locale) -> &'static str {
    l.pick(
        "示範環境：這是本機 EduCloud 沙盒模擬的縣市登入頁，不是真正的縣市教育局網站。示範密碼為 demo-password。",
        "Demo environment: this county sign-in page is simulated by the local EduCloud sandbox; it is not the real education bureau's site. The demo password is demo-password.",
    )
}

impl LoginPage<'_> {
    pub fn render(&self) -> String {
        let l = self.locale;
        let title = login_title(self.county, l);
        let account_label = match l {
            Locale::Zh => self.county.account_label_zh,
            Locale::En => self.county.account_label_en,
        };
        let error = match self.error {
            None => String::new(),
            Some(LoginError::WrongPassword) => format!(
                "<p id=\"login-error\" class=\"error\" role=\"alert\">{}</p>",
                l.pick(
                    "帳號或密碼錯誤，請再試一次。",
                    "The account or password is wrong. Please try again."
                )
            ),
            Some(LoginError::TooManyAttempts) => format!(
                "<p id=\"login-error\" class=\"error\" role=\"alert\">{}</p>",
                l.pick(
                    "錯誤次數過多，這份登入表單已失效。請回到應用程式重新開始登入。",
                    "Too many wrong attempts: this sign-in form is no longer valid. Go back to the app and start again."
                )
            ),
        };
        let form = if self.error == Some(LoginError::TooManyAttempts) {
            format!(
                "<p><a id=\"cancel\" href=\"{cancel}\">{cancel_text}</a></p>",
                cancel = esc(self.cancel_href),
                cancel_text = l.pick("取消", "Cancel"),
            )
        } else {
            format!(
                "<form method=\"post\" action=\"{action}\">\
<input type=\"hidden\" name=\"ft\" value=\"{ft}\">\
<label for=\"username\">{account_label}</label>\
<input id=\"username\" name=\"username\" type=\"text\" autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" required{autofocus_user} value=\"{username}\">\
<label for=\"password\">{password_label}</label>\
<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required{autofocus_pw}>\
<label class=\"check\" for=\"remember\"><input id=\"remember\" name=\"remember\" type=\"checkbox\" value=\"1\">{remember}</label>\
<div class=\"actions\"><button id=\"login\" type=\"submit\">{login}</button>\
<a id=\"cancel\" href=\"{cancel}\">{cancel_text}</a></div></form>",
                action = esc(self.action),
                ft = esc(self.form_token),
                account_label = esc(account_label),
                username = esc(self.username),
                autofocus_user = if self.username.is_empty() { " autofocus" } else { "" },
                autofocus_pw = if self.username.is_empty() { "" } else { " autofocus" },
                password_label = esc(&password_label(self.county, l)),
                remember = l.pick("保持登入狀態", "Stay signed in"),
                login = l.pick("登入", "Sign in"),
                cancel = esc(self.cancel_href),
                cancel_text = l.pick("取消", "Cancel"),
            )
        };
        let body = format!(
            "<header class=\"bar\"><span class=\"brand\">{brand}</span><nav>\
<a id=\"home\" href=\"{home}\">{home_text}</a>\
<a id=\"lang-switch\" href=\"{switch}\" lang=\"{switch_lang}\">{switch_text}</a></nav></header>\
<p class=\"demo\">{notice}</p>\
<main class=\"wrap\"><section class=\"card\"><h1>{title}</h1>{error}{form}\
<p class=\"muted\" id=\"register\">{register}</p></section>\
<aside class=\"links\"><h2>{links}</h2><ul>\
<li><a href=\"{home}\">{official}</a></li>\
<li><a href=\"{status}\">{status_text}</a></li>\
<li><a href=\"#\">{providers}</a></li>\
<li><a href=\"{spec}\">{spec_text}</a></li>\
<li><a href=\"#\">{samples}</a></li></ul></aside></main>\
<footer>{footer}</footer>",
            brand = esc(&match l {
                Locale::Zh => format!("{} Open ID", self.county.name_zh),
                Locale::En => format!("{} Open ID", self.county.name_en),
            }),
            home = esc(self.home_href),
            home_text = l.pick("首頁", "Home"),
            switch = esc(self.switch_href),
            switch_lang = l.pick("en", "zh-Hant-TW"),
            switch_text = l.pick("English", "中文"),
            notice = demo_notice(l),
            title = esc(&title),
            register = l.pick("註冊 (目前暫不開放)", "Registration (currently closed)"),
            links = l.pick("相關連結", "Related links"),
            official = l.pick("官網", "Official site"),
            status = esc(self.status_href),
            status_text = l.pick("測試服務是否正常?", "Is the service up?"),
            providers = l.pick("國內服務提供者", "Service providers"),
            spec = esc(self.spec_href),
            spec_text = l.pick("欄位規格說明", "Attribute specification"),
            samples = l.pick("範例程式下載", "Sample code"),
            footer = l.pick(
                "EduCloud 沙盒 · 僅供測試與示範",
                "EduCloud sandbox · for testing and demonstration only"
            ),
        );
        document(l, &title, &body)
    }
}

/// A page that explains a refused request (never a redirect: RFC 6749
/// §4.1.2.1 for a bad client or redirect URI).
pub fn error_page(locale: Locale, county: &CountyInfo, reason: &str, detail: &str) -> String {
    let l = locale;
    let title = l.pick("無法登入", "Cannot sign in");
    let body = format!(
        "<header class=\"bar\"><span class=\"brand\">{brand}</span></header>\
<p class=\"demo\">{notice}</p>\
<main class=\"wrap\"><section class=\"card\"><h1>{title}</h1>\
<p id=\"idp-error\" class=\"error\" role=\"alert\" data-error=\"{reason}\">{lead}</p>\
<p class=\"muted\">{detail}</p><p>{next}</p></section></main>",
        brand = esc(&login_title(county, l)),
        notice = demo_notice(l),
        reason = esc(reason),
        lead = l.pick(
            "這個登入要求無效，因此不會回到應用程式。",
            "This sign-in request is not valid, so you will not be sent back to the app."
        ),
        detail = esc(detail),
        next = l.pick(
            "請關閉此分頁，回到應用程式重新開始登入。",
            "Close this tab and start signing in again from the app."
        ),
    );
    document(l, title, &body)
}

/// A plain informational page (signed out, service status).
pub fn message_page(
    locale: Locale,
    county: &CountyInfo,
    id: &str,
    heading: &str,
    text: &str,
) -> String {
    let body = format!(
        "<header class=\"bar\"><span class=\"brand\">{brand}</span></header>\
<p class=\"demo\">{notice}</p>\
<main class=\"wrap\"><section class=\"card\"><h1>{heading}</h1>\
<p id=\"{id}\">{text}</p></section></main>",
        brand = esc(&login_title(county, locale)),
        notice = demo_notice(locale),
        heading = esc(heading),
        id = esc(id),
        text = esc(text),
    );
    document(locale, heading, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use educloud_contract::county::find;

    fn page(error: Option<LoginError>, locale: Locale) -> String {
        LoginPage {
            county: find("ntpc").unwrap(),
            locale,
            form_token: "tok\"en",
            action: "/idp/ntpc/login",
            cancel_href: "/idp/ntpc/login/cancel?ft=x",
            switch_href: "/idp/ntpc/oidc/v1/azp?a=1&ui_locales=en",
            home_href: "/",
            status_href: "/idp/ntpc/status",
            spec_href: "/idp/ntpc/.well-known/openid-configuration",
            username: "<script>",
            error,
        }
        .render()
    }

    #[test]
    fn zh_page_has_the_seed_words_and_ids() {
        let p = page(None, Locale::Zh);
        for needle in [
            "新北市 Open ID 登入",
            "校務行政帳號",
            "校務行政密碼",
            "保持登入狀態",
            "id=\"username\"",
            "id=\"password\"",
            "id=\"remember\"",
            "id=\"login\"",
            "id=\"cancel\"",
            "官網",
            "測試服務是否正常?",
            "國內服務提供者",
            "欄位規格說明",
            "範例程式下載",
            "註冊 (目前暫不開放)",
            "ui_locales=en",
        ] {
            assert!(p.contains(needle), "missing {needle}");
        }
        assert!(!p.contains("login-error"));
        assert!(!p.contains("<script>"), "user input must be escaped");
        assert!(p.contains("&lt;script&gt;"));
        assert!(p.contains("value=\"tok&quot;en\""));
        assert!(
            !p.contains("http://") && !p.contains("https://"),
            "no external resources"
        );
    }

    #[test]
    fn english_error_page_variant() {
        let p = page(Some(LoginError::WrongPassword), Locale::En);
        assert!(p.contains("id=\"login-error\""));
        assert!(p.contains("New Taipei City Open ID sign-in"));
        assert!(p.contains("lang=\"en\""));
    }

    #[test]
    fn locale_negotiation() {
        assert_eq!(Locale::from_ui_locales(Some("en")), Locale::En);
        assert_eq!(Locale::from_ui_locales(Some("fr en-US")), Locale::En);
        assert_eq!(Locale::from_ui_locales(Some("zh-TW en")), Locale::Zh);
        assert_eq!(Locale::from_ui_locales(None), Locale::Zh);
    }

    #[test]
    fn csp_allows_exactly_the_inline_style() {
        let res = html(
            StatusCode::OK,
            page(None, Locale::Zh),
            Some("http://127.0.0.1:5"),
        );
        let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.starts_with("default-src 'none'; style-src 'sha256-"));
        assert!(csp.contains("form-action 'self' http://127.0.0.1:5"));
        assert!(!csp.contains("unsafe"));
    }
}
