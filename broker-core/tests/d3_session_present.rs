//! D3: a resumed persistent session answers CONNACK session present = 1.

mod support;

use broker_core::*;
use support::*;

#[test]
fn resuming_a_persistent_session_sets_session_present_and_fires_d3() {
    let mut sim = aws_sim(|_| {});
    let c = connect_aws(&mut sim, "dev", false);
    sim.drop_conn(c);
    // AWS accepts one CONNECT per second per client id.
    sim.advance(1_000);
    let mut again = connect("dev", false);
    again.keep_alive = 60;
    let (c2, ack) = sim.connect_with(again);
    assert_eq!(
        ack,
        Some(ConnAck {
            properties: None,
            session_present: true,
            code: ConnectReturnCode::Accepted.into()
        })
    );
    assert_eq!(&sim.wire(c2)[..4], [0x20, 0x02, 0x01, 0x00]);
    assert_eq!(fired(&sim), [("D3", Some(c2))]);
}

#[test]
fn a_new_or_clean_session_has_no_session_present_and_no_d3() {
    let mut sim = aws_sim(|_| {});
    let c = connect_aws(&mut sim, "dev", false);
    assert_eq!(&sim.wire(c)[..4], [0x20, 0x02, 0x00, 0x00]);
    sim.drop_conn(c);
    // AWS accepts one CONNECT per second per client id.
    sim.advance(1_000);
    let mut clean = connect("dev", true);
    clean.keep_alive = 60;
    let (_, ack) = sim.connect_with(clean);
    assert_eq!(ack.map(|a| a.session_present), Some(false));
    assert!(fired(&sim).is_empty());
}
