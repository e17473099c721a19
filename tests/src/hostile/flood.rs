//! [`RawClient::flood`]: junk written as fast as the server takes it, until the server
//! closes the connection.

use anyhow::{bail, Result};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use super::raw::{ws_ending, Closed, Ending, Inner, RawClient};
use crate::TIMEOUT;

/// How many junk bytes one write (one binary frame over WebSocket) carries.
const CHUNK: usize = 64 * 1024;

impl RawClient {
    /// Sends `first`, then up to `limit` bytes of junk in 64 KiB writes (binary frames
    /// over WebSocket), stopping as soon as the server closes the connection. Returns how
    /// many junk bytes had been written when the close was seen, and the close.
    pub async fn flood(&mut self, first: &[u8], limit: usize) -> Result<(usize, Closed)> {
        let junk = vec![0x55u8; CHUNK];
        self.send(first).await?;
        let mut progress = Progress {
            written: 0,
            limit,
            writing: true,
        };
        let mut received = Vec::new();
        let ending = match &mut self.inner {
            Inner::Tcp(stream) => {
                let (mut reader, mut writer) = stream.split();
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    tokio::select! {
                        // Checking for the close first stops the flood at once.
                        biased;
                        read = reader.read(&mut buf) => match read {
                            Ok(0) => break Ending::Eof,
                            Ok(n) => received.extend_from_slice(&buf[..n]),
                            Err(err) => break Ending::Failed(err.to_string()),
                        },
                        wrote = writer.write_all(&junk), if progress.writing => {
                            progress.wrote(wrote.is_ok());
                        }
                        () = tokio::time::sleep(TIMEOUT), if !progress.writing => {
                            return progress.left_open();
                        }
                    }
                }
            }
            Inner::WebSocket(socket) => {
                let (mut sink, mut stream) = socket.as_mut().split();
                loop {
                    tokio::select! {
                        biased;
                        message = stream.next() => match message {
                            None => break Ending::Eof,
                            Some(Ok(Message::Close(frame))) => {
                                break Ending::CloseFrame(frame.map(|f| u16::from(f.code)))
                            }
                            Some(Ok(Message::Binary(bytes))) => received.extend_from_slice(&bytes),
                            Some(Ok(_)) => {}
                            Some(Err(err)) => break ws_ending(err),
                        },
                        sent = sink.send(Message::binary(junk.clone())), if progress.writing => {
                            progress.wrote(sent.is_ok());
                        }
                        () = tokio::time::sleep(TIMEOUT), if !progress.writing => {
                            return progress.left_open();
                        }
                    }
                }
            }
        };
        Ok((progress.written, Closed { received, ending }))
    }
}

/// How far a flood has got, the same over TCP and WebSocket.
struct Progress {
    /// Junk bytes written so far.
    written: usize,
    limit: usize,
    /// Whether to write more: until `limit`, or until a write fails.
    writing: bool,
}

impl Progress {
    /// Counts one write of [`CHUNK`] bytes that succeeded (`ok`) or failed. A failed
    /// write stops the writing: a reset shows on the read side too.
    fn wrote(&mut self, ok: bool) {
        if ok {
            self.written += CHUNK;
            self.writing = self.written < self.limit;
        } else {
            self.writing = false;
        }
    }

    /// The failure when the server has not closed the connection [`TIMEOUT`] after the
    /// last write.
    fn left_open(&self) -> Result<(usize, Closed)> {
        bail!(
            "the server left the connection open after {} bytes",
            self.written
        )
    }
}
