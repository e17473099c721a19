//! What the client does with each packet the broker sends.

use crate::codec::{Ack, ConnAck, Packet, Publish, ReasonCode};
use crate::time::Instant;
use crate::types::{PacketId, ProtocolVersion, QoS};

use super::{Client, ClientEvent, ClientState, OutgoingState, Received, ServerLimits};

impl Client {
    pub(super) fn handle_packet(&mut self, now: Instant, packet: Packet) {
        match packet {
            Packet::ConnAck(ack) => self.handle_connack(now, ack),
            Packet::Publish(p) => self.handle_publish(now, p),
            Packet::PubAck(ack) => self.complete(now, ack, OutgoingState::AwaitingPubAck),
            Packet::PubRec(ack) if ack.reason.is_error() => {
                // A PUBREC of 0x80 or above ends the exchange: no PUBREL follows.
                self.complete(now, ack, OutgoingState::AwaitingPubRec)
            }
            Packet::PubRec(ack) => {
                let id = ack.packet_id;
                let known = match self.outgoing.get_mut(&id) {
                    Some((_, state, at)) => {
                        *state = OutgoingState::AwaitingPubComp;
                        *at = now;
                        true
                    }
                    None => false,
                };
                // MQTT-4.3.3-1: answer PUBREC with PUBREL, even for a repeat; in 5.0, an
                // unknown id is answered "Packet Identifier not found".
                self.send(now, self.ack_for(Packet::pubrel(id), known));
            }
            Packet::PubComp(ack) => self.complete(now, ack, OutgoingState::AwaitingPubComp),
            Packet::PubRel(ack) => {
                // MQTT-4.3.3-2: release the id and answer PUBCOMP.
                let known = self.incoming_qos2.remove(&ack.packet_id);
                self.send(now, self.ack_for(Packet::pubcomp(ack.packet_id), known));
            }
            Packet::SubAck(ack) => {
                self.pending.remove(&ack.packet_id);
                self.events.push_back(ClientEvent::SubAck {
                    packet_id: ack.packet_id,
                    codes: ack.codes,
                });
            }
            Packet::UnsubAck(ack) => {
                self.pending.remove(&ack.packet_id);
                self.events.push_back(ClientEvent::UnsubAck {
                    packet_id: ack.packet_id,
                    codes: ack.codes,
                });
            }
            Packet::Disconnect(d) => {
                self.state = ClientState::Disconnected;
                self.rx.clear();
                self.events.push_back(ClientEvent::Disconnected {
                    reason: d.reason,
                    reason_string: d.properties.reason_string(),
                });
            }
            // PINGRESP needs no answer; AUTH is not begun by this client, and anything
            // a client never receives is ignored.
            _ => {}
        }
    }

    fn handle_connack(&mut self, now: Instant, ack: ConnAck) {
        if ack.accepted() {
            self.state = ClientState::Connected;
            if let Some(p) = &ack.properties {
                self.server = ServerLimits {
                    receive_maximum: p.receive_maximum().unwrap_or(u16::MAX),
                    topic_alias_maximum: p.topic_alias_maximum().unwrap_or(0),
                    maximum_packet_size: p.maximum_packet_size(),
                    keep_alive: p.server_keep_alive(),
                };
                if let Some(id) = p.assigned_client_identifier() {
                    self.assigned_id = Some(id);
                }
            }
            if !ack.session_present {
                // The broker has no session: nothing in flight survives either.
                self.incoming_qos2.clear();
            }
            // MQTT-4.4.0-1: re-send what is unacknowledged, in order, then what waited
            // for the connection.
            self.resend(now, None);
            self.pump(now);
        } else {
            self.state = ClientState::Disconnected;
        }
        self.events.push_back(ClientEvent::ConnAck(ack));
    }

    fn handle_publish(&mut self, now: Instant, mut p: Publish) {
        if let Some(reason) = self.resolve_alias(&mut p) {
            return self.fail(now, reason);
        }
        if let (Some(max), Some(id)) = (self.options.receive_maximum, p.packet_id) {
            // MQTT-3.3.4-9 binds the broker: more unacknowledged QoS 1 and 2 messages
            // than this client's Receive Maximum is a protocol error, answered with
            // DISCONNECT 0x93.
            let fresh = !self.incoming_qos2.contains(&id) && !self.unacked.contains_key(&id);
            if fresh && self.awaiting_ack() >= usize::from(max) {
                return self.fail(now, ReasonCode::RECEIVE_MAXIMUM_EXCEEDED);
            }
        }
        let received = Received {
            topic: p.topic,
            payload: p.payload,
            qos: p.qos,
            packet_id: p.packet_id,
            dup: p.dup,
            retain: p.retain,
            properties: p.properties,
            at: now,
        };
        let Some(id) = p.packet_id else {
            self.events.push_back(ClientEvent::Message(received));
            return;
        };
        // A QoS 2 repeat before PUBREL is not handed to the application again.
        let fresh = p.qos != QoS::ExactlyOnce || self.incoming_qos2.insert(id);
        if fresh {
            self.events.push_back(ClientEvent::Message(received));
        }
        if self.options.auto_ack {
            let ack = if p.qos == QoS::ExactlyOnce {
                Packet::pubrec(id)
            } else {
                Packet::puback(id)
            };
            self.send(now, ack);
        } else {
            self.unacked.insert(id, p.qos);
        }
    }

    /// Replaces a Topic Alias by its topic, or records a new one (section 3.3.2.3.4).
    /// Returns the reason to disconnect when the alias is 0, above this client's Topic
    /// Alias Maximum (MQTT-3.3.2-10), or unknown with an empty topic.
    fn resolve_alias(&mut self, p: &mut Publish) -> Option<ReasonCode> {
        let alias = p.properties.as_ref()?.topic_alias()?;
        if alias == 0 || alias > self.options.topic_alias_maximum {
            return Some(ReasonCode::TOPIC_ALIAS_INVALID);
        }
        if p.topic.is_empty() {
            match self.aliases_in.get(&alias) {
                Some(topic) => p.topic = topic.clone(),
                None => return Some(ReasonCode::PROTOCOL_ERROR),
            }
        } else {
            self.aliases_in.insert(alias, p.topic.clone());
        }
        None
    }

    /// Incoming QoS 1 and 2 messages this client has not finished acknowledging.
    fn awaiting_ack(&self) -> usize {
        let held_qos1 = self
            .unacked
            .values()
            .filter(|q| **q == QoS::AtLeastOnce)
            .count();
        held_qos1 + self.incoming_qos2.len()
    }

    /// `ack` as this client's version writes it: in 5.0 an unknown packet id is answered
    /// "Packet Identifier not found" (0x92).
    fn ack_for(&self, ack: Packet, known: bool) -> Packet {
        let unknown = !known && self.options.version == ProtocolVersion::V5;
        match ack {
            Packet::PubRel(a) if unknown => Packet::PubRel(Self::not_found(a)),
            Packet::PubComp(a) if unknown => Packet::PubComp(Self::not_found(a)),
            other => other,
        }
    }

    fn not_found(ack: Ack) -> Ack {
        Ack::with_reason(ack.packet_id, ReasonCode::PACKET_IDENTIFIER_NOT_FOUND)
    }

    fn complete(&mut self, now: Instant, ack: Ack, awaiting: OutgoingState) {
        let id: PacketId = ack.packet_id;
        if self
            .outgoing
            .get(&id)
            .is_some_and(|(_, s, _)| *s == awaiting)
        {
            self.outgoing.remove(&id);
            self.events.push_back(ClientEvent::Delivered {
                packet_id: id,
                reason: ack.reason,
            });
            self.pump(now);
        }
    }
}
