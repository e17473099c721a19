//! Prometheus metrics: the core's own counters (`Stats`) plus counters the server derives
//! from the core's events, rendered in the Prometheus text format for `/metrics`.
//!
//! A new counter from an event is one arm in [`EventCounters::observe`]: the family is
//! created, documented and rendered from that one call.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::Ordering;

use broker_core::{DropReason, Event, PacketType, Stats};
use serde::Serialize;

use crate::refusals::Refusals;

/// Counters derived from events, kept by the owner loop.
#[derive(Clone, Debug, Default)]
pub struct EventCounters {
    families: BTreeMap<&'static str, Family>,
}

#[derive(Clone, Debug)]
struct Family {
    help: &'static str,
    /// Sample value by rendered label set (`{reason="KeepAliveTimeout"}`, or empty).
    samples: BTreeMap<String, u64>,
}

impl EventCounters {
    /// Counts what `event` says happened.
    pub fn observe(&mut self, event: &Event) {
        match event {
            Event::Connected { version, .. } => self.add(
                "brokerlab_connects_total",
                "CONNECTs accepted, by the MQTT version the client speaks (3.1.1 or 5.0).",
                &[("mqtt", version.name())],
                1,
            ),
            Event::Disconnected { reason, .. } => self.add(
                "brokerlab_disconnects_total",
                "Connections ended, by the broker's reason.",
                &[("reason", reason.label())],
                1,
            ),
            Event::Dropped { reason, .. } => self.dropped(reason),
            Event::ProtocolViolation { violation, .. } => self.add(
                "brokerlab_protocol_violations_total",
                "Connections closed for breaking MQTT, by the statement broken.",
                &[("statement", violation.statement())],
                1,
            ),
            Event::Session { change, .. } => self.add(
                "brokerlab_session_changes_total",
                "Sessions created, resumed and discarded.",
                &[("change", &variant_name(change))],
                1,
            ),
            Event::RuleFired { rule, .. } => self.add(
                "brokerlab_rules_fired_total",
                "Rules of the aws-iot profile that changed what the broker did, by code \
                 (D1..D8, Q-* quotas, R-* rules; see docs/aws-iot-profile.md).",
                &[("rule", rule.code())],
                1,
            ),
            Event::PolicyDecision { decision, .. } => self.add(
                "brokerlab_policy_decisions_total",
                "Policy checks (--policy) answered, by action and result (allow or deny).",
                &[
                    ("action", decision.action.name()),
                    ("result", if decision.allowed { "allow" } else { "deny" }),
                ],
                1,
            ),
            Event::WillPublished { .. } => self.add(
                "brokerlab_wills_published_total",
                "Wills published because a connection ended without DISCONNECT.",
                &[],
                1,
            ),
            Event::Resent { count, .. } => self.add(
                "brokerlab_resent_packets_total",
                "QoS 1 and 2 packets sent again with DUP=1.",
                &[],
                *count as u64,
            ),
            Event::SlowConsumer { slow: true, .. } => self.add(
                "brokerlab_slow_consumers_total",
                "Sessions that publishers waited on and that read nothing for \
                 slow_consumer_timeout_ms: their publishers stopped waiting for them.",
                &[],
                1,
            ),
            Event::TimerFired { timer, .. } => self.add(
                "brokerlab_timers_fired_total",
                "Broker timers that expired and were acted on, by timer.",
                &[("timer", &variant_name(timer))],
                1,
            ),
            _ => {}
        }
    }

    /// Counts a message not delivered to a subscriber, by reason.
    pub fn dropped(&mut self, reason: &DropReason) {
        self.add(
            "brokerlab_dropped_messages_total",
            "Messages not delivered to a subscriber, by reason.",
            &[("reason", &variant_name(reason))],
            1,
        );
    }

    /// Counts a connection closed because the peer broke its transport's framing.
    pub fn transport_violation(&mut self, kind: &str) {
        self.add(
            "brokerlab_transport_errors_total",
            "Connections closed because the peer broke the transport's framing, by kind \
             (websocket-text-frame is MQTT-6.0.0-1).",
            &[("kind", kind)],
            1,
        );
    }

    /// Counts a panic that the server survived, by where it happened.
    pub fn panicked(&mut self, place: &str) {
        self.add(
            "brokerlab_panics_total",
            "Panics caught and survived, by place; each closed the connection involved. \
             Any is a bug: please report it with the log.",
            &[("place", place)],
            1,
        );
    }

    /// Counts a connection whose outgoing queue went past its high-water mark.
    pub fn congested(&mut self) {
        self.add(
            "brokerlab_congestion_episodes_total",
            "Times a connection's outgoing queue went past half of --max-outgoing-bytes; \
             while congested, its QoS 0 messages are dropped and QoS 1 and 2 wait.",
            &[],
            1,
        );
    }

    /// Counts one write of the data dir's journal: a batch of changes, written and synced.
    pub fn stored(&mut self, changes: usize, took: std::time::Duration) {
        self.add(
            "brokerlab_store_writes_total",
            "Writes to the data dir's journal, each one record and one fdatasync holding \
             every change since the previous write (group commit).",
            &[],
            1,
        );
        self.add(
            "brokerlab_store_changes_total",
            "Keys set or deleted in the data dir (sessions, retained messages, lifecycle \
             version numbers), over all writes.",
            &[],
            changes as u64,
        );
        self.add(
            "brokerlab_store_write_microseconds_total",
            "Time spent writing and syncing the journal; divided by \
             brokerlab_store_writes_total, the mean time an acknowledgement waits for the disk.",
            &[],
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
        );
    }

    /// Counts a time the server stopped reading a publisher (backpressure).
    pub fn reading_paused(&mut self) {
        self.add(
            "brokerlab_reading_paused_total",
            "Times the server stopped reading a publisher because max_held_acks of its \
             acknowledgements waited for its subscribers (backpressure).",
            &[],
            1,
        );
    }

    /// Counts a connection closed because its outgoing queue overflowed.
    pub fn slow_consumer_disconnected(&mut self) {
        self.add(
            "brokerlab_slow_consumer_disconnects_total",
            "Connections closed because they read too slowly to keep their outgoing \
             queue under --max-outgoing-bytes.",
            &[],
            1,
        );
    }

    fn add(&mut self, name: &'static str, help: &'static str, labels: &[(&str, &str)], n: u64) {
        let family = self.families.entry(name).or_insert_with(|| Family {
            help,
            samples: BTreeMap::new(),
        });
        *family.samples.entry(render_labels(labels)).or_default() += n;
    }
}

/// Everything `/metrics` shows, taken by the owner loop at one instant.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub stats: Stats,
    pub counters: EventCounters,
    pub connections_open: usize,
    pub event_watchers: usize,
}

/// The packet types in wire order, for per-type series.
const PACKET_TYPES: [PacketType; 14] = [
    PacketType::Connect,
    PacketType::ConnAck,
    PacketType::Publish,
    PacketType::PubAck,
    PacketType::PubRec,
    PacketType::PubRel,
    PacketType::PubComp,
    PacketType::Subscribe,
    PacketType::SubAck,
    PacketType::Unsubscribe,
    PacketType::UnsubAck,
    PacketType::PingReq,
    PacketType::PingResp,
    PacketType::Disconnect,
];

/// Renders `snapshot` plus the listeners' refusals in the Prometheus text format.
pub fn render(snapshot: &Snapshot, refusals: &Refusals) -> String {
    let stats = &snapshot.stats;
    let mut out = String::new();
    let mut single = |name: &str, kind: &str, help: &str, value: u64| {
        family_header(&mut out, name, kind, help);
        sample(&mut out, name, "", value);
    };
    single(
        "brokerlab_connections_open",
        "gauge",
        "MQTT connections open now (TCP, TLS and WebSocket).",
        snapshot.connections_open as u64,
    );
    single(
        "brokerlab_event_watchers",
        "gauge",
        "Clients watching the /events stream now.",
        snapshot.event_watchers as u64,
    );
    single(
        "brokerlab_connections_accepted_total",
        "counter",
        "MQTT connections accepted.",
        stats.connections_accepted,
    );
    single(
        "brokerlab_bytes_received_total",
        "counter",
        "MQTT bytes received.",
        stats.bytes_in,
    );
    single(
        "brokerlab_bytes_sent_total",
        "counter",
        "MQTT bytes sent.",
        stats.bytes_out,
    );
    single(
        "brokerlab_deliveries_total",
        "counter",
        "Messages sent or queued to subscribers.",
        stats.deliveries,
    );
    for (name, help, counts) in [
        (
            "brokerlab_packets_received_total",
            "MQTT packets received, by type.",
            &stats.packets_in,
        ),
        (
            "brokerlab_packets_sent_total",
            "MQTT packets sent, by type.",
            &stats.packets_out,
        ),
        (
            "brokerlab_packet_bytes_received_total",
            "Bytes of complete MQTT packets received, by type.",
            &stats.bytes_in_by_type,
        ),
        (
            "brokerlab_packet_bytes_sent_total",
            "MQTT bytes sent, by packet type.",
            &stats.bytes_out_by_type,
        ),
    ] {
        family_header(&mut out, name, "counter", help);
        for t in PACKET_TYPES {
            let count = counts.get(t as usize).copied().unwrap_or(0);
            sample(&mut out, name, &render_labels(&[("type", t.name())]), count);
        }
    }
    let refused = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
    let name = "brokerlab_connections_refused_total";
    family_header(
        &mut out,
        name,
        "counter",
        "Connections closed unanswered by the listeners, by reason: --max-connections were \
         open, or the source address went over --connect-rate-per-ip.",
    );
    for (reason, value) in [
        ("max-connections", refused(&refusals.max_connections)),
        ("connect-rate", refused(&refusals.connect_rate)),
    ] {
        sample(&mut out, name, &render_labels(&[("reason", reason)]), value);
    }
    let name = "brokerlab_websocket_handshakes_refused_total";
    family_header(
        &mut out,
        name,
        "counter",
        "WebSocket handshakes refused, by reason: at /mqtt without an MQTT subprotocol \
         (400, MQTT-6.0.0-3), at /events from a client that may not watch it (403).",
    );
    for (reason, value) in [
        ("no-subprotocol", refused(&refusals.no_subprotocol)),
        ("events-forbidden", refused(&refusals.events_forbidden)),
    ] {
        sample(&mut out, name, &render_labels(&[("reason", reason)]), value);
    }
    for (name, family) in &snapshot.counters.families {
        family_header(&mut out, name, "counter", family.help);
        for (labels, value) in &family.samples {
            sample(&mut out, name, labels, *value);
        }
    }
    out
}

fn family_header(out: &mut String, name: &str, kind: &str, help: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &str, value: u64) {
    let _ = writeln!(out, "{name}{labels} {value}");
}

fn render_labels(labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let body: Vec<String> = labels
        .iter()
        .map(|(key, value)| format!("{key}=\"{}\"", escape(value)))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// Escapes a label value as the text format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The name of an enum variant as serde writes it (`KeepAliveTimeout`, `TakenOver`),
/// without its fields. Labels come from the core's own serialization, so a variant the
/// core adds is labelled correctly without a change here.
fn variant_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        Ok(serde_json::Value::Object(fields)) => fields
            .keys()
            .next()
            .cloned()
            .unwrap_or_else(|| "unknown".into()),
        _ => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use broker_core::{CloseReason, ConnId};

    use super::*;

    #[test]
    fn events_become_labelled_counters() {
        let mut counters = EventCounters::default();
        for reason in [
            CloseReason::KeepAliveTimeout,
            CloseReason::TakenOver { by: ConnId(9) },
            CloseReason::KeepAliveTimeout,
        ] {
            counters.observe(&Event::Disconnected {
                conn: ConnId(1),
                client_id: None,
                reason,
            });
        }
        let snapshot = Snapshot {
            stats: Stats::default(),
            counters,
            connections_open: 0,
            event_watchers: 0,
        };
        let text = render(&snapshot, &Refusals::default());
        assert!(text.contains("# TYPE brokerlab_disconnects_total counter\n"));
        assert!(text.contains("brokerlab_disconnects_total{reason=\"KeepAliveTimeout\"} 2\n"));
        assert!(text.contains("brokerlab_disconnects_total{reason=\"TakenOver\"} 1\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(
            render_labels(&[("a", "x\"y\\z\n")]),
            "{a=\"x\\\"y\\\\z\\n\"}"
        );
    }
}
