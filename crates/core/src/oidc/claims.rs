//! Claims → [`CountyIdentity`]: the ID token's claims, UserInfo and the
//! profile resources, normalized over the counties' shapes.

use serde_json::{Map, Value};

use super::types::EduIdTokenClaims;
use super::CountyIdentity;

pub(crate) fn claims_json(claims: &EduIdTokenClaims) -> Map<String, Value> {
    match serde_json::to_value(claims) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// UserInfo values (non-empty) win over the ID token's.
pub(crate) fn overlay(into: &mut Map<String, Value>, from: Value) {
    if let Value::Object(m) = from {
        for (k, v) in m {
            let empty = v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty());
            if !empty {
                into.insert(k, v);
            }
        }
    }
}

pub(crate) fn str_of(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Position `i` of a `[role, title]` list as text: trimmed; blank or not
/// text → `None` (as [`str_of`]), without shifting the other position.
fn title_at(list: &[Value], i: usize) -> Option<String> {
    list.get(i)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `[{"schoolid","titles":[role,title]}]` (eduinfo) or kh_titles in any of
/// the shapes seen: strings, `{role,title}` objects, eduinfo-like objects.
pub(crate) fn role_and_title(
    titles: &Value,
    school_id: Option<&str>,
) -> (Option<String>, Option<String>) {
    let Some(list) = titles.as_array() else {
        return (None, None);
    };
    if list.iter().all(Value::is_string) {
        return (title_at(list, 0), title_at(list, 1));
    }
    let pick = list
        .iter()
        .find(|e| school_id.is_some() && str_of(e, "schoolid").as_deref() == school_id)
        .or_else(|| list.first());
    let Some(entry) = pick else {
        return (None, None);
    };
    if let Some(inner) = entry.get("titles").and_then(Value::as_array) {
        return (title_at(inner, 0), title_at(inner, 1));
    }
    (str_of(entry, "role"), str_of(entry, "title"))
}

pub(crate) fn identity_from_claims(
    county: &str,
    sub: &str,
    claims: &Map<String, Value>,
    eduinfo: Option<&Value>,
) -> CountyIdentity {
    let all = Value::Object(claims.clone());
    let kh = claims.get("kh_profile").cloned().unwrap_or(Value::Null);
    let school_id = eduinfo
        .and_then(|e| str_of(e, "schoolid"))
        .or_else(|| str_of(&kh, "schoolid"))
        .or_else(|| str_of(&all, "school_id"))
        .or_else(|| str_of(&all, "schoolid"));
    let (role, title) = eduinfo
        .and_then(|e| e.get("titles"))
        .or_else(|| claims.get("kh_titles"))
        .map(|t| role_and_title(t, school_id.as_deref()))
        .unwrap_or((None, None));
    CountyIdentity {
        county: county.to_string(),
        sub: sub.to_string(),
        name: str_of(&all, "name").or_else(|| str_of(&kh, "fullname")),
        email: str_of(&all, "email").or_else(|| str_of(&kh, "email")),
        preferred_username: str_of(&all, "preferred_username"),
        school_name: str_of(&all, "school_name")
            .or_else(|| str_of(&kh, "schoolname"))
            .or_else(|| str_of(&kh, "school_name")),
        school_id,
        role: role.or_else(|| str_of(&all, "role")),
        title: title.or_else(|| str_of(&all, "title")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn blank_titles_are_no_titles() {
        // Found by the `claims` fuzz target (fuzz/src/oidc.rs): eduinfo
        // titles ["", "專任教師"] gave role Some("") — a blank 職稱 part that
        // also hid a real `role` claim.
        assert_eq!(
            role_and_title(&json!([{"titles": ["", "專任教師"]}]), None),
            (None, Some("專任教師".to_string()))
        );
        assert_eq!(
            role_and_title(&json!([" ", " 導師 "]), None),
            (None, Some("導師".to_string()))
        );
        let id = identity_from_claims(
            "ntpc",
            "s",
            &obj(json!({"role": "教師"})),
            Some(&json!({"titles": [{"titles": [" ", ""]}]})),
        );
        assert_eq!(id.role.as_deref(), Some("教師"));
        assert_eq!(id.title, None);
    }

    #[test]
    fn sso_identity_takes_school_and_titles_from_eduinfo() {
        let claims = obj(json!({"sub":"u-1","name":"王小明","email":"t@mail.edu.tw",
            "preferred_username":"ntpctest"}));
        let edu = json!({"schoolid":"014569","sub":"u-1",
            "titles":[{"schoolid":"999999","titles":["職員","幹事"]},
                      {"schoolid":"014569","titles":["教師","專任教師"]}]});
        let id = identity_from_claims("ntpc", "u-1", &claims, Some(&edu));
        assert_eq!(id.school_id.as_deref(), Some("014569"));
        assert_eq!(id.role.as_deref(), Some("教師"));
        assert_eq!(id.title.as_deref(), Some("專任教師"));
        assert_eq!(id.name.as_deref(), Some("王小明"));
        assert_eq!(id.preferred_username.as_deref(), Some("ntpctest"));
    }

    #[test]
    fn kaohsiung_identity_reads_kh_claims_and_tolerates_empty_email() {
        let claims = obj(json!({"sub":"pairwise-1","name":"","email":"",
            "kh_profile":{"fullname":"林老師","email":"lin@kh.edu.tw","schoolid":"583501"},
            "kh_titles":["教師","導師"]}));
        let id = identity_from_claims("kh", "pairwise-1", &claims, None);
        assert_eq!(id.name.as_deref(), Some("林老師"));
        assert_eq!(id.email.as_deref(), Some("lin@kh.edu.tw"));
        assert_eq!(id.school_id.as_deref(), Some("583501"));
        assert_eq!(
            (id.role.as_deref(), id.title.as_deref()),
            (Some("教師"), Some("導師"))
        );
        let objects = obj(json!({"kh_titles":[{"role":"職員","title":"組長"}]}));
        let id = identity_from_claims("kh", "s", &objects, None);
        assert_eq!(
            (id.role.as_deref(), id.title.as_deref()),
            (Some("職員"), Some("組長"))
        );
    }

    #[test]
    fn userinfo_overlays_only_non_empty_values() {
        let mut m = obj(json!({"name":"A","email":"a@x.tw"}));
        overlay(&mut m, json!({"name":"B","email":"","sub":"s"}));
        assert_eq!(m["name"], "B");
        assert_eq!(m["email"], "a@x.tw");
    }
}
