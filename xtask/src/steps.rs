//! A command made of steps that run in order, each announced by a heading, stopping at the
//! first failure and ending with one summary line. New steps (browser tests, tests against
//! the server and mosquitto, a server-versus-mosquitto benchmark) are one more entry in a list.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// What a step that did not fail amounted to.
pub enum Outcome {
    /// The step ran and succeeded.
    Done,
    /// The step could not run on this machine; the reason is shown to the user.
    Skipped(String),
}

/// One announced unit of work: a title for its heading and the work itself.
pub struct Step {
    title: String,
    action: Box<dyn FnOnce() -> Result<Outcome>>,
}

impl Step {
    pub fn new(
        title: impl Into<String>,
        action: impl FnOnce() -> Result<Outcome> + 'static,
    ) -> Self {
        Self {
            title: title.into(),
            action: Box::new(action),
        }
    }
}

/// Runs `steps` in order. On success it prints a summary line; on failure it returns an error
/// naming the failed step, which `main` prints as the last line.
pub fn run_all(command: &str, steps: Vec<Step>) -> Result<()> {
    let started = Instant::now();
    let total = steps.len();
    let mut skipped = Vec::new();
    for (index, step) in steps.into_iter().enumerate() {
        let number = index + 1;
        println!("\n==> [{number}/{total}] {}", step.title);
        let step_started = Instant::now();
        let outcome = (step.action)().with_context(|| {
            format!(
                "{command}: FAILED at step {number}/{total} ({}) after {}",
                step.title,
                human(started.elapsed())
            )
        })?;
        match outcome {
            Outcome::Done => println!("--> done in {}", human(step_started.elapsed())),
            Outcome::Skipped(reason) => {
                println!("--> skipped: {reason}");
                skipped.push(step.title);
            }
        }
    }
    let passed = total - skipped.len();
    let skipped = if skipped.is_empty() {
        String::new()
    } else {
        format!(", skipped: {}", skipped.join("; "))
    };
    println!(
        "\n{command}: OK, {passed} of {total} steps passed{skipped} ({})",
        human(started.elapsed())
    );
    Ok(())
}

/// Formats a duration as `4.2s` or `3m07s`, precise enough to compare runs.
pub fn human(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds < 60.0 {
        format!("{seconds:.1}s")
    } else {
        let whole = duration.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}
