//! The simulation: one broker, virtual devices, a virtual network and a virtual clock.
//!
//! Nothing here reads a clock or draws a random number: time moves only when the driver
//! calls [`World::advance_to`] or [`World::step`], and the broker's randomness comes from
//! the seed in its configuration. A [`Scenario`] (configuration, latency, and the actions
//! with their times) therefore replays to the same trace, byte for byte, natively and in
//! the browser.
//!
//! Methods follow the core's vocabulary: commands ([`World::apply`]), time
//! ([`World::advance_to`], [`World::step`]), outputs ([`World::poll_trace`]) and views.

mod actions;
mod broker_io;
mod deliver;

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};

use broker_core::{Broker, ConnId, EventConfig, Instant, RetainedMessage, SessionView};
use bytes::Bytes;

use crate::device::{Device, DeviceView};
use crate::network::Network;
use crate::scenario::{Action, ActionError, DeviceId, Scenario, TimedAction};
use crate::trace::{Numbered, Trace};

/// A broker, its devices and the network between them, on virtual time.
#[derive(Debug)]
pub struct World {
    broker: Broker,
    devices: Vec<Device>,
    network: Network,
    /// Device wake-ups (keep-alive pings, automatic publishing), earliest first.
    device_timers: BTreeSet<(Instant, DeviceId)>,
    now: Instant,
    latency_ms: u64,
    scenario: Scenario,
    trace: Trace,
    next_packet: u64,
    /// Devices whose view changed since the viewer last asked.
    changed: HashSet<DeviceId>,
    /// Whether the broker's sessions or retained messages may have changed since the
    /// viewer last asked.
    broker_changed: bool,
    /// Connections the broker does not read for now (backpressure), with the bytes that
    /// arrived for them meanwhile.
    paused: BTreeMap<ConnId, VecDeque<Bytes>>,
}

impl World {
    /// An empty world for the scenario's configuration and latency. The scenario's
    /// actions are not applied: see [`World::replay`].
    pub fn new(scenario: &Scenario) -> Self {
        let mut config = scenario.config.clone();
        // The world decodes every packet it carries itself (both directions, with the same
        // codec), so the broker's own packet and delivery events would only cost time.
        config.events = EventConfig::QUIET;
        // A malformed document cannot be enforced as written; denying everything (no
        // statement allows anything) is the safe reading. Callers that take documents
        // from a learner check `Scenario::policy_set` first and report the error.
        match scenario.policy_set() {
            Ok(Some(set)) => config.policies = Some(set),
            Ok(None) => {}
            Err(_) => config.policies = Some(broker_core::policy::PolicySet::default()),
        }
        World {
            broker: Broker::new(config),
            devices: Vec::new(),
            network: Network::default(),
            device_timers: BTreeSet::new(),
            now: Instant::ZERO,
            latency_ms: scenario.latency_ms,
            scenario: Scenario {
                actions: Vec::new(),
                ..scenario.clone()
            },
            trace: Trace::default(),
            next_packet: 0,
            changed: HashSet::new(),
            broker_changed: true,
            paused: BTreeMap::new(),
        }
    }

    /// Replays a scenario: each action at its time, then time up to `until` (or to the
    /// last action). An action that fails here failed when it was recorded too, which
    /// cannot happen for a scenario a world recorded, so it is reported.
    pub fn replay(scenario: &Scenario, until: Option<u64>) -> Result<Self, ActionError> {
        let mut world = World::new(scenario);
        for TimedAction { at, action } in &scenario.actions {
            world.apply_at(*at, action.clone())?;
        }
        if let Some(until) = until {
            world.advance_to(until.max(world.now.as_millis()));
        }
        Ok(world)
    }

    // ----- commands ---------------------------------------------------------------

    /// Applies an action now and records it in the scenario. A refused action changes
    /// nothing and is not recorded.
    pub fn apply(&mut self, action: Action) -> Result<(), ActionError> {
        // The action's entry comes first, so the diagram reads cause before effect. Every
        // check an action makes comes before its first change, so a refused action has
        // added nothing else to take back.
        let mark = self.trace.len_total();
        self.trace.push(crate::trace::TraceEntry::Action {
            at: self.now.as_millis(),
            action: action.clone(),
        });
        if let Err(e) = self.perform(action.clone()) {
            self.trace.truncate(mark);
            return Err(e);
        }
        self.scenario.actions.push(TimedAction {
            at: self.now.as_millis(),
            action,
        });
        // Zero latency delivers at once: settle everything due now before returning, so
        // that a recorded run and its replay see the same state between two actions.
        self.run_until(self.now);
        Ok(())
    }

    /// Advances to `at` (milliseconds), then applies the action.
    pub fn apply_at(&mut self, at: u64, action: Action) -> Result<(), ActionError> {
        let now = self.now.as_millis();
        if at < now {
            return Err(ActionError::InThePast { at, now });
        }
        self.advance_to(at);
        self.apply(action)
    }

    // ----- time -------------------------------------------------------------------

    /// Moves the clock to `ms` milliseconds, handling every arrival and timer on the way
    /// in time order. An earlier time than now changes nothing.
    pub fn advance_to(&mut self, ms: u64) {
        let end = Instant::from_millis(ms);
        if end < self.now {
            return;
        }
        self.run_until(end);
        self.now = end;
    }

    /// Moves the clock to the next instant at which anything happens, handles everything
    /// due then, and returns that instant; `None` if nothing is pending at all.
    pub fn step(&mut self) -> Option<u64> {
        let at = self.next_wake()?;
        self.advance_to(at.as_millis().max(self.now.as_millis()));
        Some(self.now.as_millis())
    }

    /// The next instant anything is due: an arrival, a broker timer or a device timer.
    pub fn next_event_at(&self) -> Option<u64> {
        self.next_wake().map(Instant::as_millis)
    }

    fn next_wake(&self) -> Option<Instant> {
        [
            self.network.next_arrival(),
            self.broker.poll_timeout(),
            self.device_timers.first().map(|(at, _)| *at),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Handles, one at a time and in a fixed order, everything due by `end`: arrivals
    /// first, then the broker's timers, then the devices' in index order. Handling one
    /// thing may make another due at the same instant (zero latency); the loop takes it too.
    fn run_until(&mut self, end: Instant) {
        while let Some(at) = self.next_wake().filter(|at| *at <= end) {
            self.now = self.now.max(at);
            let now = self.now;
            if let Some(delivery) = self.network.pop_due(now) {
                self.deliver(delivery);
            } else if self.broker.poll_timeout().is_some_and(|t| t <= now) {
                self.broker.handle_timeout(now);
                self.drain_broker();
            } else if let Some((_, device)) = self.device_timers.pop_first() {
                if let Some(d) = self.devices.get_mut(device as usize) {
                    d.armed = None;
                }
                self.wake_device(device);
            }
        }
    }

    // ----- outputs ----------------------------------------------------------------

    /// Trace entries not read before, oldest first.
    pub fn poll_trace(&mut self) -> Vec<Numbered> {
        self.trace.read_new()
    }

    /// The whole trace the world keeps (the newest `TRACE_CAP` entries).
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// Marks every device and the broker's tables changed, for a viewer that starts
    /// afresh (the page coming back from its live view).
    pub fn touch_all(&mut self) {
        self.changed.extend(0..self.devices.len() as DeviceId);
        self.broker_changed = true;
    }

    /// Devices whose view changed since the last call, in index order.
    pub fn poll_changed_devices(&mut self) -> Vec<DeviceId> {
        let mut changed: Vec<DeviceId> = self.changed.drain().collect();
        changed.sort_unstable();
        changed
    }

    /// Whether sessions or retained messages may have changed since the last call.
    pub fn poll_broker_changed(&mut self) -> bool {
        std::mem::take(&mut self.broker_changed)
    }

    // ----- views ------------------------------------------------------------------

    /// The virtual time, in milliseconds.
    pub fn now(&self) -> u64 {
        self.now.as_millis()
    }

    /// The scenario so far: configuration, latency and every applied action.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// How many devices were spawned.
    pub fn device_count(&self) -> usize {
        self.devices.len()
    }

    /// One device, if it exists.
    pub fn device(&self, id: DeviceId) -> Option<DeviceView> {
        self.devices.get(id as usize).map(|d| d.view(id))
    }

    /// Every device, in index order.
    pub fn devices(&self) -> Vec<DeviceView> {
        (0..self.devices.len() as DeviceId)
            .filter_map(|id| self.device(id))
            .collect()
    }

    /// The broker's sessions, sorted by client id.
    pub fn sessions(&self) -> Vec<SessionView> {
        self.broker.sessions()
    }

    /// The broker's retained messages, sorted by topic.
    pub fn retained(&self) -> Vec<RetainedMessage> {
        self.broker.retained()
    }

    /// The aws-iot profile's Device Shadow documents, in name order.
    pub fn shadows(&self) -> Vec<crate::ShadowView> {
        crate::shadow_view::shadow_views(self.broker.shadows())
    }

    /// The broker itself, for views this type does not wrap.
    pub fn broker(&self) -> &Broker {
        &self.broker
    }
}

impl World {
    /// Numbers a packet put on the wire, now, arriving at `arrives_at`, and records it in
    /// the trace with its decoded kind, label and field spans. Returns its number, which
    /// the network carries so the arrival can name it.
    fn trace_packet(
        &mut self,
        device: DeviceId,
        client_id: String,
        direction: crate::trace::Direction,
        arrives_at: Instant,
        bytes: &bytes::Bytes,
    ) -> u64 {
        let id = self.next_packet;
        self.next_packet += 1;
        let version = self
            .devices
            .get(device as usize)
            .map_or(broker_core::ProtocolVersion::V311, |d| {
                d.client.options().version
            });
        let (kind, label, spans) = crate::trace::describe(bytes, version);
        self.trace.push(crate::trace::TraceEntry::Packet(
            crate::trace::PacketTrace {
                id,
                device,
                client_id,
                direction,
                sent_at: self.now.as_millis(),
                arrives_at: arrives_at.as_millis(),
                kind,
                label,
                bytes: bytes.to_vec(),
                spans,
            },
        ));
        id
    }
}
