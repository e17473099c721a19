//! A client id connecting twice: the newer connection wins (MQTT-3.1.4-2).

mod support;

use broker_core::*;
use support::*;

#[test]
fn mqtt_3_1_4_2_takeover_closes_old_connection() {
    let mut sim = Sim::standard();
    let old = sim.connect("dev", true);
    let new = sim.connect("dev", true);
    assert_eq!(sim.closed(old), Some(&CloseReason::TakenOver { by: new }));
    assert!(sim.closed(new).is_none());
    assert_eq!(sim.broker.session("dev").and_then(|s| s.conn), Some(new));
}

#[test]
fn takeover_publishes_the_old_connections_will() {
    let mut sim = Sim::standard();
    let watcher = sim.connect("watcher", true);
    sim.subscribe(watcher, &[("wills/#", QoS::AtMostOnce)]);
    let mut c = connect("dev", true);
    c.will = Some(LastWill {
        properties: Properties::new(),
        topic: topic("wills/dev"),
        payload: "gone".into(),
        qos: QoS::AtMostOnce,
        retain: false,
    });
    sim.connect_with(c);
    sim.connect("dev", true);
    assert_eq!(payloads(&sim.publishes(watcher)), ["gone"]);
}

#[test]
fn takeover_with_clean_session_0_resumes_the_session_with_session_present() {
    let mut sim = Sim::standard();
    let old = sim.connect("dev", false);
    sim.subscribe(old, &[("t", QoS::AtLeastOnce)]);
    let (new, ack) = sim.connect_with(connect("dev", false));
    assert_eq!(ack.map(|a| a.session_present), Some(true));
    let publisher = sim.connect("p", true);
    sim.publish(
        publisher,
        "t",
        "still subscribed",
        QoS::AtLeastOnce,
        false,
        1,
    );
    assert_eq!(payloads(&sim.publishes(new)), ["still subscribed"]);
    assert!(sim.publishes(old).is_empty());
}

#[test]
fn takeover_with_clean_session_1_discards_the_old_session() {
    let mut sim = Sim::standard();
    let old = sim.connect("dev", false);
    sim.subscribe(old, &[("t", QoS::AtLeastOnce)]);
    let (new, ack) = sim.connect_with(connect("dev", true));
    assert_eq!(ack.map(|a| a.session_present), Some(false));
    assert!(sim
        .broker
        .session("dev")
        .is_some_and(|s| s.subscriptions.is_empty()));
    let publisher = sim.connect("p", true);
    sim.publish(publisher, "t", "x", QoS::AtLeastOnce, false, 1);
    assert!(sim.publishes(new).is_empty());
}

#[test]
fn old_connection_bytes_after_takeover_are_ignored() {
    let mut sim = Sim::standard();
    let sub = sim.connect("sub", true);
    sim.subscribe(sub, &[("t", QoS::AtMostOnce)]);
    let old = sim.connect("dev", true);
    sim.connect("dev", true);
    // The old transport may still deliver bytes the client sent before it noticed.
    sim.broker.handle_bytes(
        sim.now,
        old,
        &Packet::Publish(publish("t", "late", QoS::AtMostOnce, false, 0)).to_bytes(),
    );
    sim.drive();
    assert!(sim.publishes(sub).is_empty());
}

#[test]
fn takeover_is_reported_as_a_disconnect_event_of_the_old_connection() {
    let mut sim = Sim::standard();
    let old = sim.connect("dev", true);
    let new = sim.connect("dev", true);
    let reasons = sim.events_where(|e| match e {
        Event::Disconnected {
            conn,
            reason,
            client_id,
        } if *conn == old => Some((reason.clone(), client_id.clone())),
        _ => None,
    });
    assert_eq!(
        reasons,
        [(CloseReason::TakenOver { by: new }, Some("dev".to_string()))]
    );
}

#[test]
fn three_connections_in_a_row_leave_only_the_last() {
    let mut sim = Sim::standard();
    let a = sim.connect("dev", false);
    let b = sim.connect("dev", false);
    let c = sim.connect("dev", false);
    assert!(sim.closed(a).is_some() && sim.closed(b).is_some() && sim.closed(c).is_none());
    assert_eq!(sim.broker.connections().len(), 1);
}
