//! The thread that writes the broker's store batches to the data dir's journal, so that
//! the owner loop goes on handling inputs while a write and its sync take their time.
//! What arrives meanwhile becomes the next batch: the group commit of docs/durability.md.

use std::sync::mpsc as std_mpsc;
use std::thread;
use std::time::{Duration, Instant};

use broker_core::store::StoreBatch;
use tokio::sync::mpsc;

use crate::journal::Journal;

/// A batch on the disk.
#[derive(Debug)]
pub struct Written {
    pub seq: u64,
    pub changes: usize,
    /// How long the write and its sync took.
    pub took: Duration,
}

/// The owner's end of the writer thread.
#[derive(Debug)]
pub struct StoreWriter {
    batches: std_mpsc::Sender<StoreBatch>,
    written: mpsc::UnboundedReceiver<Result<Written, String>>,
    writing: bool,
}

impl StoreWriter {
    /// Starts the thread that owns `journal`.
    pub fn spawn(mut journal: Journal) -> std::io::Result<Self> {
        let (batches, receive) = std_mpsc::channel::<StoreBatch>();
        let (report, written) = mpsc::unbounded_channel();
        thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                while let Ok(batch) = receive.recv() {
                    let started = Instant::now();
                    let result = journal
                        .append(&batch.changes)
                        .map(|()| Written {
                            seq: batch.seq,
                            changes: batch.changes.len(),
                            took: started.elapsed(),
                        })
                        .map_err(|e| e.to_string());
                    let failed = result.is_err();
                    if report.send(result).is_err() || failed {
                        return;
                    }
                }
            })?;
        Ok(StoreWriter {
            batches,
            written,
            writing: false,
        })
    }

    /// Whether a batch is being written.
    pub fn is_writing(&self) -> bool {
        self.writing
    }

    /// Hands a batch to the thread. One at a time: call after `written` reported the last.
    pub fn write(&mut self, batch: StoreBatch) -> Result<(), String> {
        self.writing = true;
        self.batches
            .send(batch)
            .map_err(|_| "the store's writer has stopped".to_owned())
    }

    /// Waits for the batch being written; never ready while none is.
    pub async fn written(&mut self) -> Result<Written, String> {
        if !self.writing {
            std::future::pending::<()>().await;
        }
        let result = self.written.recv().await;
        self.writing = false;
        result.unwrap_or_else(|| Err("the store's writer has stopped".to_owned()))
    }
}
