//! A deterministic, sans-IO MQTT 3.1.1 broker engine.
//!
//! The engine owns no sockets, reads no clock and draws no randomness from the system:
//! the caller passes bytes and the current [`Instant`] in, and takes bytes, closes and
//! [`Event`]s out. The same configuration, seed and inputs therefore give the same
//! outputs, byte for byte, on every target. The native server and the browser simulator
//! drive this same code.
//!
//! # The drain contract
//!
//! **After every call to a `handle_*` method (and after `accept`), call
//! [`Broker::poll_output`] until it returns `None`, then sleep until
//! [`Broker::poll_timeout`] and call [`Broker::handle_timeout`].** Outputs accumulate
//! until drained; they are not lost if you drain late, but nothing is sent until you do.
//!
//! ```
//! use broker_core::{Broker, Config, Instant, Output, PeerInfo};
//!
//! let mut broker = Broker::new(Config::default());
//! let now = Instant::from_millis(0);
//! let conn = broker.accept(now, PeerInfo::default());
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
//! // The next wake-up is the CONNECT deadline (10 s). It is moot now that CONNECT has
//! // arrived; calling `handle_timeout` then does nothing but arm the keep-alive check.
//! assert_eq!(broker.poll_timeout(), Some(Instant::from_millis(10_000)));
//! broker.handle_timeout(Instant::from_millis(10_000));
//! assert!(broker.poll_output().is_none());
//! assert_eq!(broker.poll_timeout(), Some(Instant::from_millis(90_000))); // 1.5 x 60 s
//! ```
//!
//! # Where things are
//!
//! - [`codec`]: the annotated packet codec, with byte spans for every field.
//! - [`topic`]: [`TopicName`] and [`TopicFilter`], parsed at the edge.
//! - [`Broker`]: the state machine; its `handle_*` methods live in `broker/` by concern.
//! - [`Event`] and [`Output`]: everything the broker reports.

#![warn(missing_docs)]

mod broker;
pub mod client;
pub mod codec;
mod config;
mod event;
mod index;
mod map;
pub mod policy;
mod retained;
mod rng;
mod rule;
mod session;
mod stats;
mod time;
pub mod topic;
mod types;

pub use broker::{disconnect_reason, Broker, ConnectionView, PeerInfo};
pub use codec::{
    ConnAck, Connect, DecodeError, FieldSpan, LastWill, Packet, PacketType, Publish, SubAck,
    Subscribe, Unsubscribe,
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
pub use types::{ConnId, ConnectReturnCode, PacketId, QoS, SubscribeReturnCode};

/// Session identifiers are exposed only so the subscription index can be used and tested
/// on its own.
pub use session::SessionId;
