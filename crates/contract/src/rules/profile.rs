//! Profile fields: [`Nickname`] (暱稱, required), [`PersonName`] (姓名 of
//! identity 其他, required there) and [`Gender`] (性別, optional).
//!
//! Lengths count Unicode scalar values after trimming, so 二十個中文字 and
//! twenty Latin letters are both 20. Any script and 全形 characters are
//! fine here (names are not identifiers); control and invisible formatting
//! characters are not.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::text::clean_required;
use super::{codes, Field, RuleError};

pub const NICKNAME_MAX_CHARS: usize = 20;
/// 姓名: longer names (e.g. with a transliteration) fit; longer input is `too_long`.
pub const NAME_MAX_CHARS: usize = 50;

/// 暱稱: 1–20 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Nickname(String);

impl Nickname {
    pub fn parse(input: &str) -> Result<Nickname, RuleError> {
        let text = clean_required(Field::Nickname, input)?;
        if text.chars().count() > NICKNAME_MAX_CHARS {
            return Err(RuleError::new(Field::Nickname, codes::NICKNAME_TOO_LONG));
        }
        Ok(Nickname(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 姓名 typed by a member of identity 其他: 1–50 characters after trimming,
/// no control characters. (Staff names come from the county's verified
/// token, never from the form.)
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(input: &str) -> Result<PersonName, RuleError> {
        let text = clean_required(Field::Name, input)?;
        if text.chars().count() > NAME_MAX_CHARS {
            return Err(RuleError::new(Field::Name, codes::TOO_LONG));
        }
        Ok(PersonName(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 性別: 男 / 女. Not giving one is `None` (see [`Gender::parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gender {
    Male,
    Female,
}

impl Gender {
    /// `"male"`, `"female"` (ASCII case-insensitive, trimmed), or empty for
    /// "not given"; anything else is `gender.invalid`.
    pub fn parse(input: &str) -> Result<Option<Gender>, RuleError> {
        let text = super::text::clean(Field::Gender, input)?;
        if text.is_empty() {
            Ok(None)
        } else if text.eq_ignore_ascii_case("male") {
            Ok(Some(Gender::Male))
        } else if text.eq_ignore_ascii_case("female") {
            Ok(Some(Gender::Female))
        } else {
            Err(RuleError::new(Field::Gender, codes::GENDER_INVALID))
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Gender::Male => "male",
            Gender::Female => "female",
        }
    }
}

macro_rules! text_newtype_impls {
    ($t:ident) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $t {
            type Error = RuleError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                $t::parse(&value)
            }
        }

        impl From<$t> for String {
            fn from(value: $t) -> Self {
                value.0
            }
        }
    };
}

text_newtype_impls!(Nickname);
text_newtype_impls!(PersonName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nickname() {
        assert_eq!(Nickname::parse("  小明老師 ").unwrap().as_str(), "小明老師");
        assert_eq!(
            Nickname::parse(&"字".repeat(20))
                .unwrap()
                .as_str()
                .chars()
                .count(),
            20
        );
        assert_eq!(Nickname::parse("Ｍｉｎｇ").unwrap().as_str(), "Ｍｉｎｇ");
        assert_eq!(
            Nickname::parse("👩\u{200D}🏫 Ming").unwrap().as_str(),
            "👩\u{200D}🏫 Ming"
        );
        let code = |s: &str| Nickname::parse(s).unwrap_err();
        assert_eq!(code(""), RuleError::new(Field::Nickname, codes::REQUIRED));
        assert_eq!(
            code(" \u{3000}\t"),
            RuleError::new(Field::Nickname, codes::REQUIRED)
        );
        assert_eq!(code(&"字".repeat(21)).code, codes::NICKNAME_TOO_LONG);
        assert_eq!(code(&"x".repeat(10 * 1024)).code, codes::TOO_LONG);
        assert_eq!(code("小\u{7}明").code, codes::CONTROL_CHARS);
        assert_eq!(code("小明\u{202E}師老").code, codes::CONTROL_CHARS);
        assert!(serde_json::from_str::<Nickname>("\"\"").is_err());
    }

    #[test]
    fn person_name() {
        assert_eq!(PersonName::parse(" 王小明 ").unwrap().as_str(), "王小明");
        let code = |s: &str| PersonName::parse(s).unwrap_err();
        assert_eq!(code("  "), RuleError::new(Field::Name, codes::REQUIRED));
        assert_eq!(code(&"王".repeat(51)).code, codes::TOO_LONG);
        assert_eq!(code(&"王".repeat(4000)).code, codes::TOO_LONG);
        assert_eq!(code("王\r小明").code, codes::CONTROL_CHARS);
    }

    #[test]
    fn gender() {
        assert_eq!(Gender::parse("").unwrap(), None);
        assert_eq!(Gender::parse(" male ").unwrap(), Some(Gender::Male));
        assert_eq!(Gender::parse("Female").unwrap(), Some(Gender::Female));
        for bad in ["m", "男", "other", "males"] {
            assert_eq!(
                Gender::parse(bad).unwrap_err(),
                RuleError::new(Field::Gender, codes::GENDER_INVALID)
            );
        }
        assert_eq!(
            Gender::parse(&"m".repeat(2000)).unwrap_err().code,
            codes::TOO_LONG
        );
        assert_eq!(
            serde_json::to_string(&Gender::Female).unwrap(),
            "\"female\""
        );
        assert_eq!(Gender::Male.as_str(), "male");
    }
}
