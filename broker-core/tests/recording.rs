//! Recordings: a session recorded as the server records it replays identically, and a
//! recording that differs from what the engine does is refused, naming the first
//! difference.

#![cfg(feature = "serde")]

use broker_core::recording::{replay, Entry, Hex, Recorder, ReplayError};
use broker_core::{Broker, Config, ConnId, Instant, PeerInfo, Profile};

/// A broker whose inputs and outputs are recorded the way `brokerlab serve` records.
struct Recorded {
    broker: Broker,
    recorder: Recorder,
}

impl Recorded {
    fn new(config: Config) -> Self {
        let broker = Broker::new(config);
        let recorder = Recorder::new(broker.config(), 1 << 20);
        Recorded { broker, recorder }
    }

    fn line(&mut self, entry: Entry) {
        self.recorder.handle_line(&entry.to_line());
    }

    fn drain(&mut self, t: u64) {
        while let Some(output) = self.broker.poll_output() {
            if let Some(entry) = Entry::from_output(&output, t, self.broker.config()) {
                self.line(entry);
            }
        }
    }

    fn accept(&mut self, t: u64) -> ConnId {
        let peer = PeerInfo {
            addr: Some("127.0.0.1:40000".into()),
            principal: None,
        };
        let conn = self.broker.accept(Instant::from_millis(t), peer.clone());
        self.line(Entry::Accept {
            t,
            conn: conn.0,
            peer,
        });
        self.drain(t);
        conn
    }

    fn bytes(&mut self, t: u64, conn: ConnId, data: &[u8]) {
        self.line(Entry::Bytes {
            t,
            conn: conn.0,
            hex: Hex(data.to_vec()),
        });
        self.broker
            .handle_bytes(Instant::from_millis(t), conn, data);
        self.drain(t);
    }

    fn timeout(&mut self, t: u64) {
        self.line(Entry::Timeout { t });
        self.broker.handle_timeout(Instant::from_millis(t));
        self.drain(t);
    }

    fn text(&mut self) -> String {
        String::from_utf8(self.recorder.poll_bytes().unwrap_or_default()).expect("utf-8")
    }
}

fn connect(client_id: &str) -> Vec<u8> {
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60];
    body.extend_from_slice(&(client_id.len() as u16).to_be_bytes());
    body.extend_from_slice(client_id.as_bytes());
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend(body);
    packet
}

/// A session under aws-iot: two clients, a subscription, QoS 1 publishes split across
/// reads, a RETAIN publish (D5), and a keep-alive timeout.
fn session() -> String {
    let mut r = Recorded::new(Config::for_profile(Profile::AwsIot));
    let a = r.accept(0);
    let b = r.accept(1);
    r.bytes(2, a, &connect("sensor"));
    r.bytes(3, b, &connect("watcher"));
    // SUBSCRIBE id 1 to "t/#" at QoS 1.
    r.bytes(4, b, &[0x82, 8, 0, 1, 0, 3, b't', b'/', b'#', 1]);
    // PUBLISH QoS 1 id 7 to "t/x", split across two reads.
    let publish = [0x32, 8, 0, 3, b't', b'/', b'x', 0, 7, b'!'];
    r.bytes(5, a, &publish[..4]);
    r.bytes(6, a, &publish[4..]);
    // PUBLISH QoS 0 RETAIN to "t/r": what AWS IoT does with it is D5.
    r.bytes(7, a, &[0x31, 6, 0, 3, b't', b'/', b'r', b'?']);
    r.timeout(200_000);
    r.text()
}

#[test]
fn a_recorded_session_replays_identically() {
    let text = session();
    assert!(text
        .lines()
        .next()
        .unwrap()
        .contains("\"brokerlab-recording\""));
    assert!(text.contains("\"rule\":\"D5Retain\""), "{text}");
    let replayed = replay(&text).expect("identical");
    assert_eq!(replayed.inputs, 9);
    assert!(replayed.outputs >= 6, "{replayed:?}");
    assert!(replayed.notes >= 3, "{replayed:?}");
    assert_eq!(replayed.ended, None);
}

#[test]
fn a_changed_byte_is_named_as_the_first_difference() {
    let text = session();
    let lines: Vec<&str> = text.lines().collect();
    // The PUBACK to the sensor: 40 02 00 07; say it acknowledged id 8 instead.
    let (index, puback) = lines
        .iter()
        .enumerate()
        .find(|(_, l)| l.contains("\"hex\":\"40020007\""))
        .expect("a PUBACK");
    let changed = text.replacen(puback, &puback.replace("40020007", "40020008"), 1);
    match replay(&changed) {
        Err(ReplayError::Differs {
            line, first_byte, ..
        }) => {
            assert_eq!(line, index + 1);
            assert_eq!(first_byte, Some(3));
        }
        other => panic!("expected a difference, got {other:?}"),
    }
}

#[test]
fn a_missing_output_and_an_extra_one_are_differences() {
    let text = session();
    let mut lines: Vec<&str> = text.lines().collect();
    let last_transmit = lines
        .iter()
        .rposition(|l| l.starts_with("{\"transmit\""))
        .expect("a transmit");
    lines.remove(last_transmit);
    let err = replay(&lines.join("\n")).expect_err("an output was left out");
    assert!(matches!(err, ReplayError::Differs { .. }), "{err}");
    let text = session() + "{\"transmit\":{\"conn\":1,\"hex\":\"d000\"}}\n";
    let err = replay(&text).expect_err("an output the engine does not make");
    assert!(err.to_string().contains("replayed: nothing"), "{err}");
}

#[test]
fn other_json_and_newer_versions_are_refused() {
    assert!(matches!(
        replay("{\"format\":\"brokerlab-trace\",\"version\":1}"),
        Err(ReplayError::Malformed { line: 1, .. })
    ));
    let text = session().replacen("\"version\":1", "\"version\":99", 1);
    let err = replay(&text).expect_err("newer");
    assert!(err.to_string().contains("newer"), "{err}");
    let text = session() + "{\"teleport\":{}}\n";
    assert!(matches!(replay(&text), Err(ReplayError::Malformed { .. })));
    // A last line cut short, as by kill -9 while writing, ends the recording there.
    let text = session() + "{\"transmit\":{\"conn\":1,\"he";
    let replayed = replay(&text).expect("a torn last line is the end");
    assert!(replayed.ended.unwrap().contains("cut short"));
}

#[test]
fn a_recording_stops_at_its_limit_and_says_so() {
    let broker = Broker::new(Config::default());
    let mut recorder = Recorder::new(broker.config(), 4096);
    let line = Entry::Timeout { t: 1 }.to_line();
    for _ in 0..1000 {
        recorder.handle_line(&line);
    }
    assert!(recorder.ended());
    assert!(recorder.len() <= 4096, "{}", recorder.len());
    let text = String::from_utf8(recorder.poll_bytes().unwrap()).unwrap();
    assert!(
        text.trim_end().ends_with("size limit of 4096 bytes\"}}"),
        "{text}"
    );
    let replayed = replay(&text).expect("a cut recording replays up to its end");
    assert!(replayed.ended.is_some());
}
