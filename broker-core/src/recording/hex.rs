//! Bytes as lowercase hexadecimal text, the way recordings carry them: readable next to
//! the specification's byte tables, and safe in JSON.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes that serialize as a hexadecimal string.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Hex(pub Vec<u8>);

impl Hex {
    /// Parses hexadecimal text (either case, even length).
    pub fn parse(text: &str) -> Result<Hex, String> {
        if !text.len().is_multiple_of(2) {
            return Err(format!("odd number of hex digits ({})", text.len()));
        }
        let digits = text.as_bytes();
        let mut bytes = Vec::with_capacity(digits.len() / 2);
        for pair in digits.chunks_exact(2) {
            let high = digit(pair[0])?;
            let low = digit(pair[1])?;
            bytes.push(high << 4 | low);
        }
        Ok(Hex(bytes))
    }
}

fn digit(d: u8) -> Result<u8, String> {
    match d {
        b'0'..=b'9' => Ok(d - b'0'),
        b'a'..=b'f' => Ok(d - b'a' + 10),
        b'A'..=b'F' => Ok(d - b'A' + 10),
        _ => Err(format!("{:?} is not a hex digit", char::from(d))),
    }
}

impl Hex {
    /// The bytes as lowercase hexadecimal text. A table and one allocation: a recording
    /// server writes every byte it reads and sends this way, so it is kept cheap.
    pub fn encode(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = Vec::with_capacity(self.0.len() * 2);
        for b in &self.0 {
            text.push(DIGITS[usize::from(b >> 4)]);
            text.push(DIGITS[usize::from(b & 0xf)]);
        }
        // Only ASCII digits were pushed.
        String::from_utf8(text).unwrap_or_default()
    }
}

impl fmt::Display for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl fmt::Debug for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.encode())
    }
}

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Hex::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_is_not_hex() {
        let h = Hex(vec![0x30, 0x0a, 0xff]);
        assert_eq!(h.to_string(), "300aff");
        assert_eq!(Hex::parse("300AFF"), Ok(h));
        assert!(Hex::parse("30a").is_err());
        assert!(Hex::parse("zz").is_err());
    }
}
