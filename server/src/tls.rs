//! TLS for `--mqtts`: the server's rustls configuration, mutual TLS, and the principal a
//! client certificate names.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{
    verify_tls13_signature_with_raw_key, CryptoProvider, WebPkiSupportedAlgorithms,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, SubjectPublicKeyInfoDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, PeerMisbehaved,
    RootCertStore, ServerConfig, SignatureScheme,
};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use x509_parser::asn1_rs::Any;
use x509_parser::oid_registry::{OID_PKCS1_SHA1WITHRSA, OID_SHA1_WITH_RSA};
use x509_parser::prelude::{FromDer, SubjectPublicKeyInfo, X509Certificate, X509Version};

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
) -> Result<Arc<dyn ClientCertVerifier>> {
    let mut roots = RootCertStore::empty();
    let cas = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read CA certificates from {}", path.display()))?;
    for ca in &cas {
        // Both verifiers read every CA: webpki for v3 clients, x509-parser for v1 ones.
        if X509Certificate::from_der(ca.as_ref()).is_err() {
            bail!(
                "{} holds a CA certificate that cannot be parsed",
                path.display()
            );
        }
        roots
            .add(ca.clone())
            .with_context(|| format!("{} holds an unusable CA certificate", path.display()))?;
    }
    let algorithms = provider.signature_verification_algorithms;
    let webpki = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .context("cannot build the client certificate verifier")?;
    Ok(Arc::new(ClientVerifier {
        webpki,
        cas,
        algorithms,
    }))
}

/// Client certificates as OpenSSL-based brokers (Mosquitto) and AWS IoT take them: what
/// webpki accepts, and also an X.509 v1 certificate signed directly by a configured CA.
///
/// `openssl x509 -req`, the command of AWS's tutorial "Create a client certificate using
/// your CA certificate", writes v1 certificates (no extensions), and webpki refuses every v1
/// certificate. A v1 certificate has no extensions, hence no key usage, name constraints or
/// CA flag to check: what remains is its issuer, its signature and its validity, and that is
/// all [`verify_v1`](ClientVerifier::verify_v1) checks. Only a direct signature by a
/// configured CA is accepted; a v1 certificate signed by an intermediate CA is refused,
/// because following a chain would mean re-implementing webpki's path building.
#[derive(Debug)]
struct ClientVerifier {
    /// Judges every certificate that is not v1, and answers the questions about the
    /// handshake (hints, schemes, whether a certificate is required).
    webpki: Arc<dyn ClientCertVerifier>,
    /// The `--tls-client-ca` certificates, DER, each parsed by x509-parser at start-up.
    cas: Vec<CertificateDer<'static>>,
    /// The provider's handshake signature algorithms, for v1 certificates' keys.
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientVerifier {
    /// Accepts a v1 certificate whose issuer is a configured CA's subject, whose signature
    /// verifies with that CA's public key, and whose validity period contains `now`.
    fn verify_v1(&self, leaf: &X509Certificate<'_>, now: UnixTime) -> Result<(), Error> {
        // The signed algorithm must be the one the signature claims, as webpki requires.
        // Extensions and unique identifiers belong to v3 and v2: a "v1" certificate that
        // carries them is malformed, and checking none of them is only sound without them.
        if leaf.tbs_certificate.signature != leaf.signature_algorithm
            || !leaf.extensions().is_empty()
            || leaf.issuer_uid.is_some()
            || leaf.subject_uid.is_some()
        {
            return Err(CertificateError::BadEncoding.into());
        }
        // x509-parser would accept SHA-1 signatures, which webpki refuses for v3
        // certificates; refusing them here keeps v1 certificates from being the weaker way
        // in. What else x509-parser accepts (RSA PKCS#1 and PSS with SHA-2 and keys of 2048
        // bits or more, ECDSA on P-256 and P-384, Ed25519), webpki's ring algorithms do too.
        let algorithm = &leaf.signature_algorithm.algorithm;
        if *algorithm == OID_PKCS1_SHA1WITHRSA || *algorithm == OID_SHA1_WITH_RSA {
            return Err(CertificateError::UnsupportedSignatureAlgorithmContext {
                signature_algorithm_id: algorithm.as_bytes().to_vec(),
                supported_algorithms: self
                    .algorithms
                    .all
                    .iter()
                    .map(|a| a.signature_alg_id())
                    .collect(),
            }
            .into());
        }
        let issuers: Vec<X509Certificate<'_>> = self
            .cas
            .iter()
            .filter_map(|ca| X509Certificate::from_der(ca.as_ref()).ok())
            .map(|(_, ca)| ca)
            .filter(|ca| ca.subject().as_raw() == leaf.issuer().as_raw())
            .collect();
        if issuers.is_empty() {
            return Err(CertificateError::UnknownIssuer.into());
        }
        // x509-parser's `verify` feature checks the signature with ring, the library
        // rustls verifies with here: with the CA's public key, by the algorithm the
        // certificate names (the curve taken from the key for ECDSA), over the exact DER
        // of the to-be-signed part. CAs may share a name, so any whose key verifies the
        // signature is the issuer.
        if !issuers
            .iter()
            .any(|ca| leaf.verify_signature(Some(ca.public_key())).is_ok())
        {
            return Err(CertificateError::BadSignature.into());
        }
        let time = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        let validity = leaf.validity();
        if time < validity.not_before.timestamp() {
            return Err(CertificateError::NotValidYetContext {
                time: now,
                not_before: unix_time(validity.not_before.timestamp()),
            }
            .into());
        }
        if time > validity.not_after.timestamp() {
            return Err(CertificateError::ExpiredContext {
                time: now,
                not_after: unix_time(validity.not_after.timestamp()),
            }
            .into());
        }
        Ok(())
    }
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        self.webpki.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.webpki.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.webpki.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        // Only a certificate that is v1 takes the other way: a v3 certificate webpki
        // refuses stays refused, whatever its issuer and signature.
        match v1_certificate(end_entity) {
            Some(leaf) => self
                .verify_v1(&leaf, now)
                .map(|()| ClientCertVerified::assertion()),
            None => self
                .webpki
                .verify_client_cert(end_entity, intermediates, now),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        match v1_certificate(cert) {
            Some(leaf) => verify_tls12_signature(message, leaf.public_key(), dss, &self.algorithms),
            None => self.webpki.verify_tls12_signature(message, cert, dss),
        }
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        // webpki cannot parse a v1 certificate, but the signature is the key's alone:
        // rustls's helper for raw public keys (RFC 7250) verifies it from the
        // SubjectPublicKeyInfo, exactly as it would from a v3 certificate.
        match v1_certificate(cert) {
            Some(leaf) => verify_tls13_signature_with_raw_key(
                message,
                &SubjectPublicKeyInfoDer::from(leaf.public_key().raw),
                dss,
                &self.algorithms,
            ),
            None => self.webpki.verify_tls13_signature(message, cert, dss),
        }
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// The certificate, parsed, if it is X.509 v1; anything else (v3, or what x509-parser
/// cannot read) is webpki's to judge.
fn v1_certificate<'a>(der: &'a CertificateDer<'_>) -> Option<X509Certificate<'a>> {
    match X509Certificate::from_der(der.as_ref()) {
        Ok((rest, cert)) if rest.is_empty() && cert.version() == X509Version::V1 => Some(cert),
        _ => None,
    }
}

/// A TLS 1.2 handshake signature by a v1 certificate's key. rustls has a raw-key helper
/// for TLS 1.3 only, so this follows its `verify_tls12_signature`: TLS 1.2 schemes do not
/// fix the curve, so each algorithm the scheme maps to whose key type (and curve) is the
/// key's own is tried, as webpki does.
fn verify_tls12_signature(
    message: &[u8],
    key: &SubjectPublicKeyInfo<'_>,
    dss: &DigitallySignedStruct,
    algorithms: &WebPkiSupportedAlgorithms,
) -> Result<HandshakeSignatureValid, Error> {
    let candidates = algorithms
        .mapping
        .iter()
        .find(|(scheme, _)| *scheme == dss.scheme)
        .map(|(_, candidates)| *candidates)
        .ok_or(PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme)?;
    // The contents of the key's AlgorithmIdentifier, the form webpki's algorithms name
    // their key type in: the first element of the SubjectPublicKeyInfo sequence.
    let key_type = Any::from_der(key.raw)
        .and_then(|(_, spki)| Any::from_der(spki.data))
        .map(|(_, algorithm)| algorithm.data)
        .map_err(|_| CertificateError::BadEncoding)?;
    let verified = candidates
        .iter()
        .filter(|candidate| candidate.public_key_alg_id().as_ref() == key_type)
        .any(|candidate| {
            candidate
                .verify_signature(&key.subject_public_key.data, message, dss.signature())
                .is_ok()
        });
    if verified {
        Ok(HandshakeSignatureValid::assertion())
    } else {
        Err(CertificateError::BadSignature.into())
    }
}

/// Seconds since the epoch as rustls's time; times before 1970 count as 1970, which only
/// the error message of a refused certificate shows.
fn unix_time(secs: i64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

/// The subject common name of the client's certificate, if it presented one. The verifier
/// has already checked the chain; this only names who it is. x509-parser reads v1 and v3
/// certificates alike.
pub fn principal(stream: &TlsStream<tokio::net::TcpStream>) -> Option<String> {
    let leaf = stream.get_ref().1.peer_certificates()?.first()?;
    let (_, cert) = X509Certificate::from_der(leaf.as_ref()).ok()?;
    let name = cert.subject().iter_common_name().next()?;
    name.as_str().ok().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use brokerlab_tests::pki::OpensslDevice;

    /// A v1 certificate's validity period is checked against the time rustls passes in,
    /// which the TLS tests cannot move: it is accepted from its first second to its last,
    /// and refused a second before and a second after.
    #[test]
    fn a_v1_certificate_is_accepted_only_within_its_validity_period() -> Result<()> {
        let device = OpensslDevice::generate("brokerlab unit CA", "unit-device")?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = client_verifier(&device.ca_file(), provider)?;
        let (chain, _) = device.identity()?;
        let leaf = chain.first().context("no device certificate")?;
        let cert = v1_certificate(leaf).context("openssl did not make a v1 certificate")?;
        let not_before = cert.validity().not_before.timestamp();
        let not_after = cert.validity().not_after.timestamp();
        let verify_at = |secs: i64| verifier.verify_client_cert(leaf, &[], unix_time(secs));

        assert!(verify_at(not_before).is_ok());
        assert!(verify_at(not_after).is_ok());
        assert!(matches!(
            verify_at(not_before - 1),
            Err(Error::InvalidCertificate(
                CertificateError::NotValidYetContext { .. }
            ))
        ));
        assert!(matches!(
            verify_at(not_after + 1),
            Err(Error::InvalidCertificate(
                CertificateError::ExpiredContext { .. }
            ))
        ));
        Ok(())
    }
}
