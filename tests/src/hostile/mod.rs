//! Hostile clients, and what a test needs to judge how the server treated them.
//!
//! - [`RawClient`]: one connection over TCP or WebSocket that sends exactly the bytes a
//!   test chooses (no MQTT library would send malformed packets), and reports how the
//!   server ended it (`raw`), or floods it with junk (`flood`); WebSocket handshakes
//!   offering any subprotocol, or none (`handshake`).
//! - Packet builders ([`packet`], [`connect`], ...) for writing malformed packets by hand
//!   (`packets`).
//! - [`Metrics`]: `/metrics` parsed, compared before and after, with waits that time out
//!   (`metrics`).
//! - Log checks: the server's one `disconnected` line per connection, found by the peer
//!   address the server logs (the client socket's local address) (`log`).
//! - [`Bystander`]: a well-behaved QoS 1 subscriber and publisher that must go on being
//!   served, and miss nothing, whatever the hostile clients do (`bystander`).
//! - [`Case`] and [`play`]: a table of hostile clients played one by one against a
//!   server, each judged by what it got back, the log and `/metrics` (`cases`).
//!
//! A process's memory use, which tells whether the server buffered a flood, is
//! [`crate::proc_status::memory_kib`].
//!
//! Everything is re-exported here: tests name it `brokerlab_tests::hostile::...`.

mod bystander;
mod cases;
mod flood;
mod handshake;
mod log;
mod metrics;
mod packets;
mod raw;

pub use bystander::Bystander;
pub use cases::{play, Case, Outcome, Step};
pub use handshake::{try_ws_handshake, ws_handshake};
pub use log::{disconnected_lines, expect_one_disconnected, mentions, wait_for_disconnected};
pub use metrics::{series, Metrics, WATCHED};
pub use packets::{connack, connect, connect_with, field, packet, put_packet};
pub use raw::{Closed, Ending, RawClient, Transport};
