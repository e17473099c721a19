//! Small protocol types parsed at the edge, so the engine never handles raw numbers.

use core::fmt;
use core::num::NonZeroU16;

/// Quality of service of a message or subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum QoS {
    /// QoS 0: fire and forget.
    AtMostOnce = 0,
    /// QoS 1: acknowledged with PUBACK, may be duplicated.
    AtLeastOnce = 1,
    /// QoS 2: the four-step PUBREC/PUBREL/PUBCOMP handshake, exactly once.
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS for the two-bit value `bits`, or `None` for the forbidden value 3.
    pub fn from_bits(bits: u8) -> Option<QoS> {
        match bits {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }

    /// The wire value, 0 to 2.
    pub fn bits(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for QoS {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.bits())
    }
}

/// A non-zero packet identifier (MQTT-2.3.1-1 forbids zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PacketId(NonZeroU16);

impl PacketId {
    /// The packet id `value`, or `None` for zero.
    pub fn new(value: u16) -> Option<PacketId> {
        NonZeroU16::new(value).map(PacketId)
    }

    /// The wire value.
    pub fn get(self) -> u16 {
        self.0.get()
    }

    /// The id after this one, wrapping from 65535 back to 1.
    pub fn next(self) -> PacketId {
        PacketId::new(self.get().wrapping_add(1)).unwrap_or(PacketId(NonZeroU16::MIN))
    }

    /// The first id a session hands out.
    pub const FIRST: PacketId = PacketId(NonZeroU16::MIN);
}

impl fmt::Display for PacketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.get())
    }
}

/// The MQTT version a connection speaks, fixed by its CONNECT.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ProtocolVersion {
    /// MQTT 3.1.1: protocol level 4.
    #[default]
    #[cfg_attr(feature = "serde", serde(rename = "3.1.1"))]
    V311,
    /// MQTT 5.0: protocol level 5.
    #[cfg_attr(feature = "serde", serde(rename = "5.0"))]
    V5,
}

impl ProtocolVersion {
    /// "3.1.1" or "5.0", as metrics and logs label it.
    pub fn name(self) -> &'static str {
        match self {
            ProtocolVersion::V311 => "3.1.1",
            ProtocolVersion::V5 => "5.0",
        }
    }
}

/// Identifies one transport connection. Never reused within a broker's life, so an event
/// about a closed connection can never be mistaken for one about a newer connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}", self.0)
    }
}

/// The return code of a CONNACK (MQTT 3.1.1 table 3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum ConnectReturnCode {
    /// 0x00: connection accepted.
    Accepted = 0,
    /// 0x01: the server does not support the protocol level the client asked for.
    UnacceptableProtocolVersion = 1,
    /// 0x02: the client identifier is well-formed UTF-8 but not allowed.
    IdentifierRejected = 2,
    /// 0x03: the MQTT service is unavailable.
    ServerUnavailable = 3,
    /// 0x04: the user name or password is malformed.
    BadUsernameOrPassword = 4,
    /// 0x05: the client is not authorized to connect.
    NotAuthorized = 5,
}

impl From<ConnectReturnCode> for crate::codec::ReasonCode {
    /// A 3.1.1 return code is the byte 5.0 reads as a Reason Code.
    fn from(code: ConnectReturnCode) -> Self {
        crate::codec::ReasonCode(code as u8)
    }
}

impl PartialEq<ConnectReturnCode> for crate::codec::ReasonCode {
    /// A 3.1.1 CONNACK's return code is its wire byte, which the CONNACK holds as a
    /// Reason Code.
    fn eq(&self, other: &ConnectReturnCode) -> bool {
        self.0 == *other as u8
    }
}

impl ConnectReturnCode {
    /// What the code tells the client, as table 3.1 of MQTT 3.1.1 words it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Accepted => "connection accepted",
            Self::UnacceptableProtocolVersion => "unacceptable protocol version",
            Self::IdentifierRejected => "identifier rejected",
            Self::ServerUnavailable => "server unavailable",
            Self::BadUsernameOrPassword => "bad user name or password",
            Self::NotAuthorized => "not authorized",
        }
    }

    /// The code for the wire value, or `None` for the reserved values 6 to 255.
    pub fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            0 => Self::Accepted,
            1 => Self::UnacceptableProtocolVersion,
            2 => Self::IdentifierRejected,
            3 => Self::ServerUnavailable,
            4 => Self::BadUsernameOrPassword,
            5 => Self::NotAuthorized,
            _ => return None,
        })
    }
}

/// One code of a SUBACK: a granted QoS, or a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum SubscribeReturnCode {
    /// The subscription was accepted with this maximum QoS.
    Granted(QoS),
    /// 0x80: the subscription was refused (MQTT 3.1.1's only failure code, and MQTT 5.0's
    /// Unspecified error).
    Failure,
    /// MQTT 5.0: the subscription was refused with this Reason Code (0x83 and above).
    Refused(crate::codec::ReasonCode),
}

impl SubscribeReturnCode {
    /// The wire byte.
    pub fn byte(self) -> u8 {
        match self {
            SubscribeReturnCode::Granted(q) => q.bits(),
            SubscribeReturnCode::Failure => 0x80,
            SubscribeReturnCode::Refused(code) => code.0,
        }
    }

    /// The code of an MQTT 5.0 SUBACK Reason Code already known to be one (table 2-6).
    pub fn from_reason(code: crate::codec::ReasonCode) -> Self {
        match code.0 {
            0x80 => SubscribeReturnCode::Failure,
            b => QoS::from_bits(b).map_or(SubscribeReturnCode::Refused(code), Self::Granted),
        }
    }

    /// The code for a wire byte; any other value is malformed (MQTT-3.9.3-2).
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            0x80 => Some(SubscribeReturnCode::Failure),
            _ => QoS::from_bits(b).map(SubscribeReturnCode::Granted),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_id_zero_is_not_a_packet_id() {
        assert!(PacketId::new(0).is_none());
    }

    #[test]
    fn packet_id_wraps_past_65535_to_1() {
        let last = PacketId::new(u16::MAX).expect("non-zero");
        assert_eq!(last.next().get(), 1);
    }

    #[test]
    fn qos_3_is_not_a_qos() {
        assert_eq!(QoS::from_bits(3), None);
    }
}
