//! A recording drawn on the diagram: the lines of `brokerlab serve --record` or of the
//! page's live stream (`/live`) turned into the same trace entries the simulator's world
//! makes, with one lane per client id (docs/live.md).
//!
//! The broker's outputs are whole packets; its inputs are reads, split anywhere, so each
//! connection's bytes are reassembled into packets here before they are decoded. Packets
//! of one connection are decoded with the protocol version its CONNECT named.

use std::collections::BTreeMap;

use broker_core::codec::Packet;
use broker_core::recording::{Entry, Header};
use broker_core::{Config, ProtocolVersion};

use crate::scenario::DeviceId;
use crate::trace::{
    decode_described, describe, from_note, undecodable, Described, Direction, Numbered,
    PacketTrace, Trace, TraceEntry,
};

/// The most bytes kept of a packet that has not fully arrived: past the broker's largest
/// packet, what is kept is no packet the broker accepted, and the rest is shown as
/// undecodable.
const MAX_PARTIAL: usize = 1 << 20;

/// What is known of one connection.
#[derive(Debug, Default)]
struct Conn {
    lane: Option<DeviceId>,
    version: ProtocolVersion,
    partial: Vec<u8>,
}

/// A recording being drawn.
#[derive(Debug)]
pub struct Tape {
    config: Config,
    conns: BTreeMap<u64, Conn>,
    /// Lane titles, by lane number: client ids, or `conn N` before CONNECT names one.
    lanes: Vec<String>,
    trace: Trace,
    next_packet: u64,
    /// The time of the first input, which the diagram shows as 0.
    origin: Option<u64>,
    /// The time of the last input, since `origin`.
    now: u64,
    /// Lines the stream or the page skipped.
    skipped: u64,
    /// Why the recording ended early, if it said so.
    ended: Option<String>,
    /// While muted, lines update what is known (lanes, versions) but make no entries.
    muted: bool,
    /// Packets not drawn while muted.
    unshown: u64,
}

impl Tape {
    /// A tape for a recording whose header line is `header`.
    pub fn new(header: &str) -> Result<Tape, String> {
        Ok(Tape::from_header(Header::parse(header)?))
    }

    /// A tape for a recording with this header.
    pub fn from_header(header: Header) -> Tape {
        Tape {
            config: header.config,
            conns: BTreeMap::new(),
            lanes: Vec::new(),
            trace: Trace::default(),
            next_packet: 0,
            origin: None,
            now: 0,
            skipped: 0,
            ended: None,
            muted: false,
            unshown: 0,
        }
    }

    /// Draws one line of the recording. A line that is not a recording's is an error and
    /// changes nothing.
    pub fn handle_line(&mut self, line: &str) -> Result<(), String> {
        if line.trim().is_empty() {
            return Ok(());
        }
        let entry: Entry =
            serde_json::from_str(line).map_err(|e| format!("not a recording line: {e}"))?;
        self.handle_entry(entry);
        Ok(())
    }

    /// Draws one entry.
    pub fn handle_entry(&mut self, entry: Entry) {
        if let Some(t) = entry.time() {
            let origin = *self.origin.get_or_insert(t);
            self.now = self.now.max(t.saturating_sub(origin));
        }
        match entry {
            Entry::Accept { conn, .. } => {
                self.conns.insert(conn, Conn::default());
            }
            Entry::Bytes { conn, hex, .. } => self.received(conn, &hex.0),
            Entry::Closed { .. }
            | Entry::Congestion { .. }
            | Entry::Timeout { .. }
            | Entry::CloseConnection { .. }
            | Entry::Events { .. }
            | Entry::Recover { .. }
            | Entry::Stored { .. }
            | Entry::Store { .. } => {}
            Entry::Transmit { conn, hex } => self.packet(conn, Direction::ToDevice, hex.0, None),
            Entry::Close { conn, .. } => {
                self.conns.remove(&conn);
            }
            Entry::Pause { conn } | Entry::Resume { conn } => {
                let paused = matches!(entry, Entry::Pause { .. });
                let device = self.conns.get(&conn).and_then(|c| c.lane);
                let at = self.now;
                self.push(TraceEntry::ReadingPaused { at, device, paused });
            }
            Entry::Note { note, .. } => {
                if let broker_core::recording::Note::Connected {
                    conn, client_id, ..
                } = &note
                {
                    self.name(*conn, client_id);
                }
                let conns = &self.conns;
                let entry = from_note(self.now, note, &self.config, |c| {
                    conns.get(&c).and_then(|c| c.lane)
                });
                self.push(entry);
            }
            Entry::Present { conns } => {
                for open in conns {
                    let conn = self.conns.entry(open.conn).or_default();
                    if let Some(version) = open.version {
                        conn.version = version;
                    }
                    if let Some(client_id) = &open.client_id {
                        self.name(open.conn, client_id);
                    }
                }
            }
            Entry::Skipped { lines } => self.skip(lines),
            Entry::End { why } => self.ended = Some(why),
        }
    }

    /// Lines were lost before they reached the tape (the stream or the page fell
    /// behind): half-read packets are forgotten, since their rest may be among them.
    pub fn skip(&mut self, lines: u64) {
        self.skipped += lines;
        for conn in self.conns.values_mut() {
            conn.partial.clear();
        }
    }

    /// Mutes or unmutes the diagram (the page's pause): muted, lines keep the lanes and
    /// versions known but draw nothing.
    pub fn set_muted(&mut self, muted: bool) {
        self.muted = muted;
    }

    /// Entries made since the last call.
    pub fn poll_trace(&mut self) -> Vec<Numbered> {
        self.trace.read_new()
    }

    /// The lane titles, by lane number (a packet's `device`).
    pub fn lanes(&self) -> &[String] {
        &self.lanes
    }

    /// The broker's configuration, as the header gave it.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Milliseconds since the first input.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Lines skipped by the stream or the page.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Packets not drawn while muted.
    pub fn unshown(&self) -> u64 {
        self.unshown
    }

    /// Why the recording ended early, if it did.
    pub fn ended(&self) -> Option<&str> {
        self.ended.as_deref()
    }

    fn push(&mut self, entry: TraceEntry) {
        if !self.muted {
            self.trace.push(entry);
        }
    }

    /// Gives `conn` the lane of `client_id`, making one if it is new.
    fn name(&mut self, conn: u64, client_id: &str) {
        let lane = match self.lanes.iter().position(|l| l == client_id) {
            Some(i) => i,
            None => {
                // A lane first titled `conn N` takes the client id the broker assigned.
                let own = self.conns.get(&conn).and_then(|c| c.lane);
                match own {
                    Some(i) if self.lanes[i as usize] == format!("conn {conn}") => {
                        self.lanes[i as usize] = client_id.to_owned();
                        i as usize
                    }
                    _ => {
                        self.lanes.push(client_id.to_owned());
                        self.lanes.len() - 1
                    }
                }
            }
        };
        self.conns.entry(conn).or_default().lane = Some(lane as DeviceId);
    }

    /// The lane of `conn`, made under a provisional title if it has none yet.
    fn lane(&mut self, conn: u64) -> DeviceId {
        if let Some(lane) = self.conns.get(&conn).and_then(|c| c.lane) {
            return lane;
        }
        self.lanes.push(format!("conn {conn}"));
        let lane = (self.lanes.len() - 1) as DeviceId;
        self.conns.entry(conn).or_default().lane = Some(lane);
        lane
    }

    /// One read's bytes: every packet they complete is drawn.
    fn received(&mut self, conn: u64, bytes: &[u8]) {
        let c = self.conns.entry(conn).or_default();
        c.partial.extend_from_slice(bytes);
        loop {
            let c = self.conns.entry(conn).or_default();
            let (len, described, connect) = match decode_described(&c.partial, c.version) {
                Ok(Some((packet, len, described))) => match packet {
                    Packet::Connect(connect) => (len, described, Some(connect)),
                    _ => (len, described, None),
                },
                Ok(None) if c.partial.len() <= MAX_PARTIAL => return,
                // What cannot be decoded is drawn as it is, and the broker closed the
                // connection for it anyway.
                Ok(None) | Err(_) => (c.partial.len(), undecodable(c.partial.len()), None),
            };
            let packet: Vec<u8> = c.partial.drain(..len).collect();
            if let Some(connect) = connect {
                c.version = connect.version;
                if !connect.client_id.is_empty() {
                    self.name(conn, &connect.client_id);
                }
            }
            self.packet(conn, Direction::ToBroker, packet, Some(described));
            if self.conns.get(&conn).is_none_or(|c| c.partial.is_empty()) {
                return;
            }
        }
    }

    /// Draws a whole packet on the connection's lane, decoding it unless it was; while
    /// muted, only counts it.
    fn packet(
        &mut self,
        conn: u64,
        direction: Direction,
        bytes: Vec<u8>,
        described: Option<Described>,
    ) {
        if self.muted {
            self.unshown += 1;
            return;
        }
        let version = self.conns.get(&conn).map(|c| c.version).unwrap_or_default();
        let (kind, label, spans) = described.unwrap_or_else(|| describe(&bytes, version));
        let device = self.lane(conn);
        let id = self.next_packet;
        self.next_packet += 1;
        let client_id = self.lanes[device as usize].clone();
        self.trace.push(TraceEntry::Packet(PacketTrace {
            id,
            device,
            client_id,
            direction,
            sent_at: self.now,
            arrives_at: self.now,
            kind,
            label,
            bytes,
            spans,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use broker_core::client::{Client, ClientOptions};
    use broker_core::recording::{Hex, Note, Recorder};
    use broker_core::{PeerInfo, Profile, Rule};

    fn tape() -> Tape {
        let mut recorder = Recorder::new(&Config::for_profile(Profile::AwsIot), 1 << 20);
        let header = String::from_utf8(recorder.poll_bytes().unwrap()).unwrap();
        Tape::new(header.trim_end()).expect("header")
    }

    /// The CONNECT the core's own client sends.
    fn connect(client_id: &str) -> Vec<u8> {
        let mut client = Client::new(ClientOptions::new(client_id));
        client.connect(broker_core::Instant::ZERO);
        client.poll_transmit().expect("CONNECT").to_vec()
    }

    #[test]
    fn reads_split_anywhere_become_whole_packets_on_the_client_ids_lane() {
        let mut t = tape();
        t.handle_entry(Entry::Accept {
            t: 1000,
            conn: 3,
            peer: PeerInfo::default(),
        });
        let mut bytes = connect("sensor-1");
        bytes.extend_from_slice(&[0xc0, 0]); // PINGREQ in the same read, split below.
        t.handle_entry(Entry::Bytes {
            t: 1001,
            conn: 3,
            hex: Hex(bytes[..5].to_vec()),
        });
        assert!(t.poll_trace().is_empty(), "half a CONNECT draws nothing");
        t.handle_entry(Entry::Bytes {
            t: 1002,
            conn: 3,
            hex: Hex(bytes[5..].to_vec()),
        });
        t.handle_entry(Entry::Transmit {
            conn: 3,
            hex: Hex(vec![0x20, 2, 0, 0]),
        });
        let kinds: Vec<(&str, String, Direction, u64)> = t
            .poll_trace()
            .into_iter()
            .filter_map(|n| match n.entry {
                TraceEntry::Packet(p) => Some((p.kind, p.client_id, p.direction, p.sent_at)),
                _ => None,
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("CONNECT", "sensor-1".into(), Direction::ToBroker, 2),
                ("PINGREQ", "sensor-1".into(), Direction::ToBroker, 2),
                ("CONNACK", "sensor-1".into(), Direction::ToDevice, 2),
            ]
        );
        assert_eq!(t.lanes(), ["sensor-1"]);
    }

    #[test]
    fn notes_mark_rules_on_the_connections_lane_and_an_assigned_id_renames_it() {
        let mut t = tape();
        t.handle_entry(Entry::Bytes {
            t: 5,
            conn: 9,
            hex: Hex(connect("")),
        });
        assert_eq!(t.lanes(), ["conn 9"]);
        t.handle_entry(Entry::Note {
            t: 5,
            note: Note::Connected {
                conn: 9,
                client_id: "assigned-1".into(),
                session_present: false,
            },
        });
        assert_eq!(t.lanes(), ["assigned-1"]);
        t.handle_entry(Entry::Note {
            t: 6,
            note: Note::Rule {
                rule: Rule::D5Retain,
                conn: Some(9),
                client_id: Some("assigned-1".into()),
                detail: "RETAIN=1".into(),
            },
        });
        let rule = t.poll_trace().into_iter().find_map(|n| match n.entry {
            TraceEntry::Rule { code, device, .. } => Some((code, device)),
            _ => None,
        });
        assert_eq!(rule, Some(("D5", Some(0))));
    }

    #[test]
    fn muted_lines_draw_nothing_but_keep_the_lanes() {
        let mut t = tape();
        t.set_muted(true);
        t.handle_entry(Entry::Bytes {
            t: 5,
            conn: 1,
            hex: Hex(connect("quiet")),
        });
        assert!(t.poll_trace().is_empty());
        assert_eq!(t.unshown(), 1);
        t.set_muted(false);
        t.handle_entry(Entry::Transmit {
            conn: 1,
            hex: Hex(vec![0x20, 2, 0, 0]),
        });
        let packets = t.poll_trace();
        assert!(matches!(&packets[0].entry, TraceEntry::Packet(p) if p.client_id == "quiet"));
        assert!(t.handle_line("{\"nonsense\":1}").is_err());
    }
}
