//! Routing by topic filter: wildcards and `$` topics (section 4.7), through the broker.

mod support;

use broker_core::*;
use support::*;

fn receives(filter: &str, topic: &str) -> bool {
    let mut sim = Sim::standard();
    let s = sim.connect("s", true);
    sim.subscribe(s, &[(filter, QoS::AtMostOnce)]);
    let p = sim.connect("p", true);
    sim.publish(p, topic, "x", QoS::AtMostOnce, false, 0);
    !sim.publishes(s).is_empty()
}

#[test]
fn multi_level_wildcard_matches_the_level_and_everything_below() {
    assert!(receives("sport/tennis/player1/#", "sport/tennis/player1"));
    assert!(receives(
        "sport/tennis/player1/#",
        "sport/tennis/player1/ranking"
    ));
    assert!(receives(
        "sport/tennis/player1/#",
        "sport/tennis/player1/score/wimbledon"
    ));
    assert!(receives("sport/#", "sport"));
    assert!(!receives("sport/#", "sports"));
}

#[test]
fn single_level_wildcard_matches_exactly_one_level() {
    assert!(receives("sport/tennis/+", "sport/tennis/player1"));
    assert!(!receives("sport/tennis/+", "sport/tennis/player1/ranking"));
    assert!(!receives("sport/+", "sport"));
    assert!(receives("sport/+", "sport/"));
    assert!(receives("+/+", "/finance"));
    assert!(receives("/+", "/finance"));
    assert!(!receives("+", "/finance"));
}

#[test]
fn mqtt_4_7_2_1_wildcard_first_level_does_not_match_dollar_topics() {
    assert!(!receives("#", "$SYS/broker/uptime"));
    assert!(!receives("+/broker/uptime", "$SYS/broker/uptime"));
    assert!(receives("$SYS/#", "$SYS/broker/uptime"));
    assert!(receives("$SYS/+/uptime", "$SYS/broker/uptime"));
}

#[test]
fn topics_are_case_sensitive_and_may_contain_spaces() {
    assert!(!receives("ACCOUNTS", "Accounts"));
    assert!(receives("Accounts payable", "Accounts payable"));
}

#[test]
fn leading_and_trailing_slashes_make_distinct_levels() {
    assert!(!receives("a", "/a"));
    assert!(!receives("a", "a/"));
    assert!(receives("a//b", "a//b"));
    assert!(receives("a/+/b", "a//b"));
}

#[test]
fn hash_alone_receives_every_non_dollar_topic() {
    assert!(receives("#", "a"));
    assert!(receives("#", "/"));
    assert!(receives("#", "a/b/c/d/e/f/g/h"));
}

#[test]
fn many_subscribers_on_many_filters_each_get_their_own_match() {
    let mut sim = Sim::standard();
    let a = sim.connect("a", true);
    let b = sim.connect("b", true);
    let c = sim.connect("c", true);
    sim.subscribe(a, &[("home/+/temp", QoS::AtMostOnce)]);
    sim.subscribe(b, &[("home/kitchen/#", QoS::AtMostOnce)]);
    sim.subscribe(c, &[("home/kitchen/temp", QoS::AtMostOnce)]);
    let p = sim.connect("p", true);
    sim.publish(p, "home/kitchen/temp", "1", QoS::AtMostOnce, false, 0);
    sim.publish(p, "home/hall/temp", "2", QoS::AtMostOnce, false, 0);
    sim.publish(p, "home/kitchen/light", "3", QoS::AtMostOnce, false, 0);
    assert_eq!(payloads(&sim.publishes(a)), ["1", "2"]);
    assert_eq!(payloads(&sim.publishes(b)), ["1", "3"]);
    assert_eq!(payloads(&sim.publishes(c)), ["1"]);
}

#[test]
fn mqtt_3_3_2_2_wildcard_in_a_publish_topic_closes_the_connection() {
    let mut sim = Sim::standard();
    let p = sim.connect("p", true);
    // PUBLISH QoS 0 to "a/+".
    sim.send_raw(p, &[0x30, 5, 0, 3, b'a', b'/', b'+']);
    assert_eq!(
        sim.closed(p),
        Some(&CloseReason::ProtocolViolation(Violation::Malformed(
            DecodeError::InvalidTopicName(TopicError::WildcardInName)
        )))
    );
}
