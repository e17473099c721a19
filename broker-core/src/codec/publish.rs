//! PUBLISH (section 3.3), in MQTT 3.1.1 and 5.0. Its acknowledgements are in `ack.rs`.

use bytes::Bytes;

use super::error::DecodeError;
use super::properties::{Place, Properties};
use super::reader::Reader;
use super::writer::{put_binary, put_u16, remaining_length_len};
use super::PacketType;
use crate::topic::TopicName;
use crate::types::{PacketId, ProtocolVersion, QoS};

/// A PUBLISH packet.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Publish {
    /// DUP: this may be a re-delivery (section 3.3.1.1).
    pub dup: bool,
    /// The QoS of this transmission.
    pub qos: QoS,
    /// RETAIN (section 3.3.1.3).
    pub retain: bool,
    /// The topic published to. Empty only in an MQTT 5.0 PUBLISH that names its topic by
    /// a Topic Alias alone (section 3.3.2.3.4).
    pub topic: TopicName,
    /// Present exactly when QoS is 1 or 2 (section 3.3.2.2).
    pub packet_id: Option<PacketId>,
    /// MQTT 5.0 PUBLISH properties; `None` for an MQTT 3.1.1 PUBLISH.
    pub properties: Option<Properties>,
    /// The application message.
    pub payload: Bytes,
}

impl Publish {
    /// An MQTT 3.1.1 PUBLISH (DUP 0).
    pub fn v311(
        topic: TopicName,
        qos: QoS,
        retain: bool,
        packet_id: Option<PacketId>,
        payload: Bytes,
    ) -> Self {
        Publish {
            dup: false,
            qos,
            retain,
            topic,
            packet_id,
            properties: None,
            payload,
        }
    }

    /// The protocol version this PUBLISH is written in.
    pub fn version(&self) -> ProtocolVersion {
        match self.properties {
            Some(_) => ProtocolVersion::V5,
            None => ProtocolVersion::V311,
        }
    }

    pub(super) fn decode(
        flags: u8,
        r: &mut Reader<'_, '_>,
        version: ProtocolVersion,
    ) -> Result<Publish, DecodeError> {
        let dup = flags & 0b1000 != 0;
        let qos = QoS::from_bits((flags >> 1) & 0b11).ok_or(DecodeError::InvalidQoS)?; // MQTT-3.3.1-4
        let retain = flags & 0b0001 != 0;
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::DupWithQoS0); // MQTT-3.3.1-2
        }
        let topic = r.string("topic name")?;
        let packet_id = match qos {
            QoS::AtMostOnce => None,
            _ => Some(r.packet_id()?),
        };
        let properties = match version {
            ProtocolVersion::V311 => None,
            ProtocolVersion::V5 => Some(Properties::decode(r, Place::Packet(PacketType::Publish))?),
        };
        // MQTT 5.0 allows an empty topic when a Topic Alias names it (section 3.3.2.3.4);
        // the engine resolves it. Otherwise a topic name is never empty (MQTT-4.7.3-1).
        let aliased = properties
            .as_ref()
            .is_some_and(|p| p.topic_alias().is_some());
        let topic = if topic.is_empty() && aliased {
            TopicName::aliased()
        } else {
            TopicName::new(topic).map_err(DecodeError::InvalidTopicName)? // MQTT-3.3.2-2
        };
        let payload = r.rest("payload");
        Ok(Publish {
            dup,
            qos,
            retain,
            topic,
            packet_id,
            properties,
            payload,
        })
    }

    pub(super) fn flags(&self) -> u8 {
        (u8::from(self.dup) << 3) | (self.qos.bits() << 1) | u8::from(self.retain)
    }

    /// The size of the whole packet on the wire, fixed header included, without
    /// encoding it.
    pub fn encoded_len(&self) -> usize {
        let body = self.body_len();
        1 + remaining_length_len(body) + body
    }

    pub(super) fn body_len(&self) -> usize {
        2 + self.topic.as_str().len()
            + if self.qos == QoS::AtMostOnce { 0 } else { 2 }
            + self.properties.as_ref().map_or(0, Properties::encoded_len)
            + self.payload.len()
    }

    pub(super) fn write_body(&self, out: &mut Vec<u8>) {
        put_binary(out, self.topic.as_str().as_bytes());
        if self.qos != QoS::AtMostOnce {
            // The engine always pairs QoS 1 and 2 with an id; 0 here would be a bug the
            // peer reports as MQTT-2.3.1-1, which is what the debug assertion catches first.
            debug_assert!(self.packet_id.is_some());
            put_u16(out, self.packet_id.map_or(0, PacketId::get));
        }
        if let Some(p) = &self.properties {
            p.write(out);
        }
        out.extend_from_slice(&self.payload);
    }
}
