//! Persistent sessions (Clean Session 0): state that outlives the connection
//! (sections 3.1.2.4 and 4.4).

mod support;

use broker_core::*;
use support::*;

#[test]
fn mqtt_3_2_2_2_resumed_session_answers_session_present_1() {
    let mut sim = Sim::standard();
    let c = sim.connect("dev", false);
    sim.drop_conn(c);
    let (_, ack) = sim.connect_with(connect("dev", false));
    assert_eq!(
        ack,
        Some(ConnAck {
            properties: None,
            session_present: true,
            code: ConnectReturnCode::Accepted.into()
        })
    );
}

#[test]
fn mqtt_3_2_2_3_new_persistent_session_answers_session_present_0() {
    let mut sim = Sim::standard();
    let (_, ack) = sim.connect_with(connect("dev", false));
    assert_eq!(ack.map(|a| a.session_present), Some(false));
}

#[test]
fn mqtt_3_2_2_1_clean_session_always_answers_session_present_0() {
    let mut sim = Sim::standard();
    let c = sim.connect("dev", false);
    sim.drop_conn(c);
    let (_, ack) = sim.connect_with(connect("dev", true));
    assert_eq!(ack.map(|a| a.session_present), Some(false));
}

#[test]
fn mqtt_3_1_2_6_clean_session_is_discarded_when_the_connection_ends() {
    let mut sim = Sim::standard();
    let c = sim.connect("dev", true);
    sim.subscribe(c, &[("t", QoS::AtLeastOnce)]);
    sim.drop_conn(c);
    assert!(sim.broker.session("dev").is_none());
    assert_eq!(sim.broker.subscription_count(), 0);
}

#[test]
fn mqtt_3_1_2_4_subscriptions_survive_a_reconnect() {
    let mut sim = Sim::standard();
    let c = sim.connect("dev", false);
    sim.subscribe(c, &[("t", QoS::AtLeastOnce)]);
    sim.drop_conn(c);
    let c = sim.connect("dev", false);
    let p = sim.connect("p", true);
    sim.publish(p, "t", "hello again", QoS::AtLeastOnce, false, 1);
    assert_eq!(payloads(&sim.publishes(c)), ["hello again"]);
}

#[test]
fn mqtt_3_1_2_5_messages_published_while_offline_are_queued_and_delivered() {
    let mut sim = Sim::standard();
    let c = sim.connect("dev", false);
    sim.subscribe(c, &[("t", QoS::ExactlyOnce)]);
    sim.drop_conn(c);
    let p = sim.connect("p", true);
    sim.publish(p, "t", "one", QoS::AtLeastOnce, false, 1);
    sim.publish(p, "t", "two", QoS::ExactlyOnce, false, 2);
    assert_eq!(sim.broker.session("dev").map(|s| s.queued), Some(2));
    let c = sim.connect("dev", false);
    let got = sim.publishes(c);
    assert_eq!(payloads(&got), ["one", "two"]);
    assert_eq!(got[0].qos, QoS::AtLeastOnce);
    assert_eq!(got[1].qos, QoS::ExactlyOnce);
    assert!(
        got.iter().all(|p| !p.dup),
        "first transmissions carry DUP=0"
    );
}

#[test]
fn mqtt_4_4_0_1_unacknowledged_publish_is_resent_with_dup_on_reconnect() {
    let mut sim = Sim::standard();
    let c = sim.connect("dev", false);
    sim.subscribe(c, &[("t", QoS::AtLeastOnce)]);
    let p = sim.connect("p", true);
    sim.publish(p, "t", "unacked", QoS::AtLeastOnce, false, 1);
    let first = sim.publishes(c);
    sim.drop_conn(c);
    let c = sim.connect("dev", false);
    let again = sim.publishes(c);
    assert_eq!(payloads(&again), ["unacked"]);
    assert!(again[0].dup, "MQTT-3.3.1-1: DUP=1 on re-delivery");
    assert_eq!(again[0].packet_id, first[0].packet_id, "the same packet id");
}

#[test]
fn mqtt_4_4_0_1_pubrel_is_resent_on_reconnect_after_pubrec() {
    let mut sim = Sim::standard();
    let c = sim.connect("dev", false);
    sim.subscribe(c, &[("t", QoS::ExactlyOnce)]);
    let p = sim.connect("p", true);
    sim.publish(p, "t", "x", QoS::ExactlyOnce, false, 1);
    let id = sim.publishes(c)[0].packet_id.expect("id");
    sim.send(c, Packet::pubrec(id));
    assert_eq!(sim.recv_all(c), [Packet::pubrel(id)]);
    sim.drop_conn(c);
    let c = sim.connect("dev", false);
    assert_eq!(sim.recv_all(c), [Packet::pubrel(id)]);
    sim.send(c, Packet::pubcomp(id));
    assert_eq!(sim.broker.session("dev").map(|s| s.inflight.len()), Some(0));
}

#[test]
fn mqtt_4_6_0_1_resends_keep_the_original_order() {
    let mut sim = Sim::standard();
    let c = sim.connect("dev", false);
    sim.subscribe(c, &[("t", QoS::AtLeastOnce)]);
    let p = sim.connect("p", true);
    for (i, m) in ["a", "b", "c"].iter().enumerate() {
        sim.publish(p, "t", m, QoS::AtLeastOnce, false, i as u16 + 1);
    }
    let first = sim.publishes(c);
    // Acknowledge the middle one only.
    sim.send(c, Packet::puback(first[1].packet_id.expect("id")));
    sim.drop_conn(c);
    let c = sim.connect("dev", false);
    assert_eq!(payloads(&sim.publishes(c)), ["a", "c"]);
}

#[test]
fn inflight_resend_comes_before_queued_messages() {
    let mut sim = Sim::new(Config {
        max_inflight: 1,
        ..Config::default()
    });
    let c = sim.connect("dev", false);
    sim.subscribe(c, &[("t", QoS::AtLeastOnce)]);
    let p = sim.connect("p", true);
    sim.publish(p, "t", "first", QoS::AtLeastOnce, false, 1);
    sim.publish(p, "t", "second", QoS::AtLeastOnce, false, 2);
    assert_eq!(payloads(&sim.publishes(c)), ["first"]);
    sim.drop_conn(c);
    let c = sim.connect("dev", false);
    let got = sim.publishes(c);
    assert_eq!(
        payloads(&got),
        ["first"],
        "the window of one holds the resend"
    );
    sim.send(c, Packet::puback(got[0].packet_id.expect("id")));
    assert_eq!(payloads(&sim.publishes(c)), ["second"]);
}

#[test]
fn qos2_received_state_survives_a_reconnect() {
    // The publisher's half of an inbound QoS 2 exchange is session state too: after a
    // reconnect, a DUP of the same id must still not be routed twice.
    let mut sim = Sim::standard();
    let sub = sim.connect("s", true);
    sim.subscribe(sub, &[("t", QoS::ExactlyOnce)]);
    let p = sim.connect("p", false);
    sim.publish(p, "t", "once", QoS::ExactlyOnce, false, 3);
    sim.drop_conn(p);
    let p = sim.connect("p", false);
    let mut dup = publish("t", "once", QoS::ExactlyOnce, false, 3);
    dup.dup = true;
    sim.send(p, Packet::Publish(dup));
    assert_eq!(sim.recv_all(p), [Packet::pubrec(pid(3))]);
    assert_eq!(payloads(&sim.publishes(sub)), ["once"]);
}

#[test]
fn offline_queue_is_bounded_and_drops_the_newest_with_an_event() {
    let mut sim = Sim::new(Config {
        max_queued: 3,
        ..Config::default()
    });
    let c = sim.connect("dev", false);
    sim.subscribe(c, &[("t", QoS::AtLeastOnce)]);
    sim.drop_conn(c);
    let p = sim.connect("p", true);
    for i in 1..=5 {
        sim.publish(p, "t", &format!("m{i}"), QoS::AtLeastOnce, false, i);
    }
    let drops = sim.events_where(|e| match e {
        Event::Dropped {
            reason: DropReason::QueueFull,
            ..
        } => Some(()),
        _ => None,
    });
    assert_eq!(drops.len(), 2);
    assert_eq!(sim.broker.stats().dropped_queue_full, 2);
    let c = sim.connect("dev", false);
    assert_eq!(payloads(&sim.publishes(c)), ["m1", "m2", "m3"]);
}

#[test]
fn session_views_list_connected_and_stored_sessions() {
    let mut sim = Sim::standard();
    let a = sim.connect("a", false);
    sim.subscribe(a, &[("x/#", QoS::AtLeastOnce), ("y", QoS::AtMostOnce)]);
    sim.drop_conn(a);
    sim.connect("b", true);
    let views = sim.broker.sessions();
    assert_eq!(views.len(), 2);
    assert_eq!(views[0].client_id, "a");
    assert!(!views[0].connected);
    assert_eq!(
        views[0].subscriptions,
        vec![
            (filter("x/#"), QoS::AtLeastOnce.into()),
            (filter("y"), QoS::AtMostOnce.into())
        ]
    );
    assert!(views[1].connected && views[1].clean_session);
}
