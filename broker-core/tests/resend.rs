//! Optional in-session resends of unacknowledged messages (`Config::resend_interval`).

mod support;

use broker_core::*;
use support::*;

fn sim_with_resend(ms: u64) -> (Sim, ConnId, ConnId) {
    let mut sim = Sim::new(Config {
        resend_interval_ms: Some(ms),
        ..Config::default()
    });
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("t", QoS::ExactlyOnce)]);
    let p = sim.connect("p", true);
    (sim, s, p)
}

#[test]
fn unacknowledged_publish_is_resent_with_dup_after_the_interval() {
    let (mut sim, s, p) = sim_with_resend(5_000);
    sim.publish(p, "t", "x", QoS::AtLeastOnce, false, 1);
    let first = sim.publishes(s);
    sim.advance(4_999);
    assert!(sim.publishes(s).is_empty());
    sim.advance(1);
    let again = sim.publishes(s);
    assert_eq!(again.len(), 1);
    assert!(again[0].dup);
    assert_eq!(again[0].packet_id, first[0].packet_id);
}

#[test]
fn acknowledged_messages_are_not_resent() {
    let (mut sim, s, p) = sim_with_resend(1_000);
    sim.publish(p, "t", "x", QoS::AtLeastOnce, false, 1);
    let id = sim.publishes(s)[0].packet_id.expect("id");
    sim.send(s, Packet::puback(id));
    sim.advance(10_000);
    assert!(sim.recv_all(s).is_empty());
}

#[test]
fn pubrel_is_resent_when_pubcomp_does_not_come() {
    let (mut sim, s, p) = sim_with_resend(1_000);
    sim.publish(p, "t", "x", QoS::ExactlyOnce, false, 1);
    let id = sim.publishes(s)[0].packet_id.expect("id");
    sim.send(s, Packet::pubrec(id));
    assert_eq!(sim.recv_all(s), [Packet::pubrel(id)]);
    sim.advance(1_000);
    assert_eq!(sim.recv_all(s), [Packet::pubrel(id)]);
}

#[test]
fn resends_repeat_every_interval_until_acknowledged() {
    let (mut sim, s, p) = sim_with_resend(1_000);
    sim.publish(p, "t", "x", QoS::AtLeastOnce, false, 1);
    sim.publishes(s);
    for _ in 0..3 {
        sim.advance(1_000);
        assert_eq!(sim.publishes(s).len(), 1);
    }
    let resent = sim.events_where(|e| match e {
        Event::Resent {
            count,
            on_reconnect: false,
            ..
        } => Some(*count),
        _ => None,
    });
    assert_eq!(resent, [1, 1, 1]);
}

#[test]
fn without_an_interval_nothing_is_resent_within_a_connection() {
    let mut sim = Sim::standard();
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    let p = sim.connect("p", true);
    sim.publish(p, "t", "x", QoS::AtLeastOnce, false, 1);
    sim.publishes(s);
    sim.advance(3_600_000);
    assert!(sim.recv_all(s).is_empty());
    assert_eq!(sim.broker.poll_timeout(), None, "no timer left pending");
}

/// MQTT-4.4.0-1 (MQTT 5.0): "Clients and Servers MUST NOT resend messages at any other
/// time" than on reconnection, so the in-session resend does not apply to a 5.0 client;
/// its unacknowledged message is resent when it reconnects.
#[test]
fn an_mqtt5_client_gets_no_resend_within_its_connection() {
    let mut sim = Sim::new(Config {
        resend_interval_ms: Some(1_000),
        ..Config::default()
    });
    let (s, _) = sim.connect5("s5", false, vec![Property::SessionExpiryInterval(60)]);
    sim.subscribe5(s, &[("t", opts(QoS::AtLeastOnce))], None);
    let p = sim.connect("p", true);
    sim.publish(p, "t", "x", QoS::AtLeastOnce, false, 1);
    assert_eq!(sim.publishes(s).len(), 1);
    sim.advance(10_000);
    assert!(sim.publishes(s).is_empty(), "resent within the connection");
    sim.drop_conn(s);
    let (s, ack) = sim.connect5("s5", false, vec![Property::SessionExpiryInterval(60)]);
    assert!(ack.session_present);
    let again = sim.publishes(s);
    assert_eq!(again.len(), 1);
    assert!(again[0].dup);
}
