//! The random rules (D1, D7, D8) draw from the seeded generator: the same seed and
//! inputs give the same duplicates, resends and order.

mod support;

use broker_core::*;
use support::*;

fn run(seed: u64) -> Vec<u8> {
    let mut config = Config::for_profile(Profile::AwsIot);
    config.seed = seed;
    config.aws.qos0_duplicate_probability = 0.3;
    config.aws.resend_probability = 0.3;
    config.aws.reorder_probability = 0.3;
    let mut sim = Sim::new(config);
    let s = connect_aws(&mut sim, "s", true);
    sim.subscribe(s, &[("q0", QoS::AtMostOnce), ("q1", QoS::AtLeastOnce)]);
    let p = connect_aws(&mut sim, "p", true);
    for i in 0..60u16 {
        let mut batch = Vec::new();
        for (t, q) in [("q0", QoS::AtMostOnce), ("q1", QoS::AtLeastOnce)] {
            Packet::Publish(publish(t, &format!("{t}-{i}"), q, false, i + 1)).encode(&mut batch);
        }
        sim.send_raw(p, &batch);
        for got in sim.publishes(s) {
            if let Some(id) = got.packet_id {
                sim.send(s, Packet::puback(id));
            }
        }
        sim.advance(50);
    }
    sim.wire(s).to_vec()
}

#[test]
fn same_seed_same_bytes() {
    assert_eq!(run(11), run(11));
}

#[test]
fn another_seed_other_bytes() {
    assert_ne!(run(11), run(12));
}
