//! The three brokers the server benchmark compares, started on free loopback ports and
//! pinned to a core, each with its own defaults: brokerlab's release build, Mosquitto 2
//! from Debian, and the `mqtt5` crate's broker (`mqttv5`).

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// How long a broker may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Brokerlab,
    Mosquitto,
    Mqttv5,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Brokerlab, Kind::Mosquitto, Kind::Mqttv5];
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Brokerlab => "brokerlab",
            Kind::Mosquitto => "mosquitto",
            Kind::Mqttv5 => "mqttv5",
        })
    }
}

/// What a broker needs to start: where its program and scratch folder are, and the CPU
/// to pin it to.
#[derive(Clone, Debug)]
pub struct Programs {
    pub brokerlab: std::path::PathBuf,
    pub mqttv5: std::path::PathBuf,
    pub dir: std::path::PathBuf,
    pub pin: Option<&'static str>,
}

/// A running broker, killed when dropped.
pub struct Broker {
    pub kind: Kind,
    child: Child,
    /// MQTT over TCP.
    pub mqtt: SocketAddr,
    /// MQTT over WebSocket, as a `ws://` URL.
    pub ws_url: String,
}

/// How the benchmarks run brokerlab: the standard profile (the aws-iot profile's quotas,
/// 100 publishes per second per connection among them, would be measured instead of the
/// server), with room for the idle-connection and soak clients.
pub const BROKERLAB_ARGS: [&str; 4] = ["--profile", "mqtt", "--max-connections", "20000"];

impl Broker {
    /// Starts a broker of `kind`.
    pub fn start(kind: Kind, programs: &Programs) -> Result<Broker> {
        match kind {
            Kind::Brokerlab => Broker::brokerlab(&programs.brokerlab, programs.pin),
            Kind::Mosquitto => Broker::mosquitto(&programs.dir, programs.pin),
            Kind::Mqttv5 => Broker::mqttv5(&programs.mqttv5, programs.pin),
        }
    }

    /// Starts brokerlab's `binary` with `BROKERLAB_ARGS` and its defaults.
    pub fn brokerlab(binary: &Path, pin: Option<&str>) -> Result<Broker> {
        Broker::brokerlab_with(binary, pin, &BROKERLAB_ARGS)
    }

    /// Starts brokerlab's `binary` on free loopback ports with `args` added to `serve`.
    pub fn brokerlab_with(binary: &Path, pin: Option<&str>, args: &[&str]) -> Result<Broker> {
        let mut command = pinned(pin, binary);
        command
            .arg("serve")
            .args(["--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().context("cannot start brokerlab")?;
        let stderr = child.stderr.take().ok_or_else(|| anyhow!("no stderr"))?;
        let (found, listening) = mpsc::channel();
        // Reads the log until the broker exits, so it never blocks on a full pipe.
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.contains(" listening ") {
                    let _ = found.send(line);
                }
            }
        });
        let line = listening
            .recv_timeout(START_TIMEOUT)
            .context("brokerlab did not report its addresses")?;
        let field = |key: &str| -> Result<SocketAddr> {
            let prefix = format!("{key}=");
            line.split_whitespace()
                .find_map(|field| field.strip_prefix(&prefix))
                .ok_or_else(|| anyhow!("no {key}= in `{line}`"))?
                .parse()
                .with_context(|| format!("bad {key} address in `{line}`"))
        };
        let http = field("http")?;
        Ok(Broker {
            kind: Kind::Brokerlab,
            mqtt: field("mqtt")?,
            ws_url: format!("ws://{http}/mqtt"),
            child,
        })
    }

    /// Starts Mosquitto with a generated configuration in `dir`.
    pub fn mosquitto(dir: &Path, pin: Option<&str>) -> Result<Broker> {
        Broker::mosquitto_with(dir, pin, "")
    }

    /// Starts Mosquitto with a generated configuration in `dir` that ends with `settings`
    /// (lines of `mosquitto.conf` that apply to every listener).
    pub fn mosquitto_with(dir: &Path, pin: Option<&str>, settings: &str) -> Result<Broker> {
        let mqtt = free_port()?;
        let ws = free_port()?;
        let config = dir.join("mosquitto.conf");
        std::fs::write(
            &config,
            format!(
                "per_listener_settings false\n\
                 listener {mqtt} 127.0.0.1\n\
                 listener {ws} 127.0.0.1\n\
                 protocol websockets\n\
                 allow_anonymous true\n\
                 persistence false\n\
                 log_type none\n\
                 {settings}"
            ),
        )
        .with_context(|| format!("cannot write {}", config.display()))?;
        let child = pinned(pin, Path::new("mosquitto"))
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start mosquitto")?;
        Broker::listening(Kind::Mosquitto, child, mqtt, ws)
    }

    /// Starts the `mqtt5` crate's broker: in memory, no `$SYS` topics, anonymous.
    pub fn mqttv5(program: &Path, pin: Option<&str>) -> Result<Broker> {
        let mqtt = free_port()?;
        let ws = free_port()?;
        let child = pinned(pin, program)
            .arg("broker")
            .args(["--host", &format!("127.0.0.1:{mqtt}")])
            .args(["--ws-host", &format!("127.0.0.1:{ws}")])
            .args(["--allow-anonymous", "true", "--storage-backend", "memory"])
            .args(["--no-persistence", "--no-sys-topics", "--non-interactive"])
            .args(["--max-clients", "20000"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start mqttv5")?;
        Broker::listening(Kind::Mqttv5, child, mqtt, ws)
    }

    /// The broker `child` once it accepts connections on the loopback ports `mqtt` (TCP)
    /// and `ws` (WebSocket at `/mqtt`); killed if it does not in time.
    fn listening(kind: Kind, child: Child, mqtt: u16, ws: u16) -> Result<Broker> {
        let mqtt = SocketAddr::from(([127, 0, 0, 1], mqtt));
        let broker = Broker {
            kind,
            mqtt,
            ws_url: format!("ws://127.0.0.1:{ws}/mqtt"),
            child,
        };
        wait_until_listening(mqtt)?;
        wait_until_listening(SocketAddr::from(([127, 0, 0, 1], ws)))?;
        Ok(broker)
    }

    /// The broker's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The broker's resident memory, in KiB, from `/proc`.
    pub fn resident_kib(&self) -> Result<u64> {
        self.status_kib("VmRSS:")
    }

    /// The most resident memory the broker has had since it started, in KiB.
    pub fn peak_resident_kib(&self) -> Result<u64> {
        self.status_kib("VmHWM:")
    }

    fn status_kib(&self, key: &str) -> Result<u64> {
        let mut status = String::new();
        std::fs::File::open(format!("/proc/{}/status", self.child.id()))?
            .read_to_string(&mut status)?;
        status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| anyhow!("no {key} for {}", self.kind))
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `program` under `taskset -c <cpus>` when pinning, else as it is.
pub fn pinned(pin: Option<&str>, program: &Path) -> Command {
    match pin {
        Some(cpus) => {
            let mut command = Command::new("taskset");
            command.args(["-c", cpus]).arg(program);
            command
        }
        None => Command::new(program),
    }
}

/// A port nobody listens on now. Another process could take it before the broker binds
/// it; on a quiet machine that does not happen, and if it did, start-up would fail loudly.
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_until_listening(addr: SocketAddr) -> Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    while TcpStream::connect(addr).is_err() {
        if Instant::now() >= deadline {
            bail!("nothing listens on {addr} after {START_TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}
