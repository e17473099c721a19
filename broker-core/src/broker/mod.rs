//! The broker: a sans-IO MQTT state machine.
//!
//! Methods come in the four kinds quinn-proto documents: `handle_*` feed it inputs,
//! `poll_*` drain what it wants done, commands change it, and getters give read-only
//! views. See the crate documentation for the drain contract.

mod aws;
mod backpressure;
mod close;
mod connect;
mod deliver;
mod durable;
mod lifecycle;
mod mqtt5;
mod policy;
mod publish;
mod recover;
mod refusal;
mod reorder;
mod route;
mod shadow;
mod subscribe;
mod timers;

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;

use crate::codec::{self, Packet};
use crate::config::{Config, EventConfig, Profile};
use crate::event::{CloseReason, Event, Output, Violation};
use crate::index::{Found, SubscriptionIndex};
use crate::map::{Hashing, Map};
use crate::retained::{RetainedMessage, RetainedStore};
use crate::rng::Rng;
use crate::session::{InflightState, Session, SessionId, SessionView};
use crate::stats::Stats;
use crate::time::Instant;
use crate::topic::HashMatchesParent;
use crate::types::{ConnId, ProtocolVersion, QoS};
use crate::LastWill;
use aws::RateWindow;
use backpressure::HeldAcks;
use lifecycle::Lifecycle;
use mqtt5::Mqtt5;
use reorder::Held;
use timers::{Timer, TimerTable};

/// What the transport knows about a peer, given to [`Broker::accept`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PeerInfo {
    /// The remote address, as the transport prints it.
    pub addr: Option<String>,
    /// An authenticated identity, such as a TLS client certificate's subject.
    pub principal: Option<String>,
}

/// One transport connection.
#[derive(Debug)]
struct Conn {
    peer: Box<PeerInfo>,
    /// Bytes of a packet that has not fully arrived. Never more than the maximum packet
    /// size, because an oversized header is refused before its body is kept.
    partial: Vec<u8>,
    /// When the last complete packet arrived: the keep-alive's reference point.
    last_packet: Instant,
    state: ConnState,
    /// The protocol version of the CONNECT, once one arrived.
    version: ProtocolVersion,
    /// What the broker defers on this connection, boxed because most connections never
    /// defer anything: D8's held packets and backpressure's held acknowledgements.
    deferred: Option<Box<Deferred>>,
    /// PUBLISH packets this second, for the aws-iot rate quota.
    rate: RateWindow,
    /// The shell says the client is not reading fast enough (see `handle_congestion`).
    congested: bool,
}

#[derive(Debug)]
enum ConnState {
    /// Accepted; waiting for CONNECT.
    AwaitingConnect,
    /// CONNECT accepted; attached to a session.
    Connected {
        session: SessionId,
        keep_alive: u16,
        /// What not every connection has, in one box: absent for an MQTT 3.1.1
        /// connection without a Will under the standard profile.
        extras: Option<Box<Extras>>,
    },
}

/// The parts of a connected connection that many connections lack.
#[derive(Debug, Default)]
struct Extras {
    will: Option<LastWill>,
    /// The aws-iot lifecycle record.
    lifecycle: Option<Lifecycle>,
    /// What an MQTT 5.0 connection negotiated; `None` for MQTT 3.1.1.
    mqtt5: Option<Mqtt5>,
}

impl Extras {
    /// The box for these parts, or none if all are absent.
    fn boxed(
        will: Option<LastWill>,
        lifecycle: Option<Lifecycle>,
        mqtt5: Option<Mqtt5>,
    ) -> Option<Box<Extras>> {
        let any = will.is_some() || lifecycle.is_some() || mqtt5.is_some();
        any.then(|| {
            Box::new(Extras {
                will,
                lifecycle,
                mqtt5,
            })
        })
    }
}

/// Packets the broker defers on one connection.
#[derive(Debug, Default)]
struct Deferred {
    /// Packets held back by the aws-iot reorder rule (D8), released by a timer.
    held: Held,
    /// Acknowledgements of this publisher's messages that wait for its subscribers
    /// (backpressure).
    acks: HeldAcks,
}

/// A read-only view of one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ConnectionView {
    /// The connection.
    pub conn: ConnId,
    /// What the transport said about the peer.
    pub peer: PeerInfo,
    /// The client id, once CONNECT was accepted.
    pub client_id: Option<String>,
    /// The keep-alive in force, in seconds, once connected (after any clamping).
    pub keep_alive: Option<u16>,
    /// The protocol version, once connected.
    pub version: Option<ProtocolVersion>,
}

/// A deterministic MQTT broker. See the crate documentation.
#[derive(Debug)]
pub struct Broker {
    config: Config,
    rng: Rng,
    conns: Map<ConnId, Conn>,
    next_conn: u64,
    /// Sessions by slot, each boxed: a slot costs a pointer, so the table's spare
    /// capacity (it grows by doubling) costs little per idle client.
    sessions: Vec<Option<Box<Session>>>,
    free_sessions: Vec<u32>,
    by_client: Map<Arc<str>, SessionId>,
    index: SubscriptionIndex,
    retained: RetainedStore,
    timers: TimerTable,
    out: VecDeque<Output>,
    /// Scratch space for routing, kept to avoid an allocation per publish.
    found: Found,
    /// Sessions the message being routed reached past their high-water mark: its
    /// publisher waits on them (backpressure).
    pressured: Vec<SessionId>,
    /// The Maximum Packet Size of the CONNECT being handled, for its refusal's CONNACK
    /// (MQTT-3.2.2-19).
    connect_max_packet: Option<u32>,
    /// AWS IoT's Device Shadow service's documents (aws-iot).
    shadows: crate::shadow::Shadows,
    /// The next lifecycle `versionNumber` of each client id (aws-iot).
    lifecycle_versions: Map<Arc<str>, u64>,
    /// Recent CONNECTs per client id: when the current second began and how many (aws-iot).
    connects: Map<Arc<str>, (Instant, u32)>,
    connects_pruned_at: Instant,
    stats: Stats,
    /// What is to be stored and what waits for it, once a shell turned durability on.
    durable: Option<Box<durable::Durable>>,
}

impl Broker {
    /// A broker with no connections, sessions or retained messages.
    ///
    /// Under the `aws-iot` profile the general limits take the profile's quotas: the
    /// in-flight window, subscriptions per connection, QoS 1 at most, and whether `a/#`
    /// matches `a`. [`Broker::config`] shows the limits in force.
    pub fn new(mut config: Config) -> Self {
        if config.profile == Profile::AwsIot {
            let aws = &config.aws;
            config.max_inflight = aws.max_inflight;
            config.max_subscriptions = Some(aws.max_subscriptions);
            config.max_qos = QoS::AtLeastOnce;
            config.hash_matches_parent = if aws.hash_matches_parent {
                HashMatchesParent::Yes
            } else {
                HashMatchesParent::No
            };
            // MQTT 5: what AWS IoT says in CONNACK (docs/aws-iot-profile.md, "MQTT 5").
            config.topic_alias_maximum = aws.max_topic_aliases;
            config.receive_maximum = aws.receive_maximum;
            config.subscription_identifiers = false;
            config.shared_subscriptions = aws.shared_subscriptions;
            config.max_session_expiry_secs =
                Some(u32::try_from(aws.session_expiry_secs).unwrap_or(u32::MAX));
        }
        // A window of zero would stall every QoS 1/2 delivery forever, and more than
        // 65535 would run out of packet ids (MQTT-2.3.1-2).
        config.max_inflight = config.max_inflight.clamp(1, usize::from(u16::MAX));
        config.receive_maximum = config.receive_maximum.max(1);
        let hashing = Hashing::new(config.seed);
        Broker {
            rng: Rng::new(config.seed),
            conns: hashing.map(),
            next_conn: 1,
            sessions: Vec::new(),
            free_sessions: Vec::new(),
            by_client: hashing.map(),
            index: SubscriptionIndex::new(hashing, config.hash_matches_parent),
            retained: RetainedStore::new(hashing, config.hash_matches_parent),
            timers: TimerTable::new(hashing),
            out: VecDeque::new(),
            found: Found::default(),
            shadows: crate::shadow::Shadows::default(),
            connect_max_packet: None,
            pressured: Vec::new(),
            lifecycle_versions: hashing.map(),
            connects: hashing.map(),
            connects_pruned_at: Instant::ZERO,
            stats: Stats::default(),
            durable: None,
            config,
        }
    }

    // ----- inputs -----------------------------------------------------------------

    /// A transport connected. The broker answers nothing until CONNECT arrives, and
    /// closes the connection if it does not arrive within `connect_timeout_ms`.
    pub fn accept(&mut self, now: Instant, peer: PeerInfo) -> ConnId {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        let c = Conn {
            peer: Box::new(peer),
            partial: Vec::new(),
            last_packet: now,
            state: ConnState::AwaitingConnect,
            version: ProtocolVersion::default(),
            deferred: None,
            rate: RateWindow::default(),
            congested: false,
        };
        self.conns.insert(conn, c);
        let deadline = now + self.config.connect_timeout();
        self.timers.set(Timer::ConnectDeadline(conn), deadline);
        self.stats.connections_accepted += 1;
        conn
    }

    /// Bytes arrived on `conn`, split anywhere: half a packet, or several at once.
    /// Bytes for a connection the broker has closed are ignored.
    pub fn handle_bytes(&mut self, now: Instant, conn: ConnId, data: &[u8]) {
        self.receive(now, conn, data);
    }

    /// The transport went away without the broker asking. The Will is published unless
    /// DISCONNECT came first (section 3.1.2.5).
    pub fn handle_closed(&mut self, now: Instant, conn: ConnId) {
        self.close(now, conn, CloseReason::TransportClosed);
    }

    /// The shell's outgoing buffer for `conn` went over (`true`) or back under (`false`)
    /// its high-water mark. While congested, QoS 0 messages for the connection are
    /// dropped (`DropReason::SlowConsumer`) and QoS 1 and 2 messages wait in the session's
    /// queue, where backpressure bounds them (docs/reliability.md). Un-congesting sends
    /// what waited, and counts as the client's progress.
    pub fn handle_congestion(&mut self, now: Instant, conn: ConnId, congested: bool) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.congested = congested;
        if !congested {
            if let Some(session) = self.session_of_conn(conn) {
                self.note_progress(now, session);
                self.pump(now, session);
            }
        }
    }

    /// Time passed: fire every timer due at `now` (CONNECT deadlines, keep-alive,
    /// resends, D8's held packets, session expiry). Call it at the instant
    /// `poll_timeout` named, or later.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_due(now) {
            self.on_timer(now, timer);
        }
    }

    // ----- outputs ----------------------------------------------------------------

    /// The next thing the driver must do. Call it after every input until it returns
    /// `None`; outputs are in the order they happened.
    pub fn poll_output(&mut self) -> Option<Output> {
        if self.durable.is_some() {
            return self.poll_durable_output();
        }
        self.out.pop_front()
    }

    /// When to call `handle_timeout` next, if any timer is pending. Timers that no
    /// longer matter are stopped, so something is always due at the instant named.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    // ----- commands ---------------------------------------------------------------

    /// Changes which optional events are emitted from now on. A server turns packet
    /// events on while someone watches its live event stream, and off again after.
    pub fn set_events(&mut self, events: EventConfig) {
        self.config.events = events;
    }

    /// Closes a connection from the server's side, for example at shutdown. The Will is
    /// published (AWS: SERVER_INITIATED_DISCONNECT).
    pub fn close_connection(&mut self, now: Instant, conn: ConnId) {
        self.close(now, conn, CloseReason::ServerShutdown);
    }

    // ----- views ------------------------------------------------------------------

    /// The configuration in force, including the limits a profile imposed.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Every session, connected or stored, sorted by client id.
    pub fn sessions(&self) -> Vec<SessionView> {
        let mut v: Vec<SessionView> = self
            .sessions
            .iter()
            .flatten()
            .map(|s| SessionView::from(&**s))
            .collect();
        v.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        v
    }

    /// The session of `client_id`, if one exists.
    pub fn session(&self, client_id: &str) -> Option<SessionView> {
        let sid = self.by_client.get(client_id)?;
        self.session_ref(*sid).map(SessionView::from)
    }

    /// Every retained message, sorted by topic.
    pub fn retained(&self) -> Vec<RetainedMessage> {
        self.retained.iter().into_iter().cloned().collect()
    }

    /// How many topics hold a retained message.
    pub fn retained_count(&self) -> usize {
        self.retained.len()
    }

    /// Every open connection, sorted by id.
    pub fn connections(&self) -> Vec<ConnectionView> {
        let mut v: Vec<ConnectionView> = self
            .conns
            .iter()
            .map(|(id, c)| {
                let (client_id, keep_alive, version) = match &c.state {
                    ConnState::AwaitingConnect => (None, None, None),
                    ConnState::Connected {
                        session,
                        keep_alive,
                        ..
                    } => (
                        self.session_ref(*session).map(|s| s.client_id.to_string()),
                        Some(*keep_alive),
                        Some(c.version),
                    ),
                };
                ConnectionView {
                    conn: *id,
                    peer: (*c.peer).clone(),
                    client_id,
                    keep_alive,
                    version,
                }
            })
            .collect();
        v.sort_by_key(|c| c.conn);
        v
    }

    /// What the transport said about the peer of an open connection.
    pub fn peer(&self, conn: ConnId) -> Option<&PeerInfo> {
        self.conns.get(&conn).map(|c| &*c.peer)
    }

    /// Counters since the broker was made, for metrics.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// How many timers are armed. For metrics and tests.
    pub fn pending_timers(&self) -> usize {
        self.timers.len()
    }

    /// How many subscriptions the index holds, over all sessions.
    pub fn subscription_count(&self) -> usize {
        self.index.len()
    }

    // ----- internals shared by the submodules ---------------------------------------

    fn receive(&mut self, now: Instant, conn: ConnId, data: &[u8]) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        self.stats.bytes_in += data.len() as u64;
        // Decode straight from `data` when nothing is pending, which is the common case;
        // only the unfinished tail of a packet is ever copied.
        let mut pending = std::mem::take(&mut c.partial);
        let from_pending = !pending.is_empty();
        if from_pending {
            pending.extend_from_slice(data);
        }
        let input: &[u8] = if from_pending { &pending } else { data };
        let Some(consumed) = self.handle_packets(now, conn, input) else {
            return; // The connection was closed; its bytes no longer matter.
        };
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if from_pending {
            pending.drain(..consumed);
        } else {
            pending.clear();
            pending.extend_from_slice(&data[consumed..]);
        }
        c.partial = pending;
    }

    fn handle_packets(&mut self, now: Instant, conn: ConnId, input: &[u8]) -> Option<usize> {
        let mut offset = 0;
        loop {
            let rest = &input[offset..];
            let mut spans = self.config.events.packets.then(Vec::new);
            let (version, max) = self.decoding(conn);
            match codec::decode(rest, version, max, spans.as_mut()) {
                Ok(Some((packet, len))) => {
                    self.stats.count_in(packet.packet_type(), len);
                    if let Some(spans) = spans {
                        let bytes = Bytes::copy_from_slice(&rest[..len]);
                        self.emit(Event::PacketIn {
                            conn,
                            at: now,
                            packet: packet.clone(),
                            bytes,
                            spans,
                        });
                    }
                    offset += len;
                    self.handle_packet(now, conn, packet);
                    if !self.conns.contains_key(&conn) {
                        return None;
                    }
                }
                Ok(None) => return Some(offset),
                Err(codec::DecodeError::PacketTooLarge { size, max })
                    if self.aws_packet_limit(conn) == Some(max) =>
                {
                    // Over AWS IoT's MQTT 5 Maximum Packet Size rather than the server's.
                    let detail = format!("{size} bytes, limit {max}");
                    self.rule_violation(now, conn, crate::rule::Rule::PacketTooLarge, detail);
                    return None;
                }
                Err(e) => {
                    self.violation(now, conn, Violation::Malformed(e));
                    return None;
                }
            }
        }
    }

    fn handle_packet(&mut self, now: Instant, conn: ConnId, packet: Packet) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        // Any control packet counts as activity for the keep-alive (MQTT-3.1.2-23). The
        // check moves at most once per millisecond, however many packets arrive in it.
        if c.last_packet != now {
            c.last_packet = now;
            if let ConnState::Connected { keep_alive, .. } = c.state {
                self.arm_keep_alive(conn, now, keep_alive);
            }
        }
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let session = match &c.state {
            ConnState::AwaitingConnect => {
                return match packet {
                    Packet::Connect(connect) => self.handle_connect(now, conn, connect),
                    // MQTT-3.1.0-1: the first packet from the client must be CONNECT.
                    other => self.violation(
                        now,
                        conn,
                        Violation::FirstPacketNotConnect(other.packet_type()),
                    ),
                };
            }
            ConnState::Connected { session, .. } => *session,
        };
        match packet {
            // MQTT-3.1.0-2: a second CONNECT is a protocol violation.
            Packet::Connect(_) => self.violation(now, conn, Violation::SecondConnect),
            Packet::Publish(p) => self.handle_publish(now, conn, session, p),
            Packet::PubAck(a) => self.handle_final_ack(
                now,
                conn,
                session,
                a.packet_id,
                InflightState::AwaitingPubAck,
            ),
            Packet::PubRec(a) => self.handle_pubrec(now, conn, session, a),
            Packet::PubRel(a) => self.handle_pubrel(now, conn, session, a.packet_id),
            Packet::PubComp(a) => self.handle_final_ack(
                now,
                conn,
                session,
                a.packet_id,
                InflightState::AwaitingPubComp,
            ),
            Packet::Subscribe(s) => self.handle_subscribe(now, conn, session, s),
            Packet::Unsubscribe(u) => self.handle_unsubscribe(now, conn, session, u),
            // MQTT-3.12.4-1: the server must answer PINGREQ with PINGRESP.
            Packet::PingReq => self.send(now, conn, Packet::PingResp),
            Packet::Disconnect(d) => self.handle_disconnect(now, conn, session, d),
            // The server offers no enhanced authentication, so a client that did not ask
            // for it in CONNECT may not send AUTH (section 4.12).
            Packet::Auth(_) => self.violation(now, conn, Violation::UnexpectedAuth),
            Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp => {
                let kind = packet.packet_type();
                self.violation(now, conn, Violation::ServerPacketFromClient(kind));
            }
        }
    }

    fn emit(&mut self, event: Event) {
        self.out.push_back(Output::Event(Box::new(event)));
    }

    /// Encodes `packet` and queues it for `conn`.
    fn send(&mut self, now: Instant, conn: ConnId, mut packet: Packet) {
        // Only a failure or a DISCONNECT carries a Reason String, so only those cost a
        // look-up of the connection.
        let failure = mqtt5::failure_of(&packet);
        if failure.is_some() || matches!(packet, Packet::Disconnect(_)) {
            if let Some(mqtt5) = self.mqtt5(conn) {
                if let Some(failure) = failure {
                    mqtt5.explain(&mut packet, failure);
                }
                mqtt5.fit(&mut packet);
            }
        }
        let bytes = packet.to_bytes();
        self.transmit(now, conn, bytes, &packet, false);
    }

    /// Puts bytes on the wire for `conn`: the one place outgoing packets are counted and
    /// reported.
    fn push_transmit(
        &mut self,
        now: Instant,
        conn: ConnId,
        bytes: Bytes,
        packet: &Packet,
        droppable: bool,
    ) {
        self.stats.count_out(packet.packet_type(), bytes.len());
        if self.config.events.packets {
            let mut spans = Vec::new();
            // Re-decoding our own encoding yields the spans; it cannot fail, and if it
            // somehow did the inspector would merely show fewer fields.
            let version = self.version_of(conn);
            let _ = codec::decode(&bytes, version, usize::MAX, Some(&mut spans));
            self.emit(Event::PacketOut {
                conn,
                at: now,
                packet: packet.clone(),
                bytes: bytes.clone(),
                spans,
            });
        }
        self.out.push_back(Output::Transmit {
            conn,
            bytes,
            droppable,
        });
    }

    fn session_ref(&self, id: SessionId) -> Option<&Session> {
        self.sessions.get(id.0 as usize).and_then(Option::as_deref)
    }

    /// A session to change: under durability, it is stored again at the next batch.
    fn session_mut(&mut self, id: SessionId) -> Option<&mut Session> {
        let s = self
            .sessions
            .get_mut(id.0 as usize)
            .and_then(Option::as_deref_mut)?;
        Self::touch_session(self.durable.as_deref_mut(), id, s);
        Some(s)
    }

    /// The connection a session is attached to, if its CONNECT has been accepted.
    fn session_conn(&self, id: SessionId) -> Option<ConnId> {
        self.session_ref(id).and_then(|s| s.conn)
    }

    /// How to decode `conn`'s next packet: the version it speaks (3.1.1 until its CONNECT
    /// says otherwise) and the largest packet accepted. The aws-iot profile holds MQTT 5
    /// clients to the Maximum Packet Size it advertises.
    fn decoding(&self, conn: ConnId) -> (ProtocolVersion, usize) {
        let version = self.version_of(conn);
        let max = self.config.max_packet_size;
        let max = self.aws_packet_limit(conn).map_or(max, |aws| max.min(aws));
        (version, max)
    }

    /// AWS IoT's Maximum Packet Size, for an MQTT 5.0 connection under aws-iot.
    fn aws_packet_limit(&self, conn: ConnId) -> Option<usize> {
        let rules = self.aws()?;
        (self.version_of(conn) == ProtocolVersion::V5).then_some(rules.max_packet_size as usize)
    }

    /// The MQTT 5.0 state of a connected connection, if it speaks 5.0.
    fn mqtt5(&self, conn: ConnId) -> Option<&Mqtt5> {
        match &self.conns.get(&conn)?.state {
            ConnState::Connected { extras, .. } => extras.as_ref()?.mqtt5.as_ref(),
            ConnState::AwaitingConnect => None,
        }
    }

    fn mqtt5_mut(&mut self, conn: ConnId) -> Option<&mut Mqtt5> {
        match &mut self.conns.get_mut(&conn)?.state {
            ConnState::Connected { extras, .. } => extras.as_mut()?.mqtt5.as_mut(),
            ConnState::AwaitingConnect => None,
        }
    }

    /// The protocol version of `conn`.
    fn version_of(&self, conn: ConnId) -> ProtocolVersion {
        self.conns
            .get(&conn)
            .map_or(ProtocolVersion::V311, |c| c.version)
    }

    /// The session of a connected connection.
    fn session_of_conn(&self, conn: ConnId) -> Option<SessionId> {
        match self.conns.get(&conn)?.state {
            ConnState::Connected { session, .. } => Some(session),
            ConnState::AwaitingConnect => None,
        }
    }

    /// Whether the shell reported `conn` congested.
    fn is_congested(&self, conn: ConnId) -> bool {
        self.conns.get(&conn).is_some_and(|c| c.congested)
    }

    fn client_id_of_conn(&self, conn: ConnId) -> Option<String> {
        let session = self.session_of_conn(conn)?;
        self.session_ref(session).map(|s| s.client_id.to_string())
    }

    /// The lifecycle record of a connected connection, cloned for publishing.
    fn lifecycle_of(&self, conn: ConnId) -> Option<Lifecycle> {
        match &self.conns.get(&conn)?.state {
            ConnState::Connected { extras, .. } => extras.as_ref()?.lifecycle.clone(),
            ConnState::AwaitingConnect => None,
        }
    }
}

#[cfg(test)]
mod size_tests {
    /// The server keeps one `Conn` per idle connection; its memory target is 1 KiB per
    /// connection in all, so the engine's share must stay small. Rare or cold state (a
    /// held packet, the Will, the lifecycle record, the peer) lives behind boxes.
    #[test]
    fn a_connections_engine_state_stays_small() {
        assert!(
            core::mem::size_of::<super::Conn>() <= 96,
            "{}",
            core::mem::size_of::<super::Conn>()
        );
    }

    /// Every packet sent moves one `Output` through the broker's queue; a large variant
    /// would make every move as large (fan-out to 1,000 subscribers ran at half speed
    /// while `Output::Event` held an unboxed `Event`). docs/benchmarks.md has the figures.
    #[test]
    fn an_output_is_as_small_as_a_transmit() {
        let size = core::mem::size_of::<crate::event::Output>();
        assert!(size <= 48, "{size}");
    }
}
