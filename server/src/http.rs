//! The HTTP listener (`--http`): the simulator page, MQTT over WebSocket, health, metrics
//! and the live event stream, all on one port.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio_util::io::ReaderStream;
use tracing::{debug, warn};

use crate::connection::{self, Connection};
use crate::context::{Context, Refused};
use crate::listeners::peer_info;
use crate::websocket::WebSocketTransport;
use crate::{bundle, events, events_access, live, metrics};

/// The subprotocols `/mqtt` accepts, in order of preference: `mqtt` is the standard's
/// (MQTT-6.0.0-3, MQTT-6.0.0-4), `mqttv3.1` what older clients offer.
const MQTT_SUBPROTOCOLS: [&str; 2] = ["mqtt", "mqttv3.1"];

/// The WebSocket read buffer. tungstenite's default is 128 KiB per connection, which
/// thousands of mostly idle devices would spend on nothing.
const WS_READ_BUFFER: usize = 4 * 1024;

/// Serves HTTP until the server stops. Upgraded WebSocket connections live on in their own
/// tasks and end when the owner closes them.
pub async fn serve(listener: TcpListener, ctx: Arc<Context>) {
    let mut stop = ctx.stop.clone();
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/mqtt", get(mqtt))
        .route("/events", get(events))
        .route("/live", get(live))
        .route("/recording", get(recording))
        .merge(bundle::routes())
        .with_state(ctx);
    let listener = listener.tap_io(|stream| {
        if let Err(err) = stream.set_nodelay(true) {
            debug!(%err, "cannot set TCP_NODELAY");
        }
    });
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = stop.wait_for(|stopping| *stopping).await;
    })
    .await;
    if let Err(err) = served {
        warn!(%err, "the HTTP listener failed");
    }
}

/// Healthy while the owner loop runs: without it the broker answers nobody.
async fn healthz(State(ctx): State<Arc<Context>>) -> Response {
    if ctx.owner.is_running() {
        "ok\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "the broker has stopped\n").into_response()
    }
}

async fn metrics(State(ctx): State<Arc<Context>>) -> Response {
    match ctx.owner.snapshot().await {
        Ok(snapshot) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            metrics::render(&snapshot, ctx.refusals()),
        )
            .into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "stopping\n").into_response(),
    }
}

/// MQTT over WebSocket. A handshake that offers neither `mqtt` nor `mqttv3.1` gets
/// 400 Bad Request: the client broke MQTT-6.0.0-3, and accepting without a subprotocol
/// would break MQTT-6.0.0-4 on our side.
async fn mqtt(
    State(ctx): State<Arc<Context>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    ws: WebSocketUpgrade,
) -> Response {
    let ws = ws.protocols(MQTT_SUBPROTOCOLS);
    if ws.selected_protocol().is_none() {
        ctx.refused_no_subprotocol(addr);
        return (
            StatusCode::BAD_REQUEST,
            "MQTT over WebSocket needs the subprotocol `mqtt` (or `mqttv3.1`)\n",
        )
            .into_response();
    }
    let permit = match ctx.admit(addr) {
        Ok(permit) => permit,
        Err(refused) => return refusal(refused),
    };
    // A message bigger than the largest packet cannot be legitimate, so tungstenite
    // refuses it before buffering it all.
    let max = ctx.max_packet_size;
    ws.read_buffer_size(WS_READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| {
            connection::run(Connection {
                transport: WebSocketTransport::new(socket),
                peer: peer_info(addr, None),
                ctx,
                _permit: permit,
            })
        })
}

/// The live event stream: every event of the broker, as JSON text frames, for the clients
/// `events_access.rs` lets watch.
async fn events(
    State(ctx): State<Arc<Context>>,
    Watcher(permit): Watcher,
    ws: WebSocketUpgrade,
) -> Response {
    // Subscribing before the handshake completes means the watcher sees every event
    // caused by anything done after its connection is accepted.
    let watch = ctx.owner.watch_events();
    ws.read_buffer_size(WS_READ_BUFFER)
        .on_upgrade(move |socket| events::stream(socket, watch, ctx, permit))
}

/// The page's live view: recording lines from now on (`live.rs`), under the same access
/// rule as `/events`.
async fn live(
    State(ctx): State<Arc<Context>>,
    Watcher(permit): Watcher,
    ws: WebSocketUpgrade,
) -> Response {
    let Ok((header, present, lines)) = ctx.owner.watch_live().await else {
        return (StatusCode::SERVICE_UNAVAILABLE, "stopping\n").into_response();
    };
    ws.read_buffer_size(WS_READ_BUFFER)
        .on_upgrade(move |socket| live::stream(socket, header, present, lines, ctx, permit))
}

/// The `--record` file as recorded so far, under the same access rule as `/events`: what
/// the page's "export trace" saves while attached.
async fn recording(State(ctx): State<Arc<Context>>, _watcher: Watcher) -> Response {
    let (path, len) = match ctx.owner.recording().await {
        Ok(Some(recorded)) => recorded,
        Ok(None) => {
            return (
                StatusCode::NOT_FOUND,
                "this server is not recording: start it with --record FILE to export a \
                 session that brokerlab replay reproduces\n",
            )
                .into_response()
        }
        Err(_) => return (StatusCode::SERVICE_UNAVAILABLE, "stopping\n").into_response(),
    };
    // Streamed, not read into memory: --record-limit may be large. Only the bytes
    // recorded until the request are sent, so the download ends with a whole line even
    // while the server goes on recording.
    match tokio::fs::File::open(&path).await {
        Ok(file) => (
            [
                (header::CONTENT_TYPE, "application/x-ndjson".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"brokerlab-recording.jsonl\"".to_owned(),
                ),
                // Known in advance, so the download is not chunked and shows its progress.
                (header::CONTENT_LENGTH, len.to_string()),
            ],
            Body::from_stream(ReaderStream::new(file.take(len))),
        )
            .into_response(),
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read the recording {}: {err}\n", path.display()),
        )
            .into_response(),
    }
}

/// A client allowed to watch what the broker does (`/events`, `/live`, `/recording`):
/// `events_access.rs` let it, and it holds a connection place. Extracting it answers the
/// others: 403 (counted, the first logged), or the listener's refusal.
struct Watcher(tokio::sync::OwnedSemaphorePermit);

impl FromRequestParts<Arc<Context>> for Watcher {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, ctx: &Arc<Context>) -> Result<Self, Response> {
        let Some(ConnectInfo(addr)) = parts.extensions.get::<ConnectInfo<SocketAddr>>().copied()
        else {
            return Err(StatusCode::INTERNAL_SERVER_ERROR.into_response());
        };
        let authorization = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok());
        let offered = events_access::offered(parts.uri.query(), authorization);
        if let Err(denied) = ctx.may_watch(addr, offered) {
            return Err((StatusCode::FORBIDDEN, format!("{}\n", denied.explain())).into_response());
        }
        ctx.admit(addr).map(Watcher).map_err(refusal)
    }
}

/// The answer to a handshake the listener's limits turned away.
fn refusal(refused: Refused) -> Response {
    match refused {
        Refused::MaxConnections => {
            (StatusCode::SERVICE_UNAVAILABLE, "too many connections\n").into_response()
        }
        Refused::ConnectRate => (
            StatusCode::TOO_MANY_REQUESTS,
            "too many connections from this address this second\n",
        )
            .into_response(),
    }
}
