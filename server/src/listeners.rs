//! The MQTT listeners: accept loops for `--mqtt` (TCP) and `--mqtts` (TLS).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use broker_core::PeerInfo;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tracing::{debug, warn};

use crate::connection::{self, Connection};
use crate::context::Context;
use crate::tls;
use crate::transport::{Tcp, Tls};

/// How long a TLS client may take to finish its handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts plain TCP connections until the server stops.
pub async fn tcp(listener: TcpListener, ctx: Arc<Context>) {
    while let Some((stream, addr)) = accept(&listener, &ctx).await {
        let Ok(permit) = ctx.admit(addr) else {
            continue;
        };
        tokio::spawn(connection::run(Connection {
            transport: Tcp::new(stream),
            peer: peer_info(addr, None),
            ctx: ctx.clone(),
            _permit: permit,
        }));
    }
}

/// Accepts TLS connections until the server stops. Each handshake runs in the
/// connection's own task, so a slow handshake never holds up the next accept.
pub async fn tls(listener: TcpListener, acceptor: TlsAcceptor, ctx: Arc<Context>) {
    while let Some((stream, addr)) = accept(&listener, &ctx).await {
        let Ok(permit) = ctx.admit(addr) else {
            continue;
        };
        let acceptor = acceptor.clone();
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let stream =
                match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(err)) => {
                        debug!(peer = %addr, %err, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        debug!(peer = %addr, "TLS handshake timed out");
                        return;
                    }
                };
            let peer = peer_info(addr, tls::principal(&stream));
            connection::run(Connection {
                transport: Tls::new(stream),
                peer,
                ctx,
                _permit: permit,
            })
            .await;
        });
    }
}

/// The next connection, with TCP_NODELAY on (the server batches its own writes, so
/// Nagle's delay would only add latency); `None` once the server is stopping.
async fn accept(listener: &TcpListener, ctx: &Context) -> Option<(TcpStream, SocketAddr)> {
    let mut stop = ctx.stop.clone();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stopping| *stopping) => return None,
        };
        match accepted {
            Ok((stream, addr)) => {
                if let Err(err) = stream.set_nodelay(true) {
                    debug!(peer = %addr, %err, "cannot set TCP_NODELAY");
                }
                return Some((stream, addr));
            }
            Err(err) => {
                // Out of file descriptors, typically: pausing lets connections close
                // instead of spinning on an error that repeats at once.
                warn!(%err, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

pub fn peer_info(addr: SocketAddr, principal: Option<String>) -> Box<PeerInfo> {
    Box::new(PeerInfo {
        addr: Some(addr.to_string()),
        principal,
    })
}
