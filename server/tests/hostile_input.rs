//! Malformed input of every kind the codec can name, against the real server, over TCP and
//! over WebSocket, under both profiles.
//!
//! Each case of the table opens its own raw connection and sends bytes no MQTT library
//! would (after a valid CONNECT when the case needs one). What this proves, for every case
//! (the runner is `brokerlab_tests::hostile::play`):
//!
//! - the server closes that connection, or answers with the CONNACK code the standard
//!   names and then closes it, and sends nothing else;
//! - the log has exactly one `disconnected` line for it, with the expected reason;
//! - `/metrics` counts it: one `brokerlab_disconnects_total` by reason, one
//!   `brokerlab_protocol_violations_total` by the statement broken when it broke one, and
//!   no other close, refusal, violation or transport error;
//! - nobody else notices: a bystander QoS 1 subscriber receives every message a bystander
//!   publisher sends while the cases are played (one per case), and once the barrage is
//!   over only the two bystanders are still connected.
//!
//! A failing case does not stop the others: every case is played and all failures are
//! reported together. WebSocket-only input (text frames, handshakes without the `mqtt`
//! subprotocol) is in `hostile_websocket.rs`; floods, oversized claims and the CONNECT
//! deadline are in `hostile_connections.rs`.

use anyhow::Result;
use brokerlab_tests::hostile::{
    connack, connect, connect_with, field, packet, play, Case, Outcome, Step, Transport,
};

const BIN: &str = env!("CARGO_BIN_EXE_brokerlab");

/// The largest packet the servers of this file accept, set explicitly so that the
/// "just over the maximum" case does not depend on the default.
const MAX_PACKET: usize = 64 * 1024;

/// A case the broker answers by closing the connection for breaking `statement`.
fn violation(name: &'static str, connected: bool, bytes: Vec<u8>, statement: &'static str) -> Case {
    Case {
        name,
        connected,
        steps: vec![Step::Bytes(bytes)],
        outcome: Outcome::Closed,
        reason: "ProtocolViolation",
        violation: Some(statement),
        transport_error: None,
        close_code: None,
    }
}

/// A CONNECT the broker answers with CONNACK `code`, then closes.
fn refused(name: &'static str, bytes: Vec<u8>, code: u8, statement: Option<&'static str>) -> Case {
    Case {
        name,
        connected: false,
        steps: vec![Step::Bytes(bytes)],
        outcome: Outcome::ConnAck(code),
        reason: "ConnectRefused",
        violation: statement,
        transport_error: None,
        close_code: None,
    }
}

/// A client that sends `bytes`, the start of a packet, then closes its side: the server
/// has nothing to answer and simply drops the connection (reason `TransportClosed`).
fn cut_off(name: &'static str, connected: bool, bytes: Vec<u8>) -> Case {
    Case {
        name,
        connected,
        steps: vec![Step::Bytes(bytes), Step::CloseWrite],
        outcome: Outcome::Closed,
        reason: "TransportClosed",
        violation: None,
        transport_error: None,
        close_code: None,
    }
}

/// PUBLISH with `flags`, topic bytes `topic`, then `rest` (packet id and payload).
fn publish(flags: u8, topic: &[u8], rest: &[u8]) -> Vec<u8> {
    packet(0x30 | flags, &[field(topic), rest.to_vec()].concat())
}

/// SUBSCRIBE (or UNSUBSCRIBE) with fixed-header byte `first`, packet id `id`, then `rest`.
fn subscribe(first: u8, id: u16, rest: &[u8]) -> Vec<u8> {
    packet(first, &[id.to_be_bytes().to_vec(), rest.to_vec()].concat())
}

/// The table: every kind of malformed input the codec names, each with the statement
/// of MQTT 3.1.1 it breaks as the broker labels it.
fn cases() -> Vec<Case> {
    let client_id = field(b"hostile");
    let will = [field(b"will/topic"), field(b"gone")].concat();
    vec![
        // ----- before CONNECT ---------------------------------------------------------
        // An HTTP request on the MQTT port: 'G' (0x47) reads as PUBACK with flags 0111.
        violation(
            "garbage (an HTTP request) instead of CONNECT",
            false,
            b"GET / HTTP/1.1\r\nHost: broker\r\n\r\n".to_vec(),
            "MQTT-2.2.2-2",
        ),
        violation(
            "reserved packet type 0",
            false,
            vec![0x00, 0x00],
            "section 2.2.1",
        ),
        violation(
            "reserved packet type 15",
            false,
            vec![0xF0, 0x00],
            "section 2.2.1",
        ),
        // MQTT-3.1.2-1: a protocol name other than "MQTT" is not answered at all.
        violation(
            "protocol name MQTX",
            false,
            connect_with(b"MQTX", 4, 0x02, &client_id),
            "MQTT-3.1.2-1",
        ),
        // MQTT-3.1.2-2: an unsupported level gets CONNACK 0x01, then the close.
        refused(
            "protocol level 6",
            connect_with(b"MQTT", 6, 0x02, &client_id),
            0x01,
            Some("MQTT-3.1.2-2"),
        ),
        refused(
            "MQTT 3.1 (MQIsdp, level 3)",
            connect_with(b"MQIsdp", 3, 0x02, &client_id),
            0x01,
            Some("MQTT-3.1.2-2"),
        ),
        // MQTT-2.2.2-2: CONNECT's fixed-header flags are reserved, 0000.
        violation(
            "CONNECT with fixed-header flags 0001",
            false,
            {
                let mut bytes = connect("hostile");
                bytes[0] = 0x11;
                bytes
            },
            "MQTT-2.2.2-2",
        ),
        violation(
            "CONNECT with the reserved connect flag set",
            false,
            connect_with(b"MQTT", 4, 0x03, &client_id),
            "MQTT-3.1.2-3",
        ),
        // Will flag set, will QoS 3: "It MUST NOT be 3" is MQTT-3.1.2-14, a statement
        // about the CONNECT flags, not MQTT-3.3.1-4 about PUBLISH.
        violation(
            "will QoS 3",
            false,
            connect_with(
                b"MQTT",
                4,
                0x02 | 0x04 | 0x18,
                &[&client_id[..], &will].concat(),
            ),
            "MQTT-3.1.2-14",
        ),
        violation(
            "will QoS 1 without the will flag",
            false,
            connect_with(b"MQTT", 4, 0x02 | 0x08, &client_id),
            "MQTT-3.1.2-11",
        ),
        violation(
            "password without user name",
            false,
            connect_with(
                b"MQTT",
                4,
                0x02 | 0x40,
                &[&client_id[..], &field(b"pw")].concat(),
            ),
            "MQTT-3.1.2-22",
        ),
        violation(
            "client id not UTF-8",
            false,
            connect_with(b"MQTT", 4, 0x02, &field(&[b'a', 0xC3, 0x28])),
            "MQTT-1.5.3-1",
        ),
        violation(
            "client id with U+0000",
            false,
            connect_with(b"MQTT", 4, 0x02, &field(b"a\0b")),
            "MQTT-1.5.3-2",
        ),
        // MQTT-3.1.3-8: an empty client id with Clean Session 0 gets CONNACK 0x02. Not a
        // protocol violation: the packet is well formed, the server declines it.
        refused(
            "empty client id with clean session 0",
            connect_with(b"MQTT", 4, 0x00, &field(b"")),
            0x02,
            None,
        ),
        // Section 2.2.3: the remaining length takes at most four bytes.
        violation(
            "CONNECT with a 5-byte remaining length",
            false,
            vec![0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
            "section 2.2.3",
        ),
        violation(
            "CONNECT claiming 256 MB",
            false,
            vec![0x10, 0xFF, 0xFF, 0xFF, 0x7F],
            "configured maximum packet size",
        ),
        // MQTT-3.1.0-1: the first packet must be CONNECT.
        violation(
            "PUBLISH before CONNECT",
            false,
            publish(0, b"bystander/hostile/n", b"999"),
            "MQTT-3.1.0-1",
        ),
        violation(
            "SUBSCRIBE before CONNECT",
            false,
            subscribe(0x82, 1, &[&field(b"#")[..], &[1]].concat()),
            "MQTT-3.1.0-1",
        ),
        violation(
            "PINGREQ before CONNECT",
            false,
            vec![0xC0, 0x00],
            "MQTT-3.1.0-1",
        ),
        // The remaining length ends inside the protocol name's field.
        violation(
            "CONNECT whose fields run past its remaining length",
            false,
            packet(0x10, &field(b"MQTT")),
            "section 2.2.3",
        ),
        cut_off(
            "CONNECT cut off by the end of the stream",
            false,
            connect("hostile")[..9].to_vec(),
        ),
        // ----- after CONNECT ----------------------------------------------------------
        violation(
            "a second CONNECT",
            true,
            connect("hostile-again"),
            "MQTT-3.1.0-2",
        ),
        violation(
            "PUBLISH topic with +",
            true,
            publish(0, b"bystander/+/n", b"999"),
            "MQTT-3.3.2-2",
        ),
        violation(
            "PUBLISH topic with #",
            true,
            publish(0, b"bystander/#", b"999"),
            "MQTT-3.3.2-2",
        ),
        violation(
            "PUBLISH QoS 3",
            true,
            publish(0x06, b"bystander/hostile/n", &[0, 1, b'9']),
            "MQTT-3.3.1-4",
        ),
        violation(
            "PUBLISH QoS 0 with DUP",
            true,
            publish(0x08, b"bystander/hostile/n", b"999"),
            "MQTT-3.3.1-2",
        ),
        violation(
            "PUBLISH topic not UTF-8",
            true,
            publish(0, &[b'a', 0xFF, b'b'], b"999"),
            "MQTT-1.5.3-1",
        ),
        violation(
            "PUBLISH topic with U+0000",
            true,
            publish(0, b"bystander/\0/n", b"999"),
            "MQTT-1.5.3-2",
        ),
        violation(
            "PUBLISH with an empty topic",
            true,
            publish(0, b"", b"999"),
            "MQTT-4.7.3-1",
        ),
        violation(
            "PUBLISH QoS 1 with packet id 0",
            true,
            publish(0x02, b"bystander/hostile/n", &[0, 0, b'9']),
            "MQTT-2.3.1-1",
        ),
        // MQTT-3.8.1-1: SUBSCRIBE's flags are 0010; the broker names the general rule.
        violation(
            "SUBSCRIBE with flags 0000",
            true,
            subscribe(0x80, 1, &[&field(b"a/b")[..], &[1]].concat()),
            "MQTT-2.2.2-2",
        ),
        violation(
            "SUBSCRIBE with packet id 0",
            true,
            subscribe(0x82, 0, &[&field(b"a/b")[..], &[1]].concat()),
            "MQTT-2.3.1-1",
        ),
        violation(
            "SUBSCRIBE without filters",
            true,
            subscribe(0x82, 1, &[]),
            "MQTT-3.8.3-3",
        ),
        // The broker labels this with the spec's own typo'd id (docs/conformance.md).
        violation(
            "SUBSCRIBE requesting QoS 3",
            true,
            subscribe(0x82, 1, &[&field(b"a/b")[..], &[3]].concat()),
            "MQTT-3-8.3-4",
        ),
        violation(
            "SUBSCRIBE with an empty filter",
            true,
            subscribe(0x82, 1, &[&field(b"")[..], &[1]].concat()),
            "MQTT-4.7.3-1",
        ),
        violation(
            "UNSUBSCRIBE without filters",
            true,
            subscribe(0xA2, 1, &[]),
            "MQTT-3.10.3-2",
        ),
        // MQTT-3.6.1-1: PUBREL's flags are 0010.
        violation(
            "PUBREL with flags 0000",
            true,
            vec![0x60, 0x02, 0x00, 0x01],
            "MQTT-2.2.2-2",
        ),
        violation(
            "CONNACK sent by a client",
            true,
            connack(0).to_vec(),
            "MQTT-4.8.0-1",
        ),
        violation(
            "DISCONNECT with a body",
            true,
            vec![0xE0, 0x01, 0x00],
            "section 2.2.3",
        ),
        violation(
            "PUBLISH with a 5-byte remaining length",
            true,
            vec![0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
            "section 2.2.3",
        ),
        violation(
            "PUBLISH claiming 256 MB",
            true,
            vec![0x30, 0xFF, 0xFF, 0xFF, 0x7F],
            "configured maximum packet size",
        ),
        // One byte over the maximum: refused from the header, before the body arrives.
        violation(
            "PUBLISH one byte over the maximum packet size",
            true,
            {
                let remaining = MAX_PACKET - 4 + 1; // 1 type byte + 3 length bytes
                let mut header = packet(0x30, &vec![0; remaining]);
                header.truncate(4);
                header
            },
            "configured maximum packet size",
        ),
        // The topic's length prefix says 10 bytes; the remaining length leaves 2.
        violation(
            "PUBLISH whose topic runs past its remaining length",
            true,
            vec![0x30, 0x04, 0x00, 0x0A, b'a', b'b'],
            "section 2.2.3",
        ),
        cut_off(
            "PUBLISH cut off by the end of the stream",
            true,
            publish(0x02, b"bystander/hostile/n", &[0, 1, b'9', b'9'])[..8].to_vec(),
        ),
    ]
}

/// Plays the table over `transport` against a server of `profile`.
async fn play_table(profile: &str, transport: Transport) -> Result<()> {
    let max_packet = format!("max_packet_size={MAX_PACKET}");
    let args = ["--profile", profile, "--set", &max_packet];
    play(BIN, &args, transport, &cases()).await
}

#[tokio::test]
async fn malformed_input_over_tcp_under_mqtt_3_1_1() -> Result<()> {
    play_table("mqtt-3.1.1", Transport::Tcp).await
}

#[tokio::test]
async fn malformed_input_over_websocket_under_mqtt_3_1_1() -> Result<()> {
    play_table("mqtt-3.1.1", Transport::WebSocket).await
}

#[tokio::test]
async fn malformed_input_over_tcp_under_aws_iot() -> Result<()> {
    play_table("aws-iot", Transport::Tcp).await
}

#[tokio::test]
async fn malformed_input_over_websocket_under_aws_iot() -> Result<()> {
    play_table("aws-iot", Transport::WebSocket).await
}
