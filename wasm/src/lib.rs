//! wasm-bindgen bindings over `broker-core`.
//!
//! Not built yet: this crate is filled by the browser-simulator issue. It exists so the
//! workspace has the shape DESIGN.md describes, and it deliberately exports nothing, so
//! nobody mistakes it for a working API.
