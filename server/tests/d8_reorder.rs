//! D8 as a stream, with real clients over TCP: with `aws.reorder_probability=1.0`, every
//! packet to a connection is held for a seeded time on the broker's clock, so messages
//! published in a burst reach the subscriber out of order, and none is lost.

use std::collections::BTreeSet;

use anyhow::Result;
use brokerlab_tests::http::get;
use brokerlab_tests::mqtt::{options, Client, Via};
use brokerlab_tests::server::Server;
use rumqttc::QoS;

const BIN: &str = env!("CARGO_BIN_EXE_brokerlab");

#[tokio::test]
async fn a_stream_of_qos1_messages_is_reordered_and_nothing_is_lost() -> Result<()> {
    let server = Server::start(
        BIN,
        &[
            "--seed",
            "7",
            "--set",
            "aws.reorder_probability=1.0",
            // Long holds make the reordering certain however slowly the machine runs
            // the publisher's loop.
            "--set",
            "aws.reorder_max_delay_ms=300",
        ],
    )
    .await?;
    let via = Via::Tcp(server.mqtt);
    let (mut subscriber, _) = Client::connect(options("d8-sub", &via)).await?;
    subscriber
        .client
        .subscribe("stream/t", QoS::AtLeastOnce)
        .await?;
    subscriber.expect_suback().await?;
    let (publisher, _) = Client::connect(options("d8-pub", &via)).await?;
    let sent: Vec<String> = (0..60).map(|i| format!("m{i:02}")).collect();
    for m in &sent {
        publisher
            .client
            .publish("stream/t", QoS::AtLeastOnce, false, m.clone())
            .await?;
    }
    let mut got = Vec::new();
    while got.len() < sent.len() {
        let publish = subscriber.expect_publish().await?;
        got.push(String::from_utf8_lossy(&publish.payload).into_owned());
    }
    let unique: BTreeSet<&String> = got.iter().collect();
    assert_eq!(
        unique.len(),
        sent.len(),
        "every message arrived once: {got:?}"
    );
    assert_eq!(unique, sent.iter().collect(), "{got:?}");
    assert_ne!(
        got, sent,
        "with every packet held, the stream arrives out of order"
    );
    let metrics = get(server.http, "/metrics").await?.body;
    assert!(
        metrics.contains("brokerlab_rules_fired_total{rule=\"D8\"}"),
        "D8 is counted each time it changed the order:\n{metrics}"
    );
    Ok(())
}
