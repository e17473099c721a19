//! D6: a second connection with a client id in use is accepted and the older one is
//! closed, with lifecycle reason DUPLICATE_CLIENTID and its Will published.

mod support;

use broker_core::*;
use support::*;

#[test]
fn the_older_connection_is_closed_and_d6_fires() {
    let mut sim = aws_sim(|_| {});
    let old = connect_aws(&mut sim, "dev", true);
    sim.advance(1_000); // one CONNECT per second per client id
    let new = connect_aws(&mut sim, "dev", true);
    assert_eq!(sim.closed(old), Some(&CloseReason::TakenOver { by: new }));
    assert_eq!(
        &sim.wire(new)[..4],
        [0x20, 0x02, 0x00, 0x00],
        "the newcomer is accepted"
    );
    assert_eq!(fired(&sim), [("D6", Some(old))]);
}

#[test]
fn lifecycle_reports_duplicate_clientid_and_the_will_is_published() {
    let mut sim = aws_sim(|_| {});
    let watcher = connect_aws(&mut sim, "watcher", true);
    sim.subscribe(
        watcher,
        &[
            ("$aws/events/presence/disconnected/dev", QoS::AtMostOnce),
            ("will", QoS::AtMostOnce),
        ],
    );
    let mut c = connect("dev", true);
    c.keep_alive = 60;
    c.will = Some(LastWill {
        properties: Properties::new(),
        topic: topic("will"),
        payload: "old one gone".into(),
        qos: QoS::AtMostOnce,
        retain: false,
    });
    sim.connect_with(c);
    sim.advance(1_000); // one CONNECT per second per client id
    connect_aws(&mut sim, "dev", true);
    let got = sim.publishes(watcher);
    let texts = payloads(&got);
    assert_eq!(texts.len(), 2);
    assert!(
        texts[0].contains(r#""disconnectReason":"DUPLICATE_CLIENTID""#),
        "{}",
        texts[0]
    );
    assert!(texts[0].contains(r#""clientInitiatedDisconnect":false"#));
    assert_eq!(texts[1], "old one gone");
}

#[test]
fn the_standard_profile_takes_over_without_firing_a_rule() {
    let mut sim = Sim::standard();
    let old = sim.connect("dev", true);
    sim.connect("dev", true);
    assert!(sim.closed(old).is_some());
    assert!(fired(&sim).is_empty());
}
