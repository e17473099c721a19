//! Durability's contract between the core and a shell that stores (docs/durability.md).
//!
//! The core never touches a disk. When a shell turns durability on
//! ([`crate::Broker::recover`]), the broker keeps track of what changed in the state that
//! must outlive the process (persistent sessions with their subscriptions, queued and
//! in-flight messages and QoS 2 state; retained messages; aws-iot lifecycle version
//! numbers and Device Shadows) and hands it out as a [`StoreBatch`] of key-value
//! [`Change`]s from [`crate::Broker::poll_store`]. Every acknowledgement produced after a
//! change (CONNACK, PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK), and whatever follows it on
//! its connection, waits in the broker until the shell reports the batch that holds the
//! change as stored, with [`crate::Broker::handle_stored`]: so no acknowledgement reaches a
//! client before what it acknowledges is durable, and the shell can group many changes in
//! one write.
//!
//! Keys and values are opaque to the shell; their layout is [`FORMAT_VERSION`] of the
//! format in `record.rs`.

mod record;

pub(crate) use record::{decode_key, message_key, session_key, Key};
pub(crate) use record::{decode_message, encode_message, StoredMessage};
pub(crate) use record::{decode_retained, decode_u64, encode_retained, encode_u64, SessionRecord};

/// The version of the keys' and values' layout. A shell writes it beside the data and
/// refuses a data dir of a newer version; a newer core reads every older version it lists
/// in docs/durability.md.
pub const FORMAT_VERSION: u32 = 1;

/// What changed since the previous batch, to be stored atomically as one unit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreBatch {
    /// Increases by one per batch; give it back to `handle_stored` once stored.
    pub seq: u64,
    /// The changes, in the order to apply them. May be empty: the broker then only waits
    /// for the shell to say so, which it may do at once without writing anything.
    pub changes: Vec<Change>,
}

/// One key set to a value, or deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The key: a kind byte, then the client id or topic (see `record.rs`).
    pub key: Vec<u8>,
    /// The new value, or `None` to delete the key.
    pub value: Option<Vec<u8>>,
}

/// What [`crate::Broker::recover`] made of the stored entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Persistent sessions restored.
    pub sessions: usize,
    /// Of which already past their expiry: discarded, and deleted from the store.
    pub expired: usize,
    /// Messages restored in those sessions, queued or in flight.
    pub messages: usize,
    /// Retained messages restored.
    pub retained: usize,
    /// Other entries (aws-iot lifecycle version numbers, Device Shadows).
    pub other: usize,
    /// Entries that could not be read, with why. They are deleted by the next batch.
    pub skipped: Vec<Skipped>,
}

/// A stored entry the broker could not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The key, as text where it is text.
    pub key: String,
    /// Why it was skipped.
    pub why: String,
}
