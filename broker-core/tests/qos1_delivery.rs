//! QoS 1: at least once, PUBLISH then PUBACK (section 4.3.2), in both directions.

mod support;

use broker_core::*;
use support::*;

fn pair(sim: &mut Sim) -> (ConnId, ConnId) {
    let sub = sim.connect("s", true);
    sim.subscribe(sub, &[("t", QoS::AtLeastOnce)]);
    let publisher = sim.connect("p", true);
    (sub, publisher)
}

#[test]
fn mqtt_4_3_2_2_inbound_qos1_is_acknowledged_with_puback() {
    let mut sim = Sim::standard();
    let (_, publisher) = pair(&mut sim);
    sim.publish(publisher, "t", "x", QoS::AtLeastOnce, false, 42);
    assert_eq!(sim.recv_all(publisher), [Packet::puback(pid(42))]);
}

#[test]
fn mqtt_4_3_2_1_outbound_qos1_carries_a_fresh_packet_id_and_dup_0() {
    let mut sim = Sim::standard();
    let (sub, publisher) = pair(&mut sim);
    sim.publish(publisher, "t", "x", QoS::AtLeastOnce, false, 42);
    let got = sim.publishes(sub);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].qos, QoS::AtLeastOnce);
    assert!(!got[0].dup);
    assert_eq!(
        got[0].packet_id,
        Some(pid(1)),
        "the subscriber's session allocates its own ids"
    );
}

#[test]
fn mqtt_4_3_2_1_unacknowledged_message_stays_in_flight_until_puback() {
    let mut sim = Sim::standard();
    let (sub, publisher) = pair(&mut sim);
    sim.publish(publisher, "t", "x", QoS::AtLeastOnce, false, 1);
    let id = sim.publishes(sub)[0].packet_id.expect("id");
    assert_eq!(sim.broker.session("s").map(|s| s.inflight.len()), Some(1));
    sim.send(sub, Packet::puback(id));
    assert_eq!(sim.broker.session("s").map(|s| s.inflight.len()), Some(0));
}

#[test]
fn mqtt_2_3_1_4_packet_ids_in_flight_are_not_reused() {
    let mut sim = Sim::standard();
    let (sub, publisher) = pair(&mut sim);
    for i in 1..=5 {
        sim.publish(publisher, "t", "x", QoS::AtLeastOnce, false, i);
    }
    let ids: Vec<u16> = sim
        .publishes(sub)
        .iter()
        .filter_map(|p| p.packet_id)
        .map(|p| p.get())
        .collect();
    assert_eq!(ids, [1, 2, 3, 4, 5]);
}

#[test]
fn mqtt_4_6_0_2_pubacks_are_sent_in_the_order_publishes_arrived() {
    let mut sim = Sim::standard();
    let (_, publisher) = pair(&mut sim);
    let mut bytes = Vec::new();
    for id in [7, 3, 9] {
        Packet::Publish(publish("t", "x", QoS::AtLeastOnce, false, id)).encode(&mut bytes);
    }
    sim.send_raw(publisher, &bytes);
    assert_eq!(
        sim.recv_all(publisher),
        [
            Packet::puback(pid(7)),
            Packet::puback(pid(3)),
            Packet::puback(pid(9))
        ]
    );
}

#[test]
fn a_repeated_qos1_publish_is_delivered_again() {
    // QoS 1 is "at least once": a DUP repeat with the same id is a new message to route
    // (MQTT-4.3.2-2 says the receiver treats it as new after sending PUBACK).
    let mut sim = Sim::standard();
    let (sub, publisher) = pair(&mut sim);
    sim.publish(publisher, "t", "x", QoS::AtLeastOnce, false, 5);
    let mut again = publish("t", "x", QoS::AtLeastOnce, false, 5);
    again.dup = true;
    sim.send(publisher, Packet::Publish(again));
    assert_eq!(sim.publishes(sub).len(), 2);
}

#[test]
fn puback_for_an_unknown_id_is_ignored_and_reported() {
    let mut sim = Sim::standard();
    let (sub, _) = pair(&mut sim);
    sim.send(sub, Packet::puback(pid(999)));
    assert!(sim.closed(sub).is_none());
    let unexpected = sim.events_where(|e| match e {
        Event::UnexpectedAck { packet_id, .. } => Some(*packet_id),
        _ => None,
    });
    assert_eq!(unexpected, [999]);
}

#[test]
fn inflight_window_holds_back_further_messages_until_acknowledged() {
    let mut sim = Sim::new(Config {
        max_inflight: 2,
        ..Config::default()
    });
    let (sub, publisher) = pair(&mut sim);
    for i in 1..=5 {
        sim.publish(publisher, "t", &format!("m{i}"), QoS::AtLeastOnce, false, i);
    }
    let first = sim.publishes(sub);
    assert_eq!(payloads(&first), ["m1", "m2"]);
    assert_eq!(sim.broker.session("s").map(|s| s.queued), Some(3));
    sim.send(sub, Packet::puback(first[0].packet_id.expect("id")));
    assert_eq!(payloads(&sim.publishes(sub)), ["m3"]);
    sim.send(sub, Packet::puback(first[1].packet_id.expect("id")));
    assert_eq!(payloads(&sim.publishes(sub)), ["m4"]);
}

#[test]
fn mqtt_4_6_0_5_messages_of_one_topic_arrive_in_publish_order() {
    let mut sim = Sim::new(Config {
        max_inflight: 3,
        ..Config::default()
    });
    let (sub, publisher) = pair(&mut sim);
    for i in 1..=10 {
        sim.publish(publisher, "t", &format!("{i}"), QoS::AtLeastOnce, false, i);
    }
    let mut got = Vec::new();
    while got.len() < 10 {
        let batch = sim.acknowledge_publishes(sub);
        assert!(!batch.is_empty(), "stalled after {got:?}");
        got.extend(payloads(&batch));
    }
    let want: Vec<String> = (1..=10).map(|i| i.to_string()).collect();
    assert_eq!(got, want);
}

#[test]
fn mqtt_3_3_1_3_outgoing_dup_is_set_independently_of_the_incoming_dup() {
    let mut sim = Sim::new(Config {
        resend_interval_ms: Some(1_000),
        ..Config::default()
    });
    let (sub, publisher) = pair(&mut sim);
    let mut incoming = publish("t", "x", QoS::AtLeastOnce, false, 8);
    incoming.dup = true;
    sim.send(publisher, Packet::Publish(incoming));
    let first = sim.publishes(sub);
    assert!(
        !first[0].dup,
        "a first transmission carries DUP=0 whatever the publisher sent"
    );
    sim.advance(1_000);
    let again = sim.publishes(sub);
    assert!(again[0].dup, "this broker's own re-delivery carries DUP=1");
}
