//! The virtual network: fixed latency, first-in first-out links, and what a dropped
//! network loses.

mod support;

use broker_core::Profile;
use broker_wasm::{Action, DeviceSpec, TraceEntry, TRACE_CAP};
use support::*;

#[test]
fn packets_in_flight_to_a_dropped_device_are_lost() {
    let mut w = world(Profile::Standard);
    let s = device(&mut w, DeviceSpec::new("s"));
    let p = device(&mut w, DeviceSpec::new("p"));
    wait(&mut w, 100);
    subscribe(&mut w, s, "t", 0);
    wait(&mut w, 100);
    publish(&mut w, p, "t", "in flight", 0);
    // The PUBLISH reaches the broker after 20 ms and is on its way to `s` until 40 ms.
    wait(&mut w, 30);
    w.apply(Action::DropNetwork { device: s }).expect("drop");
    wait(&mut w, 100);
    let trace = w.poll_trace();
    let lost: Vec<_> = trace
        .iter()
        .filter_map(|n| match &n.entry {
            TraceEntry::Lost { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect();
    assert_eq!(lost, ["the network dropped"]);
    assert!(inbox(&w, s).is_empty());
    assert_eq!(w.device(s).expect("s").state.name(), "disconnected");
}

#[test]
fn keep_alive_pings_advance_with_the_virtual_clock() {
    let mut w = world(Profile::Standard);
    let a = device(
        &mut w,
        DeviceSpec {
            keep_alive: 5,
            ..DeviceSpec::new("a")
        },
    );
    wait(&mut w, 60_000);
    let trace = w.poll_trace();
    let pings = arrows(&trace, a)
        .iter()
        .filter(|k| *k == "PINGREQ>")
        .count();
    assert!(
        (11..=12).contains(&pings),
        "{pings} pings in 60 s at keep-alive 5 s"
    );
    assert_eq!(w.device(a).expect("a").state.name(), "connected");
}

#[test]
fn step_moves_to_the_next_event() {
    let mut w = world(Profile::Standard);
    device(&mut w, DeviceSpec::new("a"));
    assert_eq!(w.step(), Some(20), "CONNECT arrives");
    assert_eq!(w.step(), Some(40), "CONNACK arrives");
}

#[test]
fn the_trace_keeps_only_the_newest_entries() {
    let mut w = world(Profile::Standard);
    let a = device(
        &mut w,
        DeviceSpec {
            keep_alive: 1,
            ..DeviceSpec::new("a")
        },
    );
    // Two packets a second for three and a half hours: more than the cap.
    wait(&mut w, 12_600_000);
    assert_eq!(w.trace().entries().count(), TRACE_CAP);
    assert!(w.trace().forgotten() > 0);
    assert_eq!(w.device(a).expect("a").state.name(), "connected");
}
