//! The byte-stream transports: plain TCP and TLS. (WebSocket is in `websocket.rs`.)

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use crate::connection::Transport;

/// The most bytes taken from a socket at once.
const READ_CHUNK: usize = 16 * 1024;

/// MQTT over plain TCP.
#[derive(Debug)]
pub struct Tcp {
    stream: TcpStream,
}

impl Tcp {
    pub fn new(stream: TcpStream) -> Self {
        Tcp { stream }
    }
}

impl Transport for Tcp {
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Bytes>>> {
        loop {
            ready!(self.stream.poll_read_ready(cx))?;
            // The buffer lives on the stack for the read and the copy only, so an idle
            // connection holds no read buffer at all.
            let mut buf = [0u8; READ_CHUNK];
            match self.stream.try_read(&mut buf) {
                Ok(0) => return Poll::Ready(Ok(None)),
                Ok(n) => return Poll::Ready(Ok(Some(Bytes::copy_from_slice(&buf[..n])))),
                // Readiness was stale; polling again registers for the next.
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
                Err(err) => return Poll::Ready(Err(err)),
            }
        }
    }

    async fn write(&mut self, packets: &[Bytes]) -> io::Result<()> {
        write_batch(&mut self.stream, packets).await
    }

    async fn close(&mut self) -> io::Result<()> {
        self.stream.shutdown().await
    }
}

/// MQTT over TLS.
#[derive(Debug)]
pub struct Tls {
    stream: TlsStream<TcpStream>,
}

impl Tls {
    pub fn new(stream: TlsStream<TcpStream>) -> Self {
        Tls { stream }
    }
}

impl Transport for Tls {
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Bytes>>> {
        // A stack buffer is enough: a read that returns `Pending` has taken nothing, and
        // rustls keeps any partly received record itself.
        let mut buf = [0u8; READ_CHUNK];
        let mut read = ReadBuf::new(&mut buf);
        ready!(Pin::new(&mut self.stream).poll_read(cx, &mut read))?;
        let filled = read.filled();
        Poll::Ready(Ok(if filled.is_empty() {
            None
        } else {
            Some(Bytes::copy_from_slice(filled))
        }))
    }

    async fn write(&mut self, packets: &[Bytes]) -> io::Result<()> {
        write_batch(&mut self.stream, packets).await
    }

    async fn close(&mut self) -> io::Result<()> {
        // Sends TLS close_notify, then the TCP FIN.
        self.stream.shutdown().await
    }
}

/// Writes `packets` with one write call where possible: small packets are copied into one
/// buffer so that a burst of PUBLISHes becomes one segment (TCP_NODELAY is on) or one
/// TLS record, not one per packet.
async fn write_batch<S>(stream: &mut S, packets: &[Bytes]) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match packets {
        [] => {}
        [one] => stream.write_all(one).await?,
        many => {
            let total = many.iter().map(Bytes::len).sum();
            let mut joined = Vec::with_capacity(total);
            for packet in many {
                joined.extend_from_slice(packet);
            }
            stream.write_all(&joined).await?;
        }
    }
    stream.flush().await
}
