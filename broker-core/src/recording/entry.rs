//! The lines of a recording.

use serde::{Deserialize, Serialize};

use super::{Hex, Note};
use crate::{Config, Output, PeerInfo, ProtocolVersion};

/// The `format` of the header line: what tells a recording from other JSON.
pub const FORMAT: &str = "brokerlab-recording";

/// The format's version. A reader refuses a newer one rather than misread it.
pub const VERSION: u32 = 1;

/// The version of this engine, as headers give it.
pub const ENGINE: &str = env!("CARGO_PKG_VERSION");

/// The first line of a recording.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`] when it was written.
    pub version: u32,
    /// The version of broker-core that recorded it. A recording replays identically on
    /// the engine that made it; a later engine that behaves differently (a fix, a new
    /// rule) shows where, which is what a regression test of a recording is for.
    #[serde(default)]
    pub engine: String,
    /// The configuration in force when recording began, as the broker holds it (the
    /// profile's limits applied, the seed and any policies included).
    pub config: Config,
}

impl Header {
    /// The header for a broker configured so.
    pub fn new(config: &Config) -> Header {
        Header {
            format: FORMAT.to_owned(),
            version: VERSION,
            engine: ENGINE.to_owned(),
            config: config.clone(),
        }
    }

    /// Reads a header line, refusing other JSON and newer versions.
    pub fn parse(line: &str) -> Result<Header, String> {
        #[derive(Deserialize)]
        struct Probe {
            format: String,
            version: u32,
        }
        let probe: Probe = serde_json::from_str(line)
            .map_err(|e| format!("the first line is not a recording's header: {e}"))?;
        if probe.format != FORMAT {
            return Err(format!(
                "not a brokerlab recording (format {:?})",
                probe.format
            ));
        }
        if probe.version > VERSION {
            return Err(format!(
                "the recording is of format version {}, newer than this brokerlab reads ({VERSION})",
                probe.version
            ));
        }
        serde_json::from_str(line).map_err(|e| format!("the header is malformed: {e}"))
    }
}

/// A connection open when a live watcher arrived.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenConn {
    /// The connection.
    pub conn: u64,
    /// Its client id, once connected.
    pub client_id: Option<String>,
    /// Its protocol version, once connected.
    pub version: Option<ProtocolVersion>,
}

/// One line after the header. Inputs carry their time `t`, in milliseconds of the
/// broker's clock; outputs follow the input that caused them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entry {
    /// Input: `Broker::accept` made connection `conn`.
    Accept {
        /// When.
        t: u64,
        /// The id the broker gave it.
        conn: u64,
        /// What the transport said about the peer.
        peer: PeerInfo,
    },
    /// Input: one read's bytes (`Broker::handle_bytes`).
    Bytes {
        /// When.
        t: u64,
        /// The connection.
        conn: u64,
        /// The bytes, exactly as read.
        hex: Hex,
    },
    /// Input: the transport went away (`Broker::handle_closed`).
    Closed {
        /// When.
        t: u64,
        /// The connection.
        conn: u64,
    },
    /// Input: the outgoing buffer went over or back under its mark
    /// (`Broker::handle_congestion`).
    Congestion {
        /// When.
        t: u64,
        /// The connection.
        conn: u64,
        /// Over (true) or back under.
        congested: bool,
    },
    /// Input: timers due (`Broker::handle_timeout`).
    Timeout {
        /// When.
        t: u64,
    },
    /// Command: the server closed the connection (`Broker::close_connection`).
    CloseConnection {
        /// When.
        t: u64,
        /// The connection.
        conn: u64,
    },
    /// Command: which optional events are on (`Broker::set_events`).
    Events {
        /// When.
        t: u64,
        /// Packet events.
        packets: bool,
        /// Delivery events.
        deliveries: bool,
    },
    /// Input: what the data dir held at start (`Broker::recover`), as keys and values.
    Recover {
        /// When.
        t: u64,
        /// The stored entries, in the order they were read.
        entries: Vec<(Hex, Hex)>,
    },
    /// Input: batches up to `seq` are on disk (`Broker::handle_stored`).
    Stored {
        /// When.
        t: u64,
        /// The batch.
        seq: u64,
    },
    /// Output: bytes sent on a connection (always whole packets).
    Transmit {
        /// The connection.
        conn: u64,
        /// The bytes.
        hex: Hex,
    },
    /// Output: the connection ended.
    Close {
        /// The connection.
        conn: u64,
        /// Why, as the core's `CloseReason` debug-prints.
        reason: String,
    },
    /// Output: stop reading the connection (backpressure).
    Pause {
        /// The connection.
        conn: u64,
    },
    /// Output: read the connection again.
    Resume {
        /// The connection.
        conn: u64,
    },
    /// Output: `Broker::poll_store` was asked for a batch: its number and how many
    /// changes it held, or `null` when there was nothing to store.
    Store {
        /// `[seq, changes]`, or none.
        batch: Option<(u64, usize)>,
    },
    /// What happened, for people and the diagram; not compared by a replay.
    Note {
        /// When.
        t: u64,
        /// What.
        note: Note,
    },
    /// Live streams only: the connections open when the watcher arrived. Not compared
    /// by a replay.
    Present {
        /// Each connection.
        conns: Vec<OpenConn>,
    },
    /// Live streams only: the watcher fell behind and missed this many lines.
    Skipped {
        /// How many.
        lines: u64,
    },
    /// The recording stopped here, though the broker went on.
    End {
        /// Why.
        why: String,
    },
}

impl Entry {
    /// The entry for an output, or `None` for an event that makes no note (packet and
    /// delivery events, which the bytes already show). `now` is the time of the input
    /// that caused it.
    pub fn from_output(output: &Output, now: u64, config: &Config) -> Option<Entry> {
        Some(match output {
            Output::Transmit { conn, bytes, .. } => Entry::Transmit {
                conn: conn.0,
                hex: Hex(bytes.to_vec()),
            },
            Output::Close { conn, reason } => Entry::Close {
                conn: conn.0,
                reason: format!("{reason:?}"),
            },
            Output::PauseReading { conn } => Entry::Pause { conn: conn.0 },
            Output::ResumeReading { conn } => Entry::Resume { conn: conn.0 },
            Output::Event(event) => Entry::Note {
                t: now,
                note: Note::from_event(event, config)?,
            },
        })
    }

    /// The time of an input or a note; outputs happen at the time of their input.
    pub fn time(&self) -> Option<u64> {
        match self {
            Entry::Accept { t, .. }
            | Entry::Bytes { t, .. }
            | Entry::Closed { t, .. }
            | Entry::Congestion { t, .. }
            | Entry::Timeout { t }
            | Entry::CloseConnection { t, .. }
            | Entry::Events { t, .. }
            | Entry::Recover { t, .. }
            | Entry::Stored { t, .. }
            | Entry::Note { t, .. } => Some(*t),
            _ => None,
        }
    }

    /// Whether the entry is an output a replay compares.
    pub fn is_output(&self) -> bool {
        matches!(
            self,
            Entry::Transmit { .. }
                | Entry::Close { .. }
                | Entry::Pause { .. }
                | Entry::Resume { .. }
                | Entry::Store { .. }
        )
    }

    /// The entry as one line of JSON, without the newline.
    pub fn to_line(&self) -> String {
        // Every field is a number, a string, a bool or bytes as hex: serializing cannot
        // fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}
