//! Running a recording through the engine again and comparing every output.

use std::fmt;

use super::{Entry, Header, Hex};
use crate::{Broker, ConnId, EventConfig, Instant, Output};

/// What a replay that matched went through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replayed {
    /// Inputs fed to the engine.
    pub inputs: u64,
    /// Outputs compared, all identical.
    pub outputs: u64,
    /// Notes skipped (they are not compared).
    pub notes: u64,
    /// Why the recording stopped early, if it did: the outputs after that point were
    /// not recorded and are not compared.
    pub ended: Option<String>,
}

/// Why a replay failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplayError {
    /// A line is not a recording's line (1-based line number).
    Malformed {
        /// Which line.
        line: usize,
        /// What is wrong with it.
        why: String,
    },
    /// The engine did something else than what was recorded.
    Differs {
        /// The line of the first difference (1-based).
        line: usize,
        /// What the recording says, as its line.
        recorded: String,
        /// What the engine did, as a line of the same kind (or `nothing`).
        replayed: String,
        /// For bytes of the same connection, where they first differ.
        first_byte: Option<usize>,
    },
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::Malformed { line, why } => write!(f, "line {line}: {why}"),
            ReplayError::Differs {
                line,
                recorded,
                replayed,
                first_byte,
            } => {
                write!(
                    f,
                    "line {line}: the first difference\n  recorded: {recorded}\n  replayed: {replayed}"
                )?;
                if let Some(at) = first_byte {
                    write!(f, "\n  the bytes first differ at offset {at}")?;
                }
                Ok(())
            }
        }
    }
}

/// Replays a recording (the whole text of its file) through a new broker with the
/// recorded configuration, feeding every input at its time and comparing every output
/// with the recorded one, byte for byte. Notes are made again and not compared.
pub fn replay(text: &str) -> Result<Replayed, ReplayError> {
    Recording::parse(text)?.replay()
}

/// A recording read from its text: the header and every entry with its line number.
#[derive(Clone, Debug)]
pub struct Recording {
    /// The first line.
    pub header: Header,
    /// The entries, with their 1-based line numbers.
    pub entries: Vec<(usize, Entry)>,
    /// Whether the last line was cut short (a server killed while appending): the
    /// entries before it are a whole recording.
    pub torn: bool,
}

/// Why a recording with a torn last line ends where it does.
const TORN: &str = "its last line is cut short (the server stopped while writing it)";

impl Recording {
    /// Reads a recording, refusing other text, newer versions and malformed lines.
    pub fn parse(text: &str) -> Result<Recording, ReplayError> {
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
        let Some((_, first)) = lines.next() else {
            return Err(ReplayError::Malformed {
                line: 1,
                why: "the recording is empty".to_owned(),
            });
        };
        let header = Header::parse(first).map_err(|why| ReplayError::Malformed { line: 1, why })?;
        let total = text.lines().count();
        let mut recording = Recording {
            header,
            entries: Vec::new(),
            torn: false,
        };
        for (line, text) in lines {
            if text.trim().is_empty() {
                continue;
            }
            match serde_json::from_str(text) {
                Ok(entry) => recording.entries.push((line, entry)),
                Err(e) if line == total && e.is_eof() => recording.torn = true,
                Err(e) => {
                    return Err(ReplayError::Malformed {
                        line,
                        why: format!("not a recording entry: {e}"),
                    })
                }
            }
        }
        Ok(recording)
    }

    /// Runs the recording through a new broker and compares every output.
    pub fn replay(&self) -> Result<Replayed, ReplayError> {
        let mut replayer = Replayer::new(self.header.clone());
        for (line, entry) in &self.entries {
            replayer.handle_entry(*line, entry)?;
            if replayer.done.ended.is_some() {
                return Ok(replayer.done);
            }
        }
        if self.torn {
            replayer.done.ended = Some(TORN.to_owned());
            return Ok(replayer.done);
        }
        replayer.finish()
    }
}

/// A replay entry by entry, for a viewer that shows the broker's state as a recording
/// is stepped through (the simulator's playback); [`replay`] runs one to the end.
#[derive(Debug)]
pub struct Replayer {
    broker: Broker,
    done: Replayed,
    last: usize,
}

impl Replayer {
    /// A broker configured as the header says, before any entry.
    pub fn new(header: Header) -> Replayer {
        Replayer {
            broker: Broker::new(header.config),
            done: Replayed {
                inputs: 0,
                outputs: 0,
                notes: 0,
                ended: None,
            },
            last: 1,
        }
    }

    /// Feeds an input, or compares an output, of line `line`. After an `end` (or a live
    /// stream's `skipped`) nothing more is compared: `Replayed::ended` says why.
    pub fn handle_entry(&mut self, line: usize, entry: &Entry) -> Result<(), ReplayError> {
        self.last = line;
        if self.done.ended.is_some() {
            return Ok(());
        }
        let broker = &mut self.broker;
        match entry {
            Entry::Note { .. } | Entry::Present { .. } => self.done.notes += 1,
            Entry::End { why } => self.done.ended = Some(why.clone()),
            Entry::Skipped { lines } => {
                self.done.ended = Some(format!("the live stream skipped {lines} lines here"));
            }
            Entry::Store { .. } => {
                let got = broker.poll_store().map(|b| (b.seq, b.changes.len()));
                compare(line, entry, &Entry::Store { batch: got })?;
                self.done.outputs += 1;
            }
            recorded if recorded.is_output() => {
                match next_output(broker) {
                    Some(got) => compare(line, recorded, &got)?,
                    None => return Err(differs(line, recorded, None)),
                }
                self.done.outputs += 1;
            }
            input => {
                apply(broker, input).map_err(|why| ReplayError::Malformed { line, why })?;
                self.done.inputs += 1;
            }
        }
        Ok(())
    }

    /// The broker as the entries so far left it.
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// Ends the replay: whatever the engine still has to say was not recorded.
    pub fn finish(mut self) -> Result<Replayed, ReplayError> {
        if self.done.ended.is_none() {
            if let Some(extra) = next_output(&mut self.broker) {
                return Err(ReplayError::Differs {
                    line: self.last + 1,
                    recorded: "the end of the recording".to_owned(),
                    replayed: extra.to_line(),
                    first_byte: None,
                });
            }
        }
        Ok(self.done)
    }
}

/// Feeds one input entry to the broker.
fn apply(broker: &mut Broker, entry: &Entry) -> Result<(), String> {
    let at = |t: u64| Instant::from_millis(t);
    match entry {
        Entry::Accept { t, conn, peer } => {
            let got = broker.accept(at(*t), peer.clone());
            if got.0 != *conn {
                return Err(format!(
                    "the engine numbered the connection {}, the recording {conn}",
                    got.0
                ));
            }
        }
        Entry::Bytes { t, conn, hex } => broker.handle_bytes(at(*t), ConnId(*conn), &hex.0),
        Entry::Closed { t, conn } => broker.handle_closed(at(*t), ConnId(*conn)),
        Entry::Congestion { t, conn, congested } => {
            broker.handle_congestion(at(*t), ConnId(*conn), *congested);
        }
        Entry::Timeout { t } => broker.handle_timeout(at(*t)),
        Entry::CloseConnection { t, conn } => broker.close_connection(at(*t), ConnId(*conn)),
        Entry::Events {
            packets,
            deliveries,
            ..
        } => broker.set_events(EventConfig {
            packets: *packets,
            deliveries: *deliveries,
        }),
        Entry::Recover { t, entries } => {
            let entries = entries.iter().map(|(k, v)| (k.0.clone(), v.0.clone()));
            broker.recover(at(*t), entries);
        }
        Entry::Stored { seq, .. } => broker.handle_stored(*seq),
        other => return Err(format!("{} is not an input", other.to_line())),
    }
    Ok(())
}

/// The broker's next output a recording compares, skipping events.
fn next_output(broker: &mut Broker) -> Option<Entry> {
    loop {
        let output = broker.poll_output()?;
        if matches!(output, Output::Event(_)) {
            continue;
        }
        // Only events lack an entry, and they were skipped: the time is not used.
        if let Some(entry) = Entry::from_output(&output, 0, broker.config()) {
            return Some(entry);
        }
    }
}

fn compare(line: usize, recorded: &Entry, got: &Entry) -> Result<(), ReplayError> {
    if recorded == got {
        Ok(())
    } else {
        Err(differs(line, recorded, Some(got)))
    }
}

fn differs(line: usize, recorded: &Entry, got: Option<&Entry>) -> ReplayError {
    let first_byte = match (recorded, got) {
        (Entry::Transmit { conn: a, hex: x }, Some(Entry::Transmit { conn: b, hex: y }))
            if a == b =>
        {
            first_difference(x, y)
        }
        _ => None,
    };
    ReplayError::Differs {
        line,
        recorded: recorded.to_line(),
        replayed: got.map_or_else(|| "nothing".to_owned(), Entry::to_line),
        first_byte,
    }
}

fn first_difference(a: &Hex, b: &Hex) -> Option<usize> {
    a.0.iter()
        .zip(&b.0)
        .position(|(x, y)| x != y)
        .or_else(|| (a.0.len() != b.0.len()).then(|| a.0.len().min(b.0.len())))
}
