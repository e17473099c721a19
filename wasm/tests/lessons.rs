//! Every lesson runs under both profiles and shows what its explanation says.

mod support;

use broker_core::Profile;
use broker_wasm::lessons::{self, Lesson};
use broker_wasm::{DeviceId, Direction, Numbered, TraceEntry, World};
use support::*;

fn run(id: &str, profile: Profile) -> (World, Vec<Numbered>) {
    let lesson: Lesson = lessons::find(id).expect("lesson exists");
    let mut w = World::replay(&lesson.scenario(profile), Some(lesson.duration_ms)).expect("replay");
    let trace = w.poll_trace();
    (w, trace)
}

fn kinds(trace: &[Numbered]) -> Vec<&'static str> {
    packets(trace).into_iter().map(|p| p.kind).collect()
}

#[test]
fn there_are_at_least_seven_lessons_with_unique_ids() {
    let all = lessons::all();
    assert!(all.len() >= 7);
    let mut ids: Vec<_> = all.iter().map(|l| l.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all.len());
}

#[test]
fn every_lesson_replays_under_both_profiles_without_refused_actions() {
    for lesson in lessons::all() {
        for profile in [Profile::Standard, Profile::AwsIot] {
            let w = World::replay(&lesson.scenario(profile), Some(lesson.duration_ms));
            let w = w.unwrap_or_else(|e| panic!("{} under {profile:?}: {e}", lesson.id));
            assert_eq!(w.scenario().actions.len(), lesson.actions.len());
        }
    }
}

#[test]
fn qos0_vs_qos1_loses_only_the_offline_qos0_message() {
    for profile in [Profile::Standard, Profile::AwsIot] {
        let (w, _) = run("qos0-vs-qos1", profile);
        assert_eq!(
            inbox(&w, 0),
            ["q0 while online", "q1 while online", "q1 while offline"],
            "{profile:?}"
        );
    }
}

#[test]
fn qos1_redelivery_shows_the_message_again_with_dup() {
    for profile in [Profile::Standard, Profile::AwsIot] {
        let (w, _) = run("qos1-redelivery", profile);
        let inbox = w.device(0).expect("device").inbox;
        let dups: Vec<bool> = inbox.iter().map(|m| m.dup).collect();
        assert_eq!(dups, [false, true], "{profile:?}");
        assert!(
            w.sessions().iter().all(|s| s.inflight.is_empty()),
            "acked at the end"
        );
    }
}

#[test]
fn duplicate_client_id_fires_d6_only_under_aws_iot() {
    let (w, trace) = run("duplicate-client-id", Profile::AwsIot);
    assert!(rules(&trace).contains(&"D6"));
    assert_eq!(w.device(1).expect("first").state.name(), "disconnected");
    let observed = inbox(&w, 0).join("\n");
    assert!(observed.contains("DUPLICATE_CLIENTID"), "{observed}");
    let (w, trace) = run("duplicate-client-id", Profile::Standard);
    assert!(!rules(&trace).contains(&"D6"));
    assert_eq!(w.device(1).expect("first").state.name(), "disconnected");
}

#[test]
fn retain_is_delivered_under_mqtt_and_refused_under_aws() {
    let (w, _) = run("retain", Profile::Standard);
    assert_eq!(inbox(&w, 1), ["online"]);
    assert!(w.device(1).expect("late").inbox[0].retain);
    assert_eq!(w.retained().len(), 1);
    let (w, trace) = run("retain", Profile::AwsIot);
    assert!(rules(&trace).contains(&"D5"));
    assert!(inbox(&w, 1).is_empty());
    assert_eq!(w.device(0).expect("publisher").state.name(), "disconnected");
}

#[test]
fn persistent_session_resumes_with_its_queued_messages() {
    for profile in [Profile::Standard, Profile::AwsIot] {
        let (w, trace) = run("persistent-session", profile);
        assert_eq!(inbox(&w, 0), ["headline 1", "headline 2"], "{profile:?}");
        let resumed = trace.iter().any(|n| {
            matches!(
                n.entry,
                TraceEntry::Connected {
                    session_present: true,
                    ..
                }
            )
        });
        assert!(resumed, "{profile:?}");
        assert_eq!(rules(&trace).contains(&"D3"), profile == Profile::AwsIot);
    }
}

#[test]
fn qos2_gets_no_acknowledgement_under_aws_and_the_full_handshake_under_mqtt() {
    let (w, trace) = run("qos2-under-aws", Profile::AwsIot);
    assert!(rules(&trace).contains(&"D2"));
    assert!(!kinds(&trace).contains(&"SUBACK"));
    assert!(!kinds(&trace).contains(&"PUBREC"));
    assert!(inbox(&w, 0).is_empty());
    let (w, trace) = run("qos2-under-aws", Profile::Standard);
    assert!(rules(&trace).is_empty());
    for kind in ["SUBACK", "PUBREC", "PUBREL", "PUBCOMP"] {
        assert!(kinds(&trace).contains(&kind), "{kind}");
    }
    assert_eq!(inbox(&w, 0), ["exactly once?"]);
}

#[test]
fn the_will_is_published_on_a_drop_and_not_on_disconnect() {
    for profile in [Profile::Standard, Profile::AwsIot] {
        let (w, _) = run("will-on-network-drop", profile);
        assert_eq!(inbox(&w, 0), ["sensor-a went offline"], "{profile:?}");
    }
}

/// The one-line reasons of the policy denials, in order.
fn denials(trace: &[Numbered]) -> Vec<String> {
    trace
        .iter()
        .filter_map(|n| match &n.entry {
            TraceEntry::PolicyDenied { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

const DENIED: &str = "policy: iot:Subscribe on topicfilter/cmd/sensor-7 denied: no statement \
                      allows it (default deny)";

#[test]
fn subscribe_denied_loops_through_reconnects_under_aws_iot() {
    let (w, trace) = run("subscribe-denied", Profile::AwsIot);
    assert_eq!(denials(&trace), [DENIED; 3]);
    let closed: Vec<&str> = trace
        .iter()
        .filter_map(|n| match &n.entry {
            TraceEntry::Disconnected { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(closed.len(), 3, "{closed:?}");
    assert!(
        closed.iter().all(|r| r.contains("AUTH_ERROR")),
        "{closed:?}"
    );
    let connects = arrows(&trace, 0)
        .iter()
        .filter(|a| *a == "CONNECT>")
        .count();
    assert_eq!(connects, 3);
    assert!(
        !kinds(&trace).contains(&"SUBACK"),
        "no SUBACK before the close"
    );
    assert!(kinds(&trace).contains(&"PUBACK"), "the publish was allowed");
    // Every reconnect is accepted: they respect one CONNECT per second per client id.
    let accepted = trace
        .iter()
        .filter(|n| matches!(n.entry, TraceEntry::Connected { .. }))
        .count();
    assert_eq!(accepted, 3);
    assert!(rules(&trace).is_empty(), "{:?}", rules(&trace));
    assert_eq!(w.device(0).expect("device").state.name(), "disconnected");
}

#[test]
fn subscribe_denied_gets_suback_0x80_and_stays_connected_under_mqtt() {
    let (w, trace) = run("subscribe-denied", Profile::Standard);
    assert_eq!(denials(&trace), [DENIED; 3]);
    let subacks: Vec<&str> = packets(&trace)
        .into_iter()
        .filter(|p| p.kind == "SUBACK")
        .map(|p| p.label.as_str())
        .collect();
    assert_eq!(subacks.len(), 3);
    assert!(subacks.iter().all(|l| l.ends_with("0x80")), "{subacks:?}");
    let connects = arrows(&trace, 0)
        .iter()
        .filter(|a| *a == "CONNECT>")
        .count();
    assert_eq!(connects, 1, "the reconnects find the connection up");
    assert!(!trace
        .iter()
        .any(|n| matches!(n.entry, TraceEntry::Disconnected { .. })));
    assert_eq!(w.device(0).expect("device").state.name(), "connected");
}

/// Whether a CONNACK to `device` said Session Present, in order.
fn sessions_present(trace: &[Numbered], device: DeviceId) -> Vec<bool> {
    packets(trace)
        .into_iter()
        .filter(|p| p.device == device && p.kind == "CONNACK")
        .map(|p| p.bytes[2] & 1 == 1)
        .collect()
}

#[test]
fn session_expiry_keeps_the_session_for_its_interval_and_no_longer() {
    for profile in [Profile::Standard, Profile::AwsIot] {
        let (w, trace) = run("session-expiry", profile);
        assert_eq!(
            sessions_present(&trace, 0),
            [false, true, false],
            "{profile:?}"
        );
        assert_eq!(inbox(&w, 0), ["reroute 1"], "{profile:?}");
    }
}

#[test]
fn a_shared_subscription_gives_each_job_to_one_worker() {
    for profile in [Profile::Standard, Profile::AwsIot] {
        let (w, _) = run("shared-subscriptions", profile);
        let (first, second) = (inbox(&w, 0), inbox(&w, 1));
        let mut jobs: Vec<String> = first.iter().chain(&second).cloned().collect();
        jobs.sort();
        let all: Vec<String> = (1..=9).map(|i| format!("job {i}")).collect();
        assert_eq!(jobs, all, "each job once, to one worker ({profile:?})");
        assert_eq!(
            inbox(&w, 2),
            all,
            "the auditor gets every job ({profile:?})"
        );
        for late in ["job 7", "job 8", "job 9"] {
            assert!(second.iter().any(|j| j == late), "{late} {profile:?}");
        }
        assert!(
            !first.is_empty() && !second.is_empty(),
            "{first:?} {second:?}"
        );
    }
}

#[test]
fn topic_aliases_shorten_the_publishes_after_the_first() {
    const TOPIC_LEN: usize = "factory/line-4/press-12/telemetry/temperature".len();
    for profile in [Profile::Standard, Profile::AwsIot] {
        let (w, trace) = run("topic-aliases", profile);
        let sizes = |device: DeviceId, direction: Direction| -> Vec<usize> {
            packets(&trace)
                .into_iter()
                .filter(|p| p.kind == "PUBLISH" && p.device == device && p.direction == direction)
                .map(|p| p.bytes.len())
                .collect()
        };
        for (device, direction) in [(0, Direction::ToBroker), (1, Direction::ToDevice)] {
            let sizes = sizes(device, direction);
            assert_eq!(sizes.len(), 3, "{profile:?}");
            assert_eq!(sizes[0] - sizes[1], TOPIC_LEN, "{profile:?} {sizes:?}");
            assert_eq!(sizes[1], sizes[2], "{profile:?} {sizes:?}");
        }
        let legacy = sizes(2, Direction::ToDevice);
        assert!(legacy.iter().all(|&n| n == legacy[0]), "{legacy:?}");
        assert_eq!(inbox(&w, 1), ["71.2", "71.4", "71.9"]);
        assert_eq!(inbox(&w, 2), ["71.2", "71.4", "71.9"]);
    }
}

#[test]
fn only_the_mqtt5_device_is_told_why_it_was_dropped() {
    for profile in [Profile::Standard, Profile::AwsIot] {
        let (w, trace) = run("reason-codes", profile);
        assert_eq!(
            arrows(&trace, 0).last().map(String::as_str),
            Some("<DISCONNECT"),
            "{profile:?}"
        );
        let disconnect = packets(&trace)
            .into_iter()
            .find(|p| p.device == 0 && p.kind == "DISCONNECT")
            .expect("a DISCONNECT to the 5.0 meter");
        assert_eq!(disconnect.bytes[2], 0x8E, "Session taken over");
        assert!(
            !arrows(&trace, 1).contains(&"<DISCONNECT".to_owned()),
            "{profile:?}"
        );
        assert_eq!(w.device(0).expect("meter").state.name(), "disconnected");
        assert_eq!(w.device(1).expect("classic").state.name(), "disconnected");
        assert_eq!(rules(&trace).contains(&"D6"), profile == Profile::AwsIot);
    }
}

#[test]
fn receive_maximum_keeps_two_messages_in_flight() {
    for profile in [Profile::Standard, Profile::AwsIot] {
        let (w, trace) = run("flow-control", profile);
        // Walking the reader's arrows: PUBLISHes sent minus PUBACKs returned never
        // exceeds 2, and all five arrive.
        let mut in_flight = 0i32;
        let mut most = 0;
        for arrow in arrows(&trace, 0) {
            match arrow.as_str() {
                "<PUBLISH" => in_flight += 1,
                "PUBACK>" => in_flight -= 1,
                _ => {}
            }
            most = most.max(in_flight);
        }
        assert_eq!(most, 2, "{profile:?}");
        let alerts: Vec<String> = (1..=5).map(|i| format!("alert {i}")).collect();
        assert_eq!(inbox(&w, 0), alerts, "{profile:?}");
    }
}

#[test]
fn the_shadow_keeps_the_desired_state_for_an_offline_device_under_aws_only() {
    let (w, _) = run("shadow-offline", Profile::AwsIot);
    let lamp = inbox(&w, 0);
    assert_eq!(lamp.len(), 2, "{lamp:?}");
    let delta: serde_json::Value = serde_json::from_str(&lamp[0]).expect("JSON");
    assert_eq!(delta["state"], serde_json::json!({"power": "on"}));
    assert_eq!(delta["version"], serde_json::json!(2));
    let got: serde_json::Value = serde_json::from_str(&lamp[1]).expect("JSON");
    assert_eq!(got["state"]["delta"], serde_json::json!({"power": "on"}));
    let shadows = w.shadows();
    assert_eq!(shadows.len(), 1);
    assert_eq!(shadows[0].version, 3);
    assert_eq!(shadows[0].delta, None, "in step at the end");
    let (w, _) = run("shadow-offline", Profile::Standard);
    assert!(inbox(&w, 0).is_empty());
    assert!(w.shadows().is_empty());
}
