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

/// Describes a DER certificate (subject, issuer, validity).
pub fn describe(cert: &CertificateDer<'_>) -> CertInfo {
    use sha2::Digest;
    use x509_cert::der::Decode;
    let sha256 = sha2::Sha256::digest(cert.as_ref())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    match x509_cert::Certificate::from_der(cert.as_ref()) {
        Ok(c) => {
            let tbs = &c.tbs_certificate;
            let time = |t: &x509_cert::time::Time| {
                let secs = t.to_unix_duration().as_secs();
                i64::try_from(secs)
                    .ok()
                    .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
                    .and_then(|d| {
                        d.format(&time::format_description::well_known::Rfc3339)
                            .ok()
                    })
                    .unwrap_or_else(|| t.to_string())
            };
            CertInfo {
                subject: tbs.subject.to_string(),
                issuer: tbs.issuer.to_string(),
                not_before: time(&tbs.validity.not_before),
                not_after: time(&tbs.validity.not_after),
                sha256,
            }
        }
        Err(e) => CertInfo {
            subject: format!("(unreadable certificate: {e})"),
            issuer: String::new(),
            not_before: String::new(),
            not_after: String::new(),
            sha256,
        },
    }
}
