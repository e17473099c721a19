//! The server under test, as a child process.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::TIMEOUT;

/// A running `brokerlab serve`, killed when dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    log: Arc<Log>,
    /// The HTTP listener's address (`/mqtt`, `/metrics`, ...).
    pub http: SocketAddr,
    /// The MQTT over TCP listener's address.
    pub mqtt: SocketAddr,
    /// The MQTT over TLS listener's address, when `--mqtts` was given.
    pub mqtts: Option<SocketAddr>,
}

/// The server's standard error, line by line, as it arrives.
#[derive(Debug, Default)]
struct Log {
    lines: Mutex<Vec<String>>,
    /// Set when the server's standard error closes, which means it exited.
    ended: Mutex<bool>,
    changed: Notify,
}

impl Log {
    fn lines(&self) -> MutexGuard<'_, Vec<String>> {
        self.lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn ended(&self) -> bool {
        *self
            .ended
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Server {
    /// Starts `binary serve` on ephemeral loopback ports with a fixed seed, plus `args`
    /// (for example `["--profile", "mqtt-3.1.1"]`), and waits for its `listening` line.
    pub async fn start(binary: &str, args: &[&str]) -> Result<Server> {
        let mut command = Command::new(binary);
        command
            .args(["serve", "--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if !args.contains(&"--seed") {
            command.args(["--seed", "1"]);
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {binary}"))?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| anyhow!("no stderr pipe"))?;
        let log = Arc::new(Log::default());
        let writer = log.clone();
        // A plain thread, so that reading never depends on which runtime a test uses.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                // Shown with the test's own output when it fails.
                eprintln!("[brokerlab] {line}");
                writer.lines().push(line);
                writer.changed.notify_waiters();
            }
            *writer
                .ended
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = true;
            writer.changed.notify_waiters();
        });
        let mut server = Server {
            child,
            log,
            http: SocketAddr::from(([0, 0, 0, 0], 0)),
            mqtt: SocketAddr::from(([0, 0, 0, 0], 0)),
            mqtts: None,
        };
        let line = server
            .wait_for_log(|line| line.contains(" listening "))
            .await?;
        server.http = address(&line, "http")?;
        server.mqtt = address(&line, "mqtt")?;
        server.mqtts = address(&line, "mqtts").ok();
        Ok(server)
    }

    /// Waits until a line of the log satisfies `matches`, and returns it. Lines logged
    /// before the call count too.
    pub async fn wait_for_log(&self, matches: impl Fn(&str) -> bool) -> Result<String> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let changed = self.log.changed.notified();
            tokio::pin!(changed);
            // Registering before looking means a line logged in between is not missed.
            changed.as_mut().enable();
            if let Some(line) = self.log.lines().iter().find(|line| matches(line)) {
                return Ok(line.clone());
            }
            if self.log.ended() {
                bail!("the server exited without logging the line waited for");
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                bail!("no matching log line within {TIMEOUT:?}");
            }
        }
    }

    /// Every line logged so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lines().clone()
    }

    /// Sends SIGTERM and waits for the server to exit.
    pub async fn terminate(mut self) -> Result<ExitStatus> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .context("cannot run kill")?;
        if !status.success() {
            bail!("kill -TERM failed: {status}");
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                bail!("the server did not exit within {TIMEOUT:?} of SIGTERM");
            }
            // Polling the exit status: a child process offers no async wait here.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A matcher for the server's per-connection log lines, for example
/// `connection_log("connected", "dev-1")` for `... connected conn=conn#1 client_id="dev-1" ...`.
pub fn connection_log<'a>(message: &'a str, client_id: &'a str) -> impl Fn(&str) -> bool + 'a {
    move |line: &str| {
        line.contains(&format!(": {message} "))
            && line.contains(&format!("client_id=\"{client_id}\""))
    }
}

/// The address after `key=` in the `listening` line.
fn address(line: &str, key: &str) -> Result<SocketAddr> {
    let prefix = format!("{key}=");
    let value = line
        .split_whitespace()
        .find_map(|field| field.strip_prefix(&prefix))
        .ok_or_else(|| anyhow!("no {key}= in `{line}`"))?;
    value
        .parse()
        .with_context(|| format!("bad {key} address in `{line}`"))
}

impl Server {
    /// Kills the server with SIGKILL, as a crash or `kill -9` would: it gets no chance to
    /// write or close anything. Returns once it has exited.
    pub fn kill(mut self) -> Result<ExitStatus> {
        self.child.kill().context("cannot kill the server")?;
        Ok(self.child.wait()?)
    }

    /// The server process's id, for reading its memory use from `/proc/<pid>/status`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}
