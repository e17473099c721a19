//! A sans-IO MQTT 3.1.1 client: the simulator's virtual devices, and a test peer.
//!
//! It speaks through the same codec as the broker, so every byte a virtual device sends is
//! a real packet. Like the broker it reads no clock and owns no socket: commands and
//! `handle_*` calls take the current instant, and `poll_transmit`, `poll_event` and
//! `poll_timeout` say what to do next. It acknowledges automatically by default; with
//! auto-ack off, a learner acknowledges each message by hand (or never, to watch the
//! broker re-deliver it).

mod state;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;

use crate::codec::{
    self, ConnAck, Connect, DecodeError, LastWill, Packet, Publish, Subscribe, Unsubscribe,
};
use crate::time::Instant;
use crate::topic::{TopicFilter, TopicName};
use crate::types::{ConnectReturnCode, PacketId, QoS, SubscribeReturnCode};
pub use state::{ClientState, OutgoingState};

/// How a client connects and behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ClientOptions {
    /// The client identifier; empty asks the broker to assign one (clean session only).
    pub client_id: String,
    /// The Clean Session flag.
    pub clean_session: bool,
    /// Keep-alive in seconds; the client pings when it has sent nothing for this long.
    pub keep_alive: u16,
    /// The Will left with the broker.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub will: Option<LastWill>,
    /// Acknowledge incoming QoS 1 and 2 messages at once.
    pub auto_ack: bool,
    /// Re-send an unacknowledged PUBLISH (DUP=1) after this many milliseconds.
    pub resend_interval_ms: Option<u64>,
    /// The most QoS 1 and 2 messages sent and not yet acknowledged; further messages
    /// wait their turn. Taken as at least 1 and at most 32,000.
    pub max_inflight: u16,
    /// The most QoS 1 and 2 messages waiting for a place in the window or for a
    /// connection; past it, `publish` refuses the message. Taken as at most 32,000, so
    /// that the window, the queue and pending subscriptions never hold all 65,535
    /// packet ids.
    pub max_queued: usize,
}

/// The most SUBSCRIBE and UNSUBSCRIBE packets awaiting their acknowledgement at once.
/// AWS IoT never answers a SUBSCRIBE asking QoS 2 (D2), so without a bound a device that
/// keeps asking would hold ever more packet ids.
pub const MAX_PENDING_SUBSCRIPTIONS: usize = 1000;

impl ClientOptions {
    /// Options for `client_id` with a clean session, keep-alive 60 s and auto-ack on.
    pub fn new(client_id: &str) -> Self {
        ClientOptions {
            client_id: client_id.to_owned(),
            clean_session: true,
            keep_alive: 60,
            will: None,
            auto_ack: true,
            resend_interval_ms: None,
            max_inflight: 20,
            max_queued: 1000,
        }
    }
}

/// A message the client received.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Received {
    /// The topic.
    pub topic: TopicName,
    /// The payload.
    pub payload: Bytes,
    /// The QoS it arrived with.
    pub qos: QoS,
    /// Its packet id (QoS 1 and 2).
    pub packet_id: Option<PacketId>,
    /// The DUP flag.
    pub dup: bool,
    /// The RETAIN flag.
    pub retain: bool,
    /// When it arrived.
    pub at: Instant,
}

/// What happened to a client, from [`Client::poll_event`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum ClientEvent {
    /// CONNACK arrived.
    ConnAck(ConnAck),
    /// SUBACK arrived for the SUBSCRIBE with this id.
    SubAck {
        /// The SUBSCRIBE's packet id.
        packet_id: PacketId,
        /// One code per filter.
        codes: Vec<SubscribeReturnCode>,
    },
    /// UNSUBACK arrived.
    UnsubAck {
        /// The UNSUBSCRIBE's packet id.
        packet_id: PacketId,
    },
    /// A message arrived and was handed to the application (once per QoS 2 message).
    Message(Received),
    /// An outgoing QoS 1 or 2 message completed its handshake.
    Delivered {
        /// Its packet id.
        packet_id: PacketId,
    },
    /// The broker sent bytes that are not a valid packet; the client stops reading.
    ProtocolError(DecodeError),
    /// A command was refused; nothing was sent.
    Refused(ClientError),
}

/// Why the client refused a command.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum ClientError {
    /// `max_queued` QoS 1 and 2 messages already wait; this one was dropped.
    QueueFull {
        /// The topic of the dropped message.
        topic: TopicName,
    },
    /// `MAX_PENDING_SUBSCRIPTIONS` SUBSCRIBE and UNSUBSCRIBE packets already await their
    /// acknowledgement.
    TooManyPending,
}

impl core::fmt::Display for ClientError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClientError::QueueFull { topic } => {
                write!(f, "message to {topic} dropped: the outgoing queue is full")
            }
            ClientError::TooManyPending => {
                f.write_str("refused: too many subscriptions await their acknowledgement")
            }
        }
    }
}

/// The largest in-flight window a client keeps.
const MAX_INFLIGHT: u16 = 32_000;
/// The most messages a client keeps waiting. With the window and pending subscriptions,
/// fewer than the 65,535 packet ids there are.
const MAX_QUEUED: usize = 32_000;

/// A sans-IO MQTT 3.1.1 client.
#[derive(Debug)]
pub struct Client {
    options: ClientOptions,
    state: ClientState,
    rx: Vec<u8>,
    transmit: VecDeque<Bytes>,
    events: VecDeque<ClientEvent>,
    next_packet_id: PacketId,
    /// Outgoing QoS 1 and 2 messages sent and not yet completed, by packet id: the
    /// in-flight window.
    outgoing: BTreeMap<PacketId, (Publish, OutgoingState, Instant)>,
    /// QoS 1 and 2 messages waiting for a place in the window or for a connection, with
    /// the packet ids they will be sent with.
    waiting: VecDeque<Publish>,
    /// The packet ids of `waiting`, so that no other packet takes them.
    reserved: BTreeSet<PacketId>,
    /// Incoming QoS 2 ids received and not yet released (method B of figure 4.3).
    incoming_qos2: BTreeSet<PacketId>,
    /// Incoming QoS 1 and 2 messages waiting for a manual acknowledgement.
    unacked: BTreeMap<PacketId, QoS>,
    /// SUBSCRIBE and UNSUBSCRIBE ids awaiting their acknowledgement.
    pending: BTreeSet<PacketId>,
    last_sent: Instant,
}

impl Client {
    /// A disconnected client.
    pub fn new(options: ClientOptions) -> Self {
        Client {
            options,
            state: ClientState::Disconnected,
            rx: Vec::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            next_packet_id: PacketId::FIRST,
            outgoing: BTreeMap::new(),
            waiting: VecDeque::new(),
            reserved: BTreeSet::new(),
            incoming_qos2: BTreeSet::new(),
            unacked: BTreeMap::new(),
            pending: BTreeSet::new(),
            last_sent: Instant::ZERO,
        }
    }

    // ----- commands -----------------------------------------------------------------

    /// Sends CONNECT on a new transport. A clean session forgets everything in flight;
    /// otherwise in-flight messages are re-sent once CONNACK confirms the session
    /// (MQTT-4.4.0-1).
    pub fn connect(&mut self, now: Instant) {
        self.rx.clear();
        if self.options.clean_session {
            self.outgoing.clear();
            self.incoming_qos2.clear();
        }
        self.unacked.clear();
        self.pending.clear();
        self.state = ClientState::Connecting;
        let connect = Connect {
            clean_session: self.options.clean_session,
            keep_alive: self.options.keep_alive,
            client_id: self.options.client_id.clone(),
            will: self.options.will.clone(),
            username: None,
            password: None,
        };
        self.send(now, Packet::Connect(connect));
    }

    /// Sends DISCONNECT; the broker discards the Will. The transport should close next.
    pub fn disconnect(&mut self, now: Instant) {
        if self.state != ClientState::Disconnected {
            self.send(now, Packet::Disconnect);
        }
        self.state = ClientState::Disconnected;
    }

    /// The transport went away without DISCONNECT (a dropped network).
    pub fn handle_closed(&mut self) {
        self.state = ClientState::Disconnected;
        self.rx.clear();
    }

    /// Subscribes; returns the SUBSCRIBE's packet id, or why not (also reported as
    /// `ClientEvent::Refused`).
    pub fn subscribe(
        &mut self,
        now: Instant,
        filters: Vec<(TopicFilter, QoS)>,
    ) -> Result<PacketId, ClientError> {
        let packet_id = self.allocate_pending()?;
        self.send(now, Packet::Subscribe(Subscribe { packet_id, filters }));
        Ok(packet_id)
    }

    /// Unsubscribes; returns the UNSUBSCRIBE's packet id, or why not.
    pub fn unsubscribe(
        &mut self,
        now: Instant,
        filters: Vec<TopicFilter>,
    ) -> Result<PacketId, ClientError> {
        let packet_id = self.allocate_pending()?;
        self.send(now, Packet::Unsubscribe(Unsubscribe { packet_id, filters }));
        Ok(packet_id)
    }

    /// Publishes; returns the packet id of a QoS 1 or 2 message. A QoS 0 message is sent
    /// now if connected, and otherwise dropped, as no transport can carry it. A QoS 1 or
    /// 2 message is sent now if connected with room in the window; otherwise it waits,
    /// with its packet id reserved, and is sent in order as acknowledgements free places
    /// or after the next CONNACK. When `max_queued` messages already wait, it is refused
    /// (also reported as `ClientEvent::Refused`).
    pub fn publish(
        &mut self,
        now: Instant,
        topic: TopicName,
        payload: Bytes,
        qos: QoS,
        retain: bool,
    ) -> Result<Option<PacketId>, ClientError> {
        let publish = Publish {
            dup: false,
            qos,
            retain,
            topic,
            packet_id: None,
            payload,
        };
        if qos == QoS::AtMostOnce {
            if self.state == ClientState::Connected {
                self.send(now, Packet::Publish(publish));
            }
            return Ok(None);
        }
        if self.waiting.len() >= self.options.max_queued.min(MAX_QUEUED) {
            return Err(self.refuse(ClientError::QueueFull {
                topic: publish.topic,
            }));
        }
        // The window, the queue and pending subscriptions together hold fewer ids than
        // there are, so a free one exists (see `allocate_packet_id`).
        let mut publish = publish;
        let id = self.allocate_packet_id();
        publish.packet_id = Some(id);
        self.reserved.insert(id);
        self.waiting.push_back(publish);
        self.pump(now);
        Ok(Some(id))
    }

    /// Acknowledges an incoming message held because auto-ack is off: PUBACK for QoS 1,
    /// PUBREC for QoS 2. Returns false if nothing waits under that id.
    pub fn ack(&mut self, now: Instant, packet_id: PacketId) -> bool {
        match self.unacked.remove(&packet_id) {
            Some(QoS::ExactlyOnce) => self.send(now, Packet::PubRec(packet_id)),
            Some(_) => self.send(now, Packet::PubAck(packet_id)),
            None => return false,
        }
        true
    }

    /// Turns automatic acknowledgement on or off.
    pub fn set_auto_ack(&mut self, auto_ack: bool) {
        self.options.auto_ack = auto_ack;
    }

    // ----- inputs -------------------------------------------------------------------

    /// Bytes arrived from the broker, split anywhere.
    pub fn handle_bytes(&mut self, now: Instant, data: &[u8]) {
        if self.state == ClientState::Disconnected {
            return;
        }
        self.rx.extend_from_slice(data);
        loop {
            match codec::decode(&self.rx, usize::MAX, None) {
                Ok(Some((packet, len))) => {
                    self.rx.drain(..len);
                    self.handle_packet(now, packet);
                }
                Ok(None) => return,
                Err(e) => {
                    self.rx.clear();
                    self.state = ClientState::Disconnected;
                    self.events.push_back(ClientEvent::ProtocolError(e));
                    return;
                }
            }
        }
    }

    /// Time passed: ping when the keep-alive period has gone by without sending, and
    /// re-send unacknowledged messages if a resend interval is set.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state != ClientState::Connected {
            return;
        }
        if let Some(interval) = self.options.resend_interval_ms {
            self.resend(now, Some(interval));
        }
        if let Some(at) = self.ping_due() {
            if now >= at {
                self.send(now, Packet::PingReq);
            }
        }
    }

    // ----- outputs ------------------------------------------------------------------

    /// The next packet to write to the transport.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmit.pop_front()
    }

    /// The next thing that happened.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// When to call `handle_timeout` next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state != ClientState::Connected {
            return None;
        }
        let resend = self.options.resend_interval_ms.and_then(|ms| {
            let oldest = self.outgoing.values().map(|(_, _, at)| *at).min()?;
            Some(oldest + core::time::Duration::from_millis(ms))
        });
        match (self.ping_due(), resend) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ----- views --------------------------------------------------------------------

    /// The client's options.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// Where the connection stands.
    pub fn state(&self) -> ClientState {
        self.state
    }

    /// Outgoing QoS 1 and 2 messages not yet completed, by packet id.
    pub fn outgoing(&self) -> Vec<(PacketId, OutgoingState)> {
        self.outgoing
            .iter()
            .map(|(id, (_, s, _))| (*id, *s))
            .collect()
    }

    /// How many QoS 1 and 2 messages wait for a place in the window or a connection.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Incoming messages waiting for a manual acknowledgement.
    pub fn unacked(&self) -> Vec<PacketId> {
        self.unacked.keys().copied().collect()
    }

    // ----- internals ----------------------------------------------------------------

    fn handle_packet(&mut self, now: Instant, packet: Packet) {
        match packet {
            Packet::ConnAck(ack) => {
                if ack.code == ConnectReturnCode::Accepted {
                    self.state = ClientState::Connected;
                    if !ack.session_present {
                        // The broker has no session: nothing in flight survives either.
                        self.incoming_qos2.clear();
                    }
                    // MQTT-4.4.0-1: re-send what is unacknowledged, in order, then
                    // what waited for the connection.
                    self.resend(now, None);
                    self.pump(now);
                } else {
                    self.state = ClientState::Disconnected;
                }
                self.events.push_back(ClientEvent::ConnAck(ack));
            }
            Packet::Publish(p) => self.handle_publish(now, p),
            Packet::PubAck(id) => self.complete(now, id, OutgoingState::AwaitingPubAck),
            Packet::PubRec(id) => {
                if let Some((_, state, at)) = self.outgoing.get_mut(&id) {
                    *state = OutgoingState::AwaitingPubComp;
                    *at = now;
                }
                // MQTT-4.3.3-1: answer PUBREC with PUBREL, even for a repeat.
                self.send(now, Packet::PubRel(id));
            }
            Packet::PubComp(id) => self.complete(now, id, OutgoingState::AwaitingPubComp),
            Packet::PubRel(id) => {
                // MQTT-4.3.3-2: release the id and answer PUBCOMP.
                self.incoming_qos2.remove(&id);
                self.send(now, Packet::PubComp(id));
            }
            Packet::SubAck(ack) => {
                self.pending.remove(&ack.packet_id);
                self.events.push_back(ClientEvent::SubAck {
                    packet_id: ack.packet_id,
                    codes: ack.codes,
                });
            }
            Packet::UnsubAck(id) => {
                self.pending.remove(&id);
                self.events
                    .push_back(ClientEvent::UnsubAck { packet_id: id });
            }
            // PINGRESP needs no answer; anything a client never receives is ignored.
            _ => {}
        }
    }

    fn handle_publish(&mut self, now: Instant, p: Publish) {
        let received = Received {
            topic: p.topic,
            payload: p.payload,
            qos: p.qos,
            packet_id: p.packet_id,
            dup: p.dup,
            retain: p.retain,
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
                Packet::PubRec(id)
            } else {
                Packet::PubAck(id)
            };
            self.send(now, ack);
        } else {
            self.unacked.insert(id, p.qos);
        }
    }

    fn complete(&mut self, now: Instant, id: PacketId, awaiting: OutgoingState) {
        if self
            .outgoing
            .get(&id)
            .is_some_and(|(_, s, _)| *s == awaiting)
        {
            self.outgoing.remove(&id);
            self.events
                .push_back(ClientEvent::Delivered { packet_id: id });
            self.pump(now);
        }
    }

    fn window_has_room(&self) -> bool {
        let max = usize::from(self.options.max_inflight.clamp(1, MAX_INFLIGHT));
        self.state == ClientState::Connected && self.outgoing.len() < max
    }

    /// Sends waiting messages, in order, while the window has room, and tracks each
    /// until it is acknowledged.
    fn pump(&mut self, now: Instant) {
        while self.window_has_room() {
            let Some(publish) = self.waiting.pop_front() else {
                return;
            };
            let Some(id) = publish.packet_id else {
                continue; // Every waiting message has its id; none is lost here.
            };
            self.reserved.remove(&id);
            let state = if publish.qos == QoS::ExactlyOnce {
                OutgoingState::AwaitingPubRec
            } else {
                OutgoingState::AwaitingPubAck
            };
            self.send(now, Packet::Publish(publish.clone()));
            self.outgoing.insert(id, (publish, state, now));
        }
    }

    /// A packet id for a SUBSCRIBE or UNSUBSCRIBE, while fewer than the bound await.
    fn allocate_pending(&mut self) -> Result<PacketId, ClientError> {
        if self.pending.len() >= MAX_PENDING_SUBSCRIPTIONS {
            return Err(self.refuse(ClientError::TooManyPending));
        }
        let id = self.allocate_packet_id();
        self.pending.insert(id);
        Ok(id)
    }

    fn refuse(&mut self, error: ClientError) -> ClientError {
        self.events.push_back(ClientEvent::Refused(error.clone()));
        error
    }

    /// Re-sends unacknowledged messages in packet-id order (the order they were
    /// allocated, barring a wrap): all of them, or those older than `older_than_ms`.
    fn resend(&mut self, now: Instant, older_than_ms: Option<u64>) {
        let mut packets = Vec::new();
        for (id, (publish, state, at)) in self.outgoing.iter_mut() {
            if older_than_ms.is_some_and(|ms| *at + core::time::Duration::from_millis(ms) > now) {
                continue;
            }
            *at = now;
            packets.push(match state {
                OutgoingState::AwaitingPubComp => Packet::PubRel(*id),
                _ => {
                    let mut again = publish.clone();
                    again.dup = true;
                    Packet::Publish(again)
                }
            });
        }
        for p in packets {
            self.send(now, p);
        }
    }

    fn ping_due(&self) -> Option<Instant> {
        let ka = self.options.keep_alive;
        (ka > 0).then(|| self.last_sent + core::time::Duration::from_secs(u64::from(ka)))
    }

    /// The next packet id in use by nothing outstanding (MQTT-2.3.1-2). At most
    /// `MAX_INFLIGHT + MAX_QUEUED + MAX_PENDING_SUBSCRIPTIONS` ids are ever in use, fewer
    /// than the 65535 there are, so the walk always ends.
    fn allocate_packet_id(&mut self) -> PacketId {
        loop {
            let id = self.next_packet_id;
            self.next_packet_id = id.next();
            let taken = self.outgoing.contains_key(&id)
                || self.reserved.contains(&id)
                || self.pending.contains(&id);
            if !taken {
                return id;
            }
        }
    }

    fn send(&mut self, now: Instant, packet: Packet) {
        self.last_sent = now;
        self.transmit.push_back(packet.to_bytes());
    }
}
