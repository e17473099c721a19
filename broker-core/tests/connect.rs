//! CONNECT and CONNACK: the first exchange of every connection (sections 3.1 and 3.2).

mod support;

use broker_core::*;
use support::*;

#[test]
fn mqtt_3_2_0_1_connack_is_the_first_packet_sent() {
    let mut sim = Sim::standard();
    let (conn, ack) = sim.connect_with(connect("a", true));
    assert_eq!(
        ack,
        Some(ConnAck {
            properties: None,
            session_present: false,
            code: ConnectReturnCode::Accepted.into()
        })
    );
    assert_eq!(sim.wire(conn), [0x20, 0x02, 0x00, 0x00]);
}

#[test]
fn mqtt_3_1_0_1_first_packet_must_be_connect() {
    let mut sim = Sim::standard();
    let conn = sim.open();
    sim.send(conn, Packet::PingReq);
    assert_eq!(
        sim.closed(conn),
        Some(&CloseReason::ProtocolViolation(
            Violation::FirstPacketNotConnect(PacketType::PingReq)
        ))
    );
    assert!(
        sim.wire(conn).is_empty(),
        "nothing is answered before CONNECT"
    );
}

#[test]
fn mqtt_3_1_0_1_publish_before_connect_closes_without_routing() {
    let mut sim = Sim::standard();
    let sub = sim.connect("sub", true);
    sim.subscribe(sub, &[("t", QoS::AtMostOnce)]);
    let conn = sim.open();
    sim.publish(conn, "t", "early", QoS::AtMostOnce, false, 0);
    assert!(sim.closed(conn).is_some());
    assert!(sim.publishes(sub).is_empty());
}

#[test]
fn mqtt_3_1_0_2_second_connect_is_a_violation() {
    let mut sim = Sim::standard();
    let conn = sim.connect("a", true);
    sim.send(conn, Packet::Connect(connect("a", true)));
    assert_eq!(
        sim.closed(conn),
        Some(&CloseReason::ProtocolViolation(Violation::SecondConnect))
    );
    assert!(sim.recv_all(conn).is_empty(), "no second CONNACK");
}

#[test]
fn mqtt_3_1_2_2_unsupported_level_gets_connack_0x01_then_close() {
    let mut sim = Sim::standard();
    let conn = sim.open();
    // CONNECT "MQTT" level 6, which no MQTT version has.
    sim.send_raw(
        conn,
        &[
            0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 6, 0x02, 0, 60, 0, 1, b'a',
        ],
    );
    assert_eq!(sim.wire(conn), [0x20, 0x02, 0x00, 0x01]);
    assert_eq!(
        sim.closed(conn),
        Some(&CloseReason::ConnectRefused(
            ConnectReturnCode::UnacceptableProtocolVersion.into()
        ))
    );
}

#[test]
fn mqtt_3_1_2_2_mqtt_3_1_clients_get_connack_0x01() {
    let mut sim = Sim::standard();
    let conn = sim.open();
    // CONNECT "MQIsdp" level 3, as MQTT 3.1 clients send it.
    let mut bytes = vec![0x10, 15, 0, 6];
    bytes.extend_from_slice(b"MQIsdp");
    bytes.extend_from_slice(&[3, 0x02, 0, 60, 0, 1, b'a']);
    sim.send_raw(conn, &bytes);
    assert_eq!(sim.wire(conn), [0x20, 0x02, 0x00, 0x01]);
}

#[test]
fn mqtt_3_1_2_1_wrong_protocol_name_closes_without_connack() {
    let mut sim = Sim::standard();
    let conn = sim.open();
    sim.send_raw(
        conn,
        &[
            0x10, 13, 0, 4, b'M', b'Q', b'T', b'X', 4, 0x02, 0, 60, 0, 1, b'a',
        ],
    );
    assert!(sim.wire(conn).is_empty());
    assert_eq!(
        sim.closed(conn),
        Some(&CloseReason::ProtocolViolation(Violation::Malformed(
            DecodeError::InvalidProtocolName
        )))
    );
}

#[test]
fn mqtt_3_1_2_3_reserved_connect_flag_closes() {
    let mut sim = Sim::standard();
    let conn = sim.open();
    sim.send_raw(
        conn,
        &[
            0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x03, 0, 60, 0, 1, b'a',
        ],
    );
    assert!(sim.wire(conn).is_empty());
    assert_eq!(
        sim.closed(conn),
        Some(&CloseReason::ProtocolViolation(Violation::Malformed(
            DecodeError::ConnectReservedFlag
        )))
    );
}

#[test]
fn mqtt_3_1_3_6_empty_client_id_with_clean_session_is_assigned_one() {
    let mut sim = Sim::standard();
    let (conn, ack) = sim.connect_with(connect("", true));
    assert_eq!(
        ack.map(|a| a.code),
        Some(ReasonCode::from(ConnectReturnCode::Accepted))
    );
    let sessions = sim.broker.sessions();
    assert_eq!(sessions.len(), 1);
    assert!(
        sessions[0].client_id.starts_with("auto-"),
        "{:?}",
        sessions[0].client_id
    );
    assert_eq!(sessions[0].conn, Some(conn));
}

#[test]
fn assigned_client_ids_are_unique_and_reproducible() {
    let ids = || {
        let mut sim = Sim::standard();
        for _ in 0..5 {
            sim.connect_with(connect("", true));
        }
        sim.broker
            .sessions()
            .into_iter()
            .map(|s| s.client_id)
            .collect::<Vec<_>>()
    };
    let first = ids();
    let mut unique = first.clone();
    unique.dedup();
    assert_eq!(unique.len(), 5);
    assert_eq!(first, ids(), "the same seed assigns the same ids");
}

#[test]
fn mqtt_3_1_3_8_empty_client_id_without_clean_session_gets_0x02() {
    let mut sim = Sim::standard();
    let (conn, ack) = sim.connect_with(connect("", false));
    assert_eq!(
        ack,
        Some(ConnAck {
            properties: None,
            session_present: false,
            code: ConnectReturnCode::IdentifierRejected.into()
        })
    );
    assert_eq!(
        sim.closed(conn),
        Some(&CloseReason::ConnectRefused(
            ConnectReturnCode::IdentifierRejected.into()
        ))
    );
    assert!(sim.broker.sessions().is_empty());
}

#[test]
fn client_id_longer_than_the_limit_gets_0x02() {
    let mut sim = Sim::new(Config {
        max_client_id_len: 23,
        ..Config::default()
    });
    let (_, ack) = sim.connect_with(connect(&"x".repeat(24), true));
    assert_eq!(
        ack.map(|a| a.code),
        Some(ReasonCode::from(ConnectReturnCode::IdentifierRejected))
    );
    let (_, ack) = sim.connect_with(connect(&"x".repeat(23), true));
    assert_eq!(
        ack.map(|a| a.code),
        Some(ReasonCode::from(ConnectReturnCode::Accepted))
    );
}

#[test]
fn mqtt_3_1_3_5_the_23_character_alphanumeric_ids_are_accepted() {
    let mut sim = Sim::standard();
    sim.connect("0123456789abcdefghijklm", true);
    sim.connect("ABCDEFGHIJKLMNOPQRSTUVW", true);
    assert_eq!(sim.broker.sessions().len(), 2);
}

#[test]
fn mqtt_3_1_4_5_nothing_is_processed_after_a_refused_connect() {
    let mut sim = Sim::standard();
    let conn = sim.open();
    let mut bytes = Packet::Connect(connect("", false)).to_bytes().to_vec();
    bytes.extend_from_slice(&Packet::PingReq.to_bytes());
    sim.send_raw(conn, &bytes);
    let got = sim.recv_all(conn);
    assert_eq!(got.len(), 1, "only the CONNACK: {got:?}");
}

#[test]
fn connection_that_never_sends_connect_is_closed_at_the_deadline() {
    let mut sim = Sim::new(Config {
        connect_timeout_ms: 5_000,
        ..Config::default()
    });
    let conn = sim.open();
    sim.advance(4_999);
    assert!(sim.closed(conn).is_none());
    sim.advance(1);
    assert_eq!(sim.closed(conn), Some(&CloseReason::ConnectTimeout));
}

#[test]
fn connect_deadline_does_not_touch_a_connected_client() {
    let mut sim = Sim::standard();
    let conn = sim.connect("a", true);
    sim.advance(60_000);
    assert!(sim.closed(conn).is_none());
}

#[test]
fn mqtt_3_1_2_22_password_without_username_closes() {
    let mut sim = Sim::standard();
    let conn = sim.open();
    // Flags 0x42: password and clean session, no user name.
    sim.send_raw(
        conn,
        &[
            0x10, 16, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x42, 0, 60, 0, 1, b'a', 0, 1, b'p',
        ],
    );
    assert_eq!(
        sim.closed(conn),
        Some(&CloseReason::ProtocolViolation(Violation::Malformed(
            DecodeError::PasswordWithoutUsername
        )))
    );
}

#[test]
fn username_and_password_are_accepted() {
    let mut sim = Sim::standard();
    let mut c = connect("a", true);
    c.username = Some("user".into());
    c.password = Some(bytes::Bytes::from_static(b"secret"));
    let (_, ack) = sim.connect_with(c);
    assert_eq!(
        ack.map(|a| a.code),
        Some(ReasonCode::from(ConnectReturnCode::Accepted))
    );
}
