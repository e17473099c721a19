//! MQTT 5.0 properties (section 2.2.2): a length, then identifier-value pairs.
//!
//! They are kept as a list in the order they arrived, which is what MQTT 5.0 asks for
//! User Properties ("The Server MUST maintain the order of User Properties when
//! forwarding the Application Message", MQTT-3.3.2-18) and what the inspector shows. An
//! empty list allocates nothing, so a PUBLISH without properties costs no more than an
//! MQTT 3.1.1 one.

use bytes::Bytes;

use super::error::DecodeError;
use super::reader::Reader;
use super::writer::{put_binary, put_u16, put_vbi, vbi_len};
use super::PacketType;

/// One MQTT 5.0 property (table 2-4).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[allow(missing_docs)]
pub enum Property {
    PayloadFormatIndicator(u8),
    MessageExpiryInterval(u32),
    ContentType(String),
    ResponseTopic(String),
    CorrelationData(Bytes),
    SubscriptionIdentifier(u32),
    SessionExpiryInterval(u32),
    AssignedClientIdentifier(String),
    ServerKeepAlive(u16),
    AuthenticationMethod(String),
    AuthenticationData(Bytes),
    RequestProblemInformation(u8),
    WillDelayInterval(u32),
    RequestResponseInformation(u8),
    ResponseInformation(String),
    ServerReference(String),
    ReasonString(String),
    ReceiveMaximum(u16),
    TopicAliasMaximum(u16),
    TopicAlias(u16),
    MaximumQoS(u8),
    RetainAvailable(u8),
    UserProperty(String, String),
    MaximumPacketSize(u32),
    WildcardSubscriptionAvailable(u8),
    SubscriptionIdentifierAvailable(u8),
    SharedSubscriptionAvailable(u8),
}

impl Property {
    /// The identifier byte (table 2-4).
    pub fn id(&self) -> u8 {
        use Property::*;
        match self {
            PayloadFormatIndicator(_) => 0x01,
            MessageExpiryInterval(_) => 0x02,
            ContentType(_) => 0x03,
            ResponseTopic(_) => 0x08,
            CorrelationData(_) => 0x09,
            SubscriptionIdentifier(_) => 0x0B,
            SessionExpiryInterval(_) => 0x11,
            AssignedClientIdentifier(_) => 0x12,
            ServerKeepAlive(_) => 0x13,
            AuthenticationMethod(_) => 0x15,
            AuthenticationData(_) => 0x16,
            RequestProblemInformation(_) => 0x17,
            WillDelayInterval(_) => 0x18,
            RequestResponseInformation(_) => 0x19,
            ResponseInformation(_) => 0x1A,
            ServerReference(_) => 0x1C,
            ReasonString(_) => 0x1F,
            ReceiveMaximum(_) => 0x21,
            TopicAliasMaximum(_) => 0x22,
            TopicAlias(_) => 0x23,
            MaximumQoS(_) => 0x24,
            RetainAvailable(_) => 0x25,
            UserProperty(..) => 0x26,
            MaximumPacketSize(_) => 0x27,
            WildcardSubscriptionAvailable(_) => 0x28,
            SubscriptionIdentifierAvailable(_) => 0x29,
            SharedSubscriptionAvailable(_) => 0x2A,
        }
    }

    /// The property's name as the standard writes it, which is also its field name in
    /// the inspector.
    pub fn name(&self) -> &'static str {
        name_of(self.id()).unwrap_or("property")
    }

    fn body_len(&self) -> usize {
        use Property::*;
        match self {
            PayloadFormatIndicator(_)
            | RequestProblemInformation(_)
            | RequestResponseInformation(_)
            | MaximumQoS(_)
            | RetainAvailable(_)
            | WildcardSubscriptionAvailable(_)
            | SubscriptionIdentifierAvailable(_)
            | SharedSubscriptionAvailable(_) => 1,
            ServerKeepAlive(_) | ReceiveMaximum(_) | TopicAliasMaximum(_) | TopicAlias(_) => 2,
            MessageExpiryInterval(_)
            | SessionExpiryInterval(_)
            | WillDelayInterval(_)
            | MaximumPacketSize(_) => 4,
            SubscriptionIdentifier(v) => vbi_len(*v as usize),
            ContentType(s)
            | ResponseTopic(s)
            | AssignedClientIdentifier(s)
            | AuthenticationMethod(s)
            | ResponseInformation(s)
            | ServerReference(s)
            | ReasonString(s) => 2 + s.len(),
            CorrelationData(b) | AuthenticationData(b) => 2 + b.len(),
            UserProperty(k, v) => 4 + k.len() + v.len(),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        use Property::*;
        out.push(self.id());
        match self {
            PayloadFormatIndicator(v)
            | RequestProblemInformation(v)
            | RequestResponseInformation(v)
            | MaximumQoS(v)
            | RetainAvailable(v)
            | WildcardSubscriptionAvailable(v)
            | SubscriptionIdentifierAvailable(v)
            | SharedSubscriptionAvailable(v) => out.push(*v),
            ServerKeepAlive(v) | ReceiveMaximum(v) | TopicAliasMaximum(v) | TopicAlias(v) => {
                put_u16(out, *v)
            }
            MessageExpiryInterval(v)
            | SessionExpiryInterval(v)
            | WillDelayInterval(v)
            | MaximumPacketSize(v) => out.extend_from_slice(&v.to_be_bytes()),
            SubscriptionIdentifier(v) => put_vbi(out, *v as usize),
            ContentType(s)
            | ResponseTopic(s)
            | AssignedClientIdentifier(s)
            | AuthenticationMethod(s)
            | ResponseInformation(s)
            | ServerReference(s)
            | ReasonString(s) => put_binary(out, s.as_bytes()),
            CorrelationData(b) | AuthenticationData(b) => put_binary(out, b),
            UserProperty(k, v) => {
                put_binary(out, k.as_bytes());
                put_binary(out, v.as_bytes());
            }
        }
    }
}

/// The name of property `id`, if it is one.
fn name_of(id: u8) -> Option<&'static str> {
    Some(match id {
        0x01 => "Payload Format Indicator",
        0x02 => "Message Expiry Interval",
        0x03 => "Content Type",
        0x08 => "Response Topic",
        0x09 => "Correlation Data",
        0x0B => "Subscription Identifier",
        0x11 => "Session Expiry Interval",
        0x12 => "Assigned Client Identifier",
        0x13 => "Server Keep Alive",
        0x15 => "Authentication Method",
        0x16 => "Authentication Data",
        0x17 => "Request Problem Information",
        0x18 => "Will Delay Interval",
        0x19 => "Request Response Information",
        0x1A => "Response Information",
        0x1C => "Server Reference",
        0x1F => "Reason String",
        0x21 => "Receive Maximum",
        0x22 => "Topic Alias Maximum",
        0x23 => "Topic Alias",
        0x24 => "Maximum QoS",
        0x25 => "Retain Available",
        0x26 => "User Property",
        0x27 => "Maximum Packet Size",
        0x28 => "Wildcard Subscription Available",
        0x29 => "Subscription Identifier Available",
        0x2A => "Shared Subscription Available",
        _ => return None,
    })
}

/// Where a property list sits: which packet, or the Will inside CONNECT. Each admits
/// its own properties (table 2-4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    Packet(PacketType),
    Will,
}

impl Place {
    fn admits(self, id: u8) -> bool {
        use PacketType::*;
        match self {
            Place::Will => matches!(id, 0x01 | 0x02 | 0x03 | 0x08 | 0x09 | 0x18 | 0x26),
            Place::Packet(packet) => match id {
                0x01 | 0x02 | 0x03 | 0x08 | 0x09 | 0x23 => packet == Publish,
                0x0B => matches!(packet, Publish | Subscribe),
                0x11 => matches!(packet, Connect | ConnAck | Disconnect),
                0x12 | 0x13 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A | 0x1A => packet == ConnAck,
                0x15 | 0x16 => matches!(packet, Connect | ConnAck | Auth),
                0x17 | 0x19 => packet == Connect,
                0x1C => matches!(packet, ConnAck | Disconnect),
                0x1F => !matches!(
                    packet,
                    Connect | Publish | Subscribe | Unsubscribe | PingReq | PingResp
                ),
                0x21 | 0x22 | 0x27 => matches!(packet, Connect | ConnAck),
                0x26 => !matches!(packet, PingReq | PingResp),
                _ => false,
            },
        }
    }

    /// May the property appear more than once here? Only User Property, and a
    /// Subscription Identifier in a PUBLISH the server forwards (section 3.3.2.3.8).
    fn repeats(self, id: u8) -> bool {
        id == 0x26 || (id == 0x0B && self == Place::Packet(PacketType::Publish))
    }
}

/// A packet's MQTT 5.0 properties, in the order received or to be sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Properties(pub Vec<Property>);

macro_rules! getter {
    ($(#[$doc:meta] $name:ident: $variant:ident -> $ty:ty;)*) => {$(
        #[$doc]
        pub fn $name(&self) -> Option<$ty> {
            self.0.iter().find_map(|p| match p {
                Property::$variant(v) => Some(v.clone()),
                _ => None,
            })
        }
    )*};
}

impl Properties {
    /// No properties.
    pub const fn new() -> Self {
        Properties(Vec::new())
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends `property`.
    pub fn push(&mut self, property: Property) {
        self.0.push(property);
    }

    /// Removes every property with `id`.
    pub fn remove(&mut self, id: u8) {
        self.0.retain(|p| p.id() != id);
    }

    /// Replaces the property of `property`'s kind (or adds it).
    pub fn set(&mut self, property: Property) {
        self.remove(property.id());
        self.0.push(property);
    }

    getter! {
        /// Payload Format Indicator: 1 means UTF-8 text.
        payload_format_indicator: PayloadFormatIndicator -> u8;
        /// Message Expiry Interval, in seconds.
        message_expiry_interval: MessageExpiryInterval -> u32;
        /// Content Type.
        content_type: ContentType -> String;
        /// Response Topic.
        response_topic: ResponseTopic -> String;
        /// Correlation Data.
        correlation_data: CorrelationData -> Bytes;
        /// Session Expiry Interval, in seconds.
        session_expiry_interval: SessionExpiryInterval -> u32;
        /// Assigned Client Identifier.
        assigned_client_identifier: AssignedClientIdentifier -> String;
        /// Server Keep Alive, in seconds.
        server_keep_alive: ServerKeepAlive -> u16;
        /// Authentication Method.
        authentication_method: AuthenticationMethod -> String;
        /// Request Problem Information.
        request_problem_information: RequestProblemInformation -> u8;
        /// Will Delay Interval, in seconds.
        will_delay_interval: WillDelayInterval -> u32;
        /// Request Response Information.
        request_response_information: RequestResponseInformation -> u8;
        /// Reason String.
        reason_string: ReasonString -> String;
        /// Receive Maximum.
        receive_maximum: ReceiveMaximum -> u16;
        /// Topic Alias Maximum.
        topic_alias_maximum: TopicAliasMaximum -> u16;
        /// Topic Alias.
        topic_alias: TopicAlias -> u16;
        /// Maximum QoS.
        maximum_qos: MaximumQoS -> u8;
        /// Retain Available.
        retain_available: RetainAvailable -> u8;
        /// Maximum Packet Size, in bytes.
        maximum_packet_size: MaximumPacketSize -> u32;
        /// Wildcard Subscription Available.
        wildcard_subscription_available: WildcardSubscriptionAvailable -> u8;
        /// Subscription Identifier Available.
        subscription_identifier_available: SubscriptionIdentifierAvailable -> u8;
        /// Shared Subscription Available.
        shared_subscription_available: SharedSubscriptionAvailable -> u8;
    }

    /// Every Subscription Identifier, in order.
    pub fn subscription_identifiers(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().filter_map(|p| match p {
            Property::SubscriptionIdentifier(v) => Some(*v),
            _ => None,
        })
    }

    /// Every User Property, in order.
    pub fn user_properties(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.0.iter().filter_map(|p| match p {
            Property::UserProperty(k, v) => Some((k.as_str(), v.as_str())),
            _ => None,
        })
    }

    /// The bytes of the properties after their length.
    pub(crate) fn body_len(&self) -> usize {
        self.0.iter().map(|p| 1 + p.body_len()).sum()
    }

    /// The whole field: the length, then the properties.
    pub(crate) fn encoded_len(&self) -> usize {
        let body = self.body_len();
        vbi_len(body) + body
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        put_vbi(out, self.body_len());
        for p in &self.0 {
            p.write(out);
        }
    }

    /// Reads a property length and the properties it covers, checking that each may
    /// appear in `place` and appears no more often than allowed (section 2.2.2.2: a
    /// property that is not allowed, or included twice where it may not be, makes the
    /// packet malformed or a protocol error).
    pub(crate) fn decode(r: &mut Reader<'_, '_>, place: Place) -> Result<Properties, DecodeError> {
        let len = r.vbi("property length")? as usize;
        if len > r.remaining() {
            return Err(DecodeError::Truncated {
                field: "properties",
            });
        }
        let end = r.remaining() - len;
        let mut props = Vec::new();
        while r.remaining() > end {
            let start = r.position();
            let id = r.u8_unmarked("property identifier")?;
            let Some(name) = name_of(id) else {
                return Err(DecodeError::UnknownProperty(id));
            };
            if !place.admits(id) {
                return Err(DecodeError::PropertyNotAllowed { property: name });
            }
            if !place.repeats(id) && props.iter().any(|p: &Property| p.id() == id) {
                return Err(DecodeError::RepeatedProperty { property: name });
            }
            let property = read_value(r, id, name)?;
            if r.remaining() < end {
                return Err(DecodeError::Truncated { field: name });
            }
            r.mark(name, start);
            props.push(property);
        }
        Ok(Properties(props))
    }
}

fn read_value(r: &mut Reader<'_, '_>, id: u8, name: &'static str) -> Result<Property, DecodeError> {
    use Property::*;
    let two = |r: &mut Reader<'_, '_>| r.u16_unmarked(name);
    let four = |r: &mut Reader<'_, '_>| r.u32_unmarked(name);
    let text = |r: &mut Reader<'_, '_>| r.string_unmarked(name).map(str::to_owned);
    let binary = |r: &mut Reader<'_, '_>| r.binary_unmarked(name).map(Bytes::copy_from_slice);
    // The byte properties are flags: a value other than 0 or 1 is a Protocol Error (the
    // standard says so of each, for example of Maximum QoS in section 3.2.2.3.4).
    let flag = |r: &mut Reader<'_, '_>| -> Result<u8, DecodeError> {
        let v = r.u8_unmarked(name)?;
        if v > 1 {
            return Err(DecodeError::InvalidPropertyValue { property: name });
        }
        Ok(v)
    };
    // Subscription Identifier (section 3.8.2.1.2), Receive Maximum (3.1.2.11.3) and
    // Maximum Packet Size (3.1.2.11.4) may not be 0: that is a Protocol Error.
    let nonzero = |v: u32| -> Result<u32, DecodeError> {
        if v == 0 {
            return Err(DecodeError::InvalidPropertyValue { property: name });
        }
        Ok(v)
    };
    Ok(match id {
        0x01 => PayloadFormatIndicator(flag(r)?),
        0x02 => MessageExpiryInterval(four(r)?),
        0x03 => ContentType(text(r)?),
        0x08 => ResponseTopic(text(r)?),
        0x09 => CorrelationData(binary(r)?),
        0x0B => SubscriptionIdentifier(nonzero(r.vbi_unmarked(name)?)?),
        0x11 => SessionExpiryInterval(four(r)?),
        0x12 => AssignedClientIdentifier(text(r)?),
        0x13 => ServerKeepAlive(two(r)?),
        0x15 => AuthenticationMethod(text(r)?),
        0x16 => AuthenticationData(binary(r)?),
        0x17 => RequestProblemInformation(flag(r)?),
        0x18 => WillDelayInterval(four(r)?),
        0x19 => RequestResponseInformation(flag(r)?),
        0x1A => ResponseInformation(text(r)?),
        0x1C => ServerReference(text(r)?),
        0x1F => ReasonString(text(r)?),
        0x21 => ReceiveMaximum(nonzero(u32::from(two(r)?))? as u16),
        0x22 => TopicAliasMaximum(two(r)?),
        0x23 => TopicAlias(two(r)?),
        0x24 => MaximumQoS(flag(r)?),
        0x25 => RetainAvailable(flag(r)?),
        0x26 => {
            let key = text(r)?;
            UserProperty(key, text(r)?)
        }
        0x27 => MaximumPacketSize(nonzero(four(r)?)?),
        0x28 => WildcardSubscriptionAvailable(flag(r)?),
        0x29 => SubscriptionIdentifierAvailable(flag(r)?),
        0x2A => SharedSubscriptionAvailable(flag(r)?),
        _ => return Err(DecodeError::UnknownProperty(id)),
    })
}
