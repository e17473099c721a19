//! A throwaway public key infrastructure for TLS tests: a CA, a server certificate for
//! 127.0.0.1, and a client certificate whose common name a test chooses ([`Pki`], made
//! with rcgen); and a CA with a device certificate made by the `openssl` command-line tool
//! the way AWS's tutorial makes them, an X.509 v1 certificate ([`OpensslDevice`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};

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
        write(&dir.join("client.pem"), &client_cert.pem())?;
        write(&dir.join("client.key"), &client_key.serialize_pem())?;
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

    /// The `brokerlab serve` arguments of an MQTT over TLS listener on a free loopback port
    /// with this server certificate, requiring client certificates signed by this CA:
    /// mutual TLS, as AWS IoT devices connect.
    pub fn mutual_tls_args(&self) -> Vec<String> {
        let path = |p: PathBuf| p.display().to_string();
        vec![
            "--mqtts".to_owned(),
            "127.0.0.1:0".to_owned(),
            "--tls-cert".to_owned(),
            path(self.server_cert_file()),
            "--tls-key".to_owned(),
            path(self.server_key_file()),
            "--tls-client-ca".to_owned(),
            path(self.ca_file()),
        ]
    }

    /// The client's certificate, PEM, for clients outside this process (an SDK).
    pub fn client_cert_file(&self) -> PathBuf {
        self.dir.join("client.pem")
    }

    /// The client certificate's private key, PEM (PKCS#8).
    pub fn client_key_file(&self) -> PathBuf {
        self.dir.join("client.key")
    }

    /// A client configuration that trusts the CA, presenting the client certificate if
    /// `with_client_cert`.
    pub fn client_config(&self, with_client_cert: bool) -> Result<Arc<ClientConfig>> {
        let identity = with_client_cert.then(|| {
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.client_key.clone()));
            (vec![self.client_cert.clone()], key)
        });
        self.client_config_presenting(identity, rustls::DEFAULT_VERSIONS)
    }

    /// A client configuration that trusts the CA (so the server's certificate) and speaks
    /// only `versions`, presenting `identity`, a certificate chain and its key, if given.
    pub fn client_config_presenting(
        &self,
        identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
        versions: &[&'static SupportedProtocolVersion],
    ) -> Result<Arc<ClientConfig>> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.clone())?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)?
            .with_root_certificates(roots);
        let config = match identity {
            // Not `with_client_auth_cert`: it checks the key against the certificate by
            // parsing the certificate with webpki, which refuses the v1 certificates that
            // some tests present. OpenSSL-based devices send them without complaint.
            Some((chain, key)) => {
                let key = provider.key_provider.load_private_key(key)?;
                let certified = SingleCertAndKey::from(CertifiedKey::new(chain, key));
                builder.with_client_cert_resolver(Arc::new(certified))
            }
            None => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A CA and one device certificate made by the `openssl` command-line tool, with the
/// commands of AWS's tutorial "Create a client certificate using your CA certificate": the
/// device certificate is X.509 v1, with no extensions. The folder is removed when this is
/// dropped.
#[derive(Debug)]
pub struct OpensslDevice {
    dir: PathBuf,
}

impl OpensslDevice {
    /// Makes a CA with subject common name `ca_cn` and a certificate for `device_cn` signed
    /// by it. Two calls with the same `ca_cn` make two CAs with the same name and
    /// different keys.
    pub fn generate(ca_cn: &str, device_cn: &str) -> Result<OpensslDevice> {
        let device = OpensslDevice { dir: unique_dir()? };
        device.openssl("genrsa -out ca.key 2048", &[])?;
        device.openssl(
            "req -x509 -new -nodes -key ca.key -sha256 -days 1024 -out ca.crt -subj",
            &[&format!("/CN={ca_cn}")],
        )?;
        device.openssl("genrsa -out dev.key 2048", &[])?;
        device.openssl(
            "req -new -key dev.key -out dev.csr -subj",
            &[&format!("/CN={device_cn}")],
        )?;
        // The tutorial's command, verbatim.
        device.openssl(
            "x509 -req -in dev.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
             -out dev.crt -days 500 -sha256",
            &[],
        )?;
        Ok(device)
    }

    /// The CA certificate, PEM (for `--tls-client-ca`).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// The device certificate, PEM.
    pub fn cert_file(&self) -> PathBuf {
        self.dir.join("dev.crt")
    }

    /// The device certificate and its private key, for a client to present.
    pub fn identity(&self) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
        let cert = CertificateDer::from_pem_file(self.cert_file())
            .with_context(|| format!("cannot read {}", self.cert_file().display()))?;
        let key = PrivateKeyDer::from_pem_file(self.dir.join("dev.key"))
            .context("cannot read the device's private key")?;
        Ok((vec![cert], key))
    }

    /// What `openssl x509 -noout -text` says about the device certificate, such as its
    /// `Version: 1 (0x0)` line.
    pub fn cert_text(&self) -> Result<String> {
        let cert = self.cert_file();
        let output = Command::new("openssl")
            .args(["x509", "-noout", "-text", "-in"])
            .arg(&cert)
            .output()
            .context("cannot run openssl")?;
        if !output.status.success() {
            bail!(
                "openssl x509 -text failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Runs `openssl` in the folder with the words of `line`, then `extra` (arguments that
    /// may hold spaces).
    fn openssl(&self, line: &str, extra: &[&str]) -> Result<()> {
        let output = Command::new("openssl")
            .args(line.split_whitespace())
            .args(extra)
            .current_dir(&self.dir)
            .output()
            .context("cannot run openssl (cargo xtask test installs it)")?;
        if !output.status.success() {
            bail!(
                "openssl {line} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }
}

impl Drop for OpensslDevice {
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
