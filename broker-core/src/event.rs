//! What the broker tells its driver: bytes to send, connections to close, and events.

use bytes::Bytes;

use crate::codec::{DecodeError, FieldSpan, Packet, PacketType, ReasonCode};
use crate::policy::Decision;
use crate::rule::Rule;
use crate::time::Instant;
use crate::topic::TopicName;
use crate::types::{ConnId, ConnectReturnCode, ProtocolVersion, QoS};

/// One output of the broker, from [`crate::Broker::poll_output`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Output {
    /// Send these bytes on the connection. They are always whole packets.
    Transmit {
        /// The connection to write to.
        conn: ConnId,
        /// One encoded packet.
        bytes: Bytes,
        /// True for a QoS 0 PUBLISH, which a shell whose outgoing queue for `conn` is
        /// congested may drop: QoS 0 is delivered at most once (section 4.3.1). Every
        /// other packet must be sent.
        droppable: bool,
    },
    /// The connection has ended: send what was transmitted before, then close the
    /// transport (if it is still open). Every connection the broker accepted ends with
    /// exactly one `Close`, whatever the reason, `handle_closed` included, after which
    /// the broker never names it again: a shell drops its own state for the connection
    /// here. Bytes that still arrive for it are ignored.
    Close {
        /// The connection to close.
        conn: ConnId,
        /// Why.
        reason: CloseReason,
    },
    /// Something worth showing or counting happened. Boxed: events are rare next to
    /// transmits, and an `Output` moves through a queue on every packet sent, so it is
    /// kept as small as `Transmit`.
    Event(Box<Event>),
    /// Stop reading from the connection: the publisher on it has `max_held_acks`
    /// acknowledgements waiting for its subscribers to catch up (backpressure).
    PauseReading {
        /// The connection not to read from.
        conn: ConnId,
    },
    /// Read from the connection again.
    ResumeReading {
        /// The connection to read from.
        conn: ConnId,
    },
}

/// Why a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum CloseReason {
    /// The client sent DISCONNECT; the server discards the Will (MQTT-3.14.4-3). The only
    /// reason the Will is not sent.
    ClientDisconnect,
    /// The client sent an MQTT 5.0 DISCONNECT with a Reason Code other than 0x00: the
    /// Will is published. 0x04 asks for it (section 3.14.2.1); an error code leaves it in
    /// place too, since only 0x00 removes it (MQTT-3.1.2-10, MQTT-3.14.4-3).
    ClientDisconnectWithWill(ReasonCode),
    /// The transport closed without DISCONNECT (reported by `handle_closed`).
    TransportClosed,
    /// The client broke the protocol.
    ProtocolViolation(Violation),
    /// Nothing arrived for 1.5 times the keep-alive (MQTT-3.1.2-24).
    KeepAliveTimeout,
    /// No CONNECT arrived within the configured time.
    ConnectTimeout,
    /// A new connection took over the client id (MQTT-3.1.4-2).
    TakenOver {
        /// The connection that took over.
        by: ConnId,
    },
    /// The CONNECT was refused with this CONNACK code (MQTT-3.2.2-5): a 3.1.1 return
    /// code, or a 5.0 Reason Code.
    ConnectRefused(ReasonCode),
    /// A rule of the `aws-iot` profile closes the connection (AWS: CLIENT_ERROR).
    Rule(Rule),
    /// The server closed the connection, for example when shutting down.
    ServerShutdown,
    /// A policy denied Connect, Publish or Subscribe under the aws-iot profile (AWS:
    /// AUTH_ERROR; MQTT 3.1.1 has no reason code to send).
    AuthError,
}

impl CloseReason {
    /// True for every close that publishes the Will (section 3.1.2.5): all but DISCONNECT.
    pub fn publishes_will(&self) -> bool {
        !matches!(self, CloseReason::ClientDisconnect)
    }

    /// A stable name for metrics labels and log fields: the variant's name.
    pub fn label(&self) -> &'static str {
        match self {
            CloseReason::ClientDisconnect => "ClientDisconnect",
            CloseReason::ClientDisconnectWithWill(_) => "ClientDisconnectWithWill",
            CloseReason::TransportClosed => "TransportClosed",
            CloseReason::ProtocolViolation(_) => "ProtocolViolation",
            CloseReason::KeepAliveTimeout => "KeepAliveTimeout",
            CloseReason::ConnectTimeout => "ConnectTimeout",
            CloseReason::TakenOver { .. } => "TakenOver",
            CloseReason::ConnectRefused(_) => "ConnectRefused",
            CloseReason::Rule(_) => "Rule",
            CloseReason::ServerShutdown => "ServerShutdown",
            CloseReason::AuthError => "AuthError",
        }
    }

    /// The `disconnectReason` AWS IoT reports for this close in its lifecycle events
    /// (docs/aws-iot-profile.md, "Lifecycle events").
    pub fn aws_reason(&self) -> &'static str {
        match self {
            CloseReason::ClientDisconnect | CloseReason::ClientDisconnectWithWill(_) => {
                "CLIENT_INITIATED_DISCONNECT"
            }
            CloseReason::TransportClosed => "CONNECTION_LOST",
            CloseReason::KeepAliveTimeout => "MQTT_KEEP_ALIVE_TIMEOUT",
            CloseReason::TakenOver { .. } => "DUPLICATE_CLIENTID",
            CloseReason::ServerShutdown => "SERVER_INITIATED_DISCONNECT",
            CloseReason::AuthError => "AUTH_ERROR",
            CloseReason::Rule(Rule::ConnectRate | Rule::PublishRate) => "THROTTLED",
            CloseReason::ProtocolViolation(_) | CloseReason::Rule(_) => "CLIENT_ERROR",
            // These close connections that never connected, which have no lifecycle
            // events; CLIENT_ERROR is what AWS would say of them.
            CloseReason::ConnectTimeout | CloseReason::ConnectRefused(_) => "CLIENT_ERROR",
        }
    }

    /// The Reason Code of the DISCONNECT the server sends an MQTT 5.0 client before it
    /// closes the connection (section 3.14.2.1), or `None` where none is sent: the client
    /// closed it, the network did, or no CONNACK was sent yet.
    pub fn reason_code(&self) -> Option<ReasonCode> {
        Some(match self {
            CloseReason::ClientDisconnect
            | CloseReason::ClientDisconnectWithWill(_)
            | CloseReason::TransportClosed
            | CloseReason::ConnectTimeout
            | CloseReason::ConnectRefused(_) => return None,
            CloseReason::ProtocolViolation(v) => v.reason_code(),
            CloseReason::KeepAliveTimeout => ReasonCode::KEEP_ALIVE_TIMEOUT,
            CloseReason::TakenOver { .. } => ReasonCode::SESSION_TAKEN_OVER,
            CloseReason::Rule(rule) => rule.reason_code(),
            CloseReason::ServerShutdown => ReasonCode::SERVER_SHUTTING_DOWN,
            CloseReason::AuthError => ReasonCode::NOT_AUTHORIZED,
        })
    }

    /// The sentence a person reads: what ended the connection, naming the statement or
    /// rule behind it with the values in force. The server logs it and the simulator
    /// shows it.
    pub fn describe(&self, config: &crate::Config) -> String {
        match self {
            CloseReason::ClientDisconnect => "the client sent DISCONNECT".to_owned(),
            CloseReason::ClientDisconnectWithWill(ReasonCode::DISCONNECT_WITH_WILL) => {
                "the client sent DISCONNECT with reason 0x04: publish my Will".to_owned()
            }
            CloseReason::ClientDisconnectWithWill(code) => format!(
                "the client sent DISCONNECT with reason 0x{:02x} ({}): its Will is published",
                code.0,
                code.name_in(crate::codec::PacketType::Disconnect)
                    .unwrap_or_else(|| code.name())
            ),
            CloseReason::TransportClosed => "the network connection was lost".to_owned(),
            CloseReason::ProtocolViolation(v) => {
                format!("protocol violation: {} ({})", v.describe(), v.statement())
            }
            CloseReason::KeepAliveTimeout => {
                "nothing arrived for 1.5 times the keep-alive (MQTT-3.1.2-24)".to_owned()
            }
            CloseReason::ConnectTimeout => format!(
                "no CONNECT arrived within {} ms of connecting",
                config.connect_timeout_ms
            ),
            CloseReason::TakenOver { by } => {
                format!("{by} took over the client id (MQTT-3.1.4-2)")
            }
            CloseReason::ConnectRefused(code) => {
                let words = ConnectReturnCode::from_byte(code.0)
                    .map_or_else(|| code.name(), ConnectReturnCode::describe);
                format!("CONNECT refused with CONNACK {:#04x}: {words}", code.0)
            }
            CloseReason::Rule(rule) => format!(
                "{} ({}): {}",
                rule.code(),
                self.aws_reason(),
                rule.explanation(&config.aws)
            ),
            CloseReason::AuthError => "a policy denied the request (AUTH_ERROR)".to_owned(),
            CloseReason::ServerShutdown => "the server closed the connection".to_owned(),
        }
    }
}

/// A way the client broke MQTT 3.1.1.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Violation {
    /// The bytes are not a valid packet.
    Malformed(DecodeError),
    /// The first packet was not CONNECT (MQTT-3.1.0-1).
    FirstPacketNotConnect(PacketType),
    /// A second CONNECT on one connection (MQTT-3.1.0-2).
    SecondConnect,
    /// A packet only a server sends (CONNACK, SUBACK, UNSUBACK, PINGRESP).
    ServerPacketFromClient(PacketType),
    /// MQTT 5.0: more unacknowledged QoS 1 and 2 PUBLISH packets than the Receive
    /// Maximum the server sent (MQTT-3.3.4-7).
    ReceiveMaximumExceeded,
    /// MQTT 5.0: a Topic Alias of 0, or above the Topic Alias Maximum the server sent
    /// (MQTT-3.3.2-8, MQTT-3.3.2-9).
    TopicAliasInvalid(u16),
    /// MQTT 5.0: a PUBLISH naming its topic by an alias the client never set (section
    /// 3.3.2.3.4).
    UnknownTopicAlias(u16),
    /// MQTT 5.0: a DISCONNECT setting a Session Expiry Interval when the CONNECT's was 0
    /// (section 3.14.2.2.2).
    SessionExpiryOnDisconnect,
    /// MQTT 5.0: AUTH without an Authentication Method in CONNECT (section 4.12).
    UnexpectedAuth,
    /// MQTT 5.0: No Local on a shared subscription (MQTT-3.8.3-4).
    NoLocalOnSharedSubscription,
    /// MQTT 5.0: a PUBLISH from a client with a Subscription Identifier (MQTT-3.3.4-6).
    SubscriptionIdentifierFromClient,
    /// MQTT 5.0: a SUBSCRIBE with a Subscription Identifier to a server whose CONNACK
    /// said they are not available (section 3.2.2.3.12).
    SubscriptionIdentifiersUnsupported,
    /// MQTT 5.0: a PUBLISH with a QoS above the Maximum QoS in CONNACK (MQTT-3.2.2-11).
    QoSNotSupported,
    /// MQTT 5.0: a QoS 0 PUBLISH whose payload is not UTF-8 although its Payload Format
    /// Indicator says it is (section 3.3.2.3.2).
    PayloadFormatInvalid,
    /// MQTT 5.0: a Response Topic that is not a valid topic name (MQTT-3.3.2-14).
    InvalidResponseTopic,
}

impl Violation {
    /// The normative statement broken.
    pub fn statement(&self) -> &'static str {
        match self {
            Violation::Malformed(e) => e.statement(),
            Violation::FirstPacketNotConnect(_) => "MQTT-3.1.0-1",
            Violation::SecondConnect => "MQTT-3.1.0-2",
            Violation::ServerPacketFromClient(_) => "MQTT-4.8.0-1",
            Violation::ReceiveMaximumExceeded => "MQTT-3.3.4-7",
            Violation::TopicAliasInvalid(0) => "MQTT-3.3.2-8",
            Violation::TopicAliasInvalid(_) => "MQTT-3.3.2-9",
            Violation::UnknownTopicAlias(_) => "section 3.3.2.3.4",
            Violation::SessionExpiryOnDisconnect => "section 3.14.2.2.2",
            Violation::UnexpectedAuth => "section 4.12",
            Violation::NoLocalOnSharedSubscription => "MQTT-3.8.3-4",
            Violation::SubscriptionIdentifierFromClient => "MQTT-3.3.4-6",
            Violation::SubscriptionIdentifiersUnsupported => "section 3.2.2.3.12",
            Violation::QoSNotSupported => "MQTT-3.2.2-11",
            Violation::PayloadFormatInvalid => "section 3.3.2.3.2",
            Violation::InvalidResponseTopic => "MQTT-3.3.2-14",
        }
    }

    /// The Reason Code of the DISCONNECT an MQTT 5.0 client gets for it.
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            Violation::Malformed(DecodeError::PacketTooLarge { .. }) => {
                ReasonCode::PACKET_TOO_LARGE
            }
            Violation::Malformed(_) => ReasonCode::MALFORMED_PACKET,
            Violation::ReceiveMaximumExceeded => ReasonCode::RECEIVE_MAXIMUM_EXCEEDED,
            Violation::TopicAliasInvalid(_) => ReasonCode::TOPIC_ALIAS_INVALID,
            Violation::QoSNotSupported => ReasonCode::QOS_NOT_SUPPORTED,
            Violation::PayloadFormatInvalid => ReasonCode::PAYLOAD_FORMAT_INVALID,
            Violation::SubscriptionIdentifiersUnsupported => {
                ReasonCode::SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED
            }
            Violation::FirstPacketNotConnect(_)
            | Violation::SecondConnect
            | Violation::ServerPacketFromClient(_)
            | Violation::UnknownTopicAlias(_)
            | Violation::SessionExpiryOnDisconnect
            | Violation::UnexpectedAuth
            | Violation::NoLocalOnSharedSubscription
            | Violation::SubscriptionIdentifierFromClient
            | Violation::InvalidResponseTopic => ReasonCode::PROTOCOL_ERROR,
        }
    }

    /// What the client did, in words.
    pub fn describe(&self) -> String {
        match self {
            Violation::Malformed(e) => e.to_string(),
            Violation::FirstPacketNotConnect(t) => format!("its first packet was {}", t.name()),
            Violation::SecondConnect => "it sent a second CONNECT".to_owned(),
            Violation::ServerPacketFromClient(t) => {
                format!("it sent {}, which only a server sends", t.name())
            }
            Violation::ReceiveMaximumExceeded => {
                "it sent more unacknowledged QoS 1 and 2 messages than the Receive Maximum"
                    .to_owned()
            }
            Violation::TopicAliasInvalid(a) => {
                format!("Topic Alias {a} is 0 or above the Topic Alias Maximum")
            }
            Violation::UnknownTopicAlias(a) => format!("Topic Alias {a} was never set"),
            Violation::SessionExpiryOnDisconnect => {
                "DISCONNECT set a Session Expiry Interval after CONNECT's 0".to_owned()
            }
            Violation::UnexpectedAuth => "AUTH without an authentication method".to_owned(),
            Violation::NoLocalOnSharedSubscription => {
                "No Local on a shared subscription".to_owned()
            }
            Violation::SubscriptionIdentifierFromClient => {
                "a PUBLISH carried a Subscription Identifier".to_owned()
            }
            Violation::SubscriptionIdentifiersUnsupported => {
                "a SUBSCRIBE carried a Subscription Identifier, which this server does not offer"
                    .to_owned()
            }
            Violation::QoSNotSupported => "QoS above the Maximum QoS".to_owned(),
            Violation::PayloadFormatInvalid => {
                "the payload is not UTF-8 as its Payload Format Indicator says".to_owned()
            }
            Violation::InvalidResponseTopic => "the Response Topic is not a topic name".to_owned(),
        }
    }
}

/// Why a message did not reach a subscriber.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum DropReason {
    /// The session's queue was at `max_queued`; the newest message is dropped.
    QueueFull,
    /// A QoS 0 message for a persistent session whose client is offline; the broker
    /// queues only QoS 1 and 2 (the standard allows but does not require QoS 0, 3.1.2.4).
    Qos0Offline,
    /// MQTT 5.0: the message expired before it could be sent (MQTT-3.3.2-5).
    Expired,
    /// MQTT 5.0: the PUBLISH would exceed the client's Maximum Packet Size; it is not
    /// sent, as if delivered (MQTT-3.1.2-25).
    TooLargeForClient,
    /// Over the `aws-iot` profile's publishes-per-second quota for the connection.
    Throttled,
    /// A client that is not reading fast enough: a QoS 0 message while the shell reports
    /// its connection congested, or a QoS 1 or 2 message past `max_queued` once it has
    /// stopped reading for `slow_consumer_timeout_ms` (a slow consumer).
    SlowConsumer,
}

/// A session life event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum SessionChange {
    /// A new session was created.
    Created,
    /// A stored session was resumed (session present = 1).
    Resumed,
    /// The session was discarded: clean session at connect or disconnect (MQTT-3.1.2-6).
    Discarded,
}

/// Something the broker did, for the simulator, logs and metrics.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Event {
    /// A packet arrived (if `events.packets`).
    PacketIn {
        /// The connection.
        conn: ConnId,
        /// When.
        at: Instant,
        /// The decoded packet.
        packet: Packet,
        /// Its bytes.
        bytes: Bytes,
        /// Where each field lies in `bytes`.
        spans: Vec<FieldSpan>,
    },
    /// A packet was sent (if `events.packets`).
    PacketOut {
        /// The connection.
        conn: ConnId,
        /// When.
        at: Instant,
        /// The packet.
        packet: Packet,
        /// Its bytes.
        bytes: Bytes,
        /// Where each field lies in `bytes`.
        spans: Vec<FieldSpan>,
    },
    /// A CONNECT was accepted.
    Connected {
        /// The connection.
        conn: ConnId,
        /// The client id (assigned by the broker if the client sent none).
        client_id: String,
        /// The Clean Session flag.
        clean_session: bool,
        /// What the CONNACK said.
        session_present: bool,
        /// The keep-alive in seconds.
        keep_alive: u16,
        /// The protocol version.
        version: ProtocolVersion,
    },
    /// A connection ended, for logs and the simulator: emitted just before the
    /// connection's `Output::Close`, which is what a shell acts on.
    Disconnected {
        /// The connection.
        conn: ConnId,
        /// Its client id, if it had connected.
        client_id: Option<String>,
        /// Why.
        reason: CloseReason,
    },
    /// A session was created, resumed or discarded.
    Session {
        /// The session's client id.
        client_id: String,
        /// What happened.
        change: SessionChange,
    },
    /// A message went to a subscriber, or into its queue (if `events.deliveries`).
    Delivered {
        /// The receiving session.
        client_id: String,
        /// The topic.
        topic: TopicName,
        /// The QoS it is delivered with.
        qos: QoS,
        /// True if it waits in the session's queue rather than being sent now.
        queued: bool,
    },
    /// A message was not delivered to a subscriber.
    Dropped {
        /// The session that would have received it.
        client_id: String,
        /// The topic.
        topic: TopicName,
        /// The QoS it would have had.
        qos: QoS,
        /// Why.
        reason: DropReason,
    },
    /// A retained message was stored or replaced.
    RetainedStored {
        /// Its topic.
        topic: TopicName,
    },
    /// A retained message was deleted by a zero-byte retained PUBLISH.
    RetainedDeleted {
        /// Its topic.
        topic: TopicName,
    },
    /// A Will was published.
    WillPublished {
        /// The client whose Will it is.
        client_id: String,
        /// Its topic.
        topic: TopicName,
    },
    /// QoS 1 or 2 messages were sent again with DUP=1.
    Resent {
        /// The session.
        client_id: String,
        /// How many PUBLISH (and PUBREL) packets were re-sent.
        count: usize,
        /// Whether because the client reconnected (MQTT-4.4.0-1) or a resend timer fired.
        on_reconnect: bool,
    },
    /// A timer expired and was acted on.
    TimerFired {
        /// The connection it was for.
        conn: ConnId,
        /// Which timer.
        timer: TimerKind,
    },
    /// A client broke the protocol; the connection is closed (see the `Close` output).
    ProtocolViolation {
        /// The connection.
        conn: ConnId,
        /// What it did.
        violation: Violation,
    },
    /// A policy was consulted: the action, the resource, the statement that decided, and
    /// the answer.
    PolicyDecision {
        /// The connection asking, if the client is connected.
        conn: Option<ConnId>,
        /// The client id the decision concerns.
        client_id: String,
        /// The decision.
        decision: Decision,
    },
    /// A rule of the `aws-iot` profile changed what happened.
    RuleFired {
        /// Which rule.
        rule: Rule,
        /// The connection it concerned, if one.
        conn: Option<ConnId>,
        /// That connection's client id, once connected.
        client_id: Option<String>,
        /// What exactly, for example "9 slashes, limit 7".
        detail: String,
    },
    /// A session became a slow consumer (`slow`: publishers waited on it and it made no
    /// progress for `slow_consumer_timeout_ms`; they no longer wait), or drained and is
    /// an ordinary session again.
    SlowConsumer {
        /// The session's client id.
        client_id: String,
        /// Whether it is a slow consumer from now on.
        slow: bool,
    },
    /// An acknowledgement named a packet id with nothing in flight; it was ignored.
    UnexpectedAck {
        /// The connection.
        conn: ConnId,
        /// The acknowledgement.
        packet: PacketType,
        /// Its packet id.
        packet_id: u16,
    },
}

/// The broker's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum TimerKind {
    /// The CONNECT deadline of a new connection.
    ConnectDeadline,
    /// 1.5 times the keep-alive since the last packet (MQTT-3.1.2-24).
    KeepAlive,
    /// The resend interval of unacknowledged messages.
    Resend,
    /// The expiry of a persistent session after its connection ended (aws-iot quota).
    SessionExpiry,
    /// The release of a packet held back by the aws-iot reorder rule (D8).
    Reorder,
    /// A session that publishers wait on made no progress for the slow-consumer timeout.
    Stall,
    /// An MQTT 5.0 Will's delay passed.
    WillDelay,
}
