//! What can be wrong with bytes a peer sent.
//!
//! "Need more bytes" is not an error: the decoder returns `Ok(None)` for it. Every variant
//! here means the stream is malformed and names the statement of MQTT 3.1.1 it breaks; the
//! engine decides the wire consequence (close, or CONNACK then close) in one place,
//! `broker::violation`.

use core::fmt;

use super::PacketType;
use crate::topic::TopicError;

/// Why bytes from a peer are not a valid MQTT packet.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum DecodeError {
    /// Packet types 0 and 15 are reserved (section 2.2.1).
    ReservedPacketType(u8),
    /// The flag bits of the fixed header are not the ones the packet type requires (MQTT-2.2.2-2).
    InvalidFlags {
        /// The packet whose flags are wrong.
        packet: PacketType,
        /// The four flag bits received.
        flags: u8,
    },
    /// The remaining length uses more than four bytes (section 2.2.3).
    RemainingLengthTooLong,
    /// The packet is larger than the configured maximum; it is refused before it is buffered.
    PacketTooLarge {
        /// The whole packet's size as its header announces it.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A PUBLISH with both QoS bits set (MQTT-3.3.1-4).
    InvalidQoS,
    /// A CONNECT whose Will QoS is 3 (MQTT-3.1.2-14).
    InvalidWillQoS,
    /// A QoS 0 PUBLISH with DUP set (MQTT-3.3.1-2).
    DupWithQoS0,
    /// A string is not well-formed UTF-8 (MQTT-1.5.3-1).
    InvalidUtf8 {
        /// The field holding the string.
        field: &'static str,
    },
    /// A string contains U+0000 (MQTT-1.5.3-2).
    NullCharacter {
        /// The field holding the string.
        field: &'static str,
    },
    /// A topic name is not valid (section 4.7).
    InvalidTopicName(TopicError),
    /// A topic filter is not valid (section 4.7).
    InvalidTopicFilter(TopicError),
    /// A packet identifier is zero (MQTT-2.3.1-1).
    ZeroPacketId,
    /// The protocol name is not "MQTT" (MQTT-3.1.2-1).
    InvalidProtocolName,
    /// The protocol level is not 4; the server answers CONNACK 0x01 (MQTT-3.1.2-2).
    UnsupportedProtocolLevel(u8),
    /// The reserved bit of the CONNECT flags is set (MQTT-3.1.2-3).
    ConnectReservedFlag,
    /// Will QoS or Will Retain set without the Will Flag (MQTT-3.1.2-11, -13, -15).
    InvalidWillFlags,
    /// The password flag is set without the user name flag (MQTT-3.1.2-22).
    PasswordWithoutUsername,
    /// The reserved bits of a requested QoS byte are set, or the QoS is 3 (MQTT-3-8.3-4).
    InvalidRequestedQoS(u8),
    /// A SUBSCRIBE or UNSUBSCRIBE carries no topic filter (MQTT-3.8.3-3, MQTT-3.10.3-2).
    NoTopicFilters(PacketType),
    /// The reserved bits of the CONNACK acknowledge flags are set (section 3.2.2.1).
    InvalidConnAckFlags(u8),
    /// A CONNACK return code above 5 (section 3.2.2.3).
    InvalidConnectReturnCode(u8),
    /// A SUBACK return code other than 0, 1, 2 or 0x80 (MQTT-3.9.3-2).
    InvalidSubscribeReturnCode(u8),
    /// A field runs past the end the remaining length announced.
    Truncated {
        /// The field that was cut short.
        field: &'static str,
    },
    /// Bytes are left over after the last field of a packet whose size is fixed.
    TrailingBytes {
        /// The packet with extra bytes.
        packet: PacketType,
    },
    /// A Variable Byte Integer runs over four bytes (MQTT 5.0 section 1.5.5).
    VariableByteIntegerTooLong {
        /// The field holding it.
        field: &'static str,
    },
    /// A property identifier that MQTT 5.0 does not define (section 2.2.2.2).
    UnknownProperty(u8),
    /// A property the packet may not carry (section 2.2.2.2, table 2-4).
    PropertyNotAllowed {
        /// The property's name.
        property: &'static str,
    },
    /// A property that may appear once appears twice (section 2.2.2.2).
    RepeatedProperty {
        /// The property's name.
        property: &'static str,
    },
    /// A property with a value the standard forbids (0 for Receive Maximum, 2 for a flag).
    InvalidPropertyValue {
        /// The property's name.
        property: &'static str,
    },
    /// A Reason Code the packet may not carry (section 2.4, table 2-6).
    InvalidReasonCode {
        /// The packet.
        packet: PacketType,
        /// The code received.
        code: u8,
    },
    /// MQTT 5.0 subscription options with reserved bits set, or Retain Handling 3
    /// (MQTT-3.8.3-5).
    InvalidSubscriptionOptions(u8),
}

impl DecodeError {
    /// The normative statement of MQTT 3.1.1 the input breaks, for logs and the simulator,
    /// or the section where the standard states the rule without a statement id.
    pub fn statement(&self) -> &'static str {
        match self {
            DecodeError::ReservedPacketType(_) => "section 2.2.1",
            DecodeError::InvalidFlags { .. } => "MQTT-2.2.2-2",
            DecodeError::RemainingLengthTooLong => "section 2.2.3",
            DecodeError::PacketTooLarge { .. } => "configured maximum packet size",
            DecodeError::InvalidQoS => "MQTT-3.3.1-4",
            DecodeError::InvalidWillQoS => "MQTT-3.1.2-14",
            DecodeError::DupWithQoS0 => "MQTT-3.3.1-2",
            DecodeError::InvalidUtf8 { .. } => "MQTT-1.5.3-1",
            DecodeError::NullCharacter { .. } => "MQTT-1.5.3-2",
            DecodeError::InvalidTopicName(TopicError::WildcardInName) => "MQTT-3.3.2-2",
            DecodeError::InvalidTopicName(_) | DecodeError::InvalidTopicFilter(_) => "MQTT-4.7.3-1",
            DecodeError::ZeroPacketId => "MQTT-2.3.1-1",
            DecodeError::InvalidProtocolName => "MQTT-3.1.2-1",
            DecodeError::UnsupportedProtocolLevel(_) => "MQTT-3.1.2-2",
            DecodeError::ConnectReservedFlag => "MQTT-3.1.2-3",
            DecodeError::InvalidWillFlags => "MQTT-3.1.2-11",
            DecodeError::PasswordWithoutUsername => "MQTT-3.1.2-22",
            DecodeError::InvalidRequestedQoS(_) => "MQTT-3-8.3-4",
            DecodeError::NoTopicFilters(PacketType::Unsubscribe) => "MQTT-3.10.3-2",
            DecodeError::NoTopicFilters(_) => "MQTT-3.8.3-3",
            DecodeError::InvalidConnAckFlags(_) => "section 3.2.2.1",
            DecodeError::InvalidConnectReturnCode(_) => "section 3.2.2.3",
            DecodeError::InvalidSubscribeReturnCode(_) => "MQTT-3.9.3-2",
            DecodeError::Truncated { .. } | DecodeError::TrailingBytes { .. } => "section 2.2.3",
            DecodeError::VariableByteIntegerTooLong { .. } => "section 1.5.5",
            DecodeError::UnknownProperty(_)
            | DecodeError::PropertyNotAllowed { .. }
            | DecodeError::RepeatedProperty { .. }
            | DecodeError::InvalidPropertyValue { .. } => "section 2.2.2.2",
            DecodeError::InvalidReasonCode { .. } => "section 2.4",
            DecodeError::InvalidSubscriptionOptions(_) => "MQTT-3.8.3-5",
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::ReservedPacketType(t) => write!(f, "reserved packet type {t}"),
            DecodeError::InvalidFlags { packet, flags } => {
                write!(f, "invalid fixed-header flags {flags:#06b} for {packet:?}")
            }
            DecodeError::RemainingLengthTooLong => f.write_str("remaining length over 4 bytes"),
            DecodeError::PacketTooLarge { size, max } => {
                write!(f, "packet of {size} bytes exceeds the maximum of {max}")
            }
            DecodeError::InvalidQoS => f.write_str("QoS 3 is not a QoS"),
            DecodeError::InvalidWillQoS => f.write_str("Will QoS 3 is not a QoS"),
            DecodeError::DupWithQoS0 => f.write_str("DUP set on a QoS 0 PUBLISH"),
            DecodeError::InvalidUtf8 { field } => write!(f, "{field} is not valid UTF-8"),
            DecodeError::NullCharacter { field } => write!(f, "{field} contains U+0000"),
            DecodeError::InvalidTopicName(e) => write!(f, "invalid topic name: {e}"),
            DecodeError::InvalidTopicFilter(e) => write!(f, "invalid topic filter: {e}"),
            DecodeError::ZeroPacketId => f.write_str("packet identifier 0"),
            DecodeError::InvalidProtocolName => f.write_str("protocol name is not \"MQTT\""),
            DecodeError::UnsupportedProtocolLevel(l) => write!(f, "unsupported protocol level {l}"),
            DecodeError::ConnectReservedFlag => f.write_str("reserved CONNECT flag set"),
            DecodeError::InvalidWillFlags => f.write_str("will QoS or retain without will flag"),
            DecodeError::PasswordWithoutUsername => f.write_str("password flag without user name"),
            DecodeError::InvalidRequestedQoS(b) => write!(f, "invalid requested QoS byte {b:#04x}"),
            DecodeError::NoTopicFilters(packet) => write!(f, "{packet:?} without topic filters"),
            DecodeError::InvalidConnAckFlags(b) => write!(f, "invalid CONNACK flags {b:#04x}"),
            DecodeError::InvalidConnectReturnCode(c) => write!(f, "invalid CONNACK code {c}"),
            DecodeError::InvalidSubscribeReturnCode(c) => write!(f, "invalid SUBACK code {c:#04x}"),
            DecodeError::Truncated { field } => write!(f, "{field} runs past the packet's end"),
            DecodeError::TrailingBytes { packet } => write!(f, "trailing bytes after {packet:?}"),
            DecodeError::VariableByteIntegerTooLong { field } => {
                write!(f, "{field} is a variable byte integer over 4 bytes")
            }
            DecodeError::UnknownProperty(id) => write!(f, "unknown property {id:#04x}"),
            DecodeError::PropertyNotAllowed { property } => {
                write!(f, "{property} is not allowed in this packet")
            }
            DecodeError::RepeatedProperty { property } => write!(f, "{property} appears twice"),
            DecodeError::InvalidPropertyValue { property } => {
                write!(f, "{property} has a value the standard forbids")
            }
            DecodeError::InvalidReasonCode { packet, code } => {
                write!(
                    f,
                    "reason code {code:#04x} is not one {} may carry",
                    packet.name()
                )
            }
            DecodeError::InvalidSubscriptionOptions(b) => {
                write!(f, "invalid subscription options {b:#04x}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}
