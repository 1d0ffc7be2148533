//! [`Phone`] (電話, optional): a Taiwan mobile (`09xx-xxx-xxx`) or landline
//! number with its area code (`02-2345-6789`, `(049)234-5678`) and an
//! optional extension (`#123`, `ext. 123`, `分機 123`, `轉123`), stored as
//! E.164 (`+886223456789`) plus the extension.
//!
//! Parsing and validity (number lengths per area code, mobile vs fixed line)
//! come from `phonenumber` (libphonenumber's metadata) with region TW. Before
//! it: 全形 digits and signs become 半形 (a phone number has no look-alike
//! risk), the number must start with `0` (area code) or `+886`, and only
//! digits, spaces and `-()+#.,` plus the extension words may appear — the
//! parser alone would pull a number out of arbitrary text.

use std::fmt;

use phonenumber::{country, Mode, PhoneNumber, Type};
use serde::{Deserialize, Serialize};

use super::text::{clean, to_halfwidth};
use super::{codes, Field, RuleError};

/// Longer input (after 全形 → 半形) is not a phone number.
pub const PHONE_MAX_CHARS: usize = 40;
/// Taiwan's country calling code.
const TW_CODE: u16 = 886;
const MAX_EXTENSION_DIGITS: usize = 6;

/// A valid Taiwan mobile or landline number. Deserializing re-checks it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "StoredPhone")]
pub struct Phone {
    /// E.164, e.g. `+886912345678`.
    e164: String,
    /// Landline extension digits, e.g. `123`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    extension: Option<String>,
}

impl Phone {
    /// Parses the optional phone field: empty means "not given" (`Ok(None)`).
    pub fn parse(input: &str) -> Result<Option<Phone>, RuleError> {
        let invalid = || RuleError::new(Field::Phone, codes::PHONE_INVALID);
        let text = clean(Field::Phone, input)?;
        if text.is_empty() {
            return Ok(None);
        }
        let half: String = text.chars().map(to_halfwidth).collect();
        if half.chars().count() > PHONE_MAX_CHARS {
            return Err(invalid());
        }
        let normalized = half
            .replace("分機", " ext. ")
            .replace("內線", " ext. ")
            .replace('轉', " ext. ")
            .to_ascii_lowercase();
        if !normalized
            .chars()
            .all(|c| c.is_ascii_digit() || " -()+#.,ext".contains(c))
        {
            return Err(invalid());
        }
        // The first digit or `+` must be the trunk prefix 0 or a `+`.
        match normalized.chars().find(|c| c.is_ascii_digit() || *c == '+') {
            Some('0') | Some('+') => {}
            _ => return Err(invalid()),
        }
        let number = phonenumber::parse(Some(country::TW), &normalized).map_err(|_| invalid())?;
        if number.code().value() != TW_CODE || !number.is_valid() {
            return Err(invalid());
        }
        let kind = number.number_type(&phonenumber::metadata::DATABASE);
        let extension = extension_of(&number);
        let landline = matches!(kind, Type::FixedLine | Type::FixedLineOrMobile);
        if !(landline || kind == Type::Mobile) {
            return Err(invalid());
        }
        if let Some(ext) = &extension {
            if !landline
                || ext.is_empty()
                || ext.len() > MAX_EXTENSION_DIGITS
                || !ext.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(invalid());
            }
        }
        Ok(Some(Phone {
            e164: number.format().mode(Mode::E164).to_string(),
            extension,
        }))
    }

    /// E.164, e.g. `+886223456789`.
    pub fn e164(&self) -> &str {
        &self.e164
    }

    /// The landline extension, if one was given.
    pub fn extension(&self) -> Option<&str> {
        self.extension.as_deref()
    }
}

/// The serialized shape, re-validated by `TryFrom` on the way in.
#[derive(Deserialize)]
struct StoredPhone {
    e164: String,
    #[serde(default)]
    extension: Option<String>,
}

impl TryFrom<StoredPhone> for Phone {
    type Error = RuleError;

    fn try_from(value: StoredPhone) -> Result<Self, Self::Error> {
        let text = match &value.extension {
            Some(ext) => format!("{}#{ext}", value.e164),
            None => value.e164.clone(),
        };
        match Phone::parse(&text)? {
            Some(p) if p.e164 == value.e164 && p.extension == value.extension => Ok(p),
            _ => Err(RuleError::new(Field::Phone, codes::PHONE_INVALID)),
        }
    }
}

fn extension_of(number: &PhoneNumber) -> Option<String> {
    number.extension().map(|e| e.to_string())
}

/// RFC 3966 style: `+886223456789;ext=123`.
impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.extension {
            Some(ext) => write!(f, "{};ext={ext}", self.e164),
            None => f.write_str(&self.e164),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(input: &str) -> (String, Option<String>) {
        let p = Phone::parse(input).unwrap().unwrap();
        (p.e164().to_string(), p.extension().map(str::to_string))
    }

    fn code(input: &str) -> &'static str {
        let e = Phone::parse(input).unwrap_err();
        assert_eq!(e.field, Field::Phone);
        e.code
    }

    #[test]
    fn optional() {
        assert_eq!(Phone::parse("").unwrap(), None);
        assert_eq!(Phone::parse(" \u{3000} ").unwrap(), None);
    }

    #[test]
    fn accepts_mobile_and_landline_as_e164() {
        for (input, e164, ext) in [
            ("0912-345-678", "+886912345678", None),
            ("0912345678", "+886912345678", None),
            ("+886 912 345 678", "+886912345678", None),
            ("０９１２－３４５－６７８", "+886912345678", None),
            ("02-2345-6789", "+886223456789", None),
            ("(02)2345-6789", "+886223456789", None),
            ("(049)234-5678", "+886492345678", None),
            ("037-123456", "+88637123456", None),
            ("089-123456", "+88689123456", None),
            ("02-2345-6789#123", "+886223456789", Some("123")),
            ("02-2345-6789 ext. 12", "+886223456789", Some("12")),
            ("02-2345-6789 分機 123", "+886223456789", Some("123")),
            ("02-2345-6789轉5", "+886223456789", Some("5")),
        ] {
            assert_eq!(
                parsed(input),
                (e164.to_string(), ext.map(str::to_string)),
                "{input}"
            );
        }
        let p = Phone::parse("02-2345-6789#123").unwrap().unwrap();
        assert_eq!(p.to_string(), "+886223456789;ext=123");
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::json!({"e164": "+886223456789", "extension": "123"})
        );
        let back: Phone = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        let m: Phone = serde_json::from_str(r#"{"e164":"+886912345678"}"#).unwrap();
        assert_eq!(m.e164(), "+886912345678");
        assert!(serde_json::from_str::<Phone>(r#"{"e164":"0912345678"}"#).is_err());
        assert!(serde_json::from_str::<Phone>(r#"{"e164":"+12025550123"}"#).is_err());
    }

    #[test]
    fn every_code() {
        assert_eq!(code(&"0".repeat(10 * 1024)), codes::TOO_LONG);
        assert_eq!(code("0912\u{0}345678"), codes::CONTROL_CHARS);
        for bad in [
            "12",
            "0912-345-67",
            "0912-345-6789",
            "082-123456",
            "0800-000-123",
            "0204-123456",
            "070-1234-5678",
            "+1 202 555 0123",
            "886912345678",
            "2345-6789",
            "call 0912345678",
            "0912345678 please",
            "0912-345-678#12",
            "02-2345-6789#1234567",
            "not a phone",
            "0912-345-678-0912-345-678-0912-345-678-0",
        ] {
            assert_eq!(code(bad), codes::PHONE_INVALID, "{bad:?}");
        }
    }
}
