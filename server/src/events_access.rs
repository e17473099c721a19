//! Who may watch `/events`. The stream carries every packet's bytes, payloads included, so
//! without `--events-token` only clients on the loopback interface may watch it; with a
//! token, only clients that present it, from any address: as `token=` in the URL's query
//! (all a browser's WebSocket can send) or as `Authorization: Bearer <token>`.

use std::net::IpAddr;

/// Why a would-be watcher is turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    /// No token is set, and the client is not on the loopback interface.
    NotLoopback,
    /// A token is set, and the client did not present it.
    WrongToken,
}

impl Denied {
    /// The sentence the client and the log get.
    pub fn explain(self) -> &'static str {
        match self {
            Denied::NotLoopback => {
                "/events shows every message: it is served to loopback clients only, unless \
                 the server is started with --events-token"
            }
            Denied::WrongToken => {
                "/events needs the token the server was started with (--events-token), as \
                 ?token= or Authorization: Bearer"
            }
        }
    }
}

/// Whether a client at `peer` offering `offered` may watch, when the server's token is
/// `token`.
pub fn check(peer: IpAddr, token: Option<&str>, offered: Option<&str>) -> Result<(), Denied> {
    match token {
        None if peer.to_canonical().is_loopback() => Ok(()),
        None => Err(Denied::NotLoopback),
        Some(token) if offered.is_some_and(|o| same(o.as_bytes(), token.as_bytes())) => Ok(()),
        Some(_) => Err(Denied::WrongToken),
    }
}

/// The token a request offers: `token=` in its query, else an `Authorization: Bearer`
/// header.
pub fn offered<'a>(query: Option<&'a str>, authorization: Option<&'a str>) -> Option<&'a str> {
    let from_query = query.and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("token=")));
    from_query.or_else(|| authorization.and_then(|a| a.strip_prefix("Bearer ")))
}

/// Compares in time that depends on the lengths only, so that the comparison does not
/// tell a guesser how much of a token was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn without_a_token_only_loopback_clients_may_watch() {
        for peer in ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(check(ip(peer), None, None), Ok(()), "{peer}");
        }
        for peer in [
            "192.168.1.20",
            "10.0.0.1",
            "::ffff:192.0.2.1",
            "2001:db8::1",
            "0.0.0.0",
        ] {
            assert_eq!(
                check(ip(peer), None, None),
                Err(Denied::NotLoopback),
                "{peer}"
            );
        }
    }

    #[test]
    fn with_a_token_only_clients_presenting_it_may_watch_from_anywhere() {
        let token = Some("s3cret");
        assert_eq!(check(ip("192.168.1.20"), token, Some("s3cret")), Ok(()));
        assert_eq!(check(ip("127.0.0.1"), token, Some("s3cret")), Ok(()));
        for offered in [
            None,
            Some(""),
            Some("s3cre"),
            Some("s3cret!"),
            Some("S3cret"),
        ] {
            assert_eq!(
                check(ip("127.0.0.1"), token, offered),
                Err(Denied::WrongToken)
            );
        }
    }

    #[test]
    fn the_token_comes_from_the_query_or_a_bearer_header() {
        assert_eq!(offered(Some("a=1&token=t0k"), None), Some("t0k"));
        assert_eq!(offered(None, Some("Bearer t0k")), Some("t0k"));
        assert_eq!(offered(Some("token=q"), Some("Bearer h")), Some("q"));
        assert_eq!(offered(Some("tokens=x"), Some("Basic abc")), None);
    }
}
