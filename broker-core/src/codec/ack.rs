//! The acknowledgements of PUBLISH (PUBACK, PUBREC, PUBREL, PUBCOMP, sections 3.4 to
//! 3.7), DISCONNECT (section 3.14) and AUTH (section 3.15).
//!
//! In MQTT 5.0 each carries a Reason Code and properties, which may be left out when the
//! code is success and there are no properties; written that way they are byte for byte
//! the MQTT 3.1.1 packets. So one shape serves both versions: the encoder writes the
//! shortest form, and an MQTT 3.1.1 connection only ever gets the short one.

use super::error::DecodeError;
use super::properties::{Place, Properties};
use super::reader::Reader;
use super::reason::ReasonCode;
use super::writer::put_u16;
use super::PacketType;
use crate::types::{PacketId, ProtocolVersion};

/// PUBACK, PUBREC, PUBREL or PUBCOMP.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Ack {
    /// The packet id of the PUBLISH (or PUBREC, PUBREL) acknowledged.
    pub packet_id: PacketId,
    /// MQTT 5.0 Reason Code; always success in 3.1.1.
    pub reason: ReasonCode,
    /// MQTT 5.0 properties (Reason String, User Property).
    pub properties: Properties,
}

impl Ack {
    /// A successful acknowledgement of `packet_id`, as both versions write it.
    pub fn new(packet_id: PacketId) -> Self {
        Ack {
            packet_id,
            reason: ReasonCode::SUCCESS,
            properties: Properties::new(),
        }
    }

    /// An MQTT 5.0 acknowledgement with `reason`.
    pub fn with_reason(packet_id: PacketId, reason: ReasonCode) -> Self {
        Ack {
            reason,
            ..Ack::new(packet_id)
        }
    }

    pub(super) fn decode(
        r: &mut Reader<'_, '_>,
        packet: PacketType,
        version: ProtocolVersion,
    ) -> Result<Ack, DecodeError> {
        let packet_id = r.packet_id()?;
        let (reason, properties) = tail(r, packet, version)?;
        Ok(Ack {
            packet_id,
            reason,
            properties,
        })
    }

    pub(super) fn body_len(&self) -> usize {
        2 + tail_len(self.reason, &self.properties)
    }

    pub(super) fn write_body(&self, out: &mut Vec<u8>) {
        put_u16(out, self.packet_id.get());
        write_tail(out, self.reason, &self.properties);
    }
}

/// DISCONNECT: in MQTT 5.0 either side may send it, with a reason.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Disconnect {
    /// MQTT 5.0 Reason Code; "Normal disconnection" in 3.1.1.
    pub reason: ReasonCode,
    /// MQTT 5.0 properties (Session Expiry Interval, Reason String, User Property,
    /// Server Reference).
    pub properties: Properties,
}

impl Disconnect {
    /// A normal disconnection, as both versions write it.
    pub const NORMAL: Disconnect = Disconnect {
        reason: ReasonCode::SUCCESS,
        properties: Properties::new(),
    };

    /// An MQTT 5.0 DISCONNECT with `reason`.
    pub fn with_reason(reason: ReasonCode) -> Self {
        Disconnect {
            reason,
            properties: Properties::new(),
        }
    }

    pub(super) fn decode(
        r: &mut Reader<'_, '_>,
        version: ProtocolVersion,
    ) -> Result<Disconnect, DecodeError> {
        let (reason, properties) = tail(r, PacketType::Disconnect, version)?;
        Ok(Disconnect { reason, properties })
    }

    pub(super) fn body_len(&self) -> usize {
        tail_len(self.reason, &self.properties)
    }

    pub(super) fn write_body(&self, out: &mut Vec<u8>) {
        write_tail(out, self.reason, &self.properties);
    }
}

/// AUTH (MQTT 5.0 only): a step of enhanced authentication.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Auth {
    /// Success, Continue authentication or Re-authenticate.
    pub reason: ReasonCode,
    /// Authentication Method and Data, Reason String, User Property.
    pub properties: Properties,
}

impl Auth {
    pub(super) fn decode(r: &mut Reader<'_, '_>) -> Result<Auth, DecodeError> {
        let (reason, properties) = tail(r, PacketType::Auth, ProtocolVersion::V5)?;
        Ok(Auth { reason, properties })
    }

    pub(super) fn body_len(&self) -> usize {
        tail_len(self.reason, &self.properties)
    }

    pub(super) fn write_body(&self, out: &mut Vec<u8>) {
        write_tail(out, self.reason, &self.properties);
    }
}

/// The optional Reason Code and properties at the end of these packets. In 3.1.1 there
/// is nothing there (the packet's length is fixed, and leftovers are malformed).
fn tail(
    r: &mut Reader<'_, '_>,
    packet: PacketType,
    version: ProtocolVersion,
) -> Result<(ReasonCode, Properties), DecodeError> {
    if version == ProtocolVersion::V311 || r.remaining() == 0 {
        return Ok((ReasonCode::SUCCESS, Properties::new()));
    }
    let reason = ReasonCode(r.u8("reason code")?);
    if reason.name_in(packet).is_none() {
        return Err(DecodeError::InvalidReasonCode {
            packet,
            code: reason.0,
        });
    }
    // Section 3.4.2.2 and the like: with no bytes after the Reason Code, there are no
    // properties.
    if r.remaining() == 0 {
        return Ok((reason, Properties::new()));
    }
    let properties = Properties::decode(r, Place::Packet(packet))?;
    Ok((reason, properties))
}

fn tail_len(reason: ReasonCode, properties: &Properties) -> usize {
    match (reason == ReasonCode::SUCCESS, properties.is_empty()) {
        (true, true) => 0,
        (false, true) => 1,
        (_, false) => 1 + properties.encoded_len(),
    }
}

fn write_tail(out: &mut Vec<u8>, reason: ReasonCode, properties: &Properties) {
    match (reason == ReasonCode::SUCCESS, properties.is_empty()) {
        (true, true) => {}
        (false, true) => out.push(reason.0),
        (_, false) => {
            out.push(reason.0);
            properties.write(out);
        }
    }
}
