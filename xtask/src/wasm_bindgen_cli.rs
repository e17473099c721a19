//! The `wasm-bindgen` command (and its test runner), at exactly the version of the
//! `wasm-bindgen` crate in the lock file: the two share a data format that changes between
//! versions, so any other version fails. A matching command already on the PATH is used;
//! otherwise it is installed from crates.io into `target/tools/` (about five minutes, once).

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{anyhow, Context, Result};

use crate::{process, workspace};

/// Where the two commands are, at the version the lock file names.
pub struct WasmBindgen {
    pub version: String,
    dir: Option<PathBuf>,
}

impl WasmBindgen {
    /// Finds or installs the commands.
    pub fn ensure() -> Result<Self> {
        let version = locked_version()?;
        let on_path = Self {
            version: version.clone(),
            dir: None,
        };
        if on_path.matches() {
            println!("wasm-bindgen: {version} on the PATH");
            return Ok(on_path);
        }
        let root = workspace::target_dir()?.join("tools");
        let private = Self {
            version: version.clone(),
            dir: Some(root.join("bin")),
        };
        if private.matches() {
            println!("wasm-bindgen: {version} in {}", root.display());
            return Ok(private);
        }
        println!(
            "wasm-bindgen: installing wasm-bindgen-cli {version} into {}",
            root.display()
        );
        // No `--locked`: the registry lacks one version that the CLI's own lock file names,
        // and an exact version pin is what matters here.
        process::run(
            workspace::cargo()
                .args(["install", "wasm-bindgen-cli", "--version"])
                .arg(format!("={version}"))
                .arg("--root")
                .arg(&root),
        )
        .context("cannot install wasm-bindgen-cli")?;
        if !private.matches() {
            return Err(anyhow!(
                "the installed wasm-bindgen does not report version {version}"
            ));
        }
        Ok(private)
    }

    /// `wasm-bindgen`.
    pub fn bindgen(&self) -> Command {
        Command::new(self.program("wasm-bindgen"))
    }

    /// The test runner cargo uses for `wasm32-unknown-unknown` tests.
    pub fn test_runner(&self) -> PathBuf {
        self.program("wasm-bindgen-test-runner")
    }

    fn program(&self, name: &str) -> PathBuf {
        match &self.dir {
            Some(dir) => dir.join(name),
            None => PathBuf::from(name),
        }
    }

    fn matches(&self) -> bool {
        let reported = process::capture(self.bindgen().arg("--version"));
        let runner = self.test_runner();
        let runner_found = self.dir.is_none() || runner.is_file();
        matches!(reported, Ok(text) if text.split_whitespace().nth(1) == Some(&self.version))
            && runner_found
    }
}

/// The version of the `wasm-bindgen` crate that `Cargo.lock` pins.
fn locked_version() -> Result<String> {
    let path = workspace::root().join("Cargo.lock");
    let lock =
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wasm-bindgen\"" {
            let version = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = \""))
                .and_then(|v| v.strip_suffix('"'));
            if let Some(version) = version {
                return Ok(version.to_owned());
            }
        }
    }
    Err(anyhow!("Cargo.lock has no wasm-bindgen package"))
}
