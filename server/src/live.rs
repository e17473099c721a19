//! `/live`: the page's live view. A WebSocket of recording lines (docs/live.md), one per
//! text frame: the header, the connections already open (`present`), then every input and
//! output of the broker from now on, with the notes that say what happened. A watcher that
//! falls more than `LIVE_CAPACITY` lines behind is told how many it missed (`skipped`)
//! and goes on from the newest: the broker never waits for a page.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use broker_core::recording::{Entry, OpenConn};
use tokio::sync::broadcast;
use tokio::sync::OwnedSemaphorePermit;

use crate::context::Context;

pub async fn stream(
    mut socket: WebSocket,
    header: Arc<str>,
    present: Vec<OpenConn>,
    lines: broadcast::Receiver<Arc<str>>,
    ctx: Arc<Context>,
    _permit: OwnedSemaphorePermit,
) {
    let preamble = [
        header.to_string(),
        Entry::Present { conns: present }.to_line(),
    ];
    for line in preamble {
        if socket.send(Message::Text(line.into())).await.is_err() {
            return;
        }
    }
    let frame = |line: &Arc<str>| Ok::<_, std::convert::Infallible>(line.to_string());
    let skipped = |lines| Ok(Entry::Skipped { lines }.to_line());
    crate::events::forward(socket, lines, &ctx, frame, skipped).await;
}
