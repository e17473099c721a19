//! Mosquitto, the reference broker and clients that the server's tests and benchmark run
//! against, and the `openssl` command-line tool that the server's TLS tests make device
//! certificates with, installed from Debian's packages when missing (CI runs as root on
//! Debian 12).

use std::process::Command;

use anyhow::{bail, Result};

use crate::process;
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

/// Installs the packages of the `programs` that are not on the PATH.
fn ensure(programs: &[(&str, &str)]) -> Result<Outcome> {
    let names: Vec<&str> = programs.iter().map(|(program, _)| *program).collect();
    let missing: Vec<(&str, &str)> = programs
        .iter()
        .copied()
        .filter(|(program, _)| !on_path(program))
        .collect();
    if missing.is_empty() {
        println!("{} are installed", names.join(", "));
        return Ok(Outcome::Done);
    }
    let missing_names: Vec<&str> = missing.iter().map(|(program, _)| *program).collect();
    println!("missing {}", missing_names.join(", "));
    if !on_path("apt-get") {
        bail!(
            "{} missing and apt-get is not available: install them",
            missing_names.join(", ")
        );
    }
    let mut packages: Vec<&str> = missing.iter().map(|(_, package)| *package).collect();
    packages.dedup();
    process::run(Command::new("apt-get").arg("update"))?;
    process::run(
        Command::new("apt-get")
            .args(["install", "-y"])
            .args(packages),
    )?;
    Ok(Outcome::Done)
}

/// Whether `program` is found on the PATH, the way the shell's `command -v` finds it.
fn on_path(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null")])
        .status()
        .is_ok_and(|status| status.success())
}
