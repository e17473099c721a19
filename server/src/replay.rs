//! `brokerlab replay FILE`: a recording run through the engine again, every output
//! compared with the recorded one.

use std::process::ExitCode;

use broker_core::recording::{Recording, ReplayError, ENGINE};

use crate::cli::ReplayArgs;

pub fn run(args: &ReplayArgs) -> ExitCode {
    let text = match std::fs::read_to_string(&args.file) {
        Ok(text) => text,
        Err(err) => {
            eprintln!("error: cannot read {}: {err}", args.file.display());
            return ExitCode::from(2);
        }
    };
    let recording = match Recording::parse(&text) {
        Ok(recording) => recording,
        Err(err) => {
            eprintln!(
                "error: {} is not a recording brokerlab reads: {err}",
                args.file.display()
            );
            return ExitCode::from(2);
        }
    };
    match recording.replay() {
        Ok(done) => {
            println!(
                "identical: {} inputs replayed, {} outputs compared byte for byte, all equal ({} notes not compared)",
                done.inputs, done.outputs, done.notes
            );
            if let Some(why) = done.ended {
                println!("the recording ends early ({why}): what followed was not recorded");
            }
            ExitCode::SUCCESS
        }
        Err(err @ ReplayError::Differs { .. }) => {
            println!("different: {err}");
            let recorded_by = recording.header.engine.as_str();
            if recorded_by != ENGINE {
                println!(
                    "note: recorded by broker-core {}, replayed by {ENGINE}: the engine may have changed since",
                    if recorded_by.is_empty() { "(unknown)" } else { recorded_by }
                );
            }
            ExitCode::FAILURE
        }
        Err(err @ ReplayError::Malformed { .. }) => {
            eprintln!(
                "error: {} is not a recording brokerlab reads: {err}",
                args.file.display()
            );
            ExitCode::from(2)
        }
    }
}
