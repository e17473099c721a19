//! `--data-dir`: nothing acknowledged is lost to a restart or to `kill -9`, against the real
//! binary with real clients (docs/durability.md).

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use anyhow::{bail, Result};
use broker_core::codec::Packet;
use brokerlab_tests::codec_client::{publish_qos1, CodecClient};
use brokerlab_tests::data_dir::DataDir;
use brokerlab_tests::mqtt::{options, Client, Via};
use brokerlab_tests::server::Server;
use brokerlab_tests::TIMEOUT;
use rumqttc::{MqttOptions, Packet as MqttPacket, QoS};
use tokio::io::AsyncWriteExt;

const BIN: &str = env!("CARGO_BIN_EXE_brokerlab");

async fn start(dir: &DataDir) -> Result<Server> {
    Server::start(BIN, &["--profile", "mqtt", "--data-dir", dir.arg()]).await
}

fn persistent(client_id: &str, server: &Server) -> MqttOptions {
    let mut o = options(client_id, &Via::Tcp(server.mqtt));
    o.set_clean_session(false);
    o
}

/// Subscribes `sub` to `t` at QoS 1 in a persistent session, and leaves.
async fn persistent_subscriber(server: &Server) -> Result<()> {
    let (sub, _) = Client::connect(persistent("sub", server)).await?;
    sub.client.subscribe("t", QoS::AtLeastOnce).await?;
    let mut sub = sub;
    sub.expect_suback().await?;
    sub.disconnect().await
}

/// Reconnects `sub` and collects the payloads it receives until it has `n`.
async fn receive(server: &Server, n: usize) -> Result<(bool, Vec<String>)> {
    let (mut sub, ack) = Client::connect(persistent("sub", server)).await?;
    let mut got = Vec::new();
    while got.len() < n {
        let p = sub.expect_publish().await?;
        got.push(String::from_utf8_lossy(&p.payload).into_owned());
    }
    Ok((ack.session_present, got))
}

/// Publishes each (topic, payload) at QoS 1 with rumqttc and waits for every PUBACK.
async fn publish_acknowledged(
    server: &Server,
    messages: &[(&str, &str)],
    retain: bool,
) -> Result<Client> {
    let (mut publisher, _) = Client::connect(options("pub", &Via::Tcp(server.mqtt))).await?;
    for (topic, payload) in messages {
        publisher
            .client
            .publish(*topic, QoS::AtLeastOnce, retain, payload.to_string())
            .await?;
    }
    for _ in messages {
        publisher
            .expect(|p| matches!(p, MqttPacket::PubAck(_)))
            .await?;
    }
    Ok(publisher)
}

/// A publisher written against the codec, for tests that must know exactly which packet
/// ids the server acknowledged (the other tests publish with rumqttc).
async fn codec_publisher(server: &Server) -> Result<CodecClient> {
    CodecClient::connect(&server.mqtt.to_string(), "pub", true).await
}

async fn expect_puback(client: &mut CodecClient, id: u16) -> Result<()> {
    match client.next(TIMEOUT).await? {
        Some(Packet::PubAck(ack)) if ack.packet_id.get() == id => Ok(()),
        other => bail!("expected PUBACK {id}, got {other:?}"),
    }
}

#[tokio::test]
async fn kill_9_after_the_last_puback_loses_no_message_of_a_persistent_subscriber() -> Result<()> {
    let dir = DataDir::new("after-puback");
    let server = start(&dir).await?;
    persistent_subscriber(&server).await?;
    let (mut publisher, _) = Client::connect(options("pub", &Via::Tcp(server.mqtt))).await?;
    for i in 1..=200 {
        let payload = i.to_string();
        publisher
            .client
            .publish("t", QoS::AtLeastOnce, false, payload)
            .await?;
    }
    for _ in 0..200 {
        publisher
            .expect(|p| matches!(p, MqttPacket::PubAck(_)))
            .await?;
    }
    server.kill()?;

    let server = start(&dir).await?;
    let (present, got) = receive(&server, 200).await?;
    assert!(present, "the session was recovered");
    let want: Vec<String> = (1..=200).map(|i| i.to_string()).collect();
    assert_eq!(got, want, "every acknowledged message, in order");
    Ok(())
}

#[tokio::test]
async fn kill_9_in_the_middle_of_a_qos1_stream_loses_no_acknowledged_message() -> Result<()> {
    const N: u16 = 20_000;
    let dir = DataDir::new("mid-stream");
    let server = start(&dir).await?;
    // The subscriber reads the stream as it comes, in a persistent session.
    let (mut sub, _) = Client::connect(persistent("sub", &server)).await?;
    sub.client.subscribe("t", QoS::AtLeastOnce).await?;
    sub.expect_suback().await?;
    let reader = tokio::spawn(async move {
        let mut got = BTreeSet::new();
        while let Ok(p) = sub.expect_publish().await {
            got.extend(
                std::str::from_utf8(&p.payload)
                    .ok()
                    .and_then(|s| s.parse::<u16>().ok()),
            );
        }
        got
    });
    let publisher = codec_publisher(&server).await?;
    // The stream goes out with up to WINDOW messages unacknowledged, as a client's in-flight
    // window allows; the server is killed once a tenth is acknowledged, while the rest are
    // still arriving, being stored and being acknowledged.
    const WINDOW: usize = 500;
    let window = std::sync::Arc::new(tokio::sync::Semaphore::new(WINDOW));
    let credits = window.clone();
    let (mut read, mut write) = publisher.into_split();
    let writer = tokio::spawn(async move {
        for id in 1..=N {
            match credits.acquire().await {
                Ok(permit) => permit.forget(),
                Err(_) => break,
            }
            let Ok(publish) = publish_qos1("t", &id.to_string(), false, id) else {
                break;
            };
            if write.write_all(&publish.to_bytes()).await.is_err() {
                break; // The server is gone.
            }
        }
        write // Dropping it would end the connection before every PUBACK came back.
    });
    let mut acked = BTreeSet::new();
    let mut server = Some(server);
    while let Some(packet) = read.next(TIMEOUT).await? {
        if let Packet::PubAck(ack) = packet {
            acked.insert(ack.packet_id.get());
            window.add_permits(1);
        }
        if acked.len() >= usize::from(N / 10) {
            if let Some(server) = server.take() {
                server.kill()?;
            }
        }
    }
    window.close();
    drop(writer.await?);
    assert!(
        server.is_none(),
        "the publisher was disconnected before the kill"
    );
    assert!(
        acked.len() < usize::from(N),
        "the kill came before the end of the stream"
    );
    let mut got = reader.await?;

    let server = start(&dir).await?;
    let (mut sub, ack) = Client::connect(persistent("sub", &server)).await?;
    assert!(ack.session_present);
    while !acked.is_subset(&got) {
        let Ok(p) = sub.expect_publish().await else {
            let lost: Vec<_> = acked.difference(&got).collect();
            bail!("{} acknowledged messages lost: {lost:?}", lost.len());
        };
        got.extend(
            std::str::from_utf8(&p.payload)
                .ok()
                .and_then(|s| s.parse::<u16>().ok()),
        );
    }
    Ok(())
}

#[tokio::test]
async fn retained_messages_and_retained_deletes_survive_kill_9() -> Result<()> {
    let dir = DataDir::new("retained");
    let server = start(&dir).await?;
    publish_acknowledged(&server, &[("a", "kept"), ("b", "deleted"), ("b", "")], true).await?;
    server.kill()?;

    let server = start(&dir).await?;
    let (mut sub, _) = Client::connect(options("reader", &Via::Tcp(server.mqtt))).await?;
    sub.client.subscribe("#", QoS::AtLeastOnce).await?;
    let first = sub.expect_publish().await?;
    assert_eq!(
        (first.topic.as_str(), &first.payload[..]),
        ("a", &b"kept"[..])
    );
    assert!(first.retain);
    // Nothing else is retained: a marker published now is the next message.
    sub.client
        .publish("marker", QoS::AtLeastOnce, false, "end")
        .await?;
    let next = sub.expect_publish().await?;
    assert_eq!(next.topic, "marker");
    Ok(())
}

#[tokio::test]
async fn a_graceful_restart_keeps_queued_messages_and_subscriptions() -> Result<()> {
    let dir = DataDir::new("graceful");
    let server = start(&dir).await?;
    persistent_subscriber(&server).await?;
    publish_acknowledged(&server, &[("t", "before")], false).await?;
    assert!(server.terminate().await?.success());

    let server = start(&dir).await?;
    publish_acknowledged(&server, &[("t", "after")], false).await?;
    let (present, got) = receive(&server, 2).await?;
    assert!(present);
    assert_eq!(got, ["before", "after"]);
    Ok(())
}

#[tokio::test]
async fn a_truncated_last_record_is_skipped_and_the_rest_kept() -> Result<()> {
    let dir = DataDir::new("torn");
    let server = start(&dir).await?;
    let mut publisher = codec_publisher(&server).await?;
    publisher.send(publish_qos1("a", "whole", true, 1)?).await?;
    expect_puback(&mut publisher, 1).await?;
    publisher.send(publish_qos1("b", "torn", true, 2)?).await?;
    expect_puback(&mut publisher, 2).await?;
    server.kill()?;
    // A power loss in the middle of the last write: its end never reached the disk, and
    // reads back as the zeros the journal writes ahead of its records.
    let journal = dir.path().join("journal");
    let mut bytes = std::fs::read(&journal)?;
    let end = bytes.iter().rposition(|b| *b != 0).map_or(0, |p| p + 1);
    bytes[end - 5..end].fill(0);
    std::fs::write(&journal, &bytes)?;

    let server = start(&dir).await?;
    let warning = server
        .wait_for_log(|l| l.contains("the journal ends with"))
        .await?;
    assert!(warning.contains("checksum does not match"), "{warning}");
    let (mut sub, _) = Client::connect(options("reader", &Via::Tcp(server.mqtt))).await?;
    sub.client.subscribe("#", QoS::AtLeastOnce).await?;
    let first = sub.expect_publish().await?;
    assert_eq!(
        (first.topic.as_str(), &first.payload[..]),
        ("a", &b"whole"[..])
    );
    sub.client
        .publish("marker", QoS::AtLeastOnce, false, "end")
        .await?;
    assert_eq!(
        sub.expect_publish().await?.topic,
        "marker",
        "b's record was skipped"
    );
    Ok(())
}

#[tokio::test]
async fn a_second_server_on_the_same_data_dir_is_refused() -> Result<()> {
    let dir = DataDir::new("locked");
    let _first = start(&dir).await?;
    let second = Command::new(BIN)
        .args(["serve", "--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0"])
        .args(["--data-dir", dir.arg()])
        .stdin(Stdio::null())
        .output()?;
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("is in use by another brokerlab"),
        "{stderr}"
    );
    Ok(())
}
