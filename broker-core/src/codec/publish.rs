//! PUBLISH (section 3.3). Its four acknowledgements are bare packet ids, decoded in `mod.rs`.

use bytes::Bytes;

use super::error::DecodeError;
use super::reader::Reader;
use super::writer::{put_binary, put_u16};
use crate::topic::TopicName;
use crate::types::{PacketId, QoS};

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
    /// The topic published to.
    pub topic: TopicName,
    /// Present exactly when QoS is 1 or 2 (section 3.3.2.2).
    pub packet_id: Option<PacketId>,
    /// The application message.
    pub payload: Bytes,
}

impl Publish {
    pub(super) fn decode(flags: u8, r: &mut Reader<'_, '_>) -> Result<Publish, DecodeError> {
        let dup = flags & 0b1000 != 0;
        let qos = QoS::from_bits((flags >> 1) & 0b11).ok_or(DecodeError::InvalidQoS)?; // MQTT-3.3.1-4
        let retain = flags & 0b0001 != 0;
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::DupWithQoS0); // MQTT-3.3.1-2
        }
        let topic = r.string("topic name")?;
        let topic = TopicName::new(topic).map_err(DecodeError::InvalidTopicName)?; // MQTT-3.3.2-2
        let packet_id = match qos {
            QoS::AtMostOnce => None,
            _ => Some(r.packet_id()?),
        };
        let payload = r.rest("payload");
        Ok(Publish {
            dup,
            qos,
            retain,
            topic,
            packet_id,
            payload,
        })
    }

    pub(super) fn flags(&self) -> u8 {
        (u8::from(self.dup) << 3) | (self.qos.bits() << 1) | u8::from(self.retain)
    }

    pub(super) fn body_len(&self) -> usize {
        2 + self.topic.as_str().len()
            + if self.qos == QoS::AtMostOnce { 0 } else { 2 }
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
        out.extend_from_slice(&self.payload);
    }
}
