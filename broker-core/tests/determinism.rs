//! The same configuration, seed and inputs give byte-identical outputs.

mod support;

use broker_core::*;
use support::*;

/// A busy little story touching every random or hash-ordered part of the engine:
/// assigned client ids, fan-out to many sessions, retained wildcards, takeover, wills.
fn story(seed: u64) -> (Vec<u8>, Vec<String>) {
    let mut sim = Sim::new(Config {
        seed,
        ..Config::default()
    });
    let mut conns = Vec::new();
    for i in 0..12 {
        let id = if i % 3 == 0 {
            String::new()
        } else {
            format!("dev{i}")
        };
        let (c, _) = sim.connect_with(connect(&id, id.is_empty() || i % 2 == 0));
        conns.push(c);
    }
    for (i, &c) in conns.iter().enumerate() {
        sim.subscribe(
            c,
            &[
                ("#", QoS::AtMostOnce),
                (&format!("d/{}/+", i % 4), QoS::ExactlyOnce),
            ],
        );
    }
    let p = sim.connect("pub", true);
    for i in 0..20u16 {
        sim.publish(
            p,
            &format!("d/{}/x", i % 4),
            &format!("m{i}"),
            QoS::from_bits((i % 3) as u8).expect("qos"),
            i % 5 == 0,
            i + 1,
        );
        sim.advance(7);
    }
    sim.connect("dev1", false);
    let late = sim.connect("late", true);
    sim.subscribe(late, &[("d/+/x", QoS::AtLeastOnce)]);
    // Everything every client received, in the order the broker produced it.
    let mut wire = Vec::new();
    for (conn, client) in &sim.clients {
        wire.extend_from_slice(&conn.0.to_be_bytes());
        wire.extend_from_slice(&client.wire);
    }
    let events = sim.events.iter().map(|e| format!("{e:?}")).collect();
    (wire, events)
}

#[test]
fn same_seed_and_inputs_give_identical_bytes_and_events() {
    assert_eq!(story(42), story(42));
}

#[test]
fn different_seeds_assign_different_client_ids() {
    let ids = |seed| {
        let mut sim = Sim::new(Config {
            seed,
            ..Config::default()
        });
        sim.connect_with(connect("", true));
        sim.broker.sessions()[0].client_id.clone()
    };
    assert_ne!(ids(1), ids(2));
    assert_eq!(ids(1), ids(1));
}

#[test]
fn fan_out_order_follows_the_sessions_not_the_hasher() {
    // Overlapping filters force the index to merge matches; the merged order is by
    // session, whatever the seed.
    let order = |seed| {
        let mut sim = Sim::new(Config {
            seed,
            ..Config::default()
        });
        let subs: Vec<ConnId> = (0..8)
            .map(|i| sim.connect(&format!("s{i}"), true))
            .collect();
        for &s in &subs {
            sim.subscribe(s, &[("a/+", QoS::AtMostOnce), ("a/#", QoS::AtMostOnce)]);
        }
        let p = sim.connect("p", true);
        sim.publish(p, "a/b", "x", QoS::AtMostOnce, false, 0);
        sim.events_where(|e| match e {
            Event::Delivered { client_id, .. } => Some(client_id.clone()),
            _ => None,
        })
    };
    let want: Vec<String> = (0..8).map(|i| format!("s{i}")).collect();
    assert_eq!(order(1), want);
    assert_eq!(order(99), want);
}
