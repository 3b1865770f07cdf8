//! gatehouse's own TLS certificate (HTTPS, and LDAPS/StartTLS when no provider brings
//! its own): a self-signed one is generated on first start and kept in the data
//! directory (`tls/cert.pem`, `tls/key.pem`, key mode 0600), so the fingerprint a
//! browser was told to trust survives restarts.

use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::ResolvesServerCert;
use rustls::sign::CertifiedKey;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error("TLS certificate: {0}")]
    Certificate(String),
}

/// Loads `dir/cert.pem` + `dir/key.pem`, generating both first when missing.
pub fn load_or_create_certified_key(dir: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    if !cert_path.exists() || !key_path.exists() {
        create_self_signed(dir, &cert_path, &key_path)?;
    }
    certified_key_from_files(&cert_path, &key_path)
}

/// The HTTPS listener's configuration for one certificate (HTTP/2 and 1.1 offered).
pub fn https_config(key: Arc<CertifiedKey>) -> Result<Arc<ServerConfig>, TlsError> {
    let mut config = config_with_resolver(Arc::new(OneCertificate(key)))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The same certificate for every handshake.
#[derive(Debug)]
pub struct OneCertificate(pub Arc<CertifiedKey>);

impl ResolvesServerCert for OneCertificate {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }
}

/// A server configuration whose certificate `resolver` picks per handshake.
pub fn config_with_resolver(
    resolver: Arc<dyn ResolvesServerCert>,
) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Certificate(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(resolver))
}

/// A certificate chain and its private key, both PEM, ready for rustls.
pub fn certified_key_from_pem(
    certificate_pem: &str,
    key_pem: &str,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let certs = rustls_pemfile::certs(&mut certificate_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Certificate(e.to_string()))?;
    let key = rustls_pemfile::private_key(&mut key_pem.as_bytes())
        .map_err(|e| TlsError::Certificate(e.to_string()))?
        .ok_or_else(|| TlsError::Certificate("no private key in the PEM".into()))?;
    certified_key(certs, &key)
}

fn certified_key(
    certs: Vec<CertificateDer<'static>>,
    key: &PrivateKeyDer<'static>,
) -> Result<Arc<CertifiedKey>, TlsError> {
    if certs.is_empty() {
        return Err(TlsError::Certificate("no certificate in the PEM".into()));
    }
    let signing = rustls::crypto::ring::sign::any_supported_type(key)
        .map_err(|e| TlsError::Certificate(e.to_string()))?;
    Ok(Arc::new(CertifiedKey::new(certs, signing)))
}

fn create_self_signed(dir: &Path, cert_path: &Path, key_path: &Path) -> Result<(), TlsError> {
    let file_error = |path: &Path, error: std::io::Error| TlsError::File {
        path: path.display().to_string(),
        reason: error.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
    let key = rcgen::KeyPair::generate().map_err(|e| TlsError::Certificate(e.to_string()))?;
    // The loopback addresses too, so clients that verify names (LDAP's StartTLS/LDAPS,
    // curl) can trust the certificate when they connect to 127.0.0.1.
    let names = ["localhost", "127.0.0.1", "::1"]
        .map(str::to_owned)
        .to_vec();
    let mut params =
        rcgen::CertificateParams::new(names).map_err(|e| TlsError::Certificate(e.to_string()))?;
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        "gatehouse self-signed certificate",
    );
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "gatehouse");
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    // Self-signed certificates are trusted by pinning, not by CA rules: ten years avoids a
    // surprise expiry on an appliance nobody logs into for a while.
    params.not_after = now + time::Duration::days(3650);
    let cert = params
        .self_signed(&key)
        .map_err(|e| TlsError::Certificate(e.to_string()))?;
    crate::fsutil::write_private(key_path, key.serialize_pem().as_bytes())
        .map_err(|e| file_error(key_path, e))?;
    std::fs::write(cert_path, cert.pem()).map_err(|e| file_error(cert_path, e))?;
    Ok(())
}

pub fn certified_key_from_files(
    cert_path: &Path,
    key_path: &Path,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let open = |path: &Path| {
        std::fs::File::open(path)
            .map(BufReader::new)
            .map_err(|e| TlsError::File {
                path: path.display().to_string(),
                reason: e.to_string(),
            })
    };
    let certs = rustls_pemfile::certs(&mut open(cert_path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Certificate(e.to_string()))?;
    let key = rustls_pemfile::private_key(&mut open(key_path)?)
        .map_err(|e| TlsError::Certificate(e.to_string()))?
        .ok_or_else(|| TlsError::Certificate(format!("no key in {}", key_path.display())))?;
    certified_key(certs, &key)
}
