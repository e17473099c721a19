//! The JavaScript API (wasm-bindgen): the simulation world, and the bare broker core.
//!
//! Values cross the boundary as plain JavaScript objects made by serde-wasm-bindgen, in
//! the shapes the Rust types serialize to: a trace entry is
//! `{seq, type: "packet", id, device, client_id, direction, sent_at, ...}`, an action is
//! `{type: "publish", device, topic, payload, qos, retain}`. Times are milliseconds of
//! virtual time as numbers.

use broker_core::{Broker, Config, ConnId, Instant, PeerInfo};
use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::scenario::{Action, Scenario};
use crate::world::World;

/// A simulation: broker, virtual devices, network and clock.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Simulation {
    world: World,
}

#[wasm_bindgen]
impl Simulation {
    /// A simulation from a scenario in JSON: `{"config": {...}, "latency_ms": 20,
    /// "actions": [...], "policy": "{...}"}`, every key optional. Its actions are
    /// replayed; a malformed policy document is refused with its line and column.
    #[wasm_bindgen(constructor)]
    pub fn new(scenario_json: &str) -> Result<Simulation, JsError> {
        let scenario: Scenario = serde_json::from_str(scenario_json)
            .map_err(|e| JsError::new(&format!("invalid scenario: {e}")))?;
        scenario
            .policy_set()
            .map_err(|e| JsError::new(&format!("invalid scenario: {e}")))?;
        let world = World::replay(&scenario, None).map_err(|e| JsError::new(&e.to_string()))?;
        Ok(Simulation { world })
    }

    /// Applies an action object now, for example
    /// `{type: "spawn", spec: {client_id: "a"}}` or `{type: "connect", device: 0}`.
    pub fn apply(&mut self, action: JsValue) -> Result<(), JsError> {
        let action: Action = serde_wasm_bindgen::from_value(action)
            .map_err(|e| JsError::new(&format!("invalid action: {e}")))?;
        self.world
            .apply(action)
            .map_err(|e| JsError::new(&e.to_string()))
    }

    /// Moves the clock forward by `ms` milliseconds.
    pub fn advance_by(&mut self, ms: f64) {
        let to = self.world.now().saturating_add(millis(ms));
        self.world.advance_to(to);
    }

    /// Moves the clock to `ms` milliseconds; an earlier time changes nothing.
    pub fn advance_to(&mut self, ms: f64) {
        self.world.advance_to(millis(ms));
    }

    /// Moves to the next instant anything happens; returns it, or `undefined` if
    /// nothing is pending.
    pub fn step(&mut self) -> Option<f64> {
        self.world.step().map(|ms| ms as f64)
    }

    /// The virtual time in milliseconds.
    pub fn now(&self) -> f64 {
        self.world.now() as f64
    }

    /// Trace entries not read before, as an array of objects.
    pub fn poll_trace(&mut self) -> Result<JsValue, JsError> {
        to_js(&self.world.poll_trace())
    }

    /// Every device: state, inbox, unacknowledged ids.
    pub fn devices(&self) -> Result<JsValue, JsError> {
        to_js(&self.world.devices())
    }

    /// The broker's sessions.
    pub fn sessions(&self) -> Result<JsValue, JsError> {
        to_js(&self.world.sessions())
    }

    /// The broker's retained messages.
    pub fn retained(&self) -> Result<JsValue, JsError> {
        to_js(&self.world.retained())
    }

    /// The scenario so far as JSON; `new Simulation(json)` replays it.
    pub fn scenario_json(&self) -> Result<String, JsError> {
        serde_json::to_string(self.world.scenario()).map_err(|e| JsError::new(&e.to_string()))
    }
}

/// The bare broker core, for JavaScript that brings its own transports and clock.
/// Methods mirror `broker_core::Broker`; see its drain contract.
#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmBroker {
    broker: Broker,
}

#[wasm_bindgen]
impl WasmBroker {
    /// A broker from a configuration in JSON (`{}` is a strict MQTT 3.1.1 broker;
    /// `{"profile": "aws-iot", "seed": 7}` the AWS IoT one).
    #[wasm_bindgen(constructor)]
    pub fn new(config_json: &str) -> Result<WasmBroker, JsError> {
        let config: Config = serde_json::from_str(config_json)
            .map_err(|e| JsError::new(&format!("invalid config: {e}")))?;
        Ok(WasmBroker {
            broker: Broker::new(config),
        })
    }

    /// A transport connected; returns its connection number.
    pub fn accept(&mut self, now: f64) -> f64 {
        self.broker.accept(instant(now), PeerInfo::default()).0 as f64
    }

    /// Bytes arrived on connection `conn`, split anywhere.
    pub fn handle_bytes(&mut self, now: f64, conn: f64, bytes: &[u8]) {
        self.broker.handle_bytes(instant(now), conn_id(conn), bytes);
    }

    /// The transport of `conn` closed.
    pub fn handle_closed(&mut self, now: f64, conn: f64) {
        self.broker.handle_closed(instant(now), conn_id(conn));
    }

    /// Time passed.
    pub fn handle_timeout(&mut self, now: f64) {
        self.broker.handle_timeout(instant(now));
    }

    /// The next output (`{Transmit: {conn, bytes}}`, `{Close: ...}` or `{Event: ...}`),
    /// or `undefined` when drained.
    pub fn poll_output(&mut self) -> Result<JsValue, JsError> {
        match self.broker.poll_output() {
            Some(output) => to_js(&output),
            None => Ok(JsValue::UNDEFINED),
        }
    }

    /// When to call `handle_timeout` next, or `undefined`.
    pub fn poll_timeout(&self) -> Option<f64> {
        self.broker.poll_timeout().map(|at| at.as_millis() as f64)
    }
}

/// A JavaScript number of milliseconds as a whole, non-negative count. NaN and negative
/// values become 0, which is what a clock that cannot go backwards makes of them.
fn millis(ms: f64) -> u64 {
    if ms.is_finite() && ms > 0.0 {
        ms as u64
    } else {
        0
    }
}

/// A connection number from JavaScript; an invalid one names no connection, which the
/// broker ignores.
fn conn_id(conn: f64) -> ConnId {
    ConnId(millis(conn))
}

fn instant(ms: f64) -> Instant {
    Instant::from_millis(millis(ms))
}

fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsError> {
    // Plain objects rather than `Map`s, which is what JavaScript code expects to read.
    let serializer = serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true);
    value
        .serialize(&serializer)
        .map_err(|e| JsError::new(&format!("cannot convert to JavaScript: {e}")))
}
