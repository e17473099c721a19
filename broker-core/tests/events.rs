//! The event stream: what the simulator draws and the server counts.

mod support;

use broker_core::*;
use support::*;

#[test]
fn every_packet_in_and_out_is_an_event_with_its_bytes_and_spans() {
    let mut sim = Sim::standard();
    let c = sim.connect("c", true);
    let packets: Vec<(bool, PacketType, usize)> = sim.events_where(|e| match e {
        Event::PacketIn {
            conn,
            packet,
            bytes,
            spans,
            ..
        } if *conn == c => {
            assert_eq!(
                spans.last().map(|s| s.end),
                Some(bytes.len()),
                "spans reach the end"
            );
            Some((true, packet.packet_type(), bytes.len()))
        }
        Event::PacketOut {
            conn,
            packet,
            bytes,
            spans,
            ..
        } if *conn == c => {
            assert_eq!(spans.last().map(|s| s.end), Some(bytes.len()));
            Some((false, packet.packet_type(), bytes.len()))
        }
        _ => None,
    });
    assert_eq!(
        packets,
        [
            (true, PacketType::Connect, 15),
            (false, PacketType::ConnAck, 4)
        ]
    );
}

#[test]
fn connect_spans_name_each_field() {
    let mut sim = Sim::standard();
    sim.connect("c", true);
    let names = sim.events_where(|e| match e {
        Event::PacketIn { spans, .. } => Some(spans.iter().map(|s| s.field).collect::<Vec<_>>()),
        _ => None,
    });
    assert_eq!(
        names[0],
        [
            "packet type and flags",
            "remaining length",
            "protocol name",
            "protocol level",
            "connect flags",
            "keep alive",
            "client identifier"
        ]
    );
}

#[test]
fn quiet_config_emits_no_packet_or_delivery_events() {
    let mut sim = Sim::new(Config {
        events: EventConfig::QUIET,
        ..Config::default()
    });
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("t", QoS::AtMostOnce)]);
    let p = sim.connect("p", true);
    sim.publish(p, "t", "x", QoS::AtMostOnce, false, 0);
    assert_eq!(payloads(&sim.publishes(s)), ["x"]);
    assert!(sim.events.iter().all(|e| !matches!(
        e,
        Event::PacketIn { .. } | Event::PacketOut { .. } | Event::Delivered { .. }
    )));
}

#[test]
fn session_life_is_reported() {
    let mut sim = Sim::standard();
    let c = sim.connect("a", false);
    sim.drop_conn(c);
    sim.connect("a", false);
    let c = sim.connect("a", true);
    sim.drop_conn(c);
    let changes = sim.events_where(|e| match e {
        Event::Session { change, .. } => Some(*change),
        _ => None,
    });
    use SessionChange::*;
    // Created; resumed; the takeover with clean session discards and creates; the
    // clean session ends with its connection.
    assert_eq!(changes, [Created, Resumed, Discarded, Created, Discarded]);
}

#[test]
fn protocol_violations_are_reported_and_counted() {
    let mut sim = Sim::standard();
    let c = sim.connect("c", true);
    sim.send_raw(c, &[0x30, 3, 0, 0, 0x41]); // PUBLISH to an empty topic
    let v = sim.events_where(|e| match e {
        Event::ProtocolViolation { violation, .. } => Some(violation.statement()),
        _ => None,
    });
    assert_eq!(v, ["MQTT-4.7.3-1"]);
    assert_eq!(sim.broker.stats().protocol_violations, 1);
}

#[test]
fn stats_count_packets_and_bytes_by_type() {
    let mut sim = Sim::standard();
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    let p = sim.connect("p", true);
    sim.publish(p, "t", "x", QoS::AtLeastOnce, false, 1);
    let stats = sim.broker.stats();
    assert_eq!(stats.received(PacketType::Connect), 2);
    assert_eq!(stats.sent(PacketType::ConnAck), 2);
    assert_eq!(stats.received(PacketType::Publish), 1);
    assert_eq!(stats.sent(PacketType::Publish), 1);
    assert_eq!(stats.sent(PacketType::PubAck), 1);
    assert_eq!(stats.connections_accepted, 2);
    let sent_bytes: usize = sim.clients.values().map(|c| c.wire.len()).sum();
    assert_eq!(stats.bytes_out, sent_bytes as u64);
}

#[test]
fn connection_views_show_peer_and_client() {
    let mut sim = Sim::standard();
    let conn = sim.broker.accept(
        sim.now,
        PeerInfo {
            addr: Some("10.0.0.1:5000".into()),
            principal: None,
        },
    );
    sim.clients.insert(conn, Default::default());
    sim.send(conn, Packet::Connect(connect("c", true)));
    let views = sim.broker.connections();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].client_id.as_deref(), Some("c"));
    assert_eq!(views[0].peer.addr.as_deref(), Some("10.0.0.1:5000"));
}

#[test]
fn every_accepted_connection_ends_with_exactly_one_disconnected_event() {
    let mut sim = Sim::new(Config {
        connect_timeout_ms: 1_000,
        ..Config::default()
    });
    let ended_by = [
        sim.connect("clean-exit", true),
        sim.connect("dropped", true),
        sim.open(), // never sends CONNECT
        sim.connect("taken", true),
        sim.connect_with(connect("", false)).0, // refused with 0x02
    ];
    sim.send(ended_by[0], Packet::disconnect());
    sim.drop_conn(ended_by[1]);
    sim.connect("taken", true);
    sim.advance(1_000);
    sim.drop_conn(ended_by[0]); // a late report from the transport changes nothing
    for conn in ended_by {
        let count = sim
            .events
            .iter()
            .filter(|e| matches!(e, Event::Disconnected { conn: c, .. } if *c == conn))
            .count();
        assert_eq!(count, 1, "{conn}");
    }
}

#[test]
fn bytes_are_counted_per_packet_type() {
    let mut sim = Sim::standard();
    sim.connect("c", true);
    let stats = sim.broker.stats();
    assert_eq!(stats.bytes_in_by_type[PacketType::Connect as usize], 15);
    assert_eq!(stats.bytes_out_by_type[PacketType::ConnAck as usize], 4);
    assert_eq!(stats.bytes_in, 15);
}
