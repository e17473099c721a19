//! AWS IoT lifecycle events (docs/aws-iot-profile.md, "Lifecycle events"): JSON messages the broker
//! publishes itself on `$aws/events/...` when clients connect, disconnect, subscribe and
//! unsubscribe. They go through ordinary routing, so subscribers receive them like any
//! QoS 0 message.

use bytes::Bytes;

use super::Broker;
use crate::event::CloseReason;
use crate::time::Instant;
use crate::topic::{TopicFilter, TopicName};
use crate::types::QoS;

/// What a connection's lifecycle events share: its session identifier, the version
/// number its connect and disconnect events carry, and who it is.
#[derive(Debug, Clone)]
pub(super) struct Lifecycle {
    pub(super) client_id: String,
    pub(super) session_identifier: String,
    pub(super) principal: String,
    pub(super) ip_address: String,
    pub(super) version: u64,
}

impl Broker {
    /// The lifecycle record of a newly accepted CONNECT, or `None` where AWS publishes
    /// no events: outside the profile, with events switched off, or for client ids
    /// containing `#` or `+`.
    pub(super) fn lifecycle_for(
        &mut self,
        client_id: &str,
        username: Option<&str>,
        peer: &crate::PeerInfo,
    ) -> Option<Lifecycle> {
        let enabled = self.aws().is_some_and(|r| r.lifecycle_events);
        if !enabled || client_id.contains(['#', '+']) {
            return None;
        }
        let client_id: std::sync::Arc<str> = client_id.into();
        let version = self
            .lifecycle_versions
            .entry(client_id.clone())
            .or_insert(0);
        let this = *version;
        *version += 1;
        self.lifecycle_changed(&client_id);
        let (hi, lo) = (self.rng.next_u64(), self.rng.next_u64());
        let session_identifier = format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xFFFF,
            hi & 0x0FFF,
            0x8000 | ((lo >> 48) & 0x3FFF),
            lo & 0xFFFF_FFFF_FFFF
        );
        let principal = peer
            .principal
            .as_deref()
            .or(username)
            .unwrap_or("")
            .to_owned();
        Some(Lifecycle {
            client_id: client_id.to_string(),
            session_identifier,
            principal,
            ip_address: peer
                .addr
                .as_deref()
                .map(strip_port)
                .unwrap_or("")
                .to_owned(),
            version: this,
        })
    }

    pub(super) fn publish_connected(&mut self, now: Instant, l: &Lifecycle) {
        let body = format!(
            r#"{{"clientId":{},"timestamp":{},"eventType":"connected","sessionIdentifier":{},"principalIdentifier":{},"ipAddress":{},"versionNumber":{}}}"#,
            json(&l.client_id),
            now.as_millis(),
            json(&l.session_identifier),
            json(&l.principal),
            json(&l.ip_address),
            l.version
        );
        self.publish_event(now, "$aws/events/presence/connected/", &l.client_id, body);
    }

    pub(super) fn publish_disconnected(
        &mut self,
        now: Instant,
        l: &Lifecycle,
        reason: &CloseReason,
    ) {
        let body = format!(
            r#"{{"clientId":{},"timestamp":{},"eventType":"disconnected","clientInitiatedDisconnect":{},"sessionIdentifier":{},"principalIdentifier":{},"disconnectReason":"{}","versionNumber":{}}}"#,
            json(&l.client_id),
            now.as_millis(),
            *reason == CloseReason::ClientDisconnect,
            json(&l.session_identifier),
            json(&l.principal),
            reason.aws_reason(),
            l.version
        );
        self.publish_event(
            now,
            "$aws/events/presence/disconnected/",
            &l.client_id,
            body,
        );
    }

    pub(super) fn publish_subscriptions(
        &mut self,
        now: Instant,
        l: &Lifecycle,
        subscribed: bool,
        topics: &[TopicFilter],
    ) {
        if topics.is_empty() {
            return;
        }
        let list: Vec<String> = topics.iter().map(|t| json(t.as_str())).collect();
        let kind = if subscribed {
            "subscribed"
        } else {
            "unsubscribed"
        };
        let body = format!(
            r#"{{"clientId":{},"timestamp":{},"eventType":"{kind}","sessionIdentifier":{},"principalIdentifier":{},"topics":[{}]}}"#,
            json(&l.client_id),
            now.as_millis(),
            json(&l.session_identifier),
            json(&l.principal),
            list.join(",")
        );
        let prefix = if subscribed {
            "$aws/events/subscriptions/subscribed/"
        } else {
            "$aws/events/subscriptions/unsubscribed/"
        };
        self.publish_event(now, prefix, &l.client_id, body);
    }

    fn publish_event(&mut self, now: Instant, prefix: &str, client_id: &str, body: String) {
        // A client id can make the topic invalid only by containing U+0000, which the
        // codec already refuses; skipping is the safe answer all the same.
        if let Ok(topic) = TopicName::new(&format!("{prefix}{client_id}")) {
            self.route_own(now, &topic, Bytes::from(body), QoS::AtMostOnce, None);
        }
    }
}

/// "192.0.2.1:5000" becomes "192.0.2.1", "[2001:db8::1]:5000" becomes "2001:db8::1".
fn strip_port(addr: &str) -> &str {
    match addr.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) && !host.is_empty() => {
            host.trim_start_matches('[').trim_end_matches(']')
        }
        _ => addr,
    }
}

/// A JSON string literal for `s`, escaped as RFC 8259 requires.
fn json(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_quotes_backslashes_and_controls() {
        assert_eq!(json("a\"b\\c\u{1}"), r#""a\"b\\c\u0001""#);
    }

    #[test]
    fn ports_are_stripped_from_v4_and_v6_addresses() {
        assert_eq!(strip_port("192.0.2.1:5000"), "192.0.2.1");
        assert_eq!(strip_port("[2001:db8::1]:5000"), "2001:db8::1");
        assert_eq!(strip_port("sim-device"), "sim-device");
    }
}
