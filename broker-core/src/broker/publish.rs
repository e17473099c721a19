//! PUBLISH in both directions: receiving and acknowledging, routing to subscribers,
//! the in-flight window, the offline queue, and re-sending.

use bytes::Bytes;

use super::Broker;
use crate::codec::{Packet, PacketType, Publish};
use crate::event::{DropReason, Event, TimerKind};
use crate::retained::RetainedMessage;
use crate::session::{Inflight, InflightState, Message, SessionId};
use crate::time::Instant;
use crate::topic::TopicName;
use crate::types::{ConnId, PacketId, QoS};

impl Broker {
    pub(super) fn handle_publish(
        &mut self,
        now: Instant,
        conn: ConnId,
        session: SessionId,
        p: Publish,
    ) {
        match (p.qos, p.packet_id) {
            (QoS::AtMostOnce, _) | (_, None) => {
                self.route(now, &p.topic, &p.payload, p.qos, p.retain)
            }
            (QoS::AtLeastOnce, Some(id)) => {
                // MQTT-4.3.2-2: take ownership, then acknowledge with PUBACK. A repeat
                // with the same id is a new message; QoS 1 allows the duplicate.
                self.route(now, &p.topic, &p.payload, p.qos, p.retain);
                self.send(now, conn, Packet::PubAck(id));
            }
            (QoS::ExactlyOnce, Some(id)) => {
                // MQTT-4.3.3-2 (method B): route on first receipt, remember the id, and
                // route nothing for a repeat until PUBREL releases the id. Every copy is
                // answered with PUBREC.
                let first = self
                    .session_mut(session)
                    .is_some_and(|s| s.qos2_received.insert(id));
                if first {
                    self.route(now, &p.topic, &p.payload, p.qos, p.retain);
                }
                self.send(now, conn, Packet::PubRec(id));
            }
        }
    }

    pub(super) fn handle_puback(
        &mut self,
        now: Instant,
        conn: ConnId,
        session: SessionId,
        id: PacketId,
    ) {
        if self.complete(session, id, InflightState::AwaitingPubAck) {
            self.pump(now, session);
        } else {
            self.emit(Event::UnexpectedAck {
                conn,
                packet: PacketType::PubAck,
                packet_id: id.get(),
            });
        }
    }

    pub(super) fn handle_pubrec(
        &mut self,
        now: Instant,
        conn: ConnId,
        session: SessionId,
        id: PacketId,
    ) {
        let state = self.session_mut(session).and_then(|s| {
            let pos = s.inflight_position(id)?;
            let m = &mut s.inflight[pos];
            let before = m.state;
            if before != InflightState::AwaitingPubAck {
                m.state = InflightState::AwaitingPubComp;
                m.sent_at = now;
            }
            Some(before)
        });
        match state {
            // MQTT-4.3.3-1: answer PUBREC with PUBREL; a repeated PUBREC gets it again.
            Some(InflightState::AwaitingPubRec | InflightState::AwaitingPubComp) => {
                self.send(now, conn, Packet::PubRel(id));
            }
            _ => self.emit(Event::UnexpectedAck {
                conn,
                packet: PacketType::PubRec,
                packet_id: id.get(),
            }),
        }
    }

    pub(super) fn handle_pubcomp(
        &mut self,
        now: Instant,
        conn: ConnId,
        session: SessionId,
        id: PacketId,
    ) {
        if self.complete(session, id, InflightState::AwaitingPubComp) {
            self.pump(now, session);
        } else {
            self.emit(Event::UnexpectedAck {
                conn,
                packet: PacketType::PubComp,
                packet_id: id.get(),
            });
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
        // message; PUBCOMP is sent even for an id we no longer hold, because the client
        // may be re-sending PUBREL after a reconnect.
        if let Some(s) = self.session_mut(session) {
            s.qos2_received.remove(&id);
        }
        self.send(now, conn, Packet::PubComp(id));
    }

    /// Removes the in-flight message `id` if it is in `state`; true if it was.
    fn complete(&mut self, session: SessionId, id: PacketId, state: InflightState) -> bool {
        let Some(s) = self.session_mut(session) else {
            return false;
        };
        match s.inflight_position(id) {
            Some(pos) if s.inflight[pos].state == state => {
                s.inflight.remove(pos);
                true
            }
            _ => false,
        }
    }

    /// Delivers a message published to `topic` to every matching subscription, and
    /// updates the retained store if `retain` is set.
    pub(super) fn route(
        &mut self,
        now: Instant,
        topic: &TopicName,
        payload: &Bytes,
        qos: QoS,
        retain: bool,
    ) {
        if retain {
            self.update_retained(now, topic, payload, qos);
        }
        let mut matched = std::mem::take(&mut self.matched);
        matched.clear();
        self.index.matches(topic, &mut matched);
        // Every QoS 0 copy is the same bytes, so they are encoded once and shared.
        let mut qos0_bytes = None;
        for &(session, granted) in &matched {
            // Section 3.8.4: a subscriber gets the lesser of the published and granted QoS.
            // MQTT-3.3.1-9: RETAIN is cleared on messages sent to existing subscriptions.
            self.deliver(
                now,
                session,
                topic,
                payload,
                qos.min(granted),
                false,
                &mut qos0_bytes,
            );
        }
        self.matched = matched;
    }

    /// MQTT-3.3.1-5: a retained PUBLISH replaces the topic's retained message.
    /// MQTT-3.3.1-10 and -11: a zero-byte one deletes it and is not stored itself; it is
    /// still delivered to current subscribers like any other message.
    fn update_retained(&mut self, now: Instant, topic: &TopicName, payload: &Bytes, qos: QoS) {
        if payload.is_empty() {
            if self.retained.remove(topic) {
                self.emit(Event::RetainedDeleted {
                    topic: topic.clone(),
                });
            }
        } else {
            self.retained.store(RetainedMessage {
                topic: topic.clone(),
                payload: payload.clone(),
                qos,
                stored_at: now,
            });
            self.emit(Event::RetainedStored {
                topic: topic.clone(),
            });
        }
    }

    /// Sends the retained messages matching a new subscription, with RETAIN=1
    /// (MQTT-3.3.1-6, MQTT-3.3.1-8).
    pub(super) fn send_retained(
        &mut self,
        now: Instant,
        session: SessionId,
        filter: &crate::TopicFilter,
        granted: QoS,
    ) {
        let messages: Vec<(TopicName, Bytes, QoS)> = self
            .retained
            .matching(filter)
            .into_iter()
            .map(|m| (m.topic.clone(), m.payload.clone(), m.qos))
            .collect();
        for (topic, payload, qos) in messages {
            self.deliver(
                now,
                session,
                &topic,
                &payload,
                qos.min(granted),
                true,
                &mut None,
            );
        }
    }

    /// Gives one message to one session: sent now if its client is connected and the
    /// in-flight window has room, queued if it must wait, dropped (with an event) if the
    /// queue is full or it is QoS 0 for an offline client.
    #[allow(clippy::too_many_arguments)]
    fn deliver(
        &mut self,
        now: Instant,
        session: SessionId,
        topic: &TopicName,
        payload: &Bytes,
        qos: QoS,
        retain: bool,
        qos0_bytes: &mut Option<Bytes>,
    ) {
        let max_inflight = self.config.max_inflight;
        let max_queued = self.config.max_queued;
        let Some(s) = self.session_mut(session) else {
            return;
        };
        let conn = s.conn;
        let outcome = match (conn, qos) {
            (Some(conn), QoS::AtMostOnce) => Outcome::SendQos0(conn),
            (None, QoS::AtMostOnce) => Outcome::Drop(DropReason::Qos0Offline),
            (Some(_), _) if s.queue.is_empty() && s.inflight.len() < max_inflight => {
                Outcome::SendInflight
            }
            // Older messages are never evicted: what the client gets stays in order.
            _ if s.queue.len() >= max_queued => Outcome::Drop(DropReason::QueueFull),
            _ => {
                let message = Message {
                    topic: topic.clone(),
                    payload: payload.clone(),
                    qos,
                    retain,
                };
                s.queue.push_back(message);
                Outcome::Queued
            }
        };
        match outcome {
            Outcome::SendQos0(conn) => {
                let packet = Packet::Publish(Publish {
                    dup: false,
                    qos,
                    retain,
                    topic: topic.clone(),
                    packet_id: None,
                    payload: payload.clone(),
                });
                let bytes = qos0_bytes.get_or_insert_with(|| packet.to_bytes()).clone();
                self.stats.deliveries += 1;
                if self.config.events.deliveries {
                    let client_id = self.client_id_of(session);
                    self.emit(Event::Delivered {
                        client_id,
                        topic: topic.clone(),
                        qos,
                        queued: false,
                    });
                }
                self.transmit(now, conn, bytes, &packet);
            }
            Outcome::SendInflight => {
                self.stats.deliveries += 1;
                if self.config.events.deliveries {
                    let client_id = self.client_id_of(session);
                    self.emit(Event::Delivered {
                        client_id,
                        topic: topic.clone(),
                        qos,
                        queued: false,
                    });
                }
                let message = Message {
                    topic: topic.clone(),
                    payload: payload.clone(),
                    qos,
                    retain,
                };
                self.send_inflight(now, session, message);
            }
            Outcome::Queued => {
                self.stats.deliveries += 1;
                if self.config.events.deliveries {
                    let client_id = self.client_id_of(session);
                    self.emit(Event::Delivered {
                        client_id,
                        topic: topic.clone(),
                        qos,
                        queued: true,
                    });
                }
            }
            Outcome::Drop(reason) => {
                self.stats.count_drop(reason);
                let client_id = self.client_id_of(session);
                self.emit(Event::Dropped {
                    client_id,
                    topic: topic.clone(),
                    qos,
                    reason,
                });
            }
        }
    }

    fn client_id_of(&self, session: SessionId) -> String {
        self.session_ref(session)
            .map(|s| s.client_id.to_string())
            .unwrap_or_default()
    }

    /// Gives `message` a packet id, sends it, and tracks it until acknowledged.
    fn send_inflight(&mut self, now: Instant, session: SessionId, message: Message) {
        let Some(s) = self.session_mut(session) else {
            return;
        };
        let Some(conn) = s.conn else {
            return;
        };
        let packet_id = s.allocate_packet_id();
        let state = match message.qos {
            QoS::ExactlyOnce => InflightState::AwaitingPubRec,
            _ => InflightState::AwaitingPubAck,
        };
        let packet = Packet::Publish(Publish {
            dup: false,
            qos: message.qos,
            retain: message.retain,
            topic: message.topic.clone(),
            packet_id: Some(packet_id),
            payload: message.payload.clone(),
        });
        s.inflight.push_back(Inflight {
            packet_id,
            message,
            state,
            sent_at: now,
        });
        self.send(now, conn, packet);
        self.arm_resend(now, conn);
    }

    /// Moves queued messages into the in-flight window while it has room.
    pub(super) fn pump(&mut self, now: Instant, session: SessionId) {
        let max_inflight = self.config.max_inflight;
        loop {
            let Some(s) = self.session_mut(session) else {
                return;
            };
            if s.conn.is_none() || s.inflight.len() >= max_inflight {
                return;
            }
            let Some(message) = s.queue.pop_front() else {
                return;
            };
            self.send_inflight(now, session, message);
        }
    }

    /// Re-sends every in-flight message of `session`, in the order first sent
    /// (MQTT-4.6.0-1): PUBLISH with DUP=1 (MQTT-3.3.1-1) where no PUBREC came yet,
    /// PUBREL where it did. On a resend timer (not a reconnect), only the messages older
    /// than the resend interval.
    pub(super) fn resend_inflight(&mut self, now: Instant, session: SessionId, on_reconnect: bool) {
        let cutoff = match (on_reconnect, self.config.resend_interval()) {
            (true, _) | (false, None) => None,
            (false, Some(interval)) => Some(interval),
        };
        let Some(s) = self.session_mut(session) else {
            return;
        };
        let Some(conn) = s.conn else {
            return;
        };
        let mut packets = Vec::new();
        for m in s.inflight.iter_mut() {
            if cutoff.is_some_and(|interval| m.sent_at + interval > now) {
                continue;
            }
            m.sent_at = now;
            packets.push(match m.state {
                InflightState::AwaitingPubComp => Packet::PubRel(m.packet_id),
                _ => Packet::Publish(Publish {
                    dup: true,
                    qos: m.message.qos,
                    retain: m.message.retain,
                    topic: m.message.topic.clone(),
                    packet_id: Some(m.packet_id),
                    payload: m.message.payload.clone(),
                }),
            });
        }
        if packets.is_empty() {
            return;
        }
        let client_id = s.client_id.to_string();
        self.emit(Event::Resent {
            client_id,
            count: packets.len(),
            on_reconnect,
        });
        for p in packets {
            self.send(now, conn, p);
        }
        self.arm_resend(now, conn);
    }

    /// Starts the resend timer for `conn` if resends are configured and none is pending.
    fn arm_resend(&mut self, now: Instant, conn: ConnId) {
        let Some(interval) = self.config.resend_interval() else {
            return;
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            if !c.resend_armed {
                c.resend_armed = true;
                self.timers
                    .schedule(now + interval, conn, TimerKind::Resend);
            }
        }
    }
}

enum Outcome {
    SendQos0(ConnId),
    SendInflight,
    Queued,
    Drop(DropReason),
}
