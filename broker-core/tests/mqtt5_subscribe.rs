//! MQTT 5.0 SUBSCRIBE and UNSUBSCRIBE (sections 3.8 to 3.11): subscription options,
//! Subscription Identifiers, shared subscriptions (section 4.8.2) and the Reason Codes
//! of SUBACK and UNSUBACK.

mod support;

use broker_core::*;
use support::*;

fn ids(p: &Publish) -> Vec<u32> {
    p.properties
        .as_ref()
        .map(|p| p.subscription_identifiers().collect())
        .unwrap_or_default()
}

#[test]
fn mqtt_3_3_4_3_a_message_carries_the_identifiers_of_the_subscriptions_it_matched() {
    let mut sim = Sim::standard();
    let (sub, _) = sim.connect5("sub", true, vec![]);
    sim.subscribe5(sub, &[("a/+", opts(QoS::AtMostOnce))], Some(1));
    sim.subscribe5(sub, &[("a/#", opts(QoS::AtMostOnce))], Some(2));
    sim.subscribe5(sub, &[("a/c", opts(QoS::AtMostOnce))], None);
    let publisher = sim.connect("pub", true);
    sim.publish(publisher, "a/b", "x", QoS::AtMostOnce, false, 0);
    sim.publish(publisher, "a/b/c", "y", QoS::AtMostOnce, false, 0);
    let got = sim.publishes(sub);
    // MQTT-3.3.4-4: one copy per client with every matching subscription's identifier.
    assert_eq!(got.len(), 2);
    let mut first = ids(&got[0]);
    first.sort_unstable();
    assert_eq!(first, [1, 2]);
    assert_eq!(ids(&got[1]), [2]);
}

#[test]
fn mqtt_3_8_3_3_no_local_keeps_a_clients_own_messages_from_it() {
    let mut sim = Sim::standard();
    let (me, _) = sim.connect5("me", true, vec![]);
    let no_local = SubscriptionOptions {
        no_local: true,
        ..opts(QoS::AtMostOnce)
    };
    sim.subscribe5(me, &[("chat", no_local)], None);
    sim.send(
        me,
        Packet::Publish(publish5("chat", "mine", QoS::AtMostOnce, 0, vec![])),
    );
    let other = sim.connect("other", true);
    sim.publish(other, "chat", "theirs", QoS::AtMostOnce, false, 0);
    assert_eq!(payloads(&sim.publishes(me)), ["theirs"]);
}

#[test]
fn mqtt_3_3_1_12_and_13_retain_as_published_keeps_the_flag_and_its_absence_clears_it() {
    let mut sim = Sim::standard();
    let (sub, _) = sim.connect5("sub", true, vec![]);
    let rap = SubscriptionOptions {
        retain_as_published: true,
        ..opts(QoS::AtMostOnce)
    };
    sim.subscribe5(
        sub,
        &[("kept", rap), ("cleared", opts(QoS::AtMostOnce))],
        None,
    );
    let publisher = sim.connect("pub", true);
    sim.publish(publisher, "kept", "a", QoS::AtMostOnce, true, 0);
    sim.publish(publisher, "cleared", "b", QoS::AtMostOnce, true, 0);
    let got = sim.publishes(sub);
    let flags: Vec<(&str, bool)> = got.iter().map(|p| (p.topic.as_str(), p.retain)).collect();
    assert_eq!(flags, [("kept", true), ("cleared", false)]);
}

#[test]
fn mqtt_3_3_1_9_to_11_retain_handling_decides_when_retained_messages_are_sent() {
    let with = |handling| SubscriptionOptions {
        retain_handling: handling,
        ..opts(QoS::AtMostOnce)
    };
    let mut sim = Sim::standard();
    let publisher = sim.connect("pub", true);
    sim.publish(publisher, "state", "on", QoS::AtMostOnce, true, 0);
    let (sub, _) = sim.connect5("sub", true, vec![]);
    // 0: on every subscribe, a repeated one included.
    sim.subscribe5(sub, &[("state", with(RetainHandling::OnSubscribe))], None);
    sim.subscribe5(sub, &[("state", with(RetainHandling::OnSubscribe))], None);
    assert_eq!(sim.publishes(sub).len(), 2);
    // 1: only when the subscription is new.
    let (sub, _) = sim.connect5("sub1", true, vec![]);
    sim.subscribe5(
        sub,
        &[("state", with(RetainHandling::OnNewSubscription))],
        None,
    );
    sim.subscribe5(
        sub,
        &[("state", with(RetainHandling::OnNewSubscription))],
        None,
    );
    assert_eq!(sim.publishes(sub).len(), 1);
    // 2: never.
    let (sub, _) = sim.connect5("sub2", true, vec![]);
    sim.subscribe5(sub, &[("state", with(RetainHandling::Never))], None);
    assert!(sim.publishes(sub).is_empty());
}

#[test]
fn a_shared_subscription_gives_each_message_to_one_member_of_the_group() {
    let mut sim = Sim::standard();
    let (a, _) = sim.connect5("a", true, vec![]);
    let (b, _) = sim.connect5("b", true, vec![]);
    for conn in [a, b] {
        let ack = sim.subscribe5(
            conn,
            &[("$share/workers/jobs/#", opts(QoS::AtLeastOnce))],
            None,
        );
        assert_eq!(ack.codes, [SubscribeReturnCode::Granted(QoS::AtLeastOnce)]);
    }
    let plain = sim.connect("plain", true);
    sim.subscribe(plain, &[("jobs/#", QoS::AtMostOnce)]);
    let publisher = sim.connect("pub", true);
    for n in 0..20u16 {
        sim.publish(
            publisher,
            "jobs/x",
            &n.to_string(),
            QoS::AtLeastOnce,
            false,
            n + 1,
        );
    }
    let (got_a, got_b) = (sim.publishes(a), sim.publishes(b));
    assert_eq!(
        got_a.len() + got_b.len(),
        20,
        "each message once in the group"
    );
    assert!(
        !got_a.is_empty() && !got_b.is_empty(),
        "spread over the group (seeded)"
    );
    // A plain subscription to the same topics gets every message besides.
    assert_eq!(sim.publishes(plain).len(), 20);
}

#[test]
fn a_shared_subscription_gets_no_retained_messages() {
    let mut sim = Sim::standard();
    let publisher = sim.connect("pub", true);
    sim.publish(publisher, "jobs/x", "old", QoS::AtMostOnce, true, 0);
    let (a, _) = sim.connect5("a", true, vec![]);
    sim.subscribe5(a, &[("$share/g/jobs/#", opts(QoS::AtMostOnce))], None);
    assert!(sim.publishes(a).is_empty());
}

#[test]
fn mqtt_4_8_2_1_and_2_a_malformed_shared_filter_is_refused_in_suback() {
    let mut sim = Sim::standard();
    let (a, _) = sim.connect5("a", true, vec![]);
    let ack = sim.subscribe5(
        a,
        &[
            ("$share//t", opts(QoS::AtMostOnce)),
            ("$share/+/t", opts(QoS::AtMostOnce)),
            ("$share/g", opts(QoS::AtMostOnce)),
        ],
        None,
    );
    let refused = SubscribeReturnCode::Refused(ReasonCode::TOPIC_FILTER_INVALID);
    assert_eq!(ack.codes, [refused; 3]);
}

#[test]
fn mqtt_3_8_3_4_no_local_on_a_shared_subscription_is_a_protocol_error() {
    let mut sim = Sim::standard();
    let (a, _) = sim.connect5("a", true, vec![]);
    let bad = SubscriptionOptions {
        no_local: true,
        ..opts(QoS::AtMostOnce)
    };
    let filter = TopicFilter::new("$share/g/t").expect("filter");
    sim.send(
        a,
        Packet::Subscribe(Subscribe {
            packet_id: pid(1),
            filters: vec![(filter, bad)],
            properties: Some(Properties::new()),
        }),
    );
    assert_eq!(sim.disconnect_reason(a), Some(ReasonCode::PROTOCOL_ERROR));
}

#[test]
fn switched_off_features_are_refused_with_their_reason_codes() {
    let mut config = Config::default();
    config.shared_subscriptions = false;
    config.subscription_identifiers = false;
    let mut sim = Sim::new(config);
    let (a, ack) = sim.connect5("a", true, vec![]);
    let p = ack.properties.expect("properties");
    assert_eq!(p.shared_subscription_available(), Some(0));
    assert_eq!(p.subscription_identifier_available(), Some(0));
    let ack = sim.subscribe5(a, &[("$share/g/t", opts(QoS::AtMostOnce))], None);
    assert_eq!(
        ack.codes,
        [SubscribeReturnCode::Refused(
            ReasonCode::SHARED_SUBSCRIPTIONS_NOT_SUPPORTED
        )]
    );
    let filter = TopicFilter::new("t").expect("filter");
    sim.send(
        a,
        Packet::Subscribe(Subscribe {
            packet_id: pid(2),
            filters: vec![(filter, opts(QoS::AtMostOnce))],
            properties: Some(Properties(vec![Property::SubscriptionIdentifier(5)])),
        }),
    );
    assert_eq!(
        sim.disconnect_reason(a),
        Some(ReasonCode::SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED)
    );
}

#[test]
fn a_filter_the_configuration_refuses_gets_unspecified_error() {
    let mut config = Config::default();
    config.refused_filters = vec!["test/nosubscribe".into()];
    let mut sim = Sim::new(config);
    let (a, _) = sim.connect5("a", true, vec![]);
    let ack = sim.subscribe5(a, &[("test/nosubscribe", opts(QoS::AtMostOnce))], None);
    assert_eq!(ack.codes, [SubscribeReturnCode::Failure]);
    // A 3.1.1 client gets its 0x80 too.
    let b = sim.connect("b", true);
    assert_eq!(
        sim.subscribe(b, &[("test/nosubscribe", QoS::AtMostOnce)]),
        [SubscribeReturnCode::Failure]
    );
}

#[test]
fn unsuback_has_one_reason_code_per_filter() {
    let mut sim = Sim::standard();
    let (a, _) = sim.connect5("a", true, vec![]);
    sim.subscribe5(a, &[("x", opts(QoS::AtMostOnce))], None);
    sim.send(
        a,
        Packet::Unsubscribe(Unsubscribe {
            packet_id: pid(9),
            filters: vec![filter("x"), filter("y")],
            properties: Some(Properties::new()),
        }),
    );
    match sim.recv_all(a).pop() {
        Some(Packet::UnsubAck(u)) => assert_eq!(
            u.codes,
            [ReasonCode::SUCCESS, ReasonCode::NO_SUBSCRIPTION_EXISTED]
        ),
        other => panic!("expected UNSUBACK, got {other:?}"),
    }
}

/// MQTT-3.8.3-5: the reserved bits 6 and 7 of a subscription's options byte must be 0,
/// and Retain Handling 3 does not exist: either makes the SUBSCRIBE malformed, DISCONNECT
/// 0x81 on an MQTT 5.0 connection.
#[test]
fn mqtt_3_8_3_5_reserved_option_bits_or_retain_handling_3_are_malformed() {
    for options in [0xC1u8, 0x31] {
        let mut sim = Sim::standard();
        let (conn, _) = sim.connect5("a", true, vec![]);
        // SUBSCRIBE id 1, no properties, filter "t", then the options byte.
        sim.send_raw(
            conn,
            &[0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b't', options],
        );
        assert_eq!(
            sim.disconnect_reason(conn),
            Some(ReasonCode::MALFORMED_PACKET),
            "options {options:#04x}"
        );
        assert!(sim.closed(conn).is_some());
    }
}

/// MQTT-3.3.4-5: a client with a shared and an ordinary subscription that both match gets
/// a copy for each, each carrying its own Subscription Identifier.
#[test]
fn mqtt_3_3_4_5_a_shared_and_an_ordinary_subscription_each_get_a_copy() {
    let mut sim = Sim::standard();
    let (conn, _) = sim.connect5("a", true, vec![]);
    sim.subscribe5(conn, &[("$share/g/t", opts(QoS::AtMostOnce))], Some(1));
    sim.subscribe5(conn, &[("t", opts(QoS::AtMostOnce))], Some(2));
    let p = sim.connect("p", true);
    sim.publish(p, "t", "x", QoS::AtMostOnce, false, 0);
    let mut ids: Vec<Vec<u32>> = sim
        .publishes(conn)
        .iter()
        .map(|m| {
            m.properties
                .as_ref()
                .map(|p| p.subscription_identifiers().collect())
                .unwrap_or_default()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, [vec![1], vec![2]]);
}
