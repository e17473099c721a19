//! The command line: `brokerlab serve` and its options, with the help text users read.

use std::net::SocketAddr;
use std::path::PathBuf;

use broker_core::Profile;
use clap::{Args, Parser, Subcommand};

/// brokerlab: an MQTT broker that reproduces AWS IoT Core's message broker or the MQTT
/// 3.1.1 standard, with a live view of every packet.
#[derive(Debug, Parser)]
#[command(name = "brokerlab", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// The arguments are parsed once; boxing the larger variant would save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the broker: MQTT over TCP, TLS and WebSocket, plus HTTP for metrics and events.
    ///
    /// Logs go to standard error; set RUST_LOG (for example `RUST_LOG=debug`) to change
    /// how much is logged. Once every listener is bound, one line reports the addresses,
    /// for example `listening http=127.0.0.1:8080 mqtt=127.0.0.1:1883`; with port 0 the
    /// line shows the port the system chose. SIGINT or SIGTERM stops accepting, closes
    /// every connection after sending what was queued for it, and exits with status 0.
    Serve(ServeArgs),
    /// Run a recording (`brokerlab serve --record FILE`, or a live session exported from
    /// the page) through the engine again and compare every output with the recorded
    /// one, byte for byte.
    ///
    /// Exits with status 0 when every output is identical, and otherwise with 1, naming
    /// the first difference: its line, the recorded output, the replayed one and the
    /// first byte that differs. Status 2 means the file is not a recording. The format is
    /// described in docs/live.md.
    Replay(ReplayArgs),
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The recording (JSON Lines).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The HTTP listener: the simulator at `/`, MQTT over WebSocket at `/mqtt`
    /// (subprotocol `mqtt` or `mqttv3.1`), `/healthz`, Prometheus `/metrics`, and the
    /// live event stream (a WebSocket of JSON events) at `/events`, the page's live view
    /// (a WebSocket of recording lines) at `/live`, and the --record file at `/recording`.
    /// Port 0 picks a free port. These three show every message, so they are served to
    /// loopback clients only unless --events-token is set; the rest of the port has no
    /// authentication.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub http: SocketAddr,

    /// Lets clients on any address watch `/events` if they present this token, as
    /// `/events?token=TOKEN` (compared as sent, not URL-decoded: use URL-safe characters)
    /// or `Authorization: Bearer TOKEN`; without it only loopback
    /// clients may watch. Others get 403, counted in /metrics
    /// (brokerlab_websocket_handshakes_refused_total{reason="events-forbidden"}).
    #[arg(long, value_name = "TOKEN")]
    pub events_token: Option<String>,

    /// The MQTT over plain TCP listener. Port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:1883")]
    pub mqtt: SocketAddr,

    /// An MQTT over TLS listener, the way AWS IoT devices connect (port 8883 by
    /// convention). Needs --tls-cert and --tls-key.
    #[arg(long, value_name = "ADDR", requires_all = ["tls_cert", "tls_key"])]
    pub mqtts: Option<SocketAddr>,

    /// The server's certificate chain for --mqtts, PEM, leaf first.
    #[arg(long, value_name = "FILE", requires = "mqtts")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert, PEM (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "mqtts")]
    pub tls_key: Option<PathBuf>,

    /// Require clients on --mqtts to present a certificate signed by one of these CA
    /// certificates (PEM): mutual TLS. The certificate's subject common name becomes the
    /// connection's principal, as a device certificate does in AWS IoT.
    #[arg(long, value_name = "FILE", requires = "mqtts")]
    pub tls_client_ca: Option<PathBuf>,

    /// Which broker to be: `aws-iot` (AWS IoT Core's message broker, its documented
    /// deviations and quotas) or `mqtt` (the OASIS standards, MQTT 3.1.1 and 5.0: each
    /// connection follows the version it connected with; `mqtt-5` and `mqtt-3.1.1` name
    /// the same profile). Default: the `profile` key of --config, else aws-iot.
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<Profile>,

    /// Seeds every random choice of the broker (the aws-iot profile's duplicates,
    /// resends and reordering, assigned client ids). Without it a seed is drawn at
    /// start-up and logged, so that any run can be repeated by passing it here.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// A TOML file of broker settings. Its keys are broker-core's `Config` fields, for
    /// example `max_inflight = 50` or `[aws]` with `qos0_duplicate_probability = 0.1`;
    /// times are integers in milliseconds (`connect_timeout_ms`). Unknown keys are an error.
    /// Two more keys name files, relative to this file's folder: `users = "users.txt"`
    /// (as --users) and a `[policy]` section, with optional `region` and `account` for the
    /// ARNs (default us-east-1 and 123456789012), `default = ["device.json"]` for
    /// documents attached to every client, and `[policy.principals]` mapping a
    /// certificate common name or a user name to its own documents, for example
    /// `"sensor-7" = ["sensor.json"]`.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// An AWS IoT policy document (JSON) attached to every client, named after the file
    /// without its extension; repeatable, and added to the `[policy]` section's `default`.
    /// Naming any policy, here or in --config, turns enforcement on: whatever no statement
    /// allows is denied, and a Deny beats any Allow. A refusal under aws-iot closes an
    /// MQTT 3.1.1 connection, without CONNACK for iot:Connect (lifecycle reason
    /// AUTH_ERROR), and answers an MQTT 5.0 client with Reason Code 0x87 in its CONNACK,
    /// PUBACK or SUBACK; under mqtt a refused connect gets CONNACK 0x05 (5.0: 0x87), a refused
    /// subscription SUBACK 0x80 (5.0: 0x87) for that filter, and a refused publish is
    /// dropped but still acknowledged (5.0: PUBACK 0x87). In both, a
    /// denied iot:Receive silently skips the delivery. A malformed document stops the
    /// server with its path, line, column and reason. See docs/policies.md.
    #[arg(long = "policy", value_name = "FILE")]
    pub policies: Vec<PathBuf>,

    /// A file of `username:password` lines (`#` comment lines and blank lines allowed) that
    /// connections without a client certificate must match; replaces `users` of --config.
    /// A wrong or missing password gets CONNACK 0x04 (5.0: 0x86) under mqtt and is closed without
    /// CONNACK (AUTH_ERROR) under aws-iot. The user name is then the principal that
    /// `[policy.principals]` attach to. Mutual-TLS clients need no password: their
    /// certificate's common name is their principal. The passwords are kept in clear text.
    #[arg(long, value_name = "FILE")]
    pub users: Option<PathBuf>,

    /// Overrides one setting of --config; repeatable. Dotted keys reach into sections:
    /// `--set aws.qos0_duplicate_probability=0.1 --set max_inflight=50`. The value is
    /// read as a TOML value (number, boolean, quoted string) and otherwise as a string.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,

    /// Keep persistent sessions (subscriptions, queued and in-flight QoS 1 and 2 messages,
    /// QoS 2 state, expiry), retained messages and aws-iot lifecycle version numbers in
    /// this folder (created if missing), so that they survive a restart or a crash. Every
    /// PUBACK, PUBREC, SUBACK and CONNACK is then sent only once what it acknowledges is
    /// written and synced to the disk; many messages share one sync. One server per folder:
    /// a second is refused. Also `data_dir` in --config. Without it, everything is kept in
    /// memory. See docs/durability.md.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// The most MQTT connections (TCP, TLS and WebSocket together) and /events watchers
    /// open at once. Further connections are closed as soon as they are accepted.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_connections: usize,

    /// The most new connections (TCP, TLS and WebSocket together) one source address may
    /// open per second; further ones are closed unanswered, logged once a second and
    /// counted in /metrics (brokerlab_connections_refused_total{reason="connect-rate"}).
    /// The default is 500 in the aws-iot profile (AWS's connect quota per account, which a
    /// local broker applies per address) and no limit in mqtt; 0 turns it off.
    #[arg(long, value_name = "N")]
    pub connect_rate_per_ip: Option<u32>,

    /// The most bytes waiting to be written to one connection, so that a slow reader
    /// cannot grow the server's memory without bound. Past half of it the connection is
    /// congested: its QoS 0 messages are dropped and its QoS 1 and 2 messages wait in the
    /// session's queue until a quarter is reached again. Should the queue still reach twice
    /// this (what the broker sends regardless, such as acknowledgements), the connection is
    /// closed (logged, and counted in /metrics as brokerlab_slow_consumer_disconnects_total).
    /// One packet is always accepted.
    #[arg(long, value_name = "BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_outgoing_bytes: usize,

    /// Record every input the broker is given (connections, each read's bytes, closes,
    /// timers, stored batches) with its time, and every output, to this file (replaced if
    /// it exists), with the configuration and seed, so that `brokerlab replay FILE`
    /// reproduces the session byte for byte. The page's live view can download it. It
    /// stops at --record-limit, saying so in its last line and in the log; the broker goes
    /// on. See docs/live.md.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,

    /// The most bytes --record writes (default 64 MiB); the recording stops there.
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024 * 1024, requires = "record")]
    pub record_limit: u64,
}

/// AWS IoT's quota of CONNECT requests per second per account.
const AWS_CONNECTS_PER_SECOND: u32 = 500;

impl ServeArgs {
    /// `--connect-rate-per-ip`, or the profile's default; `None` means no limit.
    pub fn connect_rate_per_ip(&self, profile: Profile) -> Option<u32> {
        match (self.connect_rate_per_ip, profile) {
            (Some(0), _) | (None, Profile::Standard) => None,
            (Some(limit), _) => Some(limit),
            (None, Profile::AwsIot) => Some(AWS_CONNECTS_PER_SECOND),
        }
    }
}
