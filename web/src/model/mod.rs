//! The simulator's view models: plain Rust that the UI renders, tested natively.

pub mod clock;
pub mod driver;
pub mod feed;
pub mod hex;
pub mod load;
pub mod share;
pub mod timeline;
