//! The per-IP connect rate (`--connect-rate-per-ip`): how many new connections one
//! source address may open per second before further ones are closed unanswered.
//!
//! AWS IoT limits CONNECTs per client id (one per second, enforced by the broker core)
//! and per account (500 per second). A local broker has no accounts, and a flood of fresh
//! client ids from one address would slip past the per-client-id limit, so the server
//! applies the account's figure to each source address in the aws-iot profile.
//!
//! Seconds are counted in fixed windows, as the core counts its publish rate: the first
//! `limit` connections of each second are admitted. The table of addresses is bounded:
//! when it is full, addresses whose window has passed are forgotten first (they count
//! nothing any more), and should every entry be current, the newcomer is admitted
//! untracked. Failing open keeps a flood of distinct addresses from locking everybody
//! out; `--max-connections` still bounds what they can hold.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use tokio::time::Instant;

/// The most source addresses tracked at once.
const MAX_TRACKED: usize = 65_536;

#[derive(Debug)]
pub struct ConnectRate {
    limit: u32,
    origin: Instant,
    windows: Mutex<HashMap<IpAddr, Window>>,
}

#[derive(Clone, Copy, Debug)]
struct Window {
    /// Whole seconds since `origin`.
    second: u64,
    count: u32,
}

/// What the rate says of one new connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// Over the limit. `first` is true for the first refusal of this address in this
    /// second, so that a flood is logged once a second, not once a connection.
    Refused {
        first: bool,
    },
}

impl ConnectRate {
    /// A rate of `limit` connections per second per address.
    pub fn new(limit: u32) -> Self {
        ConnectRate {
            limit,
            origin: Instant::now(),
            windows: Mutex::new(HashMap::new()),
        }
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Counts one new connection from `ip` at `now`.
    pub fn admit(&self, ip: IpAddr, now: Instant) -> Admission {
        let second = now.saturating_duration_since(self.origin).as_secs();
        // Every update is a single assignment, so a lock poisoned by a panic elsewhere
        // still holds a consistent table.
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() >= MAX_TRACKED && !windows.contains_key(&ip) {
            windows.retain(|_, window| window.second == second);
            if windows.len() >= MAX_TRACKED {
                return Admission::Admitted;
            }
        }
        let window = windows.entry(ip).or_insert(Window { second, count: 0 });
        if window.second != second {
            *window = Window { second, count: 0 };
        }
        window.count = window.count.saturating_add(1);
        if window.count <= self.limit {
            Admission::Admitted
        } else {
            Admission::Refused {
                first: window.count == self.limit + 1,
            }
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.windows.lock().map_or(0, |windows| windows.len())
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::time::Duration;

    use super::*;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn the_limit_holds_per_address_and_per_second() {
        let rate = ConnectRate::new(2);
        let now = rate.origin;
        assert_eq!(rate.admit(A, now), Admission::Admitted);
        assert_eq!(rate.admit(A, now), Admission::Admitted);
        assert_eq!(rate.admit(A, now), Admission::Refused { first: true });
        assert_eq!(rate.admit(A, now), Admission::Refused { first: false });
        assert_eq!(rate.admit(B, now), Admission::Admitted, "another address");
        let next_second = now + Duration::from_secs(1);
        assert_eq!(rate.admit(A, next_second), Admission::Admitted);
    }

    #[test]
    fn a_full_table_forgets_past_windows_and_then_fails_open() {
        let rate = ConnectRate::new(1);
        let now = rate.origin;
        let ip = |n: usize| IpAddr::V6(Ipv6Addr::from(n as u128));
        for n in 0..MAX_TRACKED {
            assert_eq!(rate.admit(ip(n), now), Admission::Admitted);
        }
        // Every entry is current: the newcomer is admitted without being tracked.
        assert_eq!(rate.admit(ip(MAX_TRACKED), now), Admission::Admitted);
        assert_eq!(rate.tracked(), MAX_TRACKED);
        // A second later every entry is stale, and the table starts over.
        let later = now + Duration::from_secs(1);
        assert_eq!(rate.admit(ip(MAX_TRACKED), later), Admission::Admitted);
        assert_eq!(rate.tracked(), 1);
    }
}
