//! The layout of what the broker stores (format 1 of docs/durability.md).
//!
//! A key is one kind byte followed by UTF-8: `s` and a client id (a persistent session's
//! subscriptions and settings), `m`, a client id, NUL and 16 hex digits (one message of
//! that session, queued or in flight, by its number in the session), `r` and a topic (a
//! retained message), `l` and a client id (an aws-iot lifecycle `versionNumber`). A value
//! is the postcard encoding (postcard 1.x, a stable, documented wire format) of the
//! matching record below. Messages are kept as MQTT 5.0 PUBLISH packets in the broker's
//! own codec, so that every property survives unchanged. A session's messages are entries
//! of their own so that a write costs what changed, not the whole queue.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::codec::{self, Packet, Properties, Publish, SubscriptionOptions};
use crate::retained::RetainedMessage;
use crate::session::{InflightState, Message, Session, Subscription};
use crate::time::Instant;
use crate::topic::{TopicFilter, TopicName};
use crate::types::{PacketId, ProtocolVersion, QoS};

/// A stored key, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    Session(String),
    Message(String, u64),
    Retained(String),
    Lifecycle(String),
}

impl Key {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let (kind, text) = match self {
            Key::Session(s) => (b's', s),
            Key::Message(client_id, seq) => return message_key(client_id, *seq),
            Key::Retained(s) => (b'r', s),
            Key::Lifecycle(s) => (b'l', s),
        };
        let mut key = Vec::with_capacity(1 + text.len());
        key.push(kind);
        key.extend_from_slice(text.as_bytes());
        key
    }
}

/// The key of message `seq` of `client_id`'s session. A client id holds no NUL
/// (MQTT-1.5.4-2), so NUL ends it.
pub(crate) fn message_key(client_id: &str, seq: u64) -> Vec<u8> {
    format!("m{client_id}\0{seq:016x}").into_bytes()
}

pub(crate) fn session_key(client_id: &str) -> Vec<u8> {
    Key::Session(client_id.to_owned()).encode()
}

/// The key `bytes` encode, or why not.
pub(crate) fn decode_key(bytes: &[u8]) -> Result<Key, String> {
    let (&kind, text) = bytes.split_first().ok_or("an empty key")?;
    let text = std::str::from_utf8(text)
        .map_err(|_| "a key that is not UTF-8".to_owned())?
        .to_owned();
    match kind {
        b's' => Ok(Key::Session(text)),
        b'm' => {
            let (client_id, seq) = text.rsplit_once('\0').ok_or("a message key without NUL")?;
            let seq = u64::from_str_radix(seq, 16).map_err(|_| "a message key's number")?;
            Ok(Key::Message(client_id.to_owned(), seq))
        }
        b'r' => Ok(Key::Retained(text)),
        b'l' => Ok(Key::Lifecycle(text)),
        other => Err(format!("an unknown key kind {other:#04x}")),
    }
}

/// One message, queued or in flight, or retained.
#[derive(Serialize, Deserialize)]
struct MessageRecord {
    /// An MQTT 5.0 PUBLISH carrying topic, QoS, RETAIN, properties and payload.
    publish: Vec<u8>,
    /// When it expires, in the broker's milliseconds.
    expires_at: Option<u64>,
    subscription_ids: Vec<u32>,
}

impl MessageRecord {
    fn of(
        topic: &TopicName,
        payload: &Bytes,
        qos: QoS,
        retain: bool,
        properties: Option<&Arc<Properties>>,
    ) -> Vec<u8> {
        let publish = Publish {
            dup: false,
            qos,
            retain,
            topic: topic.clone(),
            packet_id: (qos != QoS::AtMostOnce).then_some(PacketId::FIRST),
            properties: Some(properties.map_or_else(Properties::new, |p| (**p).clone())),
            payload: payload.clone(),
        };
        Packet::Publish(publish).to_bytes().to_vec()
    }

    fn from_message(m: &Message) -> Self {
        MessageRecord {
            publish: Self::of(&m.topic, &m.payload, m.qos, m.retain, m.properties.as_ref()),
            expires_at: m.expires_at.map(Instant::as_millis),
            subscription_ids: m.subscription_ids.clone(),
        }
    }

    fn publish(&self) -> Result<Publish, String> {
        match codec::decode(&self.publish, ProtocolVersion::V5, usize::MAX, None) {
            Ok(Some((Packet::Publish(p), len))) if len == self.publish.len() => Ok(p),
            Ok(_) => Err("a message that is not one PUBLISH".to_owned()),
            Err(e) => Err(format!("a message that does not decode: {e}")),
        }
    }

    fn into_message(self) -> Result<Message, String> {
        let p = self.publish()?;
        Ok(Message {
            topic: p.topic,
            payload: p.payload,
            qos: p.qos,
            retain: p.retain,
            properties: p.properties.filter(|p| !p.is_empty()).map(Arc::new),
            expires_at: self.expires_at.map(Instant::from_millis),
            subscription_ids: self.subscription_ids,
            seq: 0,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct SubscriptionRecord {
    filter: String,
    /// The options byte of a 5.0 SUBSCRIBE (section 3.8.3.1), with the granted QoS.
    options: u8,
    id: Option<u32>,
}

/// One message of a persistent session.
#[derive(Serialize, Deserialize)]
struct SessionMessageRecord {
    message: MessageRecord,
    /// 0 queued; in flight: 1 awaiting PUBACK, 2 awaiting PUBREC, 3 awaiting PUBCOMP.
    place: u8,
    /// The packet id it was sent with, when in flight.
    packet_id: u16,
}

/// A session's message as stored: the message, and its packet id and handshake state if
/// it is in flight.
pub(crate) type StoredMessage = (Message, Option<(PacketId, InflightState)>);

pub(crate) fn encode_message(m: &Message, inflight: Option<(PacketId, InflightState)>) -> Vec<u8> {
    let (place, packet_id) = match inflight {
        None => (0, 0),
        Some((id, InflightState::AwaitingPubAck)) => (1, id.get()),
        Some((id, InflightState::AwaitingPubRec)) => (2, id.get()),
        Some((id, InflightState::AwaitingPubComp)) => (3, id.get()),
    };
    let record = SessionMessageRecord {
        message: MessageRecord::from_message(m),
        place,
        packet_id,
    };
    postcard::to_allocvec(&record).unwrap_or_default()
}

pub(crate) fn decode_message(bytes: &[u8], seq: u64) -> Result<StoredMessage, String> {
    let r: SessionMessageRecord =
        postcard::from_bytes(bytes).map_err(|e| format!("an unreadable message: {e}"))?;
    let mut message = r.message.into_message()?;
    message.seq = seq;
    let state = match r.place {
        0 => return Ok((message, None)),
        1 => InflightState::AwaitingPubAck,
        2 => InflightState::AwaitingPubRec,
        3 => InflightState::AwaitingPubComp,
        other => return Err(format!("a message in place {other}")),
    };
    let id = PacketId::new(r.packet_id).ok_or("an in-flight packet id 0")?;
    Ok((message, Some((id, state))))
}

/// A persistent session.
#[derive(Serialize, Deserialize)]
pub(crate) struct SessionRecord {
    client_id: String,
    clean: bool,
    /// 4 for MQTT 3.1.1, 5 for 5.0 (the CONNECT's protocol level).
    level: u8,
    expiry: Option<u32>,
    /// When the last connection ended; `None` while one was attached.
    disconnected_at: Option<u64>,
    subscriptions: Vec<SubscriptionRecord>,
    qos2_received: Vec<u16>,
    principal: Option<String>,
    common_name: Option<String>,
}

impl SessionRecord {
    pub(crate) fn encode(s: &Session) -> Vec<u8> {
        let auth = s.auth();
        let record = SessionRecord {
            client_id: s.client_id.to_string(),
            clean: s.clean,
            level: match s.version {
                ProtocolVersion::V311 => 4,
                ProtocolVersion::V5 => 5,
            },
            expiry: s.expiry,
            disconnected_at: s.disconnected_at.map(Instant::as_millis),
            subscriptions: s
                .subscriptions
                .iter()
                .map(|(filter, sub)| SubscriptionRecord {
                    filter: filter.as_str().to_owned(),
                    options: sub.options.byte(),
                    id: sub.id,
                })
                .collect(),
            qos2_received: s.qos2_received.iter().map(|id| id.get()).collect(),
            principal: auth.principal,
            common_name: auth.common_name,
        };
        postcard::to_allocvec(&record).unwrap_or_default()
    }

    /// The session `bytes` hold, disconnected and without its messages (which are entries
    /// of their own); or why it cannot be read.
    pub(crate) fn decode(bytes: &[u8], now: Instant) -> Result<Session, String> {
        let r: SessionRecord =
            postcard::from_bytes(bytes).map_err(|e| format!("an unreadable session: {e}"))?;
        let version = match r.level {
            4 => ProtocolVersion::V311,
            5 => ProtocolVersion::V5,
            other => return Err(format!("a session of protocol level {other}")),
        };
        let mut subscriptions = BTreeMap::new();
        for sub in r.subscriptions {
            let filter = TopicFilter::new(&sub.filter)
                .map_err(|e| format!("a subscription to {:?}: {e}", sub.filter))?;
            let options = SubscriptionOptions::from_byte(sub.options, ProtocolVersion::V5)
                .map_err(|e| format!("subscription options {:#04x}: {e}", sub.options))?;
            subscriptions.insert(
                filter,
                Subscription {
                    options,
                    id: sub.id,
                },
            );
        }
        let qos2_received: BTreeSet<PacketId> = r
            .qos2_received
            .into_iter()
            .filter_map(PacketId::new)
            .collect();
        let mut s = Session::new(Arc::from(r.client_id), r.clean);
        s.version = version;
        s.expiry = r.expiry;
        // A session whose connection was open when the server stopped ended then; the
        // closest instant the broker knows of is now.
        s.disconnected_at = Some(r.disconnected_at.map_or(now, Instant::from_millis));
        s.subscriptions = subscriptions;
        s.qos2_received = qos2_received;
        s.set_auth(crate::session::AuthContext {
            principal: r.principal,
            common_name: r.common_name,
        });
        // Its messages, restored next, continue the numbering past the highest of them.
        s.store = Some(Box::default());
        Ok(s)
    }
}

/// A retained message.
#[derive(Serialize, Deserialize)]
pub(crate) struct RetainedRecord {
    message: MessageRecord,
    stored_at: u64,
}

impl RetainedRecord {
    pub(crate) fn encode(m: &RetainedMessage) -> Vec<u8> {
        let record = RetainedRecord {
            message: MessageRecord {
                publish: MessageRecord::of(
                    &m.topic,
                    &m.payload,
                    m.qos,
                    true,
                    m.properties.as_ref(),
                ),
                expires_at: m.expires_at.map(Instant::as_millis),
                subscription_ids: Vec::new(),
            },
            stored_at: m.stored_at.as_millis(),
        };
        postcard::to_allocvec(&record).unwrap_or_default()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<RetainedMessage, String> {
        let r: RetainedRecord = postcard::from_bytes(bytes)
            .map_err(|e| format!("an unreadable retained message: {e}"))?;
        let m = r.message.into_message()?;
        Ok(RetainedMessage {
            topic: m.topic,
            payload: m.payload,
            qos: m.qos,
            stored_at: Instant::from_millis(r.stored_at),
            properties: m.properties,
            expires_at: m.expires_at,
        })
    }
}

/// An aws-iot lifecycle `versionNumber`: the next one to hand out.
pub(crate) fn encode_u64(v: u64) -> Vec<u8> {
    postcard::to_allocvec(&v).unwrap_or_default()
}

pub(crate) fn decode_u64(bytes: &[u8]) -> Result<u64, String> {
    postcard::from_bytes(bytes).map_err(|e| format!("an unreadable number: {e}"))
}
