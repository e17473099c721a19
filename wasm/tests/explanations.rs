//! What the simulator says about a rule and a close uses the configuration in force,
//! never AWS's defaults when a learner changed them.

mod support;

use broker_core::{Config, Profile};
use broker_wasm::{DeviceSpec, Scenario, TraceEntry, World};
use support::*;

#[test]
fn a_lowered_payload_quota_is_what_the_explanation_says() {
    let mut config = Config::for_profile(Profile::AwsIot);
    config.aws.max_payload = 1000;
    let mut w = World::new(&Scenario::new(config));
    let d = device(&mut w, DeviceSpec::new("big"));
    wait(&mut w, 100);
    publish(&mut w, d, "t", &"x".repeat(1001), 0);
    wait(&mut w, 100);
    let trace = w.poll_trace();
    let explanation = trace
        .iter()
        .find_map(|n| match &n.entry {
            TraceEntry::Rule {
                code: "Q-payload",
                explanation,
                ..
            } => Some(explanation.clone()),
            _ => None,
        })
        .expect("the payload quota fired");
    assert!(explanation.contains("1000 bytes"), "{explanation}");
    assert!(!explanation.contains("128 KiB"), "{explanation}");
    let closed = trace
        .iter()
        .find_map(|n| match &n.entry {
            TraceEntry::Disconnected { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .expect("the device was disconnected");
    assert!(
        closed.contains("1000 bytes") && closed.contains("CLIENT_ERROR"),
        "{closed}"
    );
}
