//! `cargo xtask`: the project's test, build-check and benchmark automation, written in Rust
//! so that it runs wherever cargo does, with no other tool to install first.

mod bench;
mod process;
mod steps;
mod test_suite;
mod wasm_check;
mod wasm_toolchain;
mod workspace;

use std::process::ExitCode;

use anyhow::{bail, Result};

const USAGE: &str = "\
Usage: cargo xtask <command> [arguments]

Commands:
  test              Run all of the project's tests: the format check (when rustfmt is
                    installed), `cargo test --workspace`, then `wasm-check`.
  wasm-check        Build broker-core for wasm32-unknown-unknown, with and without its
                    `serde` feature, provisioning a wasm toolchain first if needed.
  bench [args...]   Run the benchmarks; arguments go to criterion (for example a name
                    filter, or `--save-baseline main`).
  help              Show this text.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(args: &[String]) -> Result<()> {
    let Some((command, rest)) = args.split_first() else {
        print!("{USAGE}");
        return Ok(());
    };
    match command.as_str() {
        "test" => {
            expect_no_arguments(command, rest)?;
            test_suite::run()
        }
        "wasm-check" => {
            expect_no_arguments(command, rest)?;
            wasm_check::run()
        }
        "bench" => bench::run(rest),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

/// Rejects arguments that a command would otherwise silently ignore, so that a typo is not
/// mistaken for a successful run of something else.
fn expect_no_arguments(command: &str, rest: &[String]) -> Result<()> {
    if rest.is_empty() {
        Ok(())
    } else {
        bail!(
            "`{command}` takes no arguments, got `{}`\n\n{USAGE}",
            rest.join(" ")
        )
    }
}
