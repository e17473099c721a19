//! Inbound PUBLISH and the acknowledgements of both directions: taking a message from a
//! client, in MQTT 3.1.1 and 5.0. Routing it is in `route.rs`, sending it to subscribers
//! in `deliver.rs`.

use std::sync::Arc;

use core::time::Duration;

use super::aws::{check_topic, TopicUse};
use super::mqtt5::AliasError;
use super::refusal::{Consequence, Refusal};
use super::route::Routed;
use super::Broker;
use crate::codec::{Ack, Packet, PacketType, Properties, Property, Publish, ReasonCode};
use crate::config::{Qos2Mode, RetainMode};
use crate::event::{Event, Violation};
use crate::policy::Action;
use crate::rule::Rule;
use crate::session::{InflightState, SessionId};
use crate::time::Instant;
use crate::topic::TopicName;
use crate::types::{ConnId, PacketId, ProtocolVersion, QoS};

impl Broker {
    pub(super) fn handle_publish(
        &mut self,
        now: Instant,
        conn: ConnId,
        session: SessionId,
        mut p: Publish,
    ) {
        if p.properties.is_some() && !self.admit_mqtt5_publish(now, conn, session, &mut p) {
            return;
        }
        if self.aws().is_some() && !self.admit_aws_publish(now, conn, &p) {
            return;
        }
        // Policies: iot:Publish on the topic, and iot:RetainPublish to store it.
        let mut allowed = self.authorize_session(session, Action::Publish, p.topic.as_str());
        if allowed && p.retain {
            allowed = self.authorize_session(session, Action::RetainPublish, p.topic.as_str());
        }
        let mut reason = ReasonCode::SUCCESS;
        if !allowed {
            match self.consequence(conn, &Refusal::PublishDenied) {
                // The message is dropped below, and acknowledged as its QoS requires.
                Consequence::DropAndAck(code) => reason = code,
                _ => return self.refuse(now, conn, Refusal::PublishDenied),
            }
        }
        // MQTT 5.0: a payload that says it is UTF-8 and is not is refused (section 3.3.2.3.2):
        // with PUBACK or PUBREC 0x99, or, having no acknowledgement, by DISCONNECT.
        let utf8_claimed = p
            .properties
            .as_ref()
            .is_some_and(|props| props.payload_format_indicator() == Some(1));
        if allowed && utf8_claimed && core::str::from_utf8(&p.payload).is_err() {
            if p.qos == QoS::AtMostOnce {
                return self.violation(now, conn, Violation::PayloadFormatInvalid);
            }
            allowed = false;
            reason = ReasonCode::PAYLOAD_FORMAT_INVALID;
        }
        self.pressured.clear();
        match (p.qos, p.packet_id) {
            (QoS::AtMostOnce, _) | (_, None) => {
                if allowed {
                    self.route_publish(now, session, &p);
                }
            }
            (QoS::AtLeastOnce, Some(id)) => {
                // MQTT-4.3.2-2: take ownership, then acknowledge with PUBACK. A repeat
                // with the same id is a new message; QoS 1 allows the duplicate.
                if allowed {
                    self.route_publish(now, session, &p);
                }
                self.acknowledge(now, conn, Packet::PubAck(Ack::with_reason(id, reason)));
            }
            (QoS::ExactlyOnce, Some(id)) => {
                // MQTT-4.3.3-2 (method B): route on first receipt, remember the id, and
                // route nothing for a repeat until PUBREL releases the id. Every copy is
                // answered with PUBREC. A refused message is not remembered: an error
                // PUBREC ends the exchange (section 4.3.3).
                let first = reason == ReasonCode::SUCCESS
                    && self
                        .session_mut(session)
                        .is_some_and(|s| s.receive_qos2(id));
                if first && allowed {
                    self.route_publish(now, session, &p);
                }
                self.acknowledge(now, conn, Packet::PubRec(Ack::with_reason(id, reason)));
            }
        }
    }

    /// What MQTT 5.0 asks of an inbound PUBLISH before it is routed: its QoS within the
    /// Maximum QoS, no Subscription Identifier, a resolvable Topic Alias, a valid Response
    /// Topic, and room under the Receive Maximum. Returns false if it goes no further
    /// (the connection is then closed).
    fn admit_mqtt5_publish(
        &mut self,
        now: Instant,
        conn: ConnId,
        session: SessionId,
        p: &mut Publish,
    ) -> bool {
        // MQTT-3.2.2-11: more than the Maximum QoS in CONNACK is DISCONNECT 0x9B. Under
        // aws-iot that is D2: AWS IoT does not support QoS 2.
        if p.qos > self.config.max_qos {
            if self.aws().is_some() {
                let detail = "QoS 2 PUBLISH over MQTT 5".to_owned();
                self.rule_violation(now, conn, Rule::D2Qos2Unsupported, detail);
            } else {
                self.violation(now, conn, Violation::QoSNotSupported);
            }
            return false;
        }
        // Most PUBLISH packets have no properties at all: nothing below to look at.
        let props = p.properties.as_ref().filter(|props| !props.is_empty());
        if props.is_some_and(|props| props.subscription_identifiers().next().is_some()) {
            self.violation(now, conn, Violation::SubscriptionIdentifierFromClient);
            return false;
        }
        let bad_response_topic = props
            .and_then(Properties::response_topic)
            .is_some_and(|t| TopicName::new(&t).is_err());
        if let Some(alias) = props.and_then(Properties::topic_alias) {
            let max = self.config.topic_alias_maximum;
            let resolved = self
                .mqtt5_mut(conn)
                .map(|m| m.inbound_alias(&p.topic, alias, max));
            match resolved {
                Some(Ok(topic)) => p.topic = topic,
                Some(Err(AliasError::Invalid)) => {
                    if self.aws().is_some() && alias > max {
                        let detail = format!("Topic Alias {alias}, limit {max}");
                        self.fire(Rule::TopicAliasLimit, Some(conn), detail);
                    }
                    self.violation(now, conn, Violation::TopicAliasInvalid(alias));
                    return false;
                }
                Some(Err(AliasError::Unknown)) | None => {
                    self.violation(now, conn, Violation::UnknownTopicAlias(alias));
                    return false;
                }
            }
        }
        if bad_response_topic {
            self.violation(now, conn, Violation::InvalidResponseTopic);
            return false;
        }
        // MQTT-3.3.4-7: a client may not have more unacknowledged QoS 1 and 2 messages in
        // flight to the server than its Receive Maximum; one more is DISCONNECT 0x93. A
        // QoS 2 repeat of an id not yet released is not a new one.
        let repeat = p.qos == QoS::ExactlyOnce
            && p.packet_id.is_some_and(|id| {
                self.session_ref(session)
                    .is_some_and(|s| s.qos2_received.contains(&id))
            });
        if p.qos != QoS::AtMostOnce && !repeat {
            let unacknowledged = self.held_pubacks(conn)
                + self
                    .session_ref(session)
                    .map_or(0, |s| s.qos2_received.len());
            if unacknowledged >= usize::from(self.config.receive_maximum) {
                self.violation(now, conn, Violation::ReceiveMaximumExceeded);
                return false;
            }
        }
        true
    }

    /// The aws-iot profile's rules for an inbound PUBLISH, in the order AWS would meet
    /// them. Returns false if the message goes no further (the connection may be closed,
    /// or, over MQTT 5, the message refused with a reason code).
    fn admit_aws_publish(&mut self, now: Instant, conn: ConnId, p: &Publish) -> bool {
        let Some(rules) = self.aws() else {
            return true;
        };
        let (max_payload, retain, qos2, rate) = (
            rules.max_payload,
            rules.retain,
            rules.qos2,
            rules.publish_rate_per_second,
        );
        if let Err((rule, detail)) = check_topic(rules, p.topic.as_str(), TopicUse::Publish) {
            self.rule_violation(now, conn, rule, detail);
            return false;
        }
        if p.payload.len() > max_payload {
            let detail = format!("{} bytes, limit {max_payload}", p.payload.len());
            self.rule_violation(now, conn, Rule::PayloadTooLarge, detail);
            return false;
        }
        // D5: RETAIN=1 closes the connection (CLIENT_ERROR; 0x9A over MQTT 5) unless
        // exact-match retained messages are switched on.
        if p.retain && retain == RetainMode::Disconnect {
            self.rule_violation(now, conn, Rule::D5Retain, "PUBLISH with RETAIN=1".into());
            return false;
        }
        // D2: a QoS 2 PUBLISH gets no PUBREC; the message is not accepted. (MQTT 5 never
        // gets here: its QoS 2 PUBLISH broke the Maximum QoS.)
        if p.qos == QoS::ExactlyOnce {
            match qos2 {
                Qos2Mode::Disconnect => {
                    self.rule_violation(now, conn, Rule::D2Qos2Unsupported, "QoS 2 PUBLISH".into())
                }
                Qos2Mode::Ignore => self.fire(
                    Rule::D2Qos2Unsupported,
                    Some(conn),
                    "QoS 2 PUBLISH: no PUBREC, not delivered".into(),
                ),
            }
            return false;
        }
        if self.admit_rate(now, conn, rate, true) {
            return true;
        }
        // Over the publish rate: MQTT 3.1.1 drops the message silently, unacknowledged;
        // MQTT 5 answers a QoS 1 message with PUBACK 0x97, Quota exceeded.
        if let (ProtocolVersion::V5, Some(id)) = (self.version_of(conn), p.packet_id) {
            let ack = Ack::with_reason(id, ReasonCode::QUOTA_EXCEEDED);
            self.send(now, conn, Packet::PubAck(ack));
        }
        false
    }

    /// Routes a client's PUBLISH: its Message Expiry Interval (MQTT 5.0, bounded under
    /// aws-iot) becomes an instant, and the properties a subscriber gets are kept.
    fn route_publish(&mut self, now: Instant, session: SessionId, p: &Publish) {
        let mut expiry = p
            .properties
            .as_ref()
            .and_then(Properties::message_expiry_interval);
        if let (Some(asked), Some(rules)) = (expiry, self.aws()) {
            let (min, max) = (rules.min_message_expiry_secs, rules.max_message_expiry_secs);
            let bounded = asked.clamp(min, max.max(min));
            if bounded != asked {
                let conn = self.session_conn(session);
                let detail = format!("Message Expiry Interval {asked} s became {bounded} s");
                self.fire(Rule::MessageExpiryAdjusted, conn, detail);
            }
            expiry = Some(bounded);
        }
        let expires_at = expiry.map(|s| now + Duration::from_secs(u64::from(s)));
        let properties = p.properties.as_ref().and_then(forwarded);
        self.route(
            now,
            &Routed {
                topic: &p.topic,
                payload: &p.payload,
                qos: p.qos,
                retain: p.retain,
                properties,
                expires_at,
                from: Some(session),
                to: None,
            },
        );
        // The request itself reached its subscribers first; then the service answers.
        self.serve_shadow(now, session, &p.topic, &p.payload);
    }

    /// How many PUBACKs of `conn`'s publisher backpressure holds.
    fn held_pubacks(&self, conn: ConnId) -> usize {
        self.conns
            .get(&conn)
            .and_then(|c| c.deferred.as_ref())
            .map_or(0, |d| d.acks.pubacks())
    }

    /// PUBACK (QoS 1) or PUBCOMP (QoS 2): the last acknowledgement of an outgoing message,
    /// which frees its packet id and its place in the in-flight window (MQTT-4.3.2-1,
    /// MQTT-4.3.3-1). `awaiting` is the state the message must be in.
    pub(super) fn handle_final_ack(
        &mut self,
        now: Instant,
        conn: ConnId,
        session: SessionId,
        id: PacketId,
        awaiting: InflightState,
    ) {
        let completed = self
            .session_mut(session)
            .is_some_and(|s| s.complete(id, awaiting));
        if completed {
            self.arm_resend(conn, session);
            self.note_progress(now, session);
            self.pump(now, session);
        } else {
            let packet = match awaiting {
                InflightState::AwaitingPubComp => PacketType::PubComp,
                _ => PacketType::PubAck,
            };
            let packet_id = id.get();
            self.emit(Event::UnexpectedAck {
                conn,
                packet,
                packet_id,
            });
        }
    }

    pub(super) fn handle_pubrec(&mut self, now: Instant, conn: ConnId, session: SessionId, a: Ack) {
        let id = a.packet_id;
        // MQTT 5.0: a PUBREC with an error code ends the exchange; the message is done
        // with and no PUBREL follows (section 4.3.3).
        if a.reason.is_error() {
            return self.handle_final_ack(now, conn, session, id, InflightState::AwaitingPubRec);
        }
        let state = self.session_mut(session).and_then(|s| s.received(now, id));
        if state.is_some() {
            self.note_progress(now, session);
        }
        match state {
            // MQTT-4.3.3-1: answer PUBREC with PUBREL; a repeated PUBREC gets it again.
            Some(InflightState::AwaitingPubRec | InflightState::AwaitingPubComp) => {
                self.send(now, conn, Packet::pubrel(id));
            }
            _ => self.emit(Event::UnexpectedAck {
                conn,
                packet: PacketType::PubRec,
                packet_id: id.get(),
            }),
        }
    }

    pub(super) fn handle_pubrel(
        &mut self,
        now: Instant,
        conn: ConnId,
        session: SessionId,
        id: PacketId,
    ) {
        // MQTT-4.3.3-2: PUBREL releases the id, so a later PUBLISH with it is a new
        // message. In 3.1.1 PUBCOMP is sent even for an id we no longer hold, because the
        // client may be re-sending PUBREL after a reconnect; MQTT 5.0 says so with 0x92,
        // Packet Identifier not found (section 3.7.2.1).
        let held = self
            .session_mut(session)
            .is_some_and(|s| s.release_qos2(id));
        let reason = match (held, self.version_of(conn)) {
            (false, ProtocolVersion::V5) => ReasonCode::PACKET_IDENTIFIER_NOT_FOUND,
            _ => ReasonCode::SUCCESS,
        };
        self.send(now, conn, Packet::PubComp(Ack::with_reason(id, reason)));
    }
}

/// The properties of an inbound PUBLISH that its subscribers get (MQTT-3.3.2-17 to -20:
/// Payload Format Indicator, Content Type, Response Topic, Correlation Data and User
/// Properties unchanged, in order). Topic Alias is the connection's own, and the Message
/// Expiry Interval is recomputed for each delivery. `None` when nothing is left.
fn forwarded(p: &Properties) -> Option<Arc<Properties>> {
    let kept: Vec<Property> =
        p.0.iter()
            .filter(|p| {
                matches!(
                    p,
                    Property::PayloadFormatIndicator(_)
                        | Property::ContentType(_)
                        | Property::ResponseTopic(_)
                        | Property::CorrelationData(_)
                        | Property::UserProperty(..)
                )
            })
            .cloned()
            .collect();
    (!kept.is_empty()).then(|| Arc::new(Properties(kept)))
}
