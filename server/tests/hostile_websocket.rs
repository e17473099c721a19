//! Input only MQTT over WebSocket can carry, against the real server: text frames, and
//! handshakes that do not offer the `mqtt` subprotocol.
//!
//! What this proves: a text frame (MQTT-6.0.0-1 allows binary frames only), before or
//! after CONNECT, closes only that connection, with close code 1003, logged once and
//! counted as a transport error; a handshake without an MQTT subprotocol is refused with
//! HTTP 400, logged once and counted. Meanwhile a bystander QoS 1 subscriber receives
//! every message a bystander publisher sends. The same table runner as
//! `hostile_input.rs` plays the text frames.

use std::collections::BTreeMap;

use anyhow::{ensure, Result};
use brokerlab_tests::hostile::{
    mentions, play, series, try_ws_handshake, Bystander, Case, Metrics, Outcome, Step, Transport,
};
use brokerlab_tests::server::Server;

const BIN: &str = env!("CARGO_BIN_EXE_brokerlab");

/// MQTT-6.0.0-1: MQTT travels in binary frames only. A text frame, before or after
/// CONNECT, closes the connection with close code 1003 (unsupported data) and is counted
/// as a transport error; the broker sees the transport go away.
#[tokio::test]
async fn a_websocket_text_frame_closes_only_that_connection_with_1003() -> Result<()> {
    let text_frame = |name, connected| Case {
        name,
        connected,
        steps: vec![Step::Text("CONNECT please")],
        outcome: Outcome::Closed,
        reason: "TransportClosed",
        violation: None,
        transport_error: Some("websocket-text-frame"),
        close_code: Some(1003),
    };
    let cases = vec![
        text_frame("a text frame instead of CONNECT", false),
        text_frame("a text frame after CONNECT", true),
    ];
    play(BIN, &[], Transport::WebSocket, &cases).await
}

/// MQTT-6.0.0-3 obliges clients to offer `mqtt`; a handshake that offers no MQTT
/// subprotocol (none at all, or only another one) is refused with 400 Bad Request before
/// any MQTT connection exists, logged once and counted. The bystanders go on meanwhile.
#[tokio::test]
async fn websocket_handshakes_without_the_mqtt_subprotocol_get_400() -> Result<()> {
    let server = Server::start(BIN, &[]).await?;
    let mut bystander = Bystander::start(&Transport::WebSocket.via(&server), "handshake").await?;
    for offered in [None, Some("chat"), Some("mqtt5, wamp")] {
        let before = Metrics::fetch(&server).await?;
        let (peer, outcome) = try_ws_handshake(&server, offered).await?;
        ensure!(
            outcome == Err(400),
            "offering {offered:?} got {outcome:?}, expected HTTP 400"
        );
        bystander.publish_next().await?;
        let expected = BTreeMap::from([(
            series(
                "brokerlab_websocket_handshakes_refused_total",
                "reason",
                "no-subprotocol",
            ),
            1,
        )]);
        Metrics::expect_changes(&server, &before, &expected).await?;
        // The refusal names the client's address; there is no MQTT connection to log.
        let refusal = |line: &str| mentions(line, &peer) && line.contains("subprotocol");
        server.wait_for_log(refusal).await?;
        let lines: Vec<String> = server.log().into_iter().filter(|l| refusal(l)).collect();
        ensure!(
            lines.len() == 1,
            "offering {offered:?}: {} log lines for {peer}: {lines:#?}",
            lines.len()
        );
    }
    bystander.expect_all_received().await
}
