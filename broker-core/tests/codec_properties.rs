//! Properties of the codec on generated inputs (proptest): every well-formed packet
//! round-trips, and decoding arbitrary or damaged bytes never panics nor buffers past
//! its limit.
//!
//! Case counts are kept small enough that the file runs in a few seconds in a debug
//! build; raise `PROPTEST_CASES` in the environment for a longer soak.

#[path = "support/strategies.rs"]
mod strategies;
mod support;

use broker_core::codec::{decode, decode_header};
use broker_core::*;
use proptest::prelude::*;
use strategies::*;
use support::*;

// ----- (a) and (b): the codec ------------------------------------------------------------

/// A well-formed packet of either version, with the version it is written in.
fn versioned_packet() -> impl Strategy<Value = (ProtocolVersion, Packet)> {
    prop_oneof![
        any_packet().prop_map(|p| (ProtocolVersion::V311, p)),
        any_packet_v5().prop_map(|p| (ProtocolVersion::V5, p)),
    ]
}

fn version() -> impl Strategy<Value = ProtocolVersion> {
    prop_oneof![Just(ProtocolVersion::V311), Just(ProtocolVersion::V5)]
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn every_well_formed_packet_round_trips(
        (version, packet) in versioned_packet(),
        cut in any::<prop::sample::Index>(),
    ) {
        let bytes = packet.to_bytes();
        prop_assert_eq!(packet.encoded_len(), bytes.len());
        let mut spans = Vec::new();
        prop_assert_eq!(
            decode(&bytes, version, usize::MAX, Some(&mut spans)),
            Ok(Some((packet.clone(), bytes.len())))
        );
        assert_spans_tile(&spans, bytes.len())?;
        // Any strict prefix is "need more bytes".
        let end = cut.index(bytes.len());
        prop_assert_eq!(decode(&bytes[..end], version, usize::MAX, None), Ok(None));
        // The size limit is inclusive.
        prop_assert!(matches!(decode(&bytes, version, bytes.len(), None), Ok(Some(_))));
        prop_assert_eq!(
            decode(&bytes, version, bytes.len() - 1, None),
            Err(DecodeError::PacketTooLarge { size: bytes.len(), max: bytes.len() - 1 })
        );
    }

    #[test]
    fn a_stream_of_packets_decodes_back_into_the_same_packets(
        packets in proptest::collection::vec(any_packet(), 1..6),
        packets_v5 in proptest::collection::vec(any_packet_v5(), 1..6),
    ) {
        let stream: Vec<u8> = packets.iter().flat_map(|p| p.to_bytes().to_vec()).collect();
        prop_assert_eq!(decode_all(&stream), packets);
        let stream: Vec<u8> = packets_v5.iter().flat_map(|p| p.to_bytes().to_vec()).collect();
        prop_assert_eq!(decode_all_in(&stream, ProtocolVersion::V5), packets_v5);
    }
}

/// Checks what decoding any bytes with any limit may answer: it never panics (the
/// caller's harness reports that), a packet it returns re-encodes to the same bytes
/// (up to a non-minimal remaining length, which section 2.2.3 does not forbid), and it
/// asks for more bytes only while the packet could still fit the limit. In MQTT 5.0 a
/// packet may be written in more than one way (a success Reason Code written out or
/// left off), so there the re-encoding is checked to decode to the same packet instead.
fn check_decode(bytes: &[u8], max: usize, version: ProtocolVersion) -> Result<(), TestCaseError> {
    let mut spans = Vec::new();
    let result = decode(bytes, version, max, Some(&mut spans));
    let header = decode_header(bytes, usize::MAX);
    match &result {
        Ok(Some((packet, len))) => {
            prop_assert!(*len <= bytes.len() && *len <= max);
            assert_spans_tile(&spans, *len)?;
            let h = header
                .clone()
                .expect("a decoded packet has a valid header")
                .expect("and a complete one");
            prop_assert_eq!(h.packet_len(), *len);
            let again = packet.to_bytes();
            let h2 = decode_header(&again, usize::MAX)
                .expect("valid")
                .expect("complete");
            prop_assert_eq!(again[0], bytes[0]);
            if version == ProtocolVersion::V311 {
                prop_assert_eq!(&again[h2.header_len..], &bytes[h.header_len..*len]);
            }
            prop_assert_eq!(
                decode(&again, version, usize::MAX, None),
                Ok(Some((packet.clone(), again.len())))
            );
        }
        Ok(None) => {
            // Either the header is unfinished (at most 4 bytes of it are kept) or the
            // header is complete, within the limit, and the body is still arriving.
            prop_assert!(
                bytes.len() < max.max(5),
                "{} bytes kept, limit {}",
                bytes.len(),
                max
            );
            if let Ok(Some(h)) = &header {
                prop_assert!(h.packet_len() <= max && bytes.len() < h.packet_len());
            }
        }
        Err(_) => {}
    }
    // A complete header that claims more than the limit is refused at once, whatever
    // else is or is not there yet; in 3.1.1 a reserved type 15 is refused before that.
    let reserved = version == ProtocolVersion::V311 && bytes.first().is_some_and(|b| b >> 4 == 15);
    if let (Ok(Some(h)), false) = (&header, reserved) {
        if h.packet_len() > max {
            prop_assert_eq!(
                result,
                Err(DecodeError::PacketTooLarge {
                    size: h.packet_len(),
                    max
                })
            );
        }
    }
    Ok(())
}

/// Bytes that are mostly a valid packet: a good start for finding bad paths in the body
/// decoders, which random bytes rarely reach.
fn mutated_packet() -> impl Strategy<Value = (ProtocolVersion, Vec<u8>)> {
    (
        versioned_packet(),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(|((version, packet), edits, cut, truncate)| {
            let mut bytes = packet.to_bytes().to_vec();
            for (at, value) in edits {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
            if truncate {
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            (version, bytes)
        })
}

/// A fixed header with valid type and flags and a length of 1 to 4 bytes, then a few
/// bytes of body: every such header is complete and claims some size.
fn header_claim() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::sample::select(vec![
            0x10u8, 0x20, 0x30, 0x3B, 0x40, 0x50, 0x62, 0x70, 0x82, 0x90, 0xA2, 0xB0, 0xC0, 0xD0,
            0xE0,
        ]),
        proptest::collection::vec(0x80u8..=0xFF, 0..4),
        any::<u8>(),
        proptest::collection::vec(any::<u8>(), 0..16),
    )
        .prop_map(|(first, continued, last, body)| {
            let mut bytes = vec![first];
            bytes.extend(continued);
            bytes.push(last & 0x7F);
            bytes.extend(body);
            bytes
        })
}

proptest! {
    #![proptest_config(cases(1024))]

    #[test]
    fn decoding_random_bytes_never_panics_or_overbuffers(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        max in prop_oneof![0usize..16, 0usize..300, Just(usize::MAX)],
        version in version(),
    ) {
        check_decode(&bytes, max, version)?;
    }

    #[test]
    fn decoding_damaged_packets_never_panics_or_overbuffers(
        (version, bytes) in mutated_packet(),
        max in prop_oneof![0usize..64, Just(usize::MAX)],
    ) {
        check_decode(&bytes, max, version)?;
    }

    #[test]
    fn a_header_claiming_more_than_a_small_limit_is_refused_at_once(
        bytes in header_claim(),
        max in 0usize..48,
        version in version(),
    ) {
        let h = decode_header(&bytes, usize::MAX)
            .expect("valid type and flags")
            .expect("a complete header");
        let got = decode(&bytes, version, max, None);
        if h.packet_len() > max {
            prop_assert_eq!(got, Err(DecodeError::PacketTooLarge { size: h.packet_len(), max }));
        } else {
            prop_assert_ne!(got, Err(DecodeError::PacketTooLarge { size: h.packet_len(), max }));
        }
        check_decode(&bytes, max, version)?;
    }
}
