//! Connections turned away before the broker saw them: counted by the listeners, read
//! by `/metrics`.

use std::sync::atomic::AtomicU64;

/// Connections the listeners turned away before the broker saw them, for `/metrics`.
#[derive(Debug, Default)]
pub struct Refusals {
    /// `--max-connections` were open.
    pub max_connections: AtomicU64,
    /// The source address went over `--connect-rate-per-ip`.
    pub connect_rate: AtomicU64,
    /// A WebSocket handshake offered no MQTT subprotocol (MQTT-6.0.0-3).
    pub no_subprotocol: AtomicU64,
    /// A would-be `/events` watcher was not on loopback, or lacked `--events-token`.
    pub events_forbidden: AtomicU64,
}
