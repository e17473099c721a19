//! What a client is told to be, and what it reports: its options, the messages it
//! receives, its events and the commands it refuses.

use bytes::Bytes;

use crate::codec::{ConnAck, DecodeError, LastWill, Properties, ReasonCode};
use crate::time::Instant;
use crate::topic::TopicName;
use crate::types::{PacketId, ProtocolVersion, QoS, SubscribeReturnCode};

/// How a client connects and behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ClientOptions {
    /// The protocol the client speaks.
    #[cfg_attr(feature = "serde", serde(default))]
    pub version: ProtocolVersion,
    /// The client identifier; empty asks the broker to assign one.
    pub client_id: String,
    /// The Clean Session flag (Clean Start in MQTT 5.0).
    pub clean_session: bool,
    /// Keep-alive in seconds; the client pings when it has sent nothing for this long.
    /// An MQTT 5.0 broker may replace it with its Server Keep Alive.
    pub keep_alive: u16,
    /// The Will left with the broker.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub will: Option<LastWill>,
    /// Acknowledge incoming QoS 1 and 2 messages at once.
    pub auto_ack: bool,
    /// Re-send an unacknowledged PUBLISH (DUP=1) after this many milliseconds.
    pub resend_interval_ms: Option<u64>,
    /// The most QoS 1 and 2 messages sent and not yet acknowledged; further messages
    /// wait their turn. Taken as at least 1 and at most 32,000, and, in MQTT 5.0, at
    /// most the broker's Receive Maximum.
    pub max_inflight: u16,
    /// The most QoS 1 and 2 messages waiting for a place in the window or for a
    /// connection; past it, `publish` refuses the message. Taken as at most 32,000, so
    /// that the window, the queue and pending subscriptions never hold all 65,535
    /// packet ids.
    pub max_queued: usize,
    /// MQTT 5.0: the Session Expiry Interval sent in CONNECT, in seconds; `None` leaves
    /// it out (the session ends with the connection).
    #[cfg_attr(feature = "serde", serde(default))]
    pub session_expiry: Option<u32>,
    /// MQTT 5.0: the Receive Maximum sent in CONNECT; `None` leaves it out (65,535).
    #[cfg_attr(feature = "serde", serde(default))]
    pub receive_maximum: Option<u16>,
    /// MQTT 5.0: the Topic Alias Maximum sent in CONNECT, the aliases the broker may
    /// use towards this client; 0 allows none.
    #[cfg_attr(feature = "serde", serde(default))]
    pub topic_alias_maximum: u16,
    /// MQTT 5.0: replace repeated topics with aliases, up to the broker's Topic Alias
    /// Maximum.
    #[cfg_attr(feature = "serde", serde(default))]
    pub topic_aliases: bool,
    /// The User Name sent in CONNECT, if any: what AWS IoT policies attached to a user
    /// name apply to (the broker's principal when no client certificate names one).
    #[cfg_attr(feature = "serde", serde(default))]
    pub username: Option<String>,
}

/// The most SUBSCRIBE and UNSUBSCRIBE packets awaiting their acknowledgement at once.
/// AWS IoT never answers a SUBSCRIBE asking QoS 2 (D2), so without a bound a device that
/// keeps asking would hold ever more packet ids.
pub const MAX_PENDING_SUBSCRIPTIONS: usize = 1000;

impl ClientOptions {
    /// MQTT 3.1.1 options for `client_id` with a clean session, keep-alive 60 s and
    /// auto-ack on.
    pub fn new(client_id: &str) -> Self {
        ClientOptions {
            version: ProtocolVersion::V311,
            client_id: client_id.to_owned(),
            clean_session: true,
            keep_alive: 60,
            will: None,
            auto_ack: true,
            resend_interval_ms: None,
            max_inflight: 20,
            max_queued: 1000,
            session_expiry: None,
            receive_maximum: None,
            topic_alias_maximum: 0,
            topic_aliases: false,
            username: None,
        }
    }

    /// The same options speaking MQTT 5.0.
    pub fn v5(client_id: &str) -> Self {
        ClientOptions {
            version: ProtocolVersion::V5,
            ..ClientOptions::new(client_id)
        }
    }
}

/// A message the client received.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Received {
    /// The topic, with any Topic Alias resolved.
    pub topic: TopicName,
    /// The payload.
    pub payload: Bytes,
    /// The QoS it arrived with.
    pub qos: QoS,
    /// Its packet id (QoS 1 and 2).
    pub packet_id: Option<PacketId>,
    /// The DUP flag.
    pub dup: bool,
    /// The RETAIN flag.
    pub retain: bool,
    /// MQTT 5.0 properties as they arrived; `None` in 3.1.1.
    pub properties: Option<Properties>,
    /// When it arrived.
    pub at: Instant,
}

/// What happened to a client, from [`Client::poll_event`](super::Client::poll_event).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum ClientEvent {
    /// CONNACK arrived.
    ConnAck(ConnAck),
    /// SUBACK arrived for the SUBSCRIBE with this id.
    SubAck {
        /// The SUBSCRIBE's packet id.
        packet_id: PacketId,
        /// One code per filter.
        codes: Vec<SubscribeReturnCode>,
    },
    /// UNSUBACK arrived.
    UnsubAck {
        /// The UNSUBSCRIBE's packet id.
        packet_id: PacketId,
        /// MQTT 5.0: one Reason Code per filter; empty in 3.1.1.
        codes: Vec<ReasonCode>,
    },
    /// A message arrived and was handed to the application (once per QoS 2 message).
    Message(Received),
    /// An outgoing QoS 1 or 2 message completed its handshake.
    Delivered {
        /// Its packet id.
        packet_id: PacketId,
        /// MQTT 5.0: the Reason Code of its PUBACK or PUBREC (success in 3.1.1).
        reason: ReasonCode,
    },
    /// MQTT 5.0: the broker sent DISCONNECT; the client stops reading.
    Disconnected {
        /// Why.
        reason: ReasonCode,
        /// The Reason String, if the broker gave one.
        reason_string: Option<String>,
    },
    /// The broker sent bytes that are not a valid packet; the client stops reading.
    ProtocolError(DecodeError),
    /// A command was refused; nothing was sent.
    Refused(ClientError),
}

/// Why the client refused a command.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum ClientError {
    /// `max_queued` QoS 1 and 2 messages already wait; this one was dropped.
    QueueFull {
        /// The topic of the dropped message.
        topic: TopicName,
    },
    /// `MAX_PENDING_SUBSCRIPTIONS` SUBSCRIBE and UNSUBSCRIBE packets already await their
    /// acknowledgement.
    TooManyPending,
    /// MQTT 5.0: the PUBLISH would exceed the broker's Maximum Packet Size, which a
    /// client must not send (MQTT-3.2.2-15).
    TooLarge {
        /// The topic of the refused message.
        topic: TopicName,
        /// The broker's Maximum Packet Size.
        max: u32,
    },
}

impl core::fmt::Display for ClientError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClientError::QueueFull { topic } => {
                write!(f, "message to {topic} dropped: the outgoing queue is full")
            }
            ClientError::TooManyPending => {
                f.write_str("refused: too many subscriptions await their acknowledgement")
            }
            ClientError::TooLarge { topic, max } => write!(
                f,
                "message to {topic} refused: larger than the broker's Maximum Packet Size of {max} bytes"
            ),
        }
    }
}
