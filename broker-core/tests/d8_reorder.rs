//! D8: no ordering guarantee for messages and acknowledgements;
//! `aws.reorder_probability` holds an outgoing packet back behind the next one.

mod support;

use broker_core::*;
use support::*;

/// Three QoS 0 messages arriving in one read, fanned out to one subscriber.
fn order(p: f64, seed: u64) -> (Vec<String>, Vec<(&'static str, Option<ConnId>)>) {
    let mut config = Config::for_profile(Profile::AwsIot);
    config.aws.reorder_probability = p;
    config.seed = seed;
    let mut sim = Sim::new(config);
    let s = connect_aws(&mut sim, "s", true);
    sim.subscribe(s, &[("t", QoS::AtMostOnce)]);
    let publisher = connect_aws(&mut sim, "p", true);
    let mut batch = Vec::new();
    for m in ["a", "b", "c"] {
        Packet::Publish(publish("t", m, QoS::AtMostOnce, false, 0)).encode(&mut batch);
    }
    sim.send_raw(publisher, &batch);
    let got = payloads(&sim.publishes(s));
    (got, fired(&sim))
}

#[test]
fn rule_on_holds_a_packet_behind_the_next_one() {
    let (got, rules) = order(1.0, 1);
    // "a" is held, "b" overtakes it, then "c" is held until the input is handled.
    assert_eq!(got, ["b", "a", "c"]);
    assert_eq!(rules.iter().filter(|(code, _)| *code == "D8").count(), 1);
}

#[test]
fn rule_off_keeps_the_order() {
    let (got, rules) = order(0.0, 1);
    assert_eq!(got, ["a", "b", "c"]);
    assert!(rules.is_empty());
}

#[test]
fn a_single_packet_is_never_lost_when_held() {
    let mut sim = aws_sim(|r| r.reorder_probability = 1.0);
    let c = connect_aws(&mut sim, "c", true);
    sim.send(c, Packet::PingReq);
    assert_eq!(sim.recv_all(c), [Packet::PingResp]);
}

#[test]
fn held_bytes_go_out_before_a_close() {
    let mut sim = aws_sim(|r| r.reorder_probability = 1.0);
    let c = connect_aws(&mut sim, "c", true);
    let mut batch = Packet::PingReq.to_bytes().to_vec();
    batch.extend_from_slice(&[0x30, 0x03, 0x00, 0x01, b'+']); // PUBLISH to "+": malformed
    sim.send_raw(c, &batch);
    assert_eq!(sim.recv_all(c), [Packet::PingResp]);
    assert!(sim.closed(c).is_some());
}
