//! Shared by the property tests: the case count, and strategies for well-formed packets.

#![allow(dead_code)]

use broker_core::*;
use bytes::Bytes;
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;

use crate::support::pid;

/// `n` cases, or `PROPTEST_CASES` from the environment for a longer soak.
pub fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(n),
        // Regressions are turned into named tests by hand rather than kept in files.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ----- strategies for well-formed packets ------------------------------------------------

pub fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

pub fn packet_id() -> impl Strategy<Value = PacketId> {
    prop_oneof![Just(1u16), Just(u16::MAX), 1u16..=u16::MAX].prop_map(pid)
}

/// Text without U+0000 (any other character, including non-ASCII and the BOM).
pub fn text() -> impl Strategy<Value = String> {
    "[^\\x00]{0,12}"
}

pub fn binary() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..24),
        1 => proptest::collection::vec(any::<u8>(), 100..400),
    ]
    .prop_map(Bytes::from)
}

/// A level of a topic name: free text without `/`, wildcards or U+0000, often short
/// and often repeated so that empty levels and `$` show up.
pub fn name_level() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(vec!["a", "b", "", "$SYS", "é"]).prop_map(String::from),
        1 => "[^/+#\\x00]{0,6}",
    ]
}

pub fn topic_name() -> impl Strategy<Value = TopicName> {
    proptest::collection::vec(name_level(), 1..5).prop_filter_map("not a topic name", |levels| {
        TopicName::new(&levels.join("/")).ok()
    })
}

pub fn topic_filter() -> impl Strategy<Value = TopicFilter> {
    let level = prop_oneof![3 => name_level(), 1 => Just("+".to_owned())];
    (proptest::collection::vec(level, 0..4), any::<bool>()).prop_filter_map(
        "not a topic filter",
        |(mut levels, hash)| {
            if hash {
                levels.push("#".into());
            }
            TopicFilter::new(&levels.join("/")).ok()
        },
    )
}

pub fn connect_packet() -> impl Strategy<Value = Packet> {
    let will =
        (topic_name(), binary(), qos(), any::<bool>()).prop_map(|(topic, payload, qos, retain)| {
            LastWill {
                topic,
                payload,
                qos,
                retain,
            }
        });
    // The password flag needs the user name flag (MQTT-3.1.2-22).
    let credentials = proptest::option::of((text(), proptest::option::of(binary())));
    (
        any::<bool>(),
        any::<u16>(),
        text(),
        proptest::option::of(will),
        credentials,
    )
        .prop_map(
            |(clean_session, keep_alive, client_id, will, credentials)| {
                let (username, password) = match credentials {
                    Some((u, p)) => (Some(u), p),
                    None => (None, None),
                };
                Packet::Connect(Connect {
                    clean_session,
                    keep_alive,
                    client_id,
                    will,
                    username,
                    password,
                })
            },
        )
}

pub fn return_code() -> impl Strategy<Value = ConnectReturnCode> {
    proptest::sample::select(vec![
        ConnectReturnCode::Accepted,
        ConnectReturnCode::UnacceptableProtocolVersion,
        ConnectReturnCode::IdentifierRejected,
        ConnectReturnCode::ServerUnavailable,
        ConnectReturnCode::BadUsernameOrPassword,
        ConnectReturnCode::NotAuthorized,
    ])
}

pub fn publish_packet() -> impl Strategy<Value = Packet> {
    (
        qos(),
        any::<bool>(),
        any::<bool>(),
        topic_name(),
        packet_id(),
        binary(),
    )
        .prop_map(|(qos, dup, retain, topic, id, payload)| {
            // A packet id and DUP exist only above QoS 0 (MQTT-2.3.1-5, MQTT-3.3.1-2).
            let at_most_once = qos == QoS::AtMostOnce;
            Packet::Publish(Publish {
                dup: dup && !at_most_once,
                qos,
                retain,
                topic,
                packet_id: (!at_most_once).then_some(id),
                payload,
            })
        })
}

pub fn suback_code() -> impl Strategy<Value = SubscribeReturnCode> {
    prop_oneof![
        qos().prop_map(SubscribeReturnCode::Granted),
        Just(SubscribeReturnCode::Failure)
    ]
}

/// Any well-formed packet of any of the fourteen types.
pub fn any_packet() -> impl Strategy<Value = Packet> {
    prop_oneof![
        connect_packet(),
        (any::<bool>(), return_code()).prop_map(|(session_present, code)| {
            Packet::ConnAck(ConnAck {
                session_present,
                code,
            })
        }),
        publish_packet(),
        packet_id().prop_map(Packet::PubAck),
        packet_id().prop_map(Packet::PubRec),
        packet_id().prop_map(Packet::PubRel),
        packet_id().prop_map(Packet::PubComp),
        (
            packet_id(),
            proptest::collection::vec((topic_filter(), qos()), 1..5)
        )
            .prop_map(|(packet_id, filters)| Packet::Subscribe(Subscribe { packet_id, filters })),
        (packet_id(), proptest::collection::vec(suback_code(), 1..5))
            .prop_map(|(packet_id, codes)| Packet::SubAck(SubAck { packet_id, codes })),
        (packet_id(), proptest::collection::vec(topic_filter(), 1..5)).prop_map(
            |(packet_id, filters)| Packet::Unsubscribe(Unsubscribe { packet_id, filters })
        ),
        packet_id().prop_map(Packet::UnsubAck),
        Just(Packet::PingReq),
        Just(Packet::PingResp),
        Just(Packet::Disconnect),
    ]
}

pub fn assert_spans_tile(spans: &[FieldSpan], len: usize) -> Result<(), TestCaseError> {
    prop_assert_eq!(spans.first().map(|s| s.start), Some(0));
    for pair in spans.windows(2) {
        prop_assert_eq!(pair[0].end, pair[1].start, "{:?}", spans);
    }
    prop_assert_eq!(spans.last().map(|s| s.end), Some(len));
    Ok(())
}
