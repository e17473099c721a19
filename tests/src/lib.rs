//! The harness for tests that run the real `brokerlab` binary against real clients.
//!
//! The tests themselves live in `server/tests/`, one file per behaviour: only tests of the
//! package that owns a binary get its freshly built path from cargo
//! (`env!("CARGO_BIN_EXE_brokerlab")`), and a test that looked for the binary on its own
//! could silently run a stale build. This crate holds what those tests share, so that
//! later end-to-end tests (the browser simulator's) reuse the same pieces:
//!
//! - [`server`]: start the server on ephemeral ports, read its addresses and logs, stop it.
//! - [`mqtt`]: a `rumqttc` client over TCP, TLS or WebSocket, with waits that time out.
//! - [`pki`]: a throwaway CA, server and client certificates for TLS tests.
//! - [`http`]: a minimal HTTP/1.1 GET, enough for `/healthz` and `/metrics`.
//! - [`soak`]: many persistent-session devices under churn, with a ledger of every
//!   message (`cargo xtask soak`).
//! - [`hostile`]: raw TCP and WebSocket clients that send malformed input, with the
//!   metrics and log checks that judge how the server treated them.
//! - [`load`]: the load generator of the benchmark and the overload tests, counting
//!   what was acknowledged and what was delivered.
//! - [`proc_status`]: a process's memory use, from `/proc/<pid>/status`, for the hostile
//!   tests' memory bounds and the soak's samples.
//!
//! Nothing here sleeps to synchronise: every wait is for a condition, with a deadline.

pub mod codec_client;
pub mod data_dir;
pub mod hostile;
pub mod http;
pub mod load;
pub mod mqtt;
pub mod pki;
pub mod proc_status;
pub mod server;
pub mod soak;

use std::time::Duration;

/// How long any single wait in a test may take before the test fails. Generous, because
/// CI machines are shared and a debug build is slow; a passing test never waits this long.
pub const TIMEOUT: Duration = Duration::from_secs(10);
