//! Mosquitto's command-line clients, a second independent MQTT implementation, over TCP.
//! `cargo xtask test` installs them (Debian's `mosquitto-clients`) when missing.

use std::process::Stdio;

use anyhow::{bail, Context, Result};
use brokerlab_tests::server::Server;
use brokerlab_tests::TIMEOUT;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{ChildStdout, Command};

const BIN: &str = env!("CARGO_BIN_EXE_brokerlab");

#[tokio::test]
async fn mosquitto_pub_reaches_mosquitto_sub() -> Result<()> {
    let server = Server::start(BIN, &[]).await?;
    let port = server.mqtt.port().to_string();
    // Spawning it once on its own gives a clear error when it is not installed.
    Command::new("mosquitto_sub")
        .arg("--help")
        .output()
        .await
        .context("cannot run mosquitto_sub: install mosquitto-clients (cargo xtask test does)")?;
    // `-d` makes mosquitto_sub report its SUBACK, so the test publishes only once the
    // subscription exists; `-C 1` makes it exit after one message. stdbuf makes its
    // output line-buffered: into a pipe, stdio would hold it back until exit.
    let mut sub = Command::new("stdbuf")
        .args([
            "-oL",
            "mosquitto_sub",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-i",
            "mosq-sub",
        ])
        .args(["-t", "mosq/t", "-q", "1", "-C", "1", "-d"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot run stdbuf")?;
    let stdout = sub.stdout.take().context("no stdout pipe")?;
    let mut lines = BufReader::new(stdout).lines();

    while !next_line(&mut lines).await?.contains("SUBACK") {}

    let published = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port, "-i", "mosq-pub"])
        .args(["-t", "mosq/t", "-q", "1", "-m", "from mosquitto"])
        .status()
        .await
        .context("cannot run mosquitto_pub: install mosquitto-clients (cargo xtask test does)")?;
    assert!(published.success(), "mosquitto_pub failed: {published}");

    while next_line(&mut lines).await? != "from mosquitto" {}
    let status = tokio::time::timeout(TIMEOUT, sub.wait()).await??;
    assert!(status.success(), "mosquitto_sub failed: {status}");
    Ok(())
}

async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>) -> Result<String> {
    match tokio::time::timeout(TIMEOUT, lines.next_line()).await {
        Ok(Ok(Some(line))) => Ok(line),
        Ok(Ok(None)) => bail!("mosquitto_sub exited early"),
        Ok(Err(err)) => Err(err.into()),
        Err(_) => bail!("mosquitto_sub printed nothing in time"),
    }
}
