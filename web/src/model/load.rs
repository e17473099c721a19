//! The load generator's plan: a watcher subscribed to `load/#`, then `count` devices that
//! each publish a counter to `load/<n>` every `every_ms`. The page applies it a few devices
//! per animation frame, within a time budget, so that spawning hundreds of devices never
//! makes one long frame.

use broker_wasm::{Action, DeviceId, DeviceSpec};

/// The devices still to spawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadPlan {
    count: u32,
    every_ms: u64,
    /// The next to spawn: 0 is the watcher, `n + 1` is `load-<n>`.
    next: u32,
}

impl LoadPlan {
    /// A plan for `count` publishing devices, every `every_ms` milliseconds each.
    pub fn new(count: u32, every_ms: u64) -> Self {
        LoadPlan {
            count,
            every_ms: every_ms.max(1),
            next: 0,
        }
    }

    /// The actions that spawn the next device, which will get index `device` (the number
    /// of devices spawned so far); `None` once every device is spawned. The first
    /// messages are spread over one period.
    pub fn next_actions(&mut self, device: DeviceId) -> Option<Vec<Action>> {
        if self.next > self.count {
            return None;
        }
        let step = self.next;
        self.next += 1;
        if step == 0 {
            return Some(vec![
                Action::Spawn {
                    spec: DeviceSpec::new("load-watcher"),
                },
                Action::Connect { device },
                Action::Subscribe {
                    device,
                    filter: "load/#".into(),
                    qos: 0,
                    options: Default::default(),
                },
            ]);
        }
        let n = step - 1;
        Some(vec![
            Action::Spawn {
                spec: DeviceSpec::new(&format!("load-{n}")),
            },
            Action::Connect { device },
            Action::AutoPublish {
                device,
                topic: format!("load/{n}"),
                qos: 0,
                every_ms: Some(self.every_ms),
                first_in_ms: Some(self.every_ms * u64::from(n) / u64::from(self.count.max(1))),
            },
        ])
    }

    /// How many devices are still to spawn.
    pub fn remaining(&self) -> u32 {
        (self.count + 1).saturating_sub(self.next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_spawns_the_watcher_then_each_device_at_the_index_it_is_given() {
        let mut plan = LoadPlan::new(2, 1000);
        assert_eq!(plan.remaining(), 3);
        let watcher = plan.next_actions(5).unwrap();
        assert!(
            matches!(&watcher[2], Action::Subscribe { device: 5, filter, .. } if filter == "load/#")
        );
        let first = plan.next_actions(6).unwrap();
        assert!(matches!(&first[1], Action::Connect { device: 6 }));
        let second = plan.next_actions(9).unwrap();
        assert!(matches!(
            &second[2],
            Action::AutoPublish {
                device: 9,
                first_in_ms: Some(500),
                ..
            }
        ));
        assert_eq!(plan.next_actions(10), None);
        assert_eq!(plan.remaining(), 0);
    }
}
