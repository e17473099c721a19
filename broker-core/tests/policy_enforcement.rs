//! Policies enforced by the broker, in both profiles (issue: policies).

mod support;

use broker_core::policy::{Action, PolicyDocument, PolicySet};
use broker_core::*;
use support::*;

const ARN: &str = "arn:aws:iot:us-east-1:123456789012";

/// Allows everything except what `deny` lists as (action, resource kind/name) pairs.
fn policies(deny: &[(&str, &str)]) -> PolicySet {
    let mut statements = vec![r#"{"Effect":"Allow","Action":"iot:*","Resource":"*"}"#.to_owned()];
    for (action, resource) in deny {
        statements.push(format!(
            r#"{{"Effect":"Deny","Action":"{action}","Resource":"{ARN}:{resource}"}}"#
        ));
    }
    let json = format!(r#"{{"Statement":[{}]}}"#, statements.join(","));
    let mut set = PolicySet::default();
    set.attach_default(PolicyDocument::parse("policy", &json).expect("valid"));
    set
}

fn with(profile: Profile, deny: &[(&str, &str)]) -> Sim {
    let mut config = Config::for_profile(profile);
    config.policies = Some(policies(deny));
    Sim::new(config)
}

fn connect_any(sim: &mut Sim, id: &str) -> (ConnId, Option<ConnAck>) {
    let mut c = connect(id, true);
    c.keep_alive = 60;
    sim.connect_with(c)
}

#[test]
fn denied_connect_closes_under_aws_with_auth_error() {
    let mut sim = with(Profile::AwsIot, &[("iot:Connect", "client/blocked")]);
    let (conn, ack) = connect_any(&mut sim, "blocked");
    assert_eq!(ack, None);
    assert_eq!(sim.closed(conn), Some(&CloseReason::AuthError));
    assert_eq!(CloseReason::AuthError.aws_reason(), "AUTH_ERROR");
    let (_, ok) = connect_any(&mut sim, "fine");
    assert_eq!(
        ok.map(|a| a.code),
        Some(ReasonCode::from(ConnectReturnCode::Accepted))
    );
}

#[test]
fn denied_connect_gets_connack_0x05_under_the_standard() {
    let mut sim = with(Profile::Standard, &[("iot:Connect", "client/blocked")]);
    let (conn, ack) = connect_any(&mut sim, "blocked");
    assert_eq!(
        ack,
        Some(ConnAck {
            properties: None,
            session_present: false,
            code: ConnectReturnCode::NotAuthorized.into()
        })
    );
    assert_eq!(sim.wire(conn), [0x20, 0x02, 0x00, 0x05]);
}

#[test]
fn a_denied_connect_does_not_take_over_the_existing_connection() {
    let mut config = Config::for_profile(Profile::AwsIot);
    let mut set = policies(&[]);
    let deny = format!(
        r#"{{"Statement":{{"Effect":"Deny","Action":"iot:Connect","Resource":"{ARN}:client/*"}}}}"#
    );
    set.attach(
        "intruder",
        PolicyDocument::parse("no-connect", &deny).expect("valid"),
    );
    config.policies = Some(set);
    let mut sim = Sim::new(config);
    let (owner, _) = connect_any(&mut sim, "dev");
    sim.advance(1_000); // one CONNECT per second per client id
    let mut again = connect("dev", true);
    again.keep_alive = 60;
    again.username = Some("intruder".into());
    let (intruder, ack) = sim.connect_with(again);
    assert_eq!(ack, None);
    assert_eq!(sim.closed(intruder), Some(&CloseReason::AuthError));
    assert!(
        sim.closed(owner).is_none(),
        "D6 takeover happens only after authorization"
    );
}

#[test]
fn denied_will_topic_refuses_the_connection() {
    let mut sim = with(Profile::AwsIot, &[("iot:Publish", "topic/wills/secret")]);
    let mut c = connect("dev", true);
    c.keep_alive = 60;
    c.will = Some(LastWill {
        properties: Properties::new(),
        topic: topic("wills/secret"),
        payload: "x".into(),
        qos: QoS::AtMostOnce,
        retain: false,
    });
    let (conn, ack) = sim.connect_with(c);
    assert_eq!(ack, None);
    assert_eq!(sim.closed(conn), Some(&CloseReason::AuthError));
}

#[test]
fn denied_publish_closes_under_aws() {
    let mut sim = with(Profile::AwsIot, &[("iot:Publish", "topic/forbidden")]);
    let (p, _) = connect_any(&mut sim, "p");
    sim.publish(p, "allowed", "x", QoS::AtLeastOnce, false, 1);
    assert!(sim.closed(p).is_none());
    sim.publish(p, "forbidden", "x", QoS::AtLeastOnce, false, 2);
    assert_eq!(sim.closed(p), Some(&CloseReason::AuthError));
}

#[test]
fn denied_publish_is_dropped_but_acknowledged_under_the_standard() {
    let mut sim = with(Profile::Standard, &[("iot:Publish", "topic/forbidden")]);
    let (s, _) = connect_any(&mut sim, "s");
    sim.subscribe(s, &[("#", QoS::AtLeastOnce)]);
    let (p, _) = connect_any(&mut sim, "p");
    sim.recv_all(p);
    sim.publish(p, "forbidden", "x", QoS::AtLeastOnce, false, 7);
    assert_eq!(sim.recv_all(p), [Packet::puback(pid(7))]);
    sim.publish(p, "forbidden", "y", QoS::ExactlyOnce, false, 8);
    assert_eq!(sim.recv_all(p), [Packet::pubrec(pid(8))]);
    assert!(sim.publishes(s).is_empty());
    assert!(sim.closed(p).is_none());
}

#[test]
fn paho_subscribe_failure_test_nosubscribe_gets_0x80_under_the_standard() {
    // Eclipse Paho's interoperability test "subscribe_failure" expects a SUBACK of 0x80
    // for `test/nosubscribe` when the server refuses it.
    let mut sim = with(
        Profile::Standard,
        &[("iot:Subscribe", "topicfilter/test/nosubscribe")],
    );
    let (c, _) = connect_any(&mut sim, "paho");
    let codes = sim.subscribe(
        c,
        &[
            ("test/nosubscribe", QoS::ExactlyOnce),
            ("test/ok", QoS::AtMostOnce),
        ],
    );
    assert_eq!(
        codes,
        [
            SubscribeReturnCode::Failure,
            SubscribeReturnCode::Granted(QoS::AtMostOnce)
        ]
    );
    assert!(sim.closed(c).is_none());
}

#[test]
fn denied_subscribe_closes_under_aws_the_reconnect_loop() {
    let mut sim = with(Profile::AwsIot, &[("iot:Subscribe", "topicfilter/cmd/#")]);
    let (c, _) = connect_any(&mut sim, "dev");
    sim.send(
        c,
        Packet::Subscribe(Subscribe {
            properties: None,
            packet_id: pid(1),
            filters: vec![(filter("cmd/#"), QoS::AtLeastOnce.into())],
        }),
    );
    assert!(sim.recv_all(c).is_empty(), "no SUBACK");
    assert_eq!(sim.closed(c), Some(&CloseReason::AuthError));
}

#[test]
fn denied_receive_silently_skips_that_subscriber() {
    for profile in [Profile::AwsIot, Profile::Standard] {
        let mut config = Config::for_profile(profile);
        let mut set = policies(&[]);
        set.attach(
            "blind",
            PolicyDocument::parse("no-receive", &format!(r#"{{"Statement":{{"Effect":"Deny","Action":"iot:Receive","Resource":"{ARN}:topic/news"}}}}"#))
                .expect("valid"),
        );
        config.policies = Some(set);
        let mut sim = Sim::new(config);
        let mut blind = connect("blind-dev", true);
        blind.keep_alive = 60;
        blind.username = Some("blind".into());
        let (b, _) = sim.connect_with(blind);
        let (s, _) = connect_any(&mut sim, "seeing");
        sim.subscribe(b, &[("news", QoS::AtMostOnce)]);
        sim.subscribe(s, &[("news", QoS::AtMostOnce)]);
        let (p, _) = connect_any(&mut sim, "p");
        sim.publish(p, "news", "hello", QoS::AtMostOnce, false, 0);
        assert!(sim.publishes(b).is_empty(), "{profile:?}");
        assert_eq!(payloads(&sim.publishes(s)), ["hello"]);
        assert!(sim.closed(b).is_none());
    }
}

#[test]
fn retain_publish_is_a_separate_permission() {
    let mut config = Config::for_profile(Profile::AwsIot);
    config.aws.retain = RetainMode::ExactMatch;
    config.policies = Some(policies(&[("iot:RetainPublish", "topic/state")]));
    let mut sim = Sim::new(config);
    let (p, _) = connect_any(&mut sim, "p");
    sim.publish(p, "state", "x", QoS::AtMostOnce, false, 0);
    assert!(sim.closed(p).is_none(), "a plain publish is allowed");
    sim.publish(p, "state", "x", QoS::AtMostOnce, true, 0);
    assert_eq!(sim.closed(p), Some(&CloseReason::AuthError));
}

#[test]
fn every_decision_is_an_event_naming_action_resource_and_statement() {
    let mut sim = with(Profile::Standard, &[("iot:Subscribe", "topicfilter/x")]);
    let (c, _) = connect_any(&mut sim, "c");
    sim.subscribe(c, &[("x", QoS::AtMostOnce)]);
    let decisions = sim.events_where(|e| match e {
        Event::PolicyDecision { decision, .. } => Some((
            decision.action.clone(),
            decision.resource.clone(),
            decision.allowed,
            decision.statement.as_ref().map(|s| s.index),
        )),
        _ => None,
    });
    assert_eq!(
        decisions,
        [
            (Action::Connect, format!("{ARN}:client/c"), true, Some(0)),
            (
                Action::Subscribe,
                format!("{ARN}:topicfilter/x"),
                false,
                Some(1)
            ),
        ]
    );
}

#[test]
fn without_policies_nothing_is_checked() {
    let mut sim = aws_sim(|_| {});
    let c = connect_aws(&mut sim, "c", true);
    sim.subscribe(c, &[("x", QoS::AtMostOnce)]);
    assert!(sim
        .events
        .iter()
        .all(|e| !matches!(e, Event::PolicyDecision { .. })));
}

fn with_users() -> std::collections::BTreeMap<String, String> {
    [("alice".to_string(), "s3cret".to_string())]
        .into_iter()
        .collect()
}

fn login(sim: &mut Sim, user: Option<&str>, password: Option<&str>) -> (ConnId, Option<ConnAck>) {
    let mut c = connect("dev", true);
    c.keep_alive = 60;
    c.username = user.map(str::to_owned);
    c.password = password.map(|p| bytes::Bytes::copy_from_slice(p.as_bytes()));
    sim.connect_with(c)
}

#[test]
fn a_user_list_checks_name_and_password_under_the_standard() {
    let mut sim = Sim::new(Config {
        users: Some(with_users()),
        ..Config::default()
    });
    let (_, ok) = login(&mut sim, Some("alice"), Some("s3cret"));
    assert_eq!(
        ok.map(|a| a.code),
        Some(ReasonCode::from(ConnectReturnCode::Accepted))
    );
    for (user, password) in [
        (Some("alice"), Some("wrong")),
        (Some("alice"), None),
        (Some("mallory"), Some("s3cret")),
        (None, None),
    ] {
        let (conn, ack) = login(&mut sim, user, password);
        assert_eq!(
            ack.map(|a| a.code),
            Some(ReasonCode::from(ConnectReturnCode::BadUsernameOrPassword)),
            "{user:?} {password:?}"
        );
        assert!(sim.closed(conn).is_some());
    }
}

#[test]
fn a_user_list_closes_bad_credentials_under_aws_and_spares_certificates() {
    let mut config = Config::for_profile(Profile::AwsIot);
    config.users = Some(with_users());
    let mut sim = Sim::new(config);
    let (conn, ack) = login(&mut sim, Some("alice"), Some("nope"));
    assert_eq!(ack, None);
    assert_eq!(sim.closed(conn), Some(&CloseReason::AuthError));
    // A mutual-TLS connection is authenticated by its certificate: no password needed.
    let cert = sim.broker.accept(
        sim.now,
        PeerInfo {
            addr: None,
            principal: Some("device-cert".into()),
        },
    );
    sim.clients.insert(cert, Default::default());
    let mut c = connect("cert-dev", true);
    c.keep_alive = 60;
    sim.send(cert, Packet::Connect(c));
    assert!(
        matches!(sim.recv(cert), Some(Packet::ConnAck(a)) if a.code == ConnectReturnCode::Accepted)
    );
}
