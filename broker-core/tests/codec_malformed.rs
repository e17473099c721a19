//! Malformed input: one test per way the codec names for bytes to be wrong, each
//! asserting the exact `DecodeError`, and the line between "need more bytes" (`Ok(None)`)
//! and "malformed" (`Err`).

mod support;

use broker_core::codec::decode;
use broker_core::topic::TopicError;
use broker_core::*;
use bytes::Bytes;
use support::*;

/// A packet with `first` as its first byte and `body` after a one-byte remaining length.
fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    assert!(body.len() < 128, "test bodies stay short");
    let mut out = vec![first, body.len() as u8];
    out.extend_from_slice(body);
    out
}

/// A length-prefixed string or binary field.
fn field(data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(data);
    out
}

/// A CONNECT "MQTT" level 4 with keep-alive 60, the given flags, and `payload` after the
/// variable header.
fn connect_bytes(flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut body = field(b"MQTT");
    body.extend_from_slice(&[4, flags, 0, 60]);
    body.extend_from_slice(payload);
    packet(0x10, &body)
}

fn fields(parts: &[&[u8]]) -> Vec<u8> {
    parts.iter().flat_map(|p| field(p)).collect()
}

fn err(bytes: &[u8]) -> DecodeError {
    match decode(bytes, ProtocolVersion::V311, usize::MAX, None) {
        Err(e) => e,
        Ok(other) => panic!("expected an error for {bytes:02x?}, got {other:?}"),
    }
}

/// Asserts that `bytes` is malformed with `want`, and that every strict prefix that gets
/// past the first byte is either still "need more bytes" or already the same error: the
/// verdict never changes as more bytes arrive.
fn assert_malformed(bytes: &[u8], want: DecodeError) {
    assert_eq!(err(bytes), want, "{bytes:02x?}");
    for end in 0..bytes.len() {
        match decode(&bytes[..end], ProtocolVersion::V311, usize::MAX, None) {
            Ok(None) => {}
            Err(e) => assert_eq!(e, want, "prefix of {end} bytes"),
            Ok(Some(p)) => panic!("a prefix decoded as {p:?}"),
        }
    }
}

// ----- the fixed header ------------------------------------------------------------------

#[test]
fn mqtt_2_2_1_packet_type_0_is_reserved() {
    assert_malformed(&[0x00, 0x00], DecodeError::ReservedPacketType(0));
}

#[test]
fn mqtt_2_2_1_packet_type_15_is_reserved() {
    assert_malformed(&[0xF0, 0x00], DecodeError::ReservedPacketType(15));
    // Refused from the first byte alone, whatever the flags.
    assert_eq!(err(&[0xFF]), DecodeError::ReservedPacketType(15));
    assert_eq!(err(&[0x0A]), DecodeError::ReservedPacketType(0));
}

/// Every packet type whose flags are fixed, with the only flags it may carry.
const FIXED_FLAGS: [(u8, PacketType, u8); 13] = [
    (1, PacketType::Connect, 0b0000),
    (2, PacketType::ConnAck, 0b0000),
    (4, PacketType::PubAck, 0b0000),
    (5, PacketType::PubRec, 0b0000),
    (6, PacketType::PubRel, 0b0010),
    (7, PacketType::PubComp, 0b0000),
    (8, PacketType::Subscribe, 0b0010),
    (9, PacketType::SubAck, 0b0000),
    (10, PacketType::Unsubscribe, 0b0010),
    (11, PacketType::UnsubAck, 0b0000),
    (12, PacketType::PingReq, 0b0000),
    (13, PacketType::PingResp, 0b0000),
    (14, PacketType::Disconnect, 0b0000),
];

#[test]
fn mqtt_2_2_2_2_wrong_flags_on_each_fixed_flag_packet_type() {
    for (number, packet_type, required) in FIXED_FLAGS {
        for flags in 0..16u8 {
            let first = (number << 4) | flags;
            let got = decode(&[first], ProtocolVersion::V311, usize::MAX, None);
            if flags == required {
                assert_eq!(got, Ok(None), "{packet_type:?} with its own flags");
            } else {
                // Refused from the first byte, before the length or body arrive.
                assert_eq!(
                    got,
                    Err(DecodeError::InvalidFlags {
                        packet: packet_type,
                        flags
                    }),
                    "{first:#04x}"
                );
            }
        }
    }
}

#[test]
fn mqtt_3_6_1_1_pubrel_with_flags_0000_is_malformed() {
    // The commonest real-world mistake: PUBREL sent like the other acknowledgements.
    assert_malformed(
        &[0x60, 2, 0, 1],
        DecodeError::InvalidFlags {
            packet: PacketType::PubRel,
            flags: 0,
        },
    );
}

#[test]
fn mqtt_3_8_1_1_subscribe_with_flags_0000_is_malformed() {
    let mut bytes = packet(0x80, &[0, 1]);
    bytes.extend_from_slice(&field(b"a"));
    bytes.push(0);
    assert_malformed(
        &bytes,
        DecodeError::InvalidFlags {
            packet: PacketType::Subscribe,
            flags: 0,
        },
    );
}

#[test]
fn mqtt_3_10_1_1_unsubscribe_with_flags_0000_is_malformed() {
    assert_malformed(
        &[0xA0, 5, 0, 1, 0, 1, b'a'],
        DecodeError::InvalidFlags {
            packet: PacketType::Unsubscribe,
            flags: 0,
        },
    );
}

#[test]
fn mqtt_2_2_3_remaining_length_over_four_bytes_is_malformed() {
    assert_malformed(
        &[0x30, 0x80, 0x80, 0x80, 0x80, 0x01],
        DecodeError::RemainingLengthTooLong,
    );
    // Known as soon as the fourth length byte has its continuation bit set.
    assert_eq!(
        err(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF]),
        DecodeError::RemainingLengthTooLong
    );
}

#[test]
fn packet_too_large_is_refused_from_the_header_alone() {
    // A PUBLISH announcing 16383 bytes of body; only its 3-byte header has arrived.
    let header = [0x30, 0xFF, 0x7F];
    assert_eq!(
        decode(&header, ProtocolVersion::V311, 1000, None),
        Err(DecodeError::PacketTooLarge {
            size: 3 + 16_383,
            max: 1000
        })
    );
    // The largest claim MQTT can make, against a 1 KiB limit.
    assert_eq!(
        decode(
            &[0x30, 0xFF, 0xFF, 0xFF, 0x7F],
            ProtocolVersion::V311,
            1024,
            None
        ),
        Err(DecodeError::PacketTooLarge {
            size: 5 + 268_435_455,
            max: 1024
        })
    );
}

#[test]
fn packet_exactly_at_the_limit_is_accepted_and_one_more_byte_is_not() {
    let bytes = Packet::Publish(publish("a", "12345", QoS::AtMostOnce, false, 0)).to_bytes();
    assert_eq!(bytes.len(), 10);
    assert!(matches!(
        decode(&bytes, ProtocolVersion::V311, 10, None),
        Ok(Some((_, 10)))
    ));
    assert_eq!(
        decode(&bytes, ProtocolVersion::V311, 9, None),
        Err(DecodeError::PacketTooLarge { size: 10, max: 9 })
    );
    // Also the two-byte PINGREQ against a limit of one.
    assert_eq!(
        decode(&[0xC0, 0x00], ProtocolVersion::V311, 1, None),
        Err(DecodeError::PacketTooLarge { size: 2, max: 1 })
    );
}

// ----- PUBLISH ---------------------------------------------------------------------------

#[test]
fn mqtt_3_3_1_4_qos_3_is_malformed() {
    for first in [0x36, 0x37, 0x3E, 0x3F] {
        // Refused from the first byte.
        assert_eq!(err(&[first]), DecodeError::InvalidQoS, "{first:#04x}");
    }
    let mut body = field(b"a");
    body.extend_from_slice(&[0, 1]);
    assert_malformed(&packet(0x36, &body), DecodeError::InvalidQoS);
}

#[test]
fn mqtt_3_3_1_2_dup_on_qos_0_is_malformed() {
    assert_malformed(&packet(0x38, &field(b"a/b")), DecodeError::DupWithQoS0);
    // Retain does not change it.
    assert_malformed(&packet(0x39, &field(b"a/b")), DecodeError::DupWithQoS0);
}

#[test]
fn mqtt_3_3_2_2_wildcards_in_a_publish_topic_are_malformed() {
    for t in [&b"a/+"[..], b"#", b"a/#", b"+", b"sport/ten+nis"] {
        assert_malformed(
            &packet(0x30, &field(t)),
            DecodeError::InvalidTopicName(TopicError::WildcardInName),
        );
    }
}

#[test]
fn mqtt_4_7_3_1_an_empty_publish_topic_is_malformed() {
    assert_malformed(
        &[0x30, 2, 0, 0],
        DecodeError::InvalidTopicName(TopicError::Empty),
    );
    assert_malformed(
        &[0x32, 4, 0, 0, 0, 1],
        DecodeError::InvalidTopicName(TopicError::Empty),
    );
}

#[test]
fn mqtt_4_7_3_2_null_character_in_a_topic_is_malformed() {
    assert_malformed(
        &packet(0x30, &field(b"a\0b")),
        DecodeError::NullCharacter {
            field: "topic name",
        },
    );
}

#[test]
fn mqtt_1_5_3_1_invalid_utf8_in_a_topic_is_malformed() {
    for bad in [
        &[b'a', 0xFF][..],   // never valid in UTF-8
        &[0xED, 0xA0, 0x80], // the surrogate U+D800, encoded
        &[0xC0, 0x80],       // an over-long encoding of U+0000
        &[0xE2, 0x82],       // a truncated three-byte sequence
    ] {
        assert_malformed(
            &packet(0x30, &field(bad)),
            DecodeError::InvalidUtf8 {
                field: "topic name",
            },
        );
    }
}

#[test]
fn mqtt_2_3_1_1_publish_qos_1_and_2_with_packet_id_0_are_malformed() {
    let mut body = field(b"a");
    body.extend_from_slice(&[0, 0, b'x']);
    assert_malformed(&packet(0x32, &body), DecodeError::ZeroPacketId);
    assert_malformed(&packet(0x34, &body), DecodeError::ZeroPacketId);
}

#[test]
fn a_publish_topic_running_past_the_packet_is_truncated() {
    assert_malformed(
        &[0x30, 3, 0, 5, b'a'],
        DecodeError::Truncated {
            field: "topic name",
        },
    );
    // Not even the two length bytes fit.
    assert_malformed(
        &[0x30, 1, 0],
        DecodeError::Truncated {
            field: "topic name",
        },
    );
}

#[test]
fn a_qos_1_publish_without_room_for_its_packet_id_is_truncated() {
    assert_malformed(
        &packet(0x32, &field(b"a")),
        DecodeError::Truncated { field: "packet id" },
    );
    let mut body = field(b"a");
    body.push(0);
    assert_malformed(
        &packet(0x34, &body),
        DecodeError::Truncated { field: "packet id" },
    );
}

// ----- the acknowledgements and the empty packets ------------------------------------------

#[test]
fn mqtt_2_3_1_1_acknowledgements_with_packet_id_0_are_malformed() {
    for first in [0x40, 0x50, 0x62, 0x70, 0xB0] {
        assert_malformed(&[first, 2, 0, 0], DecodeError::ZeroPacketId);
    }
}

#[test]
fn acknowledgements_shorter_than_a_packet_id_are_truncated() {
    for first in [0x40, 0x50, 0x62, 0x70, 0xB0] {
        assert_malformed(
            &[first, 1, 7],
            DecodeError::Truncated { field: "packet id" },
        );
        assert_malformed(&[first, 0], DecodeError::Truncated { field: "packet id" });
    }
}

#[test]
fn puback_with_remaining_length_3_has_trailing_bytes() {
    assert_malformed(
        &[0x40, 3, 0, 1, 0],
        DecodeError::TrailingBytes {
            packet: PacketType::PubAck,
        },
    );
    for (first, packet_type) in [
        (0x50, PacketType::PubRec),
        (0x62, PacketType::PubRel),
        (0x70, PacketType::PubComp),
        (0xB0, PacketType::UnsubAck),
    ] {
        assert_malformed(
            &[first, 3, 0, 1, 0],
            DecodeError::TrailingBytes {
                packet: packet_type,
            },
        );
    }
}

#[test]
fn pingreq_with_remaining_length_1_has_trailing_bytes() {
    assert_malformed(
        &[0xC0, 1, 0],
        DecodeError::TrailingBytes {
            packet: PacketType::PingReq,
        },
    );
}

#[test]
fn pingresp_and_disconnect_with_a_body_have_trailing_bytes() {
    assert_malformed(
        &[0xD0, 1, 0],
        DecodeError::TrailingBytes {
            packet: PacketType::PingResp,
        },
    );
    assert_malformed(
        &[0xE0, 2, 0, 0],
        DecodeError::TrailingBytes {
            packet: PacketType::Disconnect,
        },
    );
}

// ----- SUBSCRIBE and UNSUBSCRIBE ---------------------------------------------------------

fn subscribe_bytes(id: u16, pairs: &[(&[u8], u8)]) -> Vec<u8> {
    let mut body = id.to_be_bytes().to_vec();
    for (f, q) in pairs {
        body.extend_from_slice(&field(f));
        body.push(*q);
    }
    packet(0x82, &body)
}

fn unsubscribe_bytes(id: u16, filters: &[&[u8]]) -> Vec<u8> {
    let mut body = id.to_be_bytes().to_vec();
    body.extend_from_slice(&fields(filters));
    packet(0xA2, &body)
}

#[test]
fn mqtt_2_3_1_1_subscribe_with_packet_id_0_is_malformed() {
    assert_malformed(&subscribe_bytes(0, &[(b"a", 0)]), DecodeError::ZeroPacketId);
}

#[test]
fn mqtt_2_3_1_1_unsubscribe_with_packet_id_0_is_malformed() {
    assert_malformed(&unsubscribe_bytes(0, &[b"a"]), DecodeError::ZeroPacketId);
}

#[test]
fn mqtt_3_8_3_3_subscribe_with_no_filters_is_malformed() {
    assert_malformed(
        &[0x82, 2, 0, 1],
        DecodeError::NoTopicFilters(PacketType::Subscribe),
    );
}

#[test]
fn mqtt_3_10_3_2_unsubscribe_with_no_filters_is_malformed() {
    assert_malformed(
        &[0xA2, 2, 0, 1],
        DecodeError::NoTopicFilters(PacketType::Unsubscribe),
    );
}

#[test]
fn mqtt_3_8_3_4_requested_qos_3_or_with_reserved_bits_is_malformed() {
    for byte in [0x03, 0x04, 0x10, 0x80, 0x81, 0xFC, 0xFF] {
        assert_malformed(
            &subscribe_bytes(1, &[(b"a", 1), (b"b", byte)]),
            DecodeError::InvalidRequestedQoS(byte),
        );
    }
}

#[test]
fn mqtt_4_7_1_2_hash_not_last_in_a_filter_is_malformed() {
    for f in [&b"a/#/b"[..], b"a#", b"#/", b"a/b#"] {
        assert_malformed(
            &subscribe_bytes(1, &[(f, 0)]),
            DecodeError::InvalidTopicFilter(TopicError::MisplacedMultiLevelWildcard),
        );
        assert_malformed(
            &unsubscribe_bytes(1, &[f]),
            DecodeError::InvalidTopicFilter(TopicError::MisplacedMultiLevelWildcard),
        );
    }
}

#[test]
fn mqtt_4_7_1_3_plus_not_filling_a_level_is_malformed() {
    for f in [&b"a+"[..], b"+a", b"a/+b/c", b"++"] {
        assert_malformed(
            &subscribe_bytes(1, &[(f, 0)]),
            DecodeError::InvalidTopicFilter(TopicError::MisplacedSingleLevelWildcard),
        );
        assert_malformed(
            &unsubscribe_bytes(1, &[f]),
            DecodeError::InvalidTopicFilter(TopicError::MisplacedSingleLevelWildcard),
        );
    }
}

#[test]
fn mqtt_4_7_3_1_an_empty_filter_is_malformed() {
    assert_malformed(
        &subscribe_bytes(1, &[(b"", 0)]),
        DecodeError::InvalidTopicFilter(TopicError::Empty),
    );
    assert_malformed(
        &unsubscribe_bytes(1, &[b"a", b""]),
        DecodeError::InvalidTopicFilter(TopicError::Empty),
    );
}

#[test]
fn mqtt_1_5_3_filters_must_be_valid_utf8_without_null() {
    assert_malformed(
        &subscribe_bytes(1, &[(&[0xED, 0xA0, 0x80], 0)]),
        DecodeError::InvalidUtf8 {
            field: "topic filter",
        },
    );
    assert_malformed(
        &unsubscribe_bytes(1, &[b"a\0"]),
        DecodeError::NullCharacter {
            field: "topic filter",
        },
    );
}

#[test]
fn a_filter_without_its_requested_qos_is_truncated() {
    let mut body = vec![0, 1];
    body.extend_from_slice(&field(b"a"));
    assert_malformed(
        &packet(0x82, &body),
        DecodeError::Truncated {
            field: "requested QoS",
        },
    );
}

#[test]
fn a_filter_running_past_the_packet_is_truncated() {
    // Packet id, then a filter claiming 9 bytes of which 1 is there.
    assert_malformed(
        &[0x82, 5, 0, 1, 0, 9, b'a'],
        DecodeError::Truncated {
            field: "topic filter",
        },
    );
    // One stray byte after a complete filter: not enough for another length prefix.
    assert_malformed(
        &[0xA2, 6, 0, 1, 0, 1, b'a', 0],
        DecodeError::Truncated {
            field: "topic filter",
        },
    );
}

#[test]
fn subscribe_without_room_for_its_packet_id_is_truncated() {
    assert_malformed(&[0x82, 1, 0], DecodeError::Truncated { field: "packet id" });
}

// ----- CONNECT -----------------------------------------------------------------------------

#[test]
fn mqtt_3_1_2_1_a_protocol_name_other_than_mqtt_is_malformed() {
    for name in [&b"MQTX"[..], b"mqtt", b"MQT", b""] {
        let mut body = field(name);
        body.extend_from_slice(&[4, 0x02, 0, 60]);
        body.extend_from_slice(&field(b"a"));
        assert_malformed(&packet(0x10, &body), DecodeError::InvalidProtocolName);
    }
}

#[test]
fn mqtt_3_1_2_2_protocol_levels_other_than_4_and_5_are_unsupported() {
    for level in [0, 3, 6, 255] {
        let mut body = field(b"MQTT");
        body.extend_from_slice(&[level, 0x02, 0, 60]);
        body.extend_from_slice(&field(b"a"));
        assert_malformed(
            &packet(0x10, &body),
            DecodeError::UnsupportedProtocolLevel(level),
        );
    }
    // MQTT 3.1's CONNECT: "MQIsdp" level 3.
    let mut body = field(b"MQIsdp");
    body.extend_from_slice(&[3, 0x02, 0, 60]);
    body.extend_from_slice(&field(b"a"));
    assert_malformed(
        &packet(0x10, &body),
        DecodeError::UnsupportedProtocolLevel(3),
    );
}

#[test]
fn mqtt_3_1_2_3_reserved_connect_flag_is_malformed() {
    assert_malformed(
        &connect_bytes(0x03, &field(b"a")),
        DecodeError::ConnectReservedFlag,
    );
    assert_malformed(
        &connect_bytes(0x01, &field(b"a")),
        DecodeError::ConnectReservedFlag,
    );
}

#[test]
fn mqtt_3_1_2_11_will_qos_or_retain_without_will_flag_is_malformed() {
    // Will retain 0x20, will QoS 1 0x08, will QoS 2 0x10, both QoS bits 0x18; no 0x04.
    for flags in [0x22, 0x0A, 0x12, 0x1A, 0x3A] {
        assert_malformed(
            &connect_bytes(flags, &field(b"a")),
            DecodeError::InvalidWillFlags,
        );
    }
}

#[test]
fn mqtt_3_1_2_14_will_qos_3_is_malformed() {
    // Will flag with both QoS bits: 0x04 | 0x18 | clean 0x02.
    assert_malformed(
        &connect_bytes(0x1E, &fields(&[b"a", b"w", b"bye"])),
        DecodeError::InvalidWillQoS,
    );
}

#[test]
fn mqtt_3_1_2_22_password_without_username_is_malformed() {
    assert_malformed(
        &connect_bytes(0x42, &fields(&[b"a", b"p"])),
        DecodeError::PasswordWithoutUsername,
    );
}

#[test]
fn mqtt_1_5_3_1_invalid_utf8_in_the_client_id_is_malformed() {
    // ED A0 80 is U+D800, a surrogate, which MQTT-1.5.3-1 names explicitly.
    assert_malformed(
        &connect_bytes(0x02, &field(&[b'a', 0xED, 0xA0, 0x80])),
        DecodeError::InvalidUtf8 {
            field: "client identifier",
        },
    );
}

#[test]
fn mqtt_1_5_3_2_null_character_in_the_client_id_is_malformed() {
    assert_malformed(
        &connect_bytes(0x02, &field(b"a\0")),
        DecodeError::NullCharacter {
            field: "client identifier",
        },
    );
}

#[test]
fn mqtt_1_5_3_strings_in_will_and_user_name_are_checked_too() {
    assert_malformed(
        &connect_bytes(0x06, &fields(&[b"a", &[0xFF], b"m"])),
        DecodeError::InvalidUtf8 {
            field: "will topic",
        },
    );
    assert_malformed(
        &connect_bytes(0x82, &fields(&[b"a", b"u\0"])),
        DecodeError::NullCharacter { field: "user name" },
    );
    assert_malformed(
        &connect_bytes(0x82, &fields(&[b"a", &[0xED, 0xBF, 0xBF]])),
        DecodeError::InvalidUtf8 { field: "user name" },
    );
}

#[test]
fn mqtt_3_1_3_10_will_topic_is_a_topic_name() {
    assert_malformed(
        &connect_bytes(0x06, &fields(&[b"a", b"w/#", b"m"])),
        DecodeError::InvalidTopicName(TopicError::WildcardInName),
    );
    assert_malformed(
        &connect_bytes(0x06, &fields(&[b"a", b"", b"m"])),
        DecodeError::InvalidTopicName(TopicError::Empty),
    );
}

#[test]
fn the_password_is_binary_and_may_hold_any_bytes() {
    // Not malformed: the contrast to the user name above.
    let bytes = connect_bytes(
        0xC2,
        &fields(&[b"a", b"u", &[0xFF, 0x00, 0xED, 0xA0, 0x80]]),
    );
    match decode(&bytes, ProtocolVersion::V311, usize::MAX, None) {
        Ok(Some((Packet::Connect(c), _))) => {
            assert_eq!(
                c.password,
                Some(Bytes::from_static(&[0xFF, 0x00, 0xED, 0xA0, 0x80]))
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_client_id_running_past_the_packet_is_truncated() {
    // Length 5, one byte present: the remaining length says the packet is over.
    assert_malformed(
        &connect_bytes(0x02, &[0, 5, b'a']),
        DecodeError::Truncated {
            field: "client identifier",
        },
    );
}

#[test]
fn connect_fields_missing_at_the_end_are_truncated() {
    assert_malformed(
        &[0x10, 0],
        DecodeError::Truncated {
            field: "protocol name",
        },
    );
    assert_malformed(
        &packet(0x10, &field(b"MQTT")),
        DecodeError::Truncated {
            field: "protocol level",
        },
    );
    let mut body = field(b"MQTT");
    body.push(4);
    assert_malformed(
        &packet(0x10, &body),
        DecodeError::Truncated {
            field: "connect flags",
        },
    );
    body.extend_from_slice(&[0x02, 0]);
    assert_malformed(
        &packet(0x10, &body),
        DecodeError::Truncated {
            field: "keep alive",
        },
    );
    assert_malformed(
        &connect_bytes(0x06, &fields(&[b"a", b"w"])),
        DecodeError::Truncated {
            field: "will message",
        },
    );
    assert_malformed(
        &connect_bytes(0x82, &field(b"a")),
        DecodeError::Truncated { field: "user name" },
    );
    assert_malformed(
        &connect_bytes(0xC2, &fields(&[b"a", b"u"])),
        DecodeError::Truncated { field: "password" },
    );
}

#[test]
fn connect_with_bytes_after_its_last_field_has_trailing_bytes() {
    let mut payload = field(b"a");
    payload.push(0);
    assert_malformed(
        &connect_bytes(0x02, &payload),
        DecodeError::TrailingBytes {
            packet: PacketType::Connect,
        },
    );
}

// ----- server-to-client packets ----------------------------------------------------------

#[test]
fn connack_reserved_flag_bits_are_malformed() {
    for flags in [0x02, 0x80, 0xFF] {
        assert_malformed(
            &[0x20, 2, flags, 0],
            DecodeError::InvalidConnAckFlags(flags),
        );
    }
}

#[test]
fn connack_return_codes_above_5_are_malformed() {
    for code in [6, 0x80, 0xFF] {
        assert_malformed(
            &[0x20, 2, 0, code],
            DecodeError::InvalidConnectReturnCode(code),
        );
    }
}

#[test]
fn connack_of_the_wrong_length_is_truncated_or_has_trailing_bytes() {
    assert_malformed(
        &[0x20, 1, 0],
        DecodeError::Truncated {
            field: "return code",
        },
    );
    assert_malformed(
        &[0x20, 0],
        DecodeError::Truncated {
            field: "acknowledge flags",
        },
    );
    assert_malformed(
        &[0x20, 3, 0, 0, 0],
        DecodeError::TrailingBytes {
            packet: PacketType::ConnAck,
        },
    );
}

#[test]
fn mqtt_3_9_3_2_suback_codes_other_than_0_1_2_0x80_are_malformed() {
    for code in [0x03, 0x40, 0x7F, 0x81, 0xFF] {
        assert_malformed(
            &[0x90, 4, 0, 1, 0x80, code],
            DecodeError::InvalidSubscribeReturnCode(code),
        );
    }
}

#[test]
fn mqtt_2_3_1_1_suback_with_packet_id_0_is_malformed() {
    assert_malformed(&[0x90, 3, 0, 0, 0], DecodeError::ZeroPacketId);
}

// ----- need more bytes versus malformed ----------------------------------------------------

/// One valid packet of every type, some with multi-byte remaining lengths.
fn valid_packets() -> Vec<Packet> {
    vec![
        Packet::Connect(connect("a", true)),
        Packet::Connect(Connect {
            version: ProtocolVersion::V311,
            properties: Properties::new(),
            clean_session: false,
            keep_alive: 30,
            client_id: "client".into(),
            will: Some(LastWill {
                properties: Properties::new(),
                topic: topic("w/x"),
                payload: Bytes::from_static(b"gone"),
                qos: QoS::ExactlyOnce,
                retain: true,
            }),
            username: Some("u".into()),
            password: Some(Bytes::from_static(b"p")),
        }),
        Packet::ConnAck(ConnAck {
            properties: None,
            session_present: true,
            code: ConnectReturnCode::Accepted.into(),
        }),
        Packet::Publish(publish("a/b", "payload", QoS::AtMostOnce, false, 0)),
        Packet::Publish(publish("a/b", "", QoS::AtLeastOnce, true, 7)),
        Packet::Publish(publish("t", &"x".repeat(300), QoS::ExactlyOnce, false, 9)),
        Packet::puback(pid(1)),
        Packet::pubrec(pid(2)),
        Packet::pubrel(pid(3)),
        Packet::pubcomp(pid(4)),
        Packet::Subscribe(Subscribe {
            properties: None,
            packet_id: pid(5),
            filters: vec![
                (filter("a/+"), QoS::AtLeastOnce.into()),
                (filter("#"), QoS::AtMostOnce.into()),
            ],
        }),
        Packet::SubAck(SubAck {
            properties: None,
            packet_id: pid(5),
            codes: vec![
                SubscribeReturnCode::Granted(QoS::AtLeastOnce),
                SubscribeReturnCode::Failure,
            ],
        }),
        Packet::Unsubscribe(Unsubscribe {
            properties: None,
            packet_id: pid(6),
            filters: vec![filter("a/+")],
        }),
        Packet::UnsubAck(UnsubAck::v311(pid(6))),
        Packet::PingReq,
        Packet::PingResp,
        Packet::disconnect(),
    ]
}

#[test]
fn every_strict_prefix_of_a_valid_packet_needs_more_bytes() {
    for packet in valid_packets() {
        let bytes = packet.to_bytes();
        for end in 0..bytes.len() {
            let mut spans = Vec::new();
            assert_eq!(
                decode(
                    &bytes[..end],
                    ProtocolVersion::V311,
                    usize::MAX,
                    Some(&mut spans)
                ),
                Ok(None),
                "{end} of {} bytes of {:?}",
                bytes.len(),
                packet.packet_type()
            );
            assert!(spans.is_empty(), "no spans for an incomplete packet");
        }
        assert_eq!(
            decode(&bytes, ProtocolVersion::V311, usize::MAX, None),
            Ok(Some((packet, bytes.len())))
        );
    }
}

#[test]
fn an_empty_buffer_needs_more_bytes() {
    assert_eq!(
        decode(&[], ProtocolVersion::V311, usize::MAX, None),
        Ok(None)
    );
    assert_eq!(decode(&[], ProtocolVersion::V311, 0, None), Ok(None));
}

#[test]
fn a_malformed_body_is_judged_only_once_the_whole_packet_is_there() {
    // DUP on QoS 0 is visible in the first byte, but the codec (like any check of the
    // body) answers it only when the packet is complete; before that it waits.
    let bytes = packet(0x38, &field(b"a/b"));
    for end in 0..bytes.len() {
        assert_eq!(
            decode(&bytes[..end], ProtocolVersion::V311, usize::MAX, None),
            Ok(None)
        );
    }
    assert_eq!(err(&bytes), DecodeError::DupWithQoS0);
}

#[test]
fn errors_name_the_statement_they_break() {
    assert_eq!(DecodeError::InvalidQoS.statement(), "MQTT-3.3.1-4");
    assert_eq!(DecodeError::InvalidWillQoS.statement(), "MQTT-3.1.2-14");
    assert_eq!(DecodeError::DupWithQoS0.statement(), "MQTT-3.3.1-2");
    assert_eq!(DecodeError::ZeroPacketId.statement(), "MQTT-2.3.1-1");
    assert_eq!(
        DecodeError::InvalidTopicName(TopicError::WildcardInName).statement(),
        "MQTT-3.3.2-2"
    );
    assert_eq!(
        DecodeError::PasswordWithoutUsername.statement(),
        "MQTT-3.1.2-22"
    );
}
