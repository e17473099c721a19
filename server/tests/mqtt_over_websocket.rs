//! MQTT over WebSocket at `/mqtt`: rumqttc over WebSocket, and a raw WebSocket client for
//! what rumqttc never does (packets split across frames, several packets in one frame,
//! a text frame).

use anyhow::{bail, Context, Result};
use brokerlab_tests::mqtt::{options, Client, Via};
use brokerlab_tests::server::Server;
use brokerlab_tests::TIMEOUT;
use futures_util::{SinkExt, StreamExt};
use rumqttc::QoS;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const BIN: &str = env!("CARGO_BIN_EXE_brokerlab");

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// CONNECT: protocol "MQTT" level 4, clean session, keep-alive 60 s, client id "w".
const CONNECT: [u8; 15] = [
    0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 1, b'w',
];
const CONNACK: [u8; 4] = [0x20, 2, 0, 0];

#[tokio::test]
async fn qos0_and_qos1_over_websocket() -> Result<()> {
    let server = Server::start(BIN, &[]).await?;
    let ws = Via::WebSocket(server.http);
    let (mut sub, _) = Client::connect(options("ws-sub", &ws)).await?;
    sub.client.subscribe("ws/+", QoS::AtLeastOnce).await?;
    sub.expect_suback().await?;
    let (publisher, _) = Client::connect(options("ws-pub", &ws)).await?;
    publisher
        .client
        .publish("ws/0", QoS::AtMostOnce, false, "zero")
        .await?;
    publisher
        .client
        .publish("ws/1", QoS::AtLeastOnce, false, "one")
        .await?;
    let first = sub.expect_publish().await?;
    let second = sub.expect_publish().await?;
    assert_eq!(
        (first.qos, &first.payload[..]),
        (QoS::AtMostOnce, &b"zero"[..])
    );
    assert_eq!(
        (second.qos, &second.payload[..]),
        (QoS::AtLeastOnce, &b"one"[..])
    );
    Ok(())
}

#[tokio::test]
async fn websocket_and_tcp_clients_share_one_broker() -> Result<()> {
    let server = Server::start(BIN, &[]).await?;
    let (mut tcp, _) = Client::connect(options("tcp-sub", &Via::Tcp(server.mqtt))).await?;
    tcp.client.subscribe("mixed/t", QoS::AtLeastOnce).await?;
    tcp.expect_suback().await?;
    let (ws, _) = Client::connect(options("ws-pub", &Via::WebSocket(server.http))).await?;
    ws.client
        .publish("mixed/t", QoS::AtLeastOnce, false, "across")
        .await?;
    assert_eq!(&tcp.expect_publish().await?.payload[..], b"across");
    Ok(())
}

#[tokio::test]
async fn packets_may_span_frames_and_frames_may_hold_several_packets() -> Result<()> {
    let server = Server::start(BIN, &[]).await?;
    let mut socket = open(&server, "mqtt").await?;
    // CONNECT split across two frames.
    socket.send(Message::binary(CONNECT[..5].to_vec())).await?;
    socket.send(Message::binary(CONNECT[5..].to_vec())).await?;
    assert_eq!(read_bytes(&mut socket, CONNACK.len()).await?, CONNACK);

    // SUBSCRIBE (id 1, "a/b" at QoS 0) and a PUBLISH to it, in one frame.
    let subscribe = [0x82, 8, 0, 1, 0, 3, b'a', b'/', b'b', 0];
    let publish = [0x30, 7, 0, 3, b'a', b'/', b'b', b'h', b'i'];
    socket
        .send(Message::binary([&subscribe[..], &publish[..]].concat()))
        .await?;
    let suback = [0x90, 3, 0, 1, 0];
    let expected = [&suback[..], &publish[..]].concat();
    assert_eq!(read_bytes(&mut socket, expected.len()).await?, expected);
    Ok(())
}

#[tokio::test]
async fn a_text_frame_closes_the_connection() -> Result<()> {
    let server = Server::start(BIN, &[]).await?;
    let mut socket = open(&server, "mqtt").await?;
    socket.send(Message::binary(CONNECT.to_vec())).await?;
    assert_eq!(read_bytes(&mut socket, CONNACK.len()).await?, CONNACK);
    socket.send(Message::text("hello")).await?;
    let closed = tokio::time::timeout(TIMEOUT, async {
        while let Some(message) = socket.next().await {
            if let Message::Close(frame) = message? {
                return anyhow::Ok(frame);
            }
        }
        bail!("the stream ended without a close frame")
    })
    .await
    .context("no close frame in time")??;
    assert_eq!(closed.map(|frame| frame.code), Some(CloseCode::Unsupported));
    Ok(())
}

#[tokio::test]
async fn the_legacy_subprotocol_is_accepted() -> Result<()> {
    let server = Server::start(BIN, &[]).await?;
    let mut socket = open(&server, "mqttv3.1").await?;
    socket.send(Message::binary(CONNECT.to_vec())).await?;
    assert_eq!(read_bytes(&mut socket, CONNACK.len()).await?, CONNACK);
    Ok(())
}

/// Opens `/mqtt` offering `subprotocol`, and checks the server selected it.
async fn open(server: &Server, subprotocol: &str) -> Result<Socket> {
    let mut request = format!("ws://{}/mqtt", server.http).into_client_request()?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", subprotocol.parse()?);
    let (socket, response) = tokio_tungstenite::connect_async(request).await?;
    let selected = response
        .headers()
        .get("Sec-WebSocket-Protocol")
        .context("no subprotocol selected")?;
    assert_eq!(selected, subprotocol);
    Ok(socket)
}

/// Reads binary frames until `len` bytes have arrived, however they were framed.
async fn read_bytes(socket: &mut Socket, len: usize) -> Result<Vec<u8>> {
    tokio::time::timeout(TIMEOUT, async {
        let mut bytes = Vec::new();
        while bytes.len() < len {
            match socket.next().await {
                Some(Ok(Message::Binary(data))) => bytes.extend_from_slice(&data),
                Some(Ok(other)) => bail!("unexpected frame {other:?}"),
                Some(Err(err)) => return Err(err.into()),
                None => bail!("closed after {} of {len} bytes", bytes.len()),
            }
        }
        Ok(bytes)
    })
    .await
    .context("the bytes did not arrive in time")?
}
