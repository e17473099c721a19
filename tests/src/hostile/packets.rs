//! Packet builders for writing MQTT packets, malformed ones included, byte by byte.

/// A packet: the fixed header's first byte, the remaining length (encoded as section
/// 2.2.3 says), then `body`.
pub fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 5);
    put_packet(&mut out, first, body);
    out
}

/// [`packet`] appended to `out`: the load generator writes its packets with it too.
pub fn put_packet(out: &mut Vec<u8>, first: u8, body: &[u8]) {
    out.push(first);
    let mut len = body.len();
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
}

/// A length-prefixed string or binary field (section 1.5.3), bytes as given.
pub fn field(bytes: &[u8]) -> Vec<u8> {
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

/// A CONNECT built field by field: protocol name and level, connect flags, keep-alive
/// 60 s, then `payload` (client id and whatever the flags announce), bytes as given.
pub fn connect_with(protocol: &[u8], level: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut body = field(protocol);
    body.push(level);
    body.push(flags);
    body.extend_from_slice(&60u16.to_be_bytes());
    body.extend_from_slice(payload);
    packet(0x10, &body)
}

/// A valid CONNECT: protocol "MQTT" level 4, clean session, keep-alive 60 s.
pub fn connect(client_id: &str) -> Vec<u8> {
    connect_with(b"MQTT", 4, 0x02, &field(client_id.as_bytes()))
}

/// A CONNACK with `code` and session present 0.
pub fn connack(code: u8) -> [u8; 4] {
    [0x20, 2, 0, code]
}
