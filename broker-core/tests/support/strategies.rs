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
    connect_in(ProtocolVersion::V311)
}

/// A CONNECT of `version`; in 5.0 with properties, on the Will too.
pub fn connect_in(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let v5 = version == ProtocolVersion::V5;
    let will = (
        topic_name(),
        binary(),
        qos(),
        any::<bool>(),
        properties_of(WILL, v5),
    )
        .prop_map(|(topic, payload, qos, retain, properties)| LastWill {
            topic,
            payload,
            qos,
            retain,
            properties,
        });
    // The password flag needs the user name flag in 3.1.1 (MQTT-3.1.2-22); 5.0 allows a
    // password alone.
    let credentials =
        (proptest::option::of(text()), proptest::option::of(binary())).prop_map(move |(u, p)| {
            if v5 || u.is_some() {
                (u, p)
            } else {
                (None, None)
            }
        });
    (
        any::<bool>(),
        any::<u16>(),
        text(),
        proptest::option::of(will),
        credentials,
        properties_of(PacketType::Connect, v5),
    )
        .prop_map(
            move |(
                clean_session,
                keep_alive,
                client_id,
                will,
                (username, password),
                properties,
            )| {
                let mut c = Connect::new(version, &client_id, clean_session);
                c.keep_alive = keep_alive;
                c.will = will;
                c.username = username;
                c.password = password;
                c.properties = properties;
                Packet::Connect(c)
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
    publish_in(ProtocolVersion::V311)
}

/// A PUBLISH of `version`; in 5.0 with properties.
pub fn publish_in(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let v5 = version == ProtocolVersion::V5;
    (
        qos(),
        any::<bool>(),
        any::<bool>(),
        topic_name(),
        packet_id(),
        binary(),
        properties_of(PacketType::Publish, v5),
    )
        .prop_map(move |(qos, dup, retain, topic, id, payload, properties)| {
            // A packet id and DUP exist only above QoS 0 (MQTT-2.3.1-5, MQTT-3.3.1-2).
            let at_most_once = qos == QoS::AtMostOnce;
            let mut p = Publish::v311(topic, qos, retain, (!at_most_once).then_some(id), payload);
            p.dup = dup && !at_most_once;
            p.properties = v5.then_some(properties);
            Packet::Publish(p)
        })
}

pub fn suback_code() -> impl Strategy<Value = SubscribeReturnCode> {
    prop_oneof![
        qos().prop_map(SubscribeReturnCode::Granted),
        Just(SubscribeReturnCode::Failure)
    ]
}

/// Any well-formed MQTT 3.1.1 packet of any of the fourteen types.
pub fn any_packet() -> impl Strategy<Value = Packet> {
    prop_oneof![
        connect_packet(),
        (any::<bool>(), return_code()).prop_map(|(session_present, code)| Packet::ConnAck(
            ConnAck::v311(session_present, code)
        )),
        publish_packet(),
        packet_id().prop_map(Packet::puback),
        packet_id().prop_map(Packet::pubrec),
        packet_id().prop_map(Packet::pubrel),
        packet_id().prop_map(Packet::pubcomp),
        (
            packet_id(),
            proptest::collection::vec((topic_filter(), qos()), 1..5)
        )
            .prop_map(|(packet_id, filters)| Packet::Subscribe(Subscribe::v311(
                packet_id, filters
            ))),
        (packet_id(), proptest::collection::vec(suback_code(), 1..5)).prop_map(
            |(packet_id, codes)| Packet::SubAck(SubAck {
                packet_id,
                codes,
                properties: None
            })
        ),
        (packet_id(), proptest::collection::vec(topic_filter(), 1..5)).prop_map(
            |(packet_id, filters)| Packet::Unsubscribe(Unsubscribe::v311(packet_id, filters))
        ),
        packet_id().prop_map(|id| Packet::UnsubAck(UnsubAck::v311(id))),
        Just(Packet::PingReq),
        Just(Packet::PingResp),
        Just(Packet::disconnect()),
    ]
}

// ----- MQTT 5.0 -----------------------------------------------------------------------

/// Where the Will's properties sit, for `properties_of`: CONNECT's packet type is taken
/// by CONNECT's own properties, so the Will is named by a type that has none.
pub const WILL: PacketType = PacketType::PingReq;

/// The Reason Codes table 2-6 allows in `packet`.
pub fn reason_in(packet: PacketType) -> impl Strategy<Value = ReasonCode> {
    let codes: Vec<ReasonCode> = (0..=255u8)
        .map(ReasonCode)
        .filter(|c| c.name_in(packet).is_some())
        .collect();
    proptest::sample::select(codes)
}

fn flag() -> impl Strategy<Value = u8> {
    0u8..=1
}

/// One property that may appear in `place` (table 2-4), with a valid value. Each place
/// draws from its own list; `user` adds User Property where it is allowed.
fn property_in(place: PacketType) -> BoxedStrategy<Property> {
    use PacketType as T;
    use Property as P;
    let user = (text(), text())
        .prop_map(|(k, v)| P::UserProperty(k, v))
        .boxed();
    let reason = text().prop_map(P::ReasonString).boxed();
    let response_topic = topic_name().prop_map(|t| P::ResponseTopic(t.as_str().to_owned()));
    let mut options: Vec<BoxedStrategy<Property>> = vec![user];
    match place {
        WILL => {
            options.push(any::<u32>().prop_map(P::WillDelayInterval).boxed());
            options.push(flag().prop_map(P::PayloadFormatIndicator).boxed());
            options.push(any::<u32>().prop_map(P::MessageExpiryInterval).boxed());
            options.push(text().prop_map(P::ContentType).boxed());
            options.push(response_topic.boxed());
            options.push(binary().prop_map(P::CorrelationData).boxed());
        }
        T::Connect => {
            options.push(any::<u32>().prop_map(P::SessionExpiryInterval).boxed());
            options.push((1u16..).prop_map(P::ReceiveMaximum).boxed());
            options.push((1u32..).prop_map(P::MaximumPacketSize).boxed());
            options.push(any::<u16>().prop_map(P::TopicAliasMaximum).boxed());
            options.push(flag().prop_map(P::RequestResponseInformation).boxed());
            options.push(flag().prop_map(P::RequestProblemInformation).boxed());
            options.push(text().prop_map(P::AuthenticationMethod).boxed());
            options.push(binary().prop_map(P::AuthenticationData).boxed());
        }
        T::ConnAck => {
            options.push(any::<u32>().prop_map(P::SessionExpiryInterval).boxed());
            options.push((1u16..).prop_map(P::ReceiveMaximum).boxed());
            options.push(flag().prop_map(P::MaximumQoS).boxed());
            options.push(flag().prop_map(P::RetainAvailable).boxed());
            options.push((1u32..).prop_map(P::MaximumPacketSize).boxed());
            options.push(text().prop_map(P::AssignedClientIdentifier).boxed());
            options.push(any::<u16>().prop_map(P::TopicAliasMaximum).boxed());
            options.push(reason);
            options.push(flag().prop_map(P::WildcardSubscriptionAvailable).boxed());
            options.push(flag().prop_map(P::SubscriptionIdentifierAvailable).boxed());
            options.push(flag().prop_map(P::SharedSubscriptionAvailable).boxed());
            options.push(any::<u16>().prop_map(P::ServerKeepAlive).boxed());
            options.push(text().prop_map(P::ResponseInformation).boxed());
            options.push(text().prop_map(P::ServerReference).boxed());
        }
        T::Publish => {
            options.push(flag().prop_map(P::PayloadFormatIndicator).boxed());
            options.push(any::<u32>().prop_map(P::MessageExpiryInterval).boxed());
            options.push((1u16..).prop_map(P::TopicAlias).boxed());
            options.push(response_topic.boxed());
            options.push(binary().prop_map(P::CorrelationData).boxed());
            options.push(
                (1u32..=268_435_455)
                    .prop_map(P::SubscriptionIdentifier)
                    .boxed(),
            );
            options.push(text().prop_map(P::ContentType).boxed());
        }
        T::Subscribe => {
            options.push(
                (1u32..=268_435_455)
                    .prop_map(P::SubscriptionIdentifier)
                    .boxed(),
            );
        }
        T::Disconnect => {
            options.push(any::<u32>().prop_map(P::SessionExpiryInterval).boxed());
            options.push(reason);
            options.push(text().prop_map(P::ServerReference).boxed());
        }
        T::Auth => {
            options.push(text().prop_map(P::AuthenticationMethod).boxed());
            options.push(binary().prop_map(P::AuthenticationData).boxed());
            options.push(reason);
        }
        T::Unsubscribe => {}
        _ => options.push(reason),
    }
    proptest::strategy::Union::new(options).boxed()
}

/// Properties for `place`: none in 3.1.1 (`v5` false); in 5.0 up to five, each at most
/// once except those that may repeat.
pub fn properties_of(place: PacketType, v5: bool) -> BoxedStrategy<Properties> {
    if !v5 {
        return Just(Properties::new()).boxed();
    }
    proptest::collection::vec(property_in(place), 0..5)
        .prop_map(move |all| {
            let mut kept: Vec<Property> = Vec::new();
            for p in all {
                let repeats = matches!(p, Property::UserProperty(..))
                    || (place == PacketType::Publish
                        && matches!(p, Property::SubscriptionIdentifier(_)));
                if repeats || kept.iter().all(|k| k.id() != p.id()) {
                    kept.push(p);
                }
            }
            Properties(kept)
        })
        .boxed()
}

fn subscription_options() -> impl Strategy<Value = SubscriptionOptions> {
    let handling = proptest::sample::select(vec![
        RetainHandling::OnSubscribe,
        RetainHandling::OnNewSubscription,
        RetainHandling::Never,
    ]);
    (qos(), any::<bool>(), any::<bool>(), handling).prop_map(|(qos, no_local, rap, handling)| {
        SubscriptionOptions {
            qos,
            no_local,
            retain_as_published: rap,
            retain_handling: handling,
        }
    })
}

fn ack_v5(packet: PacketType) -> impl Strategy<Value = Ack> {
    (packet_id(), reason_in(packet), properties_of(packet, true)).prop_map(
        |(packet_id, reason, properties)| Ack {
            packet_id,
            reason,
            properties,
        },
    )
}

/// Any well-formed MQTT 5.0 packet of any of the fifteen types, with properties.
pub fn any_packet_v5() -> impl Strategy<Value = Packet> {
    use PacketType as T;
    let v5 = ProtocolVersion::V5;
    prop_oneof![
        connect_in(v5),
        (
            any::<bool>(),
            reason_in(T::ConnAck),
            properties_of(T::ConnAck, true)
        )
            .prop_map(
                |(session_present, code, properties)| Packet::ConnAck(ConnAck {
                    // Session Present is 0 with a refusal (MQTT-3.2.2-6).
                    session_present: session_present && !code.is_error(),
                    code,
                    properties: Some(properties),
                })
            ),
        publish_in(v5),
        ack_v5(T::PubAck).prop_map(Packet::PubAck),
        ack_v5(T::PubRec).prop_map(Packet::PubRec),
        ack_v5(T::PubRel).prop_map(Packet::PubRel),
        ack_v5(T::PubComp).prop_map(Packet::PubComp),
        (
            packet_id(),
            proptest::collection::vec((topic_filter(), subscription_options()), 1..5),
            properties_of(T::Subscribe, true)
        )
            .prop_map(
                |(packet_id, filters, properties)| Packet::Subscribe(Subscribe {
                    packet_id,
                    filters,
                    properties: Some(properties)
                })
            ),
        (
            packet_id(),
            proptest::collection::vec(reason_in(T::SubAck), 1..5),
            properties_of(T::SubAck, true)
        )
            .prop_map(|(packet_id, codes, properties)| Packet::SubAck(SubAck {
                packet_id,
                codes: codes
                    .into_iter()
                    .map(SubscribeReturnCode::from_reason)
                    .collect(),
                properties: Some(properties),
            })),
        (
            packet_id(),
            proptest::collection::vec(topic_filter(), 1..5),
            properties_of(T::Unsubscribe, true)
        )
            .prop_map(|(packet_id, filters, properties)| Packet::Unsubscribe(
                Unsubscribe {
                    packet_id,
                    filters,
                    properties: Some(properties)
                }
            )),
        (
            packet_id(),
            proptest::collection::vec(reason_in(T::UnsubAck), 1..5),
            properties_of(T::UnsubAck, true)
        )
            .prop_map(|(packet_id, codes, properties)| Packet::UnsubAck(UnsubAck {
                packet_id,
                codes,
                properties: Some(properties),
            })),
        Just(Packet::PingReq),
        Just(Packet::PingResp),
        (reason_in(T::Disconnect), properties_of(T::Disconnect, true))
            .prop_map(|(reason, properties)| Packet::Disconnect(Disconnect { reason, properties })),
        (reason_in(T::Auth), properties_of(T::Auth, true))
            .prop_map(|(reason, properties)| Packet::Auth(Auth { reason, properties })),
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
