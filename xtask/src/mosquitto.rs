//! Mosquitto, the reference broker and clients that the server's tests and benchmark run
//! against, installed from Debian's packages when missing (CI runs as root on Debian 12).

use std::process::Command;

use anyhow::{bail, Result};

use crate::process;
use crate::steps::Outcome;

/// The programs needed, and the Debian packages that ship them.
const PROGRAMS: [&str; 3] = ["mosquitto", "mosquitto_pub", "mosquitto_sub"];
const PACKAGES: [&str; 2] = ["mosquitto", "mosquitto-clients"];

/// Installs Mosquitto's broker and clients with apt-get unless all are on the PATH.
pub fn ensure_installed() -> Result<Outcome> {
    let missing: Vec<&str> = PROGRAMS
        .into_iter()
        .filter(|program| !on_path(program))
        .collect();
    if missing.is_empty() {
        println!("mosquitto: {} are installed", PROGRAMS.join(", "));
        return Ok(Outcome::Done);
    }
    println!("mosquitto: missing {}", missing.join(", "));
    if !on_path("apt-get") {
        bail!(
            "{} missing and apt-get is not available: install Mosquitto's broker and clients",
            missing.join(", ")
        );
    }
    process::run(Command::new("apt-get").arg("update"))?;
    process::run(
        Command::new("apt-get")
            .args(["install", "-y"])
            .args(PACKAGES),
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
