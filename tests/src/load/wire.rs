//! The few MQTT 3.1.1 packets a load generator sends, and a parser for what it needs of
//! the packets it receives. Hand-written and minimal on purpose: the generator must cost
//! far less per message than the brokers it measures, and must not share code with them.
//! The fixed header is the hostile tests' [`put_packet`].

use crate::hostile::put_packet;

/// What the generator needs to know of one packet from the broker.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    ConnAck {
        accepted: bool,
    },
    SubAck,
    PubAck,
    Publish {
        qos: u8,
        packet_id: u16,
        /// The send time the generator wrote into the payload's first 8 bytes.
        sent_at_ns: u64,
    },
    Other,
}

/// The broker sent bytes that are not MQTT.
#[derive(Debug)]
pub struct Malformed;

/// Parses one packet from the front of `buf`: `Ok(None)` if it has not fully arrived.
pub fn parse(buf: &[u8]) -> Result<Option<(Incoming, usize)>, Malformed> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let mut length = 0usize;
    let mut header = 1;
    loop {
        let Some(&byte) = buf.get(header) else {
            return Ok(None);
        };
        length |= usize::from(byte & 0x7f) << (7 * (header - 1));
        header += 1;
        if byte & 0x80 == 0 {
            break;
        }
        if header > 4 {
            return Err(Malformed);
        }
    }
    let total = header + length;
    let Some(body) = buf.get(header..total) else {
        return Ok(None);
    };
    let packet = match first >> 4 {
        2 => Incoming::ConnAck {
            accepted: body.get(1) == Some(&0),
        },
        9 => Incoming::SubAck,
        4 => Incoming::PubAck,
        3 => {
            let qos = (first >> 1) & 0b11;
            let topic_len = usize::from(u16_at(body, 0)?);
            let mut at = 2 + topic_len;
            let mut packet_id = 0;
            if qos > 0 {
                packet_id = u16_at(body, at)?;
                at += 2;
            }
            let stamp = body.get(at..at + 8).ok_or(Malformed)?;
            let mut sent_at = [0u8; 8];
            sent_at.copy_from_slice(stamp);
            Incoming::Publish {
                qos,
                packet_id,
                sent_at_ns: u64::from_be_bytes(sent_at),
            }
        }
        _ => Incoming::Other,
    };
    Ok(Some((packet, total)))
}

fn u16_at(body: &[u8], at: usize) -> Result<u16, Malformed> {
    match body.get(at..at + 2) {
        Some(&[high, low]) => Ok(u16::from_be_bytes([high, low])),
        _ => Err(Malformed),
    }
}

/// CONNECT: MQTT 3.1.1, keep-alive 600 s (the generator never pings), with a clean
/// session or a persistent one.
pub fn connect(out: &mut Vec<u8>, client_id: &str, clean: bool) {
    let id = client_id.as_bytes();
    let flags = if clean { 0x02 } else { 0x00 };
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, flags, 0x02, 0x58];
    put_string(&mut body, id);
    put_packet(out, 0x10, &body);
}

/// SUBSCRIBE with packet id 1 to one filter.
pub fn subscribe(out: &mut Vec<u8>, filter: &str, qos: u8) {
    let mut body = vec![0, 1];
    put_string(&mut body, filter.as_bytes());
    body.push(qos);
    put_packet(out, 0x82, &body);
}

/// PUBLISH whose payload starts with the send time, so the receiver can compute latency.
pub fn publish(out: &mut Vec<u8>, topic: &str, qos: u8, packet_id: u16, payload: &[u8]) {
    let mut body = Vec::with_capacity(topic.len() + payload.len() + 4);
    put_string(&mut body, topic.as_bytes());
    if qos > 0 {
        body.extend_from_slice(&packet_id.to_be_bytes());
    }
    body.extend_from_slice(payload);
    put_packet(out, 0x30 | (qos << 1), &body);
}

pub fn puback(out: &mut Vec<u8>, packet_id: u16) {
    out.extend_from_slice(&[0x40, 2]);
    out.extend_from_slice(&packet_id.to_be_bytes());
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    // Names and topics here are the generator's own and short.
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_publish_round_trips_through_the_parser() {
        let mut out = Vec::new();
        let mut payload = 42u64.to_be_bytes().to_vec();
        payload.resize(200, 0);
        publish(&mut out, "bench/1", 1, 7, &payload);
        let parsed = parse(&out).expect("well formed");
        assert_eq!(
            parsed,
            Some((
                Incoming::Publish {
                    qos: 1,
                    packet_id: 7,
                    sent_at_ns: 42
                },
                out.len()
            ))
        );
        assert_eq!(parse(&out[..out.len() - 1]).expect("a prefix"), None);
    }
}
