//! TLS for `--mqtts`: the server's rustls configuration, mutual TLS, and the principal a
//! client certificate names.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Builds the acceptor from PEM files. With `client_ca`, every client must present a
/// certificate that chains to it (mutual TLS, as AWS IoT devices do).
pub fn acceptor(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<TlsAcceptor> {
    // The provider is named rather than taken from the process default, so the server
    // works whichever crypto backends other crates in the build have switched on.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read certificates from {}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read a private key from {}", key.display()))?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("the TLS provider supports no safe protocol version")?;
    let builder = match client_ca {
        Some(path) => builder.with_client_cert_verifier(client_verifier(path, provider.clone())?),
        None => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(chain, key)
        .context("the TLS certificate and key do not form a usable pair")?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn client_verifier(
    path: &Path,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>> {
    let mut roots = RootCertStore::empty();
    let cas = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read CA certificates from {}", path.display()))?;
    for ca in cas {
        roots
            .add(ca)
            .with_context(|| format!("{} holds an unusable CA certificate", path.display()))?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .context("cannot build the client certificate verifier")
}

/// The subject common name of the client's certificate, if it presented one. The verifier
/// has already checked the chain; this only names who it is.
pub fn principal(stream: &TlsStream<tokio::net::TcpStream>) -> Option<String> {
    let leaf = stream.get_ref().1.peer_certificates()?.first()?;
    let (_, cert) = X509Certificate::from_der(leaf.as_ref()).ok()?;
    let name = cert.subject().iter_common_name().next()?;
    name.as_str().ok().map(str::to_owned)
}
