//! Small helpers for writing MQTT's primitive encodings.

/// The largest remaining length four bytes can express (section 2.2.3).
pub const MAX_REMAINING_LENGTH: usize = 268_435_455;

pub(crate) fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Writes a length-prefixed byte string. Callers only pass data that came through a
/// 16-bit length prefix or a parsed topic, so the cast cannot truncate.
pub(crate) fn put_binary(out: &mut Vec<u8>, data: &[u8]) {
    debug_assert!(data.len() <= usize::from(u16::MAX));
    put_u16(out, data.len() as u16);
    out.extend_from_slice(data);
}

pub(crate) fn put_remaining_length(out: &mut Vec<u8>, mut len: usize) {
    debug_assert!(len <= MAX_REMAINING_LENGTH);
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            return;
        }
    }
}

/// How many bytes the remaining-length field takes for `len`.
pub(crate) fn remaining_length_len(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Writes a Variable Byte Integer (section 1.5.5), in the fewest bytes (MQTT-1.5.5-1).
pub(crate) fn put_vbi(out: &mut Vec<u8>, value: usize) {
    put_remaining_length(out, value);
}

/// How many bytes a Variable Byte Integer takes.
pub(crate) fn vbi_len(value: usize) -> usize {
    remaining_length_len(value)
}
