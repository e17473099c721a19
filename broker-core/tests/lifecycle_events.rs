//! AWS IoT lifecycle events: JSON on `$aws/events/...`, published by the broker.

mod support;

use broker_core::*;
use support::*;

fn watcher(sim: &mut Sim) -> ConnId {
    let w = connect_aws(sim, "watcher", true);
    sim.subscribe(
        w,
        &[
            ("$aws/events/presence/+/+", QoS::AtMostOnce),
            ("$aws/events/subscriptions/+/+", QoS::AtMostOnce),
        ],
    );
    // The watcher's own subscription is announced to it first.
    let own = sim.publishes(w);
    assert_eq!(own.len(), 1);
    assert_eq!(
        own[0].topic.as_str(),
        "$aws/events/subscriptions/subscribed/watcher"
    );
    w
}

fn field<'a>(json: &'a str, name: &str) -> &'a str {
    let key = format!("\"{name}\":");
    let start = json
        .find(&key)
        .map(|i| i + key.len())
        .expect("field present");
    let rest = &json[start..];
    let end = rest.find([',', '}']).expect("field end");
    rest[..end].trim_matches('"')
}

#[test]
fn connected_event_has_the_documented_fields() {
    let mut sim = aws_sim(|_| {});
    let w = watcher(&mut sim);
    sim.now = Instant::from_millis(1_700_000_000_000);
    let conn = sim.broker.accept(
        sim.now,
        PeerInfo {
            addr: Some("192.0.2.7:4711".into()),
            principal: Some("cert-abc".into()),
        },
    );
    sim.clients.insert(conn, Default::default());
    let mut c = connect("dev-1", true);
    c.keep_alive = 60;
    sim.send(conn, Packet::Connect(c));
    let got = sim.publishes(w);
    assert_eq!(
        got[0].topic.as_str(),
        "$aws/events/presence/connected/dev-1"
    );
    assert_eq!(got[0].qos, QoS::AtMostOnce);
    let json = String::from_utf8_lossy(&got[0].payload).into_owned();
    let session = field(&json, "sessionIdentifier").to_owned();
    assert_eq!(session.len(), 36, "a UUID: {session}");
    assert_eq!(
        json,
        format!(
            r#"{{"clientId":"dev-1","timestamp":1700000000000,"eventType":"connected","sessionIdentifier":"{session}","principalIdentifier":"cert-abc","ipAddress":"192.0.2.7","versionNumber":0}}"#
        )
    );
}

#[test]
fn disconnected_event_shares_session_and_version_and_names_the_reason() {
    let mut sim = aws_sim(|_| {});
    let w = watcher(&mut sim);
    let c = connect_aws(&mut sim, "dev", true);
    sim.send(c, Packet::disconnect());
    let got = payloads(&sim.publishes(w));
    let (connected, disconnected) = (&got[0], &got[1]);
    assert_eq!(field(disconnected, "eventType"), "disconnected");
    assert_eq!(
        field(disconnected, "disconnectReason"),
        "CLIENT_INITIATED_DISCONNECT"
    );
    assert_eq!(field(disconnected, "clientInitiatedDisconnect"), "true");
    assert_eq!(
        field(disconnected, "sessionIdentifier"),
        field(connected, "sessionIdentifier")
    );
    assert_eq!(
        field(disconnected, "versionNumber"),
        field(connected, "versionNumber")
    );
    assert!(!disconnected.contains("ipAddress"));
}

#[test]
fn disconnect_reasons_follow_the_cause() {
    type Ending = fn(&mut Sim, ConnId);
    let cases: [(&str, Ending); 3] = [
        ("CONNECTION_LOST", |sim, c| sim.drop_conn(c)),
        ("CLIENT_ERROR", |sim, c| {
            sim.publish(c, "t", "x", QoS::AtMostOnce, true, 0)
        }),
        ("SERVER_INITIATED_DISCONNECT", |sim, c| {
            sim.broker.close_connection(sim.now, c);
            sim.drive();
        }),
    ];
    for (want, end) in cases {
        let mut sim = aws_sim(|_| {});
        let w = watcher(&mut sim);
        let c = connect_aws(&mut sim, "dev", true);
        end(&mut sim, c);
        let got = payloads(&sim.publishes(w));
        assert_eq!(field(&got[1], "disconnectReason"), want);
        assert_eq!(field(&got[1], "clientInitiatedDisconnect"), "false");
    }
}

#[test]
fn version_number_grows_per_client_id() {
    let mut sim = aws_sim(|_| {});
    let w = watcher(&mut sim);
    for _ in 0..3 {
        let c = connect_aws(&mut sim, "dev", true);
        sim.send(c, Packet::disconnect());
        sim.advance(1_000); // one CONNECT per second per client id
    }
    let got = payloads(&sim.publishes(w));
    let versions: Vec<&str> = got.iter().map(|j| field(j, "versionNumber")).collect();
    assert_eq!(versions, ["0", "0", "1", "1", "2", "2"]);
}

#[test]
fn subscribed_and_unsubscribed_events_list_the_topics() {
    let mut sim = aws_sim(|_| {});
    let w = watcher(&mut sim);
    let c = connect_aws(&mut sim, "dev", true);
    sim.subscribe(c, &[("a/b", QoS::AtMostOnce), ("c/#", QoS::AtLeastOnce)]);
    sim.send(
        c,
        Packet::Unsubscribe(Unsubscribe {
            properties: None,
            packet_id: pid(2),
            filters: vec![filter("a/b")],
        }),
    );
    let got = sim.publishes(w);
    assert_eq!(
        got[1].topic.as_str(),
        "$aws/events/subscriptions/subscribed/dev"
    );
    let sub = String::from_utf8_lossy(&got[1].payload).into_owned();
    assert!(sub.ends_with(r#""topics":["a/b","c/#"]}"#), "{sub}");
    assert_eq!(field(&sub, "eventType"), "subscribed");
    assert_eq!(
        got[2].topic.as_str(),
        "$aws/events/subscriptions/unsubscribed/dev"
    );
    assert!(String::from_utf8_lossy(&got[2].payload).ends_with(r#""topics":["a/b"]}"#));
}

#[test]
fn client_ids_with_wildcards_produce_no_events() {
    let mut sim = aws_sim(|_| {});
    let w = watcher(&mut sim);
    let c = connect_aws(&mut sim, "dev+1", true);
    sim.send(c, Packet::disconnect());
    connect_aws(&mut sim, "dev#2", true);
    assert!(sim.publishes(w).is_empty());
}

#[test]
fn lifecycle_events_can_be_switched_off_and_are_absent_in_the_standard() {
    let mut sim = aws_sim(|r| r.lifecycle_events = false);
    let w = connect_aws(&mut sim, "watcher", true);
    sim.subscribe(w, &[("$aws/events/#", QoS::AtMostOnce)]);
    connect_aws(&mut sim, "dev", true);
    assert!(sim.publishes(w).is_empty());
    let mut std = Sim::standard();
    let w = std.connect("watcher", true);
    std.subscribe(w, &[("$aws/events/#", QoS::AtMostOnce)]);
    std.connect("dev", true);
    assert!(std.publishes(w).is_empty());
}
