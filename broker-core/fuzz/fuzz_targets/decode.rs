//! The decoder on arbitrary bytes, as a connection speaking MQTT 3.1.1 and one speaking
//! MQTT 5.0 (the first input byte picks): it must never panic, a packet it accepts must
//! survive re-encoding, its spans must tile the packet, and it must never ask to buffer
//! past the size limit.

#![no_main]

use broker_core::codec::{decode, decode_header, DecodeError};
use broker_core::ProtocolVersion;
use libfuzzer_sys::fuzz_target;

/// A small limit, to check that oversized packets are refused from their header.
const SMALL_MAX: usize = 64;

fuzz_target!(|input: &[u8]| {
    let Some((&pick, data)) = input.split_first() else {
        return;
    };
    let version = if pick & 1 == 0 {
        ProtocolVersion::V311
    } else {
        ProtocolVersion::V5
    };
    let mut spans = Vec::new();
    match decode(data, version, usize::MAX, Some(&mut spans)) {
        Ok(Some((packet, len))) => {
            assert!(len <= data.len());
            // The spans start at 0, touch end to end, and end where the packet does.
            assert_eq!(spans.first().map(|s| s.start), Some(0));
            for pair in spans.windows(2) {
                assert_eq!(pair[0].end, pair[1].start, "{spans:?}");
            }
            assert_eq!(spans.last().map(|s| s.end), Some(len));

            // Re-encoding gives the same packet.
            let again = packet.to_bytes();
            assert_eq!(
                decode(&again, version, usize::MAX, None),
                Ok(Some((packet.clone(), again.len())))
            );
            // In 3.1.1 also the same bytes, except perhaps a shorter remaining-length
            // field: a non-minimal length encoding is accepted on the way in (section
            // 2.2.3 does not forbid it) and never produced. MQTT 5.0 has shorter forms
            // of one meaning (an acknowledgement or DISCONNECT with Reason Code 0x00
            // and no properties may omit both, section 3.4.2.1), and the encoder
            // always writes the shortest.
            if version == ProtocolVersion::V5 {
                assert!(again.len() <= len, "{again:02x?} is longer than {len} bytes");
            } else {
                let theirs = decode_header(data, usize::MAX)
                    .expect("valid header")
                    .expect("complete header");
                let ours = decode_header(&again, usize::MAX)
                    .expect("valid header")
                    .expect("complete header");
                assert_eq!(again[0], data[0]);
                assert_eq!(&again[ours.header_len..], &data[theirs.header_len..len]);
            }
        }
        Ok(None) => {}
        Err(_) => {}
    }

    // With a small limit: "need more bytes" only while the packet could still fit, and a
    // complete header claiming more is refused at once.
    match decode(data, version, SMALL_MAX, None) {
        Ok(Some((_, len))) => assert!(len <= SMALL_MAX),
        Ok(None) => assert!(data.len() < SMALL_MAX, "{} bytes buffered", data.len()),
        Err(_) => {}
    }
    if let Ok(Some(h)) = decode_header(data, usize::MAX) {
        if h.packet_len() > SMALL_MAX {
            // Refused, whatever the reason: an MQTT 3.1.1 connection refuses AUTH's
            // reserved type before looking at its size.
            match decode(data, version, SMALL_MAX, None) {
                Err(DecodeError::PacketTooLarge { size, max }) => {
                    assert_eq!((size, max), (h.packet_len(), SMALL_MAX));
                }
                Err(_) => {}
                other => panic!("a {}-byte packet was not refused: {other:?}", h.packet_len()),
            }
        }
    }
});
