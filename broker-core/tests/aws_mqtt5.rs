//! The aws-iot profile over MQTT 5.0 (docs/aws-iot-profile.md, "MQTT 5"): what AWS IoT
//! says in CONNACK, and each of its MQTT 5 limits at the limit and one past it.

mod support;

use broker_core::*;
use support::*;

fn aws() -> Sim {
    aws_sim(|_| {})
}

/// An MQTT 5.0 CONNECT with a keep-alive AWS accepts unchanged.
fn connect_aws5(sim: &mut Sim, id: &str, props: Vec<Property>) -> (ConnId, ConnAck) {
    let mut c = connect5(id, true, props);
    c.keep_alive = 60;
    let (conn, ack) = sim.connect_with(c);
    (conn, ack.expect("a CONNACK"))
}

fn rules(sim: &Sim) -> Vec<&'static str> {
    fired(sim).into_iter().map(|(code, _)| code).collect()
}

#[test]
fn connack_says_what_aws_iot_supports() {
    let mut sim = aws();
    let (_, ack) = connect_aws5(&mut sim, "a", vec![]);
    let p = ack.properties.expect("properties");
    assert_eq!(p.maximum_qos(), Some(1));
    assert_eq!(p.retain_available(), Some(0), "D5 in its default mode");
    assert_eq!(p.subscription_identifier_available(), Some(0));
    assert_eq!(p.topic_alias_maximum(), Some(8));
    assert_eq!(p.maximum_packet_size(), Some(131_072));
    assert_eq!(p.receive_maximum(), Some(100));
    // Shared subscriptions are available, which absence says (section 3.2.2.3.13).
    assert_eq!(p.shared_subscription_available(), None);
}

#[test]
fn topic_aliases_up_to_eight_and_the_ninth_is_disconnect_0x94() {
    let mut sim = aws();
    let (conn, _) = connect_aws5(&mut sim, "a", vec![]);
    let p = publish5("t", "x", QoS::AtMostOnce, 0, vec![Property::TopicAlias(8)]);
    sim.send(conn, Packet::Publish(p));
    assert_eq!(sim.closed(conn), None, "at the limit");
    let p = publish5("t", "x", QoS::AtMostOnce, 0, vec![Property::TopicAlias(9)]);
    sim.send(conn, Packet::Publish(p));
    assert_eq!(
        sim.disconnect_reason(conn),
        Some(ReasonCode::TOPIC_ALIAS_INVALID)
    );
    assert!(rules(&sim).contains(&"Q5-topic-aliases"));
}

#[test]
fn packets_up_to_128_kib_and_one_byte_more_is_disconnect_0x95() {
    let mut sim = aws_sim(|r| r.max_payload = 256 * 1024);
    let (conn, _) = connect_aws5(&mut sim, "a", vec![]);
    // PUBLISH "t", QoS 0, no properties: 1 + 3 (remaining length) + 3 + 1 = 8 bytes
    // around the payload.
    let at = publish5("t", &"x".repeat(131_072 - 8), QoS::AtMostOnce, 0, vec![]);
    assert_eq!(Packet::Publish(at.clone()).encoded_len(), 131_072);
    sim.send(conn, Packet::Publish(at));
    assert_eq!(sim.closed(conn), None, "at the limit");
    let past = publish5("t", &"x".repeat(131_072 - 7), QoS::AtMostOnce, 0, vec![]);
    sim.send(conn, Packet::Publish(past));
    assert_eq!(
        sim.disconnect_reason(conn),
        Some(ReasonCode::PACKET_TOO_LARGE)
    );
    assert!(rules(&sim).contains(&"Q5-packet-size"));
}

#[test]
fn a_message_expiry_past_seven_days_is_lowered_to_seven_days() {
    let mut sim = aws();
    let (sub, _) = connect_aws5(&mut sim, "sub", vec![]);
    sim.subscribe5(sub, &[("t", opts(QoS::AtMostOnce))], None);
    let (publisher, _) = connect_aws5(&mut sim, "pub", vec![]);
    let expiry = |s| vec![Property::MessageExpiryInterval(s)];
    sim.send(
        publisher,
        Packet::Publish(publish5("t", "at", QoS::AtMostOnce, 0, expiry(604_800))),
    );
    assert!(!rules(&sim).contains(&"Q5-message-expiry"), "at the limit");
    sim.send(
        publisher,
        Packet::Publish(publish5("t", "past", QoS::AtMostOnce, 0, expiry(604_801))),
    );
    assert!(rules(&sim).contains(&"Q5-message-expiry"));
    let got = sim.publishes(sub);
    let forwarded: Vec<_> = got
        .iter()
        .map(|p| {
            p.properties
                .as_ref()
                .and_then(|p| p.message_expiry_interval())
        })
        .collect();
    assert_eq!(forwarded, [Some(604_800), Some(604_800)]);
}

#[test]
fn a_session_expiry_past_the_account_limit_is_lowered_and_connack_says_so() {
    let mut sim = aws();
    let said = |ack: &ConnAck| {
        ack.properties
            .as_ref()
            .and_then(|p| p.session_expiry_interval())
    };
    let (_, at) = connect_aws5(&mut sim, "a", vec![Property::SessionExpiryInterval(3600)]);
    assert_eq!(said(&at), None, "at the limit, granted as asked");
    sim.advance(1_000); // AWS allows one CONNECT per client id per second.
    let (_, past) = connect_aws5(&mut sim, "b", vec![Property::SessionExpiryInterval(3601)]);
    assert_eq!(said(&past), Some(3600));
    assert!(rules(&sim).contains(&"Q5-session-expiry"));
}

#[test]
fn d2_a_qos2_publish_over_mqtt5_is_disconnect_0x9b() {
    let mut sim = aws();
    let (conn, _) = connect_aws5(&mut sim, "a", vec![]);
    sim.send(
        conn,
        Packet::Publish(publish5("t", "x", QoS::ExactlyOnce, 1, vec![])),
    );
    assert_eq!(
        sim.disconnect_reason(conn),
        Some(ReasonCode::QOS_NOT_SUPPORTED)
    );
    assert!(rules(&sim).contains(&"D2"));
}

#[test]
fn d5_a_retained_publish_over_mqtt5_is_disconnect_0x9a() {
    let mut sim = aws();
    let (conn, _) = connect_aws5(&mut sim, "a", vec![]);
    let mut p = publish5("t", "x", QoS::AtMostOnce, 0, vec![]);
    p.retain = true;
    sim.send(conn, Packet::Publish(p));
    assert_eq!(
        sim.disconnect_reason(conn),
        Some(ReasonCode::RETAIN_NOT_SUPPORTED)
    );
}

#[test]
fn a_subscription_identifier_is_disconnect_0xa1() {
    let mut sim = aws();
    let (conn, _) = connect_aws5(&mut sim, "a", vec![]);
    sim.send(
        conn,
        Packet::Subscribe(Subscribe {
            packet_id: pid(1),
            filters: vec![(filter("t"), opts(QoS::AtMostOnce))],
            properties: Some(Properties(vec![Property::SubscriptionIdentifier(1)])),
        }),
    );
    assert_eq!(
        sim.disconnect_reason(conn),
        Some(ReasonCode::SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED)
    );
    assert!(rules(&sim).contains(&"R5-subscription-identifiers"));
}

#[test]
fn a_session_is_not_resumed_across_versions() {
    let mut sim = aws();
    let old = connect_aws(&mut sim, "a", false);
    sim.subscribe(old, &[("t", QoS::AtLeastOnce)]);
    sim.drop_conn(old);
    sim.advance(1_000);
    let mut c = connect5("a", false, vec![Property::SessionExpiryInterval(3600)]);
    c.keep_alive = 60;
    let (_, ack) = sim.connect_with(c);
    assert!(!ack.expect("a CONNACK").session_present);
    assert!(rules(&sim).contains(&"R5-session-versions"));
}

#[test]
fn an_over_long_client_id_is_connack_0x85_over_mqtt5() {
    let mut sim = aws();
    let (_, ack) = connect_aws5(&mut sim, &"x".repeat(129), vec![]);
    assert_eq!(ack.code, ReasonCode::CLIENT_IDENTIFIER_NOT_VALID);
}

/// MQTT-3.2.2-12 and 3.2.2-13 under aws-iot: AWS IoT has no QoS 2 (D2) and, in D5's
/// default mode, no retained messages, so an MQTT 5.0 CONNECT whose Will asks for either
/// is refused with CONNACK 0x9B or 0x9A, and the connection closed.
#[test]
fn a_will_of_qos_2_or_with_retain_is_refused_in_connack() {
    for (qos, retain, code) in [
        (QoS::ExactlyOnce, false, ReasonCode::QOS_NOT_SUPPORTED),
        (QoS::AtLeastOnce, true, ReasonCode::RETAIN_NOT_SUPPORTED),
    ] {
        let mut sim = aws();
        let mut c = connect5("w", true, vec![]);
        c.keep_alive = 60;
        c.will = Some(LastWill {
            topic: TopicName::new("will/w").expect("topic"),
            payload: "gone".into(),
            qos,
            retain,
            properties: Properties::new(),
        });
        let (conn, ack) = sim.connect_with(c);
        assert_eq!(
            ack.expect("a CONNACK").code,
            code,
            "{qos:?} retain {retain}"
        );
        assert!(sim.closed(conn).is_some());
    }
}
