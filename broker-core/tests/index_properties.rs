//! Properties of the subscription index and the retained store on generated filters
//! and topics (proptest): both agree with the reference matcher.
//!
//! Case counts are kept small enough that the file runs in a few seconds in a debug
//! build; raise `PROPTEST_CASES` in the environment for a longer soak.

#[path = "support/strategies.rs"]
mod strategies;
mod support;

use std::collections::{BTreeMap, BTreeSet};

use broker_core::topic::matches;
use broker_core::*;
use proptest::prelude::*;
use strategies::*;
use support::*;

// ----- (c): the subscription index against the reference matcher ---------------------------
//
// `SessionId` cannot be made outside the crate (its field is crate-private and nothing
// public hands one out), so the index is driven through the broker: one client per
// subscriber, and which clients receive a publish is what the index answered.

/// The small alphabet both filters and topics are drawn from, so they often match:
/// `$` topics (MQTT-4.7.2-1), empty levels, and repeated levels.
const LEVELS: [&str; 5] = ["a", "b", "", "$s", "$"];

fn small_topic() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(LEVELS.to_vec()), 1..4)
        .prop_map(|levels| levels.join("/"))
        .prop_filter("a topic name is not empty", |t| !t.is_empty())
}

fn small_filter() -> impl Strategy<Value = String> {
    let level = prop_oneof![
        4 => proptest::sample::select(LEVELS.to_vec()),
        2 => Just("+"),
    ];
    (proptest::collection::vec(level, 0..4), any::<bool>())
        .prop_map(|(levels, hash)| {
            let mut levels: Vec<&str> = levels;
            if hash {
                levels.push("#");
            }
            levels.join("/")
        })
        .prop_filter("a topic filter is not empty", |f| !f.is_empty())
}

/// One subscription: which of three subscribers, the filter, the QoS, and whether it is
/// unsubscribed again before the publishes.
type Sub = (usize, String, QoS, bool);

fn parent() -> impl Strategy<Value = HashMatchesParent> {
    prop_oneof![Just(HashMatchesParent::Yes), Just(HashMatchesParent::No)]
}

fn quiet(parent: HashMatchesParent) -> Config {
    Config {
        hash_matches_parent: parent,
        // Nothing is acknowledged in these runs; a wide window keeps every copy flowing.
        max_inflight: usize::from(u16::MAX),
        events: EventConfig::QUIET,
        ..Config::default()
    }
}

fn check_index(
    parent: HashMatchesParent,
    subs: &[Sub],
    topics: &[String],
) -> Result<(), TestCaseError> {
    let mut sim = Sim::new(quiet(parent));
    let subscribers: Vec<ConnId> = (0..3)
        .map(|i| sim.connect(&format!("s{i}"), true))
        .collect();
    // What each subscriber's session holds, per MQTT-3.8.4-3 (the last QoS wins) and
    // MQTT-3.10.4-1 (unsubscribing removes the filter).
    let mut model: Vec<BTreeMap<String, QoS>> = vec![BTreeMap::new(); 3];
    for (who, f, q, _) in subs {
        let codes = sim.subscribe(subscribers[*who], &[(f.as_str(), *q)]);
        prop_assert_eq!(codes, vec![SubscribeReturnCode::Granted(*q)]);
        model[*who].insert(f.clone(), *q);
    }
    for (who, f, _, unsubscribe) in subs {
        if *unsubscribe {
            let conn = subscribers[*who];
            sim.send(
                conn,
                Packet::Unsubscribe(Unsubscribe {
                    properties: None,
                    packet_id: pid(2),
                    filters: vec![filter(f)],
                }),
            );
            prop_assert_eq!(
                sim.recv_all(conn),
                vec![Packet::UnsubAck(UnsubAck::v311(pid(2)))]
            );
            model[*who].remove(f);
        }
    }
    let held: usize = model.iter().map(BTreeMap::len).sum();
    prop_assert_eq!(sim.broker.subscription_count(), held);

    let publisher = sim.connect("p", true);
    for (k, t) in topics.iter().enumerate() {
        // Published at QoS 2, so each copy arrives at exactly the QoS the index chose.
        sim.publish(
            publisher,
            t,
            &k.to_string(),
            QoS::ExactlyOnce,
            false,
            k as u16 + 1,
        );
    }
    for (who, conn) in subscribers.iter().enumerate() {
        let mut got: BTreeMap<usize, Vec<QoS>> = BTreeMap::new();
        for p in sim.publishes(*conn) {
            let k: usize = std::str::from_utf8(&p.payload)
                .expect("utf-8")
                .parse()
                .expect("index");
            got.entry(k).or_default().push(p.qos);
        }
        for (k, t) in topics.iter().enumerate() {
            // Section 3.3.5: one copy at the highest QoS among the matching filters.
            let want = model[who]
                .iter()
                .filter(|(f, _)| matches(&filter(f), &topic(t), parent))
                .map(|(_, q)| *q)
                .max();
            let copies = got.remove(&k).unwrap_or_default();
            prop_assert_eq!(
                copies,
                want.into_iter().collect::<Vec<_>>(),
                "s{} with {:?} for topic {:?}",
                who,
                model[who],
                t
            );
        }
    }
    Ok(())
}

/// The retained store is a second trie walked the other way (a filter against stored
/// topics); a new subscription must receive exactly the retained topics the reference
/// matcher says it matches.
fn check_retained(
    parent: HashMatchesParent,
    stored: &[String],
    filters: &[String],
) -> Result<(), TestCaseError> {
    let mut sim = Sim::new(quiet(parent));
    let publisher = sim.connect("p", true);
    for t in stored {
        sim.publish(publisher, t, t, QoS::AtMostOnce, true, 0);
    }
    let stored: BTreeSet<&String> = stored.iter().collect();
    prop_assert_eq!(sim.broker.retained_count(), stored.len());
    for (i, f) in filters.iter().enumerate() {
        let sub = sim.connect(&format!("s{i}"), true);
        sim.subscribe(sub, &[(f.as_str(), QoS::AtMostOnce)]);
        let mut got: Vec<String> = sim
            .publishes(sub)
            .into_iter()
            .map(|p| {
                assert!(p.retain, "MQTT-3.3.1-8: sent because of the subscription");
                String::from_utf8(p.payload.to_vec()).expect("utf-8")
            })
            .collect();
        got.sort();
        let want: Vec<String> = stored
            .iter()
            .filter(|t| matches(&filter(f), &topic(t), parent))
            .map(|t| t.to_string())
            .collect();
        prop_assert_eq!(got, want, "filter {:?}", f);
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn the_index_agrees_with_the_reference_matcher(
        parent in parent(),
        subs in proptest::collection::vec(
            (0usize..3, small_filter(), qos(), proptest::bool::weighted(0.2)),
            0..10,
        ),
        topics in proptest::collection::vec(small_topic(), 1..10),
    ) {
        check_index(parent, &subs, &topics)?;
    }

    #[test]
    fn the_retained_store_agrees_with_the_reference_matcher(
        parent in parent(),
        stored in proptest::collection::vec(small_topic(), 0..10),
        filters in proptest::collection::vec(small_filter(), 1..6),
    ) {
        check_retained(parent, &stored, &filters)?;
    }
}

#[test]
fn the_index_check_sees_wildcards_dollar_topics_and_both_parent_rules() {
    // A fixed case of the property, so that a broken checker cannot pass silently.
    let subs: Vec<Sub> = vec![
        (0, "a/#".into(), QoS::AtLeastOnce, false),
        (0, "+/b".into(), QoS::ExactlyOnce, false),
        (1, "#".into(), QoS::AtMostOnce, false),
        (2, "$s/+".into(), QoS::AtLeastOnce, false),
        (2, "a".into(), QoS::AtLeastOnce, true),
    ];
    let topics: Vec<String> = ["a", "a/b", "$s/a", "b//"].map(String::from).to_vec();
    for parent in [HashMatchesParent::Yes, HashMatchesParent::No] {
        check_index(parent, &subs, &topics).expect("agrees");
        check_retained(
            parent,
            &topics,
            &["a/#".into(), "+/+".into(), "$s/#".into()],
        )
        .expect("agrees");
    }
}
