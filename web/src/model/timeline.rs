//! The sequence diagram as data: rows made from trace entries, capped, and the lanes they
//! are drawn between.

use std::collections::VecDeque;
use std::rc::Rc;

use broker_wasm::{Action, DeviceId, DeviceView, Direction, Numbered, PacketTrace, TraceEntry};

/// The most rows the diagram keeps, as many as the world keeps trace entries: the learner
/// scrolls back through all of them. Only the rows in view are drawn (see
/// `Timeline::window`), so the page's work per frame does not grow with this number.
pub const TIMELINE_CAP: usize = broker_wasm::TRACE_CAP;

/// The height of a packet row or a note, in pixels; the style sheet draws rows exactly
/// this tall, so that the rows in view are found by arithmetic, not by layout.
pub const ROW_PX: u64 = 24;

/// The height of a rule's or a policy denial's row: two lines of explanation.
pub const TALL_ROW_PX: u64 = 44;

/// The most devices with a lane of their own; the others share one last lane.
pub const MAX_DEVICE_LANES: usize = 8;

/// One row of the diagram.
#[derive(Clone, Debug, PartialEq)]
pub enum Row {
    /// An arrow between a device and the broker.
    Packet {
        /// The trace entry's number, the row's key.
        seq: u64,
        /// The packet, with its bytes and spans for the inspector.
        packet: Rc<PacketTrace>,
        /// Why it never arrived, if it did not.
        lost: Option<&'static str>,
    },
    /// A rule of the aws-iot profile fired.
    Rule {
        /// The row's key.
        seq: u64,
        /// When.
        at: u64,
        /// `D1`..`D8` or a quota's code.
        code: &'static str,
        /// The one-line explanation.
        explanation: String,
        /// The particulars.
        detail: String,
        /// The device concerned, if one.
        device: Option<DeviceId>,
    },
    /// An AWS IoT policy denied a request: why, in one line.
    Policy {
        /// The row's key.
        seq: u64,
        /// When.
        at: u64,
        /// The device refused, if known.
        device: Option<DeviceId>,
        /// The refused client id.
        client_id: String,
        /// The reason: the denying statement, or the default deny.
        reason: String,
    },
    /// Something worth a line that is not a packet: an action, a disconnection, a Will.
    Note {
        /// The row's key.
        seq: u64,
        /// When.
        at: u64,
        /// The device concerned, if one.
        device: Option<DeviceId>,
        /// What happened.
        text: String,
    },
}

impl Row {
    /// How tall the row is drawn, in pixels.
    pub fn height(&self) -> u64 {
        match self {
            Row::Packet { .. } | Row::Note { .. } => ROW_PX,
            Row::Rule { .. } | Row::Policy { .. } => TALL_ROW_PX,
        }
    }

    /// The row's key: its trace entry's number.
    pub fn seq(&self) -> u64 {
        match self {
            Row::Packet { seq, .. }
            | Row::Rule { seq, .. }
            | Row::Policy { seq, .. }
            | Row::Note { seq, .. } => *seq,
        }
    }
}

/// The rows kept, newest last, each with where it is drawn.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timeline {
    /// The rows, oldest first.
    pub rows: VecDeque<Rc<Row>>,
    /// Where each row starts, in pixels from the first row ever made.
    tops: VecDeque<u64>,
    /// Where the next row will start.
    bottom: u64,
    /// How many rows were dropped for the cap.
    pub dropped: u64,
}

impl Timeline {
    /// Adds the rows for new trace entries. `devices` names the devices for notes.
    pub fn extend(&mut self, entries: &[Numbered], devices: &[Rc<DeviceView>]) {
        for n in entries {
            if let TraceEntry::Lost { packet, reason, .. } = &n.entry {
                self.mark_lost(*packet, reason);
                continue;
            }
            if let Some(row) = row(n, devices) {
                self.tops.push_back(self.bottom);
                self.bottom += row.height();
                self.rows.push_back(Rc::new(row));
            }
        }
        while self.rows.len() > TIMELINE_CAP {
            self.rows.pop_front();
            self.tops.pop_front();
            self.dropped += 1;
        }
    }

    /// Where the first kept row starts, in pixels from the first row ever made: it grows
    /// as old rows are dropped, and a viewer that is not following the end scrolls up by
    /// as much to keep its rows in place.
    pub fn base(&self) -> u64 {
        self.tops.front().copied().unwrap_or(self.bottom)
    }

    /// The height of every kept row together, in pixels.
    pub fn height(&self) -> u64 {
        self.bottom - self.base()
    }

    /// The rows that overlap pixels `from..to` of the kept rows (0 is the top of the
    /// first), with where each starts: what a viewer scrolled there draws.
    pub fn window(&self, from: u64, to: u64) -> impl Iterator<Item = (u64, &Rc<Row>)> + '_ {
        let base = self.base();
        // The last row starting at or before `from`, and every row starting before `to`.
        let first = self
            .tops
            .partition_point(|top| *top <= base + from)
            .saturating_sub(1);
        let end = self.tops.partition_point(|top| *top < base + to);
        (first..end.max(first))
            .filter_map(move |i| Some((self.tops.get(i)? - base, self.rows.get(i)?)))
    }

    /// Finds the packet's row (a recent one: loss is known one latency after sending)
    /// and marks it lost.
    fn mark_lost(&mut self, id: u64, reason: &'static str) {
        for row in self.rows.iter_mut().rev() {
            if let Row::Packet { seq, packet, .. } = row.as_ref() {
                if packet.id == id {
                    *row = Rc::new(Row::Packet {
                        seq: *seq,
                        packet: packet.clone(),
                        lost: Some(reason),
                    });
                    return;
                }
            }
        }
    }

    /// The packet with this id, if its row is still kept.
    pub fn packet(&self, id: u64) -> Option<Rc<PacketTrace>> {
        self.rows.iter().rev().find_map(|row| match row.as_ref() {
            Row::Packet { packet, .. } if packet.id == id => Some(packet.clone()),
            _ => None,
        })
    }
}

fn name(devices: &[Rc<DeviceView>], device: DeviceId) -> String {
    devices
        .get(device as usize)
        .map_or_else(|| format!("#{device}"), |d| d.spec.client_id.clone())
}

/// The row for one entry, or `None` for entries other panels show (inbox lines, session
/// changes, connection acceptance, which CONNACK already shows).
fn row(n: &Numbered, devices: &[Rc<DeviceView>]) -> Option<Row> {
    let seq = n.seq;
    let note = |at: u64, device: Option<DeviceId>, text: String| {
        Some(Row::Note {
            seq,
            at,
            device,
            text,
        })
    };
    match &n.entry {
        TraceEntry::Packet(p) => Some(Row::Packet {
            seq,
            packet: Rc::new(p.clone()),
            lost: None,
        }),
        TraceEntry::Rule {
            at,
            code,
            explanation,
            detail,
            device,
            ..
        } => Some(Row::Rule {
            seq,
            at: *at,
            code,
            explanation: explanation.clone(),
            detail: detail.clone(),
            device: *device,
        }),
        TraceEntry::Action { at, action } => {
            let device = action.device();
            let who = device.map(|d| name(devices, d));
            note(*at, device, action_text(action, who.as_deref()))
        }
        // Whether a Will went out shows on its own line (`Will`), for clients that left one.
        TraceEntry::Disconnected {
            at,
            device,
            client_id,
            reason,
            ..
        } => {
            let who = client_id.as_deref().unwrap_or("a connection");
            note(*at, *device, format!("broker closed {who}: {reason}"))
        }
        TraceEntry::TransportClosed { at, device } => note(
            *at,
            Some(*device),
            format!("{} sees its connection closed", name(devices, *device)),
        ),
        TraceEntry::Will {
            at,
            client_id,
            topic,
        } => note(
            *at,
            None,
            format!("Will of {client_id} published to {topic}"),
        ),
        TraceEntry::Retained { at, topic, stored } => {
            let what = if *stored { "stored" } else { "deleted" };
            note(*at, None, format!("retained message {what} on {topic}"))
        }
        TraceEntry::Dropped {
            at,
            client_id,
            topic,
            reason,
        } => note(
            *at,
            None,
            format!("message on {topic} not delivered to {client_id}: {reason}"),
        ),
        TraceEntry::Resent {
            at,
            client_id,
            count,
        } => note(
            *at,
            None,
            format!("{count} unacknowledged packet(s) re-sent to {client_id}"),
        ),
        TraceEntry::ReadingPaused { at, device, paused } => {
            let what = if *paused {
                "the broker stops reading this device: its acknowledgements wait for its subscribers"
            } else {
                "the broker reads this device again"
            };
            note(*at, *device, what.to_owned())
        }
        TraceEntry::SlowConsumer {
            at,
            client_id,
            slow,
        } => {
            let what = if *slow {
                "is a slow consumer: publishers no longer wait for it"
            } else {
                "caught up: publishers wait for it again"
            };
            note(*at, None, format!("{client_id} {what}"))
        }
        TraceEntry::ClientRefused { at, device, reason } => {
            note(*at, Some(*device), format!("the device's client: {reason}"))
        }
        TraceEntry::Violation { at, device, detail } => {
            note(*at, *device, format!("protocol violation: {detail}"))
        }
        TraceEntry::PolicyDenied {
            at,
            device,
            client_id,
            reason,
            ..
        } => Some(Row::Policy {
            seq,
            at: *at,
            device: *device,
            client_id: client_id.clone(),
            reason: reason.clone(),
        }),
        TraceEntry::Lost { .. }
        | TraceEntry::Connected { .. }
        | TraceEntry::Session { .. }
        | TraceEntry::Received { .. } => None,
    }
}

/// An action in words, for its note on the diagram.
pub fn action_text(action: &Action, who: Option<&str>) -> String {
    let who = who.unwrap_or("?");
    match action {
        Action::Spawn { spec } => match spec.version {
            broker_core::ProtocolVersion::V5 => format!("spawn {} (MQTT 5)", spec.client_id),
            broker_core::ProtocolVersion::V311 => format!("spawn {}", spec.client_id),
        },
        Action::Connect { .. } => format!("{who}: connect"),
        Action::Reconnect { .. } => format!("{who}: reconnect if closed"),
        Action::Disconnect {
            with_will: true, ..
        } => format!("{who}: disconnect with will"),
        Action::Disconnect { .. } => format!("{who}: disconnect"),
        Action::DropNetwork { .. } => format!("{who}: network drops"),
        Action::Subscribe { filter, qos, .. } => format!("{who}: subscribe {filter} q{qos}"),
        Action::Unsubscribe { filter, .. } => format!("{who}: unsubscribe {filter}"),
        Action::Publish {
            topic,
            payload,
            qos,
            retain,
            message_expiry,
            ..
        } => {
            let retain = if *retain { " retain" } else { "" };
            let expiry = message_expiry
                .map(|s| format!(", expires in {s}s"))
                .unwrap_or_default();
            format!("{who}: publish {payload:?} to {topic} q{qos}{retain}{expiry}")
        }
        Action::SetAutoAck { on, .. } => {
            format!("{who}: auto-ack {}", if *on { "on" } else { "off" })
        }
        Action::Ack { packet_id, .. } => format!("{who}: acknowledge id {packet_id}"),
        Action::AutoPublish {
            topic, every_ms, ..
        } => match every_ms {
            Some(ms) => format!("{who}: publish to {topic} every {ms} ms"),
            None => format!("{who}: stop publishing to {topic}"),
        },
    }
}

/// The lanes of the diagram: the broker first, then devices; devices past
/// `MAX_DEVICE_LANES` share the last lane.
#[derive(Clone, Debug, PartialEq)]
pub struct Lanes {
    /// The lane titles, broker first.
    pub titles: Vec<String>,
}

impl Lanes {
    /// Lanes for the devices spawned so far.
    pub fn new(devices: &[Rc<DeviceView>]) -> Self {
        let mut titles = vec!["broker".to_owned()];
        for d in devices.iter().take(MAX_DEVICE_LANES) {
            titles.push(format!("{} #{}", d.spec.client_id, d.id));
        }
        if devices.len() > MAX_DEVICE_LANES {
            titles.push(format!("{} more devices", devices.len() - MAX_DEVICE_LANES));
        }
        Lanes { titles }
    }

    /// Lanes named after the client ids of a recording or a live server, in the order
    /// they appeared; as for devices, those past `MAX_DEVICE_LANES` share the last lane.
    pub fn named(names: &[String]) -> Self {
        let mut titles = vec!["broker".to_owned()];
        titles.extend(names.iter().take(MAX_DEVICE_LANES).cloned());
        if names.len() > MAX_DEVICE_LANES {
            titles.push(format!("{} more clients", names.len() - MAX_DEVICE_LANES));
        }
        Lanes { titles }
    }

    /// The lane of a device.
    pub fn of_device(&self, device: DeviceId) -> usize {
        (device as usize + 1).min(self.titles.len().saturating_sub(1).max(1))
    }

    /// The horizontal centre of lane `i`, in percent of the diagram's width.
    pub fn x(&self, i: usize) -> f64 {
        (i as f64 + 0.5) * 100.0 / self.titles.len() as f64
    }
}

/// The lanes an arrow goes from and to.
pub fn ends(lanes: &Lanes, p: &PacketTrace) -> (usize, usize) {
    let device = lanes.of_device(p.device);
    match p.direction {
        Direction::ToBroker => (device, 0),
        Direction::ToDevice => (0, device),
    }
}

/// Milliseconds as seconds with three decimals: `1.020s`.
pub fn seconds(ms: u64) -> String {
    format!("{}.{:03}s", ms / 1000, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use broker_core::{Config, Profile};
    use broker_wasm::{Action, DeviceSpec, Scenario, World};

    /// A world whose trace has packets (24 px rows) and a D5 rule (44 px).
    fn entries() -> Vec<Numbered> {
        let mut w = World::new(&Scenario::new(Config::for_profile(Profile::AwsIot)));
        w.apply(Action::Spawn {
            spec: DeviceSpec::new("a"),
        })
        .unwrap();
        w.apply(Action::Connect { device: 0 }).unwrap();
        w.advance_to(100);
        w.apply(Action::Publish {
            device: 0,
            topic: "t".into(),
            payload: "x".into(),
            qos: 0,
            retain: true,
            message_expiry: None,
        })
        .unwrap();
        w.advance_to(200);
        w.poll_trace()
    }

    #[test]
    fn the_window_holds_the_rows_overlapping_the_view_and_their_places() {
        let mut t = Timeline::default();
        t.extend(&entries(), &[]);
        let heights: Vec<u64> = t.rows.iter().map(|r| r.height()).collect();
        assert!(heights.contains(&TALL_ROW_PX), "a rule row: {heights:?}");
        assert_eq!(t.height(), heights.iter().sum::<u64>());
        // Pixels 30..50 lie in the second row (24..48) and the third (48..).
        let shown: Vec<u64> = t.window(30, 50).map(|(top, _)| top).collect();
        assert_eq!(shown, [24, 48]);
        assert_eq!(t.window(0, t.height()).count(), t.rows.len());
        assert_eq!(
            t.window(t.height(), t.height() + 100).count(),
            1,
            "the last row"
        );
    }

    #[test]
    fn dropping_old_rows_moves_the_base_and_keeps_places_relative() {
        let entries = entries();
        let mut t = Timeline::default();
        while t.dropped == 0 {
            t.extend(&entries, &[]);
        }
        assert_eq!(t.rows.len(), TIMELINE_CAP);
        assert!(t.base() > 0);
        let (top, _) = t.window(0, 1).next().expect("the first kept row");
        assert_eq!(top, 0);
        assert_eq!(t.height(), t.rows.iter().map(|r| r.height()).sum::<u64>());
    }
}
