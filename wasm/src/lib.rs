//! The browser simulator's engine: the real broker core, virtual devices (the core's own
//! MQTT client), a virtual network with a fixed latency, and a virtual clock.
//!
//! - [`World`]: the simulation, driven by actions and time, traced entry by entry. The
//!   Yew app (`web/`) drives it directly from Rust.
//! - [`Scenario`]: a configuration and timed actions; it replays to the same trace.
//! - [`lessons`]: the guided scenarios of the simulator.
//! - [`tape`]: a server's recording or live stream drawn as the same trace entries.
//! - [`remote`]: virtual devices connected to a real server, for the page's live view.
//! - `js` (feature `js`, on by default): the wasm-bindgen API for JavaScript users and
//!   the browser tests.
//!
//! Nothing here reads a clock or draws randomness from the system, so the same code runs
//! natively in tests and in the browser, with the same results.

mod device;
mod device_actions;
mod label;
pub mod lessons;
mod network;
pub mod remote;
mod scenario;
mod shadow_view;
pub mod tape;
pub mod trace;
mod world;

#[cfg(feature = "js")]
pub mod js;

pub use device::{DeviceState, DeviceView, InboxMessage, INBOX_CAP};
pub use scenario::{
    Action, ActionError, DeviceId, DeviceSpec, Scenario, SubscribeOptions, TimedAction, WillSpec,
    DEFAULT_LATENCY_MS, DEVICE_TOPIC_ALIASES, GLOBAL_POLICY,
};
pub use shadow_view::{shadow_views, ShadowView};
pub use trace::{Direction, Numbered, PacketTrace, Span, TraceEntry, TRACE_CAP};
pub use world::World;
