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

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn every_well_formed_packet_round_trips(packet in any_packet(), cut in any::<prop::sample::Index>()) {
        let bytes = packet.to_bytes();
        let mut spans = Vec::new();
        prop_assert_eq!(
            decode(&bytes, usize::MAX, Some(&mut spans)),
            Ok(Some((packet.clone(), bytes.len())))
        );
        assert_spans_tile(&spans, bytes.len())?;
        // Any strict prefix is "need more bytes".
        let end = cut.index(bytes.len());
        prop_assert_eq!(decode(&bytes[..end], usize::MAX, None), Ok(None));
        // The size limit is inclusive.
        prop_assert!(matches!(decode(&bytes, bytes.len(), None), Ok(Some(_))));
        prop_assert_eq!(
            decode(&bytes, bytes.len() - 1, None),
            Err(DecodeError::PacketTooLarge { size: bytes.len(), max: bytes.len() - 1 })
        );
    }

    #[test]
    fn a_stream_of_packets_decodes_back_into_the_same_packets(
        packets in proptest::collection::vec(any_packet(), 1..6)
    ) {
        let stream: Vec<u8> = packets.iter().flat_map(|p| p.to_bytes().to_vec()).collect();
        prop_assert_eq!(decode_all(&stream), packets);
    }
}

/// Checks what decoding any bytes with any limit may answer: it never panics (the
/// caller's harness reports that), a packet it returns re-encodes to the same bytes
/// (up to a non-minimal remaining length, which section 2.2.3 does not forbid), and it
/// asks for more bytes only while the packet could still fit the limit.
fn check_decode(bytes: &[u8], max: usize) -> Result<(), TestCaseError> {
    let mut spans = Vec::new();
    let result = decode(bytes, max, Some(&mut spans));
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
            prop_assert_eq!(&again[h2.header_len..], &bytes[h.header_len..*len]);
            prop_assert_eq!(
                decode(&again, usize::MAX, None),
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
    // else is or is not there yet.
    if let Ok(Some(h)) = &header {
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
fn mutated_packet() -> impl Strategy<Value = Vec<u8>> {
    (
        any_packet(),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(|(packet, edits, cut, truncate)| {
            let mut bytes = packet.to_bytes().to_vec();
            for (at, value) in edits {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
            if truncate {
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            bytes
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
    ) {
        check_decode(&bytes, max)?;
    }

    #[test]
    fn decoding_damaged_packets_never_panics_or_overbuffers(
        bytes in mutated_packet(),
        max in prop_oneof![0usize..64, Just(usize::MAX)],
    ) {
        check_decode(&bytes, max)?;
    }

    #[test]
    fn a_header_claiming_more_than_a_small_limit_is_refused_at_once(
        bytes in header_claim(),
        max in 0usize..48,
    ) {
        let h = decode_header(&bytes, usize::MAX)
            .expect("valid type and flags")
            .expect("a complete header");
        let got = decode(&bytes, max, None);
        if h.packet_len() > max {
            prop_assert_eq!(got, Err(DecodeError::PacketTooLarge { size: h.packet_len(), max }));
        } else {
            prop_assert_ne!(got, Err(DecodeError::PacketTooLarge { size: h.packet_len(), max }));
        }
        check_decode(&bytes, max)?;
    }
}
