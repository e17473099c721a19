//! The Will message (section 3.1.2.5): published on every close but DISCONNECT.

mod support;

use broker_core::*;
use support::*;

fn with_will(id: &str, topic_name: &str, payload: &str, qos: QoS, retain: bool) -> Connect {
    let mut c = connect(id, true);
    c.will = Some(LastWill {
        properties: Properties::new(),
        topic: topic(topic_name),
        payload: payload.to_owned().into(),
        qos,
        retain,
    });
    c
}

fn watcher(sim: &mut Sim, qos: QoS) -> ConnId {
    let w = sim.connect("watcher", true);
    sim.subscribe(w, &[("will/#", qos)]);
    w
}

#[test]
fn mqtt_3_1_2_8_will_published_when_the_network_fails() {
    let mut sim = Sim::standard();
    let w = watcher(&mut sim, QoS::AtMostOnce);
    let (dev, _) = sim.connect_with(with_will(
        "dev",
        "will/dev",
        "offline",
        QoS::AtMostOnce,
        false,
    ));
    sim.drop_conn(dev);
    assert_eq!(payloads(&sim.publishes(w)), ["offline"]);
}

#[test]
fn mqtt_3_1_2_10_will_not_published_after_disconnect() {
    let mut sim = Sim::standard();
    let w = watcher(&mut sim, QoS::AtMostOnce);
    let (dev, _) = sim.connect_with(with_will(
        "dev",
        "will/dev",
        "offline",
        QoS::AtMostOnce,
        false,
    ));
    sim.send(dev, Packet::disconnect());
    assert_eq!(sim.closed(dev), Some(&CloseReason::ClientDisconnect));
    sim.drop_conn(dev);
    assert!(sim.publishes(w).is_empty());
}

#[test]
fn will_published_on_a_protocol_violation() {
    let mut sim = Sim::standard();
    let w = watcher(&mut sim, QoS::AtMostOnce);
    let (dev, _) = sim.connect_with(with_will(
        "dev",
        "will/dev",
        "broken",
        QoS::AtMostOnce,
        false,
    ));
    sim.send_raw(dev, &[0xF0, 0x00]);
    assert!(matches!(
        sim.closed(dev),
        Some(CloseReason::ProtocolViolation(_))
    ));
    assert_eq!(payloads(&sim.publishes(w)), ["broken"]);
}

#[test]
fn mqtt_3_1_2_14_will_qos_is_honoured() {
    let mut sim = Sim::standard();
    let w = watcher(&mut sim, QoS::ExactlyOnce);
    let (dev, _) = sim.connect_with(with_will("dev", "will/dev", "q1", QoS::AtLeastOnce, false));
    sim.drop_conn(dev);
    let got = sim.publishes(w);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].qos, QoS::AtLeastOnce);
}

#[test]
fn mqtt_3_1_2_17_will_retain_stores_the_will_as_retained() {
    let mut sim = Sim::standard();
    let (dev, _) = sim.connect_with(with_will(
        "dev",
        "will/dev",
        "last words",
        QoS::AtMostOnce,
        true,
    ));
    sim.drop_conn(dev);
    let late = sim.connect("late", true);
    sim.subscribe(late, &[("will/dev", QoS::AtMostOnce)]);
    let got = sim.publishes(late);
    assert_eq!(payloads(&got), ["last words"]);
    assert!(got[0].retain);
}

#[test]
fn mqtt_3_1_2_16_will_without_retain_is_not_stored() {
    let mut sim = Sim::standard();
    let (dev, _) = sim.connect_with(with_will("dev", "will/dev", "x", QoS::AtMostOnce, false));
    sim.drop_conn(dev);
    assert!(sim.broker.retained().is_empty());
}

#[test]
fn will_is_published_once_even_if_the_transport_reports_closing_later() {
    let mut sim = Sim::standard();
    let w = watcher(&mut sim, QoS::AtMostOnce);
    let mut c = with_will("dev", "will/dev", "once", QoS::AtMostOnce, false);
    c.keep_alive = 1;
    let (dev, _) = sim.connect_with(c);
    sim.advance(1_500);
    sim.drop_conn(dev);
    assert_eq!(payloads(&sim.publishes(w)), ["once"]);
}

#[test]
fn will_published_event_names_client_and_topic() {
    let mut sim = Sim::standard();
    let (dev, _) = sim.connect_with(with_will("dev", "will/dev", "x", QoS::AtMostOnce, false));
    sim.drop_conn(dev);
    let wills = sim.events_where(|e| match e {
        Event::WillPublished { client_id, topic } => Some((client_id.clone(), topic.to_string())),
        _ => None,
    });
    assert_eq!(wills, [("dev".to_string(), "will/dev".to_string())]);
}

#[test]
fn will_reaches_an_offline_persistent_subscriber_queue() {
    let mut sim = Sim::standard();
    let w = sim.connect("watcher", false);
    sim.subscribe(w, &[("will/#", QoS::AtLeastOnce)]);
    sim.drop_conn(w);
    let (dev, _) = sim.connect_with(with_will(
        "dev",
        "will/dev",
        "queued",
        QoS::AtLeastOnce,
        false,
    ));
    sim.drop_conn(dev);
    let w = sim.connect("watcher", false);
    assert_eq!(payloads(&sim.publishes(w)), ["queued"]);
}
