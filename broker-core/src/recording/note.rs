//! Notes: the broker's events as a recording keeps them, in words a person reads and
//! with what the diagram needs (which connection, which client id).

use serde::{Deserialize, Serialize};

use crate::{Config, Event, Rule};

/// One event worth showing. Packet and delivery events have no note: the bytes of the
/// recording show those packets already, and the timers and stray acknowledgements
/// cause packets that show too.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Note {
    /// A rule of the `aws-iot` profile changed what the broker did.
    Rule {
        /// Which rule.
        rule: Rule,
        /// The connection it concerned, if one.
        conn: Option<u64>,
        /// That connection's client id, once connected.
        client_id: Option<String>,
        /// What exactly.
        detail: String,
    },
    /// A CONNECT was accepted.
    Connected {
        /// The connection.
        conn: u64,
        /// The client id (assigned by the broker if the client sent none).
        client_id: String,
        /// What CONNACK said.
        session_present: bool,
    },
    /// The broker ended a connection.
    Disconnected {
        /// The connection.
        conn: u64,
        /// Its client id, if it had connected.
        client_id: Option<String>,
        /// Why, in a sentence.
        reason: String,
        /// Whether the Will is published for this reason.
        publishes_will: bool,
    },
    /// A session was created, resumed or discarded.
    Session {
        /// Its client id.
        client_id: String,
        /// `Created`, `Resumed`, `Discarded`...
        change: String,
    },
    /// A Will was published.
    Will {
        /// Whose.
        client_id: String,
        /// Its topic.
        topic: String,
    },
    /// A retained message was stored (`stored`) or deleted.
    Retained {
        /// Its topic.
        topic: String,
        /// Stored or replaced (true), deleted (false).
        stored: bool,
    },
    /// A message did not reach a subscriber.
    Dropped {
        /// The subscriber.
        client_id: String,
        /// The topic.
        topic: String,
        /// Why, as the core names it.
        reason: String,
    },
    /// A session became a slow consumer, or caught up.
    SlowConsumer {
        /// The session.
        client_id: String,
        /// Slow from now on (true), or caught up.
        slow: bool,
    },
    /// Unacknowledged messages were sent again.
    Resent {
        /// The session.
        client_id: String,
        /// How many packets.
        count: usize,
    },
    /// A client broke the protocol and was disconnected.
    Violation {
        /// The connection.
        conn: u64,
        /// What it did, and the statement it broke.
        detail: String,
    },
    /// An AWS IoT policy denied a request. Allowed requests make no note: their packets
    /// show them.
    PolicyDenied {
        /// The connection asking, if connected.
        conn: Option<u64>,
        /// The client id.
        client_id: String,
        /// `iot:Connect`, `iot:Publish`, ...
        action: String,
        /// The resource ARN.
        resource: String,
        /// Why, in one line.
        reason: String,
    },
}

impl Note {
    /// The note for an event, if it makes one.
    pub fn from_event(event: &Event, config: &Config) -> Option<Note> {
        Some(match event {
            Event::RuleFired {
                rule,
                conn,
                client_id,
                detail,
            } => Note::Rule {
                rule: *rule,
                conn: conn.map(|c| c.0),
                client_id: client_id.clone(),
                detail: detail.clone(),
            },
            Event::Connected {
                conn,
                client_id,
                session_present,
                ..
            } => Note::Connected {
                conn: conn.0,
                client_id: client_id.clone(),
                session_present: *session_present,
            },
            Event::Disconnected {
                conn,
                client_id,
                reason,
            } => Note::Disconnected {
                conn: conn.0,
                client_id: client_id.clone(),
                reason: reason.describe(config),
                publishes_will: reason.publishes_will(),
            },
            Event::Session { client_id, change } => Note::Session {
                client_id: client_id.clone(),
                change: format!("{change:?}"),
            },
            Event::WillPublished { client_id, topic } => Note::Will {
                client_id: client_id.clone(),
                topic: topic.as_str().to_owned(),
            },
            Event::RetainedStored { topic } => Note::Retained {
                topic: topic.as_str().to_owned(),
                stored: true,
            },
            Event::RetainedDeleted { topic } => Note::Retained {
                topic: topic.as_str().to_owned(),
                stored: false,
            },
            Event::Dropped {
                client_id,
                topic,
                reason,
                ..
            } => Note::Dropped {
                client_id: client_id.clone(),
                topic: topic.as_str().to_owned(),
                reason: format!("{reason:?}"),
            },
            Event::SlowConsumer { client_id, slow } => Note::SlowConsumer {
                client_id: client_id.clone(),
                slow: *slow,
            },
            Event::Resent {
                client_id, count, ..
            } => Note::Resent {
                client_id: client_id.clone(),
                count: *count,
            },
            Event::ProtocolViolation { conn, violation } => Note::Violation {
                conn: conn.0,
                detail: format!("{violation:?} ({})", violation.statement()),
            },
            Event::PolicyDecision {
                conn,
                client_id,
                decision,
            } => {
                if decision.allowed {
                    return None;
                }
                Note::PolicyDenied {
                    conn: conn.map(|c| c.0),
                    client_id: client_id.clone(),
                    action: decision.action.name().to_owned(),
                    resource: decision.resource.clone(),
                    reason: format!("policy: {}", decision.describe()),
                }
            }
            Event::PacketIn { .. }
            | Event::PacketOut { .. }
            | Event::Delivered { .. }
            | Event::TimerFired { .. }
            | Event::UnexpectedAck { .. } => return None,
        })
    }
}
