//! WebSocket handshakes for `/mqtt` done by hand, to offer any subprotocol (or none) and
//! see what the server selects or refuses.

use std::net::SocketAddr;

use anyhow::{anyhow, Context, Result};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::WebSocketStream;

use super::raw::tcp;
use crate::server::Server;
use crate::TIMEOUT;

/// A WebSocket handshake for `/mqtt` on `stream`, offering `subprotocol` (or none).
/// Returns the socket and the subprotocol the server selected, or the HTTP status of a
/// refusal.
pub async fn ws_handshake(
    http: SocketAddr,
    stream: TcpStream,
    subprotocol: Option<&str>,
) -> Result<std::result::Result<(WebSocketStream<TcpStream>, Option<String>), u16>> {
    let mut request = format!("ws://{http}/mqtt").into_client_request()?;
    if let Some(subprotocol) = subprotocol {
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_str(subprotocol)?,
        );
    }
    let handshake = tokio_tungstenite::client_async(request, stream);
    match tokio::time::timeout(TIMEOUT, handshake)
        .await
        .map_err(|_| anyhow!("the WebSocket handshake timed out"))?
    {
        Ok((socket, response)) => {
            let selected = response
                .headers()
                .get("Sec-WebSocket-Protocol")
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
            Ok(Ok((socket, selected)))
        }
        Err(tungstenite::Error::Http(response)) => Ok(Err(response.status().as_u16())),
        Err(err) => Err(err).context("the WebSocket handshake failed"),
    }
}

/// Opens a TCP connection to the HTTP listener and attempts the `/mqtt` handshake with
/// `subprotocol`; returns the client's address (as the server logs it) and the outcome.
pub async fn try_ws_handshake(
    server: &Server,
    subprotocol: Option<&str>,
) -> Result<(String, std::result::Result<Option<String>, u16>)> {
    let stream = tcp(server.http).await?;
    let peer = stream.local_addr()?.to_string();
    let outcome = ws_handshake(server.http, stream, subprotocol)
        .await?
        .map(|(_socket, selected)| selected);
    Ok((peer, outcome))
}
