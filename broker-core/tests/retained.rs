//! Retained messages (section 3.3.1.3).

mod support;

use broker_core::*;
use support::*;

#[test]
fn mqtt_3_3_1_6_new_subscription_receives_the_retained_message_with_retain_1() {
    let mut sim = Sim::standard();
    let p = sim.connect("p", true);
    sim.publish(p, "status", "on", QoS::AtMostOnce, true, 0);
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("status", QoS::AtMostOnce)]);
    let got = sim.publishes(s);
    assert_eq!(payloads(&got), ["on"]);
    assert!(got[0].retain, "MQTT-3.3.1-8");
}

#[test]
fn mqtt_3_3_1_9_existing_subscribers_get_retain_0() {
    let mut sim = Sim::standard();
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("status", QoS::AtMostOnce)]);
    let p = sim.connect("p", true);
    sim.publish(p, "status", "on", QoS::AtMostOnce, true, 0);
    let got = sim.publishes(s);
    assert_eq!(payloads(&got), ["on"]);
    assert!(!got[0].retain);
}

#[test]
fn mqtt_3_3_1_5_a_new_retained_message_replaces_the_old() {
    let mut sim = Sim::standard();
    let p = sim.connect("p", true);
    sim.publish(p, "status", "on", QoS::AtMostOnce, true, 0);
    sim.publish(p, "status", "off", QoS::AtMostOnce, true, 0);
    assert_eq!(sim.broker.retained().len(), 1);
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("status", QoS::AtMostOnce)]);
    assert_eq!(payloads(&sim.publishes(s)), ["off"]);
}

#[test]
fn mqtt_3_3_1_10_zero_byte_retained_publish_deletes_and_is_still_delivered() {
    let mut sim = Sim::standard();
    let p = sim.connect("p", true);
    sim.publish(p, "status", "on", QoS::AtMostOnce, true, 0);
    let live = sim.connect("live", true);
    sim.subscribe(live, &[("status", QoS::AtMostOnce)]);
    sim.publishes(live);
    sim.publish(p, "status", "", QoS::AtMostOnce, true, 0);
    assert_eq!(payloads(&sim.publishes(live)), [""], "delivered as normal");
    assert!(
        sim.broker.retained().is_empty(),
        "MQTT-3.3.1-11: not stored"
    );
    let late = sim.connect("late", true);
    sim.subscribe(late, &[("status", QoS::AtMostOnce)]);
    assert!(sim.publishes(late).is_empty());
}

#[test]
fn mqtt_3_3_1_12_retain_0_leaves_the_retained_message_alone() {
    let mut sim = Sim::standard();
    let p = sim.connect("p", true);
    sim.publish(p, "status", "kept", QoS::AtMostOnce, true, 0);
    sim.publish(p, "status", "passing", QoS::AtMostOnce, false, 0);
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("status", QoS::AtMostOnce)]);
    assert_eq!(payloads(&sim.publishes(s)), ["kept"]);
}

#[test]
fn retained_messages_are_matched_by_wildcards_in_topic_order() {
    let mut sim = Sim::standard();
    let p = sim.connect("p", true);
    for t in ["home/b/temp", "home/a/temp", "home/a/hum", "office/a/temp"] {
        sim.publish(p, t, t, QoS::AtMostOnce, true, 0);
    }
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("home/+/temp", QoS::AtMostOnce)]);
    assert_eq!(payloads(&sim.publishes(s)), ["home/a/temp", "home/b/temp"]);
    let s2 = sim.connect("s2", true);
    sim.subscribe(s2, &[("home/#", QoS::AtMostOnce)]);
    assert_eq!(
        payloads(&sim.publishes(s2)),
        ["home/a/hum", "home/a/temp", "home/b/temp"]
    );
}

#[test]
fn hash_retained_match_includes_the_parent_topic() {
    let mut sim = Sim::standard();
    let p = sim.connect("p", true);
    sim.publish(p, "home", "parent", QoS::AtMostOnce, true, 0);
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("home/#", QoS::AtMostOnce)]);
    assert_eq!(payloads(&sim.publishes(s)), ["parent"]);
}

#[test]
fn mqtt_4_7_2_1_leading_hash_does_not_return_dollar_retained_messages() {
    let mut sim = Sim::standard();
    let p = sim.connect("p", true);
    sim.publish(p, "$SYS/x", "sys", QoS::AtMostOnce, true, 0);
    sim.publish(p, "plain", "plain", QoS::AtMostOnce, true, 0);
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("#", QoS::AtMostOnce)]);
    assert_eq!(payloads(&sim.publishes(s)), ["plain"]);
    let s2 = sim.connect("s2", true);
    sim.subscribe(s2, &[("+/x", QoS::AtMostOnce)]);
    assert!(sim.publishes(s2).is_empty());
}

#[test]
fn retained_delivery_qos_is_the_minimum_of_stored_and_granted() {
    let mut sim = Sim::standard();
    let p = sim.connect("p", true);
    sim.publish(p, "a", "q1", QoS::AtLeastOnce, true, 1);
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("a", QoS::ExactlyOnce)]);
    assert_eq!(sim.publishes(s)[0].qos, QoS::AtLeastOnce);
    let s0 = sim.connect("s0", true);
    sim.subscribe(s0, &[("a", QoS::AtMostOnce)]);
    assert_eq!(sim.publishes(s0)[0].qos, QoS::AtMostOnce);
}

#[test]
fn mqtt_3_8_4_3_resubscribing_resends_retained_messages() {
    let mut sim = Sim::standard();
    let p = sim.connect("p", true);
    sim.publish(p, "a", "r", QoS::AtMostOnce, true, 0);
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("a", QoS::AtMostOnce)]);
    assert_eq!(sim.publishes(s).len(), 1);
    sim.subscribe(s, &[("a", QoS::AtLeastOnce)]);
    assert_eq!(sim.publishes(s).len(), 1);
}

#[test]
fn retained_messages_come_after_the_suback() {
    let mut sim = Sim::standard();
    let p = sim.connect("p", true);
    sim.publish(p, "a", "r", QoS::AtMostOnce, true, 0);
    let s = sim.connect("s", true);
    sim.send(
        s,
        Packet::Subscribe(Subscribe {
            properties: None,
            packet_id: pid(5),
            filters: vec![(filter("a"), QoS::AtMostOnce.into())],
        }),
    );
    let got = sim.recv_all(s);
    assert!(matches!(got[0], Packet::SubAck(_)));
    assert!(matches!(got[1], Packet::Publish(_)));
}

#[test]
fn retained_store_events_and_view() {
    let mut sim = Sim::standard();
    let p = sim.connect("p", true);
    sim.now = Instant::from_millis(1234);
    sim.publish(p, "a", "r", QoS::AtLeastOnce, true, 1);
    let view = sim.broker.retained();
    assert_eq!(view.len(), 1);
    assert_eq!(
        (view[0].topic.as_str(), view[0].qos, view[0].stored_at),
        ("a", QoS::AtLeastOnce, Instant::from_millis(1234))
    );
    sim.publish(p, "a", "", QoS::AtMostOnce, true, 0);
    let kinds: Vec<&str> = sim
        .events
        .iter()
        .filter_map(|e| match e {
            Event::RetainedStored { .. } => Some("stored"),
            Event::RetainedDeleted { .. } => Some("deleted"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["stored", "deleted"]);
    assert_eq!(sim.broker.retained_count(), 0);
}

#[test]
fn mqtt_3_1_2_7_retained_messages_outlive_the_publishing_session() {
    let mut sim = Sim::standard();
    let p = sim.connect("p", true);
    sim.publish(p, "status", "kept", QoS::AtMostOnce, true, 0);
    sim.drop_conn(p);
    assert!(
        sim.broker.session("p").is_none(),
        "the clean session is gone"
    );
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("status", QoS::AtMostOnce)]);
    let got = sim.publishes(s);
    assert_eq!(payloads(&got), ["kept"]);
    assert!(got[0].retain);
}
