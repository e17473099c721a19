//! Backpressure: a PUBACK is a promise. A connected subscriber that reads, however
//! slowly, loses nothing its publishers were told was taken; they wait for it instead. A
//! subscriber that stops reading becomes a slow consumer and no longer holds them up.

mod support;

use broker_core::*;
use support::*;

fn config() -> Config {
    Config {
        max_inflight: 5,
        queue_high_water: 10,
        max_queued: 20,
        max_held_acks: 1000,
        slow_consumer_timeout_ms: 1_000,
        ..Config::default()
    }
}

/// The PUBACK packet ids `conn` received since last asked.
fn pubacks(sim: &mut Sim, conn: ConnId) -> Vec<u16> {
    sim.recv_all(conn)
        .into_iter()
        .filter_map(|p| match p {
            Packet::PubAck(Ack { packet_id: id, .. }) => Some(id.get()),
            _ => None,
        })
        .collect()
}

/// Acknowledges what `conn` received; returns the payloads, in order.
fn read_and_ack(sim: &mut Sim, conn: ConnId) -> Vec<String> {
    let got = sim.publishes(conn);
    for p in &got {
        if let Some(id) = p.packet_id {
            sim.send(conn, Packet::puback(id));
        }
    }
    payloads(&got)
}

fn drops(sim: &Sim) -> usize {
    sim.events
        .iter()
        .filter(|e| matches!(e, Event::Dropped { .. }))
        .count()
}

#[test]
fn a_slow_reader_gets_everything_and_its_publisher_waits_for_it() {
    let mut sim = Sim::new(config());
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    let p = sim.connect("p", true);
    for i in 1..=100u16 {
        sim.publish(p, "t", &format!("m{i:03}"), QoS::AtLeastOnce, false, i);
    }
    // 5 in flight and 10 queued reached the high-water mark: the 15th message's PUBACK and
    // every later one wait.
    let early = pubacks(&mut sim, p);
    assert_eq!(early, (1..=14).collect::<Vec<_>>());
    let mut got = Vec::new();
    let mut acks = early;
    while got.len() < 100 {
        let batch = read_and_ack(&mut sim, s);
        assert!(
            !batch.is_empty(),
            "the subscriber always has something to read"
        );
        got.extend(batch);
        acks.extend(pubacks(&mut sim, p));
    }
    let sent: Vec<String> = (1..=100).map(|i| format!("m{i:03}")).collect();
    assert_eq!(got, sent, "every message, once, in order");
    assert_eq!(
        acks,
        (1..=100).collect::<Vec<_>>(),
        "every PUBACK, in order"
    );
    assert_eq!(drops(&sim), 0);
}

#[test]
fn held_pubrecs_of_qos2_wait_the_same_way() {
    let mut sim = Sim::new(config());
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    let p = sim.connect("p", true);
    for i in 1..=20u16 {
        sim.publish(p, "t", "x", QoS::ExactlyOnce, false, i);
    }
    let recs = |packets: Vec<Packet>| -> Vec<u16> {
        packets
            .into_iter()
            .filter_map(|p| match p {
                Packet::PubRec(Ack { packet_id: id, .. }) => Some(id.get()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(recs(sim.recv_all(p)).len(), 14);
    while read_and_ack(&mut sim, s).len() > 0 {}
    assert_eq!(recs(sim.recv_all(p)), (15..=20).collect::<Vec<_>>());
}

#[test]
fn a_publisher_that_does_not_wait_for_acknowledgements_is_read_no_more() {
    let mut sim = Sim::new(Config {
        max_held_acks: 5,
        ..config()
    });
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    let p = sim.connect("p", true);
    for i in 1..=19u16 {
        sim.publish(p, "t", "x", QoS::AtLeastOnce, false, i);
    }
    assert!(
        sim.clients[&p].paused,
        "5 held acknowledgements stop the reading"
    );
    while read_and_ack(&mut sim, s).len() > 0 {}
    assert!(!sim.clients[&p].paused, "sent, they resume it");
    assert_eq!(pubacks(&mut sim, p), (1..=19).collect::<Vec<_>>());
}

#[test]
fn a_subscriber_that_stops_reading_becomes_a_slow_consumer_and_stops_holding_others_up() {
    let mut sim = Sim::new(config());
    let stalled = sim.connect("stalled", true);
    let reader = sim.connect("reader", true);
    sim.subscribe(stalled, &[("t", QoS::AtLeastOnce)]);
    sim.subscribe(reader, &[("t", QoS::AtLeastOnce)]);
    let p = sim.connect("p", true);
    for i in 1..=30u16 {
        sim.publish(p, "t", &i.to_string(), QoS::AtLeastOnce, false, i);
        read_and_ack(&mut sim, reader);
    }
    assert_eq!(
        pubacks(&mut sim, p).len(),
        14,
        "held for the stalled subscriber"
    );
    // Progress elsewhere does not count: one timeout later it is a slow consumer.
    sim.advance(999);
    assert!(!sim
        .events
        .iter()
        .any(|e| matches!(e, Event::SlowConsumer { .. })));
    sim.advance(1);
    assert!(sim.events.iter().any(|e| matches!(
        e,
        Event::SlowConsumer { client_id, slow: true } if client_id == "stalled"
    )));
    assert_eq!(pubacks(&mut sim, p).len(), 16, "released");
    for i in 31..=60u16 {
        sim.publish(p, "t", &i.to_string(), QoS::AtLeastOnce, false, i);
        read_and_ack(&mut sim, reader);
    }
    assert_eq!(pubacks(&mut sim, p).len(), 30, "no longer held up");
    // The 25 queued before it stalled stay (older messages are never evicted); past
    // max_queued every newer one is dropped and counted.
    let queued = sim.broker.session("stalled").map(|v| v.queued);
    assert_eq!(queued, Some(25));
    let dropped = sim.broker.stats().dropped_slow_consumer;
    assert_eq!(dropped, 30);
    assert_eq!(sim.broker.stats().slow_consumers, 1);
}

#[test]
fn a_subscriber_that_reads_within_the_timeout_is_never_a_slow_consumer() {
    let mut sim = Sim::new(config());
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    let p = sim.connect("p", true);
    let mut got = 0;
    for i in 1..=200u16 {
        sim.publish(p, "t", "x", QoS::AtLeastOnce, false, i);
        if i % 20 == 0 {
            // One acknowledgement every 900 ms: slow, but reading.
            sim.advance(900);
            if let Some(m) = sim.publishes(s).first() {
                got += 1;
                sim.send(s, Packet::puback(m.packet_id.expect("QoS 1")));
            }
        }
    }
    assert!(!sim
        .events
        .iter()
        .any(|e| matches!(e, Event::SlowConsumer { .. })));
    assert_eq!(drops(&sim), 0);
    assert!(got > 0);
}

#[test]
fn a_slow_consumer_that_catches_up_is_ordinary_again() {
    let mut sim = Sim::new(config());
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    let p = sim.connect("p", true);
    for i in 1..=20u16 {
        sim.publish(p, "t", "x", QoS::AtLeastOnce, false, i);
    }
    sim.advance(1_000);
    while read_and_ack(&mut sim, s).len() > 0 {}
    assert!(sim
        .events
        .iter()
        .any(|e| matches!(e, Event::SlowConsumer { slow: false, .. })));
    // Backpressure applies again.
    for i in 21..=40u16 {
        sim.publish(p, "t", "x", QoS::AtLeastOnce, false, i);
    }
    let acks = pubacks(&mut sim, p);
    assert!(acks.len() < 20 + 20, "{} acknowledged", acks.len());
}

#[test]
fn publishers_are_released_when_the_subscriber_leaves_and_forgotten_when_they_leave() {
    let mut sim = Sim::new(config());
    let s = sim.connect("s", true);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    let p1 = sim.connect("p1", true);
    let p2 = sim.connect("p2", true);
    for i in 1..=10u16 {
        sim.publish(p1, "t", "x", QoS::AtLeastOnce, false, i);
        sim.publish(p2, "t", "x", QoS::AtLeastOnce, false, i);
    }
    let early = pubacks(&mut sim, p1);
    assert!(early.len() < 10, "p1 waits: {early:?}");
    // A waiting publisher that leaves is forgotten; the subscriber that leaves releases
    // the one still there.
    sim.drop_conn(p2);
    sim.drop_conn(s);
    let late = pubacks(&mut sim, p1);
    assert_eq!([early, late].concat(), (1..=10).collect::<Vec<_>>());
    // No stall check outlived the wait (these clients have no keep-alive).
    assert_eq!(sim.broker.pending_timers(), 0);
}
