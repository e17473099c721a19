//! The inspector's hex dump: bytes in rows of sixteen, each byte tagged with the field it
//! belongs to, from the codec's spans.

use broker_wasm::Span;

/// Bytes per row of the dump.
pub const ROW: usize = 16;

/// One byte of the dump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HexByte {
    /// The byte as two hex digits.
    pub hex: String,
    /// The index of its field in the span list, if a span covers it.
    pub field: Option<usize>,
}

/// The dump: rows of at most `ROW` bytes, each with its offset.
pub fn rows(bytes: &[u8], spans: &[Span]) -> Vec<(usize, Vec<HexByte>)> {
    bytes
        .chunks(ROW)
        .enumerate()
        .map(|(r, chunk)| {
            let offset = r * ROW;
            let cells = chunk
                .iter()
                .enumerate()
                .map(|(i, b)| HexByte {
                    hex: format!("{b:02x}"),
                    field: field_of(spans, offset + i),
                })
                .collect();
            (offset, cells)
        })
        .collect()
}

/// The field a byte belongs to. Where spans nest (a flag byte inside a header), the one
/// listed last is the most specific, so it wins.
pub fn field_of(spans: &[Span], index: usize) -> Option<usize> {
    spans
        .iter()
        .rposition(|s| s.start <= index && index < s.end)
}

/// A field's bytes as hex, for the legend: `00 04 4d 51 54 54`.
pub fn field_hex(bytes: &[u8], span: &Span) -> String {
    let end = span.end.min(bytes.len());
    let start = span.start.min(end);
    bytes[start..end]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(field: &'static str, start: usize, end: usize) -> Span {
        Span { field, start, end }
    }

    #[test]
    fn every_byte_is_tagged_with_its_innermost_field() {
        let spans = [span("header", 0, 2), span("flags", 1, 2), span("id", 2, 4)];
        let dump = rows(&[0x82, 0x02, 0x00, 0x01, 0xff], &spans);
        let fields: Vec<Option<usize>> = dump[0].1.iter().map(|b| b.field).collect();
        assert_eq!(fields, [Some(0), Some(1), Some(2), Some(2), None]);
        assert_eq!(dump[0].1[0].hex, "82");
    }

    #[test]
    fn long_packets_wrap_every_sixteen_bytes() {
        let dump = rows(&[0u8; 40], &[]);
        let offsets: Vec<usize> = dump.iter().map(|(o, _)| *o).collect();
        assert_eq!(offsets, [0, 16, 32]);
        assert_eq!(dump[2].1.len(), 8);
    }

    #[test]
    fn a_span_past_the_end_shows_what_exists() {
        assert_eq!(field_hex(&[1, 2], &span("x", 1, 9)), "02");
        assert_eq!(field_hex(&[1, 2], &span("x", 5, 9)), "");
    }
}
