//! The provider side of the UI: the driver that owns the world, the per-frame loop that
//! advances it and hands the reducer one `Frame`, and the `Sim` context whose intent
//! methods the components call.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use broker_core::{Config, Profile};
use broker_wasm::lessons;
use broker_wasm::Action;
use yew::prelude::*;

use super::dom;
use super::feed_slot::{FeedFrame, FeedSlot};
use super::live_socket::LiveSocket;
use super::state::{FeedStatus, Frame, FrameStats, Notice, Policies, UiAction};
use crate::model::clock::Clock;
use crate::model::driver::Driver;
use crate::model::feed::{Feed, Inbox, Playback};
use crate::model::load::LoadPlan;
use crate::model::share;

/// How often the sessions and retained tables are refreshed at most, in milliseconds of
/// real time: building them walks every session, which is wasted work at 60 frames a
/// second with hundreds of devices.
const TABLES_EVERY_MS: f64 = 200.0;

/// How much of a frame the load generator may spend spawning devices, in milliseconds.
const LOAD_BUDGET_MS: f64 = 6.0;

/// How often the address bar follows a run that changes, at most, in milliseconds.
const LINK_EVERY_MS: f64 = 1000.0;

/// How many frame intervals the statistics cover.
const STATS_WINDOW: usize = 240;

/// Under load the diagram is redrawn at most this often, in milliseconds of real time;
/// with few new entries it is redrawn every frame. Hundreds of packets a second cannot
/// be read one frame at a time anyway, and each redraw replaces every row in view, which
/// takes Chromium about two frames: once a second keeps 500 and 2,000 busy devices at
/// 17.0 ms a frame on average, four times a second cost 18.1 ms (docs/benchmarks.md).
const BUSY_TIMELINE_EVERY_MS: f64 = 1000.0;

/// How many new entries a frame may bring for the diagram to count as not busy.
const CALM_ENTRIES: usize = 40;

/// What components can do. Cloning it is cheap; every clone drives the same world.
#[derive(Clone)]
pub struct Sim {
    driver: Rc<RefCell<Driver>>,
    /// The server's live view or an imported recording, shown instead of the world.
    feed: Rc<RefCell<Option<FeedSlot>>>,
    /// The load generator's devices still to spawn, a few each frame.
    load: Rc<RefCell<Option<LoadPlan>>>,
    /// Set by intents whose effect shows in no trace entry (pausing, a new speed), so
    /// the next frame renders anyway.
    dirty: Rc<Cell<bool>>,
    dispatch: Callback<UiAction>,
}

impl PartialEq for Sim {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.driver, &other.driver)
    }
}

impl Sim {
    pub fn new(driver: Rc<RefCell<Driver>>, dispatch: Callback<UiAction>) -> Self {
        Sim {
            driver,
            feed: Rc::default(),
            load: Rc::default(),
            dirty: Rc::new(Cell::new(true)),
            dispatch,
        }
    }

    /// Leaves any live view or recording, and stops the load generator: what comes next
    /// (a lesson, a reset, an import, new settings) starts from a world of its own.
    fn start_afresh(&self) {
        self.feed.borrow_mut().take();
        self.load.borrow_mut().take();
    }

    /// Attaches the diagram to the server that served the page (`/live`).
    pub fn attach(&self) {
        let Some(url) = dom::server_url("/live", true) else {
            return self.error("this page has no address to attach to".into());
        };
        let inbox = Rc::new(RefCell::new(Inbox::default()));
        match LiveSocket::open(&url, inbox.clone()) {
            Ok(socket) => {
                let (config, latency) = self.settings();
                self.load.borrow_mut().take();
                *self.feed.borrow_mut() = Some(FeedSlot::new(
                    Feed::Live(Box::default()),
                    Some((inbox, socket)),
                ));
                self.reset_views(config, latency);
                self.notice(None);
            }
            Err(e) => self.error(e),
        }
    }

    /// Back to the simulated world, as it was.
    pub fn detach(&self) {
        if self.feed.borrow_mut().take().is_some() {
            let (config, latency) = self.settings();
            self.reset_views(config, latency);
            // The world's devices and their lanes come back with the next frame.
            self.driver.borrow_mut().world_mut().touch_all();
        }
    }

    /// Pauses or resumes drawing the live view.
    pub fn toggle_live_pause(&self) {
        if let Some(Feed::Live(live)) = self.feed.borrow_mut().as_mut().map(|s| &mut s.feed) {
            live.paused = !live.paused;
        }
        self.dirty.set(true);
    }

    /// Applies a learner's action; a refused one is explained in the notice.
    /// While attached to a server, the action goes to the devices connected to it; while
    /// a recording plays, there are no devices to act on.
    pub fn apply(&self, action: Action) -> bool {
        let result = match self.feed.borrow_mut().as_mut() {
            Some(FeedSlot {
                devices: Some(devices),
                ..
            }) => devices.apply(action),
            Some(_) => Err("a recording is playing: close it to use devices".to_owned()),
            None => self.driver.borrow_mut().apply(action),
        };
        self.dirty.set(true);
        self.report(result)
    }

    /// How many devices were spawned; the next one gets this index.
    pub fn device_count(&self) -> u32 {
        if let Some(Some(devices)) = self.feed.borrow().as_ref().map(|s| s.devices.as_ref()) {
            return devices.device_count() as u32;
        }
        self.driver.borrow().world().device_count() as u32
    }

    /// Starts the load generator: `count` devices publishing every `every_ms`, spawned a
    /// few per frame (see `apply_load`).
    pub fn start_load(&self, count: u32, every_ms: u64) {
        *self.load.borrow_mut() = Some(LoadPlan::new(count, every_ms));
    }

    /// Spawns load devices until `budget_ms` of this frame is spent or none is left; a
    /// refused action stops the plan and says why.
    fn apply_load(&self, budget_ms: f64) {
        let started = dom::now_ms();
        loop {
            let device = self.device_count();
            let Some(actions) = self
                .load
                .borrow_mut()
                .as_mut()
                .and_then(|p| p.next_actions(device))
            else {
                self.load.borrow_mut().take();
                return;
            };
            for action in actions {
                if !self.apply(action) {
                    self.load.borrow_mut().take();
                    return;
                }
            }
            if dom::now_ms() - started >= budget_ms {
                return;
            }
        }
    }

    /// Spawns a device and connects it at once: a new device connects by itself.
    pub fn spawn(&self, spec: broker_wasm::DeviceSpec) {
        let device = self.device_count();
        if self.apply(Action::Spawn { spec }) {
            self.apply(Action::Connect { device });
        }
    }

    pub fn play(&self) {
        self.clock(|c| c.playing = true);
    }

    pub fn pause(&self) {
        self.clock(|c| c.playing = false);
    }

    pub fn step(&self) {
        if self.playback(Playback::step).is_none() {
            let result = self.driver.borrow_mut().step();
            self.report(result);
        }
        self.dirty.set(true);
    }

    pub fn set_speed(&self, speed: f64) {
        if speed.is_finite() && speed > 0.0 {
            self.clock(|c| c.speed = speed);
        }
    }

    /// Changes the clock shown: a recording's while one plays, else the world's.
    fn clock(&self, change: impl FnOnce(&mut Clock)) {
        match self.feed.borrow_mut().as_mut().map(|s| &mut s.feed) {
            Some(Feed::Playback(p)) => change(&mut p.clock),
            _ => change(&mut self.driver.borrow_mut().clock),
        }
        self.dirty.set(true);
    }

    /// Applies `f` to the recording being played back, if one is.
    fn playback<T>(&self, f: impl FnOnce(&mut Playback) -> T) -> Option<T> {
        match self.feed.borrow_mut().as_mut().map(|s| &mut s.feed) {
            Some(Feed::Playback(p)) => Some(f(p)),
            _ => None,
        }
    }

    pub fn select(&self, packet: Option<u64>) {
        self.dispatch.emit(UiAction::Select(packet));
    }

    pub fn notice(&self, notice: Option<Notice>) {
        self.dispatch.emit(UiAction::Notice(notice));
    }

    /// Replays the run so far under a new configuration or latency.
    pub fn reconfigure(&self, config: Config, latency_ms: u64) {
        self.start_afresh();
        let result = self
            .driver
            .borrow_mut()
            .reconfigure(config.clone(), latency_ms);
        if self.report(result) {
            self.reset_views(config, latency_ms);
        }
    }

    /// Attaches a policy document to every principal, or to `principal` only (`None`
    /// removes it), and replays the run so far under it. A malformed document changes
    /// nothing; its error is returned for the editor to show next to the text.
    pub fn set_policy(
        &self,
        principal: Option<&str>,
        policy: Option<String>,
    ) -> Result<(), String> {
        self.driver.borrow_mut().set_policy(principal, policy)?;
        let (config, latency) = self.settings();
        self.reset_views(config, latency);
        Ok(())
    }

    /// Starts a lesson under `profile`, from an empty world.
    pub fn start_lesson(&self, id: &str, profile: Profile) {
        let Some(lesson) = lessons::find(id) else {
            self.error(format!("there is no lesson {id:?}"));
            return;
        };
        self.start_afresh();
        self.driver.borrow_mut().start_lesson(&lesson, profile);
        let config = lesson.scenario(profile).config;
        self.reset_views(config, broker_wasm::DEFAULT_LATENCY_MS);
        dom::set_fragment(&share::lesson_fragment(id, profile.name()));
        self.notice(None);
    }

    /// An empty world with the current settings.
    pub fn reset(&self) {
        self.start_afresh();
        self.driver.borrow_mut().reset();
        let (config, latency) = self.settings();
        self.reset_views(config, latency);
    }

    /// Loads what the URL fragment names: a shared scenario or a lesson.
    pub fn load_fragment(&self, fragment: &str) {
        match share::parse_fragment(fragment) {
            Some(share::Fragment::Scenario(json)) => {
                let scenario: broker_wasm::Scenario = match serde_json::from_str(&json) {
                    Ok(scenario) => scenario,
                    Err(e) => return self.error(format!("the shared scenario is invalid: {e}")),
                };
                let until = scenario.actions.last().map_or(0, |a| a.at);
                let result = self.driver.borrow_mut().load(&scenario, until);
                if self.report(result) {
                    self.reset_views(scenario.config, scenario.latency_ms);
                }
            }
            Some(share::Fragment::Lesson { id, profile }) => {
                let profile = profile
                    .and_then(|p| p.parse::<Profile>().ok())
                    .or_else(|| lessons::find(&id).map(|l| l.profile))
                    .unwrap_or_default();
                self.start_lesson(&id, profile);
            }
            None => {}
        }
    }

    /// Writes the scenario so far into the URL, so the address bar is a share link.
    pub fn share_link(&self) -> String {
        let fragment = share::scenario_fragment(self.driver.borrow().world().scenario());
        dom::set_fragment(&fragment);
        dom::page_url()
    }

    /// What "export trace" saves: the server's recording while attached (one format
    /// with `brokerlab replay`), an imported recording as it was, or the simulated run
    /// as JSON with the scenario that makes it.
    pub fn export(&self) -> Exported {
        match self.feed.borrow().as_ref().map(|slot| &slot.feed) {
            Some(Feed::Live(_)) => match dom::server_url("/recording", false) {
                Some(url) => Exported::Url(url),
                None => Exported::Text(RECORDING_NAME, String::new()),
            },
            Some(Feed::Playback(p)) => Exported::Text(RECORDING_NAME, p.text.clone()),
            None => Exported::Text(
                "brokerlab-trace.json",
                share::export(self.driver.borrow().world()),
            ),
        }
    }

    /// Imports a file: a server's recording is played back on the diagram (and replayed
    /// through the engine to compare its bytes); a simulator trace is replayed into the
    /// world and compared entry by entry.
    pub fn import(&self, text: &str) {
        if Playback::is_recording(text) {
            return self.import_recording(text);
        }
        match share::import(text) {
            Ok(imported) => {
                let scenario = imported.world.scenario().clone();
                self.start_afresh();
                self.driver.borrow_mut().replace(imported.world);
                self.reset_views(scenario.config, scenario.latency_ms);
                let notice = match imported.verdict {
                    Ok(n) => Notice {
                        text: format!("imported and replayed: all {n} trace entries identical"),
                        error: false,
                    },
                    Err(i) => Notice {
                        text: format!("imported, but the replay differs from entry {i} on"),
                        error: true,
                    },
                };
                self.notice(Some(notice));
            }
            Err(e) => self.error(format!("cannot import: {e}")),
        }
    }

    fn import_recording(&self, text: &str) {
        let playback = match Playback::new(text.to_owned()) {
            Ok(playback) => playback,
            Err(e) => return self.error(format!("cannot import the recording: {e}")),
        };
        let notice = match &playback.verdict {
            Ok(done) => Notice {
                text: format!(
                    "recording imported; replayed through the engine: all {} outputs identical, byte for byte{}",
                    done.outputs,
                    done.ended
                        .as_ref()
                        .map(|why| format!(" (it ends early: {why})"))
                        .unwrap_or_default()
                ),
                error: false,
            },
            Err(e) => Notice {
                text: format!("recording imported, but the engine replays it differently: {e}"),
                error: true,
            },
        };
        let config = playback.tape().config().clone();
        *self.feed.borrow_mut() = Some(FeedSlot::new(Feed::Playback(Box::new(playback)), None));
        self.reset_views(config, 0);
        self.notice(Some(notice));
    }

    /// The configuration and latency in force.
    pub fn settings(&self) -> (Config, u64) {
        let driver = self.driver.borrow();
        let scenario = driver.world().scenario();
        (scenario.config.clone(), scenario.latency_ms)
    }

    fn reset_views(&self, config: Config, latency_ms: u64) {
        let policies = {
            let driver = self.driver.borrow();
            let scenario = driver.world().scenario();
            Rc::new(Policies {
                global: scenario.policy.clone(),
                principals: scenario.principal_policies.clone(),
            })
        };
        self.dispatch.emit(UiAction::Reset {
            config: Box::new(config),
            latency_ms,
            policies,
        });
        self.dirty.set(true);
    }

    fn error(&self, text: String) {
        self.notice(Some(Notice { text, error: true }));
    }

    /// Shows an error, or clears an earlier one; says whether all went well.
    fn report(&self, result: Result<(), String>) -> bool {
        match result {
            Ok(()) => true,
            Err(text) => {
                self.error(text);
                false
            }
        }
    }
}

/// The name an exported recording is saved under.
const RECORDING_NAME: &str = "brokerlab-recording.jsonl";

/// What "export trace" saves.
pub enum Exported {
    /// A file's name and text.
    Text(&'static str, String),
    /// What the server serves at this address.
    Url(String),
}

/// The per-frame work: advance the clock, collect what changed, dispatch one frame.
pub struct FrameLoop {
    sim: Sim,
    last: Cell<Option<f64>>,
    last_tables: Cell<f64>,
    tables_due: Cell<bool>,
    intervals: RefCell<VecDeque<f64>>,
    /// Trace entries read from the world and not yet given to the diagram.
    pending: RefCell<Vec<broker_wasm::Numbered>>,
    last_timeline: Cell<f64>,
    /// Time spent in the frame callback itself: the simulation, not the rendering.
    work: RefCell<VecDeque<f64>>,
    scenario_len: Cell<usize>,
    /// When the address bar was last updated.
    last_link: Cell<f64>,
    /// The feed's status in the last frame dispatched.
    last_feed: RefCell<Option<FeedStatus>>,
}

impl FrameLoop {
    pub fn new(sim: Sim) -> Self {
        FrameLoop {
            sim,
            last: Cell::new(None),
            last_tables: Cell::new(f64::NEG_INFINITY),
            tables_due: Cell::new(true),
            intervals: RefCell::new(VecDeque::with_capacity(STATS_WINDOW)),
            work: RefCell::new(VecDeque::with_capacity(STATS_WINDOW)),
            pending: RefCell::new(Vec::new()),
            last_timeline: Cell::new(f64::NEG_INFINITY),
            scenario_len: Cell::new(0),
            last_link: Cell::new(f64::NEG_INFINITY),
            last_feed: RefCell::new(None),
        }
    }

    pub fn on_frame(&self, timestamp: f64) {
        let started = dom::now_ms();
        self.frame(timestamp);
        let mut work = self.work.borrow_mut();
        if work.len() == STATS_WINDOW {
            work.pop_front();
        }
        work.push_back(dom::now_ms() - started);
    }

    fn frame(&self, timestamp: f64) {
        let elapsed = self.last.replace(Some(timestamp)).map(|t| timestamp - t);
        let stats = elapsed.map(|ms| self.record(ms));
        if self.sim.load.borrow().is_some() {
            self.sim.apply_load(LOAD_BUDGET_MS);
        }
        if self.feed_frame(timestamp, elapsed.unwrap_or(0.0), stats.clone()) {
            return;
        }
        let mut driver = self.sim.driver.borrow_mut();
        if let Err(text) = driver.tick(elapsed.unwrap_or(0.0)) {
            driver.clock.playing = false;
            self.sim.error(text);
        }
        let playing = driver.clock.playing;
        let speed = driver.clock.speed;
        let lesson = driver.lesson().cloned();
        let world = driver.world_mut();
        let now = world.now();
        let entries = self.throttle(timestamp, world.poll_trace());
        let changed: Vec<_> = world
            .poll_changed_devices()
            .into_iter()
            .filter_map(|id| world.device(id).map(|v| (id, Rc::new(v))))
            .collect();
        let tables = self
            .tables_now(timestamp, world.poll_broker_changed())
            .then(|| {
                (
                    Rc::new(world.sessions()),
                    Rc::new(world.retained()),
                    Rc::new(world.shadows()),
                )
            });
        let actions = world.scenario().actions.len();
        drop(driver);
        // Keep the address bar a link to this run (a lesson keeps its own link), at most
        // once a second: the link holds every action, and the load generator adds
        // hundreds in a few seconds.
        let grew = actions != self.scenario_len.get() && actions > 0 && lesson.is_none();
        if grew && timestamp - self.last_link.get() >= LINK_EVERY_MS {
            self.scenario_len.set(actions);
            self.last_link.set(timestamp);
            self.sim.share_link();
        }
        let dirty = self.sim.dirty.replace(false);
        let nothing_new = entries.is_empty() && changed.is_empty() && tables.is_none();
        if nothing_new && !playing && !dirty {
            return;
        }
        self.sim.dispatch.emit(UiAction::Frame(Box::new(Frame {
            now,
            playing,
            speed,
            entries,
            changed,
            tables,
            lesson,
            stats,
            lanes: None,
            feed: None,
            config: None,
        })));
    }

    /// Whether the tables are to be refreshed this frame: something may have changed
    /// them (`changed`, now or since the last refresh), and `TABLES_EVERY_MS` passed.
    fn tables_now(&self, timestamp: f64, changed: bool) -> bool {
        if changed {
            self.tables_due.set(true);
        }
        let now = self.tables_due.get() && timestamp - self.last_tables.get() >= TABLES_EVERY_MS;
        if now {
            self.tables_due.set(false);
            self.last_tables.set(timestamp);
        }
        now
    }

    /// Under load the diagram gets new entries at most every `BUSY_TIMELINE_EVERY_MS`;
    /// calm frames get them at once.
    fn throttle(
        &self,
        timestamp: f64,
        new: Vec<broker_wasm::Numbered>,
    ) -> Vec<broker_wasm::Numbered> {
        let mut pending = self.pending.borrow_mut();
        pending.extend(new);
        let calm = pending.len() <= CALM_ENTRIES;
        if calm || timestamp - self.last_timeline.get() >= BUSY_TIMELINE_EVERY_MS {
            self.last_timeline.set(timestamp);
            std::mem::take(&mut *pending)
        } else {
            Vec::new()
        }
    }

    /// A frame of the feed, if one is shown; false if the world's frame is due instead.
    fn feed_frame(&self, timestamp: f64, elapsed: f64, stats: Option<FrameStats>) -> bool {
        let mut slot = self.sim.feed.borrow_mut();
        let Some(slot) = slot.as_mut() else {
            return false;
        };
        let FeedFrame {
            changed,
            entries: new,
            lanes,
            now,
            playing,
            status,
            config,
        } = slot.frame(elapsed);
        let tables = self
            .tables_now(timestamp, !new.is_empty())
            .then(|| slot.tables())
            .flatten();
        let entries = self.throttle(timestamp, new);
        let dirty = self.sim.dirty.replace(false);
        let quiet = entries.is_empty() && changed.is_empty() && lanes.is_none();
        if quiet && self.last_feed.borrow().as_ref() == Some(&status) && !dirty && !playing {
            return true;
        }
        *self.last_feed.borrow_mut() = Some(status.clone());
        self.sim.dispatch.emit(UiAction::Frame(Box::new(Frame {
            now,
            playing,
            speed: slot.speed(),
            entries,
            lanes,
            feed: Some(status),
            config,
            changed,
            tables,
            stats,
            ..Frame::default()
        })));
        true
    }

    /// Adds a frame interval and returns the statistics over the window.
    fn record(&self, ms: f64) -> FrameStats {
        let mut intervals = self.intervals.borrow_mut();
        if intervals.len() == STATS_WINDOW {
            intervals.pop_front();
        }
        intervals.push_back(ms);
        let mut sorted: Vec<f64> = intervals.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let work = self.work.borrow();
        FrameStats {
            mean_ms: sorted.iter().sum::<f64>() / n as f64,
            p95_ms: sorted[(n * 95 / 100).min(n - 1)],
            max_ms: sorted[n - 1],
            frames: n,
            sim_mean_ms: work.iter().sum::<f64>() / work.len().max(1) as f64,
        }
    }
}
