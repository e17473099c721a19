//! Slow consumers: while the shell reports a connection congested, QoS 0 is dropped for
//! it and QoS 1/2 waits in the bounded session queue; other subscribers are unaffected.

mod support;

use broker_core::*;
use support::*;

#[test]
fn qos0_is_dropped_for_a_congested_connection_only() {
    let mut sim = Sim::standard();
    let slow = sim.connect("slow", true);
    let fast = sim.connect("fast", true);
    sim.subscribe(slow, &[("t", QoS::AtMostOnce)]);
    sim.subscribe(fast, &[("t", QoS::AtMostOnce)]);
    sim.broker.handle_congestion(sim.now, slow, true);
    let p = sim.connect("p", true);
    sim.publish(p, "t", "x", QoS::AtMostOnce, false, 0);
    assert!(sim.publishes(slow).is_empty());
    assert_eq!(payloads(&sim.publishes(fast)), ["x"]);
    assert_eq!(sim.broker.stats().dropped_slow_consumer, 1);
    assert!(sim.events.iter().any(|e| matches!(
        e,
        Event::Dropped {
            reason: DropReason::SlowConsumer,
            ..
        }
    )));
}

#[test]
fn qos1_waits_while_congested_and_flows_in_order_afterwards() {
    let mut sim = Sim::standard();
    let slow = sim.connect("slow", false);
    sim.subscribe(slow, &[("t", QoS::AtLeastOnce)]);
    sim.broker.handle_congestion(sim.now, slow, true);
    let p = sim.connect("p", true);
    for i in 1..=3 {
        sim.publish(p, "t", &format!("m{i}"), QoS::AtLeastOnce, false, i);
    }
    assert!(sim.publishes(slow).is_empty());
    assert_eq!(sim.broker.session("slow").map(|s| s.queued), Some(3));
    sim.broker.handle_congestion(sim.now, slow, false);
    sim.drive();
    assert_eq!(payloads(&sim.publishes(slow)), ["m1", "m2", "m3"]);
}

#[test]
fn the_queue_bound_holds_while_congested() {
    let mut sim = Sim::new(Config {
        max_queued: 2,
        ..Config::default()
    });
    let slow = sim.connect("slow", false);
    sim.subscribe(slow, &[("t", QoS::AtLeastOnce)]);
    sim.broker.handle_congestion(sim.now, slow, true);
    let p = sim.connect("p", true);
    for i in 1..=5 {
        sim.publish(p, "t", "x", QoS::AtLeastOnce, false, i);
    }
    assert_eq!(sim.broker.session("slow").map(|s| s.queued), Some(2));
    assert_eq!(sim.broker.stats().dropped_queue_full, 3);
}
