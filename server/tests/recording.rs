//! `--record` and `brokerlab replay`: a session recorded on the real server, with real
//! clients, replays through the engine byte for byte; a changed recording is refused,
//! naming the first difference; the recording is bounded; `/live` and `/recording` serve
//! it to the page (docs/live.md).

use std::path::Path;
use std::process::{Command, Output};

use anyhow::{bail, Context, Result};
use brokerlab_tests::data_dir::DataDir;
use brokerlab_tests::http::get;
use brokerlab_tests::mqtt::{options, Client, Via};
use brokerlab_tests::server::Server;
use brokerlab_tests::TIMEOUT;
use futures_util::StreamExt;
use rumqttc::QoS;
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_brokerlab");

fn replay(file: &Path) -> Result<Output> {
    Command::new(BIN)
        .arg("replay")
        .arg(file)
        .output()
        .context("cannot run brokerlab replay")
}

/// Under aws-iot: a subscriber, a QoS 1 publish it receives, and a RETAIN publish (D5).
async fn traffic(server: &Server) -> Result<()> {
    let (mut sub, _) = Client::connect(options("watcher", &Via::Tcp(server.mqtt))).await?;
    sub.client.subscribe("t/#", QoS::AtLeastOnce).await?;
    sub.expect_suback().await?;
    let (publisher, _) = Client::connect(options("sensor", &Via::Tcp(server.mqtt))).await?;
    publisher
        .client
        .publish("t/x", QoS::AtLeastOnce, false, "hello")
        .await?;
    publisher
        .client
        .publish("t/r", QoS::AtMostOnce, true, "kept?")
        .await?;
    // A retained message from an earlier run may come first.
    while &sub.expect_publish().await?.payload[..] != b"hello" {}
    // Under aws-iot the RETAIN publish closed the publisher's connection (D5).
    publisher.kill().await;
    sub.disconnect().await
}

#[tokio::test]
async fn a_recorded_session_replays_identically_and_a_changed_one_is_named() -> Result<()> {
    let dir = DataDir::new("record-aws");
    std::fs::create_dir_all(dir.path())?;
    let file = dir.path().join("session.jsonl");
    let record = file.to_str().context("path")?;
    let server = Server::start(BIN, &["--profile", "aws-iot", "--record", record]).await?;
    traffic(&server).await?;
    assert!(server.terminate().await?.success());

    let text = std::fs::read_to_string(&file)?;
    assert!(text.starts_with("{\"format\":\"brokerlab-recording\",\"version\":1"));
    assert!(text.contains("\"rule\":\"D5Retain\""), "D5 is noted");
    let out = replay(&file)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("identical:"), "{stdout}");

    // The CONNACK to the first client, 20 02 00 00, now says "session present".
    let changed = text.replacen("\"hex\":\"20020000\"", "\"hex\":\"20020100\"", 1);
    assert_ne!(changed, text, "a CONNACK was recorded");
    let changed_file = dir.path().join("changed.jsonl");
    std::fs::write(&changed_file, changed)?;
    let out = replay(&changed_file)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("recorded: {\"transmit\""), "{stdout}");
    assert!(
        stdout.contains("the bytes first differ at offset 2"),
        "{stdout}"
    );

    std::fs::write(&changed_file, "{\"not\":\"a recording\"}\n")?;
    assert_eq!(replay(&changed_file)?.status.code(), Some(2));
    Ok(())
}

#[tokio::test]
async fn a_durable_servers_recording_replays_with_its_recovery() -> Result<()> {
    let dir = DataDir::new("record-durable");
    std::fs::create_dir_all(dir.path())?;
    let data = dir.path().join("data");
    let file = dir.path().join("second.jsonl");
    let data_arg = data.to_str().context("path")?;
    let server = Server::start(BIN, &["--profile", "mqtt", "--data-dir", data_arg]).await?;
    traffic(&server).await?;
    assert!(server.terminate().await?.success());
    // The second run starts from what the first stored, and records it.
    let args = [
        "--profile",
        "mqtt",
        "--data-dir",
        data_arg,
        "--record",
        file.to_str().context("path")?,
    ];
    let server = Server::start(BIN, &args).await?;
    traffic(&server).await?;
    assert!(server.terminate().await?.success());
    let text = std::fs::read_to_string(&file)?;
    assert!(text.contains("{\"recover\":"), "the recovery is recorded");
    assert!(
        text.contains("{\"store\":{\"batch\":["),
        "store batches are recorded"
    );
    let out = replay(&file)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    Ok(())
}

#[tokio::test]
async fn a_recording_stops_at_its_limit_and_the_broker_goes_on() -> Result<()> {
    let dir = DataDir::new("record-limit");
    std::fs::create_dir_all(dir.path())?;
    let file = dir.path().join("small.jsonl");
    let args = [
        "--profile",
        "mqtt",
        "--record",
        file.to_str().context("path")?,
        "--record-limit",
        "3000",
    ];
    let server = Server::start(BIN, &args).await?;
    traffic(&server).await?;
    server
        .wait_for_log(|l| l.contains("the recording reached its size limit"))
        .await?;
    // The broker still serves after the recording stopped.
    traffic(&server).await?;
    assert!(server.terminate().await?.success());
    let text = std::fs::read_to_string(&file)?;
    assert!(text.len() <= 3000, "{} bytes", text.len());
    assert!(text
        .trim_end()
        .lines()
        .last()
        .unwrap_or("")
        .starts_with("{\"end\":"));
    let out = replay(&file)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("the recording ends early"), "{stdout}");
    Ok(())
}

/// Reads text frames from a WebSocket until `done` says enough.
async fn read_lines<S>(
    socket: &mut S,
    mut done: impl FnMut(&[String]) -> bool,
) -> Result<Vec<String>>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut lines = Vec::new();
    tokio::time::timeout(TIMEOUT, async {
        while let Some(message) = socket.next().await {
            if let Message::Text(text) = message? {
                lines.push(text.to_string());
                if done(&lines) {
                    return Ok(());
                }
            }
        }
        bail!("the live stream ended")
    })
    .await
    .context("the live stream said too little in time")??;
    Ok(lines)
}

#[tokio::test]
async fn live_streams_recording_lines_and_recording_serves_the_file() -> Result<()> {
    let dir = DataDir::new("record-live");
    std::fs::create_dir_all(dir.path())?;
    let file = dir.path().join("live.jsonl");
    let server = Server::start(BIN, &["--record", file.to_str().context("path")?]).await?;
    let (early, _) = Client::connect(options("early", &Via::Tcp(server.mqtt))).await?;
    let (mut live, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/live", server.http)).await?;
    let preamble = read_lines(&mut live, |l| l.len() == 2).await?;
    assert!(preamble[0].starts_with("{\"format\":\"brokerlab-recording\""));
    assert!(
        preamble[1].contains(
            "\"present\":{\"conns\":[{\"conn\":1,\"client_id\":\"early\",\"version\":\"3.1.1\"}]"
        ),
        "{}",
        preamble[1]
    );
    traffic(&server).await?;
    let lines = read_lines(&mut live, |l| {
        l.iter().any(|l| l.contains("\"rule\":\"D5Retain\""))
    })
    .await?;
    assert!(lines.iter().any(|l| l.starts_with("{\"bytes\":")));
    assert!(lines.iter().any(|l| l.starts_with("{\"transmit\":")));
    early.disconnect().await?;

    let response = get(server.http, "/recording").await?;
    assert_eq!(response.status, 200);
    let saved = dir.path().join("saved.jsonl");
    std::fs::write(&saved, &response.body)?;
    let out = replay(&saved)?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    Ok(())
}

#[tokio::test]
async fn live_and_recording_need_the_token_once_one_is_set() -> Result<()> {
    let dir = DataDir::new("record-token");
    std::fs::create_dir_all(dir.path())?;
    let file = dir.path().join("t.jsonl");
    let args = [
        "--events-token",
        "s3cret",
        "--record",
        file.to_str().context("path")?,
    ];
    let server = Server::start(BIN, &args).await?;
    match tokio_tungstenite::connect_async(format!("ws://{}/live", server.http)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 403),
        other => bail!("expected 403, got {:?}", other.map(|(_, r)| r.status())),
    }
    tokio_tungstenite::connect_async(format!("ws://{}/live?token=s3cret", server.http)).await?;
    assert_eq!(get(server.http, "/recording").await?.status, 403);
    assert_eq!(
        get(server.http, "/recording?token=s3cret").await?.status,
        200
    );
    let unrecorded = Server::start(BIN, &[]).await?;
    assert_eq!(get(unrecorded.http, "/recording").await?.status, 404);
    Ok(())
}
