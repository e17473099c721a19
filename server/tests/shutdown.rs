//! SIGTERM: the server stops accepting, closes its connections, and exits with status 0.

use anyhow::Result;
use brokerlab_tests::mqtt::{options, Client, Via};
use brokerlab_tests::server::Server;

const BIN: &str = env!("CARGO_BIN_EXE_brokerlab");

#[tokio::test]
async fn sigterm_closes_connections_and_exits_zero() -> Result<()> {
    let server = Server::start(BIN, &[]).await?;
    let (mut tcp, _) = Client::connect(options("tcp", &Via::Tcp(server.mqtt))).await?;
    let (mut ws, _) = Client::connect(options("ws", &Via::WebSocket(server.http))).await?;

    let log_before = server.log();
    let status = server.terminate().await?;
    assert_eq!(status.code(), Some(0), "log: {log_before:#?}");
    tcp.expect_closed().await?;
    ws.expect_closed().await?;
    Ok(())
}
