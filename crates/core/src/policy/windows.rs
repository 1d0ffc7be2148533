//! Windows policy source: the values under
//! `HKLM\SOFTWARE\Policies\EduCloud\Desktop` (the computer), then the same
//! key under HKCU (the user), as Group Policy (`deploy/windows/EduCloud.admx`)
//! or Intune writes them.
//!
//! Value types per key (see `docs/it/policies.md`):
//! - switches (`SharedDevice`, …): `REG_DWORD` 0/1 (a `REG_SZ` "0"/"1" is
//!   accepted too);
//! - text (`ServiceUrl`, …): `REG_SZ`, or `REG_EXPAND_SZ` with `%VAR%`s;
//! - lists (`AllowedCounties`, `ExtraCaCertificates`): `REG_MULTI_SZ`, one
//!   item a line (a `REG_SZ` separated by `;` is accepted too);
//! - `CountyOverrides`: JSON text, as `REG_SZ` or as the lines of a
//!   `REG_MULTI_SZ` (what the ADMX's multi-line box writes).
//!
//! The conversion from a value set ([`RegValue`]) and the `.reg` export
//! parser are OS-independent and tested everywhere; only
//! [`add_os_sources`]'s registry reads are compiled on Windows.

use serde_json::Value;

use super::{raw, LoadedPolicy, Policy};

/// The policy key under HKLM and HKCU.
pub const WINDOWS_POLICY_KEY: &str = r"SOFTWARE\Policies\EduCloud\Desktop";

/// One registry value, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegValue {
    Sz(String),
    ExpandSz(String),
    MultiSz(Vec<String>),
    Dword(u32),
    Qword(u64),
    Binary(Vec<u8>),
    /// Any other type, by name (`REG_NONE`, `REG_LINK`, …): reported.
    Other(String),
}

/// Builds a policy from the values of one registry key. Values that are not
/// policy keys, or have the wrong type, are returned as problems.
pub fn policy_from_registry(values: &[(String, RegValue)]) -> (Policy, Vec<String>) {
    policy_from_registry_with(values, &|name| std::env::var(name).ok())
}

/// [`policy_from_registry`] with an explicit environment for `REG_EXPAND_SZ`.
pub fn policy_from_registry_with(
    values: &[(String, RegValue)],
    env: &dyn Fn(&str) -> Option<String>,
) -> (Policy, Vec<String>) {
    let converted = values.iter().map(|(name, value)| {
        let v = match value {
            RegValue::Sz(s) => Ok(Value::String(s.clone())),
            RegValue::ExpandSz(s) => Ok(Value::String(expand_env(s, env))),
            RegValue::MultiSz(lines) => Ok(Value::Array(
                lines.iter().map(|l| Value::String(l.clone())).collect(),
            )),
            RegValue::Dword(n) => Ok(Value::from(*n)),
            RegValue::Qword(n) => Ok(Value::from(*n)),
            RegValue::Binary(_) => Err("REG_BINARY is not supported".to_string()),
            RegValue::Other(t) => Err(format!("{t} is not supported")),
        };
        (name.clone(), v)
    });
    // The unnamed default value, and Group Policy's `**del.` markers.
    raw::policy_from_values(converted, |name| name.is_empty() || name.starts_with("**"))
}

/// Expands `%NAME%` the way `REG_EXPAND_SZ` does: unknown names and a lone
/// `%` stay as written.
pub fn expand_env(s: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find('%') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('%') {
            Some(end) if end > 0 => {
                let name = &after[..end];
                match env(name) {
                    Some(v) => out.push_str(&v),
                    None => {
                        out.push('%');
                        out.push_str(name);
                        out.push('%');
                    }
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push('%');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// One `[key]` section of a `.reg` export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegSection {
    /// As written, e.g. `HKEY_LOCAL_MACHINE\SOFTWARE\Policies\EduCloud\Desktop`.
    pub key: String,
    pub values: Vec<(String, RegValue)>,
}

/// Parses a `.reg` file (`Windows Registry Editor Version 5.00`, as
/// `regedit /e` or `reg export` writes it; UTF-16 with a byte-order mark or
/// UTF-8). Used for the test fixtures and the shipped example, and by IT to
/// check an export with `educloud doctor` on another machine.
pub fn parse_reg_export(bytes: &[u8]) -> Result<Vec<RegSection>, String> {
    let text = decode_text(bytes)?;
    let mut lines = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim_end();
        if let Some(cont) = line
            .strip_suffix('\\')
            .filter(|_| is_hex_line(&pending, line))
        {
            pending.push_str(cont.trim_start());
            continue;
        }
        pending.push_str(line.trim_start());
        lines.push(std::mem::take(&mut pending));
    }
    if !pending.is_empty() {
        lines.push(pending);
    }
    let mut iter = lines
        .into_iter()
        .filter(|l| !l.is_empty() && !l.starts_with(';'));
    match iter.next() {
        Some(h) if h == "Windows Registry Editor Version 5.00" || h == "REGEDIT4" => {}
        other => return Err(format!("not a .reg export (first line {other:?})")),
    }
    let mut sections: Vec<RegSection> = Vec::new();
    for line in iter {
        if let Some(key) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            sections.push(RegSection {
                key: key.to_string(),
                values: Vec::new(),
            });
            continue;
        }
        let section = sections
            .last_mut()
            .ok_or_else(|| format!("value outside a [key]: {line}"))?;
        let (name, data) = split_assignment(&line)?;
        if data == "-" {
            continue; // a deletion
        }
        section.values.push((name, parse_data(data)?));
    }
    Ok(sections)
}

/// A line continues only inside `hex…:` data (strings cannot end in `\`
/// unescaped in an export).
fn is_hex_line(pending: &str, line: &str) -> bool {
    let whole = format!("{pending}{line}");
    whole
        .split_once('=')
        .is_some_and(|(_, d)| d.trim_start().starts_with("hex"))
}

fn decode_text(bytes: &[u8]) -> Result<String, String> {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16(&units).map_err(|e| format!("bad UTF-16: {e}"))
    } else {
        let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
        String::from_utf8(bytes.to_vec()).map_err(|e| format!("bad UTF-8: {e}"))
    }
}

/// Splits `"Name"=data` (or `@=data` for the default value).
fn split_assignment(line: &str) -> Result<(String, &str), String> {
    if let Some(data) = line.strip_prefix("@=") {
        return Ok((String::new(), data));
    }
    let rest = line
        .strip_prefix('"')
        .ok_or_else(|| format!("expected \"Name\"=…: {line}"))?;
    let (name, after) = read_quoted(rest).ok_or_else(|| format!("unterminated name: {line}"))?;
    let data = after
        .strip_prefix('=')
        .ok_or_else(|| format!("expected = after the name: {line}"))?;
    Ok((name, data))
}

/// Reads a quoted string body (after the opening quote) with `\\` and `\"`
/// escapes; returns it and what follows the closing quote.
fn read_quoted(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?.1),
            '"' => return Some((out, &s[i + 1..])),
            c => out.push(c),
        }
    }
    None
}

fn parse_data(data: &str) -> Result<RegValue, String> {
    if let Some(rest) = data.strip_prefix('"') {
        let (s, after) = read_quoted(rest).ok_or_else(|| format!("unterminated text: {data}"))?;
        if !after.trim().is_empty() {
            return Err(format!("unexpected text after the value: {data}"));
        }
        return Ok(RegValue::Sz(s));
    }
    if let Some(hex) = data.strip_prefix("dword:") {
        return u32::from_str_radix(hex.trim(), 16)
            .map(RegValue::Dword)
            .map_err(|e| format!("bad dword {hex}: {e}"));
    }
    let (tag, hex) = data
        .split_once(':')
        .ok_or_else(|| format!("unknown value format: {data}"))?;
    let bytes = hex
        .split(',')
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(|b| u8::from_str_radix(b, 16).map_err(|e| format!("bad hex byte {b}: {e}")))
        .collect::<Result<Vec<u8>, String>>()?;
    let utf16 = |bytes: &[u8]| -> Result<String, String> {
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16(&units).map_err(|e| format!("bad UTF-16 text: {e}"))
    };
    match tag {
        "hex" => Ok(RegValue::Binary(bytes)),
        "hex(2)" => Ok(RegValue::ExpandSz(
            utf16(&bytes)?.trim_end_matches('\0').to_string(),
        )),
        "hex(7)" => {
            let text = utf16(&bytes)?;
            Ok(RegValue::MultiSz(
                text.trim_end_matches('\0')
                    .split('\0')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            ))
        }
        "hex(b)" => {
            let arr: [u8; 8] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| format!("a qword needs 8 bytes: {data}"))?;
            Ok(RegValue::Qword(u64::from_le_bytes(arr)))
        }
        "hex(4)" => {
            let arr: [u8; 4] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| format!("a dword needs 4 bytes: {data}"))?;
            Ok(RegValue::Dword(u32::from_le_bytes(arr)))
        }
        other => Ok(RegValue::Other(other.to_string())),
    }
}

/// Adds the sections of a parsed `.reg` export whose key is the policy key
/// under HKLM or HKCU, machine first, as the app would read them.
pub fn add_reg_export(loaded: &mut LoadedPolicy, name: &str, sections: &[RegSection]) {
    for hive in ["HKEY_LOCAL_MACHINE", "HKEY_CURRENT_USER"] {
        let wanted = format!("{hive}\\{WINDOWS_POLICY_KEY}");
        for s in sections
            .iter()
            .filter(|s| s.key.eq_ignore_ascii_case(&wanted))
        {
            let machine = hive == "HKEY_LOCAL_MACHINE";
            add_values(loaded, format!("{name} [{wanted}]"), &s.values, machine);
        }
    }
}

fn add_values(
    loaded: &mut LoadedPolicy,
    name: String,
    values: &[(String, RegValue)],
    machine: bool,
) {
    let (policy, problems) = policy_from_registry(values);
    loaded
        .problems
        .extend(problems.into_iter().map(|p| format!("{name}: {p}")));
    if machine {
        loaded.add(name, policy);
    } else {
        loaded.add_user(name, policy);
    }
}

/// Reads HKLM, then HKCU.
#[cfg(windows)]
pub(super) fn add_os_sources(loaded: &mut LoadedPolicy) {
    use winreg::enums::{HKEY_CURRENT_USER, HKEY_LOCAL_MACHINE};
    for (hive, label) in [(HKEY_LOCAL_MACHINE, "HKLM"), (HKEY_CURRENT_USER, "HKCU")] {
        let name = format!("{label}\\{WINDOWS_POLICY_KEY}");
        match read_key(&winreg::RegKey::predef(hive)) {
            Ok(Some(values)) => add_values(loaded, name, &values, label == "HKLM"),
            Ok(None) => {}
            Err(e) => loaded.problems.push(format!("{name}: unreadable, {e}")),
        }
    }
}

#[cfg(not(windows))]
pub(super) fn add_os_sources(_loaded: &mut LoadedPolicy) {}

/// The values of the policy key under one hive; `None` if the key is absent.
#[cfg(windows)]
fn read_key(hive: &winreg::RegKey) -> std::io::Result<Option<Vec<(String, RegValue)>>> {
    use winreg::enums::{RegType, KEY_READ, KEY_WOW64_64KEY};
    use winreg::types::FromRegValue;
    let key = match hive.open_subkey_with_flags(WINDOWS_POLICY_KEY, KEY_READ | KEY_WOW64_64KEY) {
        Ok(k) => k,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for item in key.enum_values() {
        let (name, v) = item?;
        let value = match v.vtype {
            RegType::REG_SZ => RegValue::Sz(String::from_reg_value(&v)?),
            RegType::REG_EXPAND_SZ => RegValue::ExpandSz(String::from_reg_value(&v)?),
            RegType::REG_MULTI_SZ => RegValue::MultiSz(
                Vec::<String>::from_reg_value(&v)?
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect(),
            ),
            RegType::REG_DWORD | RegType::REG_DWORD_BIG_ENDIAN => {
                RegValue::Dword(u32::from_reg_value(&v)?)
            }
            RegType::REG_QWORD => RegValue::Qword(u64::from_reg_value(&v)?),
            RegType::REG_BINARY => RegValue::Binary(v.bytes.to_vec()),
            ref other => RegValue::Other(format!("{other:?}")),
        };
        out.push((name, value));
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "ProgramData").then(|| r"C:\ProgramData".to_string())
    }

    #[test]
    fn expands_known_variables_only() {
        assert_eq!(
            expand_env(r"%ProgramData%\EduCloud\ca.pem", &env),
            r"C:\ProgramData\EduCloud\ca.pem"
        );
        assert_eq!(expand_env("%Nope%\\x 100% %", &env), "%Nope%\\x 100% %");
        assert_eq!(expand_env("%%", &env), "%%");
    }

    #[test]
    fn value_types_map_to_keys() {
        let values = vec![
            ("".to_string(), RegValue::Sz("default value".into())),
            ("**del.ProxyUrl".to_string(), RegValue::Sz(" ".into())),
            ("SharedDevice".to_string(), RegValue::Dword(1)),
            ("DisableUpdates".to_string(), RegValue::Qword(0)),
            (
                "ExtraCaCertificates".to_string(),
                RegValue::ExpandSz(r"%ProgramData%\EduCloud\ca.pem".into()),
            ),
            (
                "AllowedCounties".to_string(),
                RegValue::MultiSz(vec!["ntpc".into(), "tp".into()]),
            ),
            ("Language".to_string(), RegValue::Binary(vec![0x65, 0x6e])),
            (
                "UpdateChannel".to_string(),
                RegValue::Other("REG_LINK".into()),
            ),
        ];
        let (p, problems) = policy_from_registry_with(&values, &env);
        assert!(p.shared_device() && p.disable_updates == Some(false));
        assert_eq!(
            p.extra_ca_certificates.unwrap(),
            [std::path::PathBuf::from(r"C:\ProgramData\EduCloud\ca.pem")]
        );
        assert_eq!(p.allowed_counties.unwrap(), ["ntpc", "tp"]);
        assert_eq!(
            problems,
            [
                "Language: ignored, REG_BINARY is not supported",
                "UpdateChannel: ignored, REG_LINK is not supported"
            ]
        );
    }

    #[test]
    fn parses_reg_exports_in_utf8_and_utf16() {
        let text = "Windows Registry Editor Version 5.00\r\n\r\n\
            [HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\EduCloud\\Desktop]\r\n\
            \"ServiceUrl\"=\"https://a.tw/\\\"q\\\"\"\r\n\
            \"SharedDevice\"=dword:00000001\r\n\
            \"Gone\"=-\r\n\
            \"List\"=hex(7):61,00,00,00,62,00,\\\r\n  00,00,00,00\r\n\
            \"Big\"=hex(b):01,00,00,00,00,00,00,00\r\n\
            @=\"default\"\r\n";
        let sections = parse_reg_export(text.as_bytes()).unwrap();
        assert_eq!(sections.len(), 1);
        let v = &sections[0].values;
        assert_eq!(
            v[0],
            (
                "ServiceUrl".into(),
                RegValue::Sz("https://a.tw/\"q\"".into())
            )
        );
        assert_eq!(v[1], ("SharedDevice".into(), RegValue::Dword(1)));
        assert_eq!(
            v[2],
            (
                "List".into(),
                RegValue::MultiSz(vec!["a".into(), "b".into()])
            )
        );
        assert_eq!(v[3], ("Big".into(), RegValue::Qword(1)));
        assert_eq!(v[4], ("".into(), RegValue::Sz("default".into())));
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(parse_reg_export(&utf16).unwrap(), sections);
        assert!(parse_reg_export(b"hello").is_err());
        assert!(parse_reg_export(b"REGEDIT4\n\"x\"=\"y\"\n").is_err());
        assert!(parse_reg_export(b"REGEDIT4\n[k]\n\"x\"=dword:zz\n").is_err());
    }
}
