//! Sending a message to one subscriber: at once, into its in-flight window, into its
//! queue, or not at all (and why); and writing the PUBLISH for the version its client
//! speaks, with what MQTT 5.0 adds per delivery (topic aliases, Subscription
//! Identifiers, the time left before expiry, the client's Maximum Packet Size).

use std::borrow::Cow;

use bytes::Bytes;

use super::mqtt5::TopicRef;
use super::route::{Delivery, Routed};
use super::timers::Timer;
use super::Broker;
use crate::codec::{Packet, Properties, Property, Publish};
use crate::event::{DropReason, Event};
use crate::rule::Rule;
use crate::session::{Message, Resend, SessionId};
use crate::time::Instant;
use crate::topic::TopicName;
use crate::types::{ConnId, PacketId, ProtocolVersion, QoS};

/// How one delivery to one session turned out.
enum Outcome {
    SendQos0(ConnId),
    SendInflight,
    Queued { window_full: bool },
    Drop(DropReason),
}

/// The encoded QoS 0 PUBLISH of one routed message, shared by every subscriber whose
/// copy is the same bytes: one per version, when nothing varies per delivery.
#[derive(Debug, Default)]
pub(super) struct Encoded {
    v311: Option<(Bytes, Packet)>,
    v5: Option<(Bytes, Packet)>,
}

impl Broker {
    /// Gives one message to one session: sent now if its client is connected and the
    /// in-flight window has room, queued if it must wait, dropped (with an event) if it
    /// cannot be kept (see `delivery_outcome`). Under aws-iot, D1 and D7 may send it twice.
    pub(super) fn deliver(
        &mut self,
        now: Instant,
        session: SessionId,
        m: &Routed<'_>,
        delivery: Delivery,
        cache: &mut Encoded,
    ) {
        let message = Message {
            topic: m.topic.clone(),
            payload: m.payload.clone(),
            qos: delivery.qos,
            retain: delivery.retain,
            properties: m.properties.clone(),
            expires_at: m.expires_at,
            subscription_ids: delivery.subscription_ids,
            seq: 0,
        };
        match self.delivery_outcome(now, session, &message) {
            Outcome::SendQos0(conn) => {
                self.count_delivery(session, &message.topic, message.qos, false);
                let Some(encoded) = self.qos0_packet(now, conn, &message, cache) else {
                    return self.dropped(session, &message, DropReason::TooLargeForClient);
                };
                let (bytes, packet) = &*encoded;
                self.transmit(now, conn, bytes.clone(), packet, true);
                // D1: QoS 0 is "zero or more times"; the repeat is the same bytes.
                let p = self.aws().map_or(0.0, |r| r.qos0_duplicate_probability);
                if self.rng.chance(p) {
                    let detail = format!("{} delivered twice", message.topic);
                    self.fire(Rule::D1Qos0Duplicate, Some(conn), detail);
                    self.transmit(now, conn, bytes.clone(), packet, true);
                }
            }
            Outcome::SendInflight => {
                self.count_delivery(session, &message.topic, message.qos, false);
                self.send_inflight(now, session, message.clone());
                self.maybe_resend_as_new(now, session, message);
            }
            Outcome::Queued { window_full } => {
                self.count_delivery(session, &message.topic, message.qos, true);
                if window_full && self.aws().is_some() {
                    let conn = self.session_conn(session);
                    let detail = format!(
                        "{} unacknowledged; {} waits",
                        self.config.max_inflight, message.topic
                    );
                    self.fire(Rule::InflightLimit, conn, detail);
                }
            }
            Outcome::Drop(reason) => self.dropped(session, &message, reason),
        }
    }

    fn dropped(&mut self, session: SessionId, message: &Message, reason: DropReason) {
        self.stats.count_drop(reason);
        let client_id = self.client_id_of(session);
        self.emit(Event::Dropped {
            client_id,
            topic: message.topic.clone(),
            qos: message.qos,
            reason,
        });
    }

    /// Decides a delivery's outcome, queueing the message when it must wait. A connected
    /// session that reads is never dropped from: past its high-water mark the message is
    /// queued all the same and its publisher waits (backpressure). An offline session,
    /// or a slow consumer, keeps at most `max_queued`. An expired message goes nowhere
    /// (MQTT-3.3.2-5).
    fn delivery_outcome(&mut self, now: Instant, session: SessionId, message: &Message) -> Outcome {
        if message.expired(now) {
            return Outcome::Drop(DropReason::Expired);
        }
        let max_queued = self.config.max_queued;
        let high_water = self.config.queue_high_water;
        let rate = self.aws().map(|r| r.publish_rate_per_second);
        let Some(s) = self.session_ref(session) else {
            return Outcome::Drop(DropReason::QueueFull);
        };
        let conn = s.conn;
        let window = conn.map_or(self.config.max_inflight, |c| self.window_of(c));
        let window_full = s.window_full(window);
        let congested = conn.is_some_and(|c| self.is_congested(c));
        let sendable = s.queue.is_empty() && !window_full && !congested;
        let bounded = conn.is_none() || s.is_slow_consumer();
        let queue_full = bounded && s.queue.len() >= max_queued;
        let pressured = !bounded && s.queue.len() + 1 >= high_water;
        let qos0 = message.qos == QoS::AtMostOnce;
        if let (Some(conn), Some(rate), true) = (conn, rate, qos0 || sendable) {
            if !self.admit_rate(now, conn, rate, false) {
                return Outcome::Drop(DropReason::Throttled);
            }
        }
        match (conn, message.qos) {
            (Some(_), QoS::AtMostOnce) if congested => Outcome::Drop(DropReason::SlowConsumer),
            (Some(conn), QoS::AtMostOnce) => Outcome::SendQos0(conn),
            (None, QoS::AtMostOnce) => Outcome::Drop(DropReason::Qos0Offline),
            (Some(_), _) if sendable => Outcome::SendInflight,
            // Older messages are never evicted: what the client gets stays in order.
            (Some(_), _) if queue_full => Outcome::Drop(DropReason::SlowConsumer),
            (None, _) if queue_full => Outcome::Drop(DropReason::QueueFull),
            _ => {
                if let Some(s) = self.session_mut(session) {
                    s.enqueue(message.clone());
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

    /// The most QoS 1 and 2 messages in flight to `conn`'s client: the configured window,
    /// or less if an MQTT 5.0 client's Receive Maximum says so (MQTT-3.3.4-9).
    fn window_of(&self, conn: ConnId) -> usize {
        let max = self.config.max_inflight;
        match self.mqtt5(conn) {
            Some(m) => max.min(usize::from(m.receive_maximum)),
            None => max,
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

    /// Gives `message` a packet id, sends it, and tracks it until acknowledged.
    fn send_inflight(&mut self, now: Instant, session: SessionId, message: Message) {
        let Some(s) = self.session_mut(session) else {
            return;
        };
        let Some(conn) = s.conn else {
            return;
        };
        let id = s.start_inflight(now, message);
        if !self.send_publish(now, conn, session, id, false) {
            // It left the window at once; what waits behind it may go.
            return self.pump(now, session);
        }
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
        let window = self.window_of(conn);
        // Messages held back at a reconnection go first, with their original ids.
        let held = self
            .session_mut(session)
            .map(|s| s.release_held(now, window))
            .unwrap_or_default();
        self.send_resends(now, conn, session, held);
        let (mut ids, mut expired) = (Vec::new(), Vec::new());
        let mut sent_any = false;
        loop {
            if let Some(s) = self.session_mut(session) {
                s.pump(now, window, &mut ids, &mut expired);
            }
            for message in expired.drain(..) {
                self.dropped(session, &message, DropReason::Expired);
            }
            if ids.is_empty() {
                break;
            }
            // A message too large for the client leaves the window as soon as it entered
            // it, so the queue is looked at again until the window is full or empty.
            let mut all_sent = true;
            for id in ids.drain(..) {
                let sent = self.send_publish(now, conn, session, id, false);
                sent_any |= sent;
                all_sent &= sent;
            }
            if all_sent {
                break;
            }
        }
        if sent_any && self.timers.get(Timer::Resend(conn)).is_none() {
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
        let room = self.window_of(conn);
        let Some(s) = self.session_mut(session) else {
            return;
        };
        let resends = s.resend(now, cutoff, room);
        if !resends.is_empty() {
            let client_id = s.client_id.to_string();
            self.emit(Event::Resent {
                client_id,
                count: resends.len(),
                on_reconnect,
            });
            self.send_resends(now, conn, session, resends);
        }
        self.arm_resend(conn, session);
    }

    fn send_resends(
        &mut self,
        now: Instant,
        conn: ConnId,
        session: SessionId,
        resends: Vec<Resend>,
    ) {
        for r in resends {
            match r {
                Resend::Publish(id) => {
                    self.send_publish(now, conn, session, id, true);
                }
                Resend::PubRel(id) => self.send(now, conn, Packet::pubrel(id)),
            }
        }
    }

    /// Sends the in-flight message `id` of `session`; false if it was not sent. One larger
    /// than an MQTT 5.0 client's Maximum Packet Size is not: it is done with, as if
    /// delivered (MQTT-3.1.2-25).
    fn send_publish(
        &mut self,
        now: Instant,
        conn: ConnId,
        session: SessionId,
        id: PacketId,
        dup: bool,
    ) -> bool {
        let Some(message) = self
            .session_ref(session)
            .and_then(|s| s.inflight_message(id))
            .cloned()
        else {
            return false;
        };
        match self.publish_packet(now, conn, &message, Some(id), dup) {
            Some(packet) => {
                self.send(now, conn, packet);
                true
            }
            None => {
                self.dropped(session, &message, DropReason::TooLargeForClient);
                let state = match message.qos {
                    QoS::ExactlyOnce => crate::session::InflightState::AwaitingPubRec,
                    _ => crate::session::InflightState::AwaitingPubAck,
                };
                if let Some(s) = self.session_mut(session) {
                    s.complete(id, state);
                }
                false
            }
        }
    }

    /// The QoS 0 PUBLISH of `message` for `conn`, shared through `cache` when nothing in
    /// it is particular to this delivery; `None` if it is too large for the client.
    fn qos0_packet<'c>(
        &mut self,
        now: Instant,
        conn: ConnId,
        message: &Message,
        cache: &'c mut Encoded,
    ) -> Option<Cow<'c, (Bytes, Packet)>> {
        // One look-up of the connection's MQTT 5.0 state: this runs once per subscriber.
        let limits = self
            .mqtt5(conn)
            .map(|m| (m.topic_alias_maximum > 0, m.maximum_packet_size as usize));
        let (version, fits) = match limits {
            Some((aliases, max)) => {
                let particular =
                    aliases || message.expires_at.is_some() || !message.subscription_ids.is_empty();
                (ProtocolVersion::V5, (!particular).then_some(max))
            }
            None => (self.version_of(conn), Some(usize::MAX)),
        };
        let slot = match version {
            ProtocolVersion::V311 => &mut cache.v311,
            ProtocolVersion::V5 => &mut cache.v5,
        };
        // Borrowed, not cloned: a fan-out to thousands of subscribers shares one packet.
        if let (Some(max), true) = (fits, slot.is_some()) {
            let shared = slot.as_ref()?;
            return (shared.0.len() <= max).then_some(Cow::Borrowed(shared));
        }
        let particular = fits.is_none();
        let packet = self.publish_packet(now, conn, message, None, false)?;
        let encoded = (packet.to_bytes(), packet);
        if particular {
            return Some(Cow::Owned(encoded));
        }
        Some(Cow::Borrowed(slot.insert(encoded)))
    }

    /// Whether a packet of `len` bytes may go to `conn`'s client (MQTT-3.1.2-24).
    fn fits(&mut self, conn: ConnId, len: usize) -> bool {
        self.mqtt5_mut(conn)
            .is_none_or(|m| len <= m.maximum_packet_size as usize)
    }

    /// The PUBLISH that carries `message` to `conn`'s client, in the version it speaks:
    /// MQTT 3.1.1 without properties; MQTT 5.0 with the forwarded ones, the time left
    /// before expiry in whole seconds (MQTT-3.3.2-6), its Subscription Identifiers
    /// (MQTT-3.3.4-3), and a topic alias where the client allows them. `None` if it is
    /// larger than an MQTT 5.0 client's Maximum Packet Size.
    pub(super) fn publish_packet(
        &mut self,
        now: Instant,
        conn: ConnId,
        message: &Message,
        packet_id: Option<PacketId>,
        dup: bool,
    ) -> Option<Packet> {
        let mut publish = Publish {
            dup,
            qos: message.qos,
            retain: message.retain,
            topic: message.topic.clone(),
            packet_id,
            properties: None,
            payload: message.payload.clone(),
        };
        if self.version_of(conn) == ProtocolVersion::V311 {
            return Some(Packet::Publish(publish));
        }
        let props = publish.properties.insert(
            message
                .properties
                .as_deref()
                .cloned()
                .unwrap_or_else(Properties::new),
        );
        if let Some(at) = message.expires_at {
            let left = at.saturating_since(now).as_secs();
            props.push(Property::MessageExpiryInterval(
                u32::try_from(left).unwrap_or(u32::MAX),
            ));
        }
        for id in &message.subscription_ids {
            props.push(Property::SubscriptionIdentifier(*id));
        }
        // A topic alias is decided last, and only once the packet is known to fit: an
        // alias set on a packet the client never gets would leave it unable to resolve
        // the next.
        if !self.fits(conn, publish.encoded_len()) {
            return None;
        }
        let topic_ref = match self.mqtt5_mut(conn) {
            Some(m) if m.topic_alias_maximum > 0 => m.outbound_alias(&message.topic),
            _ => TopicRef::Full,
        };
        let alias = match topic_ref {
            TopicRef::Full => None,
            TopicRef::Set(alias) => Some(alias),
            TopicRef::Alias(alias) => {
                publish.topic = TopicName::aliased();
                Some(alias)
            }
        };
        if let (Some(alias), Some(props)) = (alias, publish.properties.as_mut()) {
            props.push(Property::TopicAlias(alias));
        }
        Some(Packet::Publish(publish))
    }
}
