//! A sans-IO MQTT client, 3.1.1 or 5.0: the simulator's virtual devices, and a test peer.
//!
//! It speaks through the same codec as the broker, so every byte a virtual device sends is
//! a real packet. Like the broker it reads no clock and owns no socket: commands and
//! `handle_*` calls take the current instant, and `poll_transmit`, `poll_event` and
//! `poll_timeout` say what to do next. It acknowledges automatically by default; with
//! auto-ack off, a learner acknowledges each message by hand (or never, to watch the
//! broker re-deliver it).

mod inbound;
mod state;
mod types;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;

use crate::codec::{
    Connect, Disconnect, Packet, Properties, Property, Publish, ReasonCode, Subscribe,
    SubscriptionOptions, Unsubscribe,
};
use crate::time::Instant;
use crate::topic::{TopicFilter, TopicName};
use crate::types::{PacketId, ProtocolVersion, QoS};
pub use state::{ClientState, OutgoingState};
pub use types::{ClientError, ClientEvent, ClientOptions, Received, MAX_PENDING_SUBSCRIPTIONS};

/// The largest in-flight window a client keeps.
const MAX_INFLIGHT: u16 = 32_000;
/// The most messages a client keeps waiting. With the window and pending subscriptions,
/// fewer than the 65,535 packet ids there are.
const MAX_QUEUED: usize = 32_000;

/// What an MQTT 5.0 broker's CONNACK allows this connection; the 3.1.1 defaults otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ServerLimits {
    /// Receive Maximum: how many QoS 1 and 2 messages the broker takes unacknowledged.
    receive_maximum: u16,
    /// Topic Alias Maximum: how many aliases the broker accepts from this client.
    topic_alias_maximum: u16,
    /// Maximum Packet Size the broker accepts.
    maximum_packet_size: Option<u32>,
    /// Server Keep Alive, which replaces the client's own.
    keep_alive: Option<u16>,
}

impl ServerLimits {
    const DEFAULT: ServerLimits = ServerLimits {
        receive_maximum: u16::MAX,
        topic_alias_maximum: 0,
        maximum_packet_size: None,
        keep_alive: None,
    };
}

/// A sans-IO MQTT client.
#[derive(Debug)]
pub struct Client {
    options: ClientOptions,
    state: ClientState,
    rx: Vec<u8>,
    transmit: VecDeque<Bytes>,
    events: VecDeque<ClientEvent>,
    next_packet_id: PacketId,
    /// Outgoing QoS 1 and 2 messages sent and not yet completed, by packet id: the
    /// in-flight window. Each keeps its full topic; aliases are applied as it is sent.
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
    /// What the broker's last CONNACK allowed.
    server: ServerLimits,
    /// The identifier the broker assigned, reused when reconnecting to its session.
    assigned_id: Option<String>,
    /// Topic aliases this client set towards the broker on this connection.
    aliases_out: BTreeMap<TopicName, u16>,
    /// Topic aliases the broker set towards this client on this connection.
    aliases_in: BTreeMap<u16, TopicName>,
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
            server: ServerLimits::DEFAULT,
            assigned_id: None,
            aliases_out: BTreeMap::new(),
            aliases_in: BTreeMap::new(),
        }
    }

    // ----- commands -----------------------------------------------------------------

    /// Sends CONNECT on a new transport. A clean session forgets everything in flight;
    /// otherwise in-flight messages are re-sent once CONNACK confirms the session
    /// (MQTT-4.4.0-1). Topic aliases belong to one connection and start afresh
    /// (MQTT-3.3.2-7).
    pub fn connect(&mut self, now: Instant) {
        self.rx.clear();
        if self.options.clean_session {
            self.outgoing.clear();
            self.incoming_qos2.clear();
        }
        self.unacked.clear();
        self.pending.clear();
        self.aliases_out.clear();
        self.aliases_in.clear();
        self.server = ServerLimits::DEFAULT;
        self.state = ClientState::Connecting;
        let o = &self.options;
        let client_id = match (&self.assigned_id, o.client_id.is_empty()) {
            (Some(id), true) if !o.clean_session => id.clone(),
            _ => o.client_id.clone(),
        };
        let mut connect = Connect::new(o.version, &client_id, o.clean_session);
        connect.keep_alive = o.keep_alive;
        connect.will = o.will.clone();
        connect.username = o.username.clone();
        if o.version == ProtocolVersion::V5 {
            if let Some(secs) = o.session_expiry {
                connect
                    .properties
                    .push(Property::SessionExpiryInterval(secs));
            }
            if let Some(max) = o.receive_maximum {
                connect.properties.push(Property::ReceiveMaximum(max));
            }
            if o.topic_alias_maximum > 0 {
                connect
                    .properties
                    .push(Property::TopicAliasMaximum(o.topic_alias_maximum));
            }
        }
        self.send(now, Packet::Connect(connect));
    }

    /// Sends DISCONNECT; the broker discards the Will. The transport should close next.
    pub fn disconnect(&mut self, now: Instant) {
        self.disconnect_with(now, Disconnect::NORMAL);
    }

    /// Sends this DISCONNECT: in MQTT 5.0 it may keep the Will (reason 0x04) or change
    /// the Session Expiry Interval. The transport should close next.
    pub fn disconnect_with(&mut self, now: Instant, disconnect: Disconnect) {
        if self.state != ClientState::Disconnected {
            let disconnect = match self.options.version {
                ProtocolVersion::V311 => Disconnect::NORMAL,
                ProtocolVersion::V5 => disconnect,
            };
            self.send(now, Packet::Disconnect(disconnect));
        }
        self.state = ClientState::Disconnected;
    }

    /// The transport went away without DISCONNECT (a dropped network).
    pub fn handle_closed(&mut self) {
        self.state = ClientState::Disconnected;
        self.rx.clear();
    }

    /// Subscribes at these maximum QoS; returns the SUBSCRIBE's packet id, or why not
    /// (also reported as `ClientEvent::Refused`).
    pub fn subscribe(
        &mut self,
        now: Instant,
        filters: Vec<(TopicFilter, QoS)>,
    ) -> Result<PacketId, ClientError> {
        let filters = filters
            .into_iter()
            .map(|(f, qos)| (f, SubscriptionOptions::from(qos)))
            .collect();
        self.subscribe_with(now, filters, None)
    }

    /// Subscribes with MQTT 5.0 options and an optional Subscription Identifier; a 3.1.1
    /// client sends only each filter's QoS.
    pub fn subscribe_with(
        &mut self,
        now: Instant,
        filters: Vec<(TopicFilter, SubscriptionOptions)>,
        identifier: Option<u32>,
    ) -> Result<PacketId, ClientError> {
        let packet_id = self.allocate_pending()?;
        let subscribe = match self.options.version {
            ProtocolVersion::V311 => Subscribe::v311(
                packet_id,
                filters.into_iter().map(|(f, o)| (f, o.qos)).collect(),
            ),
            ProtocolVersion::V5 => {
                let mut properties = Properties::new();
                if let Some(id) = identifier {
                    properties.push(Property::SubscriptionIdentifier(id));
                }
                Subscribe {
                    packet_id,
                    filters,
                    properties: Some(properties),
                }
            }
        };
        self.send(now, Packet::Subscribe(subscribe));
        Ok(packet_id)
    }

    /// Unsubscribes; returns the UNSUBSCRIBE's packet id, or why not.
    pub fn unsubscribe(
        &mut self,
        now: Instant,
        filters: Vec<TopicFilter>,
    ) -> Result<PacketId, ClientError> {
        let packet_id = self.allocate_pending()?;
        let mut unsubscribe = Unsubscribe::v311(packet_id, filters);
        if self.options.version == ProtocolVersion::V5 {
            unsubscribe.properties = Some(Properties::new());
        }
        self.send(now, Packet::Unsubscribe(unsubscribe));
        Ok(packet_id)
    }

    /// Publishes; returns the packet id of a QoS 1 or 2 message. See `publish_with`.
    pub fn publish(
        &mut self,
        now: Instant,
        topic: TopicName,
        payload: Bytes,
        qos: QoS,
        retain: bool,
    ) -> Result<Option<PacketId>, ClientError> {
        self.publish_with(now, topic, payload, qos, retain, Properties::new())
    }

    /// Publishes with MQTT 5.0 properties (a 3.1.1 client leaves them out); returns the
    /// packet id of a QoS 1 or 2 message. A QoS 0 message is sent now if connected, and
    /// otherwise dropped, as no transport can carry it. A QoS 1 or 2 message is sent now
    /// if connected with room in the window; otherwise it waits, with its packet id
    /// reserved, and is sent in order as acknowledgements free places or after the next
    /// CONNACK. When `max_queued` messages already wait, or the message exceeds the
    /// broker's Maximum Packet Size, it is refused (also reported as
    /// `ClientEvent::Refused`).
    pub fn publish_with(
        &mut self,
        now: Instant,
        topic: TopicName,
        payload: Bytes,
        qos: QoS,
        retain: bool,
        properties: Properties,
    ) -> Result<Option<PacketId>, ClientError> {
        let mut publish = Publish::v311(topic, qos, retain, None, payload);
        if self.options.version == ProtocolVersion::V5 {
            publish.properties = Some(properties);
        }
        if qos != QoS::AtMostOnce {
            // Sized with a packet id, as it will be sent.
            publish.packet_id = Some(PacketId::FIRST);
        }
        if let Some(error) = self.too_large(&publish) {
            return Err(self.refuse(error));
        }
        if qos == QoS::AtMostOnce {
            if self.state == ClientState::Connected {
                self.send_publish(now, publish);
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
            Some(QoS::ExactlyOnce) => self.send(now, Packet::pubrec(packet_id)),
            Some(_) => self.send(now, Packet::puback(packet_id)),
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
            match crate::codec::decode(&self.rx, self.options.version, usize::MAX, None) {
                Ok(Some((packet, len))) => {
                    self.rx.drain(..len);
                    self.handle_packet(now, packet);
                    if self.state == ClientState::Disconnected {
                        return;
                    }
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

    /// The keep-alive in force: the broker's Server Keep Alive if it sent one.
    pub fn keep_alive(&self) -> u16 {
        self.server.keep_alive.unwrap_or(self.options.keep_alive)
    }

    // ----- outgoing internals -------------------------------------------------------

    fn window_has_room(&self) -> bool {
        let max = self
            .options
            .max_inflight
            .clamp(1, MAX_INFLIGHT)
            .min(self.server.receive_maximum);
        self.state == ClientState::Connected && self.outgoing.len() < usize::from(max)
    }

    /// Sends waiting messages, in order, while the window has room, and tracks each
    /// until it is acknowledged. A message the broker's Maximum Packet Size, learnt since
    /// it was queued, no longer admits is refused rather than sent.
    fn pump(&mut self, now: Instant) {
        while self.window_has_room() {
            let Some(publish) = self.waiting.pop_front() else {
                return;
            };
            let Some(id) = publish.packet_id else {
                continue; // Every waiting message has its id; none is lost here.
            };
            self.reserved.remove(&id);
            if let Some(error) = self.too_large(&publish) {
                self.refuse(error);
                continue;
            }
            let state = if publish.qos == QoS::ExactlyOnce {
                OutgoingState::AwaitingPubRec
            } else {
                OutgoingState::AwaitingPubAck
            };
            self.send_publish(now, publish.clone());
            self.outgoing.insert(id, (publish, state, now));
        }
    }

    /// Sends a PUBLISH, replacing its topic by an alias where one is set or may be
    /// (MQTT-3.3.2-8: an alias greater than the broker's Topic Alias Maximum is never
    /// sent).
    fn send_publish(&mut self, now: Instant, mut publish: Publish) {
        let max = self.server.topic_alias_maximum;
        if self.options.topic_aliases && max > 0 {
            if let Some(properties) = publish.properties.as_mut() {
                match self.aliases_out.get(&publish.topic) {
                    Some(alias) => {
                        properties.push(Property::TopicAlias(*alias));
                        publish.topic = TopicName::aliased();
                    }
                    None if self.aliases_out.len() < usize::from(max) => {
                        let alias = self.aliases_out.len() as u16 + 1;
                        self.aliases_out.insert(publish.topic.clone(), alias);
                        properties.push(Property::TopicAlias(alias));
                    }
                    None => {}
                }
            }
        }
        self.send(now, Packet::Publish(publish));
    }

    /// Why `publish` may not be sent: it exceeds the broker's Maximum Packet Size.
    fn too_large(&self, publish: &Publish) -> Option<ClientError> {
        let max = self.server.maximum_packet_size?;
        let len = Packet::Publish(publish.clone()).encoded_len();
        (len > max as usize).then(|| ClientError::TooLarge {
            topic: publish.topic.clone(),
            max,
        })
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
                OutgoingState::AwaitingPubComp => Packet::pubrel(*id),
                _ => {
                    let mut again = publish.clone();
                    again.dup = true;
                    Packet::Publish(again)
                }
            });
        }
        for p in packets {
            match p {
                Packet::Publish(publish) => self.send_publish(now, publish),
                other => self.send(now, other),
            }
        }
    }

    fn ping_due(&self) -> Option<Instant> {
        let ka = self.keep_alive();
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

    /// Ends the connection from this side with an MQTT 5.0 DISCONNECT carrying `reason`.
    fn fail(&mut self, now: Instant, reason: ReasonCode) {
        self.send(now, Packet::Disconnect(Disconnect::with_reason(reason)));
        self.state = ClientState::Disconnected;
        self.rx.clear();
        self.events.push_back(ClientEvent::Disconnected {
            reason,
            reason_string: None,
        });
    }
}
