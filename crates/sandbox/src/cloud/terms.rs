//! The sandbox's own registration consent text (教育雲會員註冊同意書), in
//! Traditional Chinese and English, versioned. Written for this project: it
//! covers the points the real consent makes that matter to software
//! (guardian consent for minors, own name and true data, staff accounts
//! active at once, members activated by e-mail, password care, no
//! transfer, suspension for false data) without copying any real text.

use educloud_contract::wire::{Terms, TermsSection};

/// The current terms version; a registration must accept exactly this one.
pub const TERMS_VERSION: &str = "2026-11-01";

/// The language of a terms document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermsLang {
    ZhTw,
    En,
}

impl TermsLang {
    /// `zh-TW` (also `zh`, `zh-Hant`, `zh-Hant-TW`) or `en` (also `en-*`).
    pub fn parse(tag: &str) -> Option<TermsLang> {
        let t = tag.trim().to_ascii_lowercase();
        match t.as_str() {
            "zh-tw" | "zh" | "zh-hant" | "zh-hant-tw" => Some(TermsLang::ZhTw),
            _ if t == "en" || t.starts_with("en-") => Some(TermsLang::En),
            _ => None,
        }
    }
}

const ZH_TITLE: &str = "教育雲會員註冊同意書（示範環境）";
const ZH: &[(&str, &str)] = &[
    (
        "一、關於本同意書",
        "歡迎使用教育雲。本同意書說明您註冊及使用教育雲帳號時，您與服務提供者之間的權利義務。\
         請您在按下「同意」之前，完整閱讀本同意書的每一節。您按下「同意」、完成註冊，或在註冊後\
         開始使用任何教育雲服務，即表示您已閱讀、瞭解並接受本同意書全部內容；如您不同意任何部分，\
         請按「不同意並返回」，並停止註冊。本文件為示範環境所用之範例文字，僅供測試與展示。",
    ),
    (
        "二、未成年人",
        "如您未滿十八歲（民法成年年齡自 2023 年起為 18 歲），請先由您的法定代理人（父母或監護人）閱讀本同意書，並在其同意後才進行註冊\
         及使用本服務。您繼續註冊或使用本服務時，即視為您的法定代理人已閱讀、瞭解並同意本同意書的\
         全部內容，包括日後的修訂版本。",
    ),
    (
        "三、以本人名義註冊並提供真實資料",
        "您只能以您本人的名義註冊，並應提供正確、最新且完整的個人資料（例如姓名、備用信箱及聯絡\
         電話）。請勿冒用他人身分，也請勿替他人註冊。當您的資料有所變更時，請儘速登入更新，\
         以確保我們能透過備用信箱與您聯絡，例如寄送重設密碼的連結。",
    ),
    (
        "四、帳號種類與啟用方式",
        "教師、職員及學生可使用其所屬縣市教育局的 Open ID 註冊。此類帳號在註冊完成時即已啟用，\
         並與您的 Open ID 綁定；日後您可以用「帳號＠mail.edu.tw＋密碼」登入，也可以用縣市 Open ID 登入。\
         帳號一經設定即無法變更，每個 Open ID 只能綁定一個教育雲帳號。\n\
         家長及社會人士（其他身分）以本人的電子郵件信箱作為帳號。註冊後，系統會寄出一封啟用信；\
         您必須在二十四小時內點選信中的啟用連結，帳號才能開始使用。逾期請重新寄送啟用信。",
    ),
    (
        "五、密碼與帳號安全",
        "請妥善保管您的密碼，不要告訴任何人，也不要在不同網站重複使用同一組密碼。您的帳號僅供您本人\
         使用，不得出借、轉讓、出租或與他人共用。凡以您的帳號及密碼進行的操作，均視為您本人的行為。\
         如您發現帳號遭人盜用或有安全疑慮，請立即變更密碼，並通知服務窗口。",
    ),
    (
        "六、資料不實與停權",
        "如您提供的資料不實、冒用他人身分，或資料已過時而經通知後仍未更新，服務提供者得暫停或終止\
         您的帳號，且不負任何賠償責任。如您的使用方式違反法令或危害系統安全，亦同。",
    ),
    (
        "七、個人資料的蒐集與利用",
        "我們僅在提供教育雲服務所需的範圍內蒐集、處理及利用您的個人資料，並依個人資料保護法的規定\
         辦理。縣市教育局 Open ID 提供的姓名、職稱與學校資料，僅用於確認您的身分及顯示於您的帳號中。\
         您可以依法查詢、閱覽或請求更正您的個人資料。",
    ),
    (
        "八、服務的變更與中斷",
        "服務提供者得因系統維護、更新或不可抗力的情形，暫停或變更部分或全部服務，並會儘可能事先公告。\
         對於因此造成的不便，敬請見諒。",
    ),
    (
        "九、同意書的修訂",
        "本同意書可能因法令或服務內容的變動而修訂，並以新的版本號碼公告。版本變更後，您可能需要\
         重新閱讀並同意最新版本，才能繼續註冊。",
    ),
    (
        "十、聯絡我們",
        "如對本同意書或您的帳號有任何疑問，請洽服務窗口。在示範環境中，所有郵件都只會出現在\
         本機的寄件匣，不會寄到真實的信箱。",
    ),
];

const EN_TITLE: &str = "Education Cloud membership consent (sandbox)";
const EN: &[(&str, &str)] = &[
    (
        "1. About this consent",
        "Welcome to Education Cloud. This consent explains your rights and duties when you \
         register for and use an Education Cloud account. Please read every section before \
         you press \"Agree\". By pressing \"Agree\", completing the registration, or using any \
         Education Cloud service after registering, you confirm that you have read, understood \
         and accepted all of it; if you do not agree with any part, press \"Disagree and go \
         back\" and stop registering. This is sample text of the sandbox, for testing and \
         demonstration only.",
    ),
    (
        "2. Minors",
        "If you are under 18 (the age of majority in Taiwan since 2023), your legal guardian (a parent or guardian) must read \
         this consent and agree to it before you register or use the service. By continuing to \
         register or use the service you declare that your legal guardian has read, understood \
         and agreed to all of this consent, including later revisions.",
    ),
    (
        "3. Register in your own name, with true data",
        "You may register only in your own name, and you must give correct, current and \
         complete personal data (such as your name, backup e-mail address and phone number). \
         Do not use anyone else's identity and do not register for another person. When your \
         data change, sign in and update them soon, so that we can reach you at your backup \
         address, for example with a password reset link.",
    ),
    (
        "4. Kinds of account and activation",
        "Teachers, staff and students register with the Open ID of their county education \
         bureau. Such an account is active as soon as the registration is complete and is bound \
         to that Open ID; afterwards you can sign in with \"name@mail.edu.tw + password\" or with \
         your county Open ID. The account name cannot be changed once chosen, and each Open ID \
         can be bound to one Education Cloud account only.\n\
         Parents and members of the public (identity \"other\") use their own e-mail address \
         as the account. After registering, an activation e-mail is sent; the account works only \
         after you open the activation link in it, within 24 hours. If the link has expired, \
         ask for a new activation e-mail.",
    ),
    (
        "5. Password and account security",
        "Keep your password safe: tell no one, and do not reuse it on other sites. Your account \
         is for you alone and may not be lent, transferred, rented out or shared. Everything done \
         with your account and password is treated as done by you. If you suspect that someone \
         else is using your account, change your password at once and tell the service desk.",
    ),
    (
        "6. False data and suspension",
        "If the data you give are false, use someone else's identity, or are outdated and not \
         updated after a reminder, the service may suspend or close your account without \
         compensation. The same applies when your use breaks the law or endangers the system.",
    ),
    (
        "7. Personal data",
        "We collect, process and use your personal data only as far as needed to provide \
         Education Cloud, under Taiwan's Personal Data Protection Act. The name, job title and \
         school that your county Open ID provides are used only to confirm who you are and to \
         show them in your account. You may ask to see or correct your personal data.",
    ),
    (
        "8. Changes and interruptions",
        "The service may suspend or change some or all of its functions for maintenance, \
         upgrades or force majeure, announcing it in advance where it can. We apologise for any \
         inconvenience.",
    ),
    (
        "9. Revisions of this consent",
        "This consent may be revised when laws or the service change; each revision is published \
         with a new version number. After a change you may have to read and accept the latest \
         version before you can register.",
    ),
    (
        "10. Contact",
        "If you have questions about this consent or your account, contact the service desk. In \
         the sandbox every mail appears only in the local outbox and never reaches a real \
         mailbox.",
    ),
];

/// The current terms in `lang`.
pub fn terms(lang: TermsLang) -> Terms {
    let (title, sections, tag) = match lang {
        TermsLang::ZhTw => (ZH_TITLE, ZH, "zh-TW"),
        TermsLang::En => (EN_TITLE, EN, "en"),
    };
    Terms {
        version: TERMS_VERSION.to_owned(),
        lang: tag.to_owned(),
        title: title.to_owned(),
        sections: sections
            .iter()
            .map(|(heading, body)| TermsSection {
                heading: (*heading).to_owned(),
                body: (*body).to_owned(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_the_same_sections_and_cover_the_seed_points() {
        let zh = terms(TermsLang::ZhTw);
        let en = terms(TermsLang::En);
        assert_eq!(zh.sections.len(), en.sections.len());
        let zh_all: String = zh.sections.iter().map(|s| s.body.as_str()).collect();
        let en_all: String = en.sections.iter().map(|s| s.body.as_str()).collect();
        for needle in [
            "十八歲",
            "法定代理人",
            "本人",
            "啟用",
            "密碼",
            "轉讓",
            "停止",
            "暫停",
        ] {
            assert!(zh_all.contains(needle), "zh lacks {needle}");
        }
        for needle in [
            "under 18",
            "guardian",
            "own name",
            "activation",
            "password",
            "transferred",
            "suspend",
        ] {
            assert!(en_all.contains(needle), "en lacks {needle}");
        }
        assert!(zh_all.chars().count() > 1000, "long enough to scroll");
    }

    #[test]
    fn language_tags() {
        assert_eq!(TermsLang::parse("zh-TW"), Some(TermsLang::ZhTw));
        assert_eq!(TermsLang::parse("en-US"), Some(TermsLang::En));
        assert_eq!(TermsLang::parse("fr"), None);
    }
}
