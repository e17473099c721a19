//! The sans-IO client (the simulator's virtual devices) against the real broker.

use broker_core::client::{
    Client, ClientError, ClientEvent, ClientOptions, ClientState, OutgoingState,
    MAX_PENDING_SUBSCRIPTIONS,
};
use broker_core::*;
use bytes::Bytes;

/// A broker and its clients, moving bytes until nothing moves (no latency, no loss).
struct World {
    broker: Broker,
    now: Instant,
    clients: Vec<(ConnId, Client)>,
}

impl World {
    fn new() -> Self {
        World::with(Config::default())
    }

    fn with(config: Config) -> Self {
        World {
            broker: Broker::new(config),
            now: Instant::ZERO,
            clients: Vec::new(),
        }
    }

    fn add(&mut self, options: ClientOptions) -> usize {
        let conn = self.broker.accept(self.now, PeerInfo::default());
        let mut client = Client::new(options);
        client.connect(self.now);
        self.clients.push((conn, client));
        self.settle();
        self.clients.len() - 1
    }

    /// Reconnects client `i` on a new transport.
    fn reconnect(&mut self, i: usize) {
        let conn = self.broker.accept(self.now, PeerInfo::default());
        self.clients[i].0 = conn;
        self.clients[i].1.connect(self.now);
        self.settle();
    }

    /// Drops client `i`'s network without DISCONNECT.
    fn drop_network(&mut self, i: usize) {
        let conn = self.clients[i].0;
        self.clients[i].1.handle_closed();
        self.broker.handle_closed(self.now, conn);
        self.settle();
    }

    fn settle(&mut self) {
        loop {
            let mut moved = false;
            for (conn, client) in &mut self.clients {
                while let Some(bytes) = client.poll_transmit() {
                    self.broker.handle_bytes(self.now, *conn, &bytes);
                    moved = true;
                }
            }
            while let Some(out) = self.broker.poll_output() {
                moved = true;
                match out {
                    Output::Transmit { conn, bytes, .. } => {
                        if let Some((_, c)) = self.clients.iter_mut().find(|(id, _)| *id == conn) {
                            c.handle_bytes(self.now, &bytes);
                        }
                    }
                    Output::Close { conn, .. } => {
                        if let Some((_, c)) = self.clients.iter_mut().find(|(id, _)| *id == conn) {
                            c.handle_closed();
                        }
                    }
                    // These clients wait for their acknowledgements, so a pause never
                    // comes; if one did, reading on would only make a test lenient.
                    Output::Event(_)
                    | Output::PauseReading { .. }
                    | Output::ResumeReading { .. } => {}
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn advance(&mut self, ms: u64) {
        let end = Instant::from_millis(self.now.as_millis() + ms);
        loop {
            let next = self
                .clients
                .iter()
                .filter_map(|(_, c)| c.poll_timeout())
                .chain(self.broker.poll_timeout())
                .filter(|at| *at <= end)
                .min();
            let Some(at) = next else { break };
            self.now = self.now.max(at);
            self.broker.handle_timeout(self.now);
            for (_, c) in &mut self.clients {
                c.handle_timeout(self.now);
            }
            self.settle();
        }
        self.now = end;
    }

    fn client(&mut self, i: usize) -> &mut Client {
        &mut self.clients[i].1
    }

    fn messages(&mut self, i: usize) -> Vec<String> {
        let mut got = Vec::new();
        while let Some(e) = self.client(i).poll_event() {
            if let ClientEvent::Message(m) = e {
                got.push(String::from_utf8_lossy(&m.payload).into_owned());
            }
        }
        got
    }

    fn subscribe(&mut self, i: usize, filter: &str, qos: QoS) {
        let now = self.now;
        self.client(i)
            .subscribe(now, vec![(TopicFilter::new(filter).expect("filter"), qos)])
            .expect("few subscriptions pending");
        self.settle();
    }

    fn publish(&mut self, i: usize, topic: &str, payload: &str, qos: QoS) -> Option<PacketId> {
        let now = self.now;
        let id = self.client(i).publish(
            now,
            TopicName::new(topic).expect("topic"),
            Bytes::copy_from_slice(payload.as_bytes()),
            qos,
            false,
        );
        self.settle();
        id.expect("room in the queue")
    }
}

fn persistent(id: &str) -> ClientOptions {
    ClientOptions {
        clean_session: false,
        ..ClientOptions::new(id)
    }
}

#[test]
fn a_client_connects_and_reports_the_connack() {
    let mut w = World::new();
    let a = w.add(ClientOptions::new("a"));
    assert_eq!(w.client(a).state(), ClientState::Connected);
    assert_eq!(
        w.client(a).poll_event(),
        Some(ClientEvent::ConnAck(ConnAck {
            properties: None,
            session_present: false,
            code: ConnectReturnCode::Accepted.into()
        }))
    );
}

#[test]
fn messages_flow_at_every_qos_and_handshakes_complete() {
    let mut w = World::new();
    let s = w.add(ClientOptions::new("s"));
    let p = w.add(ClientOptions::new("p"));
    w.subscribe(s, "t", QoS::ExactlyOnce);
    for (payload, qos) in [
        ("q0", QoS::AtMostOnce),
        ("q1", QoS::AtLeastOnce),
        ("q2", QoS::ExactlyOnce),
    ] {
        w.publish(p, "t", payload, qos);
    }
    assert_eq!(w.messages(s), ["q0", "q1", "q2"]);
    assert!(
        w.client(p).outgoing().is_empty(),
        "PUBACK and PUBCOMP arrived"
    );
    assert!(w.broker.session("s").is_some_and(|v| v.inflight.is_empty()));
    let delivered: Vec<_> = std::iter::from_fn(|| w.client(p).poll_event())
        .filter(|e| matches!(e, ClientEvent::Delivered { .. }))
        .collect();
    assert_eq!(delivered.len(), 2);
}

#[test]
fn without_auto_ack_the_broker_redelivers_with_dup_after_a_reconnect() {
    let mut w = World::new();
    let s = w.add(persistent("s"));
    w.client(s).set_auto_ack(false);
    w.subscribe(s, "t", QoS::AtLeastOnce);
    let p = w.add(ClientOptions::new("p"));
    w.publish(p, "t", "keep me", QoS::AtLeastOnce);
    assert_eq!(w.messages(s), ["keep me"]);
    assert_eq!(w.client(s).unacked().len(), 1);
    w.drop_network(s);
    w.reconnect(s);
    let mut dups = Vec::new();
    while let Some(e) = w.client(s).poll_event() {
        if let ClientEvent::Message(m) = e {
            dups.push(m.dup);
        }
    }
    assert_eq!(dups, [true]);
    let id = w.client(s).unacked()[0];
    let now = w.now;
    assert!(w.client(s).ack(now, id));
    w.settle();
    assert!(w.broker.session("s").is_some_and(|v| v.inflight.is_empty()));
}

#[test]
fn a_qos2_duplicate_reaches_the_application_once() {
    let mut w = World::new();
    let s = w.add(persistent("s"));
    w.subscribe(s, "t", QoS::ExactlyOnce);
    w.client(s).set_auto_ack(false);
    let p = w.add(ClientOptions::new("p"));
    w.publish(p, "t", "once", QoS::ExactlyOnce);
    w.drop_network(s);
    w.reconnect(s);
    assert_eq!(
        w.messages(s),
        ["once"],
        "the DUP copy is filtered by packet id"
    );
}

#[test]
fn keep_alive_pings_keep_the_connection_open() {
    let mut w = World::new();
    let a = w.add(ClientOptions {
        keep_alive: 5,
        ..ClientOptions::new("a")
    });
    w.advance(60_000);
    assert_eq!(w.client(a).state(), ClientState::Connected);
    assert!(w.broker.stats().received(PacketType::PingReq) >= 11);
    assert_eq!(
        w.broker.stats().sent(PacketType::PingResp),
        w.broker.stats().received(PacketType::PingReq)
    );
}

#[test]
fn a_persistent_client_resends_its_unacknowledged_publish_on_reconnect() {
    let mut w = World::new();
    let s = w.add(ClientOptions::new("s"));
    w.subscribe(s, "t", QoS::AtLeastOnce);
    let p = w.add(persistent("p"));
    let now = w.now;
    let topic = TopicName::new("t").expect("topic");
    let id = w
        .client(p)
        .publish(
            now,
            topic,
            Bytes::from_static(b"lost"),
            QoS::AtLeastOnce,
            false,
        )
        .expect("room")
        .expect("sent at once");
    // The network fails before the PUBLISH reaches the broker.
    w.drop_network(p);
    assert_eq!(
        w.client(p).outgoing(),
        [(id, OutgoingState::AwaitingPubAck)]
    );
    // Published while offline: it waits for the next CONNACK, its packet id reserved.
    let later = w.publish(p, "t", "later", QoS::AtLeastOnce).expect("an id");
    assert_ne!(later, id);
    assert_eq!(w.client(p).waiting(), 1);
    w.reconnect(p);
    assert_eq!(w.messages(s), ["lost", "later"]);
    assert!(w.client(p).outgoing().is_empty());
    assert_eq!(w.client(p).waiting(), 0);
}

/// Under aws-iot a QoS 2 PUBLISH is never acknowledged (D2). The client used to give
/// every such message a packet id of its own, and once all 65,535 were in use its id
/// allocation looped forever, freezing the simulator's tab.
#[test]
fn a_client_whose_messages_are_never_acknowledged_stays_bounded_and_says_so() {
    let mut w = World::with(Config::for_profile(Profile::AwsIot));
    let p = w.add(ClientOptions {
        max_inflight: 20,
        max_queued: 100,
        ..ClientOptions::new("p")
    });
    let mut refused = 0;
    for i in 0..70_000u32 {
        let now = w.now;
        let topic = TopicName::new("t").expect("topic");
        let payload = Bytes::from(i.to_string());
        match w
            .client(p)
            .publish(now, topic, payload, QoS::ExactlyOnce, false)
        {
            Ok(_) => {}
            Err(ClientError::QueueFull { .. }) => refused += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
        w.settle();
    }
    assert_eq!(w.client(p).outgoing().len(), 20, "the window holds 20");
    assert_eq!(w.client(p).waiting(), 100, "the queue holds 100");
    assert_eq!(refused, 70_000 - 120);
    let events: Vec<_> = std::iter::from_fn(|| w.client(p).poll_event())
        .filter(|e| matches!(e, ClientEvent::Refused(ClientError::QueueFull { .. })))
        .collect();
    assert_eq!(events.len(), refused, "each refusal is reported");
}

#[test]
fn a_client_publishing_while_disconnected_stays_bounded() {
    let mut c = Client::new(ClientOptions {
        max_queued: 10,
        ..ClientOptions::new("p")
    });
    let topic = TopicName::new("t").expect("topic");
    let results: Vec<_> = (0..70_000)
        .map(|_| {
            c.publish(
                Instant::ZERO,
                topic.clone(),
                Bytes::new(),
                QoS::AtLeastOnce,
                false,
            )
        })
        .collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 10);
    assert_eq!(c.waiting(), 10);
    assert!(
        c.poll_transmit().is_none(),
        "nothing is sent without a connection"
    );
}

#[test]
fn unanswered_subscriptions_are_bounded_too() {
    // D2: AWS IoT sends no SUBACK for a SUBSCRIBE asking QoS 2.
    let mut w = World::with(Config::for_profile(Profile::AwsIot));
    let s = w.add(ClientOptions::new("s"));
    let filter = TopicFilter::new("t").expect("filter");
    let mut refused = 0;
    for _ in 0..MAX_PENDING_SUBSCRIPTIONS + 5 {
        let now = w.now;
        if w.client(s)
            .subscribe(now, vec![(filter.clone(), QoS::ExactlyOnce)])
            .is_err()
        {
            refused += 1;
        }
        w.settle();
    }
    assert_eq!(refused, 5);
}

#[test]
fn acknowledgements_let_waiting_messages_through_in_order() {
    let mut w = World::new();
    let s = w.add(ClientOptions::new("s"));
    w.subscribe(s, "t", QoS::AtLeastOnce);
    let p = w.add(ClientOptions {
        max_inflight: 2,
        ..ClientOptions::new("p")
    });
    // Without settling between publishes, the window of 2 fills and the rest wait.
    let now = w.now;
    for i in 0..5 {
        let topic = TopicName::new("t").expect("topic");
        let _ = w.client(p).publish(
            now,
            topic,
            Bytes::from(format!("m{i}")),
            QoS::AtLeastOnce,
            false,
        );
    }
    assert_eq!(w.client(p).waiting(), 3);
    w.settle();
    assert_eq!(w.messages(s), ["m0", "m1", "m2", "m3", "m4"]);
    assert_eq!(w.client(p).waiting(), 0);
}

#[test]
fn the_client_resends_with_dup_after_its_interval_while_connected() {
    let mut c = Client::new(ClientOptions {
        resend_interval_ms: Some(2_000),
        ..ClientOptions::new("p")
    });
    c.connect(Instant::ZERO);
    c.handle_bytes(Instant::ZERO, &[0x20, 0x02, 0x00, 0x00]);
    let topic = TopicName::new("t").expect("topic");
    let id = c
        .publish(
            Instant::ZERO,
            topic,
            Bytes::from_static(b"x"),
            QoS::AtLeastOnce,
            false,
        )
        .expect("room");
    let sent: Vec<Bytes> = std::iter::from_fn(|| c.poll_transmit()).collect();
    assert_eq!(sent.len(), 2, "CONNECT and PUBLISH");
    assert_eq!(c.poll_timeout(), Some(Instant::from_millis(2_000)));
    c.handle_timeout(Instant::from_millis(1_999));
    assert!(c.poll_transmit().is_none());
    c.handle_timeout(Instant::from_millis(2_000));
    let again = c.poll_transmit().expect("a resend");
    // PUBLISH QoS 1 with DUP: 0x3A; topic "t"; the same packet id.
    assert_eq!(again[0], 0x3A);
    assert_eq!(
        u16::from_be_bytes([again[5], again[6]]),
        id.expect("id").get()
    );
    c.handle_bytes(Instant::from_millis(2_001), &[0x40, 0x02, 0x00, 0x01]);
    assert!(c.outgoing().is_empty(), "PUBACK completes it");
}

// ----- MQTT 5.0 --------------------------------------------------------------------------

fn events(w: &mut World, i: usize) -> Vec<ClientEvent> {
    std::iter::from_fn(|| w.client(i).poll_event()).collect()
}

#[test]
fn a_v5_client_uses_topic_aliases_both_ways_and_the_broker_understands_them() {
    let mut w = World::new();
    let sub = w.add(ClientOptions {
        topic_alias_maximum: 4,
        ..ClientOptions::v5("sub")
    });
    w.subscribe(sub, "t/#", QoS::AtMostOnce);
    let publisher = w.add(ClientOptions {
        topic_aliases: true,
        ..ClientOptions::v5("pub")
    });
    for n in 0..3 {
        w.publish(publisher, "t/a", &n.to_string(), QoS::AtMostOnce);
    }
    let got: Vec<(String, String)> = events(&mut w, sub)
        .into_iter()
        .filter_map(|e| match e {
            ClientEvent::Message(m) => Some((
                m.topic.as_str().to_owned(),
                String::from_utf8_lossy(&m.payload).into_owned(),
            )),
            _ => None,
        })
        .collect();
    // The subscriber resolved the broker's aliases back into the topic.
    let want: Vec<(String, String)> = (0..3).map(|n| ("t/a".into(), n.to_string())).collect();
    assert_eq!(got, want);
    assert_eq!(w.broker.stats().connects_by_version, [0, 2]);
}

#[test]
fn a_v5_client_keeps_within_the_brokers_receive_maximum() {
    let mut config = Config::default();
    config.receive_maximum = 2;
    let mut w = World::with(config);
    let publisher = w.add(ClientOptions {
        max_inflight: 10,
        ..ClientOptions::v5("pub")
    });
    // Nothing acknowledges while the broker does not read: count what goes out at once.
    let now = w.now;
    for n in 0..5 {
        let topic = TopicName::new("t").expect("topic");
        let payload = Bytes::from(n.to_string());
        w.client(publisher)
            .publish(now, topic, payload, QoS::AtLeastOnce, false)
            .expect("queued");
    }
    assert_eq!(
        w.client(publisher).outgoing().len(),
        2,
        "the broker's Receive Maximum"
    );
    w.settle();
    assert!(
        w.client(publisher).outgoing().is_empty(),
        "all acknowledged in turn"
    );
}

#[test]
fn a_v5_client_hears_why_it_was_disconnected() {
    let mut w = World::new();
    let a = w.add(ClientOptions::v5("same"));
    let _b = w.add(ClientOptions::v5("same"));
    let reason = events(&mut w, a).into_iter().find_map(|e| match e {
        ClientEvent::Disconnected {
            reason,
            reason_string,
        } => Some((reason, reason_string)),
        _ => None,
    });
    let (code, words) = reason.expect("a DISCONNECT");
    assert_eq!(code, ReasonCode::SESSION_TAKEN_OVER);
    assert!(words.is_some_and(|w| w.contains("took over")));
    assert_eq!(w.client(a).state(), ClientState::Disconnected);
}

#[test]
fn a_v5_client_refuses_a_message_over_the_brokers_maximum_packet_size() {
    let mut config = Config::default();
    config.max_packet_size = 100;
    let mut w = World::with(config);
    let publisher = w.add(ClientOptions::v5("pub"));
    let now = w.now;
    let result = w.client(publisher).publish(
        now,
        TopicName::new("t").expect("topic"),
        Bytes::from(vec![b'x'; 200]),
        QoS::AtLeastOnce,
        false,
    );
    assert!(matches!(
        result,
        Err(ClientError::TooLarge { max: 100, .. })
    ));
}

#[test]
fn a_v5_client_with_a_session_expiry_gets_its_session_back() {
    let mut w = World::new();
    let options = ClientOptions {
        clean_session: false,
        session_expiry: Some(60),
        ..ClientOptions::v5("dev")
    };
    let dev = w.add(options);
    w.subscribe(dev, "cmd", QoS::AtLeastOnce);
    w.drop_network(dev);
    let other = w.add(ClientOptions::new("other"));
    w.publish(other, "cmd", "while away", QoS::AtLeastOnce);
    w.reconnect(dev);
    assert_eq!(w.messages(dev), ["while away"]);
}
