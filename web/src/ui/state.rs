//! The UI's state and the one reducer that changes it. A frame of the simulation arrives
//! as one `UiAction::Frame`, so the page renders at most once per animation frame.

use std::rc::Rc;

use broker_core::{Config, RetainedMessage, SessionView};
use broker_wasm::{DeviceId, DeviceView, Numbered, ShadowView};
use yew::Reducible;

use crate::model::driver::RunningLesson;
use crate::model::timeline::{Lanes, Timeline};
use crate::ui::feed_slot::Tables;

/// The policy documents of the scenario: one for every principal, and one per principal.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Policies {
    /// The document attached to every principal, if any.
    pub global: Option<String>,
    /// Documents attached to one principal each (a user name or a certificate's common
    /// name).
    pub principals: std::collections::BTreeMap<String, String>,
}

/// A message for the learner at the top of the page.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    /// What to say.
    pub text: String,
    /// Whether something went wrong.
    pub error: bool,
}

/// Frame-time statistics over the last frames, for the benchmark and the curious.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FrameStats {
    /// Mean time between frames, in milliseconds.
    pub mean_ms: f64,
    /// The 95th percentile.
    pub p95_ms: f64,
    /// The longest.
    pub max_ms: f64,
    /// How many frames these cover.
    pub frames: usize,
    /// Mean time of the simulation's share of a frame (advancing the world and collecting
    /// what changed), the rest being rendering.
    pub sim_mean_ms: f64,
}

/// What the diagram shows when it is not the simulated world: a server live, or an
/// imported recording.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedStatus {
    /// `connecting`, `attached`, `closed` (live) or `replaying` (a recording): the
    /// `data-state` of `live-status`.
    pub state: &'static str,
    /// What to tell the learner: connections, what was skipped, the replay's verdict.
    pub text: String,
    /// Whether the live view is paused.
    pub paused: bool,
    /// Where "export trace" downloads the recording from, when it is the server's.
    pub export_url: Option<String>,
}

/// What one animation frame learned from the driver.
#[derive(Debug, Default)]
pub struct Frame {
    pub now: u64,
    pub playing: bool,
    pub speed: f64,
    pub entries: Vec<Numbered>,
    /// Views of the devices that changed.
    pub changed: Vec<(DeviceId, Rc<DeviceView>)>,
    /// Sessions, retained messages and shadows, when they were refreshed.
    pub tables: Option<Tables>,
    pub lesson: Option<RunningLesson>,
    pub stats: Option<FrameStats>,
    /// New lanes, when a feed's connections changed them.
    pub lanes: Option<Rc<Lanes>>,
    /// The feed's status, when one is shown.
    pub feed: Option<FeedStatus>,
    /// The server's or the recording's configuration, once the feed learned it.
    pub config: Option<Box<Config>>,
}

/// A value compared by identity: a new value is a new `Rc`. For types without
/// `PartialEq` (the broker's configuration) that components still take as props.
#[derive(Debug)]
pub struct Shared<T>(pub Rc<T>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }
}

impl<T> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// Everything the page shows.
#[derive(Clone, Debug)]
pub struct UiState {
    pub now: u64,
    pub playing: bool,
    pub speed: f64,
    pub config: Shared<Config>,
    pub latency_ms: u64,
    /// The policy documents attached.
    pub policies: Rc<Policies>,
    pub devices: Rc<Vec<Rc<DeviceView>>>,
    pub lanes: Rc<Lanes>,
    pub timeline: Rc<Timeline>,
    pub sessions: Rc<Vec<SessionView>>,
    pub retained: Rc<Vec<RetainedMessage>>,
    pub shadows: Rc<Vec<ShadowView>>,
    /// The packet shown in the inspector.
    pub selected: Option<u64>,
    pub lesson: Option<RunningLesson>,
    pub notice: Option<Notice>,
    pub stats: FrameStats,
    /// The live view or the recording shown instead of the world, if any.
    pub feed: Option<FeedStatus>,
}

impl UiState {
    pub fn new(config: Config, latency_ms: u64) -> Self {
        UiState {
            now: 0,
            playing: true,
            speed: 1.0,
            config: Shared(Rc::new(config)),
            latency_ms,
            policies: Rc::default(),
            devices: Rc::default(),
            lanes: Rc::new(Lanes::new(&[])),
            timeline: Rc::default(),
            sessions: Rc::default(),
            retained: Rc::default(),
            shadows: Rc::default(),
            selected: None,
            lesson: None,
            notice: None,
            stats: FrameStats::default(),
            feed: None,
        }
    }
}

pub enum UiAction {
    /// A frame of the simulation.
    Frame(Box<Frame>),
    /// The world was replaced (profile change, lesson, import): start the views afresh.
    Reset {
        /// Boxed: the configuration is much larger than the other actions.
        config: Box<Config>,
        latency_ms: u64,
        policies: Rc<Policies>,
    },
    /// Show a packet in the inspector.
    Select(Option<u64>),
    /// Show or clear a notice.
    Notice(Option<Notice>),
}

impl Reducible for UiState {
    type Action = UiAction;

    fn reduce(self: Rc<Self>, action: UiAction) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            UiAction::Frame(frame) => next.apply_frame(*frame),
            UiAction::Reset {
                config,
                latency_ms,
                policies,
            } => {
                next = UiState {
                    policies,
                    playing: self.playing,
                    speed: self.speed,
                    notice: self.notice.clone(),
                    stats: self.stats.clone(),
                    ..UiState::new(*config, latency_ms)
                };
            }
            UiAction::Select(packet) => next.selected = packet,
            UiAction::Notice(notice) => next.notice = notice,
        }
        Rc::new(next)
    }
}

impl UiState {
    fn apply_frame(&mut self, frame: Frame) {
        self.now = frame.now;
        self.playing = frame.playing;
        self.speed = frame.speed;
        self.lesson = frame.lesson;
        if let Some(stats) = frame.stats {
            self.stats = stats;
        }
        self.feed = frame.feed;
        if let Some(config) = frame.config {
            self.config = Shared(Rc::new(*config));
        }
        if let Some(lanes) = frame.lanes {
            self.lanes = lanes;
        }
        // A device counts as changed whenever it did anything, often nothing visible (a
        // QoS 0 publish); keeping the old view then spares the device list a re-render.
        let visible: Vec<_> = frame
            .changed
            .into_iter()
            .filter(|(id, view)| self.devices.get(*id as usize) != Some(view))
            .collect();
        if !visible.is_empty() {
            let count = self.devices.len();
            let devices = Rc::make_mut(&mut self.devices);
            for (id, view) in visible {
                match devices.get_mut(id as usize) {
                    Some(slot) => *slot = view,
                    None => devices.push(view),
                }
            }
            if devices.len() != count && self.feed.is_none() {
                self.lanes = Rc::new(Lanes::new(devices));
            }
        }
        if !frame.entries.is_empty() {
            Rc::make_mut(&mut self.timeline).extend(&frame.entries, &self.devices);
        }
        if let Some((sessions, retained, shadows)) = frame.tables {
            self.sessions = sessions;
            self.retained = retained;
            self.shadows = shadows;
        }
    }
}
