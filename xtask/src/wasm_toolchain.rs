//! Choosing a compiler that can build for `wasm32-unknown-unknown`, for every command that
//! builds for the browser. The usual rustup target comes first; where rustup cannot fetch it
//! (its download server is out of reach on the project's build machines), Debian's
//! `rustc-web` packages are provisioned into `target/` instead.

mod debian;

use std::fmt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::Result;

use crate::{process, workspace};

pub const TARGET: &str = "wasm32-unknown-unknown";

/// How long `rustup target add` may try before we conclude it is offline. A real download
/// of the target's standard library takes seconds; an unreachable server can hang for minutes.
const RUSTUP_ADD_TIMEOUT: Duration = Duration::from_secs(60);

pub enum WasmToolchain {
    /// The active rustup toolchain has the target's prebuilt standard library.
    Rustup,
    /// Debian's `rustc-web`, which builds the standard library from source.
    Debian(debian::Toolchain),
}

impl WasmToolchain {
    /// Finds or provisions a toolchain, printing which one is used and why.
    pub fn select() -> Result<Self> {
        let installed =
            process::capture(Command::new("rustup").args(["target", "list", "--installed"]));
        match &installed {
            Ok(targets) if targets.lines().any(|line| line.trim() == TARGET) => {
                println!("wasm toolchain: rustup, {TARGET} is installed");
                return Ok(Self::Rustup);
            }
            Ok(_) => println!("wasm toolchain: rustup does not have {TARGET}"),
            Err(err) => println!("wasm toolchain: rustup is not usable: {err:#}"),
        }
        // A fallback provisioned by an earlier run is reused before asking rustup again, so
        // that offline machines do not wait for its download to fail on every run.
        if let Some(toolchain) = debian::Toolchain::cached()? {
            return Ok(Self::Debian(toolchain));
        }
        if installed.is_ok() && rustup_add_target() {
            return Ok(Self::Rustup);
        }
        println!("wasm toolchain: falling back to Debian's rustc-web");
        Ok(Self::Debian(debian::Toolchain::provision()?))
    }

    /// A `cargo <subcommand>` for the wasm target, run from the workspace root; the caller
    /// adds the packages and profile.
    pub fn cargo(&self, subcommand: &str) -> Command {
        let mut cmd = workspace::cargo();
        cmd.args([subcommand, "--target", TARGET]);
        if let Self::Debian(toolchain) = self {
            toolchain.configure(&mut cmd);
        }
        cmd
    }
}

impl WasmToolchain {
    /// Where this toolchain's builds put their output: the workspace's target folder for
    /// rustup, a separate one for Debian's compiler (whose artefacts must not mix).
    pub fn target_dir(&self) -> Result<PathBuf> {
        match self {
            Self::Rustup => workspace::target_dir(),
            Self::Debian(_) => debian::target_dir(),
        }
    }
}

/// Tries the usual way of installing the target, and says whether it worked.
fn rustup_add_target() -> bool {
    let mut add = Command::new("rustup");
    // Rustup's backtraces would bury the one line that says why it failed.
    add.args(["target", "add", TARGET])
        .env_remove("RUST_BACKTRACE");
    println!("$ rustup target add {TARGET}");
    match process::run_quietly_with_timeout(&mut add, RUSTUP_ADD_TIMEOUT) {
        Ok(()) => {
            println!("wasm toolchain: rustup, {TARGET} added");
            true
        }
        Err(err) => {
            println!("wasm toolchain: rustup cannot add {TARGET}: {err:#}");
            false
        }
    }
}

impl fmt::Display for WasmToolchain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rustup => f.write_str("rustup toolchain"),
            Self::Debian(toolchain) => write!(f, "{toolchain}"),
        }
    }
}
