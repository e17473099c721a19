//! The fixed header (section 2.2): packet type, flags and remaining length.

use super::error::DecodeError;
use super::PacketType;

/// A decoded fixed header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedHeader {
    /// The packet type (bits 7-4 of the first byte).
    pub packet_type: PacketType,
    /// The flag bits (bits 3-0 of the first byte).
    pub flags: u8,
    /// Bytes taken by the fixed header itself (2 to 5).
    pub header_len: usize,
    /// The remaining length: variable header plus payload.
    pub remaining_len: usize,
}

impl FixedHeader {
    /// The size of the whole packet.
    pub fn packet_len(&self) -> usize {
        self.header_len + self.remaining_len
    }
}

/// Decodes a fixed header from the front of `buf`.
///
/// Returns `Ok(None)` when `buf` ends inside the header. The type and flags are checked
/// from the first byte alone and the size against `max_packet_size` as soon as the length
/// is known, so an oversized or nonsensical packet is refused before its body is buffered.
pub fn decode_header(
    buf: &[u8],
    max_packet_size: usize,
) -> Result<Option<FixedHeader>, DecodeError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let packet_type = PacketType::from_bits(first >> 4)?;
    let flags = first & 0x0F;
    packet_type.check_flags(flags)?;

    let mut remaining_len = 0usize;
    for i in 0..4 {
        let Some(&byte) = buf.get(1 + i) else {
            return Ok(None);
        };
        remaining_len |= usize::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            let header = FixedHeader {
                packet_type,
                flags,
                header_len: 2 + i,
                remaining_len,
            };
            if header.packet_len() > max_packet_size {
                return Err(DecodeError::PacketTooLarge {
                    size: header.packet_len(),
                    max: max_packet_size,
                });
            }
            return Ok(Some(header));
        }
    }
    Err(DecodeError::RemainingLengthTooLong)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_length_examples_of_table_2_4() {
        let cases: [(&[u8], usize); 8] = [
            (&[0x00], 0),
            (&[0x7F], 127),
            (&[0x80, 0x01], 128),
            (&[0xFF, 0x7F], 16_383),
            (&[0x80, 0x80, 0x01], 16_384),
            (&[0xFF, 0xFF, 0x7F], 2_097_151),
            (&[0x80, 0x80, 0x80, 0x01], 2_097_152),
            (&[0xFF, 0xFF, 0xFF, 0x7F], 268_435_455),
        ];
        for (bytes, want) in cases {
            let mut buf = vec![0x30];
            buf.extend_from_slice(bytes);
            let h = decode_header(&buf, usize::MAX)
                .expect("valid")
                .expect("complete");
            assert_eq!(h.remaining_len, want);
            assert_eq!(h.header_len, 1 + bytes.len());
        }
    }

    #[test]
    fn a_fifth_length_byte_is_malformed() {
        let buf = [0x30, 0x80, 0x80, 0x80, 0x80, 0x01];
        assert_eq!(
            decode_header(&buf, usize::MAX),
            Err(DecodeError::RemainingLengthTooLong)
        );
    }

    #[test]
    fn a_partial_length_needs_more_bytes() {
        assert_eq!(decode_header(&[0x30, 0x80], usize::MAX), Ok(None));
        assert_eq!(decode_header(&[], usize::MAX), Ok(None));
    }

    #[test]
    fn a_256_mib_claim_is_refused_from_the_header_alone() {
        let buf = [0x30, 0xFF, 0xFF, 0xFF, 0x7F];
        assert_eq!(
            decode_header(&buf, 1024),
            Err(DecodeError::PacketTooLarge {
                size: 268_435_460,
                max: 1024
            })
        );
    }

    #[test]
    fn bad_flags_are_refused_from_the_first_byte() {
        // SUBSCRIBE must carry flags 0010 (MQTT-3.8.1-1).
        assert!(matches!(
            decode_header(&[0x80], 100),
            Err(DecodeError::InvalidFlags { .. })
        ));
        // Type 15 is AUTH in MQTT 5.0; `decode` refuses it on a 3.1.1 connection.
        assert!(matches!(
            decode_header(&[0xF1], 100),
            Err(DecodeError::InvalidFlags { .. })
        ));
        assert!(matches!(
            decode_header(&[0x00], 100),
            Err(DecodeError::ReservedPacketType(0))
        ));
    }
}
