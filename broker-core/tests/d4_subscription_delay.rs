//! D4: after SUBACK, a new subscription takes effect only after
//! `aws.subscription_delay_ms`; messages published meanwhile are not delivered to it.

mod support;

use broker_core::*;
use support::*;

fn setup(delay: u64) -> (Sim, ConnId, ConnId) {
    let mut sim = aws_sim(|r| r.subscription_delay_ms = delay);
    let s = connect_aws(&mut sim, "s", true);
    let p = connect_aws(&mut sim, "p", true);
    sim.subscribe(s, &[("t", QoS::AtMostOnce)]);
    (sim, s, p)
}

#[test]
fn messages_during_the_delay_are_not_delivered_and_fire_d4() {
    let (mut sim, s, p) = setup(500);
    sim.advance(499);
    sim.publish(p, "t", "early", QoS::AtMostOnce, false, 0);
    assert!(sim.publishes(s).is_empty());
    assert_eq!(fired(&sim), [("D4", Some(s))]);
    sim.advance(1);
    sim.publish(p, "t", "on time", QoS::AtMostOnce, false, 0);
    assert_eq!(payloads(&sim.publishes(s)), ["on time"]);
}

#[test]
fn rule_off_delivers_at_once() {
    let (mut sim, s, p) = setup(0);
    sim.publish(p, "t", "now", QoS::AtMostOnce, false, 0);
    assert_eq!(payloads(&sim.publishes(s)), ["now"]);
    assert!(fired(&sim).is_empty());
}

#[test]
fn resubscribing_keeps_the_original_start() {
    let (mut sim, s, p) = setup(500);
    sim.advance(500);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    sim.publish(p, "t", "still on", QoS::AtMostOnce, false, 0);
    assert_eq!(payloads(&sim.publishes(s)), ["still on"]);
}

#[test]
fn an_older_overlapping_subscription_still_delivers_without_d4() {
    let (mut sim, s, p) = setup(500);
    sim.advance(500);
    sim.subscribe(s, &[("+", QoS::AtMostOnce)]);
    sim.publish(p, "t", "via t", QoS::AtMostOnce, false, 0);
    assert_eq!(payloads(&sim.publishes(s)), ["via t"]);
    assert!(fired(&sim).is_empty());
}
