//! A load generator independent of the broker: a minimal MQTT 3.1.1 client on tokio,
//! over TCP or WebSocket, and the scenarios of the server benchmark. It counts what the
//! broker acknowledged and what subscribers received, so that a broker that drops
//! acknowledged messages cannot hide it. `brokerlab-loadgen` (`cargo xtask bench`) and
//! the overload tests (`server/tests/overload.rs`) both drive it.

pub mod crash;
mod link;
mod scenario;
mod wire;

pub use link::{connect, Receiver, Sender, Target};
pub use scenario::{hold, run, Report, Spec};
pub use wire::{subscribe as subscribe_packet, Incoming};
