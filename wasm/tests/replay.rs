//! A recorded scenario replays to the same trace, byte for byte.

mod support;

use broker_core::{Config, Profile};
use broker_wasm::{Action, DeviceSpec, Scenario, World};
use support::*;

/// A busy run with randomness in play: D1, D7 and D8 draw from the seeded generator.
fn busy_world() -> World {
    let mut config = Config::for_profile(Profile::AwsIot);
    config.seed = 42;
    config.aws.qos0_duplicate_probability = 0.3;
    config.aws.resend_probability = 0.3;
    config.aws.reorder_probability = 0.3;
    let mut w = World::new(&Scenario::new(config));
    let s = device(&mut w, DeviceSpec::new("s"));
    wait(&mut w, 100);
    subscribe(&mut w, s, "load/#", 1);
    for i in 0..5u32 {
        let p = device(&mut w, DeviceSpec::new(&format!("p{i}")));
        w.apply(Action::AutoPublish {
            device: p,
            topic: format!("load/{i}"),
            qos: u8::from(i % 2 == 1),
            every_ms: Some(250 + u64::from(i) * 10),
            first_in_ms: Some(u64::from(i) * 7),
        })
        .expect("auto publish");
    }
    wait(&mut w, 3_000);
    w.apply(Action::DropNetwork { device: s }).expect("drop");
    wait(&mut w, 500);
    w.apply(Action::Connect { device: s }).expect("reconnect");
    wait(&mut w, 2_000);
    w
}

fn trace_json(w: &World) -> String {
    let entries: Vec<_> = w.trace().entries().collect();
    serde_json::to_string(&entries).expect("trace serializes")
}

#[test]
fn a_scenario_replays_to_the_identical_trace() {
    let live = busy_world();
    let rules_seen = rules(&live.trace().entries().cloned().collect::<Vec<_>>()).len();
    assert!(rules_seen > 0, "the randomised rules fired");
    let json = serde_json::to_string(live.scenario()).expect("scenario serializes");
    let scenario: Scenario = serde_json::from_str(&json).expect("scenario parses");
    let replayed = World::replay(&scenario, Some(live.now())).expect("replay");
    assert_eq!(replayed.now(), live.now());
    assert_eq!(trace_json(&replayed), trace_json(&live));
    assert_eq!(replayed.devices(), live.devices());
}

#[test]
fn another_seed_gives_another_trace() {
    let live = busy_world();
    let mut scenario = live.scenario().clone();
    scenario.config.seed = 43;
    let other = World::replay(&scenario, Some(live.now())).expect("replay");
    assert_ne!(trace_json(&other), trace_json(&live));
}
