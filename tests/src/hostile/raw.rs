//! [`RawClient`]: one connection over TCP or WebSocket that sends exactly the bytes a
//! test chooses, and reports how the server ended it ([`Closed`], [`Ending`]).

use std::net::SocketAddr;

use anyhow::{anyhow, bail, ensure, Result};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

use super::handshake::ws_handshake;
use crate::mqtt::Via;
use crate::server::Server;
use crate::TIMEOUT;

/// How a hostile client reaches the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// The `--mqtt` listener.
    Tcp,
    /// `ws://<http>/mqtt`, offering the `mqtt` subprotocol, MQTT in binary frames.
    WebSocket,
}

impl Transport {
    /// Where a well-behaved `rumqttc` client reaches the same listener.
    pub fn via(self, server: &Server) -> Via {
        match self {
            Transport::Tcp => Via::Tcp(server.mqtt),
            Transport::WebSocket => Via::WebSocket(server.http),
        }
    }

    /// A short name for client ids and topics.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::WebSocket => "ws",
        }
    }
}

/// One raw connection to the server.
#[derive(Debug)]
pub struct RawClient {
    pub(super) inner: Inner,
    peer: String,
}

#[derive(Debug)]
pub(super) enum Inner {
    Tcp(TcpStream),
    WebSocket(Box<WebSocketStream<TcpStream>>),
}

/// How the server ended a connection, as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The stream ended cleanly (TCP FIN, or the WebSocket's TCP stream without a close
    /// frame after the client's own).
    Eof,
    /// The server sent a WebSocket close frame with this code (or none).
    CloseFrame(Option<u16>),
    /// The connection was reset or otherwise failed.
    Failed(String),
}

/// Everything the server sent until it closed the connection, and how it closed it.
#[derive(Debug)]
pub struct Closed {
    pub received: Vec<u8>,
    pub ending: Ending,
}

impl RawClient {
    /// Opens a connection over `transport`. Over WebSocket the handshake offers `mqtt`
    /// and checks that the server selected it.
    pub async fn open(server: &Server, transport: Transport) -> Result<RawClient> {
        match transport {
            Transport::Tcp => {
                let stream = tcp(server.mqtt).await?;
                let peer = stream.local_addr()?.to_string();
                Ok(RawClient {
                    inner: Inner::Tcp(stream),
                    peer,
                })
            }
            Transport::WebSocket => {
                let stream = tcp(server.http).await?;
                let peer = stream.local_addr()?.to_string();
                let (socket, selected) = ws_handshake(server.http, stream, Some("mqtt"))
                    .await?
                    .map_err(|status| anyhow!("the WebSocket handshake got HTTP {status}"))?;
                ensure!(
                    selected.as_deref() == Some("mqtt"),
                    "the server selected subprotocol {selected:?}, not mqtt"
                );
                Ok(RawClient {
                    inner: Inner::WebSocket(Box::new(socket)),
                    peer,
                })
            }
        }
    }

    /// The client's address as the server logs it (`peer="127.0.0.1:40000"`).
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// Sends `bytes`: as they are over TCP, as one binary frame over WebSocket.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<()> {
        match &mut self.inner {
            Inner::Tcp(stream) => stream.write_all(bytes).await?,
            Inner::WebSocket(socket) => socket.send(Message::binary(bytes.to_vec())).await?,
        }
        Ok(())
    }

    /// Sends a WebSocket text frame, which MQTT over WebSocket forbids (MQTT-6.0.0-1).
    pub async fn send_text(&mut self, text: &str) -> Result<()> {
        match &mut self.inner {
            Inner::Tcp(_) => bail!("a text frame needs a WebSocket"),
            Inner::WebSocket(socket) => socket.send(Message::text(text.to_owned())).await?,
        }
        Ok(())
    }

    /// Closes the client's sending side: a TCP FIN, or a WebSocket close frame. Whatever
    /// packet was half sent stays unfinished.
    pub async fn finish(&mut self) -> Result<()> {
        match &mut self.inner {
            Inner::Tcp(stream) => stream.shutdown().await?,
            Inner::WebSocket(socket) => WebSocketStream::close(&mut **socket, None).await?,
        }
        Ok(())
    }

    /// Reads exactly `len` bytes, however they were split or framed.
    pub async fn read_exact(&mut self, len: usize) -> Result<Vec<u8>> {
        let read = async {
            let mut bytes = Vec::new();
            while bytes.len() < len {
                match self.next_bytes().await? {
                    Some(chunk) => bytes.extend_from_slice(&chunk),
                    None => bail!("closed after {} of {len} bytes: {bytes:02x?}", bytes.len()),
                }
            }
            ensure!(bytes.len() == len, "expected {len} bytes, got {bytes:02x?}");
            Ok(bytes)
        };
        tokio::time::timeout(TIMEOUT, read)
            .await
            .map_err(|_| anyhow!("{len} bytes did not arrive within {TIMEOUT:?}"))?
    }

    /// Reads until the server closes the connection; fails if it is still open after
    /// [`TIMEOUT`].
    pub async fn until_closed(&mut self) -> Result<Closed> {
        let deadline = Instant::now() + TIMEOUT;
        self.until_closed_by(deadline).await
    }

    /// Reads until the server closes the connection, or fails at `deadline`.
    pub async fn until_closed_by(&mut self, deadline: Instant) -> Result<Closed> {
        let mut received = Vec::new();
        loop {
            let next = tokio::time::timeout_at(deadline, self.next_event())
                .await
                .map_err(|_| {
                    anyhow!(
                        "the server left the connection open (received so far: {received:02x?})"
                    )
                })?;
            match next {
                Event::Bytes(bytes) => received.extend_from_slice(&bytes),
                Event::Ended(ending) => return Ok(Closed { received, ending }),
            }
        }
    }

    /// Gives up the WebSocket layer: the same connection, from now on written and read as
    /// raw TCP, for sending WebSocket frames by hand.
    pub fn without_websocket(self) -> RawClient {
        let stream = match self.inner {
            Inner::Tcp(stream) => stream,
            Inner::WebSocket(socket) => socket.into_inner(),
        };
        RawClient {
            inner: Inner::Tcp(stream),
            peer: self.peer,
        }
    }

    async fn next_bytes(&mut self) -> Result<Option<Vec<u8>>> {
        match self.next_event().await {
            Event::Bytes(bytes) => Ok(Some(bytes)),
            Event::Ended(Ending::Failed(err)) => bail!("the connection failed: {err}"),
            Event::Ended(_) => Ok(None),
        }
    }

    async fn next_event(&mut self) -> Event {
        match &mut self.inner {
            Inner::Tcp(stream) => {
                let mut buf = vec![0u8; 16 * 1024];
                match stream.read(&mut buf).await {
                    Ok(0) => Event::Ended(Ending::Eof),
                    Ok(n) => {
                        buf.truncate(n);
                        Event::Bytes(buf)
                    }
                    Err(err) => Event::Ended(Ending::Failed(err.to_string())),
                }
            }
            Inner::WebSocket(socket) => loop {
                match socket.next().await {
                    None => return Event::Ended(Ending::Eof),
                    Some(Ok(Message::Binary(bytes))) => return Event::Bytes(bytes.to_vec()),
                    Some(Ok(Message::Close(frame))) => {
                        return Event::Ended(Ending::CloseFrame(frame.map(|f| u16::from(f.code))))
                    }
                    // Pings are answered by tungstenite; nothing else is MQTT.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                    Some(Ok(Message::Text(text))) => {
                        return Event::Ended(Ending::Failed(format!(
                            "the server sent a text frame: {text}"
                        )))
                    }
                    Some(Err(err)) => return Event::Ended(ws_ending(err)),
                }
            },
        }
    }
}

enum Event {
    Bytes(Vec<u8>),
    Ended(Ending),
}

/// A WebSocket error as an ending: the stream ending after the client's own close frame,
/// or without one, is an end like a FIN; anything else is a failure.
pub(super) fn ws_ending(err: tungstenite::Error) -> Ending {
    match err {
        tungstenite::Error::ConnectionClosed
        | tungstenite::Error::AlreadyClosed
        | tungstenite::Error::Protocol(
            tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
        ) => Ending::Eof,
        other => Ending::Failed(other.to_string()),
    }
}

pub(super) async fn tcp(addr: SocketAddr) -> Result<TcpStream> {
    let stream = tokio::time::timeout(TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| anyhow!("connecting to {addr} timed out"))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}
