//! Writing a recording within a size limit.

use super::{Entry, Header};
use crate::Config;

/// Room kept for the `end` line, so that a full recording still says why it ended.
const END_RESERVE: u64 = 160;

/// Lines of a recording waiting to be written, and the budget left. The recorder never
/// writes anything itself: the shell takes the bytes with [`Recorder::poll_bytes`] and
/// appends them to its file.
#[derive(Debug)]
pub struct Recorder {
    limit: u64,
    used: u64,
    pending: Vec<u8>,
    ended: bool,
}

impl Recorder {
    /// A recording of a broker configured so (its `Broker::config`), at most `limit`
    /// bytes long. Its header is the first pending line.
    pub fn new(config: &Config, limit: u64) -> Recorder {
        let mut recorder = Recorder {
            limit: limit.max(END_RESERVE * 2),
            used: 0,
            pending: Vec::new(),
            ended: false,
        };
        let header = serde_json::to_string(&Header::new(config)).unwrap_or_default();
        recorder.append(&header);
        recorder
    }

    /// Adds an entry, already written as one line of JSON (`Entry::to_line`). Once the
    /// next line would pass the limit, an `end` line says so and later lines are ignored.
    pub fn handle_line(&mut self, line: &str) {
        if self.ended {
            return;
        }
        let len = line.len() as u64 + 1;
        if self.used + len + END_RESERVE > self.limit {
            self.ended = true;
            let end = Entry::End {
                why: format!(
                    "the recording reached its size limit of {} bytes",
                    self.limit
                ),
            };
            self.append(&end.to_line());
            return;
        }
        self.append(line);
    }

    /// The bytes to append to the file since the last call.
    pub fn poll_bytes(&mut self) -> Option<Vec<u8>> {
        (!self.pending.is_empty()).then(|| std::mem::take(&mut self.pending))
    }

    /// Whether the limit was reached: nothing more will be recorded.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// How many bytes the recording holds, pending ones included.
    pub fn len(&self) -> u64 {
        self.used
    }

    /// Whether nothing was recorded, not even the header.
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    fn append(&mut self, line: &str) {
        self.pending.extend_from_slice(line.as_bytes());
        self.pending.push(b'\n');
        self.used += line.len() as u64 + 1;
    }
}
