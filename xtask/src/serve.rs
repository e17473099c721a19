//! `cargo xtask run` and `cargo xtask dist`: the release build of the server, and running
//! it the way the README says.

use std::process::Command;

use anyhow::{Context, Result};

use crate::steps::{self, Outcome, Step};
use crate::{process, web, workspace};

/// Builds everything a release needs: the web bundle, then the server.
pub fn dist() -> Result<()> {
    steps::run_all("xtask dist", build_steps())
}

/// Builds as `dist` does, then runs `brokerlab serve` with `args` (none: the defaults,
/// the aws-iot profile on ports 8080 and 1883), keeping its state in `target/data`
/// unless `args` name another data dir.
pub fn run(args: &[String]) -> Result<()> {
    steps::run_all("xtask run (build)", build_steps())?;
    let target = workspace::target_dir()?;
    let binary = target.join("release").join("brokerlab");
    let mut args = args.to_vec();
    let named = args
        .iter()
        .any(|a| a == "--data-dir" || a.starts_with("--data-dir="));
    let in_config = args
        .iter()
        .any(|a| a == "--config" || a.starts_with("--config="));
    if !named && !in_config {
        args.push("--data-dir".into());
        args.push(target.join("data").display().to_string());
    }
    let mut serve = Command::new(&binary);
    serve.arg("serve").args(&args);
    println!("\n$ {} serve {}", binary.display(), args.join(" "));
    exec(serve)
}

fn build_steps() -> Vec<Step> {
    vec![
        Step::new("web bundle (cargo xtask web)", || {
            web::build().map(|_| Outcome::Done)
        }),
        Step::new(
            "release build of the server with the bundle embedded \
             (BROKERLAB_WEB_DIST=target/web-dist cargo build --release -p brokerlab)",
            || {
                process::run(
                    workspace::cargo()
                        .args(["build", "--release", "-p", "brokerlab"])
                        .env("BROKERLAB_WEB_DIST", web::dist_dir()?),
                )?;
                Ok(Outcome::Done)
            },
        ),
    ]
}

/// Replaces this process with the server, so that Ctrl-C and SIGTERM reach it directly
/// and it shuts down cleanly, and its exit status is ours.
fn exec(mut command: Command) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let err = command.exec();
    Err(err).context("cannot start the server")
}
