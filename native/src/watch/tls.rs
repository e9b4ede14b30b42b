//! TLS for IMAP: rustls, certificates verified against the Mozilla roots (webpki-roots), the
//! system's store and, when configured, a private CA file.
//!
//! "Trust any certificate" exists because some company servers use self-signed certificates,
//! as in other CRMs' connected-inbox settings; it is only ever on when the account says so, and
//! every connection made with it logs a warning, because anyone on the network path can then
//! read the mailbox password and the mail.

use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{self, CryptoProvider};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{
    self, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// The client configuration for one account.
pub fn client_config(ca_file: Option<&Path>, trust_any: bool) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    let config = if trust_any {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(TrustAny { provider }))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(roots(ca_file)?)
            .with_no_client_auth()
    };
    Ok(Arc::new(config))
}

fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // The system store adds company CAs installed on the machine; it is optional.
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        let _ = store.add(cert);
    }
    if let Some(path) = ca_file {
        let mut added = 0;
        let iter = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?;
        for cert in iter {
            let cert =
                cert.map_err(|e| format!("the CA file {} is not valid PEM: {e}", path.display()))?;
            store.add(cert).map_err(|e| {
                format!(
                    "the CA file {} holds a certificate that cannot be used: {e}",
                    path.display()
                )
            })?;
            added += 1;
        }
        if added == 0 {
            return Err(format!(
                "the CA file {} holds no certificate (expected PEM \"BEGIN CERTIFICATE\" blocks)",
                path.display()
            ));
        }
    }
    Ok(store)
}

/// The name to verify the certificate against (a DNS name or an IP address).
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(host.to_string()).map_err(|_| format!("{host:?} is not a valid host name"))
}

/// Accepts any certificate, but still checks that the server holds the key of the certificate
/// it showed (so the session is at least with whoever owns that certificate).
#[derive(Debug)]
struct TrustAny {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for TrustAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// True when a TLS failure is about the certificate (not the network), so the user is told to
/// check the server's certificate rather than to wait.
pub fn is_certificate_error(e: &std::io::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> =
        e.get_ref().map(|inner| inner as _);
    while let Some(s) = source {
        if let Some(rustls::Error::InvalidCertificate(_)) = s.downcast_ref::<rustls::Error>() {
            return true;
        }
        source = s.source();
    }
    false
}
