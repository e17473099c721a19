//! Helpers that keep the world's tests short stories.

#![allow(dead_code)] // Each test file uses a different subset.

use broker_core::{Config, Profile};
use broker_wasm::{Action, DeviceId, DeviceSpec, Numbered, PacketTrace, TraceEntry, World};
use broker_wasm::{Direction, Scenario};

pub fn world(profile: Profile) -> World {
    World::new(&Scenario::new(Config::for_profile(profile)))
}

/// Spawns a device and connects it; returns its index.
pub fn device(w: &mut World, spec: DeviceSpec) -> DeviceId {
    let id = w.device_count() as DeviceId;
    w.apply(Action::Spawn { spec }).expect("spawn");
    w.apply(Action::Connect { device: id }).expect("connect");
    id
}

pub fn subscribe(w: &mut World, device: DeviceId, filter: &str, qos: u8) {
    let filter = filter.to_owned();
    w.apply(Action::Subscribe {
        device,
        filter,
        qos,
        options: Default::default(),
    })
    .expect("subscribe");
}

pub fn publish(w: &mut World, device: DeviceId, topic: &str, payload: &str, qos: u8) {
    let (topic, payload) = (topic.to_owned(), payload.to_owned());
    w.apply(Action::Publish {
        device,
        topic,
        payload,
        qos,
        retain: false,
        message_expiry: None,
    })
    .expect("publish");
}

/// Lets `ms` milliseconds of virtual time pass.
pub fn wait(w: &mut World, ms: u64) {
    let to = w.now() + ms;
    w.advance_to(to);
}

/// The payloads in a device's inbox, oldest first.
pub fn inbox(w: &World, device: DeviceId) -> Vec<String> {
    w.device(device)
        .expect("device")
        .inbox
        .into_iter()
        .map(|m| m.payload)
        .collect()
}

pub fn packets(trace: &[Numbered]) -> Vec<&PacketTrace> {
    trace
        .iter()
        .filter_map(|n| match &n.entry {
            TraceEntry::Packet(p) => Some(p),
            _ => None,
        })
        .collect()
}

/// The packets between `device` and the broker as `KIND>` (to the broker) or `<KIND`.
pub fn arrows(trace: &[Numbered], device: DeviceId) -> Vec<String> {
    packets(trace)
        .into_iter()
        .filter(|p| p.device == device)
        .map(|p| match p.direction {
            Direction::ToBroker => format!("{}>", p.kind),
            Direction::ToDevice => format!("<{}", p.kind),
        })
        .collect()
}

/// The codes of the rules that fired, in order.
pub fn rules(trace: &[Numbered]) -> Vec<&'static str> {
    trace
        .iter()
        .filter_map(|n| match &n.entry {
            TraceEntry::Rule { code, .. } => Some(*code),
            _ => None,
        })
        .collect()
}
