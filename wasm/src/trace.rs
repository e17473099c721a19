//! The trace: everything a world did, as entries the simulator draws (a sequence diagram,
//! the packet inspector) and that JavaScript receives as plain objects.

use std::collections::VecDeque;

use broker_core::codec::{self, FieldSpan};
use broker_core::recording::Note;
use broker_core::ProtocolVersion;

pub use crate::label::label;
use serde::Serialize;

use crate::scenario::{Action, DeviceId};

/// Which way a packet travels. Every link joins one device and the broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the device to the broker.
    ToBroker,
    /// From the broker to the device.
    ToDevice,
}

/// One field of a packet and where its bytes lie, for the inspector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Span {
    /// The field's name, as the specification calls it.
    pub field: &'static str,
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl From<&FieldSpan> for Span {
    fn from(s: &FieldSpan) -> Self {
        Span {
            field: s.field,
            start: s.start,
            end: s.end,
        }
    }
}

/// One packet on a link: an arrow on the diagram.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PacketTrace {
    /// Numbers packets in the order they were sent, for `Lost` entries and selection.
    pub id: u64,
    /// The device at the other end of the link.
    pub device: DeviceId,
    /// That device's client id (shared by devices that show a duplicate id).
    pub client_id: String,
    /// Which way it travels.
    pub direction: Direction,
    /// When it was sent, in milliseconds of virtual time.
    pub sent_at: u64,
    /// When it arrives, unless a `Lost` entry says otherwise.
    pub arrives_at: u64,
    /// The packet type as the specification writes it: `PUBLISH`, `SUBACK`, ...
    pub kind: &'static str,
    /// The key fields in a few words: QoS, packet id, DUP, RETAIN, return codes, topic.
    pub label: String,
    /// The bytes on the wire.
    pub bytes: Vec<u8>,
    /// Where each named field lies in `bytes`.
    pub spans: Vec<Span>,
}

/// One thing that happened in a world, with its virtual time `at` in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TraceEntry {
    /// A packet left a device or the broker.
    Packet(PacketTrace),
    /// A packet never reached its receiver, because the network dropped or the receiving
    /// end had closed the connection.
    Lost {
        /// When that became certain (its planned arrival).
        at: u64,
        /// The packet's `id`.
        packet: u64,
        /// Why, in a few words.
        reason: &'static str,
    },
    /// A learner's action was applied.
    Action {
        /// When.
        at: u64,
        /// What.
        action: Action,
    },
    /// A rule of the `aws-iot` profile changed what the broker did.
    Rule {
        /// When.
        at: u64,
        /// `D1`..`D8`, or a quota's code.
        code: &'static str,
        /// One line for a learner, with the quotas in force.
        explanation: String,
        /// What exactly, for example which packet.
        detail: String,
        /// The device whose connection it concerned, if one.
        device: Option<DeviceId>,
        /// That connection's client id, once connected.
        client_id: Option<String>,
    },
    /// The broker accepted a CONNECT.
    Connected {
        /// When.
        at: u64,
        /// The device.
        device: Option<DeviceId>,
        /// Its client id.
        client_id: String,
        /// What CONNACK said.
        session_present: bool,
    },
    /// The broker ended a connection.
    Disconnected {
        /// When.
        at: u64,
        /// The device.
        device: Option<DeviceId>,
        /// Its client id, if it had connected.
        client_id: Option<String>,
        /// Why, as the core names it.
        reason: String,
        /// Whether the Will is published for this reason.
        publishes_will: bool,
    },
    /// A device learned that its transport closed.
    TransportClosed {
        /// When.
        at: u64,
        /// The device.
        device: DeviceId,
    },
    /// A session was created, resumed or discarded.
    Session {
        /// When.
        at: u64,
        /// The session's client id.
        client_id: String,
        /// `Created`, `Resumed` or `Discarded`.
        change: String,
    },
    /// A Will was published.
    Will {
        /// When.
        at: u64,
        /// Whose.
        client_id: String,
        /// Its topic.
        topic: String,
    },
    /// A retained message was stored (`stored`) or deleted.
    Retained {
        /// When.
        at: u64,
        /// Its topic.
        topic: String,
        /// Stored or replaced (true), deleted (false).
        stored: bool,
    },
    /// A message did not reach a subscriber.
    Dropped {
        /// When.
        at: u64,
        /// The subscriber's client id.
        client_id: String,
        /// The topic.
        topic: String,
        /// Why, as the core names it.
        reason: String,
    },
    /// The broker re-sent unacknowledged messages.
    Resent {
        /// When.
        at: u64,
        /// The session.
        client_id: String,
        /// How many packets.
        count: usize,
    },
    /// A device's client refused a command of its own: its outgoing queue was full, or
    /// too many subscriptions awaited their acknowledgement. The client stays bounded.
    ClientRefused {
        /// When.
        at: u64,
        /// The device.
        device: DeviceId,
        /// What was refused, in words.
        reason: String,
    },
    /// Backpressure: the broker stopped reading a device's connection, because too many
    /// of its acknowledgements wait for its subscribers, or reads it again.
    ReadingPaused {
        /// When.
        at: u64,
        /// The device.
        device: Option<DeviceId>,
        /// Paused (true) or resumed (false).
        paused: bool,
    },
    /// Backpressure: a session that publishers waited on read nothing for the slow-consumer
    /// timeout (they no longer wait for it), or caught up again.
    SlowConsumer {
        /// When.
        at: u64,
        /// The session's client id.
        client_id: String,
        /// Whether it is a slow consumer from now on.
        slow: bool,
    },
    /// A client broke the protocol and was disconnected.
    Violation {
        /// When.
        at: u64,
        /// The device.
        device: Option<DeviceId>,
        /// What it did, and the statement it broke.
        detail: String,
    },
    /// An AWS IoT policy denied a request.
    PolicyDenied {
        /// When.
        at: u64,
        /// The device.
        device: Option<DeviceId>,
        /// The client id.
        client_id: String,
        /// What was asked, as policies name it: `iot:Connect`, `iot:Subscribe`, ...
        action: String,
        /// The resource ARN it was asked for.
        resource: String,
        /// Why, in one line: the statement that denied it, or the default deny.
        reason: String,
    },
    /// A device handed a message to its application: a line in its inbox.
    Received {
        /// When.
        at: u64,
        /// The device.
        device: DeviceId,
        /// The topic.
        topic: String,
        /// The payload, as text (invalid UTF-8 replaced).
        payload: String,
        /// Its QoS.
        qos: u8,
        /// Its packet id (QoS 1 and 2).
        packet_id: Option<u16>,
        /// DUP.
        dup: bool,
        /// RETAIN.
        retain: bool,
    },
}

impl TraceEntry {
    /// The virtual time of the entry, in milliseconds.
    pub fn at(&self) -> u64 {
        match self {
            TraceEntry::Packet(p) => p.sent_at,
            TraceEntry::Lost { at, .. }
            | TraceEntry::Action { at, .. }
            | TraceEntry::Rule { at, .. }
            | TraceEntry::Connected { at, .. }
            | TraceEntry::Disconnected { at, .. }
            | TraceEntry::TransportClosed { at, .. }
            | TraceEntry::Session { at, .. }
            | TraceEntry::Will { at, .. }
            | TraceEntry::Retained { at, .. }
            | TraceEntry::Dropped { at, .. }
            | TraceEntry::Resent { at, .. }
            | TraceEntry::ClientRefused { at, .. }
            | TraceEntry::ReadingPaused { at, .. }
            | TraceEntry::SlowConsumer { at, .. }
            | TraceEntry::Violation { at, .. }
            | TraceEntry::PolicyDenied { at, .. }
            | TraceEntry::Received { at, .. } => *at,
        }
    }
}

/// A trace entry and its place in the world's history, counted from 0.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Numbered {
    /// The entry's number; numbers are never reused, so a viewer can key on them.
    pub seq: u64,
    /// The entry.
    #[serde(flatten)]
    pub entry: TraceEntry,
}

/// The most entries a world keeps. A busy simulation (hundreds of devices) produces
/// thousands a second; the oldest are forgotten so memory stays bounded.
pub const TRACE_CAP: usize = 20_000;

/// The entries kept, and how far a viewer has read them.
#[derive(Debug, Default)]
pub struct Trace {
    entries: VecDeque<Numbered>,
    next_seq: u64,
    read_upto: u64,
}

impl Trace {
    pub(crate) fn push(&mut self, entry: TraceEntry) {
        if self.entries.len() == TRACE_CAP {
            self.entries.pop_front();
        }
        self.entries.push_back(Numbered {
            seq: self.next_seq,
            entry,
        });
        self.next_seq += 1;
    }

    /// Forgets the entries numbered `from` and later: those of a refused action.
    pub(crate) fn truncate(&mut self, from: u64) {
        while self.entries.back().is_some_and(|n| n.seq >= from) {
            self.entries.pop_back();
        }
        self.next_seq = self.next_seq.min(from);
        self.read_upto = self.read_upto.min(from);
    }

    /// Entries not read before, oldest first. Entries forgotten before being read are
    /// skipped; `forgotten` says how many entries the world no longer holds.
    pub fn read_new(&mut self) -> Vec<Numbered> {
        let from = self.read_upto;
        self.read_upto = self.next_seq;
        self.entries
            .iter()
            .skip_while(|n| n.seq < from)
            .cloned()
            .collect()
    }

    /// Every entry kept, oldest first.
    pub fn entries(&self) -> impl Iterator<Item = &Numbered> {
        self.entries.iter()
    }

    /// How many entries were made in all.
    pub fn len_total(&self) -> u64 {
        self.next_seq
    }

    /// How many of the oldest entries were forgotten to respect `TRACE_CAP`.
    pub fn forgotten(&self) -> u64 {
        self.next_seq - self.entries.len() as u64
    }
}

/// Decodes a packet the world carries, with its field spans. Every packet in a world was
/// encoded by the core's own codec, so decoding cannot fail; if it ever did, the arrow
/// would still be drawn, labelled with what is known.
pub(crate) fn describe(bytes: &[u8], version: ProtocolVersion) -> Described {
    match decode_described(bytes, version) {
        Ok(Some((_, _, described))) => described,
        Ok(None) | Err(_) => undecodable(bytes.len()),
    }
}

/// What the diagram shows of a packet: its kind, its label and its fields' spans.
pub(crate) type Described = (&'static str, String, Vec<Span>);

/// Decodes the first packet in `bytes`, with its field spans: the packet, its length and
/// what the diagram shows of it; `None` while it has not fully arrived.
pub(crate) fn decode_described(
    bytes: &[u8],
    version: ProtocolVersion,
) -> Result<Option<(codec::Packet, usize, Described)>, codec::DecodeError> {
    let mut spans = Vec::new();
    let decoded = codec::decode(bytes, version, usize::MAX, Some(&mut spans))?;
    Ok(decoded.map(|(packet, len)| {
        let described = (
            packet.packet_type().name(),
            label(&packet),
            spans.iter().map(Span::from).collect(),
        );
        (packet, len, described)
    }))
}

/// What the diagram shows of bytes that are no packet.
pub(crate) fn undecodable(len: usize) -> Described {
    ("?", format!("{len} undecodable bytes"), Vec::new())
}

/// The trace entry for a broker's note (broker-core's `recording::Note`), at `at`, with
/// `device_of` naming the device or lane of a connection. The simulator's world and the
/// recordings it draws (`tape.rs`) both go through here.
pub(crate) fn from_note(
    at: u64,
    note: Note,
    config: &broker_core::Config,
    device_of: impl Fn(u64) -> Option<DeviceId>,
) -> TraceEntry {
    match note {
        Note::Rule {
            rule,
            conn,
            client_id,
            detail,
        } => TraceEntry::Rule {
            at,
            code: rule.code(),
            explanation: rule.explanation(&config.aws),
            detail,
            device: conn.and_then(&device_of),
            client_id,
        },
        Note::Connected {
            conn,
            client_id,
            session_present,
        } => TraceEntry::Connected {
            at,
            device: device_of(conn),
            client_id,
            session_present,
        },
        Note::Disconnected {
            conn,
            client_id,
            reason,
            publishes_will,
        } => TraceEntry::Disconnected {
            at,
            device: device_of(conn),
            client_id,
            reason,
            publishes_will,
        },
        Note::Session { client_id, change } => TraceEntry::Session {
            at,
            client_id,
            change,
        },
        Note::Will { client_id, topic } => TraceEntry::Will {
            at,
            client_id,
            topic,
        },
        Note::Retained { topic, stored } => TraceEntry::Retained { at, topic, stored },
        Note::Dropped {
            client_id,
            topic,
            reason,
        } => TraceEntry::Dropped {
            at,
            client_id,
            topic,
            reason,
        },
        Note::SlowConsumer { client_id, slow } => TraceEntry::SlowConsumer {
            at,
            client_id,
            slow,
        },
        Note::Resent { client_id, count } => TraceEntry::Resent {
            at,
            client_id,
            count,
        },
        Note::Violation { conn, detail } => TraceEntry::Violation {
            at,
            device: device_of(conn),
            detail,
        },
        Note::PolicyDenied {
            conn,
            client_id,
            action,
            resource,
            reason,
        } => TraceEntry::PolicyDenied {
            at,
            device: conn.and_then(&device_of),
            client_id,
            action,
            resource,
            reason,
        },
    }
}
