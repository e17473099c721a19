//! The aws-iot profile's quotas and rules (docs/aws-iot-profile.md, "Quotas and rules"), each at its
//! limit and one past it.

mod support;

use broker_core::*;
use support::*;

fn publish_on(sim: &mut Sim, conn: ConnId, topic_name: &str) {
    sim.publish(conn, topic_name, "x", QoS::AtMostOnce, false, 0);
}

#[test]
fn client_id_of_128_bytes_connects_and_129_closes_without_connack() {
    let mut sim = aws_sim(|_| {});
    connect_aws(&mut sim, &"c".repeat(128), true);
    let (conn, ack) = sim.connect_with(connect(&"c".repeat(129), true));
    assert_eq!(ack, None);
    assert_eq!(
        sim.closed(conn),
        Some(&CloseReason::Rule(Rule::ClientIdTooLong))
    );
}

#[test]
fn topic_of_256_bytes_is_accepted_and_257_closes() {
    let mut sim = aws_sim(|_| {});
    let c = connect_aws(&mut sim, "c", true);
    publish_on(&mut sim, c, &"t".repeat(256));
    assert!(sim.closed(c).is_none());
    publish_on(&mut sim, c, &"t".repeat(257));
    assert_eq!(sim.closed(c), Some(&CloseReason::Rule(Rule::TopicTooLong)));
}

#[test]
fn seven_slashes_are_accepted_and_eight_close() {
    let mut sim = aws_sim(|_| {});
    let c = connect_aws(&mut sim, "c", true);
    publish_on(&mut sim, c, "a/b/c/d/e/f/g/h");
    assert!(sim.closed(c).is_none());
    publish_on(&mut sim, c, "a/b/c/d/e/f/g/h/i");
    assert_eq!(
        sim.closed(c),
        Some(&CloseReason::Rule(Rule::TooManyTopicLevels))
    );
}

#[test]
fn basic_ingest_prefix_does_not_count_towards_the_slashes() {
    let mut sim = aws_sim(|_| {});
    let c = connect_aws(&mut sim, "c", true);
    publish_on(&mut sim, c, "$aws/rules/my_rule/a/b/c/d/e/f/g/h");
    assert!(sim.closed(c).is_none());
}

#[test]
fn filters_are_held_to_the_topic_limits_too() {
    let mut sim = aws_sim(|_| {});
    let c = connect_aws(&mut sim, "c", true);
    sim.send(
        c,
        Packet::Subscribe(Subscribe {
            properties: None,
            packet_id: pid(1),
            filters: vec![(filter("a/b/c/d/e/f/g/h/#"), QoS::AtMostOnce.into())],
        }),
    );
    assert_eq!(
        sim.closed(c),
        Some(&CloseReason::Rule(Rule::TooManyTopicLevels))
    );
}

#[test]
fn payload_of_128_kib_is_accepted_and_one_byte_more_closes() {
    let mut sim = aws_sim(|_| {});
    let c = connect_aws(&mut sim, "c", true);
    sim.publish(c, "t", &"x".repeat(128 * 1024), QoS::AtMostOnce, false, 0);
    assert!(sim.closed(c).is_none());
    sim.publish(
        c,
        "t",
        &"x".repeat(128 * 1024 + 1),
        QoS::AtMostOnce,
        false,
        0,
    );
    assert_eq!(
        sim.closed(c),
        Some(&CloseReason::Rule(Rule::PayloadTooLarge))
    );
}

fn subscribe_n(sim: &mut Sim, conn: ConnId, n: usize, prefix: &str) {
    let filters = (0..n)
        .map(|i| (filter(&format!("{prefix}{i}")), QoS::AtMostOnce.into()))
        .collect();
    sim.send(
        conn,
        Packet::Subscribe(Subscribe {
            properties: None,
            packet_id: pid(1),
            filters,
        }),
    );
}

#[test]
fn eight_filters_per_subscribe_are_accepted_and_nine_close() {
    let mut sim = aws_sim(|_| {});
    let c = connect_aws(&mut sim, "c", true);
    subscribe_n(&mut sim, c, 8, "f");
    assert!(matches!(sim.recv(c), Some(Packet::SubAck(a)) if a.codes.len() == 8));
    subscribe_n(&mut sim, c, 9, "g");
    assert_eq!(
        sim.closed(c),
        Some(&CloseReason::Rule(Rule::TooManyFiltersPerSubscribe))
    );
}

#[test]
fn fifty_subscriptions_are_granted_and_the_fifty_first_gets_0x80() {
    let mut sim = aws_sim(|_| {});
    let c = connect_aws(&mut sim, "c", true);
    for batch in 0..6 {
        subscribe_n(&mut sim, c, 8, &format!("b{batch}/"));
    }
    sim.recv_all(c);
    assert_eq!(sim.broker.subscription_count(), 48);
    let codes = sim.subscribe(
        c,
        &[
            ("x", QoS::AtMostOnce),
            ("y", QoS::AtMostOnce),
            ("z", QoS::AtMostOnce),
        ],
    );
    assert_eq!(
        codes,
        [
            SubscribeReturnCode::Granted(QoS::AtMostOnce),
            SubscribeReturnCode::Granted(QoS::AtMostOnce),
            SubscribeReturnCode::Failure
        ]
    );
    assert!(fired(&sim).contains(&("Q-subscriptions", Some(c))));
}

#[test]
fn keep_alive_is_clamped_into_30_to_1200_seconds() {
    for (asked, granted) in [
        (0, 1200),
        (1, 30),
        (29, 30),
        (30, 30),
        (1200, 1200),
        (1201, 1200),
    ] {
        let mut sim = aws_sim(|_| {});
        let mut c = connect("c", true);
        c.keep_alive = asked;
        let (conn, _) = sim.connect_with(c);
        assert_eq!(
            sim.broker.connections()[0].keep_alive,
            Some(granted),
            "asked {asked}"
        );
        assert_eq!(
            fired(&sim).contains(&("Q-keep-alive", Some(conn))),
            asked != granted,
            "asked {asked}"
        );
    }
}

#[test]
fn keep_alive_zero_times_out_at_one_and_a_half_times_1200_seconds() {
    let mut sim = aws_sim(|_| {});
    let (conn, _) = sim.connect_with(connect("c", true));
    sim.advance(1_799_999);
    assert!(sim.closed(conn).is_none());
    sim.advance(1);
    assert_eq!(sim.closed(conn), Some(&CloseReason::KeepAliveTimeout));
    assert_eq!(
        CloseReason::KeepAliveTimeout.aws_reason(),
        "MQTT_KEEP_ALIVE_TIMEOUT"
    );
}

#[test]
fn one_hundred_messages_in_flight_and_the_next_waits() {
    let mut sim = aws_sim(|r| r.publish_rate_per_second = 1000);
    let s = connect_aws(&mut sim, "s", true);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    let p = connect_aws(&mut sim, "p", true);
    for i in 1..=101 {
        sim.publish(p, "t", "x", QoS::AtLeastOnce, false, i);
    }
    let sent = sim.publishes(s);
    assert_eq!(sent.len(), 100);
    assert_eq!(sim.broker.session("s").map(|v| v.queued), Some(1));
    assert!(fired(&sim).contains(&("Q-inflight", Some(s))));
    sim.send(s, Packet::puback(sent[0].packet_id.expect("id")));
    assert_eq!(sim.publishes(s).len(), 1);
}

#[test]
fn one_hundred_inbound_publishes_a_second_and_the_excess_is_dropped() {
    let mut sim = aws_sim(|_| {});
    let s = connect_aws(&mut sim, "s", true);
    sim.subscribe(s, &[("t", QoS::AtMostOnce)]);
    let p = connect_aws(&mut sim, "p", true);
    for _ in 0..101 {
        publish_on(&mut sim, p, "t");
    }
    assert_eq!(sim.publishes(s).len(), 100);
    assert!(
        sim.closed(p).is_none(),
        "silently dropped, not disconnected"
    );
    sim.advance(1000);
    publish_on(&mut sim, p, "t");
    assert_eq!(sim.publishes(s).len(), 1, "a new second, a new allowance");
}

#[test]
fn one_hundred_outbound_publishes_a_second_and_the_excess_is_dropped() {
    let mut sim = aws_sim(|_| {});
    let s = connect_aws(&mut sim, "s", true);
    sim.subscribe(s, &[("t", QoS::AtMostOnce)]);
    let publishers: Vec<ConnId> = (0..3)
        .map(|i| connect_aws(&mut sim, &format!("p{i}"), true))
        .collect();
    for i in 0..101 {
        publish_on(&mut sim, publishers[i % 3], "t");
    }
    assert_eq!(sim.publishes(s).len(), 100);
    assert_eq!(sim.broker.stats().dropped_throttled, 1);
}

#[test]
fn persistent_session_expires_an_hour_after_disconnect() {
    let mut sim = aws_sim(|_| {});
    let c = connect_aws(&mut sim, "dev", false);
    sim.drop_conn(c);
    sim.advance(3_599_999);
    assert!(sim.broker.session("dev").is_some());
    sim.advance(1);
    assert!(sim.broker.session("dev").is_none());
    let mut again = connect("dev", false);
    again.keep_alive = 60;
    let (_, ack) = sim.connect_with(again);
    assert_eq!(ack.map(|a| a.session_present), Some(false));
    assert!(fired(&sim)
        .iter()
        .any(|(code, _)| *code == "Q-session-expiry"));
}

#[test]
fn a_resumed_session_does_not_expire_from_an_earlier_disconnect() {
    let mut sim = aws_sim(|_| {});
    let c = connect_aws(&mut sim, "dev", false);
    sim.drop_conn(c);
    sim.advance(3_000_000);
    let c = connect_aws(&mut sim, "dev", false);
    for _ in 0..10 {
        sim.advance(60_000);
        sim.send(c, Packet::PingReq);
    }
    assert!(sim.closed(c).is_none());
    assert!(
        sim.broker.session("dev").is_some(),
        "connected sessions never expire"
    );
    sim.drop_conn(c);
    sim.advance(3_599_999);
    assert!(sim.broker.session("dev").is_some());
}

#[test]
fn dollar_topics_other_than_aws_ones_close_the_connection() {
    let mut sim = aws_sim(|_| {});
    let c = connect_aws(&mut sim, "c", true);
    publish_on(&mut sim, c, "$aws/things/dev/shadow/update");
    assert!(sim.closed(c).is_none());
    publish_on(&mut sim, c, "$SYS/hello");
    assert_eq!(sim.closed(c), Some(&CloseReason::Rule(Rule::ReservedTopic)));
}

#[test]
fn hash_does_not_match_the_parent_level() {
    let mut sim = aws_sim(|_| {});
    let s = connect_aws(&mut sim, "s", true);
    sim.subscribe(s, &[("sensor/#", QoS::AtMostOnce)]);
    let p = connect_aws(&mut sim, "p", true);
    publish_on(&mut sim, p, "sensor");
    assert!(sim.publishes(s).is_empty());
    assert!(fired(&sim).contains(&("R-hash-parent", Some(s))));
    publish_on(&mut sim, p, "sensor/t");
    assert_eq!(sim.publishes(s).len(), 1);
}

#[test]
fn quotas_follow_their_configuration_keys() {
    let mut sim = aws_sim(|r| {
        r.max_topic_slashes = 1;
        r.max_payload = 4;
    });
    let c = connect_aws(&mut sim, "c", true);
    sim.publish(c, "a/b", "1234", QoS::AtMostOnce, false, 0);
    assert!(sim.closed(c).is_none());
    sim.publish(c, "a/b", "12345", QoS::AtMostOnce, false, 0);
    assert_eq!(
        sim.closed(c),
        Some(&CloseReason::Rule(Rule::PayloadTooLarge))
    );
}

#[test]
fn one_connect_per_second_per_client_id_and_the_second_is_throttled() {
    let mut sim = aws_sim(|_| {});
    let first = connect_aws(&mut sim, "dev", true);
    let mut again = connect("dev", true);
    again.keep_alive = 60;
    let (second, ack) = sim.connect_with(again.clone());
    assert_eq!(ack, None);
    assert_eq!(
        sim.closed(second),
        Some(&CloseReason::Rule(Rule::ConnectRate))
    );
    assert_eq!(
        CloseReason::Rule(Rule::ConnectRate).aws_reason(),
        "THROTTLED"
    );
    assert!(
        sim.closed(first).is_none(),
        "the throttled newcomer does not take over"
    );
    connect_aws(&mut sim, "other", true);
    sim.advance(1_000);
    let (third, ack) = sim.connect_with(again);
    assert!(ack.is_some() && sim.closed(third).is_none());
}
