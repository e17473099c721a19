//! [`Metrics`]: `/metrics` parsed, compared before and after, with waits that time out.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{anyhow, ensure, Context, Result};
use tokio::time::Instant;

use crate::http::get;
use crate::server::Server;
use crate::TIMEOUT;

/// One reading of `/metrics`: each series (`name{labels}`, as rendered) and its value.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    series: BTreeMap<String, u64>,
}

/// The families whose changes the hostile-input tests account for exactly: every close,
/// refusal, violation, transport error and fired timer.
pub const WATCHED: [&str; 6] = [
    "brokerlab_protocol_violations_total",
    "brokerlab_disconnects_total",
    "brokerlab_timers_fired_total",
    "brokerlab_connections_refused_total",
    "brokerlab_websocket_handshakes_refused_total",
    "brokerlab_transport_errors_total",
];

/// The series `family{key="value"}`, as the server renders it.
pub fn series(family: &str, key: &str, value: &str) -> String {
    format!("{family}{{{key}=\"{value}\"}}")
}

impl Metrics {
    /// Reads `/metrics` now.
    pub async fn fetch(server: &Server) -> Result<Metrics> {
        let response = get(server.http, "/metrics").await?;
        ensure!(
            response.status == 200,
            "/metrics answered {}",
            response.status
        );
        let mut series = BTreeMap::new();
        for line in response.body.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (name, value) = line
                .rsplit_once(' ')
                .ok_or_else(|| anyhow!("bad metrics line `{line}`"))?;
            let value: f64 = value
                .parse()
                .with_context(|| format!("bad value in `{line}`"))?;
            // Every series the tests read is a counter or gauge of whole numbers.
            series.insert(name.to_owned(), value as u64);
        }
        Ok(Metrics { series })
    }

    /// A series' value; 0 when the server has not rendered it (yet).
    pub fn get(&self, series: &str) -> u64 {
        self.series.get(series).copied().unwrap_or(0)
    }

    /// The sum of a family's series.
    pub fn family(&self, family: &str) -> u64 {
        self.series
            .iter()
            .filter(|(name, _)| family_of(name) == family)
            .map(|(_, value)| value)
            .sum()
    }

    /// Every series of `families` that grew since `before`, with how much.
    pub fn changes_since(&self, before: &Metrics, families: &[&str]) -> BTreeMap<String, u64> {
        self.series
            .iter()
            .filter(|(name, _)| families.contains(&family_of(name)))
            .filter_map(|(name, value)| {
                let delta = value.saturating_sub(before.get(name));
                (delta > 0).then(|| (name.clone(), delta))
            })
            .collect()
    }

    /// Waits until `/metrics` satisfies `ready`, polling (metrics have no push channel),
    /// and returns that reading; at [`TIMEOUT`], returns the last reading anyway, so that
    /// the caller can say what it shows.
    pub async fn wait_for(server: &Server, ready: impl Fn(&Metrics) -> bool) -> Result<Metrics> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let metrics = Metrics::fetch(server).await?;
            if ready(&metrics) {
                return Ok(metrics);
            }
            if Instant::now() >= deadline {
                return Ok(metrics);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the families of `expected` have grown by at least their expected
    /// totals since `before`, then checks that the [`WATCHED`] families changed by exactly
    /// `expected`: no more, no less, and under the expected labels.
    pub async fn expect_changes(
        server: &Server,
        before: &Metrics,
        expected: &BTreeMap<String, u64>,
    ) -> Result<Metrics> {
        let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
        for (name, delta) in expected {
            *totals.entry(family_of(name)).or_default() += delta;
        }
        let after = Metrics::wait_for(server, |now| {
            totals.iter().all(|(family, total)| {
                now.family(family).saturating_sub(before.family(family)) >= *total
            })
        })
        .await?;
        let changes = after.changes_since(before, &WATCHED);
        ensure!(
            &changes == expected,
            "/metrics changed by {changes:?}, expected {expected:?}"
        );
        Ok(after)
    }
}

fn family_of(series: &str) -> &str {
    series.split('{').next().unwrap_or(series)
}
