//! Running child processes: echoing what runs, failing on an unsuccessful exit, capturing
//! output, and giving up on a process that takes too long.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Renders a command the way a user would type it, so that the echoed line can be copied.
/// The program is shortened to its file name because cargo hands us its full path.
fn display(cmd: &Command) -> String {
    let program = Path::new(cmd.get_program());
    let mut line = program
        .file_name()
        .unwrap_or(program.as_os_str())
        .to_string_lossy()
        .into_owned();
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// Runs `cmd` with the terminal as its input and output, after echoing it, and fails unless it
/// exits successfully.
pub fn run(cmd: &mut Command) -> Result<()> {
    let line = display(cmd);
    println!("$ {line}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{line}`"))?;
    check(&line, status, &[])
}

/// Runs `cmd` without echoing it and returns its standard output; fails unless it exits
/// successfully.
pub fn capture(cmd: &mut Command) -> Result<String> {
    let line = display(cmd);
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start `{line}`"))?;
    check(&line, output.status, &output.stderr)?;
    String::from_utf8(output.stdout).with_context(|| format!("`{line}` printed non-UTF-8 output"))
}

/// Runs `cmd` silently, kills it if it has not finished within `limit`, and fails unless it
/// exits successfully in time.
pub fn run_quietly_with_timeout(cmd: &mut Command, limit: Duration) -> Result<()> {
    let line = display(cmd);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start `{line}`"))?;
    // Reading standard error on its own thread keeps a chatty child from stalling on a full
    // pipe while this thread waits for it.
    let stderr = drain(&mut child);
    let status = wait_with_timeout(&mut child, &line, limit)?;
    let stderr = stderr.join().unwrap_or_default();
    check(&line, status, &stderr)
}

/// Runs `cmd` after echoing it, with its standard output and error written to the file
/// `log`, and returns how it exited, or `None` if it was killed because the log did not
/// grow for `stall`. For a test runner whose report is read afterwards, and that may wait
/// forever for something that never comes.
pub fn run_logged_until_stalled(
    cmd: &mut Command,
    log: &Path,
    stall: Duration,
) -> Result<Option<ExitStatus>> {
    let line = display(cmd);
    println!("$ {line} > {}", log.display());
    let file =
        std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .with_context(|| format!("cannot start `{line}`"))?;
    let (mut size, mut grew) = (0, Instant::now());
    loop {
        if let Some(status) = child
            .try_wait()
            .with_context(|| format!("cannot wait for `{line}`"))?
        {
            return Ok(Some(status));
        }
        let now = std::fs::metadata(log).map_or(size, |m| m.len());
        if now != size {
            (size, grew) = (now, Instant::now());
        } else if grew.elapsed() >= stall {
            child
                .kill()
                .and_then(|()| child.wait())
                .with_context(|| format!("cannot stop `{line}`"))?;
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// Waits for `child` (started as `line`) to exit; kills it and fails after `limit`.
fn wait_with_timeout(child: &mut Child, line: &str, limit: Duration) -> Result<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child
            .try_wait()
            .with_context(|| format!("cannot wait for `{line}`"))?
        {
            return Ok(status);
        }
        if Instant::now() >= deadline {
            child
                .kill()
                .and_then(|()| child.wait())
                .with_context(|| format!("cannot stop `{line}`"))?;
            bail!("`{line}` did not finish within {}s", limit.as_secs());
        }
        thread::sleep(Duration::from_millis(100));
    }
}

fn drain(child: &mut Child) -> JoinHandle<Vec<u8>> {
    let pipe = child.stderr.take();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            // A read error only shortens the diagnostic text, so it is not worth failing for.
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

fn check(line: &str, status: ExitStatus, stderr: &[u8]) -> Result<()> {
    if status.success() {
        return Ok(());
    }
    match diagnosis(stderr) {
        Some(reason) => bail!("`{line}` failed ({status}): {reason}"),
        None => bail!("`{line}` failed ({status})"),
    }
}

/// Picks the one line of a failed command's standard error that best says why: the first
/// line that reports an error (tools often add backtraces and hints after it), else the last.
fn diagnosis(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    let mut lines = text.lines().map(str::trim).filter(|line| !line.is_empty());
    let is_error = |line: &&str| line.starts_with("error") || line.starts_with("E:");
    lines
        .clone()
        .find(is_error)
        .or_else(|| lines.next_back())
        .map(str::to_owned)
}
