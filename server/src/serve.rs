//! `brokerlab serve`: binds the listeners, starts the owner loop, and stops cleanly on
//! SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::cli::ServeArgs;
use crate::config::{self, Loaded};
use crate::context::{Context, Limits};
use crate::{http, journal, listeners, owner, tls};

/// How long connections get to send what is queued for them when the server stops.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn run(args: ServeArgs) -> Result<()> {
    let Loaded {
        config,
        seed_was_random,
        data_dir,
    } = config::load(&args)?;
    let acceptor = match (&args.mqtts, &args.tls_cert, &args.tls_key) {
        (Some(_), Some(cert), Some(key)) => {
            Some(tls::acceptor(cert, key, args.tls_client_ca.as_deref())?)
        }
        _ => None,
    };

    // Every listener is bound before anything runs, so that a port in use fails start-up
    // with a clear message instead of leaving a half-started server.
    let http = bind(args.http, "--http").await?;
    let mqtt = bind(args.mqtt, "--mqtt").await?;
    let mqtts = match (args.mqtts, acceptor) {
        (Some(addr), Some(acceptor)) => Some((bind(addr, "--mqtts").await?, acceptor)),
        _ => None,
    };

    info!(
        profile = config.profile.name(),
        seed = config.seed,
        "broker ready{}",
        if seed_was_random {
            " (random seed: pass --seed to repeat this run)"
        } else {
            ""
        }
    );
    // Said once at start-up, because a broker that refuses clients is otherwise easy to
    // mistake for a broken one.
    if let Some(policies) = &config.policies {
        info!(
            region = policies.region,
            account = policies.account,
            "enforcing AWS IoT policies: what no statement allows is denied"
        );
    }
    if let Some(users) = &config.users {
        if users.is_empty() {
            warn!("the users file lists nobody: only mutual-TLS clients can connect");
        } else {
            info!(
                users = users.len(),
                "clients without a certificate must give a listed user name and password"
            );
        }
    }
    let (stop_tx, stop) = watch::channel(false);
    let limits = Limits {
        max_connections: args.max_connections,
        connect_rate_per_ip: args.connect_rate_per_ip(config.profile),
        max_outgoing_bytes: args.max_outgoing_bytes,
        max_packet_size: config.max_packet_size,
        events_token: args.events_token.clone(),
    };
    let data = match &data_dir {
        Some(dir) => Some(journal::open(dir)?),
        None => None,
    };
    let record = args.record.as_deref().map(|path| (path, args.record_limit));
    let owner = owner::spawn(config.clone(), data, record).with_context(|| match &args.record {
        Some(path) => format!(
            "cannot start the store's writer or open the recording {}",
            path.display()
        ),
        None => "cannot start the store's writer".to_owned(),
    })?;
    let ctx = Arc::new(Context::new(owner, limits, stop));

    // The line tests and scripts read to learn the ports (port 0 binds a free one).
    let mut line = format!("http={} mqtt={}", http.local_addr()?, mqtt.local_addr()?);
    if let Some((listener, _)) = &mqtts {
        line.push_str(&format!(" mqtts={}", listener.local_addr()?));
    }
    info!("listening {line}");

    let mut listening = JoinSet::new();
    listening.spawn(http::serve(http, ctx.clone()));
    listening.spawn(listeners::tcp(mqtt, ctx.clone()));
    if let Some((listener, acceptor)) = mqtts {
        listening.spawn(listeners::tls(listener, acceptor, ctx.clone()));
    }

    // A broker that stopped on its own (a panic in the core) cannot serve anyone: exit
    // with an error so that a supervisor restarts the server, rather than linger.
    let signal = tokio::select! {
        signal = stop_signal() => signal?,
        () = ctx.owner.ended() => bail!("the broker stopped unexpectedly"),
    };
    info!(signal, "stopping: no new connections, closing open ones");
    // Listeners and /events watchers stop; then every connection is closed after its
    // queue is sent. Waiting for the listeners first would wait on HTTP requests that
    // the owner may be needed to answer.
    let _ = stop_tx.send(true);
    ctx.owner.shutdown().await;
    while listening.join_next().await.is_some() {}
    if !ctx.wait_for_connections(DRAIN_TIMEOUT).await {
        warn!("some connections did not close in time");
    }
    info!("stopped");
    Ok(())
}

async fn bind(addr: SocketAddr, option: &str) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} ({option})"))
}

/// Waits for SIGINT (Ctrl-C) or SIGTERM and names it.
async fn stop_signal() -> Result<&'static str> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    Ok(tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    })
}
