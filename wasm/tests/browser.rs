//! The JavaScript API in a real browser (wasm-bindgen-test in headless Chromium; run by
//! `cargo xtask test`). Values are read back the way JavaScript code reads them.

#![cfg(target_arch = "wasm32")]

use broker_wasm::js::{Simulation, WasmBroker};
use js_sys::{Array, Reflect, JSON};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn object(json: &str) -> JsValue {
    JSON::parse(json).expect("test JSON parses")
}

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(key)).expect("an object")
}

fn text(value: &JsValue, key: &str) -> String {
    get(value, key).as_string().unwrap_or_default()
}

fn apply(sim: &mut Simulation, json: &str) {
    sim.apply(object(json))
        .map_err(JsValue::from)
        .expect("action applies");
}

#[wasm_bindgen_test]
fn a_simulation_carries_a_message_and_traces_every_packet() {
    let mut sim = Simulation::new(r#"{"config": {"profile": "mqtt-3.1.1"}, "latency_ms": 10}"#)
        .map_err(JsValue::from)
        .expect("scenario");
    apply(&mut sim, r#"{"type": "spawn", "spec": {"client_id": "s"}}"#);
    apply(&mut sim, r#"{"type": "connect", "device": 0}"#);
    apply(&mut sim, r#"{"type": "spawn", "spec": {"client_id": "p"}}"#);
    apply(&mut sim, r#"{"type": "connect", "device": 1}"#);
    sim.advance_by(100.0);
    apply(
        &mut sim,
        r#"{"type": "subscribe", "device": 0, "filter": "t/+", "qos": 1}"#,
    );
    sim.advance_by(100.0);
    apply(
        &mut sim,
        r#"{"type": "publish", "device": 1, "topic": "t/a", "payload": "hi", "qos": 1}"#,
    );
    sim.advance_by(100.0);
    assert_eq!(sim.now(), 300.0);

    let trace = Array::from(&sim.poll_trace().map_err(JsValue::from).expect("trace"));
    let packets: Vec<JsValue> = trace
        .iter()
        .filter(|e| text(e, "type") == "packet")
        .collect();
    let kinds: Vec<String> = packets.iter().map(|p| text(p, "kind")).collect();
    for kind in [
        "CONNECT",
        "CONNACK",
        "SUBSCRIBE",
        "SUBACK",
        "PUBLISH",
        "PUBACK",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    let first = &packets[0];
    assert_eq!(get(first, "sent_at").as_f64(), Some(0.0));
    assert_eq!(get(first, "arrives_at").as_f64(), Some(10.0));
    assert!(
        Array::from(&get(first, "spans")).length() > 2,
        "field spans"
    );
    assert!(
        Array::from(&sim.poll_trace().map_err(JsValue::from).expect("trace")).length() == 0,
        "drained entries are not returned again"
    );

    let devices = Array::from(&sim.devices().map_err(JsValue::from).expect("devices"));
    let inbox = Array::from(&get(&devices.get(0), "inbox"));
    assert_eq!(inbox.length(), 1);
    assert_eq!(text(&inbox.get(0), "payload"), "hi");
    assert_eq!(text(&devices.get(0), "state"), "connected");
}

#[wasm_bindgen_test]
fn the_scenario_json_replays_to_the_same_devices() {
    let mut sim = Simulation::new(r#"{"config": {"profile": "aws-iot", "seed": 3}}"#)
        .map_err(JsValue::from)
        .expect("scenario");
    apply(&mut sim, r#"{"type": "spawn", "spec": {"client_id": "x"}}"#);
    apply(&mut sim, r#"{"type": "connect", "device": 0}"#);
    // aws-iot accepts one CONNECT per second per client id.
    sim.advance_by(1_100.0);
    apply(&mut sim, r#"{"type": "spawn", "spec": {"client_id": "x"}}"#);
    apply(&mut sim, r#"{"type": "connect", "device": 1}"#);
    sim.advance_by(200.0);
    let json = sim.scenario_json().map_err(JsValue::from).expect("json");
    let mut again = Simulation::new(&json)
        .map_err(JsValue::from)
        .expect("replay");
    again.advance_to(sim.now());
    let a = JSON::stringify(&sim.devices().map_err(JsValue::from).expect("devices"));
    let b = JSON::stringify(&again.devices().map_err(JsValue::from).expect("devices"));
    assert_eq!(a.ok().map(String::from), b.ok().map(String::from));
    let trace = Array::from(&again.poll_trace().map_err(JsValue::from).expect("trace"));
    assert!(trace
        .iter()
        .any(|e| text(&e, "type") == "rule" && text(&e, "code") == "D6"));
}

#[wasm_bindgen_test]
fn bad_input_is_an_error_not_a_panic() {
    assert!(Simulation::new("{not json").is_err());
    assert!(Simulation::new(r#"{"config": {"profile": "mqtt-6"}}"#).is_err());
    let mut sim = Simulation::new("{}")
        .map_err(JsValue::from)
        .expect("empty scenario");
    assert!(sim
        .apply(object(r#"{"type": "connect", "device": 7}"#))
        .is_err());
    assert!(sim.apply(object(r#"{"type": "fly"}"#)).is_err());
}

#[wasm_bindgen_test]
fn the_bare_broker_answers_connect_with_connack() {
    let mut broker = WasmBroker::new("{}")
        .map_err(JsValue::from)
        .expect("broker");
    let conn = broker.accept(0.0);
    let connect = [
        0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 1, b'a',
    ];
    broker.handle_bytes(0.0, conn, &connect);
    let mut sent = Vec::new();
    loop {
        let output = broker.poll_output().map_err(JsValue::from).expect("output");
        if output.is_undefined() {
            break;
        }
        let transmit = get(&output, "Transmit");
        if !transmit.is_undefined() {
            sent.extend(js_sys::Uint8Array::new(&get(&transmit, "bytes")).to_vec());
        }
    }
    assert_eq!(sent, [0x20, 2, 0, 0]);
    // CONNECT stopped the CONNECT deadline: the keep-alive check (1.5 x 60 s) is next.
    assert_eq!(broker.poll_timeout(), Some(90_000.0));
}

/// The engine's hashes are the same in the browser as on the server (broker-core's
/// map.rs has the same values): maps iterate in the same order on both, so the same
/// inputs give the same bytes.
#[wasm_bindgen_test]
fn hashes_are_the_same_as_on_the_server() {
    use std::hash::BuildHasher;
    let h = broker_core::Hashing::new(1);
    assert_eq!(h.hash_one("client-7"), 0xad7f_d486_1668_ca74);
    assert_eq!(h.hash_one(42u32), 0x6da0_b72c_91a0_341f);
    assert_eq!(h.hash_one((7usize, Some("a/b"))), 0x2c34_0abe_f842_02be);
}

/// A recording made by `brokerlab serve --record` (six subscribers of one filter, three
/// QoS 1 messages: the order each reaches them comes from a map's iteration) replays in
/// the browser with identical bytes.
#[wasm_bindgen_test]
fn a_server_recording_replays_identically_in_the_browser() {
    let replayed = broker_core::recording::replay(include_str!("data/fanout.jsonl"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(replayed.outputs, 45);
}
