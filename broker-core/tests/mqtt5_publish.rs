//! MQTT 5.0 PUBLISH (section 3.3) and flow control (section 4.9): topic aliases both
//! ways, Receive Maximum both ways, Message Expiry, the client's Maximum Packet Size,
//! the properties forwarded to subscribers, and messages crossing between 3.1.1 and
//! 5.0 clients.

mod support;

use broker_core::*;
use support::*;

/// A subscriber on `filter` at `qos` speaking 5.0 with these CONNECT properties.
fn subscriber5(sim: &mut Sim, id: &str, filter: &str, qos: QoS, props: Vec<Property>) -> ConnId {
    let (conn, _) = sim.connect5(id, true, props);
    sim.subscribe5(conn, &[(filter, opts(qos))], None);
    conn
}

fn publishes5(sim: &mut Sim, conn: ConnId) -> Vec<Publish> {
    let got = sim.publishes(conn);
    assert!(
        got.iter().all(|p| p.properties.is_some()),
        "5.0 PUBLISH packets"
    );
    got
}

// ----- topic aliases ---------------------------------------------------------------------

#[test]
fn mqtt_3_3_2_12_an_alias_set_by_the_client_names_the_topic_after() {
    let mut sim = Sim::standard();
    let sub = sim.connect("sub", true);
    sim.subscribe(sub, &[("room/1", QoS::AtMostOnce)]);
    let (publisher, _) = sim.connect5("pub", true, vec![]);
    let set = publish5(
        "room/1",
        "first",
        QoS::AtMostOnce,
        0,
        vec![Property::TopicAlias(3)],
    );
    sim.send(publisher, Packet::Publish(set));
    let mut by_alias = publish5(
        "room/1",
        "second",
        QoS::AtMostOnce,
        0,
        vec![Property::TopicAlias(3)],
    );
    by_alias.topic = TopicName::aliased();
    sim.send(publisher, Packet::Publish(by_alias));
    let got = sim.publishes(sub);
    assert_eq!(payloads(&got), ["first", "second"]);
    assert!(got.iter().all(|p| p.topic.as_str() == "room/1"));
}

/// MQTT-3.1.2-24, MQTT-3.14.2-3: the DISCONNECT that explains itself in a Reason String
/// leaves it out for a client whose Maximum Packet Size it would exceed.
#[test]
fn a_reason_string_is_left_out_of_a_packet_it_would_make_too_large() {
    for (max, explained) in [(u32::MAX, true), (12, false)] {
        let mut sim = Sim::standard();
        let (conn, _) = sim.connect5("pub", true, vec![Property::MaximumPacketSize(max)]);
        let p = publish5("t", "x", QoS::AtMostOnce, 0, vec![Property::TopicAlias(0)]);
        sim.send(conn, Packet::Publish(p));
        let disconnect = sim.disconnect_sent(conn).expect("a DISCONNECT");
        assert_eq!(disconnect.reason, ReasonCode::TOPIC_ALIAS_INVALID);
        let len = Packet::Disconnect(disconnect.clone()).encoded_len();
        assert_eq!(
            !disconnect.properties.is_empty(),
            explained,
            "{disconnect:?}"
        );
        assert!(len as u64 <= u64::from(max), "{len} bytes");
    }
}

#[test]
fn an_alias_of_zero_or_above_the_maximum_is_disconnect_0x94() {
    for alias in [0, 11] {
        let mut sim = Sim::standard();
        let (conn, _) = sim.connect5("pub", true, vec![]);
        let p = publish5(
            "t",
            "x",
            QoS::AtMostOnce,
            0,
            vec![Property::TopicAlias(alias)],
        );
        sim.send(conn, Packet::Publish(p));
        assert_eq!(
            sim.disconnect_reason(conn),
            Some(ReasonCode::TOPIC_ALIAS_INVALID),
            "alias {alias}"
        );
    }
    // At the maximum it is accepted.
    let mut sim = Sim::standard();
    let (conn, _) = sim.connect5("pub", true, vec![]);
    let p = publish5("t", "x", QoS::AtMostOnce, 0, vec![Property::TopicAlias(10)]);
    sim.send(conn, Packet::Publish(p));
    assert_eq!(sim.closed(conn), None);
}

#[test]
fn mqtt_3_3_2_7_an_alias_unknown_on_this_connection_is_a_protocol_error() {
    let mut sim = Sim::standard();
    let (conn, _) = sim.connect5("pub", true, vec![Property::SessionExpiryInterval(60)]);
    let set = publish5("t", "x", QoS::AtMostOnce, 0, vec![Property::TopicAlias(1)]);
    sim.send(conn, Packet::Publish(set));
    sim.drop_conn(conn);
    // A new connection of the same session starts with no aliases.
    let (conn, _) = sim.connect5("pub", false, vec![Property::SessionExpiryInterval(60)]);
    let mut use_it = publish5("t", "y", QoS::AtMostOnce, 0, vec![Property::TopicAlias(1)]);
    use_it.topic = TopicName::aliased();
    sim.send(conn, Packet::Publish(use_it));
    assert_eq!(
        sim.disconnect_reason(conn),
        Some(ReasonCode::PROTOCOL_ERROR)
    );
}

#[test]
fn mqtt_3_3_2_11_the_server_sets_aliases_up_to_the_clients_maximum() {
    let mut sim = Sim::standard();
    let sub = subscriber5(
        &mut sim,
        "sub",
        "t/#",
        QoS::AtMostOnce,
        vec![Property::TopicAliasMaximum(1)],
    );
    let publisher = sim.connect("pub", true);
    for (topic, n) in [("t/a", 1), ("t/a", 2), ("t/b", 3)] {
        sim.publish(publisher, topic, &n.to_string(), QoS::AtMostOnce, false, 0);
    }
    let got = publishes5(&mut sim, sub);
    let alias = |p: &Publish| p.properties.as_ref().and_then(|p| p.topic_alias());
    // The first PUBLISH to t/a sets alias 1, the second uses it with an empty topic, and
    // t/b, with no alias left, goes in full.
    assert_eq!((got[0].topic.as_str(), alias(&got[0])), ("t/a", Some(1)));
    assert_eq!((got[1].topic.as_str(), alias(&got[1])), ("", Some(1)));
    assert_eq!((got[2].topic.as_str(), alias(&got[2])), ("t/b", None));
}

#[test]
fn mqtt_3_1_2_27_no_aliases_go_to_a_client_that_allows_none() {
    let mut sim = Sim::standard();
    let sub = subscriber5(&mut sim, "sub", "t", QoS::AtMostOnce, vec![]);
    let publisher = sim.connect("pub", true);
    sim.publish(publisher, "t", "1", QoS::AtMostOnce, false, 0);
    sim.publish(publisher, "t", "2", QoS::AtMostOnce, false, 0);
    let got = publishes5(&mut sim, sub);
    assert!(got.iter().all(|p| p.topic.as_str() == "t"));
    assert!(got.iter().all(|p| p
        .properties
        .as_ref()
        .and_then(|p| p.topic_alias())
        .is_none()));
}

// ----- flow control ----------------------------------------------------------------------

#[test]
fn mqtt_3_3_4_9_no_more_unacknowledged_messages_than_the_clients_receive_maximum() {
    let mut sim = Sim::standard();
    let sub = subscriber5(
        &mut sim,
        "sub",
        "t",
        QoS::AtLeastOnce,
        vec![Property::ReceiveMaximum(2)],
    );
    let publisher = sim.connect("pub", true);
    for n in 1..=5 {
        sim.publish(publisher, "t", &n.to_string(), QoS::AtLeastOnce, false, n);
    }
    let first = sim.publishes(sub);
    assert_eq!(payloads(&first), ["1", "2"]);
    sim.send(sub, Packet::puback(first[0].packet_id.expect("id")));
    assert_eq!(
        payloads(&sim.publishes(sub)),
        ["3"],
        "one acknowledged, one more sent"
    );
}

#[test]
fn one_message_past_the_servers_receive_maximum_is_disconnect_0x93() {
    let mut config = Config::default();
    config.receive_maximum = 2;
    let mut sim = Sim::new(config);
    let (conn, _) = sim.connect5("pub", true, vec![]);
    // QoS 2 messages stay unacknowledged until PUBREL: two fill the Receive Maximum.
    for id in 1..=2 {
        sim.send(
            conn,
            Packet::Publish(publish5("t", "x", QoS::ExactlyOnce, id, vec![])),
        );
    }
    assert_eq!(sim.closed(conn), None, "at the limit");
    sim.send(
        conn,
        Packet::Publish(publish5("t", "x", QoS::ExactlyOnce, 3, vec![])),
    );
    assert_eq!(
        sim.disconnect_reason(conn),
        Some(ReasonCode::RECEIVE_MAXIMUM_EXCEEDED)
    );
}

// ----- message expiry --------------------------------------------------------------------

#[test]
fn mqtt_3_3_2_6_the_expiry_forwarded_is_what_is_left_of_it() {
    let mut sim = Sim::standard();
    let expiry = vec![Property::SessionExpiryInterval(600)];
    let (sub, _) = sim.connect5("sub", true, expiry.clone());
    sim.subscribe5(sub, &[("t", opts(QoS::AtLeastOnce))], None);
    sim.drop_conn(sub);
    let (publisher, _) = sim.connect5("pub", true, vec![]);
    let p = publish5(
        "t",
        "x",
        QoS::AtLeastOnce,
        1,
        vec![Property::MessageExpiryInterval(30)],
    );
    sim.send(publisher, Packet::Publish(p));
    sim.advance(10_000);
    let (sub, _) = sim.connect5("sub", false, expiry);
    let got = publishes5(&mut sim, sub);
    let left = got[0]
        .properties
        .as_ref()
        .and_then(|p| p.message_expiry_interval());
    assert_eq!(left, Some(20));
}

#[test]
fn mqtt_3_3_2_5_an_expired_message_is_not_delivered() {
    let mut sim = Sim::standard();
    let expiry = vec![Property::SessionExpiryInterval(600)];
    let (sub, _) = sim.connect5("sub", true, expiry.clone());
    sim.subscribe5(sub, &[("t", opts(QoS::AtLeastOnce))], None);
    sim.drop_conn(sub);
    let (publisher, _) = sim.connect5("pub", true, vec![]);
    let short = publish5(
        "t",
        "short",
        QoS::AtLeastOnce,
        1,
        vec![Property::MessageExpiryInterval(5)],
    );
    let long = publish5(
        "t",
        "long",
        QoS::AtLeastOnce,
        2,
        vec![Property::MessageExpiryInterval(50)],
    );
    sim.send(publisher, Packet::Publish(short));
    sim.send(publisher, Packet::Publish(long));
    sim.advance(6_000);
    let (sub, _) = sim.connect5("sub", false, expiry);
    assert_eq!(payloads(&sim.publishes(sub)), ["long"]);
    assert_eq!(sim.broker.stats().dropped_expired, 1);
}

#[test]
fn an_expired_retained_message_is_not_sent_to_new_subscribers() {
    let mut sim = Sim::standard();
    let (publisher, _) = sim.connect5("pub", true, vec![]);
    let mut p = publish5(
        "t",
        "x",
        QoS::AtMostOnce,
        0,
        vec![Property::MessageExpiryInterval(5)],
    );
    p.retain = true;
    sim.send(publisher, Packet::Publish(p));
    let early = subscriber5(&mut sim, "early", "t", QoS::AtMostOnce, vec![]);
    assert_eq!(payloads(&sim.publishes(early)), ["x"]);
    sim.advance(6_000);
    let late = subscriber5(&mut sim, "late", "t", QoS::AtMostOnce, vec![]);
    assert!(sim.publishes(late).is_empty());
}

// ----- the client's Maximum Packet Size --------------------------------------------------

#[test]
fn mqtt_3_1_2_25_a_message_too_large_for_the_client_is_skipped_as_if_sent() {
    let mut sim = Sim::standard();
    let sub = subscriber5(
        &mut sim,
        "sub",
        "t",
        QoS::AtLeastOnce,
        vec![Property::MaximumPacketSize(64), Property::ReceiveMaximum(1)],
    );
    let publisher = sim.connect("pub", true);
    sim.publish(publisher, "t", &"x".repeat(100), QoS::AtLeastOnce, false, 1);
    sim.publish(publisher, "t", "small", QoS::AtLeastOnce, false, 2);
    // MQTT-3.1.2-24: the large one never goes; the small one is not held behind it.
    assert_eq!(payloads(&sim.publishes(sub)), ["small"]);
    assert!(sim.wire(sub).len() < 200);
    assert_eq!(sim.broker.stats().dropped_too_large, 1);
}

// ----- properties forwarded --------------------------------------------------------------

#[test]
fn mqtt_3_3_2_17_to_20_application_properties_reach_subscribers_unchanged() {
    let mut sim = Sim::standard();
    let sub = subscriber5(&mut sim, "sub", "req", QoS::AtMostOnce, vec![]);
    let (publisher, _) = sim.connect5("pub", true, vec![]);
    let props = vec![
        Property::PayloadFormatIndicator(1),
        Property::ContentType("application/json".into()),
        Property::ResponseTopic("reply/pub".into()),
        Property::CorrelationData(bytes::Bytes::from_static(b"42")),
        Property::UserProperty("b".into(), "2".into()),
        Property::UserProperty("a".into(), "1".into()),
        Property::UserProperty("b".into(), "3".into()),
    ];
    sim.send(
        publisher,
        Packet::Publish(publish5("req", "{}", QoS::AtMostOnce, 0, props.clone())),
    );
    let got = publishes5(&mut sim, sub);
    assert_eq!(
        got[0].properties,
        Some(Properties(props)),
        "in order (MQTT-3.3.2-18)"
    );
}

#[test]
fn a_response_topic_with_a_wildcard_is_a_protocol_error() {
    let mut sim = Sim::standard();
    let (conn, _) = sim.connect5("pub", true, vec![]);
    let p = publish5(
        "t",
        "x",
        QoS::AtMostOnce,
        0,
        vec![Property::ResponseTopic("a/#".into())],
    );
    sim.send(conn, Packet::Publish(p));
    assert_eq!(
        sim.disconnect_reason(conn),
        Some(ReasonCode::PROTOCOL_ERROR)
    );
}

#[test]
fn mqtt_3_3_4_6_a_subscription_identifier_from_a_client_is_a_protocol_error() {
    let mut sim = Sim::standard();
    let (conn, _) = sim.connect5("pub", true, vec![]);
    let p = publish5(
        "t",
        "x",
        QoS::AtMostOnce,
        0,
        vec![Property::SubscriptionIdentifier(1)],
    );
    sim.send(conn, Packet::Publish(p));
    assert_eq!(
        sim.disconnect_reason(conn),
        Some(ReasonCode::PROTOCOL_ERROR)
    );
}

#[test]
fn a_payload_that_is_not_the_utf8_it_claims_is_refused_with_0x99() {
    let mut sim = Sim::standard();
    let sub = sim.connect("sub", true);
    sim.subscribe(sub, &[("t", QoS::AtLeastOnce)]);
    let (conn, _) = sim.connect5("pub", true, vec![]);
    let mut p = publish5(
        "t",
        "",
        QoS::AtLeastOnce,
        7,
        vec![Property::PayloadFormatIndicator(1)],
    );
    p.payload = bytes::Bytes::from_static(&[0xFF, 0xFE]);
    sim.send(conn, Packet::Publish(p));
    let ack = sim.recv_all(conn);
    assert!(matches!(
        ack.as_slice(),
        [Packet::PubAck(Ack {
            reason: ReasonCode::PAYLOAD_FORMAT_INVALID,
            ..
        })]
    ));
    assert!(sim.publishes(sub).is_empty(), "not forwarded");
    assert_eq!(sim.closed(conn), None);
}

#[test]
fn a_failed_acknowledgement_says_why_unless_the_client_asked_not_to_be_told() {
    let bad = |sim: &mut Sim, conn| {
        let mut p = publish5(
            "t",
            "",
            QoS::AtLeastOnce,
            7,
            vec![Property::PayloadFormatIndicator(1)],
        );
        p.payload = bytes::Bytes::from_static(&[0xFF]);
        sim.send(conn, Packet::Publish(p));
        match sim.recv_all(conn).pop() {
            Some(Packet::PubAck(a)) => a.properties.reason_string(),
            other => panic!("expected PUBACK, got {other:?}"),
        }
    };
    let mut sim = Sim::standard();
    let (told, _) = sim.connect5("told", true, vec![]);
    assert_eq!(
        bad(&mut sim, told).as_deref(),
        Some("Payload format invalid")
    );
    // MQTT-3.1.2-29: Request Problem Information 0 keeps acknowledgements bare.
    let (untold, _) = sim.connect5("untold", true, vec![Property::RequestProblemInformation(0)]);
    assert_eq!(bad(&mut sim, untold), None);
}

// ----- 3.1.1 and 5.0 together ------------------------------------------------------------

#[test]
fn messages_cross_between_the_versions() {
    let mut sim = Sim::standard();
    let old = sim.connect("old", true);
    sim.subscribe(old, &[("t", QoS::AtLeastOnce)]);
    let new = subscriber5(&mut sim, "new", "t", QoS::AtLeastOnce, vec![]);
    let (p5, _) = sim.connect5("p5", true, vec![]);
    let props = vec![Property::UserProperty("k".into(), "v".into())];
    sim.send(
        p5,
        Packet::Publish(publish5("t", "from 5", QoS::AtLeastOnce, 1, props)),
    );
    let p3 = sim.connect("p3", true);
    sim.publish(p3, "t", "from 3.1.1", QoS::AtLeastOnce, false, 1);
    // The 3.1.1 subscriber gets 3.1.1 packets: no properties on the wire.
    let got_old = sim.publishes(old);
    assert_eq!(payloads(&got_old), ["from 5", "from 3.1.1"]);
    assert!(got_old.iter().all(|p| p.properties.is_none()));
    // The 5.0 subscriber gets 5.0 packets: the user property where there was one.
    let got_new = publishes5(&mut sim, new);
    assert_eq!(payloads(&got_new), ["from 5", "from 3.1.1"]);
    let user = |p: &Publish| p.properties.as_ref().map(|p| p.user_properties().count());
    assert_eq!((user(&got_new[0]), user(&got_new[1])), (Some(1), Some(0)));
}

/// MQTT-3.3.4-9 with MQTT-4.4.0-1: a client that comes back with a smaller Receive Maximum
/// than the messages it left unacknowledged gets only that many again at once, with their
/// original packet ids, and each of the others as an acknowledgement makes room.
#[test]
fn mqtt_3_3_4_9_a_reconnection_resends_no_more_than_the_new_receive_maximum() {
    let mut sim = Sim::standard();
    let props = |max: u16| {
        vec![
            Property::SessionExpiryInterval(60),
            Property::ReceiveMaximum(max),
        ]
    };
    let (s, _) = sim.connect5("s", false, props(5));
    sim.subscribe5(s, &[("t", opts(QoS::AtLeastOnce))], None);
    let p = sim.connect("p", true);
    for i in 1..=5 {
        sim.publish(p, "t", &format!("m{i}"), QoS::AtLeastOnce, false, i);
    }
    let first: Vec<PacketId> = sim
        .publishes(s)
        .iter()
        .filter_map(|m| m.packet_id)
        .collect();
    assert_eq!(first.len(), 5);
    sim.drop_conn(s);
    let (s, ack) = sim.connect5("s", false, props(2));
    assert!(ack.session_present);
    let again = sim.publishes(s);
    let ids: Vec<PacketId> = again.iter().filter_map(|m| m.packet_id).collect();
    assert_eq!(ids, first[..2], "only the new Receive Maximum at once");
    assert!(again.iter().all(|m| m.dup));
    let mut seen = ids;
    while seen.len() < 5 {
        let oldest = seen[seen.len() - 2];
        sim.send(s, Packet::puback(oldest));
        let next = sim.publishes(s);
        assert_eq!(next.len(), 1, "one freed place, one message");
        assert!(next[0].dup);
        seen.push(next[0].packet_id.expect("id"));
    }
    assert_eq!(seen, first, "original ids, in order");
}

/// MQTT-3.7.2-1: a PUBREL for a packet id the server holds no QoS 2 state for is answered
/// with PUBCOMP 0x92 (Packet Identifier not found) on an MQTT 5.0 connection.
#[test]
fn mqtt_3_7_2_1_pubrel_of_an_unknown_id_gets_pubcomp_0x92() {
    let mut sim = Sim::standard();
    let (conn, _) = sim.connect5("a", true, vec![]);
    sim.send(conn, Packet::pubrel(pid(77)));
    let acks: Vec<Packet> = sim.recv_all(conn);
    let codes: Vec<ReasonCode> = acks
        .iter()
        .filter_map(|p| match p {
            Packet::PubComp(a) if a.packet_id == pid(77) => Some(a.reason),
            _ => None,
        })
        .collect();
    assert_eq!(codes, [ReasonCode::PACKET_IDENTIFIER_NOT_FOUND], "{acks:?}");
}
