//! Log checks: the server's one `disconnected` line per connection, found by the peer
//! address the server logs (the client socket's local address).

use anyhow::{bail, Context, Result};

use crate::server::Server;

/// The server's `disconnected` lines for the connection from `peer`.
pub fn disconnected_lines(server: &Server, peer: &str) -> Vec<String> {
    let field = peer_field(peer);
    server
        .log()
        .into_iter()
        .filter(|line| is_disconnected(line, &field))
        .collect()
}

/// Waits for the `disconnected` line of the connection from `peer`.
pub async fn wait_for_disconnected(server: &Server, peer: &str) -> Result<String> {
    let field = peer_field(peer);
    server
        .wait_for_log(|line| is_disconnected(line, &field))
        .await
        .with_context(|| format!("no `disconnected` line for {peer}"))
}

/// Checks that the connection from `peer` was logged as disconnected exactly once.
pub fn expect_one_disconnected(server: &Server, peer: &str) -> Result<String> {
    let lines = disconnected_lines(server, peer);
    match lines.as_slice() {
        [line] => Ok(line.clone()),
        _ => bail!(
            "{} `disconnected` lines for {peer}: {lines:#?}",
            lines.len()
        ),
    }
}

/// Whether `line` names `peer` (so that port 4000 does not match port 40001).
pub fn mentions(line: &str, peer: &str) -> bool {
    line.match_indices(peer)
        .any(|(at, _)| !line[at + peer.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

/// The field that names `peer` in a log line; quoted, so that port 4000 does not match
/// port 40001.
fn peer_field(peer: &str) -> String {
    format!("peer=\"{peer}\"")
}

/// Whether `line` is a `disconnected` line with `field` (from [`peer_field`]).
fn is_disconnected(line: &str, field: &str) -> bool {
    line.contains(": disconnected ") && line.contains(field)
}
