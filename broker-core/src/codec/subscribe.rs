//! SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK (sections 3.8 to 3.11), in MQTT 3.1.1 and 5.0.

use super::error::DecodeError;
use super::properties::{Place, Properties};
use super::reader::Reader;
use super::reason::ReasonCode;
use super::writer::{put_binary, put_u16};
use super::PacketType;
use crate::topic::TopicFilter;
use crate::types::{PacketId, ProtocolVersion, QoS, SubscribeReturnCode};

/// What a client asks of one subscription. MQTT 3.1.1 has the QoS alone; MQTT 5.0 adds
/// the options of section 3.8.3.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SubscriptionOptions {
    /// The highest QoS the client wants messages at.
    pub qos: QoS,
    /// No Local: do not send the client the messages it publishes itself.
    pub no_local: bool,
    /// Retain As Published: keep the RETAIN flag of forwarded messages.
    pub retain_as_published: bool,
    /// When to send retained messages on subscribing.
    pub retain_handling: RetainHandling,
}

/// Retain Handling (section 3.8.3.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum RetainHandling {
    /// 0: send retained messages at the time of the subscribe.
    #[default]
    OnSubscribe,
    /// 1: send them only if the subscription did not exist.
    OnNewSubscription,
    /// 2: never send them on subscribing.
    Never,
}

impl From<QoS> for SubscriptionOptions {
    fn from(qos: QoS) -> Self {
        SubscriptionOptions {
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: RetainHandling::OnSubscribe,
        }
    }
}

impl SubscriptionOptions {
    pub(crate) fn byte(self) -> u8 {
        let handling = match self.retain_handling {
            RetainHandling::OnSubscribe => 0,
            RetainHandling::OnNewSubscription => 1,
            RetainHandling::Never => 2,
        };
        self.qos.bits()
            | (u8::from(self.no_local) << 2)
            | (u8::from(self.retain_as_published) << 3)
            | (handling << 4)
    }

    pub(crate) fn from_byte(b: u8, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let qos = QoS::from_bits(b & 0b11).ok_or(DecodeError::InvalidRequestedQoS(b))?;
        if version == ProtocolVersion::V311 {
            // The upper six bits are reserved (MQTT-3-8.3-4).
            if b & 0b1111_1100 != 0 {
                return Err(DecodeError::InvalidRequestedQoS(b));
            }
            return Ok(qos.into());
        }
        // Bits 6 and 7 are reserved, and Retain Handling 3 does not exist (MQTT-3.8.3-5,
        // section 3.8.3.1).
        let retain_handling = match (b >> 4) & 0b11 {
            0 => RetainHandling::OnSubscribe,
            1 => RetainHandling::OnNewSubscription,
            2 => RetainHandling::Never,
            _ => return Err(DecodeError::InvalidSubscriptionOptions(b)),
        };
        if b & 0b1100_0000 != 0 {
            return Err(DecodeError::InvalidSubscriptionOptions(b));
        }
        Ok(SubscriptionOptions {
            qos,
            no_local: b & 0b100 != 0,
            retain_as_published: b & 0b1000 != 0,
            retain_handling,
        })
    }
}

/// A SUBSCRIBE packet: one or more filters, each with its options.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Subscribe {
    /// The id the SUBACK echoes.
    pub packet_id: PacketId,
    /// The filters in the order sent; the SUBACK answers in the same order (MQTT-3.9.3-1).
    pub filters: Vec<(TopicFilter, SubscriptionOptions)>,
    /// MQTT 5.0 properties (Subscription Identifier, User Property); `None` in 3.1.1.
    pub properties: Option<Properties>,
}

impl Subscribe {
    /// An MQTT 3.1.1 SUBSCRIBE.
    pub fn v311(packet_id: PacketId, filters: Vec<(TopicFilter, QoS)>) -> Self {
        Subscribe {
            packet_id,
            filters: filters.into_iter().map(|(f, q)| (f, q.into())).collect(),
            properties: None,
        }
    }

    pub(super) fn decode(
        r: &mut Reader<'_, '_>,
        version: ProtocolVersion,
    ) -> Result<Subscribe, DecodeError> {
        let packet_id = r.packet_id()?;
        let properties = properties(r, PacketType::Subscribe, version)?;
        let mut filters = Vec::new();
        while r.remaining() > 0 {
            let filter = TopicFilter::new(r.string("topic filter")?)
                .map_err(DecodeError::InvalidTopicFilter)?;
            let field = match version {
                ProtocolVersion::V311 => "requested QoS",
                ProtocolVersion::V5 => "subscription options",
            };
            let options = SubscriptionOptions::from_byte(r.u8(field)?, version)?;
            filters.push((filter, options));
        }
        if filters.is_empty() {
            // MQTT-3.8.3-3 (5.0: MQTT-3.8.3-2).
            return Err(DecodeError::NoTopicFilters(PacketType::Subscribe));
        }
        Ok(Subscribe {
            packet_id,
            filters,
            properties,
        })
    }

    pub(super) fn body_len(&self) -> usize {
        2 + self.properties.as_ref().map_or(0, Properties::encoded_len)
            + self
                .filters
                .iter()
                .map(|(f, _)| 2 + f.as_str().len() + 1)
                .sum::<usize>()
    }

    pub(super) fn write_body(&self, out: &mut Vec<u8>) {
        put_u16(out, self.packet_id.get());
        if let Some(p) = &self.properties {
            p.write(out);
        }
        for (filter, options) in &self.filters {
            put_binary(out, filter.as_str().as_bytes());
            out.push(options.byte());
        }
    }
}

/// A SUBACK packet: one code per filter of the SUBSCRIBE it answers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SubAck {
    /// The SUBSCRIBE's packet id (MQTT-3.8.4-2).
    pub packet_id: PacketId,
    /// The codes, in the order of the filters (MQTT-3.9.3-1).
    pub codes: Vec<SubscribeReturnCode>,
    /// MQTT 5.0 properties (Reason String, User Property); `None` in 3.1.1.
    pub properties: Option<Properties>,
}

impl SubAck {
    pub(super) fn decode(
        r: &mut Reader<'_, '_>,
        version: ProtocolVersion,
    ) -> Result<SubAck, DecodeError> {
        let packet_id = r.packet_id()?;
        let properties = properties(r, PacketType::SubAck, version)?;
        let mut codes = Vec::with_capacity(r.remaining());
        while r.remaining() > 0 {
            let field = match version {
                ProtocolVersion::V311 => "return code",
                ProtocolVersion::V5 => "reason code",
            };
            let b = r.u8(field)?;
            let code = match version {
                ProtocolVersion::V311 => SubscribeReturnCode::from_byte(b),
                ProtocolVersion::V5 => ReasonCode(b)
                    .name_in(PacketType::SubAck)
                    .map(|_| SubscribeReturnCode::from_reason(ReasonCode(b))),
            };
            codes.push(code.ok_or(DecodeError::InvalidSubscribeReturnCode(b))?);
        }
        Ok(SubAck {
            packet_id,
            codes,
            properties,
        })
    }

    pub(super) fn body_len(&self) -> usize {
        2 + self.properties.as_ref().map_or(0, Properties::encoded_len) + self.codes.len()
    }

    pub(super) fn write_body(&self, out: &mut Vec<u8>) {
        put_u16(out, self.packet_id.get());
        if let Some(p) = &self.properties {
            p.write(out);
        }
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
    /// MQTT 5.0 properties (User Property); `None` in 3.1.1.
    pub properties: Option<Properties>,
}

impl Unsubscribe {
    /// An MQTT 3.1.1 UNSUBSCRIBE.
    pub fn v311(packet_id: PacketId, filters: Vec<TopicFilter>) -> Self {
        Unsubscribe {
            packet_id,
            filters,
            properties: None,
        }
    }

    pub(super) fn decode(
        r: &mut Reader<'_, '_>,
        version: ProtocolVersion,
    ) -> Result<Unsubscribe, DecodeError> {
        let packet_id = r.packet_id()?;
        let properties = properties(r, PacketType::Unsubscribe, version)?;
        let mut filters = Vec::new();
        while r.remaining() > 0 {
            filters.push(
                TopicFilter::new(r.string("topic filter")?)
                    .map_err(DecodeError::InvalidTopicFilter)?,
            );
        }
        if filters.is_empty() {
            // MQTT-3.10.3-2.
            return Err(DecodeError::NoTopicFilters(PacketType::Unsubscribe));
        }
        Ok(Unsubscribe {
            packet_id,
            filters,
            properties,
        })
    }

    pub(super) fn body_len(&self) -> usize {
        2 + self.properties.as_ref().map_or(0, Properties::encoded_len)
            + self
                .filters
                .iter()
                .map(|f| 2 + f.as_str().len())
                .sum::<usize>()
    }

    pub(super) fn write_body(&self, out: &mut Vec<u8>) {
        put_u16(out, self.packet_id.get());
        if let Some(p) = &self.properties {
            p.write(out);
        }
        for filter in &self.filters {
            put_binary(out, filter.as_str().as_bytes());
        }
    }
}

/// An UNSUBACK packet: in MQTT 5.0 with one Reason Code per filter.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct UnsubAck {
    /// The UNSUBSCRIBE's packet id.
    pub packet_id: PacketId,
    /// MQTT 5.0 Reason Codes, one per filter (MQTT-3.11.3-1); empty in 3.1.1.
    pub codes: Vec<ReasonCode>,
    /// MQTT 5.0 properties; `None` in 3.1.1, which has neither codes nor properties.
    pub properties: Option<Properties>,
}

impl UnsubAck {
    /// An MQTT 3.1.1 UNSUBACK.
    pub fn v311(packet_id: PacketId) -> Self {
        UnsubAck {
            packet_id,
            codes: Vec::new(),
            properties: None,
        }
    }

    pub(super) fn decode(
        r: &mut Reader<'_, '_>,
        version: ProtocolVersion,
    ) -> Result<UnsubAck, DecodeError> {
        let packet_id = r.packet_id()?;
        let properties = properties(r, PacketType::UnsubAck, version)?;
        let mut codes = Vec::new();
        if version == ProtocolVersion::V5 {
            while r.remaining() > 0 {
                let code = ReasonCode(r.u8("reason code")?);
                if code.name_in(PacketType::UnsubAck).is_none() {
                    return Err(DecodeError::InvalidReasonCode {
                        packet: PacketType::UnsubAck,
                        code: code.0,
                    });
                }
                codes.push(code);
            }
        }
        Ok(UnsubAck {
            packet_id,
            codes,
            properties,
        })
    }

    pub(super) fn body_len(&self) -> usize {
        match &self.properties {
            Some(p) => 2 + p.encoded_len() + self.codes.len(),
            None => 2,
        }
    }

    pub(super) fn write_body(&self, out: &mut Vec<u8>) {
        put_u16(out, self.packet_id.get());
        if let Some(p) = &self.properties {
            p.write(out);
            out.extend(self.codes.iter().map(|c| c.0));
        }
    }
}

/// The properties of an MQTT 5.0 packet; none in 3.1.1.
fn properties(
    r: &mut Reader<'_, '_>,
    packet: PacketType,
    version: ProtocolVersion,
) -> Result<Option<Properties>, DecodeError> {
    match version {
        ProtocolVersion::V311 => Ok(None),
        ProtocolVersion::V5 => Properties::decode(r, Place::Packet(packet)).map(Some),
    }
}
