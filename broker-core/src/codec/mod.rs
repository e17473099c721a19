//! The annotated MQTT codec: MQTT 3.1.1's fourteen packet types and MQTT 5.0's fifteen,
//! both directions.
//!
//! Decoding follows mini-redis's split: [`decode`] returns `Ok(None)` while the bytes so
//! far are a valid prefix ("need more bytes"), and `Err` only when they can never become a
//! valid packet ("malformed"). Passing a span list makes the decoder note each field's byte
//! range, which no MQTT crate offers and which the simulator's inspector needs; that is why
//! this codec is written by hand.

mod ack;
mod connect;
pub mod error;
mod header;
mod properties;
mod publish;
mod reader;
mod reason;
mod subscribe;
mod writer;

use bytes::Bytes;

pub use ack::{Ack, Auth, Disconnect};
pub use connect::{ConnAck, Connect, LastWill};
pub use error::DecodeError;
pub use header::{decode_header, FixedHeader};
pub use properties::{Properties, Property};
pub use publish::Publish;
pub use reason::ReasonCode;
pub use subscribe::{
    RetainHandling, SubAck, Subscribe, SubscriptionOptions, UnsubAck, Unsubscribe,
};
pub use writer::MAX_REMAINING_LENGTH;

use crate::types::{PacketId, ProtocolVersion};
use reader::Reader;

/// The packet types: MQTT 3.1.1's fourteen (table 2.1) and MQTT 5.0's AUTH.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[allow(missing_docs)]
pub enum PacketType {
    Connect = 1,
    ConnAck = 2,
    Publish = 3,
    PubAck = 4,
    PubRec = 5,
    PubRel = 6,
    PubComp = 7,
    Subscribe = 8,
    SubAck = 9,
    Unsubscribe = 10,
    UnsubAck = 11,
    PingReq = 12,
    PingResp = 13,
    Disconnect = 14,
    Auth = 15,
}

impl PacketType {
    fn from_bits(bits: u8) -> Result<PacketType, DecodeError> {
        use PacketType::*;
        Ok(match bits {
            1 => Connect,
            2 => ConnAck,
            3 => Publish,
            4 => PubAck,
            5 => PubRec,
            6 => PubRel,
            7 => PubComp,
            8 => Subscribe,
            9 => SubAck,
            10 => Unsubscribe,
            11 => UnsubAck,
            12 => PingReq,
            13 => PingResp,
            14 => Disconnect,
            15 => Auth,
            other => return Err(DecodeError::ReservedPacketType(other)),
        })
    }

    /// Checks the fixed-header flags (MQTT-2.2.2-1, MQTT-2.2.2-2): PUBREL, SUBSCRIBE and
    /// UNSUBSCRIBE carry 0010, PUBLISH carries DUP/QoS/RETAIN, every other type 0000.
    fn check_flags(self, flags: u8) -> Result<(), DecodeError> {
        let ok = match self {
            PacketType::Publish => flags & 0b0110 != 0b0110, // QoS 3: MQTT-3.3.1-4
            PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => flags == 0b0010,
            _ => flags == 0,
        };
        match (ok, self) {
            (true, _) => Ok(()),
            (false, PacketType::Publish) => Err(DecodeError::InvalidQoS),
            (false, packet) => Err(DecodeError::InvalidFlags { packet, flags }),
        }
    }

    /// The packet's name as the specification writes it (CONNECT, PUBACK, ...).
    pub fn name(self) -> &'static str {
        use PacketType::*;
        match self {
            Connect => "CONNECT",
            ConnAck => "CONNACK",
            Publish => "PUBLISH",
            PubAck => "PUBACK",
            PubRec => "PUBREC",
            PubRel => "PUBREL",
            PubComp => "PUBCOMP",
            Subscribe => "SUBSCRIBE",
            SubAck => "SUBACK",
            Unsubscribe => "UNSUBSCRIBE",
            UnsubAck => "UNSUBACK",
            PingReq => "PINGREQ",
            PingResp => "PINGRESP",
            Disconnect => "DISCONNECT",
            Auth => "AUTH",
        }
    }
}

/// A decoded MQTT packet, of either version. Each packet whose wire form differs between
/// the versions says which it is by its `properties`: `None` for MQTT 3.1.1.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[allow(missing_docs)]
pub enum Packet {
    Connect(Connect),
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(Ack),
    PubRec(Ack),
    PubRel(Ack),
    PubComp(Ack),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    PingReq,
    PingResp,
    Disconnect(Disconnect),
    Auth(Auth),
}

impl Packet {
    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::ConnAck(_) => PacketType::ConnAck,
            Packet::Publish(_) => PacketType::Publish,
            Packet::PubAck(_) => PacketType::PubAck,
            Packet::PubRec(_) => PacketType::PubRec,
            Packet::PubRel(_) => PacketType::PubRel,
            Packet::PubComp(_) => PacketType::PubComp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::SubAck(_) => PacketType::SubAck,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::UnsubAck(_) => PacketType::UnsubAck,
            Packet::PingReq => PacketType::PingReq,
            Packet::PingResp => PacketType::PingResp,
            Packet::Disconnect(_) => PacketType::Disconnect,
            Packet::Auth(_) => PacketType::Auth,
        }
    }

    /// A successful PUBACK of `id`.
    pub fn puback(id: PacketId) -> Packet {
        Packet::PubAck(Ack::new(id))
    }

    /// A successful PUBREC of `id`.
    pub fn pubrec(id: PacketId) -> Packet {
        Packet::PubRec(Ack::new(id))
    }

    /// A successful PUBREL of `id`.
    pub fn pubrel(id: PacketId) -> Packet {
        Packet::PubRel(Ack::new(id))
    }

    /// A successful PUBCOMP of `id`.
    pub fn pubcomp(id: PacketId) -> Packet {
        Packet::PubComp(Ack::new(id))
    }

    /// A normal DISCONNECT.
    pub fn disconnect() -> Packet {
        Packet::Disconnect(Disconnect::NORMAL)
    }

    /// How many bytes the packet takes on the wire.
    pub fn encoded_len(&self) -> usize {
        let (_, body_len) = self.flags_and_body_len();
        1 + writer::remaining_length_len(body_len) + body_len
    }

    fn flags_and_body_len(&self) -> (u8, usize) {
        match self {
            Packet::Connect(c) => (0, c.body_len()),
            Packet::ConnAck(c) => (0, c.body_len()),
            Packet::Publish(p) => (p.flags(), p.body_len()),
            Packet::PubRel(a) => (0b0010, a.body_len()),
            Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubComp(a) => (0, a.body_len()),
            Packet::UnsubAck(u) => (0, u.body_len()),
            Packet::Subscribe(s) => (0b0010, s.body_len()),
            Packet::SubAck(s) => (0, s.body_len()),
            Packet::Unsubscribe(u) => (0b0010, u.body_len()),
            Packet::PingReq | Packet::PingResp => (0, 0),
            Packet::Disconnect(d) => (0, d.body_len()),
            Packet::Auth(a) => (0, a.body_len()),
        }
    }

    /// Appends the packet's wire form to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let (flags, body_len) = self.flags_and_body_len();
        out.reserve(1 + writer::remaining_length_len(body_len) + body_len);
        out.push(((self.packet_type() as u8) << 4) | flags);
        writer::put_remaining_length(out, body_len);
        match self {
            Packet::Connect(c) => c.write_body(out),
            Packet::ConnAck(c) => c.write_body(out),
            Packet::Publish(p) => p.write_body(out),
            Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
                a.write_body(out)
            }
            Packet::UnsubAck(u) => u.write_body(out),
            Packet::Subscribe(s) => s.write_body(out),
            Packet::SubAck(s) => s.write_body(out),
            Packet::Unsubscribe(u) => u.write_body(out),
            Packet::PingReq | Packet::PingResp => {}
            Packet::Disconnect(d) => d.write_body(out),
            Packet::Auth(a) => a.write_body(out),
        }
    }

    /// The packet's wire form as shareable bytes.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::new();
        self.encode(&mut out);
        Bytes::from(out)
    }
}

/// Where one field of a packet lies, in bytes from the packet's first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FieldSpan {
    /// The field's name, as the specification calls it.
    pub field: &'static str,
    /// First byte of the field.
    pub start: usize,
    /// One past the field's last byte.
    pub end: usize,
}

/// Decodes one packet of a connection speaking `version` from the front of `buf`.
///
/// Returns `Ok(None)` if `buf` holds only part of a packet, `Ok(Some((packet, len)))` with
/// the number of bytes consumed, or `Err` if the bytes are malformed. A packet larger than
/// `max_packet_size` is an error as soon as its header is complete. When `spans` is given,
/// the byte range of every field is appended to it, starting with the fixed header's.
/// CONNECT names its own version; `version` is what a connection speaks before it, or
/// after it was accepted.
pub fn decode(
    buf: &[u8],
    version: ProtocolVersion,
    max_packet_size: usize,
    mut spans: Option<&mut Vec<FieldSpan>>,
) -> Result<Option<(Packet, usize)>, DecodeError> {
    // AUTH exists in MQTT 5.0 only; in 3.1.1 type 15 is reserved (section 2.2.1), which
    // the first byte alone shows, whatever its flags.
    if version == ProtocolVersion::V311 && buf.first().is_some_and(|b| b >> 4 == 15) {
        return Err(DecodeError::ReservedPacketType(15));
    }
    let Some(h) = decode_header(buf, max_packet_size)? else {
        return Ok(None);
    };
    let Some(body) = buf.get(h.header_len..h.packet_len()) else {
        return Ok(None);
    };
    if let Some(spans) = spans.as_deref_mut() {
        spans.push(FieldSpan {
            field: "packet type and flags",
            start: 0,
            end: 1,
        });
        spans.push(FieldSpan {
            field: "remaining length",
            start: 1,
            end: h.header_len,
        });
    }
    let mut r = Reader::new(body, h.header_len, spans);
    let packet = match h.packet_type {
        PacketType::Connect => Packet::Connect(Connect::decode(&mut r)?),
        PacketType::ConnAck => Packet::ConnAck(ConnAck::decode(&mut r, version)?),
        PacketType::Publish => Packet::Publish(Publish::decode(h.flags, &mut r, version)?),
        PacketType::PubAck => Packet::PubAck(Ack::decode(&mut r, h.packet_type, version)?),
        PacketType::PubRec => Packet::PubRec(Ack::decode(&mut r, h.packet_type, version)?),
        PacketType::PubRel => Packet::PubRel(Ack::decode(&mut r, h.packet_type, version)?),
        PacketType::PubComp => Packet::PubComp(Ack::decode(&mut r, h.packet_type, version)?),
        PacketType::Subscribe => Packet::Subscribe(Subscribe::decode(&mut r, version)?),
        PacketType::SubAck => Packet::SubAck(SubAck::decode(&mut r, version)?),
        PacketType::Unsubscribe => Packet::Unsubscribe(Unsubscribe::decode(&mut r, version)?),
        PacketType::UnsubAck => Packet::UnsubAck(UnsubAck::decode(&mut r, version)?),
        PacketType::PingReq => Packet::PingReq,
        PacketType::PingResp => Packet::PingResp,
        PacketType::Disconnect => Packet::Disconnect(Disconnect::decode(&mut r, version)?),
        PacketType::Auth => Packet::Auth(Auth::decode(&mut r)?),
    };
    // Every packet either consumes its whole body by construction (PUBLISH payloads and
    // filter lists read to the end) or has a fixed size, so leftovers mean malformed.
    if r.remaining() != 0 {
        return Err(DecodeError::TrailingBytes {
            packet: h.packet_type,
        });
    }
    Ok(Some((packet, h.packet_len())))
}
