//! QoS 2: exactly once, PUBLISH / PUBREC / PUBREL / PUBCOMP (section 4.3.3).

mod support;

use broker_core::*;
use support::*;

fn pair(sim: &mut Sim) -> (ConnId, ConnId) {
    let sub = sim.connect("s", true);
    sim.subscribe(sub, &[("t", QoS::ExactlyOnce)]);
    let publisher = sim.connect("p", true);
    (sub, publisher)
}

#[test]
fn mqtt_4_3_3_2_inbound_qos2_gets_pubrec_then_pubcomp() {
    let mut sim = Sim::standard();
    let (_, publisher) = pair(&mut sim);
    sim.publish(publisher, "t", "x", QoS::ExactlyOnce, false, 9);
    assert_eq!(sim.recv_all(publisher), [Packet::pubrec(pid(9))]);
    sim.send(publisher, Packet::pubrel(pid(9)));
    assert_eq!(sim.recv_all(publisher), [Packet::pubcomp(pid(9))]);
}

#[test]
fn mqtt_4_3_3_2_duplicate_before_pubrel_is_not_delivered_twice() {
    let mut sim = Sim::standard();
    let (sub, publisher) = pair(&mut sim);
    sim.publish(publisher, "t", "once", QoS::ExactlyOnce, false, 9);
    let mut dup = publish("t", "once", QoS::ExactlyOnce, false, 9);
    dup.dup = true;
    sim.send(publisher, Packet::Publish(dup));
    assert_eq!(
        sim.recv_all(publisher),
        [Packet::pubrec(pid(9)), Packet::pubrec(pid(9))]
    );
    assert_eq!(payloads(&sim.publishes(sub)), ["once"]);
}

#[test]
fn mqtt_4_3_3_2_after_pubrel_the_same_id_is_a_new_message() {
    let mut sim = Sim::standard();
    let (sub, publisher) = pair(&mut sim);
    sim.publish(publisher, "t", "first", QoS::ExactlyOnce, false, 9);
    sim.send(publisher, Packet::pubrel(pid(9)));
    sim.publish(publisher, "t", "second", QoS::ExactlyOnce, false, 9);
    let got = sim.publishes(sub);
    assert_eq!(payloads(&got), ["first", "second"]);
}

#[test]
fn pubrel_for_an_unknown_id_still_gets_pubcomp() {
    let mut sim = Sim::standard();
    let (_, publisher) = pair(&mut sim);
    sim.send(publisher, Packet::pubrel(pid(77)));
    assert_eq!(sim.recv_all(publisher), [Packet::pubcomp(pid(77))]);
}

#[test]
fn mqtt_4_3_3_1_outbound_qos2_completes_the_four_step_handshake() {
    let mut sim = Sim::standard();
    let (sub, publisher) = pair(&mut sim);
    sim.publish(publisher, "t", "x", QoS::ExactlyOnce, false, 1);
    let got = sim.publishes(sub);
    assert_eq!(got[0].qos, QoS::ExactlyOnce);
    let id = got[0].packet_id.expect("id");
    let state = |sim: &Sim| sim.broker.session("s").map(|s| s.inflight.clone());
    assert_eq!(state(&sim), Some(vec![(id, InflightState::AwaitingPubRec)]));
    sim.send(sub, Packet::pubrec(id));
    assert_eq!(sim.recv_all(sub), [Packet::pubrel(id)]);
    assert_eq!(
        state(&sim),
        Some(vec![(id, InflightState::AwaitingPubComp)])
    );
    sim.send(sub, Packet::pubcomp(id));
    assert_eq!(state(&sim), Some(vec![]));
}

#[test]
fn mqtt_4_3_3_1_repeated_pubrec_gets_pubrel_again() {
    let mut sim = Sim::standard();
    let (sub, publisher) = pair(&mut sim);
    sim.publish(publisher, "t", "x", QoS::ExactlyOnce, false, 1);
    let id = sim.publishes(sub)[0].packet_id.expect("id");
    sim.send(sub, Packet::pubrec(id));
    sim.send(sub, Packet::pubrec(id));
    assert_eq!(sim.recv_all(sub), [Packet::pubrel(id), Packet::pubrel(id)]);
}

#[test]
fn pubcomp_before_pubrec_is_unexpected_and_keeps_the_message() {
    let mut sim = Sim::standard();
    let (sub, publisher) = pair(&mut sim);
    sim.publish(publisher, "t", "x", QoS::ExactlyOnce, false, 1);
    let id = sim.publishes(sub)[0].packet_id.expect("id");
    sim.send(sub, Packet::pubcomp(id));
    assert_eq!(sim.broker.session("s").map(|s| s.inflight.len()), Some(1));
    assert!(sim.events.iter().any(|e| matches!(
        e,
        Event::UnexpectedAck {
            packet: PacketType::PubComp,
            ..
        }
    )));
}

#[test]
fn puback_for_a_qos2_message_is_unexpected() {
    let mut sim = Sim::standard();
    let (sub, publisher) = pair(&mut sim);
    sim.publish(publisher, "t", "x", QoS::ExactlyOnce, false, 1);
    let id = sim.publishes(sub)[0].packet_id.expect("id");
    sim.send(sub, Packet::puback(id));
    assert_eq!(sim.broker.session("s").map(|s| s.inflight.len()), Some(1));
}

#[test]
fn qos2_publish_to_qos1_subscription_is_delivered_at_qos1() {
    let mut sim = Sim::standard();
    let sub = sim.connect("s", true);
    sim.subscribe(sub, &[("t", QoS::AtLeastOnce)]);
    let publisher = sim.connect("p", true);
    sim.publish(publisher, "t", "x", QoS::ExactlyOnce, false, 1);
    assert_eq!(sim.publishes(sub)[0].qos, QoS::AtLeastOnce);
}

#[test]
fn awaiting_pubrel_ids_are_visible_in_the_session_view() {
    let mut sim = Sim::standard();
    let (_, publisher) = pair(&mut sim);
    sim.publish(publisher, "t", "x", QoS::ExactlyOnce, false, 4);
    sim.publish(publisher, "t", "y", QoS::ExactlyOnce, false, 2);
    assert_eq!(
        sim.broker.session("p").map(|s| s.awaiting_pubrel),
        Some(vec![pid(2), pid(4)])
    );
}

#[test]
fn mqtt_4_6_0_4_pubrels_follow_the_order_pubrecs_arrived() {
    let mut sim = Sim::standard();
    let (sub, publisher) = pair(&mut sim);
    sim.publish(publisher, "t", "a", QoS::ExactlyOnce, false, 1);
    sim.publish(publisher, "t", "b", QoS::ExactlyOnce, false, 2);
    let ids: Vec<PacketId> = sim
        .publishes(sub)
        .iter()
        .filter_map(|p| p.packet_id)
        .collect();
    let mut recs = Vec::new();
    for id in ids.iter().rev() {
        Packet::pubrec(*id).encode(&mut recs);
    }
    sim.send_raw(sub, &recs);
    assert_eq!(
        sim.recv_all(sub),
        [Packet::pubrel(ids[1]), Packet::pubrel(ids[0])]
    );
}

#[test]
fn mqtt_4_6_0_3_pubrecs_are_sent_in_the_order_publishes_arrived() {
    let mut sim = Sim::standard();
    let (_, publisher) = pair(&mut sim);
    let mut bytes = Vec::new();
    for id in [7, 3, 9] {
        Packet::Publish(publish("t", "x", QoS::ExactlyOnce, false, id)).encode(&mut bytes);
    }
    sim.send_raw(publisher, &bytes);
    assert_eq!(
        sim.recv_all(publisher),
        [
            Packet::pubrec(pid(7)),
            Packet::pubrec(pid(3)),
            Packet::pubrec(pid(9))
        ]
    );
}
