//! The page the browser shows after the county redirects back to the app:
//! self-contained (no script, no remote resource, inline style only),
//! localized (the app's language first, the other one below), and saying
//! what to do next.

/// What the page reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageOutcome {
    /// Signed in at the county; the app takes over.
    Done {
        county_zh: String,
        county_en: String,
    },
    /// The sign-in failed; `code` is the stable error code.
    Failed { code: String },
    /// A redirect that came after this sign-in was already answered.
    Ended,
    /// A request that is not this sign-in's redirect (no or another
    /// `state`, another method): refused, the sign-in keeps waiting.
    Stray,
}

use educloud_contract::text::escape_html as escape;

/// Words for an error code, (zh-TW, English).
pub fn error_words(code: &str) -> (&'static str, &'static str) {
    match code {
        super::code::ACCESS_DENIED => (
            "您已取消登入，或縣市帳號未授權教育雲使用。",
            "You cancelled the sign-in, or the county account did not allow Education Cloud.",
        ),
        super::code::STATE_MISMATCH => (
            "這個登入回應與 EduCloud 送出的請求不符（可能是舊的或重複的分頁），已拒絕。請回到 EduCloud 重新登入。",
            "This answer does not match the sign-in EduCloud started (an old or duplicate tab?) and was refused. Please start again in EduCloud.",
        ),
        super::code::ISS_MISMATCH | super::code::ISS_MISSING => (
            "回應不是來自您選擇的縣市登入服務，已拒絕。請回到 EduCloud 重新登入。",
            "The answer did not come from the county you chose and was refused. Please start again in EduCloud.",
        ),
        super::code::LOGIN_REQUIRED => (
            "縣市登入服務要求重新登入。請回到 EduCloud 再試一次。",
            "The county asks you to sign in again. Please try again in EduCloud.",
        ),
        "network.unreachable" => (
            "EduCloud 無法連線到縣市登入服務。請檢查網路後重試。",
            "EduCloud cannot reach the county's sign-in service. Check the network and try again.",
        ),
        super::code::CLOCK_SKEWED => (
            "您電腦的時間不正確，與縣市登入服務相差太多。請校正電腦的日期與時間後，回到 EduCloud 重新登入。",
            "Your computer's clock is wrong, too far from the county's. Please correct the date and time, then sign in again in EduCloud.",
        ),
        super::code::NOT_REAUTHENTICATED => (
            "縣市登入服務沒有要求重新輸入帳號密碼（共用電腦必須重新登入），為了安全已拒絕。請關閉瀏覽器的所有視窗後，回到 EduCloud 重新登入。",
            "The county did not ask for the account and password again (required on a shared computer), so the sign-in was refused. Close all browser windows, then sign in again in EduCloud.",
        ),
        c if c.starts_with("signin.id_token") || c.starts_with("signin.userinfo") => (
            "縣市登入服務的回應未通過安全檢查，已拒絕。請稍後再試，或聯絡學校資訊人員。",
            "The county's answer failed a security check and was refused. Try again later or contact your school's IT staff.",
        ),
        _ => (
            "登入沒有完成。請回到 EduCloud 查看原因並重試。",
            "The sign-in did not complete. Please go back to EduCloud to see why and try again.",
        ),
    }
}

/// The whole HTML document. `lang` is `zh-TW` or `en`.
pub fn render(outcome: &PageOutcome, lang: &str) -> String {
    let en_first = lang == "en";
    let (ok, title_zh, title_en, body_zh, body_en, code) = match outcome {
        PageOutcome::Done {
            county_zh,
            county_en,
        } => (
            true,
            "登入完成，可以關閉此分頁".to_string(),
            "Signed in — you can close this tab".to_string(),
            format!("{} 登入完成。請回到 EduCloud 繼續。", escape(county_zh)),
            format!(
                "Signed in with {}. Please return to EduCloud.",
                escape(county_en)
            ),
            None,
        ),
        PageOutcome::Failed { code } => {
            let (zh, en) = error_words(code);
            (
                false,
                "登入沒有完成".to_string(),
                "The sign-in did not complete".to_string(),
                zh.to_string(),
                en.to_string(),
                Some(code.as_str()),
            )
        }
        PageOutcome::Stray => (
            false,
            "這不是目前的登入回應".to_string(),
            "Not the answer to the current sign-in".to_string(),
            "這個回應不屬於 EduCloud 正在等待的登入，已忽略；登入仍在進行。請在縣市登入頁面完成登入，或回到 EduCloud 重新開始。".to_string(),
            "This answer does not belong to the sign-in EduCloud is waiting for and was ignored; the sign-in is still waiting. Finish on the county's sign-in page, or start again in EduCloud."
                .to_string(),
            None,
        ),
        PageOutcome::Ended => (
            false,
            "此登入已結束".to_string(),
            "This sign-in has ended".to_string(),
            "這個登入已經結束，此回應未被使用。可以關閉此分頁。".to_string(),
            "This sign-in has already ended; this answer was not used. You can close this tab."
                .to_string(),
            None,
        ),
    };
    let (t1, b1, t2, b2, l1, l2) = if en_first {
        (&title_en, &body_en, &title_zh, &body_zh, "en", "zh-Hant-TW")
    } else {
        (&title_zh, &body_zh, &title_en, &body_en, "zh-Hant-TW", "en")
    };
    let colour = if ok { "#1b7f3b" } else { "#a4262c" };
    let code_line = code
        .map(|c| format!("<p class=\"code\">{}</p>", escape(c)))
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html lang=\"{l1}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"referrer\" content=\"no-referrer\">\
<title>EduCloud — {t1}</title>\
<style>body{{font-family:system-ui,\"Noto Sans CJK TC\",\"Microsoft JhengHei\",sans-serif;\
margin:0;padding:3rem 1rem;background:#f6f7f9;color:#1f2328}}\
main{{max-width:34rem;margin:auto;background:#fff;border-radius:8px;padding:2rem;\
box-shadow:0 1px 3px rgba(0,0,0,.15)}}h1{{font-size:1.4rem;color:{colour}}}\
h2{{font-size:1.05rem;color:#57606a;margin-top:2rem}}.code{{font-family:monospace;color:#57606a}}</style>\
</head><body><main><h1 id=\"title\">{t1}</h1><p id=\"message\">{b1}</p>{code_line}\
<section lang=\"{l2}\"><h2>{t2}</h2><p>{b2}</p></section></main></body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_self_contained_and_localized() {
        let done = PageOutcome::Done {
            county_zh: "新北市".into(),
            county_en: "New Taipei City".into(),
        };
        let zh = render(&done, "zh-TW");
        assert!(zh.contains("<h1 id=\"title\">登入完成，可以關閉此分頁</h1>"));
        assert!(zh.contains("Signed in — you can close this tab"));
        let en = render(&done, "en");
        assert!(en.contains("<h1 id=\"title\">Signed in — you can close this tab</h1>"));
        for page in [&zh, &en] {
            assert!(!page.contains("<script"));
            assert!(!page.contains("http://") && !page.contains("https://"));
            assert!(!page.contains("src="));
        }
    }

    #[test]
    fn errors_are_in_words_and_escaped() {
        let p = render(
            &PageOutcome::Failed {
                code: "signin.access_denied".into(),
            },
            "zh-TW",
        );
        assert!(p.contains("您已取消登入"));
        assert!(p.contains("signin.access_denied"));
        let evil = render(
            &PageOutcome::Done {
                county_zh: "<img src=x>".into(),
                county_en: "x".into(),
            },
            "zh-TW",
        );
        assert!(!evil.contains("<img"));
        assert!(render(&PageOutcome::Ended, "en").contains("This sign-in has ended"));
    }
}
