//! The Yew simulator UI.
//!
//! Not built yet: this crate is filled by the browser-simulator issue. It deliberately
//! contains no UI, so nothing here pretends to work.
