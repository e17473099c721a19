//! Two devices with one client id: the newer connection takes over (MQTT-3.1.4-2, D6).

mod support;

use broker_core::Profile;
use broker_wasm::{DeviceSpec, TraceEntry};
use support::*;

#[test]
fn under_aws_iot_the_second_device_takes_over_and_d6_fires() {
    let mut w = world(Profile::AwsIot);
    let first = device(&mut w, DeviceSpec::new("sensor-1"));
    // AWS IoT accepts one CONNECT per second per client id; a quicker one is refused.
    wait(&mut w, 1_100);
    let second = device(&mut w, DeviceSpec::new("sensor-1"));
    wait(&mut w, 200);
    let trace = w.poll_trace();
    assert_eq!(rules(&trace), ["D6"]);
    assert_eq!(w.device(first).expect("first").state.name(), "disconnected");
    assert_eq!(w.device(second).expect("second").state.name(), "connected");
    let rule_device = trace.iter().find_map(|n| match &n.entry {
        TraceEntry::Rule { device, .. } => Some(*device),
        _ => None,
    });
    assert_eq!(
        rule_device,
        Some(Some(first)),
        "the rule names the connection it closes"
    );
    assert!(trace.iter().any(|n| matches!(
        n.entry,
        TraceEntry::TransportClosed { device, .. } if device == first
    )));
}

#[test]
fn under_mqtt_3_1_1_the_takeover_happens_without_a_rule() {
    let mut w = world(Profile::Standard);
    let first = device(&mut w, DeviceSpec::new("sensor-1"));
    wait(&mut w, 1_100);
    device(&mut w, DeviceSpec::new("sensor-1"));
    wait(&mut w, 200);
    let trace = w.poll_trace();
    assert!(rules(&trace).is_empty());
    assert_eq!(w.device(first).expect("first").state.name(), "disconnected");
}
