//! What every listener and connection task shares: the owner loop's handle, the limits,
//! and the stop signal. One `Arc<Context>` per connection is all a task carries.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tracing::warn;

use crate::connect_rate::{Admission, ConnectRate};
use crate::owner::OwnerHandle;
use crate::refusals::Refusals;

#[derive(Debug)]
pub struct Context {
    pub owner: OwnerHandle,
    /// One permit per open connection or `/events` watcher (`--max-connections`).
    connections: Arc<Semaphore>,
    max_connections: usize,
    /// `--connect-rate-per-ip`, if any.
    connect_rate: Option<ConnectRate>,
    refusals: Refusals,
    /// When the server started, and the last second (counted from it) in which a
    /// `--max-connections` refusal was logged: at most one such line a second.
    started: tokio::time::Instant,
    max_connections_logged: AtomicU64,
    /// The most bytes queued for one connection (`--max-outgoing-bytes`).
    pub max_outgoing_bytes: usize,
    /// The broker's largest packet, which also bounds WebSocket messages.
    pub max_packet_size: usize,
    /// `--events-token`.
    events_token: Option<String>,
    /// Whether a refused `/events` watcher was logged yet: the first is, the rest counted.
    events_refusal_logged: std::sync::atomic::AtomicBool,
    /// Becomes `true` when the server starts stopping.
    pub stop: watch::Receiver<bool>,
}

/// Why a connection was turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    MaxConnections,
    ConnectRate,
}

/// The limits the listeners apply before a connection reaches the broker.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub connect_rate_per_ip: Option<u32>,
    pub max_outgoing_bytes: usize,
    pub max_packet_size: usize,
    /// The token that lets a client on any address watch `/events` (`events_access.rs`).
    pub events_token: Option<String>,
}

impl Context {
    pub fn new(owner: OwnerHandle, limits: Limits, stop: watch::Receiver<bool>) -> Self {
        Context {
            owner,
            connections: Arc::new(Semaphore::new(limits.max_connections)),
            max_connections: limits.max_connections,
            connect_rate: limits.connect_rate_per_ip.map(ConnectRate::new),
            refusals: Refusals::default(),
            started: tokio::time::Instant::now(),
            max_connections_logged: AtomicU64::new(u64::MAX),
            max_outgoing_bytes: limits.max_outgoing_bytes,
            max_packet_size: limits.max_packet_size,
            events_token: limits.events_token,
            events_refusal_logged: std::sync::atomic::AtomicBool::new(false),
            stop,
        }
    }

    /// A place for one more connection, or why not (counted, and logged at most once a
    /// second per address) if its address is over the connect rate or all places are
    /// taken.
    pub fn admit(&self, peer: SocketAddr) -> Result<OwnedSemaphorePermit, Refused> {
        if let Some(rate) = &self.connect_rate {
            if let Admission::Refused { first } = rate.admit(peer.ip(), tokio::time::Instant::now())
            {
                self.refusals.connect_rate.fetch_add(1, Ordering::Relaxed);
                if first {
                    warn!(
                        peer = %peer.ip(),
                        limit = rate.limit(),
                        "refusing connections: over --connect-rate-per-ip this second \
                         (further refusals this second are counted, not logged)"
                    );
                }
                return Err(Refused::ConnectRate);
            }
        }
        self.connections.clone().try_acquire_owned().map_err(|_| {
            self.refusals
                .max_connections
                .fetch_add(1, Ordering::Relaxed);
            let second = self.started.elapsed().as_secs();
            let logged = self.max_connections_logged.swap(second, Ordering::Relaxed);
            if logged != second {
                warn!(
                    %peer,
                    max = self.max_connections,
                    "refusing connections: --max-connections reached (further refusals \
                     this second are counted, not logged)"
                );
            }
            Refused::MaxConnections
        })
    }

    /// Whether a client at `peer` offering `offered` may watch `/events`; a refusal is
    /// counted, and the first one logged.
    pub fn may_watch(
        &self,
        peer: SocketAddr,
        offered: Option<&str>,
    ) -> Result<(), crate::events_access::Denied> {
        let checked = crate::events_access::check(peer.ip(), self.events_token.as_deref(), offered);
        if let Err(denied) = checked {
            self.refusals
                .events_forbidden
                .fetch_add(1, Ordering::Relaxed);
            if !self.events_refusal_logged.swap(true, Ordering::Relaxed) {
                warn!(%peer, "refusing an /events watcher: {} (further refusals are counted in /metrics, not logged)", denied.explain());
            }
        }
        checked
    }

    /// Counts a WebSocket handshake refused for want of an MQTT subprotocol.
    pub fn refused_no_subprotocol(&self, peer: SocketAddr) {
        self.refusals.no_subprotocol.fetch_add(1, Ordering::Relaxed);
        warn!(%peer, "refusing a WebSocket handshake without the mqtt subprotocol (MQTT-6.0.0-3)");
    }

    pub fn refusals(&self) -> &Refusals {
        &self.refusals
    }

    /// Waits until every connection task has ended, or `limit` has passed.
    pub async fn wait_for_connections(&self, limit: std::time::Duration) -> bool {
        let all = u32::try_from(self.max_connections).unwrap_or(u32::MAX);
        tokio::time::timeout(limit, self.connections.acquire_many(all))
            .await
            .is_ok()
    }
}
