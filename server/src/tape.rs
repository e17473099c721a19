//! The tape: the broker's inputs and outputs as recording lines
//! (broker-core's `recording` module), written to the `--record` file within its size
//! limit and streamed to the page's live view (`/live`).
//!
//! The owner calls [`Tape::record`] before each broker input and [`Tape::output`] for each
//! output it drains, so the lines interleave exactly as the broker saw them. When nothing
//! records and nobody watches, both return at once without building a line.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use broker_core::recording::{Entry, Recorder};
use broker_core::{Config, Output};
use tokio::sync::{broadcast, oneshot};
use tracing::{error, info, warn};

/// How many lines a live watcher may fall behind before it skips some (and is told how
/// many). A slow page never slows the broker.
pub const LIVE_CAPACITY: usize = 8192;

/// What the writer thread is asked to do.
enum Chunk {
    Bytes(Vec<u8>),
    /// Reply, once everything before has been written, with how many bytes the file
    /// holds: whole lines only.
    Flush(oneshot::Sender<u64>),
}

/// The `--record` file: its recorder, and the thread that appends to it.
struct TapeFile {
    path: PathBuf,
    recorder: Recorder,
    chunks: Option<std_mpsc::Sender<Chunk>>,
    thread: Option<JoinHandle<()>>,
    /// Logged once when the limit is reached.
    told_full: bool,
}

impl TapeFile {
    fn create(path: &Path, limit: u64, config: &Config) -> std::io::Result<TapeFile> {
        let mut file = File::create(path)?;
        let (chunks, receive) = std_mpsc::channel::<Chunk>();
        let shown = path.display().to_string();
        let thread = thread::Builder::new()
            .name("recorder".into())
            .spawn(move || {
                let mut failed = false;
                let mut written = 0;
                while let Ok(chunk) = receive.recv() {
                    match chunk {
                        Chunk::Bytes(bytes) if !failed => match file.write_all(&bytes) {
                            Ok(()) => written += bytes.len() as u64,
                            Err(err) => {
                                error!(path = shown, %err, "cannot write the recording: it stops here");
                                failed = true;
                            }
                        },
                        Chunk::Bytes(_) => {}
                        Chunk::Flush(done) => {
                            let _ = file.flush();
                            let _ = done.send(written);
                        }
                    }
                }
                let _ = file.sync_all();
            })?;
        Ok(TapeFile {
            path: path.to_owned(),
            recorder: Recorder::new(config, limit),
            chunks: Some(chunks),
            thread: Some(thread),
            told_full: false,
        })
    }

    fn send(&mut self, chunk: Chunk) {
        if let Some(chunks) = &self.chunks {
            let _ = chunks.send(chunk);
        }
    }
}

/// The recording file, if any, and the live watchers.
pub struct Tape {
    file: Option<TapeFile>,
    live: broadcast::Sender<Arc<str>>,
    /// Whether a `/live` watcher is there, as `refresh` last found: asking the channel
    /// takes its lock, too much for every line.
    watching: bool,
}

impl Tape {
    /// A tape for a broker configured so (its `Broker::config`), recording to `record`
    /// (at most `limit` bytes) if given.
    pub fn new(
        config: &Config,
        record: Option<(&Path, u64)>,
        live: broadcast::Sender<Arc<str>>,
    ) -> std::io::Result<Tape> {
        let file = match record {
            Some((path, limit)) => {
                let file = TapeFile::create(path, limit, config)?;
                info!(path = %path.display(), limit_bytes = limit, "recording every input and output (brokerlab replay reads it)");
                Some(file)
            }
            None => None,
        };
        let mut tape = Tape {
            file,
            live,
            watching: false,
        };
        tape.refresh();
        Ok(tape)
    }

    /// Looks whether a `/live` watcher came or went. Called once per step of the owner,
    /// so a watcher that just arrived gets lines from the next input on.
    pub fn refresh(&mut self) {
        self.watching = self.live.receiver_count() > 0;
    }

    /// Whether anything takes lines now.
    pub fn on(&self) -> bool {
        self.watching || self.file.as_ref().is_some_and(|f| !f.recorder.ended())
    }

    /// Records an entry (an input, or a `poll_store`), made only if something takes it.
    pub fn record(&mut self, entry: impl FnOnce() -> Entry) {
        if self.on() {
            self.line(&entry());
        }
    }

    /// Records an output of an input handled at `now` (milliseconds).
    pub fn output(&mut self, output: &Output, now: u64, config: &Config) {
        if !self.on() {
            return;
        }
        if let Some(entry) = Entry::from_output(output, now, config) {
            self.line(&entry);
        }
    }

    fn line(&mut self, entry: &Entry) {
        let line = entry.to_line();
        if let Some(file) = &mut self.file {
            file.recorder.handle_line(&line);
            if file.recorder.ended() && !file.told_full {
                file.told_full = true;
                warn!(path = %file.path.display(), bytes = file.recorder.len(), "the recording reached its size limit (--record-limit) and stopped; the broker goes on");
            }
        }
        if self.watching {
            // An error only means the last watcher just left.
            let _ = self.live.send(Arc::from(line));
        }
    }

    /// Hands what was recorded since the last call to the writer thread. Called after
    /// each drain, so a chunk holds an input and what it caused.
    pub fn write(&mut self) {
        if let Some(file) = &mut self.file {
            if let Some(bytes) = file.recorder.poll_bytes() {
                file.send(Chunk::Bytes(bytes));
            }
        }
    }

    /// The recording file, and the length it will have once everything recorded so far
    /// is in it; `None` if the server does not record.
    pub fn flushed(&mut self) -> Option<(PathBuf, oneshot::Receiver<u64>)> {
        self.write();
        let file = self.file.as_mut()?;
        let (done, flushed) = oneshot::channel();
        file.send(Chunk::Flush(done));
        Some((file.path.clone(), flushed))
    }

    /// Writes what is left and waits for the writer thread: at shutdown.
    pub fn close(&mut self) {
        self.write();
        if let Some(file) = &mut self.file {
            file.chunks = None;
            if let Some(thread) = file.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

impl std::fmt::Debug for Tape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tape")
            .field("recording", &self.file.as_ref().map(|f| &f.path))
            .field("watchers", &self.live.receiver_count())
            .finish()
    }
}
