//! [`Policy::check`]: values that parse but cannot work.

use educloud_contract::county::{self, IdpProfile};

use super::{EnvironmentKind, Policy};

impl Policy {
    /// Values that parse but cannot work (a bad URL, an unknown county, an
    /// unsupported language): `(key, problem)` pairs for `doctor` and the
    /// diagnostics view. The app still starts; the value is used as far as
    /// it can be.
    pub fn check(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let known = |code: &str| {
            county::find(code).is_some()
                || self
                    .county_overrides
                    .as_ref()
                    .is_some_and(|m| m.contains_key(code))
        };
        if let Some(u) = &self.service_url {
            if let Err(e) = check_secure_url(u) {
                out.push(("ServiceUrl", e));
            }
        }
        if self.environment == Some(EnvironmentKind::Custom) && self.service_url.is_none() {
            out.push(("Environment", "custom needs ServiceUrl".to_string()));
        }
        if let Some(c) = &self.default_county {
            if !known(c) {
                out.push(("DefaultCounty", format!("unknown county code {c}")));
            } else if !self.county_allowed(c) {
                out.push(("DefaultCounty", format!("{c} is not in AllowedCounties")));
            }
        }
        for c in self.allowed_counties.iter().flatten() {
            if !known(c) {
                out.push(("AllowedCounties", format!("unknown county code {c}")));
            }
        }
        for (code, o) in self.county_overrides.iter().flatten() {
            if !county::is_valid_code(code) {
                out.push((
                    "CountyOverrides",
                    format!("{code}: not a valid county code"),
                ));
                continue;
            }
            let added = county::find(code).is_none();
            let missing: Vec<&str> = [
                ("name_zh", o.name_zh.is_none()),
                ("issuer", o.issuer.is_none()),
                ("client_id", o.client_id.is_none()),
            ]
            .into_iter()
            .filter(|(_, m)| added && *m)
            .map(|(f, _)| f)
            .collect();
            if !missing.is_empty() {
                out.push((
                    "CountyOverrides",
                    format!("{code}: a new county needs {}", missing.join(", ")),
                ));
            }
            if let Some(u) = o.issuer.as_deref() {
                match check_secure_url(u) {
                    Err(e) => out.push(("CountyOverrides", format!("{code}: issuer {e}"))),
                    Ok(url) if url.query().is_some() || url.fragment().is_some() => out.push((
                        "CountyOverrides",
                        format!("{code}: issuer {u} must not have a query or fragment"),
                    )),
                    Ok(_) => {}
                }
            }
            if let Some(p) = &o.profile {
                if serde_json::from_value::<IdpProfile>(serde_json::Value::String(p.clone()))
                    .is_err()
                {
                    out.push((
                        "CountyOverrides",
                        format!(
                            "{code}: unknown profile {p} (oidc, sso_edu_tw, kaohsiung, taipei_oauth2)"
                        ),
                    ));
                }
            }
        }
        if let Some(b) = &self.browser_command {
            if shell_words::split(b).map(|w| w.is_empty()).unwrap_or(true) {
                out.push(("BrowserCommand", "not a command line".to_string()));
            }
        }
        if let Some(p) = &self.proxy_url {
            if let Err(e) = check_url(p, &["http", "https"]) {
                out.push(("ProxyUrl", e));
            }
        }
        out
    }
}

/// A URL the app itself calls (`ServiceUrl`, a county issuer): exactly what
/// the app accepts at run time ([`crate::api::is_secure_url`]) — https, or
/// plain http to a loopback IP literal (not `localhost`, RFC 8252 §8.3).
pub(crate) fn check_secure_url(u: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(u).map_err(|e| format!("{u} is not a URL ({e})"))?;
    if crate::api::is_secure_url(&url) {
        Ok(url)
    } else {
        Err(format!(
            "{u}: scheme must be https (plain http only to 127.0.0.1 or [::1])"
        ))
    }
}

/// Checks that `u` is an absolute URL with one of `schemes` (plain `http`
/// is also accepted for loopback hosts, which IT uses for local proxies and
/// tests use for the sandbox).
pub(crate) fn check_url(u: &str, schemes: &[&str]) -> Result<(), String> {
    let url = url::Url::parse(u).map_err(|e| format!("{u} is not a URL ({e})"))?;
    let loopback = matches!(url.host(), Some(url::Host::Domain("localhost")))
        || matches!(url.host(), Some(url::Host::Ipv4(a)) if a.is_loopback())
        || matches!(url.host(), Some(url::Host::Ipv6(a)) if a.is_loopback());
    if schemes.contains(&url.scheme()) || (url.scheme() == "http" && loopback) {
        Ok(())
    } else {
        Err(format!("{u}: scheme must be {}", schemes.join(" or ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_finds_values_that_cannot_work() {
        let (p, problems) = Policy::from_json(
            r#"{"Environment":"custom","ServiceUrl":"http://educloud.example.tw",
            "DefaultCounty":"kh","AllowedCounties":["tp","xx"],
            "CountyOverrides":{"newc":{"issuer":"https://idp.example.tw"},
                               "Bad Code":{},"tp":{"profile":"saml"}},
            "BrowserCommand":"'unclosed","ProxyUrl":"ftp://proxy","UpdateChannel":"nightly",
            "Language":"fr"}"#,
        )
        .unwrap();
        // Values outside the enums are refused while parsing (the key is
        // skipped, the others apply).
        assert_eq!(problems.len(), 2, "{problems:#?}");
        for e in [
            "UpdateChannel: ignored, unknown variant `nightly`",
            "Language: ignored, unknown variant `fr`",
        ] {
            assert!(
                problems.iter().any(|p| p.starts_with(e)),
                "{e}: {problems:#?}"
            );
        }
        let found: Vec<String> = p.check().iter().map(|(k, m)| format!("{k}: {m}")).collect();
        let expect = [
            "ServiceUrl: http://educloud.example.tw: scheme must be https",
            "DefaultCounty: kh is not in AllowedCounties",
            "AllowedCounties: unknown county code xx",
            "CountyOverrides: Bad Code: not a valid county code",
            "CountyOverrides: newc: a new county needs name_zh, client_id",
            "CountyOverrides: tp: unknown profile saml",
            "BrowserCommand: not a command line",
            "ProxyUrl: ftp://proxy: scheme must be http or https",
        ];
        for e in expect {
            assert!(
                found.iter().any(|f| f.starts_with(e)),
                "missing {e} in {found:#?}"
            );
        }
        assert_eq!(found.len(), expect.len(), "{found:#?}");
        // Loopback http is fine (local proxies, the sandbox).
        let (ok, _) = Policy::from_json(
            r#"{"ServiceUrl":"http://127.0.0.1:8080/","ProxyUrl":"http://localhost:3128"}"#,
        )
        .unwrap();
        assert!(ok.check().is_empty(), "{:?}", ok.check());
    }

    #[test]
    fn urls_the_app_would_refuse_are_reported() {
        // Found by the url_differential fuzz target (fuzz/src/oidc.rs):
        // check() passed a ServiceUrl http://localhost… and issuers with a
        // query, which the app then refuses (api::is_secure_url,
        // directory::check_issuer): doctor said "fine", the app failed.
        let (p, _) = Policy::from_json(
            r#"{"ServiceUrl":"http://localhost:8080/",
            "CountyOverrides":{
              "lab":{"name_zh":"實驗","client_id":"c","issuer":"https://idp.lab.example.tw/?x=1"},
              "labb":{"name_zh":"實驗二","client_id":"c","issuer":"http://localhost/idp"}}}"#,
        )
        .unwrap();
        let found: Vec<String> = p.check().iter().map(|(k, m)| format!("{k}: {m}")).collect();
        for e in [
            "ServiceUrl: http://localhost:8080/: scheme must be https",
            "CountyOverrides: lab: issuer https://idp.lab.example.tw/?x=1 must not have a query or fragment",
            "CountyOverrides: labb: issuer http://localhost/idp: scheme must be https",
        ] {
            assert!(
                found.iter().any(|f| f.starts_with(e)),
                "missing {e} in {found:#?}"
            );
        }
    }
}
