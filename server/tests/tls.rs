//! MQTT over TLS (`--mqtts`), with and without client certificates.

use anyhow::{bail, Result};
use brokerlab_tests::mqtt::{options, Client, Via};
use brokerlab_tests::pki::Pki;
use brokerlab_tests::server::{connection_log, Server};
use rumqttc::QoS;

const BIN: &str = env!("CARGO_BIN_EXE_brokerlab");

async fn start(pki: &Pki, mutual: bool) -> Result<Server> {
    let cert = pki.server_cert_file();
    let key = pki.server_key_file();
    let ca = pki.ca_file();
    let mut args = vec![
        "--mqtts".to_owned(),
        "127.0.0.1:0".to_owned(),
        "--tls-cert".to_owned(),
        cert.display().to_string(),
        "--tls-key".to_owned(),
        key.display().to_string(),
    ];
    if mutual {
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
    Ok(())
}
