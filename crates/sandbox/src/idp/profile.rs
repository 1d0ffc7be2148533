//! The three county IdP profiles: their endpoint paths (relative to the
//! issuer), scopes and metadata documents, as `/tmp/educloud-api.md` and
//! `shared/design/facts.md` describe the real ones.

use educloud_contract::county::IdpProfile;
use serde_json::{json, Value};

/// Paths of one profile, relative to the issuer (each starts with `/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints {
    /// Where the metadata document is served.
    pub metadata: &'static str,
    pub authorize: &'static str,
    pub token: &'static str,
    /// OIDC UserInfo (none for the Taipei profile).
    pub userinfo: Option<&'static str>,
    /// JWKS (none for the Taipei profile: it signs nothing).
    pub jwks: Option<&'static str>,
    pub revocation: &'static str,
    pub end_session: &'static str,
    /// sso.edu.tw's eduinfo resource.
    pub eduinfo: Option<&'static str>,
    /// Taipei's identity API.
    pub api_user: Option<&'static str>,
    /// Taipei's profile API.
    pub api_profile: Option<&'static str>,
}

/// Paths every profile shares (the sandbox's own login form).
pub const LOGIN_PATH: &str = "/login";
pub const CANCEL_PATH: &str = "/login/cancel";
pub const STATUS_PATH: &str = "/status";
pub const ROTATE_KEYS_PATH: &str = "/_admin/rotate-keys";

const SSO: Endpoints = Endpoints {
    metadata: "/.well-known/openid-configuration",
    authorize: "/oidc/v1/azp",
    token: "/oidc/v1/token",
    userinfo: Some("/oidc/v1/userinfo"),
    jwks: Some("/oidc/v1/jwksets"),
    revocation: "/oidc/v1/revoke",
    end_session: "/auth-logout",
    eduinfo: Some("/cncresource/api/v1/eduinfo"),
    api_user: None,
    api_profile: None,
};

const KAOHSIUNG: Endpoints = Endpoints {
    metadata: "/.well-known/openid-configuration",
    authorize: "/oauth2/auth",
    token: "/oauth2/token",
    userinfo: Some("/userinfo"),
    jwks: Some("/.well-known/jwks.json"),
    revocation: "/oauth2/revoke",
    end_session: "/oauth2/sessions/logout",
    eduinfo: None,
    api_user: None,
    api_profile: None,
};

const TAIPEI: Endpoints = Endpoints {
    metadata: "/.well-known/oauth-authorization-server",
    authorize: "/oauth/authorize",
    token: "/oauth/token",
    userinfo: None,
    jwks: None,
    revocation: "/oauth/revoke",
    end_session: "/oauth/logout",
    eduinfo: None,
    api_user: Some("/api/user"),
    api_profile: Some("/api/profile"),
};

/// The endpoint paths of a profile (`Oidc` uses the sso.edu.tw layout).
pub fn endpoints(profile: IdpProfile) -> &'static Endpoints {
    match profile {
        IdpProfile::SsoEduTw | IdpProfile::Oidc => &SSO,
        IdpProfile::Kaohsiung => &KAOHSIUNG,
        IdpProfile::TaipeiOauth2 => &TAIPEI,
    }
}

/// The scopes a client asks for at this profile (what the service
/// configuration lists per county).
pub fn scopes(profile: IdpProfile) -> &'static [&'static str] {
    match profile {
        IdpProfile::SsoEduTw | IdpProfile::Oidc => &["openid", "profile", "email", "eduinfo"],
        IdpProfile::Kaohsiung => &["openid", "email", "profile", "kh_profile", "kh_titles"],
        IdpProfile::TaipeiOauth2 => &["user", "profile"],
    }
}

/// Every scope the profile grants (the requested ones plus `offline_access`).
pub fn supported_scopes(profile: IdpProfile) -> Vec<&'static str> {
    let mut s = scopes(profile).to_vec();
    if profile == IdpProfile::TaipeiOauth2 {
        s.push("email");
    }
    s.push("offline_access");
    s
}

/// The discovery (OIDC) or authorization server metadata (RFC 8414)
/// document of one county; `issuer` has no trailing slash.
pub fn metadata(profile: IdpProfile, issuer: &str) -> Value {
    let ep = endpoints(profile);
    let at = |p: &str| format!("{issuer}{p}");
    let mut doc = json!({
        "issuer": issuer,
        "authorization_endpoint": at(ep.authorize),
        "token_endpoint": at(ep.token),
        "revocation_endpoint": at(ep.revocation),
        "end_session_endpoint": at(ep.end_session),
        "scopes_supported": supported_scopes(profile),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "authorization_response_iss_parameter_supported": true,
        "ui_locales_supported": ["zh-TW", "en"],
        "service_documentation": at(STATUS_PATH),
    });
    if profile.has_id_token() {
        let obj = doc.as_object_mut();
        if let Some(obj) = obj {
            if let Some(p) = ep.userinfo {
                obj.insert("userinfo_endpoint".into(), json!(at(p)));
            }
            if let Some(p) = ep.jwks {
                obj.insert("jwks_uri".into(), json!(at(p)));
            }
            let pairwise = profile == IdpProfile::Kaohsiung;
            obj.insert(
                "subject_types_supported".into(),
                json!([if pairwise { "pairwise" } else { "public" }]),
            );
            obj.insert(
                "id_token_signing_alg_values_supported".into(),
                json!(["RS256"]),
            );
            obj.insert("prompt_values_supported".into(), json!(["none", "login"]));
            obj.insert("claims_parameter_supported".into(), json!(false));
            obj.insert("request_parameter_supported".into(), json!(false));
            let mut claims = vec![
                "sub",
                "iss",
                "aud",
                "azp",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "name",
                "given_name",
                "family_name",
                "preferred_username",
                "email",
                "email_verified",
            ];
            if pairwise {
                claims.extend(["kh_profile", "kh_titles"]);
            }
            obj.insert("claims_supported".into(), json!(claims));
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sso_metadata_has_the_agreed_paths() {
        let d = metadata(IdpProfile::SsoEduTw, "http://127.0.0.1:1/idp/ntpc");
        assert_eq!(d["issuer"], "http://127.0.0.1:1/idp/ntpc");
        assert_eq!(
            d["authorization_endpoint"],
            "http://127.0.0.1:1/idp/ntpc/oidc/v1/azp"
        );
        assert_eq!(d["jwks_uri"], "http://127.0.0.1:1/idp/ntpc/oidc/v1/jwksets");
        assert_eq!(d["authorization_response_iss_parameter_supported"], true);
        assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    }

    #[test]
    fn taipei_has_no_id_token_machinery() {
        let d = metadata(IdpProfile::TaipeiOauth2, "http://h/idp/tp");
        assert!(d.get("jwks_uri").is_none());
        assert!(d.get("userinfo_endpoint").is_none());
        assert!(d.get("id_token_signing_alg_values_supported").is_none());
        assert_eq!(d["token_endpoint"], "http://h/idp/tp/oauth/token");
    }

    #[test]
    fn kaohsiung_is_pairwise() {
        let d = metadata(IdpProfile::Kaohsiung, "http://h/idp/kh");
        assert_eq!(d["subject_types_supported"], json!(["pairwise"]));
        assert_eq!(d["jwks_uri"], "http://h/idp/kh/.well-known/jwks.json");
    }
}
