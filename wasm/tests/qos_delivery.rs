//! Messages between virtual devices at each QoS, over links with latency.

mod support;

use broker_core::Profile;
use broker_wasm::{DeviceSpec, DEFAULT_LATENCY_MS};
use support::*;

#[test]
fn a_spawned_device_connects_one_round_trip_later() {
    let mut w = world(Profile::Standard);
    let a = device(&mut w, DeviceSpec::new("a"));
    assert_eq!(w.device(a).expect("a").state.name(), "disconnected");
    wait(&mut w, 2 * DEFAULT_LATENCY_MS);
    assert_eq!(w.device(a).expect("a").state.name(), "connected");
    let trace = w.poll_trace();
    let connect = packets(&trace)[0];
    assert_eq!(
        (connect.kind, connect.sent_at, connect.arrives_at),
        ("CONNECT", 0, 20)
    );
    assert_eq!(arrows(&trace, a), ["CONNECT>", "<CONNACK"]);
}

#[test]
fn each_qos_takes_its_own_handshake_on_both_hops() {
    for (qos, publisher_side, subscriber_side) in [
        (0, vec!["PUBLISH>"], vec!["<PUBLISH"]),
        (1, vec!["PUBLISH>", "<PUBACK"], vec!["<PUBLISH", "PUBACK>"]),
        (
            2,
            vec!["PUBLISH>", "<PUBREC", "PUBREL>", "<PUBCOMP"],
            vec!["<PUBLISH", "PUBREC>", "<PUBREL", "PUBCOMP>"],
        ),
    ] {
        let mut w = world(Profile::Standard);
        let s = device(&mut w, DeviceSpec::new("s"));
        let p = device(&mut w, DeviceSpec::new("p"));
        wait(&mut w, 100);
        subscribe(&mut w, s, "t/#", 2);
        wait(&mut w, 100);
        w.poll_trace();
        publish(&mut w, p, "t/x", "hello", qos);
        wait(&mut w, 500);
        let trace = w.poll_trace();
        assert_eq!(arrows(&trace, p), publisher_side, "QoS {qos}, publisher");
        assert_eq!(arrows(&trace, s), subscriber_side, "QoS {qos}, subscriber");
        assert_eq!(inbox(&w, s), ["hello"]);
        let m = &w.device(s).expect("s").inbox[0];
        assert_eq!((m.topic.as_str(), m.qos), ("t/x", qos));
    }
}

#[test]
fn an_unsubscribed_device_receives_nothing_more() {
    let mut w = world(Profile::Standard);
    let s = device(&mut w, DeviceSpec::new("s"));
    let p = device(&mut w, DeviceSpec::new("p"));
    wait(&mut w, 100);
    subscribe(&mut w, s, "t", 1);
    wait(&mut w, 100);
    publish(&mut w, p, "t", "one", 1);
    wait(&mut w, 100);
    w.apply(broker_wasm::Action::Unsubscribe {
        device: s,
        filter: "t".into(),
    })
    .expect("unsubscribe");
    wait(&mut w, 100);
    publish(&mut w, p, "t", "two", 1);
    wait(&mut w, 100);
    assert_eq!(inbox(&w, s), ["one"]);
}

#[test]
fn without_auto_ack_a_message_waits_for_the_manual_ack() {
    let mut w = world(Profile::Standard);
    let s = device(
        &mut w,
        DeviceSpec {
            auto_ack: false,
            ..DeviceSpec::new("s")
        },
    );
    let p = device(&mut w, DeviceSpec::new("p"));
    wait(&mut w, 100);
    subscribe(&mut w, s, "t", 1);
    wait(&mut w, 100);
    publish(&mut w, p, "t", "ack me", 1);
    wait(&mut w, 100);
    assert_eq!(w.device(s).expect("s").unacked, [1]);
    assert_eq!(
        w.sessions()
            .iter()
            .find(|v| v.client_id == "s")
            .expect("s")
            .inflight
            .len(),
        1
    );
    w.apply(broker_wasm::Action::Ack {
        device: s,
        packet_id: 1,
    })
    .expect("ack");
    wait(&mut w, 100);
    assert!(w.device(s).expect("s").unacked.is_empty());
    assert!(w.sessions().iter().all(|v| v.inflight.is_empty()));
}

#[test]
fn refused_actions_change_nothing_and_are_not_recorded() {
    let mut w = world(Profile::Standard);
    let a = device(&mut w, DeviceSpec::new("a"));
    let before = w.scenario().actions.len();
    let traced = w.trace().len_total();
    assert!(
        w.apply(broker_wasm::Action::Connect { device: a }).is_err(),
        "already connecting"
    );
    assert!(
        w.apply(broker_wasm::Action::Connect { device: 9 }).is_err(),
        "no such device"
    );
    let bad_qos = broker_wasm::Action::Subscribe {
        device: a,
        filter: "t".into(),
        qos: 3,
        options: Default::default(),
    };
    assert!(w.apply(bad_qos).is_err());
    let bad_filter = broker_wasm::Action::Subscribe {
        device: a,
        filter: "a/#/b".into(),
        qos: 0,
        options: Default::default(),
    };
    assert!(w.apply(bad_filter).is_err());
    assert_eq!(w.scenario().actions.len(), before);
    assert_eq!(
        w.trace().len_total(),
        traced,
        "no trace entry for a refused action"
    );
}
