//! D5: retained messages. `aws.retain` = "disconnect" (RETAIN=1 closes the connection)
//! or "exact-match" (AWS's retained messages since 2021).

mod support;

use broker_core::*;
use support::*;

#[test]
fn disconnect_mode_closes_on_retain_and_keeps_nothing() {
    let mut sim = aws_sim(|_| {});
    let s = connect_aws(&mut sim, "s", true);
    sim.subscribe(s, &[("t", QoS::AtMostOnce)]);
    let p = connect_aws(&mut sim, "p", true);
    sim.publish(p, "t", "x", QoS::AtMostOnce, true, 0);
    assert_eq!(sim.closed(p), Some(&CloseReason::Rule(Rule::D5Retain)));
    assert_eq!(
        CloseReason::Rule(Rule::D5Retain).aws_reason(),
        "CLIENT_ERROR"
    );
    assert!(sim.publishes(s).is_empty(), "the message is not delivered");
    assert!(sim.broker.retained().is_empty());
    assert_eq!(fired(&sim), [("D5", Some(p))]);
}

#[test]
fn disconnect_mode_ignores_a_will_retain_flag() {
    let mut sim = aws_sim(|_| {});
    let mut c = connect("dev", true);
    c.keep_alive = 60;
    c.will = Some(LastWill {
        properties: Properties::new(),
        topic: topic("will"),
        payload: "x".into(),
        qos: QoS::AtMostOnce,
        retain: true,
    });
    let (dev, _) = sim.connect_with(c);
    sim.drop_conn(dev);
    assert!(sim.broker.retained().is_empty());
    assert!(fired(&sim).contains(&("D5", Some(dev))));
}

fn exact() -> Sim {
    aws_sim(|r| r.retain = RetainMode::ExactMatch)
}

#[test]
fn exact_match_mode_stores_and_delivers_to_exact_subscriptions() {
    let mut sim = exact();
    let p = connect_aws(&mut sim, "p", true);
    sim.publish(p, "dev/state", "on", QoS::AtLeastOnce, true, 1);
    assert!(sim.closed(p).is_none());
    let s = connect_aws(&mut sim, "s", true);
    sim.subscribe(s, &[("dev/state", QoS::AtLeastOnce)]);
    let got = sim.publishes(s);
    assert_eq!(payloads(&got), ["on"]);
    assert!(got[0].retain);
}

#[test]
fn exact_match_mode_never_delivers_retained_through_wildcards() {
    let mut sim = exact();
    let p = connect_aws(&mut sim, "p", true);
    sim.publish(p, "dev/state", "on", QoS::AtMostOnce, true, 0);
    let s = connect_aws(&mut sim, "s", true);
    sim.subscribe(s, &[("dev/+", QoS::AtMostOnce)]);
    assert!(sim.publishes(s).is_empty());
    assert_eq!(fired(&sim), [("D5", Some(s))]);
}

#[test]
fn exact_match_mode_deletes_with_a_zero_byte_payload() {
    let mut sim = exact();
    let p = connect_aws(&mut sim, "p", true);
    sim.publish(p, "dev/state", "on", QoS::AtMostOnce, true, 0);
    sim.publish(p, "dev/state", "", QoS::AtMostOnce, true, 0);
    assert!(sim.broker.retained().is_empty());
}

#[test]
fn the_standard_profile_keeps_retained_messages_for_wildcards() {
    let mut sim = Sim::standard();
    let p = sim.connect("p", true);
    sim.publish(p, "dev/state", "on", QoS::AtMostOnce, true, 0);
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("dev/+", QoS::AtMostOnce)]);
    assert_eq!(payloads(&sim.publishes(s)), ["on"]);
}
