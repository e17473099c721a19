//! MQTT over TCP with rumqttc, an independent client, against the real server: the
//! behaviours a device relies on, under the default aws-iot profile unless the standard
//! profile is what is being shown.

use anyhow::{bail, Result};
use brokerlab_tests::mqtt::{options, Client, Via};
use brokerlab_tests::server::{connection_log, Server};
use rumqttc::{LastWill, Packet, QoS, SubscribeReasonCode};

const BIN: &str = env!("CARGO_BIN_EXE_brokerlab");

/// AWS IoT accepts one CONNECT per second per client id (quota Q-connect-rate); tests that
/// reconnect an id at once raise it, through `--set` as a user would.
const QUICK_RECONNECTS: [&str; 2] = ["--set", "aws.connect_rate_per_second=100"];

#[tokio::test]
async fn qos0_and_qos1_publish_subscribe() -> Result<()> {
    let server = Server::start(BIN, &[]).await?;
    let via = Via::Tcp(server.mqtt);
    let (mut sub, ack) = Client::connect(options("sub", &via)).await?;
    assert!(!ack.session_present);
    sub.client.subscribe("t/0", QoS::AtMostOnce).await?;
    sub.expect_suback().await?;
    sub.client.subscribe("t/1", QoS::AtLeastOnce).await?;
    sub.expect_suback().await?;

    let (publisher, _) = Client::connect(options("pub", &via)).await?;
    publisher
        .client
        .publish("t/0", QoS::AtMostOnce, false, "zero")
        .await?;
    let first = sub.expect_publish().await?;
    assert_eq!(
        (first.topic.as_str(), &first.payload[..]),
        ("t/0", &b"zero"[..])
    );
    assert_eq!(first.qos, QoS::AtMostOnce);

    publisher
        .client
        .publish("t/1", QoS::AtLeastOnce, false, "one")
        .await?;
    let second = sub.expect_publish().await?;
    assert_eq!(
        (second.topic.as_str(), &second.payload[..]),
        ("t/1", &b"one"[..])
    );
    assert_eq!(second.qos, QoS::AtLeastOnce);
    Ok(())
}

#[tokio::test]
async fn qos2_exactly_once_in_the_standard_profile() -> Result<()> {
    let server = Server::start(BIN, &["--profile", "mqtt-3.1.1"]).await?;
    let via = Via::Tcp(server.mqtt);
    let (mut sub, _) = Client::connect(options("sub2", &via)).await?;
    sub.client.subscribe("t/2", QoS::ExactlyOnce).await?;
    let granted = sub
        .expect(|packet| matches!(packet, Packet::SubAck(_)))
        .await?;
    let Packet::SubAck(granted) = granted else {
        unreachable!("expect returned the packet it matched")
    };
    assert_eq!(
        granted.return_codes,
        [SubscribeReasonCode::Success(QoS::ExactlyOnce)]
    );

    let (mut publisher, _) = Client::connect(options("pub2", &via)).await?;
    publisher
        .client
        .publish("t/2", QoS::ExactlyOnce, false, "two")
        .await?;
    // The publisher's half of the handshake: PUBREC, then PUBCOMP for its PUBREL.
    publisher
        .expect(|packet| matches!(packet, Packet::PubComp(_)))
        .await?;
    let received = sub.expect_publish().await?;
    assert_eq!(received.qos, QoS::ExactlyOnce);
    assert_eq!(&received.payload[..], b"two");
    Ok(())
}

#[tokio::test]
async fn a_second_connection_with_the_same_client_id_takes_over() -> Result<()> {
    let server = Server::start(BIN, &QUICK_RECONNECTS).await?;
    let via = Via::Tcp(server.mqtt);
    let (mut old, _) = Client::connect(options("dup", &via)).await?;
    let (mut new, _) = Client::connect(options("dup", &via)).await?;
    old.expect_closed().await?;
    server
        .wait_for_log(|line| {
            connection_log("disconnected", "dup")(line) && line.contains("TakenOver")
        })
        .await?;
    // The new connection works.
    new.client
        .subscribe("after/takeover", QoS::AtLeastOnce)
        .await?;
    new.expect_suback().await?;
    Ok(())
}

#[tokio::test]
async fn the_will_is_published_when_a_client_vanishes() -> Result<()> {
    let server = Server::start(BIN, &[]).await?;
    let via = Via::Tcp(server.mqtt);
    let (mut watcher, _) = Client::connect(options("watcher", &via)).await?;
    watcher
        .client
        .subscribe("wills/dev", QoS::AtLeastOnce)
        .await?;
    watcher.expect_suback().await?;

    let mut device_options = options("dev", &via);
    device_options.set_last_will(LastWill::new(
        "wills/dev",
        "offline",
        QoS::AtLeastOnce,
        false,
    ));
    let (device, _) = Client::connect(device_options).await?;
    device.kill().await;

    let will = watcher.expect_publish().await?;
    assert_eq!(
        (will.topic.as_str(), &will.payload[..]),
        ("wills/dev", &b"offline"[..])
    );
    Ok(())
}

#[tokio::test]
async fn a_persistent_session_resumes_with_its_queued_messages() -> Result<()> {
    let server = Server::start(BIN, &QUICK_RECONNECTS).await?;
    let via = Via::Tcp(server.mqtt);
    let mut persistent = options("keeper", &via);
    persistent.set_clean_session(false);
    let (mut keeper, ack) = Client::connect(persistent.clone()).await?;
    assert!(!ack.session_present);
    keeper.client.subscribe("queue/k", QoS::AtLeastOnce).await?;
    keeper.expect_suback().await?;
    keeper.disconnect().await?;
    server
        .wait_for_log(connection_log("disconnected", "keeper"))
        .await?;

    let (mut publisher, _) = Client::connect(options("producer", &via)).await?;
    for n in 0..3 {
        publisher
            .client
            .publish("queue/k", QoS::AtLeastOnce, false, format!("m{n}"))
            .await?;
        publisher
            .expect(|packet| matches!(packet, Packet::PubAck(_)))
            .await?;
    }

    let (mut keeper, ack) = Client::connect(persistent).await?;
    assert!(ack.session_present, "the stored session is resumed (D3)");
    for n in 0..3 {
        let message = keeper.expect_publish().await?;
        assert_eq!(message.payload, format!("m{n}").as_bytes());
    }
    Ok(())
}

#[tokio::test]
async fn retained_messages_in_the_standard_profile() -> Result<()> {
    let server = Server::start(BIN, &["--profile", "mqtt-3.1.1"]).await?;
    let via = Via::Tcp(server.mqtt);
    let (mut publisher, _) = Client::connect(options("retainer", &via)).await?;
    publisher
        .client
        .publish("status/lamp", QoS::AtLeastOnce, true, "on")
        .await?;
    publisher
        .expect(|packet| matches!(packet, Packet::PubAck(_)))
        .await?;

    let (mut late, _) = Client::connect(options("late", &via)).await?;
    late.client.subscribe("status/+", QoS::AtLeastOnce).await?;
    let retained = late.expect_publish().await?;
    assert!(retained.retain);
    assert_eq!(
        (retained.topic.as_str(), &retained.payload[..]),
        ("status/lamp", &b"on"[..])
    );
    Ok(())
}

#[tokio::test]
async fn retain_closes_the_connection_under_aws_iot() -> Result<()> {
    let server = Server::start(BIN, &[]).await?;
    let via = Via::Tcp(server.mqtt);
    let (mut publisher, _) = Client::connect(options("retainer", &via)).await?;
    publisher
        .client
        .publish("status/lamp", QoS::AtMostOnce, true, "on")
        .await?;
    publisher.expect_closed().await?;
    server
        .wait_for_log(|line| {
            // The line names the rule and AWS's lifecycle reason, in words.
            connection_log("disconnected", "retainer")(line)
                && line.contains("aws_reason=CLIENT_ERROR")
                && line.contains("D5 (CLIENT_ERROR): retained messages are not supported")
        })
        .await?;
    Ok(())
}

/// AWS IoT allows one CONNECT per second per client id; the second is refused, and the
/// log says so as AWS would (THROTTLED) and names the rule in words, not in Rust.
#[tokio::test]
async fn a_throttled_connect_is_logged_with_the_aws_reason_in_words() -> Result<()> {
    let server = Server::start(BIN, &[]).await?;
    let via = Via::Tcp(server.mqtt);
    let (_first, _) = Client::connect(options("eager", &via)).await?;
    if Client::connect(options("eager", &via)).await.is_ok() {
        bail!("a second CONNECT within the second got a CONNACK");
    }
    let line = server
        .wait_for_log(|line| {
            connection_log("disconnected", "-")(line) && line.contains("aws_reason=THROTTLED")
        })
        .await?;
    assert!(
        line.contains("reason=Rule ")
            && line
                .contains("Q-connect-rate (THROTTLED): at most 1 CONNECT per second per client id"),
        "{line}"
    );
    assert!(!line.contains("Rule(ConnectRate)"), "{line}");
    Ok(())
}
