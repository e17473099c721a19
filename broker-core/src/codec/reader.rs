//! A cursor over one packet's body that records where each field lies.
//!
//! The body slice is exactly the remaining length, so running off its end means the
//! packet is malformed (`Truncated`), never that more bytes are needed. When the caller
//! asks for spans, each read notes the field's name and byte range relative to the start
//! of the packet, which is what the simulator's inspector highlights.

use bytes::Bytes;

use super::error::DecodeError;
use super::FieldSpan;
use crate::types::PacketId;

pub(crate) struct Reader<'b, 's> {
    body: &'b [u8],
    pos: usize,
    /// Offset of the body within the whole packet (the fixed header's length).
    base: usize,
    spans: Option<&'s mut Vec<FieldSpan>>,
}

impl<'b, 's> Reader<'b, 's> {
    pub(crate) fn new(body: &'b [u8], base: usize, spans: Option<&'s mut Vec<FieldSpan>>) -> Self {
        Reader {
            body,
            pos: 0,
            base,
            spans,
        }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.body.len() - self.pos
    }

    /// The cursor, for a field whose span is marked after several reads.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'b [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.body.len());
        let end = end.ok_or(DecodeError::Truncated { field })?;
        let bytes = &self.body[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    /// Records that `field` spans from `start` (body offset) to the cursor.
    pub(crate) fn mark(&mut self, field: &'static str, start: usize) {
        if let Some(spans) = self.spans.as_deref_mut() {
            spans.push(FieldSpan {
                field,
                start: self.base + start,
                end: self.base + self.pos,
            });
        }
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        let start = self.pos;
        let b = self.take(1, field)?[0];
        self.mark(field, start);
        Ok(b)
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        let start = self.pos;
        let b = self.take(2, field)?;
        self.mark(field, start);
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u8_unmarked(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, field)?[0])
    }

    pub(crate) fn u16_unmarked(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        let b = self.take(2, field)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32_unmarked(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        let b = self.take(4, field)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A Variable Byte Integer (section 1.5.5): at most four bytes, each carrying seven
    /// bits, least significant first. A fifth byte is malformed; running off the body
    /// is `Truncated`, since the body's length is known.
    pub(crate) fn vbi(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        let start = self.pos;
        let value = self.vbi_unmarked(field)?;
        self.mark(field, start);
        Ok(value)
    }

    /// A Variable Byte Integer inside a field the caller marks (a property's value).
    pub(crate) fn vbi_unmarked(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        let mut value = 0u32;
        for i in 0..4 {
            let byte = self.take(1, field)?[0];
            value |= u32::from(byte & 0x7F) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::VariableByteIntegerTooLong { field })
    }

    pub(crate) fn binary_unmarked(&mut self, field: &'static str) -> Result<&'b [u8], DecodeError> {
        let len = self.take(2, field)?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        self.take(len, field)
    }

    pub(crate) fn string_unmarked(&mut self, field: &'static str) -> Result<&'b str, DecodeError> {
        let data = self.binary_unmarked(field)?;
        utf8(data, field)
    }

    pub(crate) fn packet_id(&mut self) -> Result<PacketId, DecodeError> {
        PacketId::new(self.u16("packet id")?).ok_or(DecodeError::ZeroPacketId)
    }

    /// Binary data with a two-byte length prefix (section 1.5.3 shape, no text rules).
    pub(crate) fn binary(&mut self, field: &'static str) -> Result<&'b [u8], DecodeError> {
        let start = self.pos;
        let len = self.take(2, field)?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let data = self.take(len, field)?;
        self.mark(field, start);
        Ok(data)
    }

    /// A UTF-8 string (section 1.5.3): well-formed (MQTT-1.5.3-1) and free of U+0000
    /// (MQTT-1.5.3-2). Rust's UTF-8 check already refuses the encoded surrogates
    /// U+D800..U+DFFF that MQTT-1.5.3-1 names.
    pub(crate) fn string(&mut self, field: &'static str) -> Result<&'b str, DecodeError> {
        let data = self.binary(field)?;
        utf8(data, field)
    }

    /// Everything left in the body (a PUBLISH payload).
    pub(crate) fn rest(&mut self, field: &'static str) -> Bytes {
        let start = self.pos;
        let data = &self.body[self.pos..];
        self.pos = self.body.len();
        self.mark(field, start);
        Bytes::copy_from_slice(data)
    }
}

/// A UTF-8 string's text: well-formed (MQTT-1.5.3-1, MQTT-1.5.4-1 in 5.0) and free of
/// U+0000 (MQTT-1.5.3-2, MQTT-1.5.4-2).
fn utf8<'b>(data: &'b [u8], field: &'static str) -> Result<&'b str, DecodeError> {
    let s = core::str::from_utf8(data).map_err(|_| DecodeError::InvalidUtf8 { field })?;
    if s.contains('\0') {
        return Err(DecodeError::NullCharacter { field });
    }
    Ok(s)
}
