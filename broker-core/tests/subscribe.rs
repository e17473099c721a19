//! SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK (sections 3.8 to 3.11).

mod support;

use broker_core::*;
use support::*;

#[test]
fn mqtt_3_8_4_1_suback_echoes_the_packet_id_with_one_code_per_filter() {
    let mut sim = Sim::standard();
    let s = sim.connect("s", true);
    let filters = vec![
        (filter("a"), QoS::AtMostOnce.into()),
        (filter("b/+"), QoS::AtLeastOnce.into()),
        (filter("#"), QoS::ExactlyOnce.into()),
    ];
    sim.send(
        s,
        Packet::Subscribe(Subscribe {
            properties: None,
            packet_id: pid(77),
            filters,
        }),
    );
    assert_eq!(
        sim.recv_all(s),
        [Packet::SubAck(SubAck {
            properties: None,
            packet_id: pid(77),
            codes: vec![
                SubscribeReturnCode::Granted(QoS::AtMostOnce),
                SubscribeReturnCode::Granted(QoS::AtLeastOnce),
                SubscribeReturnCode::Granted(QoS::ExactlyOnce),
            ],
        })]
    );
    // SUBACK with 3 codes: 90 05 00 4D 00 01 02.
    assert_eq!(
        &sim.wire(s)[4..],
        [0x90, 0x05, 0x00, 0x4D, 0x00, 0x01, 0x02]
    );
}

#[test]
fn mqtt_3_8_4_6_granted_qos_is_capped_by_the_server_maximum() {
    let mut sim = Sim::new(Config {
        max_qos: QoS::AtLeastOnce,
        ..Config::default()
    });
    let s = sim.connect("s", true);
    assert_eq!(
        sim.subscribe(s, &[("a", QoS::ExactlyOnce)]),
        [SubscribeReturnCode::Granted(QoS::AtLeastOnce)]
    );
    let p = sim.connect("p", true);
    sim.publish(p, "a", "x", QoS::ExactlyOnce, false, 1);
    assert_eq!(sim.publishes(s)[0].qos, QoS::AtLeastOnce);
}

#[test]
fn mqtt_3_8_4_3_same_filter_replaces_the_subscription_and_its_qos() {
    let mut sim = Sim::standard();
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("a", QoS::AtMostOnce)]);
    sim.subscribe(s, &[("a", QoS::AtLeastOnce)]);
    assert_eq!(sim.broker.subscription_count(), 1);
    let p = sim.connect("p", true);
    sim.publish(p, "a", "x", QoS::AtLeastOnce, false, 1);
    let got = sim.publishes(s);
    assert_eq!(got.len(), 1, "one subscription, one copy");
    assert_eq!(got[0].qos, QoS::AtLeastOnce);
}

#[test]
fn overlapping_subscriptions_deliver_one_copy_at_the_highest_qos() {
    let mut sim = Sim::standard();
    let s = sim.connect("s", true);
    sim.subscribe(
        s,
        &[
            ("a/+", QoS::AtMostOnce),
            ("a/#", QoS::AtLeastOnce),
            ("a/b", QoS::AtMostOnce),
        ],
    );
    let p = sim.connect("p", true);
    sim.publish(p, "a/b", "x", QoS::ExactlyOnce, false, 1);
    let got = sim.publishes(s);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].qos, QoS::AtLeastOnce);
}

#[test]
fn subscriptions_beyond_the_limit_get_0x80_for_that_filter_only() {
    let mut sim = Sim::new(Config {
        max_subscriptions: Some(2),
        ..Config::default()
    });
    let s = sim.connect("s", true);
    let codes = sim.subscribe(
        s,
        &[
            ("a", QoS::AtMostOnce),
            ("b", QoS::AtMostOnce),
            ("c", QoS::AtMostOnce),
        ],
    );
    assert_eq!(
        codes,
        [
            SubscribeReturnCode::Granted(QoS::AtMostOnce),
            SubscribeReturnCode::Granted(QoS::AtMostOnce),
            SubscribeReturnCode::Failure
        ]
    );
    // Replacing an existing filter at the limit is still allowed.
    assert_eq!(
        sim.subscribe(s, &[("a", QoS::AtLeastOnce)]),
        [SubscribeReturnCode::Granted(QoS::AtLeastOnce)]
    );
    let p = sim.connect("p", true);
    sim.publish(p, "c", "x", QoS::AtMostOnce, false, 0);
    assert!(
        sim.publishes(s).is_empty(),
        "a refused filter is not subscribed"
    );
}

#[test]
fn mqtt_3_10_4_4_unsuback_echoes_the_packet_id() {
    let mut sim = Sim::standard();
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("a", QoS::AtMostOnce)]);
    sim.send(
        s,
        Packet::Unsubscribe(Unsubscribe {
            properties: None,
            packet_id: pid(12),
            filters: vec![filter("a")],
        }),
    );
    assert_eq!(sim.recv_all(s), [Packet::UnsubAck(UnsubAck::v311(pid(12)))]);
    assert_eq!(sim.broker.subscription_count(), 0);
}

#[test]
fn mqtt_3_10_4_5_unsuback_even_when_nothing_matched() {
    let mut sim = Sim::standard();
    let s = sim.connect("s", true);
    sim.send(
        s,
        Packet::Unsubscribe(Unsubscribe {
            properties: None,
            packet_id: pid(3),
            filters: vec![filter("never")],
        }),
    );
    assert_eq!(sim.recv_all(s), [Packet::UnsubAck(UnsubAck::v311(pid(3)))]);
}

#[test]
fn mqtt_3_10_4_2_unsubscribed_filter_stops_delivery() {
    let mut sim = Sim::standard();
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("a", QoS::AtMostOnce), ("b", QoS::AtMostOnce)]);
    sim.send(
        s,
        Packet::Unsubscribe(Unsubscribe {
            properties: None,
            packet_id: pid(3),
            filters: vec![filter("a")],
        }),
    );
    sim.recv_all(s);
    let p = sim.connect("p", true);
    sim.publish(p, "a", "gone", QoS::AtMostOnce, false, 0);
    sim.publish(p, "b", "kept", QoS::AtMostOnce, false, 0);
    assert_eq!(payloads(&sim.publishes(s)), ["kept"]);
}

#[test]
fn mqtt_3_10_4_1_unsubscribe_compares_filters_character_by_character() {
    let mut sim = Sim::standard();
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("a/+", QoS::AtMostOnce)]);
    // "a/b" matches what "a/+" matches, but it is not the same filter.
    sim.send(
        s,
        Packet::Unsubscribe(Unsubscribe {
            properties: None,
            packet_id: pid(3),
            filters: vec![filter("a/b")],
        }),
    );
    assert_eq!(sim.broker.subscription_count(), 1);
}

#[test]
fn mqtt_3_10_4_3_messages_in_flight_complete_after_unsubscribe() {
    let mut sim = Sim::standard();
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("a", QoS::AtLeastOnce)]);
    let p = sim.connect("p", true);
    sim.publish(p, "a", "x", QoS::AtLeastOnce, false, 1);
    let id = sim.publishes(s)[0].packet_id.expect("id");
    sim.send(
        s,
        Packet::Unsubscribe(Unsubscribe {
            properties: None,
            packet_id: pid(3),
            filters: vec![filter("a")],
        }),
    );
    sim.recv_all(s);
    sim.send(s, Packet::puback(id));
    assert_eq!(sim.broker.session("s").map(|v| v.inflight.len()), Some(0));
    assert!(sim
        .events
        .iter()
        .all(|e| !matches!(e, Event::UnexpectedAck { .. })));
}

#[test]
fn mqtt_3_8_1_1_subscribe_with_wrong_flags_closes() {
    let mut sim = Sim::standard();
    let s = sim.connect("s", true);
    // SUBSCRIBE with flags 0000 instead of 0010.
    sim.send_raw(s, &[0x80, 6, 0, 1, 0, 1, b'a', 0]);
    assert!(matches!(
        sim.closed(s),
        Some(CloseReason::ProtocolViolation(Violation::Malformed(
            DecodeError::InvalidFlags { .. }
        )))
    ));
}

#[test]
fn mqtt_3_8_3_3_subscribe_without_filters_closes() {
    let mut sim = Sim::standard();
    let s = sim.connect("s", true);
    sim.send_raw(s, &[0x82, 2, 0, 1]);
    assert_eq!(
        sim.closed(s),
        Some(&CloseReason::ProtocolViolation(Violation::Malformed(
            DecodeError::NoTopicFilters(PacketType::Subscribe)
        )))
    );
}

#[test]
fn invalid_filter_in_subscribe_closes_the_connection() {
    let mut sim = Sim::standard();
    let s = sim.connect("s", true);
    // SUBSCRIBE "a/#/b" QoS 0.
    sim.send_raw(s, &[0x82, 10, 0, 1, 0, 5, b'a', b'/', b'#', b'/', b'b', 0]);
    assert!(matches!(
        sim.closed(s),
        Some(CloseReason::ProtocolViolation(Violation::Malformed(
            DecodeError::InvalidTopicFilter(_)
        )))
    ));
}

#[test]
fn server_only_packets_from_a_client_close_the_connection() {
    for bytes in [
        [0x20u8, 2, 0, 0].as_slice(),
        &[0x90, 3, 0, 1, 0],
        &[0xB0, 2, 0, 1],
        &[0xD0, 0],
    ] {
        let mut sim = Sim::standard();
        let s = sim.connect("s", true);
        sim.send_raw(s, bytes);
        assert!(
            matches!(
                sim.closed(s),
                Some(CloseReason::ProtocolViolation(
                    Violation::ServerPacketFromClient(_)
                ))
            ),
            "{bytes:02x?}"
        );
    }
}

#[test]
fn mqtt_3_10_4_6_one_unsubscribe_with_several_filters_gets_one_unsuback() {
    let mut sim = Sim::standard();
    let s = sim.connect("s", true);
    sim.subscribe(
        s,
        &[
            ("a", QoS::AtMostOnce),
            ("b", QoS::AtMostOnce),
            ("c", QoS::AtMostOnce),
        ],
    );
    let filters = vec![filter("a"), filter("b"), filter("never")];
    sim.send(
        s,
        Packet::Unsubscribe(Unsubscribe {
            properties: None,
            packet_id: pid(21),
            filters,
        }),
    );
    assert_eq!(sim.recv_all(s), [Packet::UnsubAck(UnsubAck::v311(pid(21)))]);
    let p = sim.connect("p", true);
    for t in ["a", "b", "c"] {
        sim.publish(p, t, t, QoS::AtMostOnce, false, 0);
    }
    assert_eq!(payloads(&sim.publishes(s)), ["c"]);
}

#[test]
fn mqtt_3_8_4_3_resubscribing_does_not_interrupt_the_flow_of_messages() {
    let mut sim = Sim::new(Config {
        max_inflight: 1,
        ..Config::default()
    });
    let s = sim.connect("s", false);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    let p = sim.connect("p", true);
    sim.publish(p, "t", "1", QoS::AtLeastOnce, false, 1);
    sim.publish(p, "t", "2", QoS::AtLeastOnce, false, 2);
    let first = sim.publishes(s);
    assert_eq!(payloads(&first), ["1"]);
    // Re-subscribing keeps the queued message and the one in flight.
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    sim.send(s, Packet::puback(first[0].packet_id.expect("id")));
    assert_eq!(payloads(&sim.publishes(s)), ["2"]);
}
