//! The MQTT listeners: accept loops for `--mqtt` (TCP) and `--mqtts` (TLS).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use broker_core::PeerInfo;
use rustls::pki_types::UnixTime;
use rustls::{AlertDescription, CertificateError};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};
use x509_parser::time::ASN1Time;

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
/// connection's own task, so a slow handshake never holds up the next accept. A failed
/// handshake is logged once, at info, with the reason: a refused device otherwise sees only
/// a closed connection, and the operator would have nothing to go on.
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
                        info!(peer = %addr, "TLS handshake failed: {}", handshake_failure(&err));
                        return;
                    }
                    Err(_) => {
                        info!(
                            peer = %addr,
                            "TLS handshake failed: it timed out after {}s",
                            TLS_HANDSHAKE_TIMEOUT.as_secs()
                        );
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

/// Why a TLS handshake failed, in a sentence for the log. tokio-rustls returns rustls's
/// own error wrapped in an `io::Error`; any other `io::Error` is the connection failing.
fn handshake_failure(err: &io::Error) -> String {
    let Some(tls) = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return match err.kind() {
            io::ErrorKind::UnexpectedEof => {
                "the client closed the connection before the handshake ended".to_owned()
            }
            io::ErrorKind::ConnectionReset => {
                "the client reset the connection before the handshake ended".to_owned()
            }
            _ => format!("the connection failed: {err}"),
        };
    };
    match tls {
        rustls::Error::NoCertificatesPresented => {
            "the client presented no certificate, and --tls-client-ca requires one".to_owned()
        }
        rustls::Error::InvalidCertificate(why) => {
            let reason = match why {
                CertificateError::UnknownIssuer => {
                    "is not signed by the configured CA (--tls-client-ca)".to_owned()
                }
                CertificateError::BadSignature => "has a signature that does not verify: \
                    it is not signed by the configured CA's key (--tls-client-ca), or the \
                    client does not hold its private key"
                    .to_owned(),
                CertificateError::ExpiredContext { not_after, .. } => {
                    format!("expired on {}", date(*not_after))
                }
                CertificateError::Expired => "expired".to_owned(),
                CertificateError::NotValidYetContext { not_before, .. } => {
                    format!("is not valid before {}", date(*not_before))
                }
                CertificateError::NotValidYet => "is not valid yet".to_owned(),
                CertificateError::Revoked => "is revoked".to_owned(),
                CertificateError::InvalidPurpose
                | CertificateError::InvalidPurposeContext { .. } => {
                    "is not for client authentication (its extended key usage)".to_owned()
                }
                CertificateError::UnsupportedSignatureAlgorithmContext { .. } => {
                    "is signed with an algorithm the server refuses (SHA-1, for example)".to_owned()
                }
                CertificateError::BadEncoding => "is malformed".to_owned(),
                other => format!("was refused: {other}"),
            };
            format!("the client certificate {reason}")
        }
        rustls::Error::AlertReceived(
            alert @ (AlertDescription::UnknownCA
            | AlertDescription::BadCertificate
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateUnknown),
        ) => {
            format!("the client refused the server's certificate (--tls-cert) with alert {alert:?}")
        }
        rustls::Error::AlertReceived(alert) => {
            format!("the client ended the handshake with alert {alert:?}")
        }
        rustls::Error::PeerIncompatible(why) => {
            format!("the client's TLS has nothing in common with the server's: {why:?}")
        }
        rustls::Error::InvalidMessage(_)
        | rustls::Error::InappropriateMessage { .. }
        | rustls::Error::InappropriateHandshakeMessage { .. } => {
            format!("the client did not speak TLS ({tls}); a plain MQTT client belongs on --mqtt")
        }
        other => format!("{other}"),
    }
}

/// A certificate time as a date, for the log.
fn date(time: UnixTime) -> String {
    i64::try_from(time.as_secs())
        .ok()
        .and_then(|secs| ASN1Time::from_timestamp(secs).ok())
        .map_or_else(
            || format!("{} (Unix time)", time.as_secs()),
            |t| t.to_string(),
        )
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
