//! The layout of what the broker stores (format 1 of docs/durability.md).
//!
//! A key is one kind byte followed by UTF-8: `s` and a client id (a persistent session's
//! subscriptions and settings), `m`, a client id, NUL and 16 hex digits (one message of
//! that session, queued or in flight, by its number in the session), `r` and a topic (a
//! retained message), `l` and a client id (an aws-iot lifecycle `versionNumber`), `h`, a
//! thing's name, NUL and a shadow's name (a Device Shadow; no name for the classic one,
//! whose value is JSON: the document, or the version a deleted shadow had). A
//! session's record and a version number are postcard encodings (postcard 1.x, a stable,
//! documented wire format); messages, queued, in flight or retained, have a layout of
//! their own (below), written by hand because most messages a durable broker takes in are
//! written. Messages are kept as MQTT 5.0 PUBLISH packets in the broker's own codec, so
//! that every property survives unchanged. A session's messages are entries of their own
//! so that a write costs what changed, not the whole queue.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::codec::{self, Packet, Publish, SubscriptionOptions};
use crate::retained::RetainedMessage;
use crate::session::{InflightState, Message, Session, StoreState, Subscription};
use crate::time::Instant;
use crate::topic::TopicFilter;
use crate::types::{PacketId, ProtocolVersion, QoS};

/// A stored key, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    Session(String),
    Message(String, u64),
    Retained(String),
    Lifecycle(String),
    /// A thing's name, and a named shadow's name (empty for the classic shadow).
    Shadow(String, String),
}

impl Key {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let (kind, text) = match self {
            Key::Session(s) => (b's', s),
            Key::Message(client_id, seq) => return message_key(client_id, *seq),
            Key::Shadow(thing, name) => return format!("h{thing}\0{name}").into_bytes(),
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
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut key = Vec::with_capacity(client_id.len() + 18);
    key.push(b'm');
    key.extend_from_slice(client_id.as_bytes());
    key.push(0);
    key.extend(
        (0..16)
            .rev()
            .map(|i| HEX[((seq >> (i * 4)) & 0xF) as usize]),
    );
    key
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
        b'h' => {
            let (thing, name) = text.split_once('\0').ok_or("a shadow key without NUL")?;
            Ok(Key::Shadow(thing.to_owned(), name.to_owned()))
        }
        b'l' => Ok(Key::Lifecycle(text)),
        other => Err(format!("an unknown key kind {other:#04x}")),
    }
}

/// One message, in the layout every message entry shares (written by hand rather than
/// with postcard, because it is written for most messages a durable broker takes in):
///
/// ```text
/// place       u8      0 queued (or retained); in flight: 1 awaiting PUBACK,
///                     2 awaiting PUBREC, 3 awaiting PUBCOMP
/// packet id   u16 BE  the id it was sent with, when in flight; else 0
/// flags       u8      bit 0: an expiry follows
/// expires at  u64 BE  the broker's milliseconds, when flag bit 0 is set
/// ids         u16 BE count, then u32 BE each: its Subscription Identifiers
/// publish     the rest: an MQTT 5.0 PUBLISH carrying topic, QoS, RETAIN, properties and
///             payload, in the broker's own codec
/// ```
fn encode_message_with(
    out: &mut Vec<u8>,
    m: &Message,
    inflight: Option<(PacketId, InflightState)>,
) {
    let (place, packet_id) = match inflight {
        None => (0u8, 0u16),
        Some((id, InflightState::AwaitingPubAck)) => (1, id.get()),
        Some((id, InflightState::AwaitingPubRec)) => (2, id.get()),
        Some((id, InflightState::AwaitingPubComp)) => (3, id.get()),
    };
    out.push(place);
    out.extend_from_slice(&packet_id.to_be_bytes());
    out.push(u8::from(m.expires_at.is_some()));
    if let Some(at) = m.expires_at {
        out.extend_from_slice(&at.as_millis().to_be_bytes());
    }
    let ids = u16::try_from(m.subscription_ids.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&ids.to_be_bytes());
    for id in m.subscription_ids.iter().take(usize::from(ids)) {
        out.extend_from_slice(&id.to_be_bytes());
    }
    let publish = Publish {
        dup: false,
        qos: m.qos,
        retain: m.retain,
        topic: m.topic.clone(),
        packet_id: (m.qos != QoS::AtMostOnce).then_some(PacketId::FIRST),
        properties: Some(m.properties.as_deref().cloned().unwrap_or_default()),
        payload: m.payload.clone(),
    };
    Packet::Publish(publish).encode(out);
}

/// The message `bytes` hold, numbered `seq` in its session; or why it cannot be read.
pub(crate) fn decode_message(bytes: &[u8], seq: u64) -> Result<StoredMessage, String> {
    let cut = || "a message cut short".to_owned();
    let (&place, rest) = bytes.split_first().ok_or_else(cut)?;
    let (id, rest) = rest.split_first_chunk::<2>().ok_or_else(cut)?;
    let (&flags, mut rest) = rest.split_first().ok_or_else(cut)?;
    let mut expires_at = None;
    if flags & 1 != 0 {
        let (at, after) = rest.split_first_chunk::<8>().ok_or_else(cut)?;
        expires_at = Some(Instant::from_millis(u64::from_be_bytes(*at)));
        rest = after;
    }
    let (count, mut rest) = rest.split_first_chunk::<2>().ok_or_else(cut)?;
    let mut subscription_ids = Vec::new();
    for _ in 0..u16::from_be_bytes(*count) {
        let (id, after) = rest.split_first_chunk::<4>().ok_or_else(cut)?;
        subscription_ids.push(u32::from_be_bytes(*id));
        rest = after;
    }
    let p = match codec::decode(rest, ProtocolVersion::V5, usize::MAX, None) {
        Ok(Some((Packet::Publish(p), len))) if len == rest.len() => p,
        Ok(_) => return Err("a message that is not one PUBLISH".to_owned()),
        Err(e) => return Err(format!("a message that does not decode: {e}")),
    };
    let message = Message {
        topic: p.topic,
        payload: p.payload,
        qos: p.qos,
        retain: p.retain,
        properties: p.properties.filter(|p| !p.is_empty()).map(Arc::new),
        expires_at,
        subscription_ids,
        seq,
    };
    let state = match place {
        0 => return Ok((message, None)),
        1 => InflightState::AwaitingPubAck,
        2 => InflightState::AwaitingPubRec,
        3 => InflightState::AwaitingPubComp,
        other => return Err(format!("a message in place {other}")),
    };
    let id = PacketId::new(u16::from_be_bytes(*id)).ok_or("an in-flight packet id 0")?;
    Ok((message, Some((id, state))))
}

#[derive(Serialize, Deserialize)]
struct SubscriptionRecord {
    filter: String,
    /// The options byte of a 5.0 SUBSCRIBE (section 3.8.3.1), with the granted QoS.
    options: u8,
    id: Option<u32>,
}

/// A session's message as stored: the message, and its packet id and handshake state if
/// it is in flight.
pub(crate) type StoredMessage = (Message, Option<(PacketId, InflightState)>);

pub(crate) fn encode_message(m: &Message, inflight: Option<(PacketId, InflightState)>) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + m.topic.as_str().len() + m.payload.len());
    encode_message_with(&mut out, m, inflight);
    out
}

/// A persistent session's record: everything but its messages.
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

    /// A hash of exactly what `encode` writes, without writing it: a session whose record
    /// did not change since its last write is not encoded again.
    pub(crate) fn fingerprint(s: &Session) -> u64 {
        use core::hash::{BuildHasher, Hash, Hasher};
        let mut h = crate::map::Hashing::new(0).build_hasher();
        s.client_id.hash(&mut h);
        (s.clean, s.version, s.expiry, s.disconnected_at).hash(&mut h);
        for (filter, sub) in &s.subscriptions {
            (filter.as_str(), sub.options.byte(), sub.id).hash(&mut h);
        }
        s.qos2_received.len().hash(&mut h);
        for id in &s.qos2_received {
            id.get().hash(&mut h);
        }
        s.auth.hash(&mut h);
        h.finish()
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
        s.store = Some(Box::new(StoreState {
            persisted: true,
            ..StoreState::default()
        }));
        Ok(s)
    }
}

/// A retained message: when it was stored (u64 BE, the broker's milliseconds), then the
/// message in the layout above.
pub(crate) fn encode_retained(m: &RetainedMessage) -> Vec<u8> {
    let message = Message {
        topic: m.topic.clone(),
        payload: m.payload.clone(),
        qos: m.qos,
        retain: true,
        properties: m.properties.clone(),
        expires_at: m.expires_at,
        subscription_ids: Vec::new(),
        seq: 0,
    };
    let mut out = m.stored_at.as_millis().to_be_bytes().to_vec();
    encode_message_with(&mut out, &message, None);
    out
}

pub(crate) fn decode_retained(bytes: &[u8]) -> Result<RetainedMessage, String> {
    let (at, rest) = bytes
        .split_first_chunk::<8>()
        .ok_or("a retained message cut short")?;
    let (m, _) = decode_message(rest, 0)?;
    Ok(RetainedMessage {
        topic: m.topic,
        payload: m.payload,
        qos: m.qos,
        stored_at: Instant::from_millis(u64::from_be_bytes(*at)),
        properties: m.properties,
        expires_at: m.expires_at,
    })
}

/// An aws-iot lifecycle `versionNumber`: the next one to hand out.
pub(crate) fn encode_u64(v: u64) -> Vec<u8> {
    postcard::to_allocvec(&v).unwrap_or_default()
}

pub(crate) fn decode_u64(bytes: &[u8]) -> Result<u64, String> {
    postcard::from_bytes(bytes).map_err(|e| format!("an unreadable number: {e}"))
}
