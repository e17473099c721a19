//! MQTT over TLS (`--mqtts`), with and without client certificates, including the X.509
//! v1 device certificates that AWS's tutorial has `openssl` make.

use std::path::Path;

use anyhow::{bail, Result};
use brokerlab_tests::mqtt::{options, Client, Via};
use brokerlab_tests::pki::{OpensslDevice, Pki};
use brokerlab_tests::server::{connection_log, Server};
use rumqttc::QoS;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::version::{TLS12, TLS13};
use rustls::SupportedProtocolVersion;

const BIN: &str = env!("CARGO_BIN_EXE_brokerlab");

async fn start(pki: &Pki, mutual: bool) -> Result<Server> {
    start_with_client_ca(pki, mutual.then(|| pki.ca_file()).as_deref()).await
}

/// The server with `pki`'s server certificate, requiring client certificates signed by
/// `client_ca` if given.
async fn start_with_client_ca(pki: &Pki, client_ca: Option<&Path>) -> Result<Server> {
    let cert = pki.server_cert_file();
    let key = pki.server_key_file();
    let mut args = vec![
        "--mqtts".to_owned(),
        "127.0.0.1:0".to_owned(),
        "--tls-cert".to_owned(),
        cert.display().to_string(),
        "--tls-key".to_owned(),
        key.display().to_string(),
    ];
    if let Some(ca) = client_ca {
        args.push("--tls-client-ca".to_owned());
        args.push(ca.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start(BIN, &args).await
}

#[tokio::test]
async fn publish_and_subscribe_over_tls() -> Result<()> {
    let pki = Pki::generate("unused")?;
    let server = start(&pki, false).await?;
    let Some(mqtts) = server.mqtts else {
        bail!("the listening line has no mqtts address");
    };
    let via = Via::Tls(mqtts, pki.client_config(false)?);
    let (mut client, _) = Client::connect(options("tls-client", &via)).await?;
    client
        .client
        .subscribe("secure/t", QoS::AtLeastOnce)
        .await?;
    client.expect_suback().await?;
    client
        .client
        .publish("secure/t", QoS::AtLeastOnce, false, "sealed")
        .await?;
    assert_eq!(&client.expect_publish().await?.payload[..], b"sealed");
    Ok(())
}

#[tokio::test]
async fn the_client_certificate_names_the_principal() -> Result<()> {
    let pki = Pki::generate("device-42")?;
    let server = start(&pki, true).await?;
    let Some(mqtts) = server.mqtts else {
        bail!("the listening line has no mqtts address");
    };
    let via = Via::Tls(mqtts, pki.client_config(true)?);
    let (_client, _) = Client::connect(options("thing", &via)).await?;
    server
        .wait_for_log(|line| {
            connection_log("connected", "thing")(line) && line.contains("principal=\"device-42\"")
        })
        .await?;
    Ok(())
}

#[tokio::test]
async fn mutual_tls_refuses_a_client_without_a_certificate() -> Result<()> {
    let pki = Pki::generate("device-42")?;
    let server = start(&pki, true).await?;
    let Some(mqtts) = server.mqtts else {
        bail!("the listening line has no mqtts address");
    };
    let via = Via::Tls(mqtts, pki.client_config(false)?);
    if Client::connect(options("anonymous", &via)).await.is_ok() {
        bail!("a client without a certificate got a CONNACK");
    }
    expect_one_handshake_failure(
        &server,
        "the client presented no certificate, and --tls-client-ca requires one",
    )
    .await
}

/// A device certificate made exactly as AWS's tutorial makes it, an X.509 v1 certificate,
/// connects over mutual TLS 1.3 and names the principal.
#[tokio::test]
async fn an_aws_tutorial_v1_certificate_is_accepted_over_tls13() -> Result<()> {
    v1_round_trip(&TLS13, "v1-tls13").await
}

/// The same over TLS 1.2, whose handshake signature the server verifies by its own code
/// for v1 certificates (rustls has a raw-key helper for TLS 1.3 only).
#[tokio::test]
async fn an_aws_tutorial_v1_certificate_is_accepted_over_tls12() -> Result<()> {
    v1_round_trip(&TLS12, "v1-tls12").await
}

async fn v1_round_trip(version: &'static SupportedProtocolVersion, client_id: &str) -> Result<()> {
    let pki = Pki::generate("unused")?;
    let device = OpensslDevice::generate("brokerlab tutorial CA", "tutorial-device")?;
    // The point of the test: were openssl ever to write v3 here, it would test nothing new.
    let text = device.cert_text()?;
    if !text.contains("Version: 1 (0x0)") || text.contains("X509v3 extensions") {
        bail!("openssl did not make a v1 certificate:\n{text}");
    }
    let server = start_with_client_ca(&pki, Some(&device.ca_file())).await?;
    let Some(mqtts) = server.mqtts else {
        bail!("the listening line has no mqtts address");
    };
    let config = pki.client_config_presenting(Some(device.identity()?), &[version])?;
    let via = Via::Tls(mqtts, config);
    let (mut client, _) = Client::connect(options(client_id, &via)).await?;
    client
        .client
        .subscribe("devices/tutorial-device/t", QoS::AtLeastOnce)
        .await?;
    client.expect_suback().await?;
    client
        .client
        .publish("devices/tutorial-device/t", QoS::AtLeastOnce, false, "v1")
        .await?;
    assert_eq!(&client.expect_publish().await?.payload[..], b"v1");
    server
        .wait_for_log(|line| {
            connection_log("connected", client_id)(line)
                && line.contains("principal=\"tutorial-device\"")
        })
        .await?;
    Ok(())
}

/// A v1 certificate from a CA the server was not given is refused, and the log says so.
#[tokio::test]
async fn a_v1_certificate_from_another_ca_is_refused_and_logged() -> Result<()> {
    let trusted = OpensslDevice::generate("brokerlab trusted CA", "device")?;
    let stranger = OpensslDevice::generate("brokerlab other CA", "intruder")?;
    refused_v1(
        &trusted,
        stranger.identity()?,
        &TLS13,
        "the client certificate is not signed by the configured CA (--tls-client-ca)",
    )
    .await
}

/// A v1 certificate whose issuer has the configured CA's name but another key is refused:
/// the name alone proves nothing.
#[tokio::test]
async fn a_v1_certificate_from_a_namesake_ca_is_refused_and_logged() -> Result<()> {
    let trusted = OpensslDevice::generate("brokerlab CA", "device")?;
    let namesake = OpensslDevice::generate("brokerlab CA", "intruder")?;
    refused_v1(
        &trusted,
        namesake.identity()?,
        &TLS13,
        "the client certificate has a signature that does not verify",
    )
    .await
}

/// A good v1 certificate presented by a client without its private key is refused over
/// TLS 1.3: the handshake signature is checked against the certificate's key.
#[tokio::test]
async fn a_v1_certificate_without_its_key_is_refused_over_tls13() -> Result<()> {
    without_its_key(&TLS13).await
}

/// The same over TLS 1.2, whose handshake signature the server checks by its own code for
/// v1 certificates.
#[tokio::test]
async fn a_v1_certificate_without_its_key_is_refused_over_tls12() -> Result<()> {
    without_its_key(&TLS12).await
}

async fn without_its_key(version: &'static SupportedProtocolVersion) -> Result<()> {
    let trusted = OpensslDevice::generate("brokerlab CA", "device")?;
    let thief = OpensslDevice::generate("brokerlab other CA", "thief")?;
    let (stolen_cert, _) = trusted.identity()?;
    let (_, wrong_key) = thief.identity()?;
    refused_v1(
        &trusted,
        (stolen_cert, wrong_key),
        version,
        "the client certificate has a signature that does not verify",
    )
    .await
}

/// Starts the server trusting `trusted`'s CA, connects over `version` presenting
/// `identity`, and expects the refusal logged with `reason`.
async fn refused_v1(
    trusted: &OpensslDevice,
    identity: (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>),
    version: &'static SupportedProtocolVersion,
    reason: &str,
) -> Result<()> {
    let pki = Pki::generate("unused")?;
    let server = start_with_client_ca(&pki, Some(&trusted.ca_file())).await?;
    let Some(mqtts) = server.mqtts else {
        bail!("the listening line has no mqtts address");
    };
    let config = pki.client_config_presenting(Some(identity), &[version])?;
    let via = Via::Tls(mqtts, config);
    if Client::connect(options("intruder", &via)).await.is_ok() {
        bail!("a refused certificate got a CONNACK");
    }
    expect_one_handshake_failure(&server, reason).await
}

/// Waits for the server's info line about a failed TLS handshake from a loopback peer
/// with `reason`, and checks it is the only one: one failed handshake, one line.
async fn expect_one_handshake_failure(server: &Server, reason: &str) -> Result<()> {
    let message = format!("TLS handshake failed: {reason}");
    server
        .wait_for_log(|line| {
            line.contains(" INFO ") && line.contains(&message) && line.contains("peer=127.0.0.1:")
        })
        .await?;
    let failures: Vec<String> = server
        .log()
        .into_iter()
        .filter(|line| line.contains("TLS handshake failed"))
        .collect();
    if failures.len() != 1 {
        bail!("expected one TLS handshake failure line, got {failures:#?}");
    }
    Ok(())
}
