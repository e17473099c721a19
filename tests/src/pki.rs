//! A throwaway public key infrastructure for TLS tests: a CA, a server certificate for
//! 127.0.0.1, and a client certificate whose common name a test chooses.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, RootCertStore};

/// Certificates on disk for the server, and in memory for clients. The folder is removed
/// when this is dropped.
#[derive(Debug)]
pub struct Pki {
    dir: PathBuf,
    ca: CertificateDer<'static>,
    client_cert: CertificateDer<'static>,
    client_key: Vec<u8>,
}

impl Pki {
    /// Generates a CA, a server certificate for `127.0.0.1` and `localhost`, and a client
    /// certificate with subject common name `client_cn`, all signed by the CA.
    pub fn generate(client_cn: &str) -> Result<Pki> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "brokerlab test CA");
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate()?;
        let mut server_params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server_params.signed_by(&server_key, &issuer)?;

        let client_key = KeyPair::generate()?;
        let mut client_params = CertificateParams::new(Vec::<String>::new())?;
        client_params
            .distinguished_name
            .push(DnType::CommonName, client_cn);
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client_params.signed_by(&client_key, &issuer)?;

        let dir = unique_dir()?;
        write(&dir.join("ca.pem"), &ca_cert.pem())?;
        write(&dir.join("server.pem"), &server_cert.pem())?;
        write(&dir.join("server.key"), &server_key.serialize_pem())?;
        Ok(Pki {
            dir,
            ca: ca_cert.der().clone(),
            client_cert: client_cert.der().clone(),
            client_key: client_key.serialize_der(),
        })
    }

    /// The CA certificate, PEM (for `--tls-client-ca`).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The server's certificate, PEM (for `--tls-cert`).
    pub fn server_cert_file(&self) -> PathBuf {
        self.dir.join("server.pem")
    }

    /// The server's private key, PEM (for `--tls-key`).
    pub fn server_key_file(&self) -> PathBuf {
        self.dir.join("server.key")
    }

    /// A client configuration that trusts the CA, presenting the client certificate if
    /// `with_client_cert`.
    pub fn client_config(&self, with_client_cert: bool) -> Result<Arc<ClientConfig>> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.clone())?;
        let builder =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots);
        let config = if with_client_cert {
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.client_key.clone()));
            builder.with_client_auth_cert(vec![self.client_cert.clone()], key)?
        } else {
            builder.with_no_client_auth()
        };
        Ok(Arc::new(config))
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn unique_dir() -> Result<PathBuf> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "brokerlab-pki-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
