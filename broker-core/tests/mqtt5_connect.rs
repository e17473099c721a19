//! MQTT 5.0 CONNECT, CONNACK and DISCONNECT (sections 3.1, 3.2 and 3.14): what the
//! broker tells a client in CONNACK, the session's expiry, the Will's delay, and the
//! DISCONNECT it sends before it closes.

mod support;

use broker_core::*;
use support::*;

fn standard5() -> Sim {
    Sim::standard()
}

#[test]
fn connack_states_the_limits_a_client_must_respect() {
    let mut sim = standard5();
    let (_, ack) = sim.connect5("a", true, vec![]);
    assert_eq!(ack.code, ReasonCode::SUCCESS);
    let p = ack.properties.expect("an MQTT 5.0 CONNACK has properties");
    assert_eq!(p.receive_maximum(), Some(100));
    assert_eq!(p.topic_alias_maximum(), Some(10));
    assert!(p.maximum_packet_size().is_some());
    // Everything is available in the standard profile, so nothing else is said.
    assert_eq!(p.maximum_qos(), None);
    assert_eq!(p.retain_available(), None);
    assert_eq!(p.assigned_client_identifier(), None);
    assert_eq!(p.server_keep_alive(), None);
}

#[test]
fn mqtt_3_1_3_6_an_empty_client_id_is_assigned_one_even_without_clean_start() {
    let mut sim = standard5();
    let (conn, ack) = sim.connect5("", false, vec![Property::SessionExpiryInterval(60)]);
    assert_eq!(ack.code, ReasonCode::SUCCESS);
    // MQTT-3.1.3-7, MQTT-3.2.2-16: the CONNACK names the identifier assigned.
    let assigned = ack
        .properties
        .and_then(|p| p.assigned_client_identifier())
        .expect("an Assigned Client Identifier");
    assert!(!assigned.is_empty());
    sim.disconnect(conn);
    // The assigned identifier names the session like any other.
    let (_, again) = sim.connect5(&assigned, false, vec![Property::SessionExpiryInterval(60)]);
    assert!(again.session_present);
}

#[test]
fn mqtt_3_1_2_23_a_session_with_an_expiry_outlives_its_connection_until_it_expires() {
    let mut sim = standard5();
    let expiry = vec![Property::SessionExpiryInterval(60)];
    let (conn, _) = sim.connect5("a", true, expiry.clone());
    sim.subscribe5(conn, &[("t", opts(QoS::AtLeastOnce))], None);
    sim.disconnect(conn);
    sim.advance(59_000);
    let (conn, ack) = sim.connect5("a", false, expiry.clone());
    assert!(
        ack.session_present,
        "within the interval the session is kept"
    );
    sim.disconnect(conn);
    sim.advance(60_001);
    let (_, ack) = sim.connect5("a", false, expiry);
    assert!(!ack.session_present, "after it, the session is gone");
}

#[test]
fn a_session_expiry_of_zero_ends_the_session_with_the_connection() {
    let mut sim = standard5();
    // Absent means 0 (section 3.1.2.11.2), Clean Start 0 notwithstanding.
    let (conn, _) = sim.connect5("a", false, vec![]);
    sim.disconnect(conn);
    let (_, ack) = sim.connect5("a", false, vec![]);
    assert!(!ack.session_present);
}

#[test]
fn disconnect_may_change_the_expiry_but_not_give_life_to_a_session_that_had_none() {
    let mut sim = standard5();
    let (conn, _) = sim.connect5("a", false, vec![Property::SessionExpiryInterval(60)]);
    let mut d = Disconnect::NORMAL;
    d.properties.push(Property::SessionExpiryInterval(0));
    sim.send(conn, Packet::Disconnect(d));
    let (conn, ack) = sim.connect5("a", false, vec![]);
    assert!(!ack.session_present, "DISCONNECT set the expiry to 0");
    // Section 3.14.2.2.2: after a CONNECT with expiry 0, a non-zero one is an error.
    let mut d = Disconnect::NORMAL;
    d.properties.push(Property::SessionExpiryInterval(30));
    sim.send(conn, Packet::Disconnect(d));
    assert_eq!(
        sim.closed(conn),
        Some(&CloseReason::ProtocolViolation(
            Violation::SessionExpiryOnDisconnect
        ))
    );
    assert_eq!(
        sim.disconnect_reason(conn),
        Some(ReasonCode::PROTOCOL_ERROR)
    );
}

#[test]
fn a_configured_maximum_lowers_the_expiry_and_connack_says_so() {
    let mut config = Config::default();
    config.max_session_expiry_secs = Some(100);
    let mut sim = Sim::new(config);
    let (_, at_limit) = sim.connect5("a", true, vec![Property::SessionExpiryInterval(100)]);
    let said = |ack: &ConnAck| {
        ack.properties
            .as_ref()
            .and_then(|p| p.session_expiry_interval())
    };
    assert_eq!(said(&at_limit), None, "granted as asked: nothing to say");
    let (_, past) = sim.connect5("b", true, vec![Property::SessionExpiryInterval(101)]);
    assert_eq!(said(&past), Some(100));
}

#[test]
fn mqtt_3_2_2_21_server_keep_alive_replaces_a_longer_or_absent_keep_alive() {
    let mut config = Config::default();
    config.server_keep_alive = Some(60);
    let mut sim = Sim::new(config);
    let mut c = connect5("a", true, vec![]);
    c.keep_alive = 120;
    let (conn, ack) = sim.connect_with(c);
    let ka = ack
        .and_then(|a| a.properties)
        .and_then(|p| p.server_keep_alive());
    assert_eq!(ka, Some(60));
    // MQTT-3.1.2-22 with the keep-alive granted: 1.5 x 60 s of silence closes it.
    sim.advance(89_000);
    assert_eq!(sim.closed(conn), None);
    sim.advance(2_000);
    assert_eq!(sim.closed(conn), Some(&CloseReason::KeepAliveTimeout));
    assert_eq!(
        sim.disconnect_reason(conn),
        Some(ReasonCode::KEEP_ALIVE_TIMEOUT)
    );
    // A shorter keep-alive is kept, and not repeated in CONNACK.
    let mut c = connect5("b", true, vec![]);
    c.keep_alive = 30;
    let (_, ack) = sim.connect_with(c);
    let ka = ack
        .and_then(|a| a.properties)
        .and_then(|p| p.server_keep_alive());
    assert_eq!(ka, None);
}

#[test]
fn enhanced_authentication_is_refused_with_bad_authentication_method() {
    let mut sim = standard5();
    let c = connect5(
        "a",
        true,
        vec![Property::AuthenticationMethod("SCRAM-SHA-1".into())],
    );
    let (conn, ack) = sim.connect_with(c);
    let ack = ack.expect("a CONNACK");
    assert_eq!(ack.code, ReasonCode::BAD_AUTHENTICATION_METHOD);
    assert!(!ack.session_present);
    assert!(sim.closed(conn).is_some());
}

#[test]
fn refusals_carry_mqtt5_reason_codes_and_a_reason_string() {
    let mut config = Config::default();
    config.users = Some([("alice".to_owned(), "secret".to_owned())].into());
    let mut sim = Sim::new(config);
    let mut c = connect5("a", true, vec![]);
    c.username = Some("alice".into());
    c.password = Some(bytes::Bytes::from_static(b"wrong"));
    let (_, ack) = sim.connect_with(c);
    let ack = ack.expect("a CONNACK");
    assert_eq!(ack.code, ReasonCode::BAD_USER_NAME_OR_PASSWORD);
    let reason = ack.properties.and_then(|p| p.reason_string());
    assert_eq!(reason.as_deref(), Some("Bad User Name or Password"));
}

#[test]
fn a_taken_over_mqtt5_connection_is_told_why() {
    let mut sim = standard5();
    let (old, _) = sim.connect5("a", true, vec![]);
    let (_new, _) = sim.connect5("a", true, vec![]);
    assert_eq!(
        sim.disconnect_reason(old),
        Some(ReasonCode::SESSION_TAKEN_OVER)
    );
}

#[test]
fn a_mqtt311_connection_is_never_sent_disconnect() {
    let mut sim = Sim::standard();
    let old = sim.connect("a", true);
    sim.connect("a", true);
    assert!(matches!(
        sim.closed(old),
        Some(CloseReason::TakenOver { .. })
    ));
    assert!(sim.recv_all(old).is_empty());
}

fn with_will(id: &str, delay: Option<u32>, expiry: u32) -> Connect {
    let mut c = connect5(id, true, vec![Property::SessionExpiryInterval(expiry)]);
    c.will = Some(LastWill {
        topic: topic("will/a"),
        payload: "gone".into(),
        qos: QoS::AtMostOnce,
        retain: false,
        properties: Properties(delay.map(Property::WillDelayInterval).into_iter().collect()),
    });
    c
}

#[test]
fn the_will_waits_for_its_delay_after_the_connection_is_lost() {
    let mut sim = standard5();
    let watcher = sim.connect("watcher", true);
    sim.subscribe(watcher, &[("will/#", QoS::AtMostOnce)]);
    let (conn, _) = sim.connect_with(with_will("a", Some(10), 60));
    sim.drop_conn(conn);
    sim.advance(9_999);
    assert!(sim.publishes(watcher).is_empty(), "not before the delay");
    sim.advance(1);
    assert_eq!(payloads(&sim.publishes(watcher)), ["gone"]);
}

#[test]
fn mqtt_3_1_3_9_a_reconnection_within_the_delay_cancels_the_will() {
    let mut sim = standard5();
    let watcher = sim.connect("watcher", true);
    sim.subscribe(watcher, &[("will/#", QoS::AtMostOnce)]);
    let (conn, _) = sim.connect_with(with_will("a", Some(10), 60));
    sim.drop_conn(conn);
    sim.advance(5_000);
    let mut again = connect5("a", false, vec![Property::SessionExpiryInterval(60)]);
    again.keep_alive = 0;
    sim.connect_with(again);
    sim.advance(20_000);
    assert!(sim.publishes(watcher).is_empty());
}

#[test]
fn the_will_goes_when_the_session_ends_if_that_comes_before_its_delay() {
    let mut sim = standard5();
    let watcher = sim.connect("watcher", true);
    sim.subscribe(watcher, &[("will/#", QoS::AtMostOnce)]);
    let (conn, _) = sim.connect_with(with_will("a", Some(100), 5));
    sim.drop_conn(conn);
    sim.advance(4_999);
    assert!(sim.publishes(watcher).is_empty());
    sim.advance(1);
    assert_eq!(payloads(&sim.publishes(watcher)), ["gone"]);
}

#[test]
fn disconnect_with_will_message_publishes_the_will_and_normal_disconnect_does_not() {
    let mut sim = standard5();
    let watcher = sim.connect("watcher", true);
    sim.subscribe(watcher, &[("will/#", QoS::AtMostOnce)]);
    let (conn, _) = sim.connect_with(with_will("a", None, 0));
    sim.send(conn, Packet::Disconnect(Disconnect::NORMAL));
    assert!(sim.publishes(watcher).is_empty(), "MQTT-3.1.2-10");
    let (conn, _) = sim.connect_with(with_will("b", None, 0));
    let d = Disconnect::with_reason(ReasonCode::DISCONNECT_WITH_WILL);
    sim.send(conn, Packet::Disconnect(d));
    assert_eq!(payloads(&sim.publishes(watcher)), ["gone"]);
    assert_eq!(
        sim.closed(conn),
        Some(&CloseReason::ClientDisconnectWithWill(
            ReasonCode::DISCONNECT_WITH_WILL
        ))
    );
}

/// MQTT-3.1.2-10, MQTT-3.14.4-3: only a DISCONNECT with Reason Code 0x00 removes the
/// Will; a client that disconnects reporting an error (here 0x80, Unspecified error)
/// still has its Will published.
#[test]
fn a_disconnect_with_an_error_code_publishes_the_will() {
    let mut sim = standard5();
    let watcher = sim.connect("watcher", true);
    sim.subscribe(watcher, &[("will/#", QoS::AtMostOnce)]);
    let (conn, _) = sim.connect_with(with_will("c", None, 0));
    let d = Disconnect::with_reason(ReasonCode::UNSPECIFIED_ERROR);
    sim.send(conn, Packet::Disconnect(d));
    assert_eq!(payloads(&sim.publishes(watcher)), ["gone"]);
    assert_eq!(
        sim.closed(conn),
        Some(&CloseReason::ClientDisconnectWithWill(
            ReasonCode::UNSPECIFIED_ERROR
        ))
    );
}

#[test]
fn a_malformed_packet_is_answered_with_disconnect_0x81_then_closed() {
    let mut sim = standard5();
    let (conn, _) = sim.connect5("a", true, vec![]);
    // A PUBACK whose property length runs past the packet.
    sim.send_raw(conn, &[0x40, 0x04, 0x00, 0x01, 0x00, 0x09]);
    assert_eq!(
        sim.disconnect_reason(conn),
        Some(ReasonCode::MALFORMED_PACKET)
    );
    assert!(matches!(
        sim.closed(conn),
        Some(CloseReason::ProtocolViolation(Violation::Malformed(_)))
    ));
}

#[test]
fn a_packet_over_the_maximum_packet_size_is_answered_with_0x95() {
    let mut config = Config::default();
    config.max_packet_size = 64;
    let mut sim = Sim::new(config);
    let (conn, ack) = sim.connect5("a", true, vec![]);
    let said = ack.properties.and_then(|p| p.maximum_packet_size());
    assert_eq!(said, Some(64));
    let big = publish5("t", &"x".repeat(100), QoS::AtMostOnce, 0, vec![]);
    sim.send(conn, Packet::Publish(big));
    assert_eq!(
        sim.disconnect_reason(conn),
        Some(ReasonCode::PACKET_TOO_LARGE)
    );
}

/// MQTT-3.2.2-12: a server that offers QoS 1 at most refuses a Will of QoS 2 with CONNACK
/// 0x9B (QoS not supported); a Will of QoS 1 is accepted.
#[test]
fn mqtt_3_2_2_12_a_will_qos_above_the_maximum_is_refused_with_0x9b() {
    let mut sim = Sim::new(Config {
        max_qos: QoS::AtLeastOnce,
        ..Config::default()
    });
    for (qos, accepted) in [(QoS::AtLeastOnce, true), (QoS::ExactlyOnce, false)] {
        let mut c = with_will("w", None, 0);
        if let Some(w) = c.will.as_mut() {
            w.qos = qos;
        }
        let (_, ack) = sim.connect_with(c);
        let ack = ack.expect("a CONNACK");
        let want = if accepted {
            ReasonCode::SUCCESS
        } else {
            ReasonCode::QOS_NOT_SUPPORTED
        };
        assert_eq!(ack.code, want, "{qos:?}");
    }
}

/// MQTT-3.2.2-19: a refused CONNACK leaves its Reason String out when it would exceed the
/// Maximum Packet Size the CONNECT asked for.
#[test]
fn mqtt_3_2_2_19_a_refusal_fits_the_clients_maximum_packet_size() {
    for (max, explained) in [(u32::MAX, true), (8, false)] {
        let mut sim = standard5();
        let connect = connect5(
            "a",
            true,
            vec![
                Property::MaximumPacketSize(max),
                Property::AuthenticationMethod("SCRAM".into()),
            ],
        );
        let (_, ack) = sim.connect_with(connect);
        let ack = ack.expect("a CONNACK");
        assert_eq!(ack.code, ReasonCode::BAD_AUTHENTICATION_METHOD);
        let properties = ack.properties.clone().unwrap_or_default();
        assert_eq!(!properties.is_empty(), explained, "max {max}");
        assert!(Packet::ConnAck(ack).encoded_len() as u64 <= u64::from(max));
    }
}

/// MQTT-3.14.0-1: a server that refuses a CONNECT answers with CONNACK and sends no
/// DISCONNECT before it closes; MQTT-3.14.2-2: a DISCONNECT the server sends carries no
/// Session Expiry Interval.
#[test]
fn mqtt_3_14_0_1_a_refused_connect_gets_no_disconnect_and_mqtt_3_14_2_2_none_has_session_expiry() {
    let mut sim = standard5();
    let mut refused = connect5(
        "r",
        true,
        vec![Property::AuthenticationMethod("SCRAM".into())],
    );
    refused.keep_alive = 0;
    let (conn, ack) = sim.connect_with(refused);
    assert_eq!(
        ack.expect("a CONNACK").code,
        ReasonCode::BAD_AUTHENTICATION_METHOD
    );
    assert!(
        !sim.recv_all(conn)
            .iter()
            .any(|p| matches!(p, Packet::Disconnect(_))),
        "no DISCONNECT after a refused CONNECT"
    );
    // A session taken over: the older connection hears why, without a Session Expiry.
    let (old, _) = sim.connect5("t", true, vec![Property::SessionExpiryInterval(60)]);
    sim.connect5("t", false, vec![Property::SessionExpiryInterval(60)]);
    let disconnect = sim.disconnect_sent(old).expect("a DISCONNECT 0x8E");
    assert_eq!(disconnect.reason, ReasonCode::SESSION_TAKEN_OVER);
    assert_eq!(disconnect.properties.session_expiry_interval(), None);
}
