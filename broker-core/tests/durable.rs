//! Durability: what a broker with a store asks to keep, the acknowledgements that wait for
//! it, and what a restarted broker recovers (docs/durability.md).

mod support;

use broker_core::store::Recovery;
use broker_core::*;
use support::*;

fn durable() -> Sim {
    Sim::durable(Config::default())
}

/// A persistent subscriber to `t` at QoS 1 that has gone offline.
fn offline_subscriber(sim: &mut Sim) {
    let s = sim.connect("sub", false);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    sim.drop_conn(s);
}

#[test]
fn a_puback_waits_until_the_queued_message_is_stored() {
    let mut sim = durable();
    offline_subscriber(&mut sim);
    let p = sim.connect("pub", true);
    sim.auto_store = false;
    sim.send(
        p,
        Packet::Publish(publish("t", "kept", QoS::AtLeastOnce, false, 7)),
    );
    assert_eq!(sim.recv(p), None, "no PUBACK before the message is stored");
    assert_eq!(sim.pending.len(), 1);
    let keys: Vec<_> = sim.pending[0]
        .changes
        .iter()
        .map(|c| c.key.clone())
        .collect();
    assert_eq!(
        keys,
        [b"msub\x000000000000000001".to_vec()],
        "the message alone"
    );
    sim.store_pending();
    assert_eq!(sim.recv(p), Some(Packet::puback(pid(7))));
}

#[test]
fn a_suback_and_a_connack_wait_for_the_session_to_be_stored() {
    let mut sim = durable();
    sim.auto_store = false;
    let c = sim.open();
    sim.send(c, Packet::Connect(connect("dev", false)));
    assert_eq!(
        sim.recv(c),
        None,
        "no CONNACK before the new session is stored"
    );
    sim.store_pending();
    assert!(matches!(sim.recv(c), Some(Packet::ConnAck(_))));
    let sub = Subscribe {
        packet_id: pid(1),
        filters: vec![(filter("t"), QoS::AtLeastOnce.into())],
        properties: None,
    };
    sim.send(c, Packet::Subscribe(sub));
    assert_eq!(
        sim.recv(c),
        None,
        "no SUBACK before the subscription is stored"
    );
    sim.store_pending();
    assert!(matches!(sim.recv(c), Some(Packet::SubAck(_))));
}

#[test]
fn clean_sessions_store_nothing_and_wait_for_nothing() {
    let mut sim = durable();
    sim.auto_store = false;
    let s = sim.connect("sub", true);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    let p = sim.connect("pub", true);
    sim.publish(p, "t", "passing", QoS::AtLeastOnce, false, 1);
    assert_eq!(payloads(&sim.publishes(s)), ["passing"]);
    assert!(sim.pending.is_empty(), "{:?}", sim.pending);
}

#[test]
fn many_changes_between_two_writes_make_one_batch() {
    let mut sim = durable();
    offline_subscriber(&mut sim);
    let p = sim.connect("pub", true);
    sim.auto_store = false;
    // The first publish makes a batch; while it is being written, 49 more arrive.
    for id in 1..=50 {
        sim.send(
            p,
            Packet::Publish(publish("t", "m", QoS::AtLeastOnce, false, id)),
        );
    }
    assert_eq!(sim.pending.len(), 1);
    sim.store_pending();
    assert_eq!(sim.recv_all(p), [Packet::puback(pid(1))]);
    assert_eq!(sim.pending.len(), 1, "the other 49 made one batch");
    assert_eq!(
        sim.pending[0].changes.len(),
        49,
        "49 messages; the session is unchanged"
    );
    sim.store_pending();
    let acks = sim.recv_all(p);
    assert_eq!(acks.len(), 49);
    assert_eq!(acks[48], Packet::puback(pid(50)), "acknowledged in order");
}

#[test]
fn queued_messages_and_subscriptions_survive_a_restart() {
    let mut sim = durable();
    offline_subscriber(&mut sim);
    let p = sim.connect("pub", true);
    sim.publish(p, "t", "one", QoS::AtLeastOnce, false, 1);
    sim.publish(p, "t", "two", QoS::AtLeastOnce, false, 2);
    let recovery = sim.restart();
    assert_eq!(
        recovery,
        Recovery {
            sessions: 1,
            messages: 2,
            ..Recovery::default()
        }
    );
    let (s, ack) = sim.connect_with(connect("sub", false));
    assert_eq!(ack.map(|a| a.session_present), Some(true));
    assert_eq!(payloads(&sim.publishes(s)), ["one", "two"]);
    let p = sim.connect("pub", true);
    sim.publish(p, "t", "three", QoS::AtLeastOnce, false, 3);
    assert_eq!(
        payloads(&sim.publishes(s)),
        ["three"],
        "the subscription was kept"
    );
}

#[test]
fn an_unacknowledged_message_is_resent_with_its_packet_id_after_a_restart() {
    let mut sim = durable();
    let s = sim.connect("sub", false);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    let p = sim.connect("pub", true);
    sim.publish(p, "t", "unacked", QoS::AtLeastOnce, false, 1);
    let first = sim.publishes(s);
    assert_eq!(payloads(&first), ["unacked"]);
    sim.restart();
    let s = sim.connect("sub", false);
    let again = sim.publishes(s);
    assert_eq!(payloads(&again), ["unacked"]);
    assert!(again[0].dup, "a re-delivery carries DUP 1 (MQTT-3.3.1-1)");
    assert_eq!(again[0].packet_id, first[0].packet_id, "MQTT-4.4.0-1");
}

#[test]
fn a_qos2_message_received_before_a_restart_is_not_routed_twice() {
    let mut sim = durable();
    let s = sim.connect("sub", true);
    sim.subscribe(s, &[("t", QoS::AtMostOnce)]);
    let p = sim.connect("pub", false);
    sim.send(
        p,
        Packet::Publish(publish("t", "once", QoS::ExactlyOnce, false, 9)),
    );
    assert_eq!(sim.recv(p), Some(Packet::pubrec(pid(9))));
    sim.restart();
    let s = sim.connect("sub", true);
    sim.subscribe(s, &[("t", QoS::AtMostOnce)]);
    let p = sim.connect("pub", false);
    let mut again = publish("t", "once", QoS::ExactlyOnce, false, 9);
    again.dup = true;
    sim.send(p, Packet::Publish(again));
    assert_eq!(sim.recv(p), Some(Packet::pubrec(pid(9))));
    assert!(
        sim.publishes(s).is_empty(),
        "MQTT-4.3.3-2: not a new message"
    );
    sim.send(p, Packet::pubrel(pid(9)));
    assert_eq!(sim.recv(p), Some(Packet::pubcomp(pid(9))));
}

#[test]
fn retained_messages_and_their_deletion_survive_a_restart() {
    let mut sim = durable();
    let p = sim.connect("pub", true);
    sim.publish(p, "a", "kept", QoS::AtLeastOnce, true, 1);
    sim.publish(p, "b", "deleted", QoS::AtLeastOnce, true, 2);
    sim.publish(p, "b", "", QoS::AtLeastOnce, true, 3);
    let recovery = sim.restart();
    assert_eq!(recovery.retained, 1);
    let topics: Vec<_> = sim.broker.retained().into_iter().map(|m| m.topic).collect();
    assert_eq!(topics, [topic("a")]);
    let s = sim.connect("sub", true);
    sim.subscribe(s, &[("#", QoS::AtLeastOnce)]);
    let got = sim.publishes(s);
    assert_eq!(payloads(&got), ["kept"]);
    assert!(got[0].retain);
}

#[test]
fn mqtt5_properties_of_a_queued_message_survive_a_restart() {
    let mut sim = durable();
    let (s, _) = sim.connect5("sub", false, vec![Property::SessionExpiryInterval(3600)]);
    sim.subscribe5(s, &[("t", opts(QoS::AtLeastOnce))], Some(42));
    sim.drop_conn(s);
    let (p, _) = sim.connect5("pub", true, vec![]);
    let mut m = publish5("t", "typed", QoS::AtLeastOnce, 1, vec![]);
    if let Some(props) = m.properties.as_mut() {
        props.push(Property::ContentType("text/plain".into()));
        props.push(Property::UserProperty("k".into(), "v".into()));
    }
    sim.send(p, Packet::Publish(m));
    sim.restart();
    let (s, ack) = sim.connect5("sub", false, vec![Property::SessionExpiryInterval(3600)]);
    assert!(ack.session_present);
    let got = sim.publishes(s);
    assert_eq!(payloads(&got), ["typed"]);
    let props = got[0].properties.clone().unwrap_or_default();
    assert_eq!(props.content_type().as_deref(), Some("text/plain"));
    assert_eq!(props.user_properties().collect::<Vec<_>>(), [("k", "v")]);
    assert_eq!(props.subscription_identifiers().collect::<Vec<_>>(), [42]);
}

#[test]
fn a_session_that_expired_while_the_server_was_down_is_gone_after_it() {
    let mut sim = durable();
    let (s, _) = sim.connect5("short", false, vec![Property::SessionExpiryInterval(10)]);
    sim.subscribe5(s, &[("t", opts(QoS::AtLeastOnce))], None);
    sim.drop_conn(s);
    let (s, _) = sim.connect5("long", false, vec![Property::SessionExpiryInterval(3600)]);
    sim.drop_conn(s);
    sim.now = Instant::from_millis(sim.now.as_millis() + 20_000);
    let recovery = sim.restart();
    assert_eq!((recovery.sessions, recovery.expired), (1, 1));
    assert!(sim.broker.session("short").is_none());
    assert!(sim.broker.session("long").is_some());
    let store = sim.store.as_ref().expect("a store");
    assert!(
        !store.contains_key(&b"sshort".to_vec()),
        "deleted from the store"
    );
}

#[test]
fn a_session_that_ends_is_deleted_from_the_store() {
    let mut sim = durable();
    offline_subscriber(&mut sim);
    assert!(sim
        .store
        .as_ref()
        .is_some_and(|s| s.contains_key(&b"ssub".to_vec())));
    let c = sim.connect("sub", true);
    sim.drop_conn(c);
    assert!(sim.store.as_ref().is_some_and(|s| s.is_empty()));
    assert_eq!(sim.restart(), Recovery::default());
}

#[test]
fn an_unreadable_entry_is_skipped_reported_and_deleted_and_the_rest_kept() {
    let mut sim = durable();
    offline_subscriber(&mut sim);
    let store = sim.store.as_mut().expect("a store");
    store.insert(b"sbroken".to_vec(), vec![0xff, 0xff, 0xff]);
    store.insert(b"?what".to_vec(), vec![]);
    let recovery = sim.restart();
    assert_eq!(recovery.sessions, 1);
    let skipped: Vec<_> = recovery.skipped.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(skipped, ["?what", "sbroken"]);
    let store = sim.store.as_ref().expect("a store");
    assert_eq!(store.keys().collect::<Vec<_>>(), [&b"ssub".to_vec()]);
}

#[test]
fn lifecycle_version_numbers_survive_a_restart() {
    let mut sim = Sim::durable(Config::for_profile(Profile::AwsIot));
    let c = connect_aws(&mut sim, "dev", true);
    sim.send(c, Packet::disconnect());
    assert!(sim
        .store
        .as_ref()
        .is_some_and(|s| s.contains_key(&b"ldev".to_vec())));
    sim.advance(1_000);
    assert_eq!(sim.restart().other, 1);
    let w = connect_aws(&mut sim, "watcher", true);
    sim.subscribe(
        w,
        &[("$aws/events/presence/connected/dev", QoS::AtMostOnce)],
    );
    connect_aws(&mut sim, "dev", true);
    let got = payloads(&sim.publishes(w));
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("\"versionNumber\":1"), "{}", got[0]);
}

/// Liveness with a disk that is slower than the clients: a publisher streams, a persistent
/// subscriber acknowledges what it gets, and batches are stored at arbitrary moments. Every
/// message must end up delivered and acknowledged.
#[test]
fn a_stream_through_a_slow_disk_never_stalls() {
    let config = Config {
        max_inflight: 5,
        queue_high_water: 8,
        max_held_acks: 6,
        ..Config::default()
    };
    let mut sim = Sim::durable(config);
    let s = sim.connect("sub", false);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    let p = sim.connect("pub", true);
    sim.auto_store = false;
    let mut rng = Rng::new(7);
    let (mut acked, mut received) = (0, 0);
    let mut next = 1u16;
    for _ in 0..5_000 {
        match rng.next_u64() % 4 {
            0 if next <= 300 && !sim.clients[&p].paused => {
                sim.send(
                    p,
                    Packet::Publish(publish("t", "m", QoS::AtLeastOnce, false, next)),
                );
                next += 1;
            }
            1 => sim.store_pending(),
            _ => {}
        }
        received += sim.acknowledge_publishes(s).len();
        acked += pubacks(&mut sim, p);
    }
    for _ in 0..100 {
        sim.store_pending();
        received += sim.acknowledge_publishes(s).len();
        acked += pubacks(&mut sim, p);
    }
    assert_eq!((received, acked), (300, 300), "published {}", next - 1);
}

/// How many PUBACKs `conn` received since last asked.
fn pubacks(sim: &mut Sim, conn: ConnId) -> usize {
    let packets = sim.recv_all(conn);
    packets
        .iter()
        .filter(|p| matches!(p, Packet::PubAck(_)))
        .count()
}

#[test]
fn in_flight_and_queued_messages_come_back_in_order_after_a_restart() {
    let config = Config {
        max_inflight: 2,
        ..Config::default()
    };
    let mut sim = Sim::durable(config);
    let s = sim.connect("sub", false);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    let p = sim.connect("pub", true);
    for (id, payload) in (1..).zip(["1", "2", "3", "4", "5"]) {
        sim.publish(p, "t", payload, QoS::AtLeastOnce, false, id);
    }
    assert_eq!(
        payloads(&sim.publishes(s)),
        ["1", "2"],
        "the window is full"
    );
    assert_eq!(sim.restart().messages, 5);
    let s = sim.connect("sub", false);
    let mut got = Vec::new();
    for _ in 0..5 {
        got.extend(payloads(&sim.acknowledge_publishes(s)));
    }
    assert_eq!(got, ["1", "2", "3", "4", "5"]);
    assert_eq!(
        sim.store.as_ref().map(|s| s.len()),
        Some(1),
        "acknowledged messages are deleted; the session remains"
    );
}

#[test]
fn acknowledging_one_message_of_a_deep_queue_writes_only_that_message() {
    let config = Config {
        max_inflight: 1,
        ..Config::default()
    };
    let mut sim = Sim::durable(config);
    offline_subscriber(&mut sim);
    let p = sim.connect("pub", true);
    for id in 1..=500 {
        sim.publish(p, "t", "m", QoS::AtLeastOnce, false, id);
    }
    let s = sim.connect("sub", false);
    let first = sim.publishes(s);
    assert_eq!(first.len(), 1);
    sim.auto_store = false;
    sim.send(s, Packet::puback(first[0].packet_id.expect("QoS 1")));
    let keys: Vec<String> = sim.pending[0]
        .changes
        .iter()
        .map(|c| String::from_utf8_lossy(&c.key).into_owned())
        .collect();
    assert_eq!(
        keys,
        [format!("msub\0{:016x}", 1), format!("msub\0{:016x}", 2)],
        "the acknowledged one deleted, the next one now in flight"
    );
}

#[test]
fn a_delivery_goes_at_once_and_one_acknowledged_before_the_write_is_never_written() {
    let mut sim = durable();
    let s = sim.connect("sub", false);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    let p = sim.connect("pub", true);
    sim.auto_store = false;
    sim.publish(p, "t", "one", QoS::AtLeastOnce, false, 1);
    // The first message's batch is being written; the second arrives meanwhile.
    sim.publish(p, "t", "two", QoS::AtLeastOnce, false, 2);
    let got = sim.acknowledge_publishes(s);
    assert_eq!(
        payloads(&got),
        ["one", "two"],
        "deliveries do not wait for the disk"
    );
    assert_eq!(sim.recv(p), None, "acknowledgements do");
    sim.store_pending();
    assert_eq!(sim.recv_all(p), [Packet::puback(pid(1))]);
    let changes = &sim.pending[0].changes;
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].key, format!("msub\0{:016x}", 1).into_bytes());
    assert_eq!(
        changes[0].value, None,
        "the first is deleted; the second never written"
    );
    sim.store_pending();
    assert_eq!(sim.recv_all(p), [Packet::puback(pid(2))]);
}

/// Publishes a shadow request from a fresh clean client and returns the JSON replies on
/// `reply` (for example `get/accepted`).
fn shadow_request(sim: &mut Sim, topic: &str, body: &str, reply: &str) -> Vec<String> {
    let c = connect_aws(sim, "app", true);
    let filter = format!("{topic}/+");
    sim.subscribe(c, &[(filter.as_str(), QoS::AtLeastOnce)]);
    sim.publish(c, topic, body, QoS::AtLeastOnce, false, 1);
    let wanted = format!("{topic}/{reply}");
    let got = sim
        .publishes(c)
        .into_iter()
        .filter(|p| p.topic.as_str() == wanted)
        .map(|p| String::from_utf8_lossy(&p.payload).into_owned())
        .collect();
    sim.send(c, Packet::disconnect());
    sim.advance(1_000); // One CONNECT per second per client id under aws-iot.
    got
}

#[test]
fn device_shadows_and_the_version_of_a_deleted_one_survive_a_restart() {
    let mut sim = Sim::durable(Config::for_profile(Profile::AwsIot));
    sim.advance(1_000);
    let lamp = "$aws/things/lamp/shadow";
    let named = "$aws/things/lamp/shadow/name/colour";
    let desired = r#"{"state":{"desired":{"on":true}}}"#;
    assert_eq!(
        shadow_request(&mut sim, &format!("{lamp}/update"), desired, "accepted").len(),
        1
    );
    shadow_request(&mut sim, &format!("{named}/update"), desired, "accepted");
    shadow_request(&mut sim, &format!("{named}/update"), desired, "accepted");
    shadow_request(&mut sim, &format!("{named}/delete"), "", "accepted");
    assert_eq!(
        sim.restart().other,
        2 + 1,
        "two shadows and app's lifecycle number"
    );

    let got = shadow_request(&mut sim, &format!("{lamp}/get"), "", "accepted");
    let doc: serde_json::Value = serde_json::from_str(&got[0]).expect("JSON");
    assert_eq!(doc["state"]["desired"]["on"], true);
    assert_eq!(doc["version"], 1);
    assert!(doc["metadata"]["desired"]["on"]["timestamp"].is_u64());
    // "Deleting a shadow does not reset its version number to 0."
    let got = shadow_request(&mut sim, &format!("{named}/update"), desired, "accepted");
    let doc: serde_json::Value = serde_json::from_str(&got[0]).expect("JSON");
    assert_eq!(doc["version"], 3);
}
