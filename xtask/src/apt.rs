//! Programs that the tests and benchmarks run, installed from Debian's packages with
//! apt-get when they are missing (CI runs as root on Debian 12).

use std::process::Command;

use anyhow::{bail, Result};

use crate::process;
use crate::steps::Outcome;

/// Installs the packages of the `programs` (each a program and the Debian package that
/// ships it) that are not on the PATH.
pub fn ensure(programs: &[(&str, &str)]) -> Result<Outcome> {
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
    packages.sort_unstable();
    packages.dedup();
    // The package lists of a fresh machine may be missing or stale.
    process::run(Command::new("apt-get").arg("update"))?;
    process::run(
        Command::new("apt-get")
            .args(["install", "-y"])
            .args(packages),
    )?;
    Ok(Outcome::Done)
}

/// Whether `program` is found on the PATH, the way the shell's `command -v` finds it.
pub fn on_path(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null")])
        .status()
        .is_ok_and(|status| status.success())
}
