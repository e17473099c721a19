//! D8: no ordering guarantee for messages and acknowledgements. With
//! `aws.reorder_probability`, an outgoing packet may be held for a seeded 1 to
//! `aws.reorder_max_delay_ms` milliseconds on the broker's clock, and packets sent
//! meanwhile overtake it.

mod support;

use broker_core::*;
use support::*;

/// A subscriber receives a stream of `n` QoS 1 messages published one per millisecond;
/// returns the payloads in the order received, and the rules that fired.
fn stream(p: f64, seed: u64, n: u16) -> (Vec<String>, Vec<(&'static str, Option<ConnId>)>) {
    let mut config = Config::for_profile(Profile::AwsIot);
    config.aws.reorder_probability = p;
    config.seed = seed;
    let mut sim = Sim::new(config);
    let s = connect_aws(&mut sim, "s", true);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    let publisher = connect_aws(&mut sim, "p", true);
    let mut got = Vec::new();
    for i in 0..n {
        let m = format!("m{i:02}");
        sim.send(
            publisher,
            Packet::Publish(publish("t", &m, QoS::AtLeastOnce, false, i + 1)),
        );
        sim.advance(1);
        for message in sim.publishes(s) {
            if let Some(id) = message.packet_id {
                sim.send(s, Packet::puback(id));
            }
            got.push(String::from_utf8_lossy(&message.payload).into_owned());
        }
    }
    // Longer than the longest hold: everything held has been released.
    sim.advance(1_000);
    for message in sim.publishes(s) {
        got.push(String::from_utf8_lossy(&message.payload).into_owned());
    }
    (got, fired(&sim))
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn rule_on_reorders_a_stream_and_loses_nothing() {
    let (got, rules) = stream(1.0, 7, 60);
    let sent: Vec<String> = (0..60).map(|i| format!("m{i:02}")).collect();
    assert_eq!(
        sorted(got.clone()),
        sent,
        "every message arrives exactly once"
    );
    assert_ne!(got, sent, "some messages overtook others");
    assert!(rules.iter().any(|(code, _)| *code == "D8"));
}

#[test]
fn rule_off_keeps_the_order() {
    let (got, rules) = stream(0.0, 7, 60);
    let sent: Vec<String> = (0..60).map(|i| format!("m{i:02}")).collect();
    assert_eq!(got, sent);
    assert!(rules.is_empty());
}

#[test]
fn acknowledgements_overtake_each_other_too() {
    let mut sim = aws_sim(|r| r.reorder_probability = 1.0);
    let p = connect_aws(&mut sim, "p", true);
    for i in 1..=30u16 {
        sim.send(
            p,
            Packet::Publish(publish("t", "x", QoS::AtLeastOnce, false, i)),
        );
        sim.advance(1);
    }
    sim.advance(1_000);
    let acks: Vec<u16> = sim
        .recv_all(p)
        .into_iter()
        .filter_map(|packet| match packet {
            Packet::PubAck(Ack { packet_id: id, .. }) => Some(id.get()),
            _ => None,
        })
        .collect();
    let mut ids = acks.clone();
    ids.sort_unstable();
    assert_eq!(ids, (1..=30).collect::<Vec<_>>(), "every PUBACK arrives");
    assert_ne!(acks, ids, "PUBACKs arrive out of order");
}

#[test]
fn a_held_packet_waits_at_most_the_max_delay() {
    let mut sim = aws_sim(|r| {
        r.reorder_probability = 1.0;
        r.reorder_max_delay_ms = 25;
    });
    let c = connect_aws(&mut sim, "c", true);
    sim.send(c, Packet::PingReq);
    assert_eq!(sim.recv_all(c), [], "the PINGRESP is held");
    sim.advance(25);
    assert_eq!(sim.recv_all(c), [Packet::PingResp]);
    // Only the keep-alive check is left: 1.5 times 60 s after the PINGREQ.
    assert_eq!(
        sim.broker.poll_timeout(),
        Some(Instant::from_millis(90_000))
    );
}

#[test]
fn connack_is_never_held() {
    let mut sim = aws_sim(|r| r.reorder_probability = 1.0);
    // `connect_aws` fails unless the CONNACK arrives at once.
    connect_aws(&mut sim, "c", true);
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
    assert_eq!(
        sim.broker.pending_timers(),
        0,
        "the close stopped the reorder timer"
    );
}

#[test]
fn at_most_32_packets_are_held_per_connection() {
    let mut sim = aws_sim(|r| r.reorder_probability = 1.0);
    let c = connect_aws(&mut sim, "c", true);
    for _ in 0..40 {
        sim.send(c, Packet::PingReq);
    }
    assert_eq!(
        sim.recv_all(c).len(),
        8,
        "past 32 held, packets go out at once"
    );
}

#[test]
fn the_same_inputs_at_the_same_times_give_the_same_bytes() {
    let run = || {
        let mut config = Config::for_profile(Profile::AwsIot);
        config.aws.reorder_probability = 0.5;
        config.seed = 3;
        let mut sim = Sim::new(config);
        let s = connect_aws(&mut sim, "s", true);
        sim.subscribe(s, &[("t", QoS::AtMostOnce)]);
        let p = connect_aws(&mut sim, "p", true);
        for i in 0..50u16 {
            sim.send(
                p,
                Packet::Publish(publish("t", &i.to_string(), QoS::AtMostOnce, false, 0)),
            );
            sim.advance(3);
        }
        sim.advance(1_000);
        sim.wire(s).to_vec()
    };
    assert_eq!(run(), run());
}
