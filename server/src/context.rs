//! What every listener and connection task shares: the owner loop's handle, the limits,
//! and the stop signal. One `Arc<Context>` per connection is all a task carries.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tracing::warn;

use crate::owner::OwnerHandle;

#[derive(Debug)]
pub struct Context {
    pub owner: OwnerHandle,
    /// One permit per open connection or `/events` watcher (`--max-connections`).
    connections: Arc<Semaphore>,
    max_connections: usize,
    refused: AtomicU64,
    /// The most bytes queued for one connection (`--max-outgoing-bytes`).
    pub max_outgoing_bytes: usize,
    /// The broker's largest packet, which also bounds WebSocket messages.
    pub max_packet_size: usize,
    /// Becomes `true` when the server starts stopping.
    pub stop: watch::Receiver<bool>,
}

impl Context {
    pub fn new(
        owner: OwnerHandle,
        max_connections: usize,
        max_outgoing_bytes: usize,
        max_packet_size: usize,
        stop: watch::Receiver<bool>,
    ) -> Self {
        Context {
            owner,
            connections: Arc::new(Semaphore::new(max_connections)),
            max_connections,
            refused: AtomicU64::new(0),
            max_outgoing_bytes,
            max_packet_size,
            stop,
        }
    }

    /// A place for one more connection, or `None` (logged and counted) if all are taken.
    pub fn admit(&self, peer: SocketAddr) -> Option<OwnedSemaphorePermit> {
        match self.connections.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                warn!(%peer, max = self.max_connections, "refusing a connection: --max-connections reached");
                None
            }
        }
    }

    pub fn connections_refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Waits until every connection task has ended, or `limit` has passed.
    pub async fn wait_for_connections(&self, limit: std::time::Duration) -> bool {
        let all = u32::try_from(self.max_connections).unwrap_or(u32::MAX);
        tokio::time::timeout(limit, self.connections.acquire_many(all))
            .await
            .is_ok()
    }
}
