//! Mosquitto, the reference broker and clients that the server's tests and benchmark run
//! against, and the `openssl` command-line tool that the server's TLS tests make device
//! certificates with, installed from Debian's packages when missing (CI runs as root on
//! Debian 12).

use anyhow::Result;

use crate::apt::ensure;
use crate::steps::Outcome;

/// The programs the benchmark needs, each with the Debian package that ships it.
const MOSQUITTO: [(&str, &str); 3] = [
    ("mosquitto", "mosquitto"),
    ("mosquitto_pub", "mosquitto-clients"),
    ("mosquitto_sub", "mosquitto-clients"),
];

/// What the server's tests need besides: `server/tests/tls.rs` runs `openssl` to make X.509
/// v1 device certificates the way AWS's tutorial does, which no Rust crate writes.
const OPENSSL: (&str, &str) = ("openssl", "openssl");

/// Installs Mosquitto's broker and clients with apt-get unless all are on the PATH.
pub fn ensure_installed() -> Result<Outcome> {
    ensure(&MOSQUITTO)
}

/// Installs Mosquitto's broker and clients and `openssl` with apt-get unless all are on
/// the PATH.
pub fn ensure_installed_for_tests() -> Result<Outcome> {
    let mut programs = MOSQUITTO.to_vec();
    programs.push(OPENSSL);
    ensure(&programs)
}
