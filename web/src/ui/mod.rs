//! The Yew UI. State lives in one reducer ([`state`]); the [`sim`] provider owns the world
//! and drives it once per animation frame; components are small and get what they show as
//! props, and what they can do through the [`sim::Sim`] context's intent methods.

mod app;
mod components;
mod device_sockets;
mod dom;
mod feed_slot;
mod hooks;
mod live_socket;
mod sim;
mod state;

use wasm_bindgen::prelude::wasm_bindgen;

/// Mounts the simulator into the page's body when the module loads.
#[wasm_bindgen(start)]
pub fn start() {
    yew::Renderer::<app::App>::new().render();
}
