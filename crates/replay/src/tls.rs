//! TLS for every driver, in one place: one crypto provider (ring: aws-lc, reqwest's and
//! rustls' default, needs cmake and a long C build), the extra CA a user trusts with
//! `--ca-cert`, checked once, and what each client library is given from it.
//!
//! Which roots each protocol trusts besides `--ca-cert` is the library's own way:
//! HTTPS (reqwest) the platform's verifier, gRPC (tonic) and Socket.IO (tokio-rustls)
//! the web PKI roots.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use simulate_core::diagnostic::Problem;

/// The TLS settings of one replay.
#[derive(Clone, Default)]
pub struct Tls {
    /// `--ca-cert`, as read (PEM) and as parsed.
    ca: Option<(Vec<u8>, Vec<CertificateDer<'static>>)>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let certs = self.ca.as_ref().map_or(0, |(_, c)| c.len());
        f.debug_struct("Tls")
            .field("extra_ca_certs", &certs)
            .finish()
    }
}

impl Tls {
    /// Trusts the certificates of `pem` too (a staging server's private CA). A file
    /// without a certificate is refused here: it would otherwise add nothing and only
    /// show later as TLS errors.
    pub fn with_ca_pem(pem: Vec<u8>) -> Result<Tls, String> {
        let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem).collect();
        match certs {
            Ok(c) if !c.is_empty() => Ok(Tls { ca: Some((pem, c)) }),
            _ => Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into()),
        }
    }

    /// Makes ring the process's crypto provider, for the libraries that look it up.
    pub(crate) fn install_provider() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }

    /// A rustls client configuration: web PKI roots, `--ca-cert`, and `alpn`.
    pub(crate) fn rustls(&self, alpn: &[&[u8]]) -> Result<rustls::ClientConfig, Problem> {
        let bad = |m: String| Problem::new(m, "pass a CA certificate in PEM to --ca-cert");
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for cert in self.ca.iter().flat_map(|(_, c)| c) {
            roots
                .add(cert.clone())
                .map_err(|e| bad(format!("--ca-cert: {e}")))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }

    /// reqwest's builder trusting `--ca-cert` besides the platform's roots.
    pub(crate) fn reqwest(
        &self,
        builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::ClientBuilder, Problem> {
        Tls::install_provider();
        let Some((pem, _)) = &self.ca else {
            return Ok(builder);
        };
        let cert = reqwest::Certificate::from_pem(pem).map_err(|e| {
            Problem::new(
                format!("--ca-cert is not a PEM certificate: {e}"),
                "pass a CA certificate in PEM to --ca-cert",
            )
        })?;
        Ok(builder.add_root_certificate(cert))
    }

    /// tonic's TLS: web PKI roots and `--ca-cert`.
    pub(crate) fn tonic(&self) -> tonic::transport::ClientTlsConfig {
        Tls::install_provider();
        let mut tls = tonic::transport::ClientTlsConfig::new().with_webpki_roots();
        if let Some((pem, _)) = &self.ca {
            tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
        }
        tls
    }
}
