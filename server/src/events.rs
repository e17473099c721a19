//! `/events`: the broker's events streamed to a WebSocket as JSON, one per text frame.
//!
//! Each frame is broker-core's `Event` as serde writes it, for example
//! `{"Connected":{"conn":1,"client_id":"a","clean_session":true,...}}`. A watcher that
//! falls more than the channel's capacity behind misses events and is told how many in a
//! frame `{"Lagged":{"missed":N}}`: the broker never waits for a watcher.

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
    mut socket: WebSocket,
    mut events: broadcast::Receiver<Arc<Event>>,
    ctx: Arc<Context>,
    _permit: OwnedSemaphorePermit,
) {
    let mut stop = ctx.stop.clone();
    loop {
        let json = tokio::select! {
            received = events.recv() => match received {
                Ok(event) => serde_json::to_string(&*event),
                Err(RecvError::Lagged(missed)) => serde_json::to_string(&Notice::Lagged { missed }),
                Err(RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                // What a watcher sends means nothing; only its leaving matters.
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => continue,
            },
            _ = stop.wait_for(|stopping| *stopping) => break,
        };
        let json = match json {
            Ok(json) => json,
            Err(err) => {
                debug!(%err, "cannot serialize an event");
                continue;
            }
        };
        if socket.send(Message::Text(json.into())).await.is_err() {
            return;
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}
