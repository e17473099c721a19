//! What the diagram shows instead of the simulated world: a real server's live stream
//! (attached with `live-attach`), or a recording imported and played back on the clock.
//! Both draw through broker-wasm's `Tape` (docs/live.md).

use std::collections::VecDeque;

use broker_core::recording::{self, Entry, Recording, Replayer};
use broker_core::Broker;
use broker_wasm::tape::Tape;
use broker_wasm::Numbered;

use super::clock::Clock;

/// The most lines the page holds that it has not drawn yet. A server busier than the
/// page can draw fills it; the oldest lines are then skipped (and counted), so memory
/// stays bounded and the view stays current.
pub const INBOX_CAP: usize = 5_000;

/// The most lines drawn in one animation frame: past this a frame would take longer than
/// the frame itself, and the rest wait for the next one.
pub const LINES_PER_FRAME: usize = 1_000;

/// Lines from the server's `/live` socket, not yet drawn.
#[derive(Debug, Default)]
pub struct Inbox {
    lines: VecDeque<String>,
    /// Lines dropped because the inbox was full, not yet told to the tape.
    dropped: u64,
    /// The socket's state, as its callbacks learn it.
    pub state: LiveState,
}

impl Inbox {
    /// A line arrived.
    pub fn push(&mut self, line: String) {
        if self.lines.len() == INBOX_CAP {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back(line);
    }
}

/// Where the live socket stands.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum LiveState {
    /// Opening.
    #[default]
    Connecting,
    /// Open: lines flow.
    Attached,
    /// Closed or refused, and why.
    Closed(String),
}

/// The diagram attached to a server.
#[derive(Debug, Default)]
pub struct Live {
    tape: Option<Tape>,
    /// Whether the learner paused the view: lines are still read (lanes stay right) but
    /// nothing is drawn.
    pub paused: bool,
    /// Lines the page skipped in all.
    pub skipped: u64,
    /// Why the stream is unreadable, if it is.
    pub error: Option<String>,
}

impl Live {
    /// Draws up to `LINES_PER_FRAME` lines from `inbox`; the first line ever is the
    /// recording's header.
    pub fn handle_inbox(&mut self, inbox: &mut Inbox) {
        if inbox.dropped > 0 {
            self.skipped += inbox.dropped;
            if let Some(tape) = &mut self.tape {
                tape.skip(inbox.dropped);
            }
            inbox.dropped = 0;
        }
        if let Some(tape) = &mut self.tape {
            tape.set_muted(self.paused);
        }
        let n = inbox.lines.len().min(LINES_PER_FRAME);
        for line in inbox.lines.drain(..n) {
            match &mut self.tape {
                Some(tape) => {
                    if let Err(e) = tape.handle_line(&line) {
                        self.error.get_or_insert(e);
                    }
                }
                None => match Tape::new(&line) {
                    Ok(mut tape) => {
                        tape.set_muted(self.paused);
                        self.tape = Some(tape);
                    }
                    Err(e) => {
                        self.error.get_or_insert(e);
                    }
                },
            }
        }
    }

    /// The `data-state` of `live-status` and what to tell the learner: clients seen,
    /// what the pause hid, what was skipped.
    pub fn describe(&self, state: &LiveState) -> (&'static str, String) {
        let tape = self.tape.as_ref();
        let (state, mut text) = match state {
            LiveState::Connecting => ("connecting", "connecting to the server…".to_owned()),
            LiveState::Attached => {
                let clients = tape.map_or(0, |t| t.lanes().len());
                ("attached", format!("live: {clients} client(s) seen"))
            }
            LiveState::Closed(why) => ("closed", why.clone()),
        };
        let unshown = tape.map_or(0, Tape::unshown);
        if self.paused {
            text.push_str(&format!(" · paused, {unshown} packet(s) not drawn"));
        } else if unshown > 0 {
            text.push_str(&format!(" · {unshown} packet(s) not drawn while paused"));
        }
        let skipped = self.skipped + tape.map_or(0, Tape::skipped);
        if skipped > 0 {
            text.push_str(&format!(
                " · {skipped} line(s) skipped: the server was busier than the page draws"
            ));
        }
        if let Some(e) = &self.error {
            text.push_str(&format!(" · unreadable line: {e}"));
        }
        (state, text)
    }

    /// The tape, once the header arrived.
    pub fn tape(&self) -> Option<&Tape> {
        self.tape.as_ref()
    }

    /// New trace entries.
    pub fn poll_trace(&mut self) -> Vec<Numbered> {
        self.tape.as_mut().map(Tape::poll_trace).unwrap_or_default()
    }
}

/// An imported recording, played back on the clock as a lesson is: drawn on the
/// diagram, and fed to a broker in step, whose sessions and retained messages the tables
/// show.
#[derive(Debug)]
pub struct Playback {
    tape: Tape,
    replayer: Replayer,
    /// Each entry with its time in milliseconds since the first input, and its line.
    entries: Vec<(u64, usize, Entry)>,
    next: usize,
    now: u64,
    /// Play, pause and speed, as the simulator's.
    pub clock: Clock,
    /// What the engine said when the recording was replayed through it.
    pub verdict: Result<recording::Replayed, recording::ReplayError>,
    /// The file as imported, for exporting it again.
    pub text: String,
}

impl Playback {
    /// Reads a recording, replays it through the engine to compare its outputs, and
    /// readies it to be drawn from its start.
    pub fn new(text: String) -> Result<Playback, String> {
        let recording = Recording::parse(&text).map_err(|e| e.to_string())?;
        let verdict = recording.replay();
        let tape = Tape::from_header(recording.header.clone());
        let replayer = Replayer::new(recording.header);
        let (mut origin, mut t) = (None, 0);
        let entries = recording
            .entries
            .into_iter()
            .map(|(line, entry)| {
                if let Some(at) = entry.time() {
                    let origin = *origin.get_or_insert(at);
                    t = at.saturating_sub(origin).max(t);
                }
                (t, line, entry)
            })
            .collect();
        Ok(Playback {
            tape,
            replayer,
            entries,
            next: 0,
            now: 0,
            clock: Clock::default(),
            verdict,
            text,
        })
    }

    /// Whether `text` is a recording rather than a simulator trace.
    pub fn is_recording(text: &str) -> bool {
        text.lines()
            .next()
            .is_some_and(|l| l.contains(&format!("\"format\":\"{}\"", recording::FORMAT)))
    }

    /// Real time passed.
    pub fn tick(&mut self, real_ms: f64) {
        let ms = self.clock.tick(real_ms);
        if ms > 0 {
            self.advance_to(self.now + ms);
        }
    }

    /// Pauses and moves to the next instant something happens.
    pub fn step(&mut self) {
        self.clock.playing = false;
        if let Some((t, _, _)) = self.entries.get(self.next) {
            let t = *t;
            self.advance_to(t);
        }
    }

    /// Draws every entry up to `ms`.
    pub fn advance_to(&mut self, ms: u64) {
        while let Some((t, line, entry)) = self.entries.get(self.next) {
            if *t > ms {
                break;
            }
            // The verdict of the whole replay was given at import; a difference only
            // means the tables may stray from the server's from that line on.
            let _ = self.replayer.handle_entry(*line, entry);
            self.tape.handle_entry(entry.clone());
            self.next += 1;
        }
        self.now = ms.max(self.now);
        if self.next == self.entries.len() {
            self.clock.playing = false;
        }
    }

    /// Milliseconds since the recording's first input.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// How far the playback is, for the learner.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "recording: {} of {} lines drawn",
            self.next,
            self.entries.len()
        );
        if let Some(why) = self.tape.ended() {
            text.push_str(&format!(" · ends early: {why}"));
        }
        text
    }

    /// The broker, as the entries drawn so far left it.
    pub fn broker(&self) -> &Broker {
        self.replayer.broker()
    }

    /// The tape.
    pub fn tape(&self) -> &Tape {
        &self.tape
    }

    /// New trace entries.
    pub fn poll_trace(&mut self) -> Vec<Numbered> {
        self.tape.poll_trace()
    }
}

/// What the diagram shows instead of the world.
#[derive(Debug)]
pub enum Feed {
    /// A server, live.
    Live(Box<Live>),
    /// An imported recording.
    Playback(Box<Playback>),
}

impl Feed {
    /// The tape drawn, once there is one.
    pub fn tape(&self) -> Option<&Tape> {
        match self {
            Feed::Live(live) => live.tape(),
            Feed::Playback(p) => Some(p.tape()),
        }
    }

    /// The clock: a recording's playback time; a live server's last input.
    pub fn now(&self) -> u64 {
        match self {
            Feed::Live(live) => live.tape().map_or(0, Tape::now),
            Feed::Playback(p) => p.now(),
        }
    }

    /// Whether the clock runs: a recording playing, or a live view not paused.
    pub fn playing(&self) -> bool {
        match self {
            Feed::Live(live) => !live.paused,
            Feed::Playback(p) => p.clock.playing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use broker_core::recording::{Hex, Recorder};
    use broker_core::{Broker, Config, ConnId, Instant, PeerInfo, Profile};

    const CONNECT_A: [u8; 15] = [
        0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 1, b'a',
    ];

    /// A client `a` connecting, recorded as the server records, one line each.
    fn recording() -> String {
        let mut broker = Broker::new(Config::for_profile(Profile::AwsIot));
        let mut recorder = Recorder::new(broker.config(), 1 << 20);
        let mut line = |e: Entry| recorder.handle_line(&e.to_line());
        let conn = broker.accept(Instant::from_millis(5_000), PeerInfo::default());
        line(Entry::Accept {
            t: 5_000,
            conn: conn.0,
            peer: PeerInfo::default(),
        });
        line(Entry::Bytes {
            t: 5_250,
            conn: conn.0,
            hex: Hex(CONNECT_A.to_vec()),
        });
        broker.handle_bytes(Instant::from_millis(5_250), ConnId(conn.0), &CONNECT_A);
        while let Some(output) = broker.poll_output() {
            if let Some(e) = Entry::from_output(&output, 5_250, broker.config()) {
                line(e);
            }
        }
        String::from_utf8(recorder.poll_bytes().unwrap()).unwrap()
    }

    fn packets(entries: &[Numbered]) -> Vec<&'static str> {
        entries
            .iter()
            .filter_map(|n| match &n.entry {
                broker_wasm::TraceEntry::Packet(p) => Some(p.kind),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_full_inbox_skips_the_oldest_lines_and_says_how_many() {
        let mut inbox = Inbox::default();
        for i in 0..INBOX_CAP + 7 {
            inbox.push(format!("line {i}"));
        }
        let mut live = Live::default();
        live.handle_inbox(&mut inbox);
        assert_eq!(live.skipped, 7);
        assert_eq!(inbox.lines.len(), INBOX_CAP - LINES_PER_FRAME);
        let (state, text) = live.describe(&LiveState::Attached);
        assert_eq!(state, "attached");
        assert!(text.contains("7 line(s) skipped"), "{text}");
        assert!(text.contains("unreadable line"), "{text}");
    }

    #[test]
    fn live_lines_draw_after_the_header_and_a_pause_draws_nothing() {
        let mut inbox = Inbox::default();
        let mut lines = recording().lines().map(str::to_owned).collect::<Vec<_>>();
        let at = lines
            .iter()
            .position(|l| l.starts_with("{\"transmit\""))
            .unwrap();
        let connack = lines.remove(at);
        for line in lines {
            inbox.push(line);
        }
        let mut live = Live::default();
        live.handle_inbox(&mut inbox);
        assert_eq!(packets(&live.poll_trace()), ["CONNECT"]);
        live.paused = true;
        inbox.push(connack);
        live.handle_inbox(&mut inbox);
        assert!(live.poll_trace().is_empty());
        let (_, text) = live.describe(&LiveState::Attached);
        assert!(text.contains("paused, 1 packet(s) not drawn"), "{text}");
    }

    #[test]
    fn a_recording_plays_back_on_the_clock_and_replays_identically() {
        let mut p = Playback::new(recording()).expect("a recording");
        assert!(Playback::is_recording(&p.text));
        assert!(!Playback::is_recording(
            "{\n  \"format\": \"brokerlab-trace\""
        ));
        assert!(matches!(&p.verdict, Ok(done) if done.outputs == 1));
        p.tick(100.0);
        assert!(packets(&p.poll_trace()).is_empty(), "nothing before 250 ms");
        p.step();
        assert_eq!(packets(&p.poll_trace()), ["CONNECT", "CONNACK"]);
        assert_eq!(p.now(), 250);
        assert_eq!(
            p.broker().sessions().len(),
            1,
            "the tables follow the playback"
        );
        assert!(!p.clock.playing, "the end of the recording stops the clock");
        let broken = p.text.replace("20020000", "20020001");
        assert!(Playback::new(broken)
            .expect("still a recording")
            .verdict
            .is_err());
    }
}
