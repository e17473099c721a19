//! The engine alone, bytes in to bytes out: how fast one core routes QoS 0 PUBLISHes.
//!
//! Run with `cargo xtask bench` (or `cargo bench -p broker-core --bench engine`).
//! Targets (issue: broker-core): 64-byte QoS 0 to one exact-match subscriber at 2 million
//! messages per second or more; to 1,000 subscribers at 10 million deliveries per second
//! or more; MQTT 5.0 clients (a PUBLISH with no properties) within 10% of MQTT 3.1.1 ones.
//! Results are recorded in docs/benchmarks.md.

use std::hint::black_box;

use broker_core::{
    Broker, Config, Connect, EventConfig, Instant, Output, Packet, PeerInfo, Properties,
    ProtocolVersion, Publish, QoS, Subscribe, TopicFilter, TopicName,
};
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const TOPIC: &str = "bench/sensor/temperature";
const PAYLOAD: [u8; 64] = [0x5A; 64];

fn connect(broker: &mut Broker, id: &str, version: ProtocolVersion) -> broker_core::ConnId {
    let conn = broker.accept(Instant::ZERO, PeerInfo::default());
    let packet = Packet::Connect(Connect {
        version,
        properties: Properties::new(),
        clean_session: true,
        keep_alive: 0,
        client_id: id.into(),
        will: None,
        username: None,
        password: None,
    });
    broker.handle_bytes(Instant::ZERO, conn, &packet.to_bytes());
    conn
}

/// The properties field of a SUBSCRIBE or PUBLISH of `version`: present and empty in 5.0.
fn no_properties(version: ProtocolVersion) -> Option<Properties> {
    (version == ProtocolVersion::V5).then(Properties::new)
}

/// A broker with `subscribers` clients on the exact topic, and a publisher, all speaking
/// `version`.
fn setup(subscribers: usize, version: ProtocolVersion) -> (Broker, broker_core::ConnId) {
    let mut broker = Broker::new(Config {
        events: EventConfig::QUIET,
        ..Config::default()
    });
    for i in 0..subscribers {
        let conn = connect(&mut broker, &format!("sub{i}"), version);
        let sub = Packet::Subscribe(Subscribe {
            properties: no_properties(version),
            packet_id: broker_core::PacketId::new(1).expect("non-zero"),
            filters: vec![(
                TopicFilter::new(TOPIC).expect("filter"),
                QoS::AtMostOnce.into(),
            )],
        });
        broker.handle_bytes(Instant::ZERO, conn, &sub.to_bytes());
    }
    let publisher = connect(&mut broker, "publisher", version);
    while broker.poll_output().is_some() {}
    (broker, publisher)
}

/// `count` QoS 0 PUBLISH packets of `version` back to back, as a socket read would
/// deliver them.
fn publishes(count: usize, version: ProtocolVersion) -> Vec<u8> {
    let packet = Packet::Publish(Publish {
        properties: no_properties(version),
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: TopicName::new(TOPIC).expect("topic"),
        packet_id: None,
        payload: Bytes::from_static(&PAYLOAD),
    });
    let mut out = Vec::new();
    for _ in 0..count {
        packet.encode(&mut out);
    }
    out
}

/// Feeds `input` and drains every output, returning the bytes that would be written.
fn run(broker: &mut Broker, publisher: broker_core::ConnId, input: &[u8]) -> usize {
    broker.handle_bytes(Instant::ZERO, publisher, input);
    let mut written = 0;
    while let Some(out) = broker.poll_output() {
        if let Output::Transmit { bytes, .. } = out {
            written += bytes.len();
        }
    }
    written
}

/// The two protocol versions, with the suffix their benchmark names carry.
const VERSIONS: [(ProtocolVersion, &str); 2] =
    [(ProtocolVersion::V311, ""), (ProtocolVersion::V5, "_v5")];

fn qos0_one_subscriber(c: &mut Criterion) {
    const BATCH: usize = 1_000;
    let mut group = c.benchmark_group("qos0_64B");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (version, suffix) in VERSIONS {
        let input = publishes(BATCH, version);
        group.bench_function(format!("1_subscriber{suffix} (messages)"), |b| {
            let (mut broker, publisher) = setup(1, version);
            b.iter(|| black_box(run(&mut broker, publisher, black_box(&input))));
        });
    }
    group.finish();
}

fn qos0_fan_out(c: &mut Criterion) {
    const SUBSCRIBERS: usize = 1_000;
    const BATCH: usize = 10;
    let mut group = c.benchmark_group("qos0_64B");
    group.throughput(Throughput::Elements((BATCH * SUBSCRIBERS) as u64));
    for (version, suffix) in VERSIONS {
        let input = publishes(BATCH, version);
        group.bench_function(format!("1000_subscribers{suffix} (deliveries)"), |b| {
            let (mut broker, publisher) = setup(SUBSCRIBERS, version);
            b.iter(|| black_box(run(&mut broker, publisher, black_box(&input))));
        });
    }
    group.finish();
}

fn qos1_round_trip(c: &mut Criterion) {
    // One QoS 1 message to one QoS 1 subscriber, including the subscriber's PUBACK:
    // the full in-flight bookkeeping, for comparison with the QoS 0 path.
    let mut group = c.benchmark_group("qos1_64B");
    group.throughput(Throughput::Elements(1));
    group.bench_function("1_subscriber_with_puback", |b| {
        let mut broker = Broker::new(Config {
            events: EventConfig::QUIET,
            ..Config::default()
        });
        let sub = connect(&mut broker, "sub", ProtocolVersion::V311);
        let subscribe = Packet::Subscribe(Subscribe {
            properties: None,
            packet_id: broker_core::PacketId::new(1).expect("non-zero"),
            filters: vec![(
                TopicFilter::new(TOPIC).expect("filter"),
                QoS::AtLeastOnce.into(),
            )],
        });
        broker.handle_bytes(Instant::ZERO, sub, &subscribe.to_bytes());
        let publisher = connect(&mut broker, "publisher", ProtocolVersion::V311);
        while broker.poll_output().is_some() {}
        let mut id: u16 = 0;
        b.iter_batched(
            || {
                id = id % 60_000 + 1;
                let p = Packet::Publish(Publish {
                    properties: None,
                    dup: false,
                    qos: QoS::AtLeastOnce,
                    retain: false,
                    topic: TopicName::new(TOPIC).expect("topic"),
                    packet_id: broker_core::PacketId::new(id),
                    payload: Bytes::from_static(&PAYLOAD),
                });
                p.to_bytes()
            },
            |bytes| {
                broker.handle_bytes(Instant::ZERO, publisher, &bytes);
                let mut ack = None;
                while let Some(out) = broker.poll_output() {
                    if let Output::Transmit { conn, bytes, .. } = out {
                        if conn == sub {
                            // The delivered PUBLISH's packet id sits after the topic.
                            let at = 2 + 2 + TOPIC.len();
                            ack = Some([0x40, 2, bytes[at], bytes[at + 1]]);
                        }
                    }
                }
                if let Some(ack) = ack {
                    broker.handle_bytes(Instant::ZERO, sub, &ack);
                }
                while broker.poll_output().is_some() {}
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, qos0_one_subscriber, qos0_fan_out, qos1_round_trip);
criterion_main!(benches);
