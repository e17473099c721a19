//! A deterministic, sans-IO MQTT broker engine.
//!
//! The engine owns no sockets, reads no clock and draws no randomness from the system:
//! the caller passes bytes and the current [`Instant`] in, and takes bytes, closes and
//! [`Event`]s out. The same configuration, seed and inputs therefore give the same
//! outputs, byte for byte, on every target. The native server and the browser simulator
//! drive this same code.
//!
//! # The four kinds of methods
//!
//! As in quinn-proto, [`Broker`]'s methods come in four kinds:
//!
//! - **inputs**, `handle_*` (and [`Broker::accept`]): something happened on a transport
//!   or time passed;
//! - **outputs**, `poll_*`: what the broker wants done ([`Broker::poll_output`]) and when
//!   it wants to be woken ([`Broker::poll_timeout`]);
//! - **commands**, such as [`Broker::close_connection`] and [`Broker::set_events`];
//! - **getters**, read-only views such as [`Broker::sessions`] and [`Broker::stats`].
//!
//! # The drain contract
//!
//! **After every input, call [`Broker::poll_output`] until it returns `None`, then
//! [`Broker::poll_timeout`], and call [`Broker::handle_timeout`] when that instant comes
//! (or later).** More precisely:
//!
//! - **Time never goes backwards.** Every input carries an [`Instant`] no earlier than the
//!   one before it. The server's clock is monotonic; the simulator's is virtual.
//! - **Outputs wait until polled.** They accumulate in the order they happened and are
//!   never lost if drained late, but nothing is sent until they are drained.
//! - **Inputs may arrive in the middle of a drain.** A shell may feed an input before it
//!   has taken every output of the last one (the server does, when writing to a socket
//!   reveals congestion): outputs stay in order, the new input's after the old.
//! - **Poll in this order:** outputs first, then the timeout, because handling an input
//!   may arm, move or stop a timer. Every armed timer is live, so something is always
//!   due at the instant `poll_timeout` names.
//! - **Every connection ends with one [`Output::Close`]**, whatever ended it, including
//!   [`Broker::handle_closed`]; after it the broker never names the connection again.
//!
//! ```
//! use broker_core::{Broker, Config, Instant, Output, PeerInfo};
//!
//! let mut broker = Broker::new(Config::default());
//! let now = Instant::from_millis(0);
//! let conn = broker.accept(now, PeerInfo::default());
//! // Until CONNECT arrives, the CONNECT deadline (10 s) is the only timer.
//! assert_eq!(broker.poll_timeout(), Some(Instant::from_millis(10_000)));
//! // CONNECT: protocol "MQTT" level 4, clean session, keep-alive 60 s, client id "a".
//! let connect = [
//!     0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 1, b'a',
//! ];
//! broker.handle_bytes(now, conn, &connect);
//! let mut sent = Vec::new();
//! while let Some(output) = broker.poll_output() {
//!     if let Output::Transmit { bytes, .. } = output {
//!         sent.extend_from_slice(&bytes);
//!     }
//! }
//! assert_eq!(sent, [0x20, 2, 0, 0]); // CONNACK, session present 0, accepted
//! // CONNECT stopped the deadline; the keep-alive check (1.5 x 60 s) is next.
//! assert_eq!(broker.poll_timeout(), Some(Instant::from_millis(90_000)));
//! broker.handle_timeout(Instant::from_millis(90_000));
//! assert!(matches!(broker.poll_output(), Some(Output::Event(_)))); // TimerFired
//! ```
//!
//! # Where things are
//!
//! - [`codec`]: the annotated packet codec, with byte spans for every field.
//! - [`topic`]: [`TopicName`] and [`TopicFilter`], parsed at the edge.
//! - [`Broker`]: the state machine; its `handle_*` methods live in `broker/` by concern.
//! - [`Event`] and [`Output`]: everything the broker reports.
//! - [`client`]: a sans-IO MQTT client on the same codec, for virtual devices and tests.
//! - `recording` (feature `serde`): what a broker was given and answered, written within a
//!   size limit and replayed byte for byte.

#![warn(missing_docs)]

mod broker;
pub mod client;
pub mod codec;
mod config;
mod event;
mod index;
mod map;
pub mod policy;
#[cfg(feature = "serde")]
pub mod recording;
mod retained;
mod rng;
mod rule;
mod session;
pub mod shadow;
mod stats;
pub mod store;
mod time;
pub mod topic;
mod types;

pub use broker::{Broker, ConnectionView, PeerInfo};
pub use codec::{
    Ack, Auth, ConnAck, Connect, DecodeError, Disconnect, FieldSpan, LastWill, Packet, PacketType,
    Properties, Property, Publish, ReasonCode, RetainHandling, SubAck, Subscribe,
    SubscriptionOptions, UnsubAck, Unsubscribe,
};
pub use config::{AwsRules, Config, EventConfig, Profile, Qos2Mode, RetainMode};
pub use event::{CloseReason, DropReason, Event, Output, SessionChange, TimerKind, Violation};
pub use index::SubscriptionIndex;
pub use map::Hashing;
pub use retained::RetainedMessage;
pub use rng::Rng;
pub use rule::Rule;
pub use session::{InflightState, SessionView};
pub use stats::Stats;
pub use time::Instant;
pub use topic::{HashMatchesParent, TopicError, TopicFilter, TopicName};
pub use types::{ConnId, ConnectReturnCode, PacketId, ProtocolVersion, QoS, SubscribeReturnCode};

/// Session identifiers are exposed only so the subscription index can be used and tested
/// on its own.
pub use session::SessionId;
