//! Scenarios with a policy document: parsed when the world is built, enforced, traced
//! with the reason of each denial, and replayed identically.

mod support;

use broker_core::{Config, Profile};
use broker_wasm::{Action, DeviceSpec, Numbered, Scenario, TraceEntry, World};
use support::*;

const DENY_CMD: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    { "Effect": "Allow", "Action": "iot:*", "Resource": "*" },
    {
      "Effect": "Deny",
      "Action": "iot:Subscribe",
      "Resource": "arn:aws:iot:us-east-1:123456789012:topicfilter/cmd/*"
    }
  ]
}"#;

fn with_policy(profile: Profile, policy: &str) -> Scenario {
    let mut config = Config::for_profile(profile);
    config.seed = 7;
    Scenario {
        policy: Some(policy.to_owned()),
        ..Scenario::new(config)
    }
}

fn denials(trace: &[Numbered]) -> Vec<(String, String)> {
    trace
        .iter()
        .filter_map(|n| match &n.entry {
            TraceEntry::PolicyDenied { action, reason, .. } => {
                Some((action.clone(), reason.clone()))
            }
            _ => None,
        })
        .collect()
}

fn run(profile: Profile) -> World {
    let mut w = World::new(&with_policy(profile, DENY_CMD));
    let d = device(&mut w, DeviceSpec::new("dev"));
    wait(&mut w, 100);
    publish(&mut w, d, "telemetry/dev", "1", 1);
    subscribe(&mut w, d, "cmd/#", 1);
    wait(&mut w, 100);
    w
}

#[test]
fn a_deny_statement_is_named_in_the_denial() {
    for profile in [Profile::Standard, Profile::AwsIot] {
        let mut w = run(profile);
        let trace = w.poll_trace();
        assert_eq!(
            denials(&trace),
            [(
                "iot:Subscribe".to_owned(),
                "policy: iot:Subscribe on topicfilter/cmd/# denied by statement 2 of policy \
                 \"global\""
                    .to_owned()
            )],
            "{profile:?}"
        );
    }
}

#[test]
fn a_scenario_with_a_policy_replays_to_the_identical_trace() {
    for profile in [Profile::Standard, Profile::AwsIot] {
        let live = run(profile);
        let json = serde_json::to_string(live.scenario()).expect("serializes");
        assert!(json.contains("\"policy\""), "{json}");
        let back: Scenario = serde_json::from_str(&json).expect("parses");
        assert_eq!(back.policy.as_deref(), Some(DENY_CMD));
        let replayed = World::replay(&back, Some(live.now())).expect("replay");
        let trace = |w: &World| {
            serde_json::to_string(&w.trace().entries().collect::<Vec<_>>()).expect("trace")
        };
        assert_eq!(trace(&replayed), trace(&live), "{profile:?}");
    }
}

#[test]
fn a_scenario_without_a_policy_serializes_as_before_and_allows_everything() {
    let mut w = world(Profile::AwsIot);
    let d = device(&mut w, DeviceSpec::new("dev"));
    wait(&mut w, 100);
    subscribe(&mut w, d, "cmd/#", 1);
    wait(&mut w, 100);
    assert!(denials(&w.poll_trace()).is_empty());
    let json = serde_json::to_string(w.scenario()).expect("serializes");
    assert!(!json.contains("policy"), "{json}");
}

#[test]
fn a_malformed_policy_reports_line_and_column_and_denies_everything() {
    let scenario = with_policy(Profile::AwsIot, "{\n  \"Statement\": [\n    { \"Effect\": ");
    let err = scenario.policy_set().expect_err("malformed");
    assert!(err.line >= 3, "{err}");
    assert!(err.column > 0, "{err}");
    // A world built from it anyway enforces nothing it cannot read: default deny.
    let mut w = World::new(&scenario);
    w.apply(Action::Spawn {
        spec: DeviceSpec::new("dev"),
    })
    .expect("spawn");
    w.apply(Action::Connect { device: 0 }).expect("connect");
    wait(&mut w, 100);
    let denied = denials(&w.poll_trace());
    assert_eq!(denied.len(), 1);
    assert!(denied[0].1.ends_with("(default deny)"), "{denied:?}");
}

/// A device's user name or certificate common name is its principal: the document
/// attached to that principal applies to it alone, and a device whose principal has no
/// document is denied (AWS's default deny), `${iot:Certificate.Subject.CommonName}`
/// included.
#[test]
fn a_principal_gets_its_own_document_and_others_are_denied() {
    let own = r#"{ "Version": "2012-10-17", "Statement": [
        { "Effect": "Allow", "Action": "iot:Connect", "Resource": "*" },
        { "Effect": "Allow", "Action": "iot:Publish",
          "Resource": "arn:aws:iot:us-east-1:123456789012:topic/lab/open" } ] }"#;
    let by_name = r#"{ "Version": "2012-10-17", "Statement": [
        { "Effect": "Allow", "Action": "iot:Connect", "Resource": "*" },
        { "Effect": "Allow", "Action": "iot:Publish",
          "Resource": "arn:aws:iot:us-east-1:123456789012:topic/cert/${iot:Certificate.Subject.CommonName}" } ] }"#;
    let mut config = Config::for_profile(Profile::Standard);
    config.seed = 7;
    let mut scenario = Scenario::new(config);
    scenario
        .principal_policies
        .insert("sensor-7".into(), own.into());
    scenario
        .principal_policies
        .insert("cam-1".into(), by_name.into());
    let mut w = World::new(&scenario);
    let sensor = device(
        &mut w,
        DeviceSpec {
            username: Some("sensor-7".into()),
            ..DeviceSpec::new("dev-a")
        },
    );
    let camera = device(
        &mut w,
        DeviceSpec {
            certificate: Some("cam-1".into()),
            ..DeviceSpec::new("dev-c")
        },
    );
    device(&mut w, DeviceSpec::new("dev-b"));
    wait(&mut w, 100);
    publish(&mut w, sensor, "lab/open", "1", 1);
    publish(&mut w, sensor, "lab/secret", "2", 1);
    publish(&mut w, camera, "cert/cam-1", "3", 1);
    wait(&mut w, 100);
    let trace = w.poll_trace();
    let denied: Vec<(String, String)> = trace
        .iter()
        .filter_map(|n| match &n.entry {
            TraceEntry::PolicyDenied {
                client_id,
                resource,
                ..
            } => Some((client_id.clone(), resource.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        denied,
        [
            (
                "dev-b".to_owned(),
                "arn:aws:iot:us-east-1:123456789012:client/dev-b".to_owned()
            ),
            (
                "dev-a".to_owned(),
                "arn:aws:iot:us-east-1:123456789012:topic/lab/secret".to_owned()
            ),
        ]
    );
}
