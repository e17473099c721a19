//! D7: AWS occasionally sends the same logical PUBLISH again with a different packet id
//! and DUP=0; `aws.resend_probability`.

mod support;

use broker_core::*;
use support::*;

fn setup(p: f64) -> (Sim, ConnId, ConnId) {
    let mut sim = aws_sim(|r| r.resend_probability = p);
    let s = connect_aws(&mut sim, "s", true);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    let publisher = connect_aws(&mut sim, "p", true);
    (sim, s, publisher)
}

#[test]
fn rule_on_sends_a_second_copy_with_a_new_packet_id_and_dup_0() {
    let (mut sim, s, p) = setup(1.0);
    sim.publish(p, "t", "x", QoS::AtLeastOnce, false, 1);
    let got = sim.publishes(s);
    assert_eq!(payloads(&got), ["x", "x"]);
    assert_eq!(got[0].packet_id, Some(pid(1)));
    assert_eq!(got[1].packet_id, Some(pid(2)));
    assert!(got.iter().all(|p| !p.dup));
    // The exact bytes of the repeat: PUBLISH QoS 1, topic "t", id 2, payload "x".
    let wire = sim.wire(s);
    assert_eq!(
        &wire[wire.len() - 8..],
        [0x32, 0x06, 0x00, 0x01, b't', 0x00, 0x02, b'x']
    );
    assert_eq!(fired(&sim), [("D7", Some(s))]);
}

#[test]
fn both_copies_are_acknowledged_separately() {
    let (mut sim, s, p) = setup(1.0);
    sim.publish(p, "t", "x", QoS::AtLeastOnce, false, 1);
    for publish in sim.publishes(s) {
        sim.send(s, Packet::puback(publish.packet_id.expect("id")));
    }
    assert_eq!(sim.broker.session("s").map(|v| v.inflight.len()), Some(0));
}

#[test]
fn rule_off_sends_one_copy() {
    let (mut sim, s, p) = setup(0.0);
    sim.publish(p, "t", "x", QoS::AtLeastOnce, false, 1);
    assert_eq!(sim.publishes(s).len(), 1);
    assert!(fired(&sim).is_empty());
}
