//! D1: AWS delivers QoS 0 "zero or more times"; `aws.qos0_duplicate_probability`.

mod support;

use broker_core::*;
use support::*;

fn run(p: f64, seed: u64, messages: usize) -> (Sim, ConnId) {
    let mut sim = aws_sim(|r| r.qos0_duplicate_probability = p);
    sim.broker = Broker::new(Config {
        seed,
        ..sim.broker.config().clone()
    });
    let s = connect_aws(&mut sim, "s", true);
    sim.subscribe(s, &[("t", QoS::AtMostOnce)]);
    let p = connect_aws(&mut sim, "p", true);
    for i in 0..messages {
        sim.publish(p, "t", &format!("m{i}"), QoS::AtMostOnce, false, 0);
        // Stay under the 100 publishes per second quota.
        sim.advance(20);
    }
    (sim, s)
}

#[test]
fn rule_off_delivers_each_qos0_message_once() {
    let (mut sim, s) = run(0.0, 1, 50);
    assert_eq!(sim.publishes(s).len(), 50);
    assert!(fired(&sim).iter().all(|(code, _)| *code != "D1"));
}

#[test]
fn rule_on_delivers_a_second_identical_copy_without_dup() {
    let (mut sim, s) = run(1.0, 1, 1);
    // CONNACK (4) and SUBACK (5), then the same QoS 0 PUBLISH twice: 30 05 00 01 't' 'm' '0'.
    let publish = [0x30, 0x05, 0x00, 0x01, b't', b'm', b'0'];
    assert_eq!(&sim.wire(s)[9..], [publish, publish].concat());
    assert_eq!(payloads(&sim.publishes(s)), ["m0", "m0"]);
    assert_eq!(fired(&sim), [("D1", Some(s))]);
}

#[test]
fn duplicates_follow_the_probability_and_the_seed() {
    let count = |seed| {
        let (mut sim, s) = run(0.5, seed, 200);
        sim.publishes(s).len()
    };
    let a = count(7);
    assert!(a > 200 && a < 400, "about half duplicated: {a}");
    assert_eq!(a, count(7), "the same seed duplicates the same messages");
}

#[test]
fn qos1_deliveries_are_never_duplicated_by_d1() {
    let mut sim = aws_sim(|r| r.qos0_duplicate_probability = 1.0);
    let s = connect_aws(&mut sim, "s", true);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    let p = connect_aws(&mut sim, "p", true);
    sim.publish(p, "t", "x", QoS::AtLeastOnce, false, 1);
    assert_eq!(sim.publishes(s).len(), 1);
}

#[test]
fn the_standard_profile_ignores_the_aws_key() {
    let mut config = Config::default();
    config.aws.qos0_duplicate_probability = 1.0;
    let mut sim = Sim::new(config);
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("t", QoS::AtMostOnce)]);
    let p = sim.connect("p", true);
    sim.publish(p, "t", "x", QoS::AtMostOnce, false, 0);
    assert_eq!(sim.publishes(s).len(), 1);
}
