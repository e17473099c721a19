//! A minimal MQTT 3.1.1 client written against broker-core's codec, for tests and tools
//! that must see exactly which packets come back (which packet ids a server acknowledged,
//! say), where a client library would hide them.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use broker_core::codec::{decode, Connect, Packet, Publish};
use broker_core::{PacketId, ProtocolVersion, QoS, TopicName};
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// How long `connect` waits for CONNACK.
const CONNACK_WAIT: Duration = Duration::from_secs(10);

/// Decodes the packets that arrive on a stream.
#[derive(Debug)]
pub struct CodecReader<R> {
    read: R,
    rx: Vec<u8>,
}

impl<R: AsyncRead + Unpin> CodecReader<R> {
    /// The next packet; `None` when the connection ends (a reset included: a killed server
    /// resets it) or nothing comes within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Result<Option<Packet>> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some((packet, len)) = decode(&self.rx, ProtocolVersion::V311, usize::MAX, None)?
            {
                self.rx.drain(..len);
                return Ok(Some(packet));
            }
            let n = match tokio::time::timeout(wait, self.read.read(&mut chunk)).await {
                Ok(Ok(n)) => n,
                Ok(Err(_)) | Err(_) => 0,
            };
            if n == 0 {
                return Ok(None);
            }
            self.rx.extend_from_slice(&chunk[..n]);
        }
    }
}

/// A connected client.
#[derive(Debug)]
pub struct CodecClient {
    reader: CodecReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
}

impl CodecClient {
    /// Connects to `addr` as `client_id` with a clean or a persistent session (keep-alive
    /// off), and waits for an accepting CONNACK.
    pub async fn connect(addr: &str, client_id: &str, clean: bool) -> Result<CodecClient> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to {addr}"))?;
        stream.set_nodelay(true)?;
        let (read, write) = stream.into_split();
        let mut client = CodecClient {
            reader: CodecReader {
                read,
                rx: Vec::new(),
            },
            write,
        };
        let mut connect = Connect::new(ProtocolVersion::V311, client_id, clean);
        connect.keep_alive = 0;
        client.send(Packet::Connect(connect)).await?;
        match client.next(CONNACK_WAIT).await? {
            Some(Packet::ConnAck(ack)) if ack.code.0 == 0 => Ok(client),
            other => bail!("expected an accepting CONNACK, got {other:?}"),
        }
    }

    pub async fn send(&mut self, packet: Packet) -> Result<()> {
        Ok(self.write.write_all(&packet.to_bytes()).await?)
    }

    /// The next packet, as `CodecReader::next`.
    pub async fn next(&mut self, wait: Duration) -> Result<Option<Packet>> {
        self.reader.next(wait).await
    }

    /// The two directions, to read in one task and write in another. Dropping the writing
    /// half ends the connection.
    pub fn into_split(self) -> (CodecReader<OwnedReadHalf>, OwnedWriteHalf) {
        (self.reader, self.write)
    }
}

/// A QoS 1 PUBLISH with packet id `id`.
pub fn publish_qos1(topic: &str, payload: &str, retain: bool, id: u16) -> Result<Packet> {
    let topic = TopicName::new(topic).map_err(|e| anyhow!("{topic:?}: {e:?}"))?;
    let id = PacketId::new(id).ok_or_else(|| anyhow!("packet id 0"))?;
    Ok(Packet::Publish(Publish::v311(
        topic,
        QoS::AtLeastOnce,
        retain,
        Some(id),
        Bytes::copy_from_slice(payload.as_bytes()),
    )))
}
