//! The browser simulator: a Yew UI over [`broker_wasm::World`], the real broker core with
//! virtual devices on a virtual clock.
//!
//! - [`model`]: what the UI shows, as plain Rust (the diagram's rows and lanes, the hex
//!   dump, sharing, the clock). It builds and is tested on every target.
//! - `ui` (wasm32 only): the Yew components. `cargo xtask web` builds them into the static
//!   bundle that `brokerlab serve` embeds.

pub mod model;

#[cfg(target_arch = "wasm32")]
mod ui;
