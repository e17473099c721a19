//! QoS 0: at most once, no acknowledgement (section 4.3.1).

mod support;

use broker_core::*;
use support::*;

#[test]
fn qos0_publish_reaches_subscriber_with_no_ack_to_the_publisher() {
    let mut sim = Sim::standard();
    let sub = sim.connect("s", true);
    sim.subscribe(sub, &[("a/b", QoS::AtMostOnce)]);
    let publisher = sim.connect("p", true);
    sim.publish(publisher, "a/b", "hi", QoS::AtMostOnce, false, 0);
    assert!(sim.recv_all(publisher).is_empty());
    // PUBLISH QoS 0, topic "a/b", payload "hi".
    // CONNACK (4 bytes) and SUBACK (5 bytes) come first.
    assert_eq!(
        &sim.wire(sub)[9..],
        [0x30, 7, 0, 3, b'a', b'/', b'b', b'h', b'i']
    );
}

#[test]
fn mqtt_3_8_4_6_granted_qos_is_the_minimum_of_publish_and_subscription() {
    let mut sim = Sim::standard();
    let sub = sim.connect("s", true);
    sim.subscribe(sub, &[("t", QoS::AtMostOnce)]);
    let publisher = sim.connect("p", true);
    sim.publish(publisher, "t", "x", QoS::ExactlyOnce, false, 1);
    let got = sim.publishes(sub);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].qos, QoS::AtMostOnce);
    assert_eq!(got[0].packet_id, None);
}

#[test]
fn qos0_fan_out_shares_one_encoding_across_subscribers() {
    let mut sim = Sim::standard();
    let subs: Vec<ConnId> = (0..20)
        .map(|i| sim.connect(&format!("s{i}"), true))
        .collect();
    for &s in &subs {
        sim.subscribe(s, &[("fan", QoS::AtMostOnce)]);
    }
    let publisher = sim.connect("p", true);
    sim.publish(publisher, "fan", "all", QoS::AtMostOnce, false, 0);
    for &s in &subs {
        assert_eq!(payloads(&sim.publishes(s)), ["all"]);
    }
    assert_eq!(sim.broker.stats().deliveries, 20);
}

#[test]
fn a_publisher_subscribed_to_its_own_topic_receives_its_message() {
    // MQTT 3.1.1 has no "no local" option: the publisher is a subscriber like any other.
    let mut sim = Sim::standard();
    let c = sim.connect("c", true);
    sim.subscribe(c, &[("echo", QoS::AtMostOnce)]);
    sim.publish(c, "echo", "me", QoS::AtMostOnce, false, 0);
    assert_eq!(payloads(&sim.publishes(c)), ["me"]);
}

#[test]
fn qos0_messages_for_an_offline_persistent_session_are_dropped_with_an_event() {
    let mut sim = Sim::standard();
    let sub = sim.connect("s", false);
    sim.subscribe(sub, &[("t", QoS::AtMostOnce)]);
    sim.drop_conn(sub);
    let publisher = sim.connect("p", true);
    sim.publish(publisher, "t", "lost", QoS::AtMostOnce, false, 0);
    let drops = sim.events_where(|e| match e {
        Event::Dropped {
            client_id, reason, ..
        } => Some((client_id.clone(), *reason)),
        _ => None,
    });
    assert_eq!(drops, [("s".to_string(), DropReason::Qos0Offline)]);
    let sub = sim.connect("s", false);
    assert!(sim.publishes(sub).is_empty());
    assert_eq!(sim.broker.stats().dropped_qos0_offline, 1);
}

#[test]
fn messages_to_topics_nobody_subscribed_go_nowhere() {
    let mut sim = Sim::standard();
    let sub = sim.connect("s", true);
    sim.subscribe(sub, &[("a", QoS::AtMostOnce)]);
    let publisher = sim.connect("p", true);
    sim.publish(publisher, "b", "x", QoS::AtMostOnce, false, 0);
    assert!(sim.publishes(sub).is_empty());
    assert_eq!(sim.broker.stats().deliveries, 0);
}

#[test]
fn empty_payload_is_a_valid_message() {
    let mut sim = Sim::standard();
    let sub = sim.connect("s", true);
    sim.subscribe(sub, &[("t", QoS::AtMostOnce)]);
    let publisher = sim.connect("p", true);
    sim.publish(publisher, "t", "", QoS::AtMostOnce, false, 0);
    assert_eq!(payloads(&sim.publishes(sub)), [""]);
}
