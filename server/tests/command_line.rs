//! The command line: configuration from a file and `--set`, clear errors for unknown
//! keys, and help that names every option.

use std::process::Command;

use anyhow::{bail, Result};
use brokerlab_tests::mqtt::{options, Client, Via};
use brokerlab_tests::server::Server;
use rumqttc::QoS;

const BIN: &str = env!("CARGO_BIN_EXE_brokerlab");

#[test]
fn an_unknown_key_is_an_error_that_names_it() -> Result<()> {
    let output = Command::new(BIN)
        .args(["serve", "--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0"])
        .args(["--set", "aws.no_such_rule=1"])
        .output()?;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown field `no_such_rule`"), "{stderr}");
    Ok(())
}

#[test]
fn help_explains_every_option() -> Result<()> {
    let output = Command::new(BIN).args(["serve", "--help"]).output()?;
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for option in [
        "--http",
        "--mqtt ",
        "--mqtts",
        "--tls-cert",
        "--tls-key",
        "--tls-client-ca",
        "--profile",
        "--seed",
        "--config",
        "--set",
        "--max-connections",
        "--max-outgoing-bytes",
        "--policy",
        "--users",
        "--data-dir",
        "--events-token",
    ] {
        assert!(help.contains(option), "help lacks {option}");
    }
    Ok(())
}

#[tokio::test]
async fn set_overrides_the_file_and_the_file_chooses_the_profile() -> Result<()> {
    let file = std::env::temp_dir().join(format!("brokerlab-config-{}.toml", std::process::id()));
    std::fs::write(
        &file,
        "profile = \"mqtt-3.1.1\"\nmax_packet_size = 100000\n",
    )?;
    let path = file.display().to_string();
    let started = Server::start(BIN, &["--config", &path, "--set", "max_packet_size=64"]).await;
    std::fs::remove_file(&file)?;
    let server = started?;
    server
        .wait_for_log(|line| line.contains("broker ready") && line.contains("profile=\"mqtt\""))
        .await?;

    // A packet over the 64 bytes set on the command line closes the connection, although
    // the file allowed 100000.
    let (mut client, _) = Client::connect(options("big", &Via::Tcp(server.mqtt))).await?;
    client
        .client
        .publish("big/t", QoS::AtMostOnce, false, vec![b'x'; 100])
        .await?;
    if let Err(err) = client.expect_closed().await {
        bail!("the oversized packet did not close the connection: {err}");
    }
    Ok(())
}
