//! `/events`: the broker's events streamed to a WebSocket as JSON, one per text frame.
//!
//! Each frame is broker-core's `Event` as serde writes it, for example
//! `{"Connected":{"conn":1,"client_id":"a","clean_session":true,...}}`. A watcher that
//! falls more than the channel's capacity behind misses events and is told how many in a
//! frame `{"Lagged":{"missed":N}}`: the broker never waits for a watcher.
//!
//! [`forward`] is the loop every watcher's socket runs, `/live`'s too (`live.rs`).

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use broker_core::Event;
use serde::Serialize;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::OwnedSemaphorePermit;
use tracing::debug;

use crate::context::Context;

/// What a watcher is told when it fell behind.
#[derive(Serialize)]
enum Notice {
    Lagged { missed: u64 },
}

pub async fn stream(
    socket: WebSocket,
    events: broadcast::Receiver<Arc<Event>>,
    ctx: Arc<Context>,
    _permit: OwnedSemaphorePermit,
) {
    let frame = |event: &Arc<Event>| serde_json::to_string(&**event);
    let lagged = |missed| serde_json::to_string(&Notice::Lagged { missed });
    forward(socket, events, &ctx, frame, lagged).await;
}

/// Sends a text frame for each item of `items`, or for each gap when the watcher fell
/// behind, until the watcher leaves or the server stops. What the watcher sends means
/// nothing; only its leaving matters. An item that cannot be written is skipped.
pub async fn forward<T: Clone, E: std::fmt::Display>(
    mut socket: WebSocket,
    mut items: broadcast::Receiver<T>,
    ctx: &Context,
    frame: impl Fn(&T) -> Result<String, E>,
    lagged: impl Fn(u64) -> Result<String, E>,
) {
    let mut stop = ctx.stop.clone();
    loop {
        let text = tokio::select! {
            received = items.recv() => match received {
                Ok(item) => frame(&item),
                Err(RecvError::Lagged(missed)) => lagged(missed),
                Err(RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => continue,
            },
            _ = stop.wait_for(|stopping| *stopping) => break,
        };
        let text = match text {
            Ok(text) => text,
            Err(err) => {
                debug!(%err, "cannot write a watcher's frame");
                continue;
            }
        };
        if socket.send(Message::Text(text.into())).await.is_err() {
            return;
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}
