//! MQTT over WebSocket (`/mqtt`): binary frames carry the byte stream, split anywhere.

use std::io;
use std::task::{ready, Context, Poll};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use crate::connection::{Transport, TransportViolation};

/// The WebSocket close codes the server sends (RFC 6455, section 7.4.1).
const NORMAL_CLOSURE: u16 = 1000;
const UNSUPPORTED_DATA: u16 = 1003;

#[derive(Debug)]
pub struct WebSocketTransport {
    socket: WebSocket,
    close_code: u16,
}

impl WebSocketTransport {
    pub fn new(socket: WebSocket) -> Self {
        WebSocketTransport {
            socket,
            close_code: NORMAL_CLOSURE,
        }
    }
}

impl Transport for WebSocketTransport {
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Bytes>>> {
        loop {
            let read = match ready!(self.socket.poll_next_unpin(cx)) {
                None | Some(Ok(Message::Close(_))) => Ok(None),
                Some(Err(err)) => Err(read_error(err)),
                // Frame boundaries mean nothing to MQTT: the broker reassembles packets
                // from any split (section 6.0).
                Some(Ok(Message::Binary(bytes))) => Ok(Some(bytes)),
                Some(Ok(Message::Text(_))) => {
                    // MQTT-6.0.0-1: any frame other than binary closes the connection.
                    self.close_code = UNSUPPORTED_DATA;
                    Err(TransportViolation::error(
                        "websocket-text-frame",
                        "a text frame (MQTT-6.0.0-1 allows binary frames only)",
                    ))
                }
                // tungstenite answers pings itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            };
            return Poll::Ready(read);
        }
    }

    async fn write(&mut self, packets: &[Bytes]) -> io::Result<()> {
        // The whole batch goes out as one binary frame, which MQTT over WebSocket allows
        // (a frame may hold several packets), and costs one frame header and one flush.
        let frame = match packets {
            [] => return Ok(()),
            [one] => one.clone(),
            many => {
                let mut joined = BytesMut::with_capacity(many.iter().map(Bytes::len).sum());
                for packet in many {
                    joined.extend_from_slice(packet);
                }
                joined.freeze()
            }
        };
        self.socket
            .send(Message::Binary(frame))
            .await
            .map_err(io::Error::other)
    }

    async fn close(&mut self) -> io::Result<()> {
        let frame = CloseFrame {
            code: self.close_code,
            reason: "".into(),
        };
        self.socket
            .send(Message::Close(Some(frame)))
            .await
            .map_err(io::Error::other)
    }
}

/// Sorts a failed WebSocket read: a broken connection is the network's doing, anything
/// else the peer's. axum hides tungstenite's error type (of another version than ours),
/// so the kind is read from its message, whose prefixes tungstenite has kept for years.
fn read_error(err: axum::Error) -> io::Error {
    let message = err.to_string();
    let kind = if message.starts_with("IO error") {
        return io::Error::other(err);
    } else if message.starts_with("Space limit exceeded") {
        // A message or frame over the largest packet (`max_message_size` above).
        "websocket-message-too-big"
    } else {
        "websocket-protocol"
    };
    TransportViolation::error(kind, message)
}
