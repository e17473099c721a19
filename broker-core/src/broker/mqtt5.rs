//! What an MQTT 5.0 connection adds to a connection's state: the limits the client set
//! in its CONNECT, and the topic aliases of both directions (sections 3.1.2.11 and
//! 3.3.2.3.4). Boxed in the connection, so an MQTT 3.1.1 connection costs nothing more.

use std::collections::BTreeMap;

use crate::codec::{Packet, Properties, Property, ReasonCode};
use crate::topic::TopicName;
use crate::types::SubscribeReturnCode;

/// One MQTT 5.0 connection's negotiated state.
#[derive(Debug)]
pub(super) struct Mqtt5 {
    /// The client's Receive Maximum: the server keeps at most this many QoS 1 and 2
    /// messages in flight to it (MQTT-3.3.4-9).
    pub(super) receive_maximum: u16,
    /// The client's Maximum Packet Size: nothing larger is sent to it (MQTT-3.1.2-24).
    pub(super) maximum_packet_size: u32,
    /// The client's Topic Alias Maximum: the aliases the server may use toward it
    /// (MQTT-3.3.2-11).
    pub(super) topic_alias_maximum: u16,
    /// Request Problem Information: when false, no Reason String or User Property goes on
    /// anything but PUBLISH, CONNACK and DISCONNECT (MQTT-3.1.2-29).
    pub(super) problem_information: bool,
    /// Aliases the server set toward the client, by topic.
    outbound: BTreeMap<TopicName, u16>,
    /// Aliases the client set toward the server: alias `n` is at `n - 1`.
    inbound: Vec<Option<TopicName>>,
}

/// How an outgoing PUBLISH names its topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum TopicRef {
    /// The topic in full, and no alias.
    Full,
    /// The topic in full, setting this alias for the ones that follow.
    Set(u16),
    /// The alias alone, with an empty topic.
    Alias(u16),
}

impl Mqtt5 {
    /// The state a CONNECT's properties ask for.
    pub(super) fn from_connect(properties: &Properties) -> Self {
        Mqtt5 {
            // Absent, the Receive Maximum is 65,535 (section 3.1.2.11.3).
            receive_maximum: properties.receive_maximum().unwrap_or(u16::MAX),
            maximum_packet_size: properties.maximum_packet_size().unwrap_or(u32::MAX),
            topic_alias_maximum: properties.topic_alias_maximum().unwrap_or(0),
            problem_information: properties.request_problem_information() != Some(0),
            outbound: BTreeMap::new(),
            inbound: Vec::new(),
        }
    }

    /// How to name `topic` toward the client: by an alias set earlier, by a new one while
    /// the client's Topic Alias Maximum leaves room, or in full. Aliases are never
    /// reassigned, so a topic keeps its alias for the connection's life.
    pub(super) fn outbound_alias(&mut self, topic: &TopicName) -> TopicRef {
        if let Some(alias) = self.outbound.get(topic) {
            return TopicRef::Alias(*alias);
        }
        let used = self.outbound.len();
        if used >= usize::from(self.topic_alias_maximum) {
            return TopicRef::Full;
        }
        let alias = u16::try_from(used + 1).unwrap_or(u16::MAX);
        self.outbound.insert(topic.clone(), alias);
        TopicRef::Set(alias)
    }

    /// Resolves an inbound PUBLISH's topic and alias, within the server's Topic Alias
    /// Maximum `max`: a topic with an alias sets it, an empty topic uses it.
    pub(super) fn inbound_alias(
        &mut self,
        topic: &TopicName,
        alias: u16,
        max: u16,
    ) -> Result<TopicName, AliasError> {
        // MQTT-3.3.2-8 and MQTT-3.3.2-9: 0, or above the maximum, is invalid.
        if alias == 0 || alias > max {
            return Err(AliasError::Invalid);
        }
        let slot = usize::from(alias - 1);
        if !topic.is_empty() {
            if self.inbound.len() <= slot {
                self.inbound.resize(slot + 1, None);
            }
            self.inbound[slot] = Some(topic.clone());
            return Ok(topic.clone());
        }
        self.inbound
            .get(slot)
            .cloned()
            .flatten()
            .ok_or(AliasError::Unknown)
    }
}

impl Mqtt5 {
    /// Adds a Reason String naming the failure to an acknowledgement that reports one,
    /// unless the client asked for no problem information (MQTT-3.1.2-29): a learner
    /// reading the packet sees why without the table of codes.
    pub(super) fn explain(&self, packet: &mut Packet, failure: ReasonCode) {
        if !self.problem_information {
            return;
        }
        if let Some(properties) = diagnostics_of(packet) {
            properties.push(Property::ReasonString(failure.name().to_owned()));
        }
    }

    /// Leaves the Reason String and User Properties out of a packet they would make
    /// larger than the client's Maximum Packet Size: MQTT-3.1.2-24, and for each packet
    /// MQTT-3.4.2-2, 3.5.2-2, 3.6.2-2, 3.7.2-2, 3.9.2-1, 3.11.2-1 and 3.14.2-3. What is
    /// left is a few bytes, which every client must accept.
    pub(super) fn fit(&self, packet: &mut Packet) {
        if packet.encoded_len() as u64 <= u64::from(self.maximum_packet_size) {
            return;
        }
        if let Some(properties) = diagnostics_of(packet) {
            properties
                .0
                .retain(|p| !matches!(p, Property::ReasonString(_) | Property::UserProperty(..)));
        }
    }
}

/// The properties of a packet the server sends that may carry a Reason String.
fn diagnostics_of(packet: &mut Packet) -> Option<&mut Properties> {
    match packet {
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            Some(&mut a.properties)
        }
        Packet::SubAck(s) => s.properties.as_mut(),
        Packet::UnsubAck(u) => u.properties.as_mut(),
        Packet::Disconnect(d) => Some(&mut d.properties),
        _ => None,
    }
}

/// The first failure an acknowledgement reports, if any: checked before anything else,
/// so that a successful acknowledgement, the common case, costs no connection lookup.
pub(super) fn failure_of(packet: &Packet) -> Option<ReasonCode> {
    match packet {
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            Some(a.reason).filter(|r| r.is_error())
        }
        Packet::SubAck(s) => s.codes.iter().find_map(|c| match c {
            SubscribeReturnCode::Granted(_) => None,
            other => Some(ReasonCode(other.byte())),
        }),
        Packet::UnsubAck(u) => u.codes.iter().copied().find(|c| c.is_error()),
        _ => None,
    }
}

/// Why an inbound Topic Alias cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AliasError {
    /// 0, or above the Topic Alias Maximum.
    Invalid,
    /// Used with an empty topic before any PUBLISH set it.
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Property;

    fn state(max: u16) -> Mqtt5 {
        let mut p = Properties::new();
        p.push(Property::TopicAliasMaximum(max));
        Mqtt5::from_connect(&p)
    }

    fn t(s: &str) -> TopicName {
        TopicName::new(s).expect("topic")
    }

    #[test]
    fn outbound_aliases_fill_up_to_the_clients_maximum_then_topics_go_in_full() {
        let mut s = state(1);
        assert_eq!(s.outbound_alias(&t("a")), TopicRef::Set(1));
        assert_eq!(s.outbound_alias(&t("a")), TopicRef::Alias(1));
        assert_eq!(s.outbound_alias(&t("b")), TopicRef::Full);
        assert_eq!(state(0).outbound_alias(&t("a")), TopicRef::Full);
    }

    #[test]
    fn inbound_aliases_are_set_by_a_topic_and_used_by_an_empty_one() {
        let mut s = state(0);
        assert_eq!(s.inbound_alias(&t("a"), 2, 2), Ok(t("a")));
        assert_eq!(s.inbound_alias(&TopicName::aliased(), 2, 2), Ok(t("a")));
        assert_eq!(
            s.inbound_alias(&TopicName::aliased(), 1, 2),
            Err(AliasError::Unknown)
        );
        assert_eq!(s.inbound_alias(&t("a"), 3, 2), Err(AliasError::Invalid));
        assert_eq!(s.inbound_alias(&t("a"), 0, 2), Err(AliasError::Invalid));
    }
}
