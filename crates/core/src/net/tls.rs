//! TLS for every request of the app: the operating system's trust store
//! (rustls-platform-verifier: the Windows certificate store, the macOS
//! keychain, on Linux the system store read by rustls-native-certs, which
//! honours `SSL_CERT_FILE` / `SSL_CERT_DIR`) plus the policy's
//! `ExtraCaCertificates`; and certificate errors in words
//! ([`TlsProblem`], found by walking an error's chain to rustls' own error).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{CertificateError, ClientConfig};
use serde::Serialize;

use crate::policy::Policy;
use crate::{CoreError, Result};

/// Why a server's certificate was refused. Each has its own stable code
/// (`network.tls_*`) and words that say what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsProblem {
    /// Signed by a CA this computer does not trust (a school's
    /// TLS-inspecting proxy whose CA was not deployed, a self-signed
    /// server).
    Untrusted,
    /// The certificate's validity ended (or the computer's clock is ahead).
    Expired,
    /// The certificate is not valid yet (almost always: the computer's
    /// clock is behind).
    NotYetValid,
    /// The certificate is for another host name.
    Hostname,
    /// The issuer revoked the certificate (where the OS can tell: Windows
    /// and macOS check revocation, Linux does not).
    Revoked,
    /// Any other refusal (a broken or unsupported certificate, a failed
    /// handshake).
    Other,
}

impl TlsProblem {
    /// The stable error code.
    pub fn code(self) -> &'static str {
        match self {
            TlsProblem::Untrusted => "network.tls_untrusted",
            TlsProblem::Expired => "network.tls_expired",
            TlsProblem::NotYetValid => "network.tls_not_yet_valid",
            TlsProblem::Hostname => "network.tls_hostname",
            TlsProblem::Revoked => "network.tls_revoked",
            TlsProblem::Other => "network.tls_failed",
        }
    }

    fn from_certificate_error(e: &CertificateError) -> TlsProblem {
        match e {
            // BadSignature: an issuer of the same name is trusted but did
            // not sign this (two inspecting proxies' CAs both named
            // "mitmproxy"): the chain still leads to no trusted root.
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                TlsProblem::Untrusted
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                TlsProblem::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                TlsProblem::NotYetValid
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsProblem::Hostname
            }
            CertificateError::Revoked => TlsProblem::Revoked,
            _ => TlsProblem::Other,
        }
    }
}

impl std::fmt::Display for TlsProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TlsProblem::Untrusted => "not issued by a trusted certificate authority",
            TlsProblem::Expired => "expired",
            TlsProblem::NotYetValid => "not valid yet",
            TlsProblem::Hostname => "issued for another host name",
            TlsProblem::Revoked => "revoked",
            TlsProblem::Other => "refused",
        })
    }
}

/// Finds rustls' error in an error's chain (reqwest → hyper → io::Error →
/// rustls::Error) and says which [`TlsProblem`] it is, with rustls' words.
/// `None`: not a certificate/TLS failure.
pub fn classify(err: &(dyn std::error::Error + 'static)) -> Option<(TlsProblem, String)> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(found) = from_rustls(e) {
            return Some(found);
        }
        // io::Error's source() skips the error it wraps: look inside.
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if let Some(found) = classify(inner) {
                    return Some(found);
                }
            }
        }
        cur = e.source();
    }
    None
}

fn from_rustls(e: &(dyn std::error::Error + 'static)) -> Option<(TlsProblem, String)> {
    let tls = e.downcast_ref::<rustls::Error>()?;
    let problem = match tls {
        rustls::Error::InvalidCertificate(c) => TlsProblem::from_certificate_error(c),
        _ => TlsProblem::Other,
    };
    Some((problem, tls.to_string()))
}

/// The PEM text of each `ExtraCaCertificates` file, checked to hold at
/// least one certificate (also for the updater's HTTP client, which parses
/// it itself).
pub fn extra_ca_pem(policy: &Policy) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut out = Vec::new();
    for path in policy.extra_ca_certificates.iter().flatten() {
        let pem = std::fs::read(path).map_err(|e| {
            super::invalid("ExtraCaCertificates", format!("{}: {e}", path.display()))
        })?;
        if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
            return Err(super::invalid(
                "ExtraCaCertificates",
                format!("{}: no PEM certificate in the file", path.display()),
            ));
        }
        out.push((path.clone(), pem));
    }
    Ok(out)
}

/// The certificates of `ExtraCaCertificates` (DER).
pub fn extra_roots(policy: &Policy) -> Result<Vec<CertificateDer<'static>>> {
    let mut out = Vec::new();
    for (path, pem) in extra_ca_pem(policy)? {
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| {
                super::invalid("ExtraCaCertificates", format!("{}: {e}", path.display()))
            })?;
            out.push(cert);
        }
    }
    Ok(out)
}

/// What a built TLS setup depends on: rebuilt when any of it changes.
#[derive(PartialEq, Eq)]
struct Key {
    extra: Vec<CertificateDer<'static>>,
    cert_file: Option<std::ffi::OsString>,
    cert_dir: Option<std::ffi::OsString>,
}

static CACHE: Mutex<Option<(Key, Arc<ClientConfig>)>> = Mutex::new(None);

/// The rustls setup: the OS verifier with the policy's extra roots. Built
/// once per process and set of inputs (reading the Linux system store
/// takes a few milliseconds).
pub fn client_config(policy: &Policy) -> Result<Arc<ClientConfig>> {
    let key = Key {
        extra: extra_roots(policy)?,
        cert_file: std::env::var_os("SSL_CERT_FILE"),
        cert_dir: std::env::var_os("SSL_CERT_DIR"),
    };
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((k, config)) = cache.as_ref() {
        if *k == key {
            return Ok(config.clone());
        }
    }
    let config = Arc::new(build_config(key.extra.clone(), None)?);
    *cache = Some((key, config.clone()));
    Ok(config)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds a config; `recorder` (for `doctor`) keeps the chain the server
/// presented.
pub(crate) fn build_config(
    extra: Vec<CertificateDer<'static>>,
    recorder: Option<Arc<Mutex<Vec<CertificateDer<'static>>>>>,
) -> Result<ClientConfig> {
    let provider = provider();
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone()).map_err(
            |e| CoreError::Tls {
                what: "this computer's certificate store".into(),
                problem: TlsProblem::Other,
                detail: e.to_string(),
            },
        )?;
    let verifier: Arc<dyn rustls::client::danger::ServerCertVerifier> = match recorder {
        Some(seen) => Arc::new(Recording {
            inner: Arc::new(verifier),
            seen,
        }),
        None => Arc::new(verifier),
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| CoreError::Internal(format!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A verifier that keeps the chain it was shown, then lets the OS decide.
#[derive(Debug)]
struct Recording {
    inner: Arc<dyn rustls::client::danger::ServerCertVerifier>,
    seen: Arc<Mutex<Vec<CertificateDer<'static>>>>,
}

impl rustls::client::danger::ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            seen.clear();
            seen.push(end_entity.clone().into_owned());
            seen.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        }
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.inner.requires_raw_public_keys()
    }

    fn root_hint_subjects(&self) -> Option<&[rustls::DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

/// One certificate of a chain, for `doctor`.
#[derive(Debug, Clone, Serialize)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// RFC 3339.
    pub not_before: String,
    pub not_after: String,
    /// SHA-256 of the DER certificate, hex.
    pub sha256: String,
}

/// Describes a DER certificate (subject, issuer, validity) for `doctor`.
/// Display only — trust is decided by the OS verifier, never here — so a
/// few dozen lines of DER reading ([`der`]) instead of an X.509 crate (one
/// cost 195 KB of the 15 MB binary budget).
pub fn describe(cert: &CertificateDer<'_>) -> CertInfo {
    use sha2::Digest;
    let sha256 = sha2::Sha256::digest(cert.as_ref())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    match der::tbs_fields(cert.as_ref()) {
        Some(f) => CertInfo {
            subject: der::name(f.subject),
            issuer: der::name(f.issuer),
            not_before: der::time(f.not_before).unwrap_or_else(|| "?".into()),
            not_after: der::time(f.not_after).unwrap_or_else(|| "?".into()),
            sha256,
        },
        None => CertInfo {
            subject: "(unreadable certificate)".into(),
            issuer: String::new(),
            not_before: String::new(),
            not_after: String::new(),
            sha256,
        },
    }
}

/// Just enough DER (X.690) to name a certificate's parts.
mod der {
    /// One TLV: (tag, contents, rest).
    fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (len, &rest[n..])
        };
        (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
    }

    pub(super) struct Tbs<'a> {
        pub issuer: &'a [u8],
        pub subject: &'a [u8],
        pub not_before: (u8, &'a [u8]),
        pub not_after: (u8, &'a [u8]),
    }

    /// Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version
    /// OPTIONAL, serialNumber, signature, issuer, validity, subject, … } … }
    pub(super) fn tbs_fields(cert: &[u8]) -> Option<Tbs<'_>> {
        let (0x30, cert, _) = tlv(cert)? else {
            return None;
        };
        let (0x30, tbs, _) = tlv(cert)? else {
            return None;
        };
        let (tag, _, mut rest) = tlv(tbs)?;
        if tag == 0xa0 {
            rest = tlv(rest)?.2; // the serial number after the version
        }
        let (_, _, rest) = tlv(rest)?; // signature algorithm
        let (0x30, issuer, rest) = tlv(rest)? else {
            return None;
        };
        let (0x30, validity, rest) = tlv(rest)? else {
            return None;
        };
        let (0x30, subject, _) = tlv(rest)? else {
            return None;
        };
        let (t1, v1, validity) = tlv(validity)?;
        let (t2, v2, _) = tlv(validity)?;
        Some(Tbs {
            issuer,
            subject,
            not_before: (t1, v1),
            not_after: (t2, v2),
        })
    }

    /// A Name as RFC 4514 text (most specific first: `CN=…,O=…,C=…`).
    pub(super) fn name(mut rdns: &[u8]) -> String {
        let mut parts = Vec::new();
        while let Some((0x31, mut set, rest)) = tlv(rdns) {
            rdns = rest;
            while let Some((0x30, atv, more)) = tlv(set) {
                set = more;
                let Some((0x06, oid, value)) = tlv(atv) else {
                    continue;
                };
                let Some((tag, value, _)) = tlv(value) else {
                    continue;
                };
                parts.push(format!("{}={}", attribute(oid), escape(&text(tag, value))));
            }
        }
        parts.reverse();
        parts.join(",")
    }

    fn attribute(oid: &[u8]) -> String {
        match oid {
            [0x55, 0x04, 0x03] => "CN".into(),
            [0x55, 0x04, 0x05] => "serialNumber".into(),
            [0x55, 0x04, 0x06] => "C".into(),
            [0x55, 0x04, 0x07] => "L".into(),
            [0x55, 0x04, 0x08] => "ST".into(),
            [0x55, 0x04, 0x0a] => "O".into(),
            [0x55, 0x04, 0x0b] => "OU".into(),
            [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "emailAddress".into(),
            _ => dotted(oid),
        }
    }

    fn dotted(oid: &[u8]) -> String {
        let Some((&first, rest)) = oid.split_first() else {
            return "?".into();
        };
        let mut out = vec![u64::from(first / 40), u64::from(first % 40)];
        let mut acc = 0u64;
        for &b in rest {
            acc = (acc << 7) | u64::from(b & 0x7f);
            if b & 0x80 == 0 {
                out.push(acc);
                acc = 0;
            }
        }
        out.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
    }

    fn text(tag: u8, value: &[u8]) -> String {
        match tag {
            // BMPString: UTF-16BE.
            0x1e => char::decode_utf16(
                value
                    .chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]])),
            )
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect(),
            _ => String::from_utf8_lossy(value).into_owned(),
        }
    }

    /// RFC 4514 specials escaped; control characters shown, not obeyed
    /// (the value comes from the network and goes to a terminal).
    fn escape(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' => {
                    out.push('\\');
                    out.push(c);
                }
                c if c.is_control() => out.extend(c.escape_default()),
                c => out.push(c),
            }
        }
        out
    }

    /// UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ) as
    /// RFC 3339.
    pub(super) fn time((tag, v): (u8, &[u8])) -> Option<String> {
        let s = std::str::from_utf8(v).ok()?;
        let s = s.strip_suffix('Z')?;
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (year, rest) = match (tag, s.len()) {
            (0x17, 12) => {
                let yy: u32 = s[..2].parse().ok()?;
                (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &s[2..])
            }
            (0x18, 14) => (s[..4].parse().ok()?, &s[4..]),
            _ => return None,
        };
        Some(format!(
            "{year:04}-{}-{}T{}:{}:{}Z",
            &rest[0..2],
            &rest[2..4],
            &rest[4..6],
            &rest[6..8],
            &rest[8..10]
        ))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn names_and_times_of_a_generated_certificate() {
            use rcgen::{CertificateParams, DnType, KeyPair};
            let key = KeyPair::generate().unwrap();
            let mut p = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
            p.distinguished_name.push(DnType::CountryName, "TW");
            p.distinguished_name
                .push(DnType::OrganizationName, "臺北市, 教育局");
            p.distinguished_name
                .push(DnType::CommonName, "School Proxy CA");
            p.not_before = time::macros::datetime!(2026-12-01 08:00:00 UTC);
            p.not_after = time::macros::datetime!(2061-01-31 23:59:58 UTC);
            let cert = p.self_signed(&key).unwrap();
            let info = super::super::describe(cert.der());
            // (rcgen picks the order of the parts.)
            for part in ["CN=School Proxy CA", "O=臺北市\\, 教育局", "C=TW"] {
                assert!(info.subject.contains(part), "{} lacks {part}", info.subject);
            }
            assert_eq!(info.subject.matches(',').count(), 3, "{}", info.subject);
            assert_eq!(info.issuer, info.subject);
            // UTCTime before 2050, GeneralizedTime after.
            assert_eq!(info.not_before, "2026-12-01T08:00:00Z");
            assert_eq!(info.not_after, "2061-01-31T23:59:58Z");
            assert_eq!(info.sha256.len(), 64);
        }

        #[test]
        fn garbage_is_unreadable_not_a_panic() {
            for bad in [
                &b""[..],
                b"\x30",
                b"\x30\x84\xff\xff\xff\xff",
                b"\x30\x03\x30\x01\x00",
            ] {
                assert!(tbs_fields(bad).is_none());
            }
            assert_eq!(
                dotted(&[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37]),
                "1.3.6.1.4.1.311"
            );
            assert_eq!(escape("a\nb"), "a\\nb");
            assert_eq!(
                time((0x17, b"991231235959Z")).as_deref(),
                Some("1999-12-31T23:59:59Z")
            );
            assert_eq!(time((0x17, b"9912312359Z")), None);
        }
    }
}
