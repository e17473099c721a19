//! CONNECT (section 3.1) and CONNACK (section 3.2), in MQTT 3.1.1 and 5.0.

use bytes::Bytes;

use super::error::DecodeError;
use super::properties::{Place, Properties};
use super::reader::Reader;
use super::reason::ReasonCode;
use super::writer::{put_binary, put_u16};
use super::PacketType;
use crate::topic::TopicName;
use crate::types::{ConnectReturnCode, ProtocolVersion, QoS};

/// A CONNECT packet. Protocol "MQTT" at level 4 (MQTT 3.1.1) or 5 (MQTT 5.0) decodes into
/// one; anything else is an error the engine answers as MQTT-3.1.2-1 and MQTT-3.1.2-2
/// require.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Connect {
    /// The protocol version: level 4 or 5.
    pub version: ProtocolVersion,
    /// Clean Session (3.1.1, section 3.1.2.4), or Clean Start (5.0, section 3.1.2.4):
    /// the same bit.
    pub clean_session: bool,
    /// Keep-alive in seconds; 0 turns the mechanism off (section 3.1.2.10).
    pub keep_alive: u16,
    /// MQTT 5.0 CONNECT properties (section 3.1.2.11); empty in 3.1.1.
    pub properties: Properties,
    /// The client identifier; may be empty (MQTT-3.1.3-6).
    pub client_id: String,
    /// The Will, if the Will Flag is set.
    pub will: Option<LastWill>,
    /// The user name, if present.
    pub username: Option<String>,
    /// The password, if present (binary data).
    pub password: Option<Bytes>,
}

/// The Will Message a client leaves with its CONNECT (section 3.1.2.5).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct LastWill {
    /// Where the Will is published.
    pub topic: TopicName,
    /// The Will's payload.
    pub payload: Bytes,
    /// The QoS it is published with.
    pub qos: QoS,
    /// Whether it is published as a retained message.
    pub retain: bool,
    /// MQTT 5.0 Will Properties (section 3.1.3.2); empty in 3.1.1.
    pub properties: Properties,
}

const FLAG_USERNAME: u8 = 0x80;
const FLAG_PASSWORD: u8 = 0x40;
const FLAG_WILL_RETAIN: u8 = 0x20;
const FLAG_WILL_QOS: u8 = 0x18;
const FLAG_WILL: u8 = 0x04;
const FLAG_CLEAN: u8 = 0x02;
const FLAG_RESERVED: u8 = 0x01;

impl Connect {
    /// A CONNECT of `version` for `client_id`, with keep-alive 60 s and nothing else.
    pub fn new(version: ProtocolVersion, client_id: &str, clean_session: bool) -> Self {
        Connect {
            version,
            clean_session,
            keep_alive: 60,
            properties: Properties::new(),
            client_id: client_id.to_owned(),
            will: None,
            username: None,
            password: None,
        }
    }

    pub(super) fn decode(r: &mut Reader<'_, '_>) -> Result<Connect, DecodeError> {
        let name = r.binary("protocol name")?;
        let level = r.u8("protocol level")?;
        let version = match (name, level) {
            (b"MQTT", 4) => ProtocolVersion::V311,
            (b"MQTT", 5) => ProtocolVersion::V5,
            // MQTT 3.1 clients say "MQIsdp" level 3; they understand CONNACK 0x01.
            (b"MQTT" | b"MQIsdp", other) => {
                return Err(DecodeError::UnsupportedProtocolLevel(other))
            }
            _ => return Err(DecodeError::InvalidProtocolName),
        };
        let v5 = version == ProtocolVersion::V5;
        let flags = r.u8("connect flags")?;
        if flags & FLAG_RESERVED != 0 {
            return Err(DecodeError::ConnectReservedFlag); // MQTT-3.1.2-3
        }
        let will_flag = flags & FLAG_WILL != 0;
        let will_qos_bits = (flags & FLAG_WILL_QOS) >> 3;
        let will_retain = flags & FLAG_WILL_RETAIN != 0;
        if !will_flag && (will_qos_bits != 0 || will_retain) {
            return Err(DecodeError::InvalidWillFlags); // MQTT-3.1.2-11, -13, -15
        }
        let will_qos = QoS::from_bits(will_qos_bits).ok_or(DecodeError::InvalidWillQoS)?; // MQTT-3.1.2-14
        let has_username = flags & FLAG_USERNAME != 0;
        let has_password = flags & FLAG_PASSWORD != 0;
        // MQTT 5.0 lets a client send a password without a user name (section 3.1.2.9);
        // MQTT 3.1.1 does not.
        if has_password && !has_username && !v5 {
            return Err(DecodeError::PasswordWithoutUsername); // MQTT-3.1.2-22
        }
        let keep_alive = r.u16("keep alive")?;
        let properties = if v5 {
            Properties::decode(r, Place::Packet(PacketType::Connect))?
        } else {
            Properties::new()
        };
        let client_id = r.string("client identifier")?.to_owned();
        let will = if will_flag {
            let properties = if v5 {
                Properties::decode(r, Place::Will)?
            } else {
                Properties::new()
            };
            let topic = r.string("will topic")?;
            let topic = TopicName::new(topic).map_err(DecodeError::InvalidTopicName)?;
            let payload = Bytes::copy_from_slice(r.binary("will message")?);
            Some(LastWill {
                topic,
                payload,
                qos: will_qos,
                retain: will_retain,
                properties,
            })
        } else {
            None
        };
        let username = match has_username {
            true => Some(r.string("user name")?.to_owned()),
            false => None,
        };
        let password = match has_password {
            true => Some(Bytes::copy_from_slice(r.binary("password")?)),
            false => None,
        };
        Ok(Connect {
            version,
            clean_session: flags & FLAG_CLEAN != 0,
            keep_alive,
            properties,
            client_id,
            will,
            username,
            password,
        })
    }

    fn v5(&self) -> bool {
        self.version == ProtocolVersion::V5
    }

    pub(super) fn body_len(&self) -> usize {
        let mut n = 6 + 1 + 1 + 2 + 2 + self.client_id.len();
        if self.v5() {
            n += self.properties.encoded_len();
        }
        if let Some(w) = &self.will {
            n += 2 + w.topic.as_str().len() + 2 + w.payload.len();
            if self.v5() {
                n += w.properties.encoded_len();
            }
        }
        n += self.username.as_ref().map_or(0, |u| 2 + u.len());
        n += self.password.as_ref().map_or(0, |p| 2 + p.len());
        n
    }

    pub(super) fn write_body(&self, out: &mut Vec<u8>) {
        put_binary(out, b"MQTT");
        out.push(match self.version {
            ProtocolVersion::V311 => 4,
            ProtocolVersion::V5 => 5,
        });
        let mut flags = 0;
        if self.clean_session {
            flags |= FLAG_CLEAN;
        }
        if let Some(w) = &self.will {
            flags |= FLAG_WILL | (w.qos.bits() << 3);
            if w.retain {
                flags |= FLAG_WILL_RETAIN;
            }
        }
        if self.username.is_some() {
            flags |= FLAG_USERNAME;
        }
        if self.password.is_some() {
            flags |= FLAG_PASSWORD;
        }
        out.push(flags);
        put_u16(out, self.keep_alive);
        if self.v5() {
            self.properties.write(out);
        }
        put_binary(out, self.client_id.as_bytes());
        if let Some(w) = &self.will {
            if self.v5() {
                w.properties.write(out);
            }
            put_binary(out, w.topic.as_str().as_bytes());
            put_binary(out, &w.payload);
        }
        if let Some(u) = &self.username {
            put_binary(out, u.as_bytes());
        }
        if let Some(p) = &self.password {
            put_binary(out, p);
        }
    }
}

/// A CONNACK packet. In MQTT 3.1.1 its code is a return code from 0 to 5 (table 3.1);
/// in MQTT 5.0 a Reason Code, followed by properties.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ConnAck {
    /// Whether the server resumed a stored session (section 3.2.2.2).
    pub session_present: bool,
    /// The outcome of the CONNECT: a 3.1.1 return code, or a 5.0 Reason Code.
    pub code: ReasonCode,
    /// MQTT 5.0 CONNACK properties; `None` for an MQTT 3.1.1 CONNACK.
    pub properties: Option<Properties>,
}

impl ConnAck {
    /// An MQTT 3.1.1 CONNACK.
    pub fn v311(session_present: bool, code: ConnectReturnCode) -> Self {
        ConnAck {
            session_present,
            code: ReasonCode(code as u8),
            properties: None,
        }
    }

    /// Whether the CONNECT was accepted (return code or Reason Code 0).
    pub fn accepted(&self) -> bool {
        self.code == ReasonCode::SUCCESS
    }

    pub(super) fn decode(
        r: &mut Reader<'_, '_>,
        version: ProtocolVersion,
    ) -> Result<ConnAck, DecodeError> {
        let flags = r.u8("acknowledge flags")?;
        if flags & 0xFE != 0 {
            return Err(DecodeError::InvalidConnAckFlags(flags));
        }
        let session_present = flags & 1 != 0;
        if version == ProtocolVersion::V311 {
            let code = r.u8("return code")?;
            let code = ConnectReturnCode::from_byte(code)
                .ok_or(DecodeError::InvalidConnectReturnCode(code))?;
            return Ok(ConnAck::v311(session_present, code));
        }
        let code = ReasonCode(r.u8("reason code")?);
        if code.name_in(PacketType::ConnAck).is_none() {
            return Err(DecodeError::InvalidReasonCode {
                packet: PacketType::ConnAck,
                code: code.0,
            });
        }
        let properties = Properties::decode(r, Place::Packet(PacketType::ConnAck))?;
        Ok(ConnAck {
            session_present,
            code,
            properties: Some(properties),
        })
    }

    pub(super) fn body_len(&self) -> usize {
        2 + self.properties.as_ref().map_or(0, Properties::encoded_len)
    }

    pub(super) fn write_body(&self, out: &mut Vec<u8>) {
        out.push(u8::from(self.session_present));
        out.push(self.code.0);
        if let Some(p) = &self.properties {
            p.write(out);
        }
    }
}
