//! One MQTT connection of the generator, over TCP or WebSocket, split into a sending and a
//! receiving half so that acknowledgements are read while publishing goes on.

use anyhow::{bail, Context, Result};
use bytes::BytesMut;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::wire::{self, Incoming};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Where the broker is.
#[derive(Clone, Debug)]
pub enum Target {
    Tcp(String),
    /// A `ws://host:port/path` URL; the subprotocol `mqtt` is offered.
    WebSocket(String),
}

pub enum Sender {
    Tcp(OwnedWriteHalf),
    WebSocket(SplitSink<Ws, Message>),
}

pub enum Receiver {
    Tcp(OwnedReadHalf, BytesMut),
    WebSocket(SplitStream<Ws>, BytesMut),
}

/// Connects, sends CONNECT (with a clean session, or a persistent one) and waits for an
/// accepting CONNACK.
pub async fn connect(target: &Target, client_id: &str, clean: bool) -> Result<(Sender, Receiver)> {
    let (mut sender, mut receiver) = match target {
        Target::Tcp(addr) => {
            let stream = TcpStream::connect(addr)
                .await
                .with_context(|| format!("cannot connect to {addr}"))?;
            stream.set_nodelay(true)?;
            let (read, write) = stream.into_split();
            (
                Sender::Tcp(write),
                Receiver::Tcp(read, BytesMut::with_capacity(64 * 1024)),
            )
        }
        Target::WebSocket(url) => {
            let mut request = url.as_str().into_client_request()?;
            request
                .headers_mut()
                .insert("Sec-WebSocket-Protocol", "mqtt".parse()?);
            let (socket, _) = tokio_tungstenite::connect_async_with_config(request, None, true)
                .await
                .with_context(|| format!("cannot open {url}"))?;
            let (write, read) = socket.split();
            (
                Sender::WebSocket(write),
                Receiver::WebSocket(read, BytesMut::with_capacity(64 * 1024)),
            )
        }
    };
    let mut connect = Vec::new();
    wire::connect(&mut connect, client_id, clean);
    sender.send(connect).await?;
    match receiver.next().await? {
        Some(Incoming::ConnAck { accepted: true }) => Ok((sender, receiver)),
        other => bail!("{client_id}: expected an accepting CONNACK, got {other:?}"),
    }
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Sender::Tcp(_) => "Sender::Tcp",
            Sender::WebSocket(_) => "Sender::WebSocket",
        })
    }
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Receiver::Tcp(..) => "Receiver::Tcp",
            Receiver::WebSocket(..) => "Receiver::WebSocket",
        })
    }
}

impl Sender {
    /// Sends `bytes` as one write (one binary frame over WebSocket).
    pub async fn send(&mut self, bytes: Vec<u8>) -> Result<()> {
        match self {
            Sender::Tcp(write) => write.write_all(&bytes).await?,
            Sender::WebSocket(sink) => sink.send(Message::binary(bytes)).await?,
        }
        Ok(())
    }
}

impl Receiver {
    /// The next packet, `None` when the broker closed the connection.
    pub async fn next(&mut self) -> Result<Option<Incoming>> {
        loop {
            if let Some(packet) = self.parse()? {
                return Ok(Some(packet));
            }
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }

    /// A packet already received, if a whole one is buffered.
    pub fn parse(&mut self) -> Result<Option<Incoming>> {
        let buf = match self {
            Receiver::Tcp(_, buf) | Receiver::WebSocket(_, buf) => buf,
        };
        match wire::parse(buf) {
            Ok(Some((packet, len))) => {
                let _ = buf.split_to(len);
                Ok(Some(packet))
            }
            Ok(None) => Ok(None),
            Err(wire::Malformed) => bail!("the broker sent a malformed packet"),
        }
    }

    /// Reads more bytes; `false` at the end of the stream.
    pub async fn fill(&mut self) -> Result<bool> {
        match self {
            Receiver::Tcp(read, buf) => {
                buf.reserve(16 * 1024);
                Ok(read.read_buf(buf).await? > 0)
            }
            Receiver::WebSocket(read, buf) => loop {
                match read.next().await {
                    Some(Ok(Message::Binary(data))) => {
                        buf.extend_from_slice(&data);
                        return Ok(true);
                    }
                    Some(Ok(Message::Close(_))) | None => return Ok(false),
                    Some(Ok(_)) => {}
                    Some(Err(err)) => return Err(err.into()),
                }
            },
        }
    }
}
