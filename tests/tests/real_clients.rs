//! Real MQTT 5.0 clients against the real server: paho-mqtt (PyPI) over TCP, MQTT.js (npm)
//! over WebSocket, and the AWS IoT Device SDK v2 (PyPI `awsiotsdk`) over mutual TLS, its
//! `Mqtt5Client` and its Device Shadow client. Each client runs a script of
//! `tests/clients/` that prints one `ok: …` line per check and exits non-zero at the first
//! that fails.
//!
//! The clients come from the package registries, which a plain `cargo test` should not
//! need, so these tests are behind the `real-clients` feature. `cargo xtask test` installs
//! the clients under `target/tools` and runs them with `BROKERLAB_BIN` (the server),
//! `BROKERLAB_PYTHON` (a Python with paho-mqtt and awsiotsdk) and `BROKERLAB_NODE_MODULES`
//! (a `node_modules` holding `mqtt`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};
use brokerlab_tests::pki::Pki;
use brokerlab_tests::server::{connection_log, Server};

/// How long one client script may run; each takes a few seconds.
const SCRIPT_LIMIT_SECS: &str = "120";

fn env(name: &str) -> Result<String> {
    std::env::var(name)
        .map_err(|_| anyhow!("{name} is not set: run these tests with cargo xtask test"))
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("clients")
        .join(name)
}

/// Runs `program script args…` under `timeout`, echoes what it printed, and fails unless
/// it exited successfully and said that every check passed.
async fn run_client(
    program: String,
    script: PathBuf,
    args: Vec<String>,
    envs: Vec<(&'static str, String)>,
) -> Result<Vec<String>> {
    let output = tokio::task::spawn_blocking(move || {
        Command::new("timeout")
            .arg(SCRIPT_LIMIT_SECS)
            .arg(&program)
            .arg(&script)
            .args(&args)
            .envs(envs)
            .output()
            .with_context(|| format!("cannot run {program} {}", script.display()))
    })
    .await??;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    if !output.status.success() {
        bail!("the client failed ({}): {}", output.status, stderr.trim());
    }
    let lines: Vec<String> = stdout.lines().map(str::to_owned).collect();
    if !lines.iter().any(|line| line.ends_with("all checks passed")) {
        bail!("the client exited without passing all its checks");
    }
    Ok(lines)
}

/// The broker settings the scripts assume: `test/nosubscribe` refused, as Paho's suites
/// expect, and a Topic Alias Maximum for clients to use.
const STANDARD: [&str; 6] = [
    "--profile",
    "mqtt-5",
    "--set",
    "refused_filters=[\"test/nosubscribe\"]",
    "--set",
    "topic_alias_maximum=8",
];

#[tokio::test]
async fn paho_mqtt_v5_and_v311_clients_exchange_messages_both_ways() -> Result<()> {
    let server = Server::start(&env("BROKERLAB_BIN")?, &STANDARD).await?;
    let lines = run_client(
        env("BROKERLAB_PYTHON")?,
        script("paho_v5.py"),
        vec![server.mqtt.port().to_string()],
        vec![],
    )
    .await?;
    assert!(lines
        .iter()
        .any(|line| line == "ok: the 3.1.1 client gets the 5.0 message"));
    assert!(lines
        .iter()
        .any(|line| line == "ok: the 5.0 client gets the 3.1.1 message"));
    // The server saw both versions, and says which in its log.
    let v5 = server
        .wait_for_log(connection_log("connected", "paho-v5"))
        .await?;
    assert!(v5.contains("mqtt=\"5.0\""), "{v5}");
    let v311 = server
        .wait_for_log(connection_log("connected", "paho-v311"))
        .await?;
    assert!(v311.contains("mqtt=\"3.1.1\""), "{v311}");
    Ok(())
}

#[tokio::test]
async fn mqtt_js_protocol_version_5_over_websocket() -> Result<()> {
    let server = Server::start(&env("BROKERLAB_BIN")?, &STANDARD).await?;
    run_client(
        "node".to_owned(),
        script("mqttjs_v5.mjs"),
        vec![format!("ws://{}/mqtt", server.http)],
        vec![("NODE_PATH", env("BROKERLAB_NODE_MODULES")?)],
    )
    .await?;
    let line = server
        .wait_for_log(connection_log("connected", "js-a"))
        .await?;
    assert!(line.contains("mqtt=\"5.0\""), "{line}");
    Ok(())
}

/// Starts `brokerlab serve --profile aws-iot` with mutual TLS (certificates from `pki`)
/// and runs the AWS IoT Device SDK script `name` against it.
async fn run_sdk_script(pki: &Pki, name: &str) -> Result<Server> {
    let ca = pki.ca_file().display().to_string();
    let mut args = vec!["--profile".to_owned(), "aws-iot".to_owned()];
    args.extend(pki.mutual_tls_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(&env("BROKERLAB_BIN")?, &args).await?;
    let port = server.mqtts.context("no mqtts listener")?.port();
    run_client(
        env("BROKERLAB_PYTHON")?,
        script(name),
        vec![
            port.to_string(),
            ca,
            pki.client_cert_file().display().to_string(),
            pki.client_key_file().display().to_string(),
        ],
        vec![],
    )
    .await?;
    Ok(server)
}

#[tokio::test]
async fn aws_iot_device_sdk_mqtt5_client_over_mutual_tls() -> Result<()> {
    let pki = Pki::generate("sdk-device-1")?;
    let server = run_sdk_script(&pki, "awsiot_mqtt5.py").await?;
    // The certificate's common name is the connection's principal, as in AWS IoT.
    let line = server
        .wait_for_log(connection_log("connected", "sdk-device-1"))
        .await?;
    assert!(
        line.contains("mqtt=\"5.0\"") && line.contains("principal=\"sdk-device-1\""),
        "{line}"
    );
    Ok(())
}

#[tokio::test]
async fn aws_iot_device_sdk_shadow_client_over_mutual_tls() -> Result<()> {
    let pki = Pki::generate("lamp")?;
    let server = run_sdk_script(&pki, "awsiot_shadow.py").await?;
    server
        .wait_for_log(connection_log("connected", "lamp-app"))
        .await?;
    Ok(())
}
