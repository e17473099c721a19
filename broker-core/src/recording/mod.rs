//! Recordings: what a broker was given and what it answered, line by line, so that a
//! session seen on a server can be run again through the engine and compared byte for
//! byte (`brokerlab replay`), drawn on the simulator's diagram, and turned into a test.
//!
//! A recording is JSON Lines (docs/live.md describes every line). The first line is the
//! [`Header`]: the format's name and version and the configuration in force, seed
//! included. Every later line is one [`Entry`]:
//!
//! - **inputs**, each with its time `t` in milliseconds: a connection accepted, bytes
//!   read (exactly as one read returned them, so the read boundaries are kept), a
//!   transport closed, congestion, time passing, a stored batch, recovery;
//! - **outputs**, in the order the broker produced them: bytes transmitted, a connection
//!   closed, reading paused or resumed, a batch to store;
//! - **notes**: the broker's events in a form for people and the diagram (a rule fired,
//!   a policy denied something, a client connected). Notes are derived from the inputs;
//!   a replay makes them again and does not compare them;
//! - **end**: the recording stopped before the broker did, and why (its size limit).
//!
//! Inputs and outputs interleave as the shell fed and drained the broker, so an input
//! fed in the middle of a drain (congestion found while writing) is replayed at the same
//! point. [`Recorder`] writes recordings within a size limit; [`replay`] runs one.

mod entry;
mod hex;
mod note;
mod recorder;
mod replay;

pub use entry::{Entry, Header, OpenConn, ENGINE, FORMAT, VERSION};
pub use hex::Hex;
pub use note::Note;
pub use recorder::Recorder;
pub use replay::{replay, Recording, ReplayError, Replayed, Replayer};
