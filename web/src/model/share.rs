//! Sharing a run: the scenario in the page's URL, and the trace exported as JSON and
//! imported again.
//!
//! The URL fragment is `#scenario=<percent-encoded JSON>`, or `#lesson=<id>&profile=<name>`
//! for a lesson. A fragment never reaches the server, so a shared link works from any host.

use broker_wasm::{Numbered, Scenario, World};
use serde::Deserialize;
use serde_json::Value;

/// What the URL fragment asks the simulator to load.
#[derive(Clone, Debug, PartialEq)]
pub enum Fragment {
    /// A recorded scenario, replayed up to its last action.
    Scenario(String),
    /// A lesson, under a profile's name.
    Lesson {
        /// The lesson's id.
        id: String,
        /// `aws-iot` or `mqtt-3.1.1`, if given.
        profile: Option<String>,
    },
}

/// Reads a fragment (with or without its `#`).
pub fn parse_fragment(fragment: &str) -> Option<Fragment> {
    let fragment = fragment.strip_prefix('#').unwrap_or(fragment);
    let mut scenario = None;
    let mut lesson = None;
    let mut profile = None;
    for pair in fragment.split('&') {
        let (key, value) = pair.split_once('=')?;
        let value = percent_decode(value)?;
        match key {
            "scenario" => scenario = Some(value),
            "lesson" => lesson = Some(value),
            "profile" => profile = Some(value),
            _ => {}
        }
    }
    match (scenario, lesson) {
        (Some(json), _) => Some(Fragment::Scenario(json)),
        (None, Some(id)) => Some(Fragment::Lesson { id, profile }),
        (None, None) => None,
    }
}

/// The fragment that shares a scenario.
pub fn scenario_fragment(scenario: &Scenario) -> String {
    let json = serde_json::to_string(scenario).unwrap_or_default();
    format!("#scenario={}", percent_encode(&json))
}

/// The fragment that opens a lesson under a profile.
pub fn lesson_fragment(id: &str, profile: &str) -> String {
    format!(
        "#lesson={}&profile={}",
        percent_encode(id),
        percent_encode(profile)
    )
}

/// Escapes everything but unreserved characters (RFC 3986), so the JSON survives any
/// URL handling.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Undoes `percent_encode` (and any other valid percent-encoding); `None` if malformed.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// An exported run: the scenario that makes it, how far it ran, and the trace it made.
#[derive(Debug, Deserialize)]
pub struct Export {
    /// Always `brokerlab-trace`, so that other JSON is recognised as not ours.
    pub format: String,
    /// What replays it.
    pub scenario: Scenario,
    /// The virtual time it ran to, in milliseconds.
    pub now: u64,
    /// The trace entries kept (the newest `TRACE_CAP`).
    pub trace: Vec<Value>,
}

const FORMAT: &str = "brokerlab-trace";

/// The export of a world, as pretty JSON.
pub fn export(world: &World) -> String {
    let trace: Vec<&Numbered> = world.trace().entries().collect();
    let doc = serde_json::json!({
        "format": FORMAT,
        "scenario": world.scenario(),
        "now": world.now(),
        "trace": trace,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// What importing a trace found.
#[derive(Debug)]
pub struct Imported {
    /// The world, replayed from the export's scenario to its time.
    pub world: World,
    /// Whether the replay made exactly the exported trace; if not, the first entry that
    /// differs.
    pub verdict: Result<usize, usize>,
}

/// Replays an exported run and compares the trace it makes with the exported one.
pub fn import(json: &str) -> Result<Imported, String> {
    let doc: Export = serde_json::from_str(json).map_err(|e| format!("not a trace: {e}"))?;
    if doc.format != FORMAT {
        return Err(format!("not a brokerlab trace (format {:?})", doc.format));
    }
    doc.scenario
        .policy_set()
        .map_err(|e| format!("the scenario's policy is malformed: {e}"))?;
    let world = World::replay(&doc.scenario, Some(doc.now)).map_err(|e| e.to_string())?;
    let replayed: Vec<Value> = world
        .trace()
        .entries()
        .map(|n| serde_json::to_value(n).unwrap_or(Value::Null))
        .collect();
    let first_difference = replayed
        .iter()
        .zip(&doc.trace)
        .position(|(a, b)| a != b)
        .or_else(|| {
            (replayed.len() != doc.trace.len()).then(|| replayed.len().min(doc.trace.len()))
        });
    let verdict = match first_difference {
        None => Ok(replayed.len()),
        Some(i) => Err(i),
    };
    Ok(Imported { world, verdict })
}

#[cfg(test)]
mod tests {
    use super::*;
    use broker_core::{Config, Profile};
    use broker_wasm::{Action, DeviceSpec};

    fn small_world() -> World {
        let mut w = World::new(&Scenario::new(Config::for_profile(Profile::AwsIot)));
        for _ in 0..2 {
            let device = w.device_count() as u32;
            let spec = DeviceSpec::new("twin");
            w.apply(Action::Spawn { spec }).expect("spawn");
            w.apply(Action::Connect { device }).expect("connect");
            w.advance_to(w.now() + 100);
        }
        w
    }

    #[test]
    fn a_scenario_survives_the_url() {
        let w = small_world();
        let fragment = scenario_fragment(w.scenario());
        assert!(!fragment[1..].contains(['#', ' ', '"', '{']));
        let Some(Fragment::Scenario(json)) = parse_fragment(&fragment) else {
            panic!("not a scenario fragment: {fragment}");
        };
        let back: Scenario = serde_json::from_str(&json).expect("scenario JSON");
        assert_eq!(back.actions, w.scenario().actions);
    }

    #[test]
    fn a_lesson_link_names_its_profile() {
        let f = parse_fragment(&lesson_fragment("retain", "mqtt-3.1.1"));
        assert_eq!(
            f,
            Some(Fragment::Lesson {
                id: "retain".into(),
                profile: Some("mqtt-3.1.1".into())
            })
        );
        assert_eq!(parse_fragment("#%zz"), None);
        assert_eq!(parse_fragment(""), None);
    }

    #[test]
    fn an_exported_trace_imports_and_replays_identically() {
        let w = small_world();
        let imported = import(&export(&w)).expect("import");
        assert_eq!(imported.verdict, Ok(w.trace().entries().count()));
        assert_eq!(imported.world.now(), w.now());
    }

    #[test]
    fn a_scenario_with_a_policy_survives_the_url_and_the_export() {
        let lesson = broker_wasm::lessons::find("subscribe-denied").expect("lesson");
        let scenario = lesson.scenario(Profile::AwsIot);
        let w = World::replay(&scenario, Some(lesson.duration_ms)).expect("replay");
        let Some(Fragment::Scenario(json)) = parse_fragment(&scenario_fragment(w.scenario()))
        else {
            panic!("not a scenario fragment");
        };
        let back: Scenario = serde_json::from_str(&json).expect("scenario JSON");
        assert_eq!(back.policy, scenario.policy);
        let imported = import(&export(&w)).expect("import");
        assert_eq!(imported.verdict, Ok(w.trace().entries().count()));
        assert_eq!(imported.world.scenario().policy, scenario.policy);
        let mut doc: Value = serde_json::from_str(&export(&w)).expect("json");
        doc["scenario"]["policy"] = Value::from("{ \"Statement\": 3 }");
        let err = import(&doc.to_string()).expect_err("malformed policy");
        assert!(err.contains("malformed"), "{err}");
    }

    #[test]
    fn a_tampered_trace_is_reported_where_it_differs() {
        let w = small_world();
        let mut doc: Value = serde_json::from_str(&export(&w)).expect("json");
        doc["trace"][3]["at"] = Value::from(999_999);
        let imported = import(&doc.to_string()).expect("import");
        assert_eq!(imported.verdict, Err(3));
        assert!(import("{}").is_err());
    }
}
