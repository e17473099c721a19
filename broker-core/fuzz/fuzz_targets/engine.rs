//! The whole engine on arbitrary input: bytes split at points the fuzzer chooses, fed to
//! a broker with a few connections, interleaved with closes and the passing of time. It
//! must never panic, every transmit must be one whole valid packet, nothing may be sent
//! on a connection after the broker closed it, and no connection is closed twice.
//!
//! Input layout: one setup byte (profile, limits, whether two clients start connected),
//! a second (whether those two speak MQTT 5.0, and with which properties), then commands. Each command is a control byte and its operands:
//!
//! - `0b..00`: bytes. The next byte is a length `n`; the `n` bytes after it go to the
//!   connection the control byte's upper bits pick, in one `handle_bytes` call.
//! - `0b..01`: time. The next byte, times 100 ms, passes; due timers fire.
//! - `0b..10`: the transport of the picked connection closes.
//! - `0b..11`: a new connection is accepted (up to a few), or the server closes one.

#![no_main]

use std::collections::BTreeSet;

use broker_core::codec::{decode, Properties, Property, SubscriptionOptions};
use broker_core::{
    Broker, Config, ConnId, Connect, EventConfig, Instant, LastWill, Output, Packet, PacketId,
    PeerInfo, Profile, ProtocolVersion, QoS, Subscribe, TopicFilter, TopicName,
};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

const MAX_CONNS: usize = 6;

struct Driver {
    broker: Broker,
    now: u64,
    conns: Vec<ConnId>,
    closed: BTreeSet<ConnId>,
}

impl Driver {
    fn drain(&mut self) {
        while let Some(out) = self.broker.poll_output() {
            match out {
                Output::Transmit { conn, bytes, .. } => {
                    assert!(!self.closed.contains(&conn), "sent on {conn} after close");
                    // The connection speaks one of the two versions, and the packet
                    // must be valid in it: valid in neither is a bug.
                    let decoded = [ProtocolVersion::V311, ProtocolVersion::V5]
                        .map(|version| decode(&bytes, version, usize::MAX, None));
                    match decoded.iter().find(|d| matches!(d, Ok(Some(_)))) {
                        Some(Ok(Some((_, len)))) => assert_eq!(*len, bytes.len(), "one packet"),
                        _ => panic!("the broker sent {bytes:02x?}: {decoded:?}"),
                    }
                }
                Output::Close { conn, .. } => {
                    assert!(self.closed.insert(conn), "{conn} closed twice");
                }
                // The driver keeps feeding a paused connection: the broker must cope with
                // a shell that reads what was already in flight.
                Output::Event(_) | Output::PauseReading { .. } | Output::ResumeReading { .. } => {}
            }
        }
    }

    fn at(&self) -> Instant {
        Instant::from_millis(self.now)
    }

    fn accept(&mut self) -> ConnId {
        let conn = self.broker.accept(self.at(), PeerInfo::default());
        self.conns.push(conn);
        self.drain();
        conn
    }

    fn send(&mut self, conn: ConnId, bytes: &[u8]) {
        self.broker.handle_bytes(self.at(), conn, bytes);
        self.drain();
    }

    /// Lets time pass, firing timers at the instants the broker asked for.
    fn advance(&mut self, ms: u64) {
        let end = self.now + ms;
        while let Some(at) = self.broker.poll_timeout() {
            if at.as_millis() > end {
                break;
            }
            self.now = self.now.max(at.as_millis());
            self.broker.handle_timeout(self.at());
            self.drain();
        }
        self.now = end;
    }

    fn pick(&self, control: u8) -> ConnId {
        self.conns[usize::from(control >> 2) % self.conns.len()]
    }
}

/// A valid CONNECT and SUBSCRIBE for client `i`, so runs can start past the handshake;
/// over MQTT 5.0 if `v5`, with the properties that `props` picks: Session Expiry, a small
/// Receive Maximum, Topic Alias Maximum, a Will Delay, Subscription Identifier and No Local.
fn handshake(i: usize, v5: bool, props: u8) -> Vec<u8> {
    let version = if v5 {
        ProtocolVersion::V5
    } else {
        ProtocolVersion::V311
    };
    let pick = |bit: u8, property: Property| (v5 && props & bit != 0).then_some(property);
    let will = (i == 1).then(|| LastWill {
        topic: TopicName::new("will/1").expect("topic"),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: Properties(pick(8, Property::WillDelayInterval(3)).into_iter().collect()),
    });
    let mut connect = Connect::new(version, &format!("c{i}"), i == 0);
    connect.keep_alive = 5;
    connect.will = will;
    connect.properties = Properties(
        [
            pick(1, Property::SessionExpiryInterval(30)),
            pick(2, Property::ReceiveMaximum(2)),
            pick(4, Property::TopicAliasMaximum(3)),
            pick(64, Property::MaximumPacketSize(48)),
        ]
        .into_iter()
        .flatten()
        .collect(),
    );
    let mut options = SubscriptionOptions::from(QoS::ExactlyOnce);
    options.no_local = v5 && props & 16 != 0;
    let subscribe = Packet::Subscribe(Subscribe {
        packet_id: PacketId::new(1).expect("non-zero"),
        filters: vec![(TopicFilter::new("#").expect("filter"), options)],
        properties: v5.then(|| {
            Properties(pick(32, Property::SubscriptionIdentifier(7)).into_iter().collect())
        }),
    });
    let mut bytes = Packet::Connect(connect).to_bytes().to_vec();
    bytes.extend_from_slice(&subscribe.to_bytes());
    bytes
}

fuzz_target!(|data: &[u8]| {
    let [setup, versions, ref commands @ ..] = *data else {
        return;
    };
    let mut rest = commands;
    let mut config = Config {
        profile: if setup & 1 != 0 {
            Profile::AwsIot
        } else {
            Profile::Standard
        },
        seed: u64::from(setup),
        max_packet_size: if setup & 2 != 0 { 64 } else { 4096 },
        max_inflight: 1 + usize::from(setup >> 6),
        max_queued: 8,
        queue_high_water: 4,
        max_held_acks: 3,
        slow_consumer_timeout_ms: 500,
        resend_interval_ms: (setup & 4 != 0).then_some(700),
        events: if setup & 8 != 0 {
            EventConfig::default()
        } else {
            EventConfig::QUIET
        },
        ..Config::default()
    };
    // D8's held packets and their timers (aws-iot only).
    if setup & 32 != 0 {
        config.aws.reorder_probability = 0.5;
    }
    let mut d = Driver {
        broker: Broker::new(config),
        now: 0,
        conns: Vec::new(),
        closed: BTreeSet::new(),
    };
    for i in 0..3 {
        let conn = d.accept();
        if setup & 16 != 0 && i < 2 {
            let v5 = versions & (1 << i) != 0;
            d.send(conn, &handshake(i, v5, versions >> 1));
        }
    }

    while let Some((&control, tail)) = rest.split_first() {
        rest = tail;
        match control & 3 {
            0 => {
                let Some((&len, tail)) = rest.split_first() else {
                    break;
                };
                let n = usize::from(len).min(tail.len());
                let (chunk, tail) = tail.split_at(n);
                rest = tail;
                let conn = d.pick(control);
                d.send(conn, chunk);
            }
            1 => {
                let Some((&t, tail)) = rest.split_first() else {
                    break;
                };
                rest = tail;
                d.advance(u64::from(t) * 100);
            }
            2 => {
                let conn = d.pick(control);
                d.broker.handle_closed(d.at(), conn);
                d.drain();
                // The transport is gone: the broker must not send on it any more.
                d.closed.insert(conn);
            }
            _ => {
                if d.conns.len() < MAX_CONNS {
                    d.accept();
                } else {
                    let conn = d.pick(control);
                    d.broker.close_connection(d.at(), conn);
                    d.drain();
                    d.closed.insert(conn);
                }
            }
        }
    }
    // Finally let a minute pass, so that keep-alives, resends and expiries fire.
    d.advance(60_000);
});
