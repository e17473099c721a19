//! PUBLISH in both directions: receiving and acknowledging, routing to subscribers,
//! the in-flight window, the offline queue, and re-sending.

use bytes::Bytes;

use super::aws::{check_topic, TopicUse};
use super::refusal::{Consequence, Refusal};
use super::timers::Timer;
use super::Broker;
use crate::codec::{Packet, PacketType, Publish};
use crate::config::{Qos2Mode, RetainMode};
use crate::event::{DropReason, Event};
use crate::index::Skipped;
use crate::policy::Action;
use crate::retained::RetainedMessage;
use crate::rule::Rule;
use crate::session::{InflightState, Message, SessionId};
use crate::time::Instant;
use crate::topic::{TopicFilter, TopicName};
use crate::types::{ConnId, PacketId, QoS};

/// How one delivery to one session turned out.
enum Outcome {
    SendQos0(ConnId),
    SendInflight,
    Queued { window_full: bool },
    Drop(DropReason),
}

impl Broker {
    pub(super) fn handle_publish(
        &mut self,
        now: Instant,
        conn: ConnId,
        session: SessionId,
        p: Publish,
    ) {
        if self.aws().is_some() && !self.admit_aws_publish(now, conn, &p) {
            return;
        }
        // Policies: iot:Publish on the topic, and iot:RetainPublish to store it.
        let mut allowed = self.authorize_session(session, Action::Publish, p.topic.as_str());
        if allowed && p.retain {
            allowed = self.authorize_session(session, Action::RetainPublish, p.topic.as_str());
        }
        if !allowed {
            match self.consequence(conn, &Refusal::PublishDenied) {
                // The message is dropped below, and acknowledged as its QoS requires.
                Consequence::DropAndAck => {}
                _ => return self.refuse(now, conn, Refusal::PublishDenied),
            }
        }
        self.pressured.clear();
        match (p.qos, p.packet_id) {
            (QoS::AtMostOnce, _) | (_, None) => {
                if allowed {
                    self.route(now, &p.topic, &p.payload, p.qos, p.retain);
                }
            }
            (QoS::AtLeastOnce, Some(id)) => {
                // MQTT-4.3.2-2: take ownership, then acknowledge with PUBACK. A repeat
                // with the same id is a new message; QoS 1 allows the duplicate.
                if allowed {
                    self.route(now, &p.topic, &p.payload, p.qos, p.retain);
                }
                self.acknowledge(now, conn, Packet::PubAck(id));
            }
            (QoS::ExactlyOnce, Some(id)) => {
                // MQTT-4.3.3-2 (method B): route on first receipt, remember the id, and
                // route nothing for a repeat until PUBREL releases the id. Every copy is
                // answered with PUBREC.
                let first = self
                    .session_mut(session)
                    .is_some_and(|s| s.receive_qos2(id));
                if first && allowed {
                    self.route(now, &p.topic, &p.payload, p.qos, p.retain);
                }
                self.acknowledge(now, conn, Packet::PubRec(id));
            }
        }
    }

    /// The aws-iot profile's rules for an inbound PUBLISH, in the order AWS would meet
    /// them. Returns false if the message goes no further (the connection may be closed).
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
        // D5: RETAIN=1 closes the connection (CLIENT_ERROR) unless exact-match retained
        // messages are switched on.
        if p.retain && retain == RetainMode::Disconnect {
            self.rule_violation(now, conn, Rule::D5Retain, "PUBLISH with RETAIN=1".into());
            return false;
        }
        // D2: a QoS 2 PUBLISH gets no PUBREC; the message is not accepted.
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
        self.admit_rate(now, conn, rate, true)
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

    pub(super) fn handle_pubrec(
        &mut self,
        now: Instant,
        conn: ConnId,
        session: SessionId,
        id: PacketId,
    ) {
        let state = self.session_mut(session).and_then(|s| s.received(now, id));
        if state.is_some() {
            self.note_progress(now, session);
        }
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
            s.release_qos2(id);
        }
        self.send(now, conn, Packet::PubComp(id));
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
        let mut skipped = std::mem::take(&mut self.skipped);
        matched.clear();
        skipped.clear();
        self.index.matches(topic, now, &mut matched, &mut skipped);
        // Every QoS 0 copy is the same bytes, so they are encoded once and shared.
        let mut qos0_bytes = None;
        let check_receive = self.config.policies.is_some();
        for &(session, granted) in &matched {
            // Policies: a denied iot:Receive silently skips this subscriber.
            if check_receive && !self.may_receive(session, topic) {
                continue;
            }
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
        if !skipped.is_empty() {
            self.report_skipped(topic, &matched, &mut skipped);
        }
        self.matched = matched;
        self.skipped = skipped;
    }

    /// Fires D4 or the `#`-parent rule for sessions a message did not reach only
    /// because of them (not those it reached through another filter), once each.
    fn report_skipped(
        &mut self,
        topic: &TopicName,
        matched: &[(SessionId, QoS)],
        skipped: &mut Vec<(SessionId, Skipped)>,
    ) {
        skipped.sort_by_key(|(s, why)| (*s, *why as u8));
        skipped.dedup_by_key(|(s, _)| *s);
        for &(session, why) in skipped.iter() {
            if matched.iter().any(|(s, _)| *s == session) {
                continue;
            }
            let rule = match why {
                Skipped::Pending => Rule::D4SubscriptionDelay,
                Skipped::HashParent => Rule::HashExcludesParent,
            };
            let conn = self.session_conn(session);
            let detail = format!("{topic} not delivered to {:?}", self.client_id_of(session));
            self.fire(rule, conn, detail);
        }
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
            let message = RetainedMessage {
                topic: topic.clone(),
                payload: payload.clone(),
                qos,
                stored_at: now,
            };
            self.retained.store(message);
            self.emit(Event::RetainedStored {
                topic: topic.clone(),
            });
        }
    }

    /// Sends the retained messages matching a new subscription, with RETAIN=1
    /// (MQTT-3.3.1-6, MQTT-3.3.1-8). AWS's retained messages (D5, exact-match mode) reach
    /// only subscriptions whose filter has no wildcard.
    pub(super) fn send_retained(
        &mut self,
        now: Instant,
        session: SessionId,
        filter: &TopicFilter,
        granted: QoS,
    ) {
        let messages: Vec<(TopicName, Bytes, QoS)> = self
            .retained
            .matching(filter)
            .into_iter()
            .map(|m| (m.topic.clone(), m.payload.clone(), m.qos))
            .collect();
        if messages.is_empty() {
            return;
        }
        if self.aws().is_some() && !filter.is_exact() {
            let conn = self.session_conn(session);
            let detail = format!(
                "{} retained message(s) not sent through wildcard filter {filter}",
                messages.len()
            );
            return self.fire(Rule::D5Retain, conn, detail);
        }
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
    /// queue is full, it is QoS 0 for an offline client, or (aws-iot) it is over the
    /// connection's outbound publish rate. Under aws-iot, D1 and D7 may send it twice.
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
        let outcome = self.delivery_outcome(now, session, topic, payload, qos, retain);
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
                self.count_delivery(session, topic, qos, false);
                self.transmit(now, conn, bytes.clone(), &packet, true);
                // D1: QoS 0 is "zero or more times"; the repeat is the same bytes.
                let p = self.aws().map_or(0.0, |r| r.qos0_duplicate_probability);
                if self.rng.chance(p) {
                    self.fire(
                        Rule::D1Qos0Duplicate,
                        Some(conn),
                        format!("{topic} delivered twice"),
                    );
                    self.transmit(now, conn, bytes, &packet, true);
                }
            }
            Outcome::SendInflight => {
                self.count_delivery(session, topic, qos, false);
                let message = Message {
                    topic: topic.clone(),
                    payload: payload.clone(),
                    qos,
                    retain,
                };
                self.send_inflight(now, session, message.clone());
                self.maybe_resend_as_new(now, session, message);
            }
            Outcome::Queued { window_full } => {
                self.count_delivery(session, topic, qos, true);
                if window_full && self.aws().is_some() {
                    let conn = self.session_conn(session);
                    let detail =
                        format!("{} unacknowledged; {topic} waits", self.config.max_inflight);
                    self.fire(Rule::InflightLimit, conn, detail);
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

    /// Decides a delivery's outcome, queueing the message when it must wait. A connected
    /// session that reads is never dropped from: past its high-water mark the message is
    /// queued all the same and its publisher waits (backpressure). An offline session,
    /// or a slow consumer, keeps at most `max_queued`.
    fn delivery_outcome(
        &mut self,
        now: Instant,
        session: SessionId,
        topic: &TopicName,
        payload: &Bytes,
        qos: QoS,
        retain: bool,
    ) -> Outcome {
        let (max_inflight, max_queued) = (self.config.max_inflight, self.config.max_queued);
        let high_water = self.config.queue_high_water;
        let rate = self.aws().map(|r| r.publish_rate_per_second);
        let Some(s) = self.session_ref(session) else {
            return Outcome::Drop(DropReason::QueueFull);
        };
        let conn = s.conn;
        let window_full = s.window_full(max_inflight);
        let congested = conn.is_some_and(|c| self.is_congested(c));
        let sendable = s.queue.is_empty() && !window_full && !congested;
        let bounded = conn.is_none() || s.is_slow_consumer();
        let queue_full = bounded && s.queue.len() >= max_queued;
        let pressured = !bounded && s.queue.len() + 1 >= high_water;
        if let (Some(conn), Some(rate), true) = (conn, rate, qos == QoS::AtMostOnce || sendable) {
            if !self.admit_rate(now, conn, rate, false) {
                return Outcome::Drop(DropReason::Throttled);
            }
        }
        match (conn, qos) {
            (Some(_), QoS::AtMostOnce) if congested => Outcome::Drop(DropReason::SlowConsumer),
            (Some(conn), QoS::AtMostOnce) => Outcome::SendQos0(conn),
            (None, QoS::AtMostOnce) => Outcome::Drop(DropReason::Qos0Offline),
            (Some(_), _) if sendable => Outcome::SendInflight,
            // Older messages are never evicted: what the client gets stays in order.
            (Some(_), _) if queue_full => Outcome::Drop(DropReason::SlowConsumer),
            (None, _) if queue_full => Outcome::Drop(DropReason::QueueFull),
            _ => {
                let message = Message {
                    topic: topic.clone(),
                    payload: payload.clone(),
                    qos,
                    retain,
                };
                if let Some(s) = self.session_mut(session) {
                    s.enqueue(message);
                }
                if pressured {
                    self.pressured.push(session);
                }
                Outcome::Queued {
                    window_full: conn.is_some() && window_full,
                }
            }
        }
    }

    /// D7: AWS sometimes sends the same logical PUBLISH again, with a new packet id and
    /// DUP=0. The copy is a delivery of its own, which the client acknowledges separately.
    fn maybe_resend_as_new(&mut self, now: Instant, session: SessionId, message: Message) {
        let p = self.aws().map_or(0.0, |r| r.resend_probability);
        if !self.rng.chance(p) {
            return;
        }
        let conn = self.session_conn(session);
        self.fire(
            Rule::D7Resend,
            conn,
            format!("{} sent again with a new packet id", message.topic),
        );
        // The copy joins the queue and leaves it as the window and congestion allow,
        // like any other message: one place decides when a message may go.
        let max_queued = self.config.max_queued;
        let queued = self.session_mut(session).is_some_and(|s| {
            let room = s.queue.len() < max_queued;
            if room {
                s.enqueue(message);
            }
            room
        });
        if queued {
            self.pump(now, session);
        }
    }

    fn count_delivery(&mut self, session: SessionId, topic: &TopicName, qos: QoS, queued: bool) {
        self.stats.deliveries += 1;
        if self.config.events.deliveries {
            let client_id = self.client_id_of(session);
            self.emit(Event::Delivered {
                client_id,
                topic: topic.clone(),
                qos,
                queued,
            });
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
        let publish = s.start_inflight(now, message);
        self.send(now, conn, Packet::Publish(publish));
        if self.timers.get(Timer::Resend(conn)).is_none() {
            self.arm_resend(conn, session);
        }
    }

    /// Moves queued messages into the in-flight window while it has room and the
    /// connection is not congested, and sends them.
    pub(super) fn pump(&mut self, now: Instant, session: SessionId) {
        let Some(conn) = self.session_conn(session) else {
            return;
        };
        if self.is_congested(conn) {
            return;
        }
        let max_inflight = self.config.max_inflight;
        let mut publishes = Vec::new();
        if let Some(s) = self.session_mut(session) {
            s.pump(now, max_inflight, &mut publishes);
        }
        if publishes.is_empty() {
            return self.relieve(now, session);
        }
        for publish in publishes {
            self.send(now, conn, Packet::Publish(publish));
        }
        if self.timers.get(Timer::Resend(conn)).is_none() {
            self.arm_resend(conn, session);
        }
        self.relieve(now, session);
    }

    /// Re-sends every in-flight message of `session` (MQTT-4.4.0-1 on a reconnect), or on
    /// a resend timer only those older than the resend interval, then re-arms the timer.
    pub(super) fn resend_inflight(&mut self, now: Instant, session: SessionId, on_reconnect: bool) {
        let cutoff = if on_reconnect {
            None
        } else {
            self.config.resend_interval()
        };
        let Some(s) = self.session_mut(session) else {
            return;
        };
        let Some(conn) = s.conn else {
            return;
        };
        let packets = s.resend(now, cutoff);
        if !packets.is_empty() {
            let client_id = s.client_id.to_string();
            self.emit(Event::Resent {
                client_id,
                count: packets.len(),
                on_reconnect,
            });
            for p in packets {
                self.send(now, conn, p);
            }
        }
        self.arm_resend(conn, session);
    }
}
