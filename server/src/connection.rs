//! One connection's task: moves bytes between its transport and the owner loop, and
//! nothing else. Every MQTT decision is the broker's.
//!
//! The same loop serves TCP, TLS and WebSocket through the [`Transport`] trait. It waits
//! for whichever comes first, bytes from the peer or a batch from the owner, so that one
//! task per connection is enough.
//!
//! An idle connection costs what its task keeps while it waits, so the wait is one small
//! hand-written future (a `poll_fn` over the outbox and the socket's readiness) rather
//! than `select!` over two async functions, and every step but the common one (handing
//! bytes to the owner) is boxed out of the task's size: accepting, writing, closing.
//! docs/benchmarks.md has the memory per idle connection.

use std::future::{poll_fn, Future};
use std::io;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use broker_core::{ConnId, PeerInfo};
use bytes::Bytes;
use futures_util::future::Either;
use futures_util::FutureExt;
use tokio::sync::OwnedSemaphorePermit;
use tracing::debug;

use crate::context::Context;
use crate::outbox::{Batch, Outbox};
use crate::owner::{Cause, OwnerHandle, Stopped};

/// How long a closing connection waits for the peer to close its side. Reading until the
/// peer's FIN (or WebSocket close frame) before dropping the socket keeps the kernel from
/// answering late client bytes with a reset, which could destroy the last packets sent.
const LINGER: Duration = Duration::from_secs(2);

/// A byte stream to a client: TCP, TLS or WebSocket.
pub trait Transport: Send {
    /// Polls for the next bytes from the peer: `None` once it has closed its side.
    /// Nothing is consumed from the transport unless this returns `Ready`.
    fn poll_read(&mut self, cx: &mut std::task::Context<'_>) -> Poll<io::Result<Option<Bytes>>>;

    /// Writes `packets` in order, as few writes as the transport allows.
    async fn write(&mut self, packets: &[Bytes]) -> io::Result<()>;

    /// Closes the sending side cleanly (TCP FIN, TLS close_notify, WebSocket close frame).
    async fn close(&mut self) -> io::Result<()>;
}

/// A peer broke the framing MQTT rides on (a WebSocket text frame, say): carried inside
/// the `io::Error` of a failed read, so that the owner can log and count it by `kind`.
#[derive(Debug)]
pub struct TransportViolation {
    /// The metrics label: `websocket-text-frame`, `websocket-protocol`, ...
    pub kind: &'static str,
    pub detail: String,
}

impl TransportViolation {
    pub fn error(kind: &'static str, detail: impl Into<String>) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            TransportViolation {
                kind,
                detail: detail.into(),
            },
        )
    }

    /// The violation inside `err`, if that is what it is.
    fn of(err: &io::Error) -> Option<&TransportViolation> {
        err.get_ref()?.downcast_ref()
    }
}

impl std::fmt::Display for TransportViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for TransportViolation {}

/// A connection's task's belongings, passed whole so that the task stores each once.
pub struct Connection<T> {
    pub transport: T,
    /// Boxed because the task keeps room for its arguments for its whole life, while
    /// the peer is handed to the owner at once.
    pub peer: Box<PeerInfo>,
    pub ctx: Arc<Context>,
    /// The connection's place under `--max-connections`, given back when the task ends.
    pub _permit: OwnedSemaphorePermit,
}

/// Runs one connection until either side closes it.
///
/// Written as a function returning an `async move` block, not an `async fn`: an async
/// function moves its arguments into locals and so stores them twice for the task's life.
#[allow(clippy::manual_async_fn)]
pub fn run<T: Transport>(mut connection: Connection<T>) -> impl Future<Output = ()> {
    async move {
        // Naming the permit makes the block own it: a block captures only the fields it
        // uses, and an unused permit would go back to the pool the moment the task starts.
        let _permit = &connection._permit;
        let outbox = Arc::new(Outbox::new(connection.ctx.max_outgoing_bytes));
        let accepted = Box::pin(connection.ctx.owner.accept(connection.peer, outbox.clone())).await;
        let Some(conn) = accepted else {
            return; // The server is stopping.
        };
        // tokio keeps a panicking task from taking the server down; this tells the owner,
        // so that the broker closes the connection (publishing its Will) like any other.
        let _guard = PanicGuard {
            owner: &connection.ctx.owner,
            conn,
        };
        loop {
            // Writing first keeps what the broker queued, and so memory, small.
            let transport = &mut connection.transport;
            let next = poll_fn(|cx| match outbox.poll_batch(cx) {
                Poll::Ready(batch) => Poll::Ready(Next::Other(Wake::Batch(batch))),
                // While the broker holds this publisher back, its bytes stay in the
                // socket, and TCP's window slows it; `pause_reading` wakes the task.
                Poll::Pending if !outbox.may_read() => Poll::Pending,
                Poll::Pending => transport.poll_read(cx).map(|read| match read {
                    Ok(Some(bytes)) => Next::Bytes(bytes),
                    Ok(None) => Next::Other(Wake::PeerClosed),
                    Err(err) => Next::Other(Wake::Failed(err)),
                }),
            })
            .await;
            let owner = &connection.ctx.owner;
            // The common case, bytes the owner takes at once, waits for nothing. Everything
            // else is boxed, so that its state (a TLS or WebSocket write's above all) does
            // not sit in every idle connection's task; only the box's pointer does.
            let flow = match next {
                Next::Bytes(bytes) => match owner.bytes(conn, bytes) {
                    Ok(None) => continue,
                    Ok(Some(wait)) => Either::Left(wait.map(|handed| match handed {
                        Ok(()) => Flow::Continue,
                        Err(Stopped) => Flow::End,
                    })),
                    Err(Stopped) => return,
                },
                Next::Other(wake) => {
                    Either::Right(Box::pin(handle(wake, transport, &outbox, owner, conn)))
                }
            }
            .await;
            match flow {
                Flow::Continue => {}
                Flow::End => return,
                Flow::Close => return Box::pin(close(transport, conn)).await,
            }
        }
    }
}

/// Reports the connection closed if the task unwinds from a panic.
struct PanicGuard<'a> {
    owner: &'a OwnerHandle,
    conn: ConnId,
}

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.owner.closed_after_panic(self.conn);
        }
    }
}

/// What the connection's task does after handling one wake-up.
pub enum Flow {
    Continue,
    /// Stop at once: the owner knows the connection is over, or has stopped itself.
    End,
    /// The broker or the server closed the connection: close the transport cleanly.
    Close,
}

/// Handles what woke the task, other than bytes from the peer.
async fn handle<T: Transport>(
    wake: Wake,
    transport: &mut T,
    outbox: &Outbox,
    owner: &OwnerHandle,
    conn: ConnId,
) -> Flow {
    match wake {
        Wake::Batch(Batch::Abort) => Flow::End,
        Wake::Batch(Batch::Write(packets)) => match transport.write(&packets).await {
            Ok(()) => {
                if outbox.relieved() {
                    owner.relieved(conn).await;
                }
                Flow::Continue
            }
            Err(err) => {
                debug!(%conn, %err, "write failed");
                owner.closed(conn).await;
                Flow::End
            }
        },
        Wake::Batch(Batch::WriteAndClose(packets)) => match transport.write(&packets).await {
            Ok(()) => Flow::Close,
            Err(err) => {
                debug!(%conn, %err, "write failed");
                Flow::End
            }
        },
        Wake::PeerClosed => {
            owner.closed(conn).await;
            Flow::End
        }
        Wake::Failed(err) => {
            let cause = match TransportViolation::of(&err) {
                Some(violation) => Cause::Violation(violation.kind),
                None => {
                    debug!(%conn, %err, "read failed");
                    Cause::Network
                }
            };
            owner.closed_by(conn, cause).await;
            Flow::Close
        }
    }
}

/// What woke the connection's task.
enum Next {
    /// The peer sent bytes: the common case, handled without boxing.
    Bytes(Bytes),
    Other(Wake),
}

/// Every other reason to wake up.
enum Wake {
    /// The owner queued packets, or a close.
    Batch(Batch),
    /// The peer closed its side.
    PeerClosed,
    /// Reading failed (a text WebSocket frame counts as a failure).
    Failed(io::Error),
}

/// Closes the transport cleanly, then discards what the peer still sends until it
/// closes too, for at most [`LINGER`].
async fn close<T: Transport>(transport: &mut T, conn: ConnId) {
    if let Err(err) = transport.close().await {
        debug!(%conn, %err, "closing failed");
        return;
    }
    let drain = async { while let Ok(Some(_)) = poll_fn(|cx| transport.poll_read(cx)).await {} };
    let _ = tokio::time::timeout(LINGER, drain).await;
}
