//! D2: AWS IoT does not support QoS 2; `aws.qos2` = "ignore" or "disconnect".

mod support;

use broker_core::*;
use support::*;

fn subscribe_qos2(sim: &mut Sim, conn: ConnId) {
    let filters = vec![
        (filter("a"), QoS::AtLeastOnce.into()),
        (filter("b"), QoS::ExactlyOnce.into()),
    ];
    sim.send(
        conn,
        Packet::Subscribe(Subscribe {
            properties: None,
            packet_id: pid(4),
            filters,
        }),
    );
}

#[test]
fn ignore_mode_sends_no_suback_and_subscribes_nothing() {
    let mut sim = aws_sim(|_| {});
    let c = connect_aws(&mut sim, "c", true);
    subscribe_qos2(&mut sim, c);
    assert!(sim.recv_all(c).is_empty(), "no SUBACK");
    assert!(sim.closed(c).is_none());
    assert_eq!(sim.broker.subscription_count(), 0);
    assert_eq!(fired(&sim), [("D2", Some(c))]);
}

#[test]
fn ignore_mode_sends_no_pubrec_and_does_not_deliver() {
    let mut sim = aws_sim(|_| {});
    let s = connect_aws(&mut sim, "s", true);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    let p = connect_aws(&mut sim, "p", true);
    sim.publish(p, "t", "x", QoS::ExactlyOnce, false, 9);
    assert!(sim.recv_all(p).is_empty(), "no PUBREC");
    assert!(sim.publishes(s).is_empty());
    assert!(sim.closed(p).is_none());
}

#[test]
fn disconnect_mode_closes_on_a_qos2_subscribe() {
    let mut sim = aws_sim(|r| r.qos2 = Qos2Mode::Disconnect);
    let c = connect_aws(&mut sim, "c", true);
    subscribe_qos2(&mut sim, c);
    assert_eq!(
        sim.closed(c),
        Some(&CloseReason::Rule(Rule::D2Qos2Unsupported))
    );
}

#[test]
fn disconnect_mode_closes_on_a_qos2_publish() {
    let mut sim = aws_sim(|r| r.qos2 = Qos2Mode::Disconnect);
    let p = connect_aws(&mut sim, "p", true);
    sim.publish(p, "t", "x", QoS::ExactlyOnce, false, 9);
    assert_eq!(
        sim.closed(p),
        Some(&CloseReason::Rule(Rule::D2Qos2Unsupported))
    );
    assert!(sim.recv_all(p).is_empty());
}

#[test]
fn qos2_will_is_lowered_to_qos1_in_ignore_mode() {
    let mut sim = aws_sim(|_| {});
    let w = connect_aws(&mut sim, "w", true);
    sim.subscribe(w, &[("will", QoS::AtLeastOnce)]);
    let mut c = connect("dev", true);
    c.keep_alive = 60;
    c.will = Some(LastWill {
        properties: Properties::new(),
        topic: topic("will"),
        payload: "bye".into(),
        qos: QoS::ExactlyOnce,
        retain: false,
    });
    let (dev, ack) = sim.connect_with(c);
    assert_eq!(
        ack.map(|a| a.code),
        Some(ReasonCode::from(ConnectReturnCode::Accepted))
    );
    sim.drop_conn(dev);
    let got = sim.publishes(w);
    assert_eq!((got.len(), got[0].qos), (1, QoS::AtLeastOnce));
}

#[test]
fn qos2_will_closes_the_connection_in_disconnect_mode() {
    let mut sim = aws_sim(|r| r.qos2 = Qos2Mode::Disconnect);
    let mut c = connect("dev", true);
    c.will = Some(LastWill {
        properties: Properties::new(),
        topic: topic("will"),
        payload: "bye".into(),
        qos: QoS::ExactlyOnce,
        retain: false,
    });
    let (dev, ack) = sim.connect_with(c);
    assert_eq!(ack, None, "no CONNACK");
    assert_eq!(
        sim.closed(dev),
        Some(&CloseReason::Rule(Rule::D2Qos2Unsupported))
    );
}

#[test]
fn qos1_subscriptions_are_granted_with_the_exact_suback_bytes() {
    let mut sim = aws_sim(|_| {});
    let c = connect_aws(&mut sim, "c", true);
    sim.send(
        c,
        Packet::Subscribe(Subscribe {
            properties: None,
            packet_id: pid(4),
            filters: vec![(filter("a"), QoS::AtLeastOnce.into())],
        }),
    );
    assert_eq!(&sim.wire(c)[4..], [0x90, 0x03, 0x00, 0x04, 0x01]);
}

#[test]
fn the_standard_profile_supports_qos2() {
    let mut sim = Sim::standard();
    let c = sim.connect("c", true);
    assert_eq!(
        sim.subscribe(c, &[("b", QoS::ExactlyOnce)]),
        [SubscribeReturnCode::Granted(QoS::ExactlyOnce)]
    );
}
