//! From loosely typed values (registry values, plist values) to a
//! [`Policy`], key by key: a wrong value in one key is reported and skipped,
//! the other keys still apply. Names match case-insensitively, as registry
//! value names do.
//!
//! Each source first turns its values into `serde_json::Value`s; this module
//! coerces them to the shape the key needs and lets the model's own serde
//! rules validate them, so the JSON file, the registry and the plist accept
//! the same values.

use serde_json::{Map, Value};

use super::keys::Shape;
use super::{Policy, KEYS};

/// A value's kind in words, for problems.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a dictionary",
    }
}

fn coerce(shape: Shape, v: Value) -> Result<Option<Value>, String> {
    match (shape, v) {
        (Shape::Bool, Value::Bool(b)) => Ok(Some(Value::Bool(b))),
        (Shape::Bool, Value::Number(n)) => match n.as_u64() {
            Some(0) => Ok(Some(Value::Bool(false))),
            Some(1) => Ok(Some(Value::Bool(true))),
            _ => Err(format!("expected 0 or 1, got {n}")),
        },
        (Shape::Bool, Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "1" | "true" => Ok(Some(Value::Bool(true))),
            "0" | "false" => Ok(Some(Value::Bool(false))),
            _ => Err(format!("expected 0 or 1, got text {s:?}")),
        },
        (Shape::Text, Value::String(s)) => {
            let s = s.trim();
            Ok((!s.is_empty()).then(|| Value::String(s.to_string())))
        }
        (Shape::Lowercase, Value::String(s)) => {
            let s = s.trim().to_ascii_lowercase();
            Ok((!s.is_empty()).then_some(Value::String(s)))
        }
        (Shape::List, Value::Array(items)) => {
            let mut out = Vec::new();
            for item in items {
                match item {
                    Value::String(s) if s.trim().is_empty() => {}
                    Value::String(s) => out.push(Value::String(s.trim().to_string())),
                    other => return Err(format!("list items must be text, got {}", kind(&other))),
                }
            }
            Ok(Some(Value::Array(out)))
        }
        (Shape::List, Value::String(s)) => Ok(Some(Value::Array(
            s.split([';', ',', '\n', '\r'])
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| Value::String(p.to_string()))
                .collect(),
        ))),
        (Shape::Object, Value::Object(m)) => Ok(Some(Value::Object(m))),
        (Shape::Object, Value::String(s)) => parse_object(&s),
        (Shape::Object, Value::Array(lines)) => {
            let mut text = String::new();
            for line in lines {
                match line {
                    Value::String(s) => {
                        text.push_str(&s);
                        text.push('\n');
                    }
                    other => return Err(format!("lines must be text, got {}", kind(&other))),
                }
            }
            parse_object(&text)
        }
        (Shape::Bool, other) => Err(format!("expected 0 or 1, got {}", kind(&other))),
        (Shape::Text | Shape::Lowercase, other) => {
            Err(format!("expected text, got {}", kind(&other)))
        }
        (Shape::List, other) => Err(format!("expected a list, got {}", kind(&other))),
        (Shape::Object, other) => Err(format!("expected a dictionary, got {}", kind(&other))),
    }
}

fn parse_object(text: &str) -> Result<Option<Value>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Ok(Some(v)),
        Ok(other) => Err(format!("expected a JSON object, got {}", kind(&other))),
        Err(e) => Err(format!("not valid JSON: {e}")),
    }
}

/// Builds a policy from named values. `Err` values are values the source
/// could not read (e.g. an unsupported registry type); `skip` says which
/// names are not policy keys at all and are silently ignored.
pub(crate) fn policy_from_values(
    values: impl IntoIterator<Item = (String, Result<Value, String>)>,
    skip: impl Fn(&str) -> bool,
) -> (Policy, Vec<String>) {
    let mut fields = Map::new();
    let mut problems = Vec::new();
    for (name, value) in values {
        if skip(&name) {
            continue;
        }
        let Some(key) = KEYS.iter().find(|k| k.eq_ignore_ascii_case(name.trim())) else {
            problems.push(format!("unknown key {name}"));
            continue;
        };
        let Some(shape) = Policy::shape(key) else {
            continue;
        };
        let coerced = value.and_then(|v| coerce(shape, v));
        let checked = coerced.and_then(|v| match v {
            None => Ok(None),
            Some(v) => {
                let one = Map::from_iter([(key.to_string(), v.clone())]);
                serde_json::from_value::<Policy>(Value::Object(one))
                    .map(|_| Some(v))
                    .map_err(|e| e.to_string())
            }
        });
        match checked {
            Ok(Some(v)) => {
                if fields.insert(key.to_string(), v).is_some() {
                    problems.push(format!("{key}: set twice, the last value is used"));
                }
            }
            Ok(None) => {}
            Err(e) => problems.push(format!("{key}: ignored, {e}")),
        }
    }
    match serde_json::from_value(Value::Object(fields)) {
        Ok(policy) => (policy, problems),
        Err(e) => {
            problems.push(format!("ignored, {e}"));
            (Policy::default(), problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build(pairs: &[(&str, Value)]) -> (Policy, Vec<String>) {
        policy_from_values(
            pairs.iter().map(|(k, v)| (k.to_string(), Ok(v.clone()))),
            |_| false,
        )
    }

    #[test]
    fn coerces_each_shape() {
        let (p, problems) = build(&[
            ("sharedDEVICE", json!(1)),
            ("AllowStaySignedIn", json!("false")),
            ("DisableUpdates", json!(true)),
            ("Environment", json!("Production")),
            ("AllowedCounties", json!("ntpc; tp,\nkh")),
            ("ExtraCaCertificates", json!(["/a.pem", " ", "/b.pem"])),
            (
                "CountyOverrides",
                json!(["{\"kl\":", "{\"client_id\":\"x\"}}"]),
            ),
            ("Language", json!("  en ")),
            ("BrowserCommand", json!("")),
        ]);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(p.shared_device() && p.allow_stay_signed_in == Some(false));
        assert_eq!(p.disable_updates, Some(true));
        assert_eq!(
            p.environment,
            Some(super::super::EnvironmentKind::Production)
        );
        assert_eq!(p.allowed_counties.unwrap(), ["ntpc", "tp", "kh"]);
        assert_eq!(p.extra_ca_certificates.unwrap().len(), 2);
        assert_eq!(
            p.county_overrides.unwrap()["kl"].client_id.as_deref(),
            Some("x")
        );
        assert_eq!(p.language, Some(super::super::Language::En));
        assert_eq!(p.browser_command, None, "empty text means not set");
    }

    #[test]
    fn a_bad_value_skips_only_its_key() {
        let (p, problems) = build(&[
            ("SharedDevice", json!(2)),
            ("Environment", json!("staging")),
            ("CountyOverrides", json!("{\"kl\": {\"colour\": \"red\"}}")),
            ("AllowedCounties", json!([1, 2])),
            ("Language", json!(["en"])),
            ("NewKey", json!("x")),
            ("DefaultCounty", json!("tp")),
        ]);
        assert_eq!(p.default_county.as_deref(), Some("tp"));
        assert!(p.shared_device.is_none() && p.environment.is_none());
        assert!(p.county_overrides.is_none() && p.allowed_counties.is_none());
        assert_eq!(problems.len(), 6, "{problems:#?}");
        assert!(problems[0].starts_with("SharedDevice: ignored, expected 0 or 1"));
        assert!(problems[1].starts_with("Environment: ignored, unknown variant `staging`"));
        assert!(problems[2].contains("unknown field `colour`"));
        assert_eq!(problems[5], "unknown key NewKey");
    }

    #[test]
    fn unreadable_values_and_skipped_names() {
        let (p, problems) = policy_from_values(
            [
                (
                    "Language".to_string(),
                    Err("REG_BINARY is not supported".to_string()),
                ),
                ("PayloadUUID".to_string(), Ok(json!("x"))),
                ("Language".to_string(), Ok(json!("en"))),
                ("language".to_string(), Ok(json!("zh-TW"))),
            ],
            |n| n.starts_with("Payload"),
        );
        assert_eq!(p.language, Some(super::super::Language::ZhTw));
        assert_eq!(
            problems,
            [
                "Language: ignored, REG_BINARY is not supported",
                "Language: set twice, the last value is used"
            ]
        );
    }
}
