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
}

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
}

/// A sans-IO MQTT 3.1.1 client.
#[derive(Debug)]
pub struct Client {
    options: ClientOptions,
    state: ClientState,
    rx: Vec<u8>,
    transmit: VecDeque<Bytes>,
    events: VecDeque<ClientEvent>,
    next_packet_id: PacketId,
    /// Outgoing QoS 1 and 2 messages not yet completed, by packet id.
    outgoing: BTreeMap<PacketId, (Publish, OutgoingState, Instant)>,
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

    /// Subscribes; returns the SUBSCRIBE's packet id.
    pub fn subscribe(&mut self, now: Instant, filters: Vec<(TopicFilter, QoS)>) -> PacketId {
        let packet_id = self.allocate_packet_id();
        self.pending.insert(packet_id);
        self.send(now, Packet::Subscribe(Subscribe { packet_id, filters }));
        packet_id
    }

    /// Unsubscribes; returns the UNSUBSCRIBE's packet id.
    pub fn unsubscribe(&mut self, now: Instant, filters: Vec<TopicFilter>) -> PacketId {
        let packet_id = self.allocate_packet_id();
        self.pending.insert(packet_id);
        self.send(now, Packet::Unsubscribe(Unsubscribe { packet_id, filters }));
        packet_id
    }

    /// Publishes; returns the packet id for QoS 1 and 2. While disconnected, a QoS 1 or
    /// 2 message waits and is sent after the next CONNACK of a persistent session; a
    /// QoS 0 message is dropped, as no transport can carry it.
    pub fn publish(
        &mut self,
        now: Instant,
        topic: TopicName,
        payload: Bytes,
        qos: QoS,
        retain: bool,
    ) -> Option<PacketId> {
        let packet_id = (qos != QoS::AtMostOnce).then(|| self.allocate_packet_id());
        let publish = Publish {
            dup: false,
            qos,
            retain,
            topic,
            packet_id,
            payload,
        };
        if let Some(id) = packet_id {
            let state = if qos == QoS::ExactlyOnce {
                OutgoingState::AwaitingPubRec
            } else {
                OutgoingState::AwaitingPubAck
            };
            self.outgoing.insert(id, (publish.clone(), state, now));
        }
        if self.state == ClientState::Connected {
            self.send(now, Packet::Publish(publish));
        }
        packet_id
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
                    // MQTT-4.4.0-1: re-send what is unacknowledged, in order.
                    self.resend(now, None);
                } else {
                    self.state = ClientState::Disconnected;
                }
                self.events.push_back(ClientEvent::ConnAck(ack));
            }
            Packet::Publish(p) => self.handle_publish(now, p),
            Packet::PubAck(id) => self.complete(id, OutgoingState::AwaitingPubAck),
            Packet::PubRec(id) => {
                if let Some((_, state, at)) = self.outgoing.get_mut(&id) {
                    *state = OutgoingState::AwaitingPubComp;
                    *at = now;
                }
                // MQTT-4.3.3-1: answer PUBREC with PUBREL, even for a repeat.
                self.send(now, Packet::PubRel(id));
            }
            Packet::PubComp(id) => self.complete(id, OutgoingState::AwaitingPubComp),
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

    fn complete(&mut self, id: PacketId, awaiting: OutgoingState) {
        if self
            .outgoing
            .get(&id)
            .is_some_and(|(_, s, _)| *s == awaiting)
        {
            self.outgoing.remove(&id);
            self.events
                .push_back(ClientEvent::Delivered { packet_id: id });
        }
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

    fn allocate_packet_id(&mut self) -> PacketId {
        loop {
            let id = self.next_packet_id;
            self.next_packet_id = id.next();
            if !self.outgoing.contains_key(&id) && !self.pending.contains(&id) {
                return id;
            }
        }
    }

    fn send(&mut self, now: Instant, packet: Packet) {
        self.last_sent = now;
        self.transmit.push_back(packet.to_bytes());
    }
}
