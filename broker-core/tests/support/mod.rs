//! The simulation harness every engine test drives: one broker, many clients, virtual
//! time. Like quinn-proto's `Pair`, it moves bytes until nothing is left to move, so each
//! test reads as a short story: connect, subscribe, publish, look at what arrived.

#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};

use broker_core::codec::decode;
use broker_core::*;
use bytes::Bytes;

/// What one simulated client has seen.
#[derive(Debug, Default)]
pub struct Client {
    /// Bytes received and not yet decoded into whole packets.
    rx: Vec<u8>,
    /// Every byte the broker sent this client, in order.
    pub wire: Vec<u8>,
    /// Packets received and not yet taken by the test.
    pub inbox: VecDeque<Packet>,
    /// Why the broker closed the connection, if it did.
    pub closed: Option<CloseReason>,
    /// Whether the broker asked the shell to stop reading this connection.
    pub paused: bool,
    /// The protocol the client's CONNECT named, which its packets are decoded in.
    pub version: ProtocolVersion,
}

/// One broker and the clients talking to it.
pub struct Sim {
    pub broker: Broker,
    pub now: Instant,
    pub clients: BTreeMap<ConnId, Client>,
    /// Every event, in order.
    pub events: Vec<Event>,
    /// A store for a durable broker (`Sim::durable`): what its batches left.
    pub store: Option<BTreeMap<Vec<u8>, Vec<u8>>>,
    /// Whether `drive` stores every batch at once, as a shell with an idle disk would.
    /// Off, batches wait in `pending` until `store_pending`.
    pub auto_store: bool,
    pub pending: Vec<broker_core::store::StoreBatch>,
    config: Config,
}

impl Sim {
    pub fn new(config: Config) -> Self {
        Sim {
            broker: Broker::new(config.clone()),
            now: Instant::ZERO,
            clients: BTreeMap::new(),
            events: Vec::new(),
            store: None,
            auto_store: true,
            pending: Vec::new(),
            config,
        }
    }

    /// A broker with durability on and an empty store, which `drive` fills.
    pub fn durable(config: Config) -> Self {
        let mut sim = Sim::new(config);
        let recovery = sim.broker.recover(sim.now, Vec::new());
        assert_eq!(recovery, broker_core::store::Recovery::default());
        sim.store = Some(BTreeMap::new());
        sim
    }

    /// The server restarts at `now` (a crash: no connection is closed first): a new broker
    /// recovers from what was stored. Returns what it made of it.
    pub fn restart(&mut self) -> broker_core::store::Recovery {
        self.broker = Broker::new(self.config.clone());
        self.clients.clear();
        self.pending.clear();
        let entries = self.store.clone().expect("a durable sim").into_iter();
        let recovery = self.broker.recover(self.now, entries);
        self.drive();
        recovery
    }

    /// Stores the batches that waited, and lets the broker send what waited for them.
    pub fn store_pending(&mut self) {
        let store = self.store.as_mut().expect("a durable sim");
        let mut last = None;
        for batch in self.pending.drain(..) {
            for change in batch.changes {
                match change.value {
                    Some(value) => store.insert(change.key, value),
                    None => store.remove(&change.key),
                };
            }
            last = Some(batch.seq);
        }
        if let Some(seq) = last {
            self.broker.handle_stored(seq);
        }
        self.drive();
    }

    /// A strict MQTT 3.1.1 broker with the default configuration.
    pub fn standard() -> Self {
        Sim::new(Config::default())
    }

    /// A transport connects; nothing is sent yet.
    pub fn open(&mut self) -> ConnId {
        let conn = self.broker.accept(self.now, PeerInfo::default());
        self.clients.insert(conn, Client::default());
        self.drive();
        conn
    }

    /// Opens a connection and sends `connect`; returns the connection and the CONNACK.
    pub fn connect_with(&mut self, connect: Connect) -> (ConnId, Option<ConnAck>) {
        let conn = self.open();
        self.send(conn, Packet::Connect(connect));
        let ack = match self.recv(conn) {
            Some(Packet::ConnAck(ack)) => Some(ack),
            Some(other) => panic!("expected CONNACK, got {other:?}"),
            None => None,
        };
        (conn, ack)
    }

    /// Connects `client_id` with the given Clean Session flag and checks it was accepted.
    pub fn connect(&mut self, client_id: &str, clean: bool) -> ConnId {
        let (conn, ack) = self.connect_with(connect(client_id, clean));
        let ack = ack.expect("a CONNACK");
        assert_eq!(ack.code, ConnectReturnCode::Accepted);
        conn
    }

    /// Sends one packet from the client and lets the broker react.
    pub fn send(&mut self, conn: ConnId, packet: Packet) {
        if let (Packet::Connect(c), Some(client)) = (&packet, self.clients.get_mut(&conn)) {
            client.version = c.version;
        }
        self.send_raw(conn, &packet.to_bytes());
    }

    /// Sends raw bytes from the client and lets the broker react.
    pub fn send_raw(&mut self, conn: ConnId, bytes: &[u8]) {
        self.broker.handle_bytes(self.now, conn, bytes);
        self.drive();
    }

    /// The transport of `conn` fails (no DISCONNECT).
    pub fn drop_conn(&mut self, conn: ConnId) {
        self.broker.handle_closed(self.now, conn);
        self.drive();
    }

    /// Moves every output of the broker to its client, until there are none, storing
    /// what a durable broker asks to store (unless `auto_store` is off).
    pub fn drive(&mut self) {
        loop {
            self.drain();
            // Without a store, or while a write is in progress, nothing is asked for: a
            // shell takes the next batch once its disk is free.
            if self.store.is_none() || !self.pending.is_empty() {
                return;
            }
            let Some(batch) = self.broker.poll_store() else {
                return;
            };
            self.pending.push(batch);
            if !self.auto_store {
                return;
            }
            self.store_pending();
        }
    }

    fn drain(&mut self) {
        while let Some(out) = self.broker.poll_output() {
            match out {
                Output::Transmit { conn, bytes, .. } => {
                    let c = self
                        .clients
                        .get_mut(&conn)
                        .expect("transmit to a known client");
                    assert!(
                        c.closed.is_none(),
                        "bytes sent on {conn} after it was closed"
                    );
                    c.wire.extend_from_slice(&bytes);
                    c.rx.extend_from_slice(&bytes);
                    while let Some((packet, len)) = decode(&c.rx, c.version, usize::MAX, None)
                        .expect("the broker sends valid packets")
                    {
                        c.rx.drain(..len);
                        c.inbox.push_back(packet);
                    }
                }
                Output::Close { conn, reason } => {
                    let c = self
                        .clients
                        .get_mut(&conn)
                        .expect("close of a known client");
                    assert!(c.closed.is_none(), "{conn} closed twice");
                    c.closed = Some(reason);
                }
                Output::Event(e) => self.events.push(*e),
                Output::PauseReading { conn } | Output::ResumeReading { conn } => {
                    let pause = matches!(out, Output::PauseReading { .. });
                    let c = self.clients.get_mut(&conn).expect("a known client");
                    assert_ne!(c.paused, pause, "{conn}: pause and resume alternate");
                    c.paused = pause;
                }
            }
        }
    }

    /// Lets `ms` milliseconds of virtual time pass, firing every timer due on the way at
    /// the instant it is due.
    pub fn advance(&mut self, ms: u64) {
        let end = Instant::from_millis(self.now.as_millis() + ms);
        while let Some(at) = self.broker.poll_timeout().filter(|at| *at <= end) {
            self.now = self.now.max(at);
            self.broker.handle_timeout(self.now);
            self.drive();
        }
        self.now = end;
    }

    /// The next packet `conn` received, if any.
    pub fn recv(&mut self, conn: ConnId) -> Option<Packet> {
        self.clients.get_mut(&conn)?.inbox.pop_front()
    }

    /// The next packet `conn` receives, letting virtual time pass (timer by timer, for
    /// at most a minute) while none has arrived: the aws-iot profile's D8 may hold a
    /// reply back for a while.
    pub fn recv_soon(&mut self, conn: ConnId) -> Option<Packet> {
        let give_up = self.now.as_millis() + 60_000;
        loop {
            if let Some(packet) = self.recv(conn) {
                return Some(packet);
            }
            let at = self.broker.poll_timeout()?;
            if at.as_millis() > give_up {
                return None;
            }
            self.advance(at.as_millis().saturating_sub(self.now.as_millis()));
        }
    }

    /// Every packet `conn` received since last asked.
    pub fn recv_all(&mut self, conn: ConnId) -> Vec<Packet> {
        self.clients
            .get_mut(&conn)
            .map(|c| c.inbox.drain(..).collect())
            .unwrap_or_default()
    }

    /// The PUBLISH packets among what `conn` received since last asked.
    pub fn publishes(&mut self, conn: ConnId) -> Vec<Publish> {
        self.recv_all(conn)
            .into_iter()
            .filter_map(|p| match p {
                Packet::Publish(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    /// The PUBLISH packets `conn` received, each acknowledged with PUBACK (QoS 1).
    pub fn acknowledge_publishes(&mut self, conn: ConnId) -> Vec<Publish> {
        let publishes = self.publishes(conn);
        for p in &publishes {
            self.send(conn, Packet::puback(p.packet_id.expect("a QoS 1 PUBLISH")));
        }
        publishes
    }

    /// Why the broker closed `conn`, if it did.
    pub fn closed(&self, conn: ConnId) -> Option<&CloseReason> {
        self.clients.get(&conn)?.closed.as_ref()
    }

    /// Every byte the broker sent to `conn`.
    pub fn wire(&self, conn: ConnId) -> &[u8] {
        &self.clients[&conn].wire
    }

    /// Subscribes and returns the SUBACK's return codes.
    pub fn subscribe(&mut self, conn: ConnId, filters: &[(&str, QoS)]) -> Vec<SubscribeReturnCode> {
        let filters = filters
            .iter()
            .map(|(f, q)| (TopicFilter::new(f).expect("filter"), *q))
            .collect();
        self.send(conn, Packet::Subscribe(Subscribe::v311(pid(1000), filters)));
        match self.recv_soon(conn) {
            Some(Packet::SubAck(ack)) => {
                assert_eq!(ack.packet_id, pid(1000));
                ack.codes
            }
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    /// Publishes from `conn`. QoS 1 and 2 use packet id `id`.
    pub fn publish(
        &mut self,
        conn: ConnId,
        topic: &str,
        payload: &str,
        qos: QoS,
        retain: bool,
        id: u16,
    ) {
        self.send(
            conn,
            Packet::Publish(publish(topic, payload, qos, retain, id)),
        );
    }

    /// Events of one kind, picked by `f`.
    pub fn events_where<T>(&self, f: impl FnMut(&Event) -> Option<T>) -> Vec<T> {
        self.events.iter().filter_map(f).collect()
    }
}

/// A CONNECT with keep-alive off and no Will.
pub fn connect(client_id: &str, clean: bool) -> Connect {
    let mut c = Connect::new(ProtocolVersion::V311, client_id, clean);
    c.keep_alive = 0;
    c
}

/// A PUBLISH; `id` is ignored for QoS 0.
pub fn publish(topic: &str, payload: &str, qos: QoS, retain: bool, id: u16) -> Publish {
    Publish::v311(
        TopicName::new(topic).expect("topic"),
        qos,
        retain,
        (qos != QoS::AtMostOnce).then(|| pid(id)),
        Bytes::copy_from_slice(payload.as_bytes()),
    )
}

/// A packet id from a non-zero number.
pub fn pid(n: u16) -> PacketId {
    PacketId::new(n).expect("non-zero packet id")
}

pub fn topic(s: &str) -> TopicName {
    TopicName::new(s).expect("topic")
}

pub fn filter(s: &str) -> TopicFilter {
    TopicFilter::new(s).expect("filter")
}

/// The payloads of `publishes`, as strings.
pub fn payloads(publishes: &[Publish]) -> Vec<String> {
    publishes
        .iter()
        .map(|p| String::from_utf8_lossy(&p.payload).into_owned())
        .collect()
}

/// Sends `bytes` from `conn` in pieces cut at `cuts` (offsets into `bytes`, in any order;
/// duplicates and out-of-range offsets are ignored), letting the broker react after each
/// piece, as a transport that delivers a stream in arbitrary reads would.
pub fn send_in_pieces(sim: &mut Sim, conn: ConnId, bytes: &[u8], cuts: &[usize]) {
    let mut cuts: Vec<usize> = cuts
        .iter()
        .copied()
        .filter(|&c| c > 0 && c < bytes.len())
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut start = 0;
    for end in cuts.into_iter().chain([bytes.len()]) {
        sim.send_raw(conn, &bytes[start..end]);
        start = end;
    }
}

/// The MQTT 3.1.1 packets that `bytes` holds, in order; panics if they are not whole
/// valid packets.
pub fn decode_all(bytes: &[u8]) -> Vec<Packet> {
    decode_all_in(bytes, ProtocolVersion::V311)
}

/// The packets of `version` that `bytes` holds, in order; panics if they are not whole
/// valid packets.
pub fn decode_all_in(bytes: &[u8], version: ProtocolVersion) -> Vec<Packet> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (packet, len) = decode(rest, version, usize::MAX, None)
            .expect("valid packets")
            .expect("whole packets");
        out.push(packet);
        rest = &rest[len..];
    }
    out
}

/// An `aws-iot` broker with its rules adjusted by `tune`.
pub fn aws_sim(tune: impl FnOnce(&mut AwsRules)) -> Sim {
    let mut config = Config::for_profile(Profile::AwsIot);
    tune(&mut config.aws);
    Sim::new(config)
}

/// The rules that fired, as (code, connection) pairs.
pub fn fired(sim: &Sim) -> Vec<(&'static str, Option<ConnId>)> {
    sim.events_where(|e| match e {
        Event::RuleFired { rule, conn, .. } => Some((rule.code(), *conn)),
        _ => None,
    })
}

/// Connects with a keep-alive the aws-iot profile accepts unchanged.
pub fn connect_aws(sim: &mut Sim, client_id: &str, clean: bool) -> ConnId {
    let mut c = connect(client_id, clean);
    c.keep_alive = 60;
    let (conn, ack) = sim.connect_with(c);
    assert_eq!(ack.map(|a| a.code), Some(ReasonCode::SUCCESS));
    conn
}

// ----- MQTT 5.0 -------------------------------------------------------------------------

/// An MQTT 5.0 CONNECT with keep-alive off and these properties.
pub fn connect5(client_id: &str, clean: bool, properties: Vec<Property>) -> Connect {
    let mut c = Connect::new(ProtocolVersion::V5, client_id, clean);
    c.keep_alive = 0;
    c.properties = Properties(properties);
    c
}

/// An MQTT 5.0 PUBLISH with these properties; `id` is ignored for QoS 0.
pub fn publish5(
    topic: &str,
    payload: &str,
    qos: QoS,
    id: u16,
    properties: Vec<Property>,
) -> Publish {
    let mut p = publish(topic, payload, qos, false, id);
    p.properties = Some(Properties(properties));
    p
}

/// Subscription options asking `qos` and nothing else.
pub fn opts(qos: QoS) -> SubscriptionOptions {
    SubscriptionOptions::from(qos)
}

impl Sim {
    /// Connects over MQTT 5.0 and returns the connection and its CONNACK, which must
    /// have come.
    pub fn connect5(
        &mut self,
        client_id: &str,
        clean: bool,
        properties: Vec<Property>,
    ) -> (ConnId, ConnAck) {
        let (conn, ack) = self.connect_with(connect5(client_id, clean, properties));
        (conn, ack.expect("a CONNACK"))
    }

    /// Subscribes over MQTT 5.0 with these options and Subscription Identifier; returns
    /// the SUBACK.
    pub fn subscribe5(
        &mut self,
        conn: ConnId,
        filters: &[(&str, SubscriptionOptions)],
        identifier: Option<u32>,
    ) -> SubAck {
        let filters = filters
            .iter()
            .map(|(f, o)| (TopicFilter::new(f).expect("filter"), *o))
            .collect();
        let properties = Properties(
            identifier
                .map(Property::SubscriptionIdentifier)
                .into_iter()
                .collect(),
        );
        self.send(
            conn,
            Packet::Subscribe(Subscribe {
                packet_id: pid(1000),
                filters,
                properties: Some(properties),
            }),
        );
        // Retained messages of an earlier subscription may still wait to be read: they
        // stay in the inbox, in order, for the test to take.
        let mut before = Vec::new();
        let ack = loop {
            match self.recv_soon(conn) {
                Some(Packet::SubAck(ack)) => break ack,
                Some(other) => before.push(other),
                None => panic!("expected SUBACK, got {before:?}"),
            }
        };
        let inbox = &mut self.clients.get_mut(&conn).expect("a known client").inbox;
        for p in before.into_iter().rev() {
            inbox.push_front(p);
        }
        ack
    }

    /// Sends a normal DISCONNECT from `conn`.
    pub fn disconnect(&mut self, conn: ConnId) {
        self.send(conn, Packet::disconnect());
    }

    /// The Reason Code of the DISCONNECT the broker sent `conn` before closing it.
    pub fn disconnect_reason(&mut self, conn: ConnId) -> Option<ReasonCode> {
        self.disconnect_sent(conn).map(|d| d.reason)
    }

    /// The DISCONNECT the broker sent `conn` before closing it.
    pub fn disconnect_sent(&mut self, conn: ConnId) -> Option<Disconnect> {
        self.recv_all(conn).into_iter().find_map(|p| match p {
            Packet::Disconnect(d) => Some(d),
            _ => None,
        })
    }
}
