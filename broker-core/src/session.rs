//! Session state (section 4.1): what the broker keeps for a client id, connected or not.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use core::time::Duration;

use bytes::Bytes;

use crate::codec::{LastWill, Properties, SubscriptionOptions};
use crate::time::Instant;
use crate::topic::{TopicFilter, TopicName};
use crate::types::{ConnId, PacketId, ProtocolVersion, QoS};

/// The index of a session in the broker's session table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub(crate) u32);

/// A message on its way to one subscriber.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The topic.
    pub topic: TopicName,
    /// The payload, shared between every subscriber's copy.
    pub payload: Bytes,
    /// The QoS of this delivery: the minimum of the publish and the subscription.
    pub qos: QoS,
    /// RETAIN on the outgoing PUBLISH: set for retained messages sent because of a new
    /// subscription (MQTT-3.3.1-8, MQTT-3.3.1-9), and in MQTT 5.0 for a subscription
    /// with Retain As Published (MQTT-3.3.1-13).
    pub retain: bool,
    /// MQTT 5.0 properties forwarded to the subscriber unchanged (Payload Format
    /// Indicator, Content Type, Response Topic, Correlation Data, User Properties, in
    /// order: MQTT-3.3.2-17, -18, -19, -20), shared between every subscriber's copy.
    pub properties: Option<Arc<Properties>>,
    /// When the message expires (MQTT 5.0 Message Expiry Interval): it is not sent after
    /// that (MQTT-3.3.2-5), and what is left is sent with it (MQTT-3.3.2-6).
    pub expires_at: Option<Instant>,
    /// The Subscription Identifiers of the subscriptions it matched (MQTT-3.3.4-3).
    pub subscription_ids: Vec<u32>,
    /// Its number in the session, under durability: the store keeps each message under
    /// it (`store/record.rs`). 0 until a durable session takes the message in.
    pub(crate) seq: u64,
}

impl Message {
    /// Whether the message has expired at `now`.
    pub fn expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// One subscription of a session: what the client asked (section 3.8.3.1) and its
/// Subscription Identifier (section 3.8.2.1.2). The QoS is the granted one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Subscription {
    /// The options, with the QoS granted.
    pub options: SubscriptionOptions,
    /// The Subscription Identifier, if the SUBSCRIBE carried one.
    pub id: Option<u32>,
}

/// Where an outgoing QoS 1 or 2 message is in its handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum InflightState {
    /// QoS 1 PUBLISH sent, waiting for PUBACK.
    AwaitingPubAck,
    /// QoS 2 PUBLISH sent, waiting for PUBREC.
    AwaitingPubRec,
    /// PUBREL sent, waiting for PUBCOMP.
    AwaitingPubComp,
}

/// An outgoing message that has a packet id and awaits acknowledgement.
#[derive(Clone, Debug)]
pub struct Inflight {
    pub(crate) packet_id: PacketId,
    pub(crate) message: Message,
    pub(crate) state: InflightState,
    pub(crate) sent_at: Instant,
    /// Not re-sent yet after a reconnection: the client's Receive Maximum had no room
    /// for it (MQTT-3.3.4-9). It goes, with its original packet id (MQTT-4.4.0-1), as
    /// soon as an acknowledgement frees a place.
    pub(crate) held: bool,
}

/// Who a session's client is, for policy decisions: the principal policies attach to
/// (a certificate's common name, else the CONNECT user name) and the certificate's
/// common name for `${iot:Certificate.Subject.CommonName}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct AuthContext {
    pub(crate) principal: Option<String>,
    pub(crate) common_name: Option<String>,
}

/// Backpressure's state of one session.
#[derive(Debug, Default)]
pub(crate) struct Pressure {
    /// Publishers whose acknowledgements wait for this session's queue to drain.
    pub(crate) waiters: Vec<ConnId>,
    /// When the client last made progress while publishers waited on it.
    pub(crate) progress_at: Instant,
    /// It stopped reading while publishers waited on it: they no longer do, and its queue
    /// is bounded by `max_queued` until it has drained.
    pub(crate) slow_consumer: bool,
}

/// Everything the broker keeps for one client id.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) client_id: Arc<str>,
    /// Clean Session (3.1.1) or Clean Start (5.0) of the latest CONNECT.
    pub(crate) clean: bool,
    /// The protocol version of the connection that made or last resumed it.
    pub(crate) version: ProtocolVersion,
    /// How many seconds the session outlives its connection: `Some(0)` ends it with the
    /// connection (a 3.1.1 clean session, or a 5.0 Session Expiry Interval of 0), `None`
    /// never (section 3.1.2.11.2).
    pub(crate) expiry: Option<u32>,
    pub(crate) conn: Option<ConnId>,
    /// Filter to subscription; a BTreeMap so views list subscriptions in a stable order.
    /// A shared subscription is keyed by its whole `$share/{group}/{filter}`.
    pub(crate) subscriptions: BTreeMap<TopicFilter, Subscription>,
    /// Outgoing QoS 1/2 messages in the order they were first sent, which is the order
    /// they must be re-sent in (MQTT-4.6.0-1).
    pub(crate) inflight: VecDeque<Inflight>,
    /// Messages waiting for a connection or a free in-flight slot.
    pub(crate) queue: VecDeque<Message>,
    /// Incoming QoS 2 packet ids received (PUBREC sent) and not yet released by PUBREL.
    /// A PUBLISH with one of these ids is a duplicate and is not routed again
    /// (MQTT-4.3.3-2, method B of figure 4.3). A B-tree costs nothing while empty.
    pub(crate) qos2_received: BTreeSet<PacketId>,
    /// When the last connection ended, while no connection is attached.
    pub(crate) disconnected_at: Option<Instant>,
    /// Who the latest connection was, for iot:Receive checks, even while offline; boxed,
    /// and absent for an anonymous client, because most idle sessions have none.
    pub(crate) auth: Option<Box<AuthContext>>,
    /// Backpressure's state (`broker/backpressure.rs`), while publishers wait on this
    /// session or it is a slow consumer.
    pub(crate) pressure: Option<Box<Pressure>>,
    /// An MQTT 5.0 Will waiting out its Will Delay Interval (section 3.1.3.2.2): sent
    /// when the delay or the session ends, forgotten if the client comes back first.
    pub(crate) pending_will: Option<Box<LastWill>>,
    next_packet_id: PacketId,
    /// Durability's state of the session (`broker/durable.rs`); absent while the broker is
    /// not durable.
    pub(crate) store: Option<Box<StoreState>>,
}

/// What durability knows of one session: whether the store holds it, whether it changed
/// since the last store batch, and which of its messages did, so that a batch writes those
/// and not the whole queue.
#[derive(Debug, Default)]
pub(crate) struct StoreState {
    /// The store holds this session.
    pub(crate) persisted: bool,
    /// Changed since the last store batch, and listed for the next one.
    pub(crate) dirty: bool,
    /// The number the next message taken in gets.
    pub(crate) next_seq: u64,
    /// Messages taken in, moved to the window, acknowledged in part or removed.
    pub(crate) changed: Vec<u64>,
    /// A hash of the session's record as last stored, to skip writing it unchanged.
    pub(crate) header_hash: u64,
    /// The highest message number ever written: a message numbered above it was never
    /// stored, and needs no deleting.
    pub(crate) written_max: u64,
}

impl Session {
    pub(crate) fn new(client_id: Arc<str>, clean: bool) -> Self {
        Session {
            client_id,
            clean,
            version: ProtocolVersion::V311,
            expiry: Some(0),
            conn: None,
            subscriptions: BTreeMap::new(),
            inflight: VecDeque::new(),
            queue: VecDeque::new(),
            qos2_received: BTreeSet::new(),
            disconnected_at: None,
            auth: None,
            pressure: None,
            pending_will: None,
            next_packet_id: PacketId::FIRST,
            store: None,
        }
    }

    /// Notes that message `seq` changed, for the next store batch.
    fn note(&mut self, seq: u64) {
        let persistent = self.is_persistent();
        if let Some(log) = self.store.as_deref_mut().filter(|_| persistent) {
            log.changed.push(seq);
        }
    }

    /// Numbers a message the session takes in, under durability.
    fn admit(&mut self, mut message: Message) -> Message {
        if let Some(log) = self.store.as_deref_mut() {
            log.next_seq += 1;
            message.seq = log.next_seq;
            self.note(message.seq);
        }
        message
    }

    /// The queued message `seq`, if it is queued.
    pub(crate) fn queued(&self, seq: u64) -> Option<&Message> {
        let i = self.queue.binary_search_by_key(&seq, |m| m.seq).ok()?;
        self.queue.get(i)
    }

    /// The in-flight message `seq`, if it is in flight. Both lists are in the order the
    /// messages were taken in, so in `seq` order: the window takes from the queue's front.
    pub(crate) fn inflight_by_seq(&self, seq: u64) -> Option<&Inflight> {
        let i = self
            .inflight
            .binary_search_by_key(&seq, |m| m.message.seq)
            .ok()?;
        self.inflight.get(i)
    }

    /// The numbers of the messages it holds, in flight then queued (in `seq` order).
    pub(crate) fn message_seqs(&self) -> impl Iterator<Item = u64> + '_ {
        let inflight = self.inflight.iter().map(|m| m.message.seq);
        inflight.chain(self.queue.iter().map(|m| m.seq))
    }

    /// Whether the session outlives its connection, and so belongs in the store.
    pub(crate) fn is_persistent(&self) -> bool {
        self.expiry != Some(0)
    }

    /// Picks the next packet id not used by an in-flight message (MQTT-2.3.1-2). The
    /// window is bounded well below 65535 (`Broker::new` clamps it), so a free id always
    /// exists and the walk ends within a window's length of steps.
    fn allocate_packet_id(&mut self) -> PacketId {
        loop {
            let id = self.next_packet_id;
            self.next_packet_id = id.next();
            if !self.inflight.iter().any(|m| m.packet_id == id) {
                return id;
            }
        }
    }

    pub(crate) fn inflight_position(&self, id: PacketId) -> Option<usize> {
        self.inflight.iter().position(|m| m.packet_id == id)
    }

    /// An incoming QoS 2 PUBLISH with `id` arrived: true if it is new, false for a
    /// repeat not yet released by PUBREL (MQTT-4.3.3-2, method B of figure 4.3).
    pub(crate) fn receive_qos2(&mut self, id: PacketId) -> bool {
        self.qos2_received.insert(id)
    }

    /// PUBREL released incoming QoS 2 id `id`: a later PUBLISH with it is a new message.
    /// Returns whether the id was held.
    pub(crate) fn release_qos2(&mut self, id: PacketId) -> bool {
        self.qos2_received.remove(&id)
    }

    /// Whether the session is a slow consumer (backpressure).
    pub(crate) fn is_slow_consumer(&self) -> bool {
        self.pressure.as_ref().is_some_and(|p| p.slow_consumer)
    }

    /// Who the client is, for policy decisions.
    pub(crate) fn auth(&self) -> AuthContext {
        self.auth.as_deref().cloned().unwrap_or_default()
    }

    /// Records who the client of a new connection is.
    pub(crate) fn set_auth(&mut self, auth: AuthContext) {
        self.auth = (auth != AuthContext::default()).then(|| Box::new(auth));
    }

    /// Queues a message behind those waiting for the window or a connection.
    pub(crate) fn enqueue(&mut self, message: Message) {
        let message = self.admit(message);
        self.queue.push_back(message);
    }

    /// Whether the in-flight window is full.
    pub(crate) fn window_full(&self, max_inflight: usize) -> bool {
        self.inflight.len() >= max_inflight
    }

    /// When the oldest unacknowledged message was last sent.
    pub(crate) fn oldest_inflight(&self) -> Option<Instant> {
        self.inflight.iter().map(|m| m.sent_at).min()
    }

    /// Gives `message` a packet id and tracks it until acknowledged; returns the id.
    pub(crate) fn start_inflight(&mut self, now: Instant, message: Message) -> PacketId {
        let message = self.admit(message);
        self.push_inflight(now, message)
    }

    /// Puts a message the session already holds in the window.
    fn push_inflight(&mut self, now: Instant, message: Message) -> PacketId {
        self.note(message.seq);
        let packet_id = self.allocate_packet_id();
        let state = match message.qos {
            QoS::ExactlyOnce => InflightState::AwaitingPubRec,
            _ => InflightState::AwaitingPubAck,
        };
        self.inflight.push_back(Inflight {
            packet_id,
            message,
            state,
            sent_at: now,
            held: false,
        });
        packet_id
    }

    /// Moves queued messages into the in-flight window while it has room, appending each
    /// one's packet id to `out`, in queue order. Messages that expired while they waited
    /// are dropped on the way (MQTT-3.3.2-5) and appended to `expired`.
    pub(crate) fn pump(
        &mut self,
        now: Instant,
        max_inflight: usize,
        out: &mut Vec<PacketId>,
        expired: &mut Vec<Message>,
    ) {
        while !self.window_full(max_inflight) {
            let Some(message) = self.queue.pop_front() else {
                return;
            };
            if message.expired(now) {
                self.note(message.seq);
                expired.push(message);
                continue;
            }
            out.push(self.push_inflight(now, message));
        }
    }

    /// The in-flight message with `id`.
    pub(crate) fn inflight_message(&self, id: PacketId) -> Option<&Message> {
        self.inflight
            .iter()
            .find(|m| m.packet_id == id)
            .map(|m| &m.message)
    }

    /// Removes the in-flight message `id` if it is in `state`: the final acknowledgement
    /// (PUBACK, PUBCOMP) frees its id and its place in the window. True if it was there.
    pub(crate) fn complete(&mut self, id: PacketId, state: InflightState) -> bool {
        match self.inflight_position(id) {
            Some(pos) if self.inflight[pos].state == state => {
                if let Some(m) = self.inflight.remove(pos) {
                    self.note(m.message.seq);
                }
                true
            }
            _ => false,
        }
    }

    /// PUBREC for an outgoing QoS 2 message: it now awaits PUBCOMP (MQTT-4.3.3-1).
    /// Returns the state it was in, or `None` if `id` is not in flight.
    pub(crate) fn received(&mut self, now: Instant, id: PacketId) -> Option<InflightState> {
        let pos = self.inflight_position(id)?;
        let m = &mut self.inflight[pos];
        let before = m.state;
        if before != InflightState::AwaitingPubAck {
            m.state = InflightState::AwaitingPubComp;
            m.sent_at = now;
            let seq = m.message.seq;
            self.note(seq);
        }
        Some(before)
    }

    /// What re-sends the in-flight messages, in the order first sent (MQTT-4.6.0-1):
    /// the PUBLISH again (with DUP=1, MQTT-3.3.1-1) where no PUBREC came yet, PUBREL where
    /// it did. With `older_than`, only the messages sent at least that long ago (and not
    /// held). On a reconnection (`older_than` absent) only the first `room` go; the rest
    /// are held until acknowledgements make room (MQTT-3.3.4-9).
    pub(crate) fn resend(
        &mut self,
        now: Instant,
        older_than: Option<Duration>,
        room: usize,
    ) -> Vec<Resend> {
        let mut out = Vec::new();
        for m in self.inflight.iter_mut() {
            match older_than {
                Some(interval) if m.held || m.sent_at + interval > now => continue,
                Some(_) => {}
                None if out.len() >= room => {
                    m.held = true;
                    continue;
                }
                None => m.held = false,
            }
            m.sent_at = now;
            out.push(m.resend());
        }
        out
    }

    /// Releases held in-flight messages while fewer than `window` are out unacknowledged;
    /// returns what to send, oldest first.
    pub(crate) fn release_held(&mut self, now: Instant, window: usize) -> Vec<Resend> {
        let mut out_now = self.inflight.iter().filter(|m| !m.held).count();
        let mut out = Vec::new();
        for m in self.inflight.iter_mut().filter(|m| m.held) {
            if out_now >= window {
                break;
            }
            m.held = false;
            m.sent_at = now;
            out_now += 1;
            out.push(m.resend());
        }
        out
    }
}

impl Inflight {
    /// What sends it again: the PUBLISH, or the PUBREL once PUBREC came.
    fn resend(&self) -> Resend {
        match self.state {
            InflightState::AwaitingPubComp => Resend::PubRel(self.packet_id),
            _ => Resend::Publish(self.packet_id),
        }
    }
}

/// One packet of a resend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resend {
    /// The PUBLISH with this id, again.
    Publish(PacketId),
    /// The PUBREL of this id, again.
    PubRel(PacketId),
}

/// A read-only view of one session, for the simulator's tables and for tests.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SessionView {
    /// The client id.
    pub client_id: String,
    /// Whether a connection is attached.
    pub connected: bool,
    /// The connection, if attached.
    pub conn: Option<ConnId>,
    /// The Clean Session flag it was made with.
    pub clean_session: bool,
    /// Subscriptions with their granted QoS, sorted by filter.
    pub subscriptions: Vec<(TopicFilter, QoS)>,
    /// The protocol version of the connection that made or last resumed it.
    pub version: ProtocolVersion,
    /// Seconds it outlives its connection; `None` is forever.
    pub expiry: Option<u32>,
    /// Packet ids and states of outgoing messages awaiting acknowledgement.
    pub inflight: Vec<(PacketId, InflightState)>,
    /// How many messages wait in the queue.
    pub queued: usize,
    /// Incoming QoS 2 packet ids awaiting PUBREL, sorted.
    pub awaiting_pubrel: Vec<PacketId>,
}

impl From<&Session> for SessionView {
    fn from(s: &Session) -> Self {
        let mut awaiting_pubrel: Vec<PacketId> = s.qos2_received.iter().copied().collect();
        awaiting_pubrel.sort();
        SessionView {
            client_id: s.client_id.to_string(),
            connected: s.conn.is_some(),
            conn: s.conn,
            clean_session: s.clean,
            subscriptions: s
                .subscriptions
                .iter()
                .map(|(f, sub)| (f.clone(), sub.options.qos))
                .collect(),
            version: s.version,
            expiry: s.expiry,
            inflight: s.inflight.iter().map(|m| (m.packet_id, m.state)).collect(),
            queued: s.queue.len(),
            awaiting_pubrel,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Message {
        Message {
            topic: TopicName::new("t").expect("topic"),
            payload: Bytes::new(),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: None,
            expires_at: None,
            subscription_ids: Vec::new(),
            seq: 0,
        }
    }

    #[test]
    fn mqtt_2_3_1_4_allocation_skips_ids_still_in_flight_after_wrapping() {
        let mut s = Session::new("c".into(), false);
        let first = s.start_inflight(Instant::ZERO, message());
        assert_eq!(first.get(), 1);
        // Walk the counter all the way round: id 1 is still in flight and must be skipped.
        for _ in 0..65_534 {
            s.allocate_packet_id();
        }
        assert_eq!(s.allocate_packet_id().get(), 2);
    }

    #[test]
    fn pump_fills_the_window_in_queue_order_and_complete_frees_a_place() {
        let mut s = Session::new("c".into(), false);
        for _ in 0..3 {
            s.queue.push_back(message());
        }
        let (mut out, mut expired) = (Vec::new(), Vec::new());
        s.pump(Instant::ZERO, 2, &mut out, &mut expired);
        let ids: Vec<u16> = out.iter().map(|id| id.get()).collect();
        assert_eq!((ids, s.queue.len()), (vec![1, 2], 1));
        let first = PacketId::FIRST;
        assert!(
            !s.complete(first, InflightState::AwaitingPubComp),
            "a QoS 1 id awaits PUBACK"
        );
        assert!(s.complete(first, InflightState::AwaitingPubAck));
        out.clear();
        s.pump(Instant::ZERO, 2, &mut out, &mut expired);
        assert_eq!((out.len(), expired.len()), (1, 0));
    }

    #[test]
    fn mqtt_3_3_2_5_expired_messages_leave_the_queue_unsent() {
        let mut s = Session::new("c".into(), false);
        let mut stale = message();
        stale.expires_at = Some(Instant::from_millis(10));
        s.queue.push_back(stale);
        s.queue.push_back(message());
        let (mut out, mut expired) = (Vec::new(), Vec::new());
        s.pump(Instant::from_millis(10), 5, &mut out, &mut expired);
        assert_eq!((out.len(), expired.len()), (1, 1));
    }
}
