//! The codec's happy path: every packet type survives encode then decode, a few packets
//! match bytes written out by hand from the specification, and the field spans the
//! inspector highlights are right and tile the packet.

mod support;

use broker_core::codec::{decode, decode_header};
use broker_core::*;
use bytes::Bytes;
use support::*;

/// Encodes `packet`, decodes it back, and checks that nothing was lost or left over.
/// The decode is done twice, with and without spans, because the span bookkeeping must
/// not change what is decoded.
fn roundtrip(packet: Packet) -> Vec<u8> {
    let bytes = packet.to_bytes().to_vec();
    let mut via_encode = Vec::new();
    packet.encode(&mut via_encode);
    assert_eq!(via_encode, bytes, "encode and to_bytes agree");

    let plain = decode(&bytes, ProtocolVersion::V311, usize::MAX, None);
    assert_eq!(
        plain,
        Ok(Some((packet.clone(), bytes.len()))),
        "{bytes:02x?}"
    );
    let mut spans = Vec::new();
    let spanned = decode(&bytes, ProtocolVersion::V311, usize::MAX, Some(&mut spans));
    assert_eq!(spanned, Ok(Some((packet.clone(), bytes.len()))));
    assert_tiles(&spans, bytes.len());

    // A second packet right behind the first is left alone: the decoder consumes
    // exactly one packet and says how long it was.
    let mut two = bytes.clone();
    two.extend_from_slice(&[0xC0, 0x00]);
    assert_eq!(
        decode(&two, ProtocolVersion::V311, usize::MAX, None),
        Ok(Some((packet, bytes.len())))
    );
    bytes
}

/// The spans start at byte 0, each begins where the previous one ended, and the last
/// one ends at the end of the packet: no gap, no overlap.
fn assert_tiles(spans: &[FieldSpan], len: usize) {
    assert!(spans.len() >= 2, "at least the fixed header's two fields");
    assert_eq!(spans[0].start, 0, "{spans:?}");
    for pair in spans.windows(2) {
        assert_eq!(pair[0].end, pair[1].start, "gap or overlap in {spans:?}");
    }
    for s in spans {
        assert!(s.start <= s.end, "{s:?}");
    }
    assert_eq!(spans.last().map(|s| s.end), Some(len), "{spans:?}");
}

fn span(field: &'static str, start: usize, end: usize) -> FieldSpan {
    FieldSpan { field, start, end }
}

fn will(topic_name: &str, payload: &'static [u8], qos: QoS, retain: bool) -> LastWill {
    LastWill {
        properties: Properties::new(),
        topic: topic(topic_name),
        payload: Bytes::from_static(payload),
        qos,
        retain,
    }
}

/// The CONNECT of the hand-written examples: every optional field present.
fn full_connect() -> Connect {
    Connect {
        version: ProtocolVersion::V311,
        properties: Properties::new(),
        clean_session: false,
        keep_alive: 10,
        client_id: "c1".into(),
        will: Some(will("w", b"bye", QoS::AtLeastOnce, true)),
        username: Some("u".into()),
        password: Some(Bytes::from_static(b"pw")),
    }
}

fn publish_packet(qos: QoS, dup: bool, retain: bool, id: Option<u16>, payload: &[u8]) -> Packet {
    Packet::Publish(Publish {
        properties: None,
        dup,
        qos,
        retain,
        topic: topic("a/b"),
        packet_id: id.map(pid),
        payload: Bytes::copy_from_slice(payload),
    })
}

// ----- round trips, one test per packet type ------------------------------------------

#[test]
fn connect_round_trips_with_and_without_optional_fields() {
    let bare = connect("a", true);
    roundtrip(Packet::Connect(bare.clone()));
    roundtrip(Packet::Connect(Connect {
        version: ProtocolVersion::V311,
        properties: Properties::new(),
        client_id: String::new(),
        keep_alive: u16::MAX,
        ..bare.clone()
    }));
    roundtrip(Packet::Connect(full_connect()));
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        for retain in [false, true] {
            roundtrip(Packet::Connect(Connect {
                version: ProtocolVersion::V311,
                properties: Properties::new(),
                will: Some(will("dev/1/status", b"", qos, retain)),
                ..bare.clone()
            }));
        }
    }
    roundtrip(Packet::Connect(Connect {
        version: ProtocolVersion::V311,
        properties: Properties::new(),
        username: Some("only-user".into()),
        ..bare.clone()
    }));
    // Passwords are binary data, not text (section 3.1.3.5).
    roundtrip(Packet::Connect(Connect {
        version: ProtocolVersion::V311,
        properties: Properties::new(),
        username: Some(String::new()),
        password: Some(Bytes::from_static(&[0x00, 0xFF, 0xED, 0xA0, 0x80])),
        ..bare.clone()
    }));
    // A long client id and a long will payload need a two-byte remaining length.
    roundtrip(Packet::Connect(Connect {
        version: ProtocolVersion::V311,
        properties: Properties::new(),
        client_id: "é".repeat(100),
        will: Some(LastWill {
            properties: Properties::new(),
            topic: topic("t"),
            payload: Bytes::from(vec![7u8; 300]),
            qos: QoS::ExactlyOnce,
            retain: false,
        }),
        ..bare
    }));
}

#[test]
fn connack_round_trips_with_every_return_code() {
    for code in [
        ConnectReturnCode::Accepted,
        ConnectReturnCode::UnacceptableProtocolVersion,
        ConnectReturnCode::IdentifierRejected,
        ConnectReturnCode::ServerUnavailable,
        ConnectReturnCode::BadUsernameOrPassword,
        ConnectReturnCode::NotAuthorized,
    ] {
        for session_present in [false, true] {
            let bytes = roundtrip(Packet::ConnAck(ConnAck {
                properties: None,
                session_present,
                code: code.into(),
            }));
            assert_eq!(bytes, [0x20, 2, u8::from(session_present), code as u8]);
        }
    }
}

#[test]
fn publish_round_trips_with_every_qos_dup_and_retain() {
    for retain in [false, true] {
        roundtrip(publish_packet(QoS::AtMostOnce, false, retain, None, b"x"));
        for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
            for dup in [false, true] {
                roundtrip(publish_packet(qos, dup, retain, Some(1), b"x"));
                roundtrip(publish_packet(qos, dup, retain, Some(u16::MAX), b""));
            }
        }
    }
}

#[test]
fn publish_round_trips_with_empty_and_large_payloads() {
    roundtrip(publish_packet(QoS::AtMostOnce, false, false, None, b""));
    // The body is the payload plus 7 bytes (topic "a/b" and a packet id), so these sizes
    // sit on both sides of the one-, two- and three-byte remaining lengths (table 2.4).
    for size in [120, 121, 198, 16_376, 16_377, 20_000] {
        let payload = vec![0xAB; size];
        roundtrip(publish_packet(
            QoS::AtLeastOnce,
            false,
            false,
            Some(9),
            &payload,
        ));
    }
}

#[test]
fn publish_topics_keep_empty_levels_dollar_and_unicode() {
    for t in ["/", "a//b", "$SYS/x", "ünï/cødé", "\u{FEFF}bom", "sp ace"] {
        roundtrip(Packet::Publish(Publish {
            properties: None,
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: topic(t),
            packet_id: None,
            payload: Bytes::from_static(b"p"),
        }));
    }
}

#[test]
fn mqtt_1_5_3_3_a_byte_order_mark_is_not_skipped() {
    // "\u{FEFF}bom" is EF BB BF then "bom"; the decoder keeps it as part of the topic.
    let bytes = [0x30, 8, 0, 6, 0xEF, 0xBB, 0xBF, b'b', b'o', b'm'];
    match decode(&bytes, ProtocolVersion::V311, usize::MAX, None) {
        Ok(Some((Packet::Publish(p), 10))) => assert_eq!(p.topic.as_str(), "\u{FEFF}bom"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_four_acknowledgements_round_trip_with_any_packet_id() {
    for id in [1, 2, 255, 256, 0x1234, u16::MAX] {
        let [hi, lo] = id.to_be_bytes();
        assert_eq!(roundtrip(Packet::puback(pid(id))), [0x40, 2, hi, lo]);
        assert_eq!(roundtrip(Packet::pubrec(pid(id))), [0x50, 2, hi, lo]);
        assert_eq!(roundtrip(Packet::pubrel(pid(id))), [0x62, 2, hi, lo]);
        assert_eq!(roundtrip(Packet::pubcomp(pid(id))), [0x70, 2, hi, lo]);
    }
}

#[test]
fn subscribe_round_trips_with_one_and_several_filters() {
    roundtrip(Packet::Subscribe(Subscribe {
        properties: None,
        packet_id: pid(1),
        filters: vec![(filter("a"), QoS::AtMostOnce.into())],
    }));
    roundtrip(Packet::Subscribe(Subscribe {
        properties: None,
        packet_id: pid(u16::MAX),
        filters: vec![
            (filter("#"), QoS::AtMostOnce.into()),
            (filter("a/+/c"), QoS::AtLeastOnce.into()),
            (filter("$SYS/#"), QoS::ExactlyOnce.into()),
            (filter("/"), QoS::ExactlyOnce.into()),
            (filter("+/+"), QoS::AtLeastOnce.into()),
            // The same filter twice is legal on the wire; the engine lets the last win.
            (filter("a/+/c"), QoS::ExactlyOnce.into()),
        ],
    }));
}

#[test]
fn suback_round_trips_with_granted_and_failure_codes() {
    roundtrip(Packet::SubAck(SubAck {
        properties: None,
        packet_id: pid(1),
        codes: vec![SubscribeReturnCode::Granted(QoS::AtMostOnce)],
    }));
    roundtrip(Packet::SubAck(SubAck {
        properties: None,
        packet_id: pid(7),
        codes: vec![
            SubscribeReturnCode::Granted(QoS::ExactlyOnce),
            SubscribeReturnCode::Failure,
            SubscribeReturnCode::Granted(QoS::AtLeastOnce),
            SubscribeReturnCode::Failure,
        ],
    }));
}

#[test]
fn unsubscribe_round_trips_with_one_and_several_filters() {
    roundtrip(Packet::Unsubscribe(Unsubscribe {
        properties: None,
        packet_id: pid(3),
        filters: vec![filter("a/b")],
    }));
    roundtrip(Packet::Unsubscribe(Unsubscribe {
        properties: None,
        packet_id: pid(4),
        filters: vec![filter("#"), filter("+"), filter("a//b"), filter("x/#")],
    }));
}

#[test]
fn unsuback_round_trips() {
    assert_eq!(
        roundtrip(Packet::UnsubAck(UnsubAck::v311(pid(2)))),
        [0xB0, 2, 0, 2]
    );
}

#[test]
fn mqtt_3_12_1_pingreq_is_c0_00() {
    assert_eq!(roundtrip(Packet::PingReq), [0xC0, 0x00]);
}

#[test]
fn mqtt_3_13_1_pingresp_is_d0_00() {
    assert_eq!(roundtrip(Packet::PingResp), [0xD0, 0x00]);
}

#[test]
fn mqtt_3_14_1_disconnect_is_e0_00() {
    assert_eq!(roundtrip(Packet::disconnect()), [0xE0, 0x00]);
}

#[test]
fn packet_type_and_name_match_table_2_1() {
    let cases = [
        (Packet::Connect(connect("a", true)), 1, "CONNECT"),
        (
            Packet::ConnAck(ConnAck {
                properties: None,
                session_present: false,
                code: ConnectReturnCode::Accepted.into(),
            }),
            2,
            "CONNACK",
        ),
        (
            publish_packet(QoS::AtMostOnce, false, false, None, b""),
            3,
            "PUBLISH",
        ),
        (Packet::puback(pid(1)), 4, "PUBACK"),
        (Packet::pubrec(pid(1)), 5, "PUBREC"),
        (Packet::pubrel(pid(1)), 6, "PUBREL"),
        (Packet::pubcomp(pid(1)), 7, "PUBCOMP"),
        (
            Packet::Subscribe(Subscribe {
                properties: None,
                packet_id: pid(1),
                filters: vec![(filter("a"), QoS::AtMostOnce.into())],
            }),
            8,
            "SUBSCRIBE",
        ),
        (
            Packet::SubAck(SubAck {
                properties: None,
                packet_id: pid(1),
                codes: vec![SubscribeReturnCode::Failure],
            }),
            9,
            "SUBACK",
        ),
        (
            Packet::Unsubscribe(Unsubscribe {
                properties: None,
                packet_id: pid(1),
                filters: vec![filter("a")],
            }),
            10,
            "UNSUBSCRIBE",
        ),
        (Packet::UnsubAck(UnsubAck::v311(pid(1))), 11, "UNSUBACK"),
        (Packet::PingReq, 12, "PINGREQ"),
        (Packet::PingResp, 13, "PINGRESP"),
        (Packet::disconnect(), 14, "DISCONNECT"),
    ];
    for (packet, number, name) in cases {
        assert_eq!(packet.packet_type() as u8, number);
        assert_eq!(packet.packet_type().name(), name);
        assert_eq!(packet.to_bytes()[0] >> 4, number, "{name}");
        roundtrip(packet);
    }
}

// ----- exact wire bytes, written out from the specification -----------------------------

#[test]
fn connect_minimal_matches_hand_written_bytes() {
    // Section 3.1: protocol name "MQTT", level 4, flags 0x02 (clean session), keep-alive
    // 60, client id "a".
    let want = [
        0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 1, b'a',
    ];
    let c = Connect {
        version: ProtocolVersion::V311,
        properties: Properties::new(),
        keep_alive: 60,
        ..connect("a", true)
    };
    assert_eq!(roundtrip(Packet::Connect(c)), want);
}

#[test]
fn connect_with_every_field_matches_hand_written_bytes() {
    // Flags: user name 0x80 | password 0x40 | will retain 0x20 | will QoS 1 0x08 |
    // will flag 0x04 = 0xEC; clean session is 0. The payload order is fixed by section
    // 3.1.3: client id, will topic, will message, user name, password.
    let want = [
        0x10, 29, // fixed header
        0, 4, b'M', b'Q', b'T', b'T', 4, 0xEC, 0, 10, // variable header
        0, 2, b'c', b'1', // client identifier
        0, 1, b'w', // will topic
        0, 3, b'b', b'y', b'e', // will message
        0, 1, b'u', // user name
        0, 2, b'p', b'w', // password
    ];
    assert_eq!(roundtrip(Packet::Connect(full_connect())), want);
}

#[test]
fn publish_qos_1_matches_hand_written_bytes() {
    // 0x32: PUBLISH, QoS 1. Topic "a/b", packet id 10, payload "hi".
    let want = [0x32, 9, 0, 3, b'a', b'/', b'b', 0, 10, b'h', b'i'];
    assert_eq!(
        roundtrip(publish_packet(
            QoS::AtLeastOnce,
            false,
            false,
            Some(10),
            b"hi"
        )),
        want
    );
}

#[test]
fn publish_qos_0_has_no_packet_id_on_the_wire() {
    // MQTT-2.3.1-5: a QoS 0 PUBLISH carries no packet identifier.
    let want = [0x30, 7, 0, 3, b'a', b'/', b'b', b'h', b'i'];
    assert_eq!(
        roundtrip(publish_packet(QoS::AtMostOnce, false, false, None, b"hi")),
        want
    );
}

#[test]
fn publish_flags_are_dup_qos_retain_in_bits_3_to_0() {
    // Section 3.3.1: DUP is bit 3, QoS bits 2-1, RETAIN bit 0. 0x3D = DUP, QoS 2, RETAIN.
    let bytes = roundtrip(publish_packet(QoS::ExactlyOnce, true, true, Some(1), b""));
    assert_eq!(bytes[0], 0x3D);
    let bytes = roundtrip(publish_packet(QoS::AtMostOnce, false, true, None, b""));
    assert_eq!(bytes[0], 0x31);
    let bytes = roundtrip(publish_packet(QoS::AtLeastOnce, true, false, Some(1), b""));
    assert_eq!(bytes[0], 0x3A);
}

#[test]
fn remaining_length_of_200_takes_two_bytes() {
    // Table 2.4: 203 = 0x4B + 1 * 128, written CB 01.
    let bytes = roundtrip(publish_packet(
        QoS::AtMostOnce,
        false,
        false,
        None,
        &[0; 198],
    ));
    assert_eq!(&bytes[..3], [0x30, 0xCB, 0x01]);
    assert_eq!(bytes.len(), 3 + 203);
    let header = decode_header(&bytes, usize::MAX)
        .expect("valid")
        .expect("complete");
    assert_eq!(
        (header.header_len, header.remaining_len, header.packet_len()),
        (3, 203, 206)
    );
}

#[test]
fn subscribe_matches_hand_written_bytes() {
    // MQTT-3.8.1-1: SUBSCRIBE carries flags 0010, so the first byte is 0x82.
    let want = [
        0x82, 12, 0, 1, // packet id 1
        0, 3, b'a', b'/', b'+', 1, // "a/+" at QoS 1
        0, 1, b'#', 2, // "#" at QoS 2
    ];
    let packet = Packet::Subscribe(Subscribe {
        properties: None,
        packet_id: pid(1),
        filters: vec![
            (filter("a/+"), QoS::AtLeastOnce.into()),
            (filter("#"), QoS::ExactlyOnce.into()),
        ],
    });
    assert_eq!(roundtrip(packet), want);
}

#[test]
fn suback_with_failure_0x80_matches_hand_written_bytes() {
    let want = [0x90, 5, 0, 1, 0x01, 0x80, 0x00];
    let packet = Packet::SubAck(SubAck {
        properties: None,
        packet_id: pid(1),
        codes: vec![
            SubscribeReturnCode::Granted(QoS::AtLeastOnce),
            SubscribeReturnCode::Failure,
            SubscribeReturnCode::Granted(QoS::AtMostOnce),
        ],
    });
    assert_eq!(roundtrip(packet), want);
}

#[test]
fn unsubscribe_matches_hand_written_bytes() {
    // MQTT-3.10.1-1: flags 0010, first byte 0xA2.
    let want = [0xA2, 7, 0, 2, 0, 3, b'a', b'/', b'b'];
    let packet = Packet::Unsubscribe(Unsubscribe {
        properties: None,
        packet_id: pid(2),
        filters: vec![filter("a/b")],
    });
    assert_eq!(roundtrip(packet), want);
}

#[test]
fn connack_session_present_matches_hand_written_bytes() {
    let packet = Packet::ConnAck(ConnAck {
        properties: None,
        session_present: true,
        code: ConnectReturnCode::Accepted.into(),
    });
    assert_eq!(roundtrip(packet), [0x20, 2, 1, 0]);
}

// ----- spans -------------------------------------------------------------------------------

#[test]
fn connect_spans_name_every_field_and_its_bytes() {
    let bytes = Packet::Connect(full_connect()).to_bytes();
    let mut spans = Vec::new();
    let decoded = decode(&bytes, ProtocolVersion::V311, usize::MAX, Some(&mut spans));
    assert!(matches!(decoded, Ok(Some((Packet::Connect(_), 31)))));
    assert_eq!(
        spans,
        [
            span("packet type and flags", 0, 1),
            span("remaining length", 1, 2),
            span("protocol name", 2, 8),
            span("protocol level", 8, 9),
            span("connect flags", 9, 10),
            span("keep alive", 10, 12),
            span("client identifier", 12, 16),
            span("will topic", 16, 19),
            span("will message", 19, 24),
            span("user name", 24, 27),
            span("password", 27, 31),
        ]
    );
    // The spans point at the right bytes, length prefix included.
    assert_eq!(&bytes[spans[6].start..spans[6].end], [0, 2, b'c', b'1']);
    assert_eq!(&bytes[spans[10].start..spans[10].end], [0, 2, b'p', b'w']);
}

#[test]
fn connect_spans_without_optional_fields_stop_at_the_client_id() {
    let bytes = Packet::Connect(connect("abc", true)).to_bytes();
    let mut spans = Vec::new();
    decode(&bytes, ProtocolVersion::V311, usize::MAX, Some(&mut spans)).expect("valid");
    let fields: Vec<&str> = spans.iter().map(|s| s.field).collect();
    assert_eq!(
        fields,
        [
            "packet type and flags",
            "remaining length",
            "protocol name",
            "protocol level",
            "connect flags",
            "keep alive",
            "client identifier",
        ]
    );
    assert_tiles(&spans, bytes.len());
}

#[test]
fn publish_spans_name_every_field_and_its_bytes() {
    let bytes = publish_packet(QoS::AtLeastOnce, false, false, Some(10), b"hi").to_bytes();
    let mut spans = Vec::new();
    decode(&bytes, ProtocolVersion::V311, usize::MAX, Some(&mut spans)).expect("valid");
    assert_eq!(
        spans,
        [
            span("packet type and flags", 0, 1),
            span("remaining length", 1, 2),
            span("topic name", 2, 7),
            span("packet id", 7, 9),
            span("payload", 9, 11),
        ]
    );
}

#[test]
fn publish_spans_follow_a_multi_byte_remaining_length() {
    let bytes = publish_packet(QoS::AtMostOnce, false, false, None, &[1; 198]).to_bytes();
    let mut spans = Vec::new();
    decode(&bytes, ProtocolVersion::V311, usize::MAX, Some(&mut spans)).expect("valid");
    assert_eq!(
        spans,
        [
            span("packet type and flags", 0, 1),
            span("remaining length", 1, 3),
            span("topic name", 3, 8),
            span("payload", 8, 206),
        ]
    );
}

#[test]
fn an_empty_payload_has_an_empty_span_at_the_end() {
    let bytes = publish_packet(QoS::AtMostOnce, false, false, None, b"").to_bytes();
    let mut spans = Vec::new();
    decode(&bytes, ProtocolVersion::V311, usize::MAX, Some(&mut spans)).expect("valid");
    assert_eq!(spans.last(), Some(&span("payload", 7, 7)));
    assert_tiles(&spans, bytes.len());
}

#[test]
fn spans_of_every_packet_type_tile_the_packet() {
    let packets = [
        Packet::Connect(full_connect()),
        Packet::Connect(connect("", true)),
        Packet::ConnAck(ConnAck {
            properties: None,
            session_present: true,
            code: ConnectReturnCode::NotAuthorized.into(),
        }),
        publish_packet(QoS::ExactlyOnce, true, true, Some(5), &[9; 300]),
        Packet::puback(pid(1)),
        Packet::pubrec(pid(2)),
        Packet::pubrel(pid(3)),
        Packet::pubcomp(pid(4)),
        Packet::Subscribe(Subscribe {
            properties: None,
            packet_id: pid(5),
            filters: vec![
                (filter("a/#"), QoS::ExactlyOnce.into()),
                (filter("+"), QoS::AtMostOnce.into()),
            ],
        }),
        Packet::SubAck(SubAck {
            properties: None,
            packet_id: pid(5),
            codes: vec![
                SubscribeReturnCode::Granted(QoS::ExactlyOnce),
                SubscribeReturnCode::Failure,
            ],
        }),
        Packet::Unsubscribe(Unsubscribe {
            properties: None,
            packet_id: pid(6),
            filters: vec![filter("a/#"), filter("+")],
        }),
        Packet::UnsubAck(UnsubAck::v311(pid(6))),
        Packet::PingReq,
        Packet::PingResp,
        Packet::disconnect(),
    ];
    for packet in packets {
        let bytes = packet.to_bytes();
        let mut spans = Vec::new();
        decode(&bytes, ProtocolVersion::V311, usize::MAX, Some(&mut spans)).expect("valid");
        assert_tiles(&spans, bytes.len());
    }
}

#[test]
fn subscribe_spans_alternate_filter_and_requested_qos() {
    let packet = Packet::Subscribe(Subscribe {
        properties: None,
        packet_id: pid(1),
        filters: vec![
            (filter("a/+"), QoS::AtLeastOnce.into()),
            (filter("#"), QoS::ExactlyOnce.into()),
        ],
    });
    let bytes = packet.to_bytes();
    let mut spans = Vec::new();
    decode(&bytes, ProtocolVersion::V311, usize::MAX, Some(&mut spans)).expect("valid");
    assert_eq!(
        spans,
        [
            span("packet type and flags", 0, 1),
            span("remaining length", 1, 2),
            span("packet id", 2, 4),
            span("topic filter", 4, 9),
            span("requested QoS", 9, 10),
            span("topic filter", 10, 13),
            span("requested QoS", 13, 14),
        ]
    );
}
