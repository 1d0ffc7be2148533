//! The county education bureaus (and the ministry) whose Open ID providers
//! Education Cloud accepts.
//!
//! The order is the seed's drop-down (基隆市 … 臺東縣), then the five counties
//! it omits, then the ministry's own sign-in. Production hosts come from
//! `shared/design/facts.md`; a service configuration or an IT policy may
//! override any of them at run time.

use serde::{Deserialize, Serialize};

/// Which kind of identity provider software a county runs. The three real
/// ones differ in paths, scopes and where identity claims come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdpProfile {
    /// `*.sso.edu.tw` OIDC: `/oidc/v1/azp|token|userinfo|jwksets`, role and
    /// school from the `/cncresource/api/v1/eduinfo` resource.
    SsoEduTw,
    /// Kaohsiung (`oidc.kh.edu.tw`): `/oauth2/auth|token`, `kh_profile` /
    /// `kh_titles` claims, pairwise `sub`.
    Kaohsiung,
    /// Taipei (`ldap.tp.edu.tw`): plain OAuth2 without an ID token; identity
    /// from `/api/user` and `/api/profile`.
    TaipeiOauth2,
    /// Any standard OpenID provider found by discovery at its issuer (used by
    /// IT policy overrides).
    Oidc,
}

impl IdpProfile {
    /// Whether this profile issues an OpenID Connect ID token.
    pub fn has_id_token(self) -> bool {
        !matches!(self, IdpProfile::TaipeiOauth2)
    }
}

/// Static facts about one county's (or the ministry's) Open ID provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountyInfo {
    /// Stable code used in URLs, policies and the CLI (e.g. `ntpc`).
    pub code: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    pub profile: IdpProfile,
    /// The production issuer (or OAuth2 base URL for the Taipei profile).
    pub production_issuer: &'static str,
    /// The county's own words for its account (the seed: 校務行政帳號).
    pub account_label_zh: &'static str,
    pub account_label_en: &'static str,
    /// Whether the seed's drop-down lists it (the other five are added).
    pub in_seed_list: bool,
}

const SSO_LABEL_ZH: &str = "校務行政帳號";
const SSO_LABEL_EN: &str = "School administration account";

macro_rules! sso {
    ($code:literal, $zh:literal, $en:literal, $host:literal, $seed:literal) => {
        CountyInfo {
            code: $code,
            name_zh: $zh,
            name_en: $en,
            profile: IdpProfile::SsoEduTw,
            production_issuer: concat!("https://", $host),
            account_label_zh: SSO_LABEL_ZH,
            account_label_en: SSO_LABEL_EN,
            in_seed_list: $seed,
        }
    };
}

/// All 22 counties and cities in the seed's order, then the ministry.
pub const COUNTIES: &[CountyInfo] = &[
    sso!("kl", "基隆市", "Keelung City", "kl.sso.edu.tw", true),
    sso!("ntpc", "新北市", "New Taipei City", "ntpc.sso.edu.tw", true),
    CountyInfo {
        code: "tp",
        name_zh: "臺北市",
        name_en: "Taipei City",
        profile: IdpProfile::TaipeiOauth2,
        production_issuer: "https://ldap.tp.edu.tw",
        account_label_zh: "臺北市校園單一身分驗證帳號",
        account_label_en: "Taipei campus single sign-on account",
        in_seed_list: true,
    },
    sso!("ty", "桃園市", "Taoyuan City", "tyc.sso.edu.tw", true),
    sso!("hcc", "新竹縣", "Hsinchu County", "hcc.sso.edu.tw", true),
    sso!("hc", "新竹市", "Hsinchu City", "hc.sso.edu.tw", true),
    sso!("mlc", "苗栗縣", "Miaoli County", "mlc.sso.edu.tw", true),
    sso!("tc", "臺中市", "Taichung City", "tc.sso.edu.tw", true),
    sso!("chc", "彰化縣", "Changhua County", "chc.sso.edu.tw", true),
    sso!("ntct", "南投縣", "Nantou County", "ntct.sso.edu.tw", true),
    sso!("ylc", "雲林縣", "Yunlin County", "ylc.sso.edu.tw", true),
    sso!("cyc", "嘉義縣", "Chiayi County", "cyc.sso.edu.tw", true),
    sso!("cy", "嘉義市", "Chiayi City", "cy.sso.edu.tw", true),
    sso!("tn", "臺南市", "Tainan City", "tn.sso.edu.tw", true),
    CountyInfo {
        code: "kh",
        name_zh: "高雄市",
        name_en: "Kaohsiung City",
        profile: IdpProfile::Kaohsiung,
        production_issuer: "https://oidc.kh.edu.tw",
        account_label_zh: "高雄市教育網路中心帳號",
        account_label_en: "Kaohsiung education network account",
        in_seed_list: true,
    },
    sso!("ptc", "屏東縣", "Pingtung County", "ptc.sso.edu.tw", true),
    sso!("ttct", "臺東縣", "Taitung County", "ttct.sso.edu.tw", true),
    sso!("ilc", "宜蘭縣", "Yilan County", "ilc.sso.edu.tw", false),
    sso!("hlc", "花蓮縣", "Hualien County", "hlc.sso.edu.tw", false),
    sso!("phc", "澎湖縣", "Penghu County", "phc.sso.edu.tw", false),
    sso!("km", "金門縣", "Kinmen County", "km.sso.edu.tw", false),
    sso!(
        "mt",
        "連江縣",
        "Lienchiang County",
        "matsu.sso.edu.tw",
        false
    ),
    CountyInfo {
        code: "moe",
        name_zh: "教育部",
        name_en: "Ministry of Education",
        profile: IdpProfile::SsoEduTw,
        production_issuer: "https://oidc.tanet.edu.tw",
        account_label_zh: "教育體系單一簽入帳號",
        account_label_en: "MOE single sign-on account",
        in_seed_list: false,
    },
];

/// Looks a county up by its code (case-sensitive, as codes are lower case).
pub fn find(code: &str) -> Option<&'static CountyInfo> {
    COUNTIES.iter().find(|c| c.code == code)
}

/// Whether `code` has the shape of a county code (for policy-added counties).
pub fn is_valid_code(code: &str) -> bool {
    (2..=16).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && code.as_bytes()[0].is_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn twenty_two_counties_plus_the_ministry_in_seed_order() {
        assert_eq!(COUNTIES.len(), 23);
        let seed: Vec<_> = COUNTIES
            .iter()
            .filter(|c| c.in_seed_list)
            .map(|c| c.name_zh)
            .collect();
        assert_eq!(
            seed,
            [
                "基隆市",
                "新北市",
                "臺北市",
                "桃園市",
                "新竹縣",
                "新竹市",
                "苗栗縣",
                "臺中市",
                "彰化縣",
                "南投縣",
                "雲林縣",
                "嘉義縣",
                "嘉義市",
                "臺南市",
                "高雄市",
                "屏東縣",
                "臺東縣"
            ]
        );
        // The seed's list comes first, then the five it omits, then the ministry.
        assert!(COUNTIES[..17].iter().all(|c| c.in_seed_list));
        assert_eq!(COUNTIES[22].code, "moe");
    }

    #[test]
    fn codes_are_unique_and_well_formed() {
        let codes: HashSet<_> = COUNTIES.iter().map(|c| c.code).collect();
        assert_eq!(codes.len(), COUNTIES.len());
        assert!(COUNTIES.iter().all(|c| is_valid_code(c.code)));
        assert!(!is_valid_code("NTPC"));
        assert!(!is_valid_code("x"));
        assert!(!is_valid_code("9ab"));
    }

    #[test]
    fn three_profiles_are_represented() {
        assert_eq!(
            find("tp").map(|c| c.profile),
            Some(IdpProfile::TaipeiOauth2)
        );
        assert_eq!(find("kh").map(|c| c.profile), Some(IdpProfile::Kaohsiung));
        assert_eq!(find("ntpc").map(|c| c.profile), Some(IdpProfile::SsoEduTw));
        assert!(!IdpProfile::TaipeiOauth2.has_id_token());
        assert!(find("nope").is_none());
    }
}
