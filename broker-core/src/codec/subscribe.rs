//! SUBSCRIBE, SUBACK, UNSUBSCRIBE (sections 3.8 to 3.10).

use super::error::DecodeError;
use super::reader::Reader;
use super::writer::{put_binary, put_u16};
use crate::topic::TopicFilter;
use crate::types::{PacketId, QoS, SubscribeReturnCode};

/// A SUBSCRIBE packet: one or more filters, each with a requested QoS.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Subscribe {
    /// The id the SUBACK echoes.
    pub packet_id: PacketId,
    /// The filters in the order sent; the SUBACK answers in the same order (MQTT-3.9.3-1).
    pub filters: Vec<(TopicFilter, QoS)>,
}

impl Subscribe {
    pub(super) fn decode(r: &mut Reader<'_, '_>) -> Result<Subscribe, DecodeError> {
        let packet_id = r.packet_id()?;
        let mut filters = Vec::new();
        while r.remaining() > 0 {
            let filter = TopicFilter::new(r.string("topic filter")?)
                .map_err(DecodeError::InvalidTopicFilter)?;
            let requested = r.u8("requested QoS")?;
            // The upper six bits are reserved and QoS 3 does not exist (MQTT-3-8.3-4).
            let qos =
                QoS::from_bits(requested).ok_or(DecodeError::InvalidRequestedQoS(requested))?;
            filters.push((filter, qos));
        }
        if filters.is_empty() {
            return Err(DecodeError::NoTopicFilters(super::PacketType::Subscribe));
            // MQTT-3.8.3-3
        }
        Ok(Subscribe { packet_id, filters })
    }

    pub(super) fn body_len(&self) -> usize {
        2 + self
            .filters
            .iter()
            .map(|(f, _)| 2 + f.as_str().len() + 1)
            .sum::<usize>()
    }

    pub(super) fn write_body(&self, out: &mut Vec<u8>) {
        put_u16(out, self.packet_id.get());
        for (filter, qos) in &self.filters {
            put_binary(out, filter.as_str().as_bytes());
            out.push(qos.bits());
        }
    }
}

/// A SUBACK packet: one return code per filter of the SUBSCRIBE it answers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SubAck {
    /// The SUBSCRIBE's packet id (MQTT-3.8.4-2).
    pub packet_id: PacketId,
    /// The return codes, in the order of the filters (MQTT-3.9.3-1).
    pub codes: Vec<SubscribeReturnCode>,
}

impl SubAck {
    pub(super) fn decode(r: &mut Reader<'_, '_>) -> Result<SubAck, DecodeError> {
        let packet_id = r.packet_id()?;
        let mut codes = Vec::with_capacity(r.remaining());
        while r.remaining() > 0 {
            let b = r.u8("return code")?;
            codes.push(
                SubscribeReturnCode::from_byte(b)
                    .ok_or(DecodeError::InvalidSubscribeReturnCode(b))?,
            );
        }
        Ok(SubAck { packet_id, codes })
    }

    pub(super) fn body_len(&self) -> usize {
        2 + self.codes.len()
    }

    pub(super) fn write_body(&self, out: &mut Vec<u8>) {
        put_u16(out, self.packet_id.get());
        out.extend(self.codes.iter().map(|c| c.byte()));
    }
}

/// An UNSUBSCRIBE packet.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Unsubscribe {
    /// The id the UNSUBACK echoes (MQTT-3.10.4-4).
    pub packet_id: PacketId,
    /// The filters to remove.
    pub filters: Vec<TopicFilter>,
}

impl Unsubscribe {
    pub(super) fn decode(r: &mut Reader<'_, '_>) -> Result<Unsubscribe, DecodeError> {
        let packet_id = r.packet_id()?;
        let mut filters = Vec::new();
        while r.remaining() > 0 {
            filters.push(
                TopicFilter::new(r.string("topic filter")?)
                    .map_err(DecodeError::InvalidTopicFilter)?,
            );
        }
        if filters.is_empty() {
            return Err(DecodeError::NoTopicFilters(super::PacketType::Unsubscribe));
            // MQTT-3.10.3-2
        }
        Ok(Unsubscribe { packet_id, filters })
    }

    pub(super) fn body_len(&self) -> usize {
        2 + self
            .filters
            .iter()
            .map(|f| 2 + f.as_str().len())
            .sum::<usize>()
    }

    pub(super) fn write_body(&self, out: &mut Vec<u8>) {
        put_u16(out, self.packet_id.get());
        for filter in &self.filters {
            put_binary(out, filter.as_str().as_bytes());
        }
    }
}
