//! A feed as the frame loop drives it: the live socket and its inbox, or a recording
//! played back, turned into what one frame brings to the page.

use std::cell::RefCell;
use std::rc::Rc;

use broker_core::{Config, RetainedMessage, SessionView};
use broker_wasm::{DeviceId, DeviceView, Numbered, ShadowView};

use super::device_sockets::DeviceSockets;
use super::dom;
use super::live_socket::LiveSocket;
use super::state::FeedStatus;
use crate::model::feed::{Feed, Inbox, LiveState};
use crate::model::timeline::Lanes;

/// A feed and what it needs: the live socket and its inbox.
pub struct FeedSlot {
    pub feed: Feed,
    /// Virtual devices connected to the server, while attached.
    pub devices: Option<DeviceSockets>,
    inbox: Option<Rc<RefCell<Inbox>>>,
    _socket: Option<LiveSocket>,
    /// How many lanes the diagram was last given.
    lanes: usize,
    /// Whether the page was given the feed's configuration yet.
    configured: bool,
}

/// What a frame of a feed brings.
pub struct FeedFrame {
    pub entries: Vec<Numbered>,
    pub lanes: Option<Rc<Lanes>>,
    pub now: u64,
    pub playing: bool,
    pub status: FeedStatus,
    /// The server's or the recording's configuration, once known.
    pub config: Option<Box<Config>>,
    /// The virtual devices (connected to the server) whose view changed.
    pub changed: Vec<(DeviceId, Rc<DeviceView>)>,
}

/// Sessions, retained messages and shadows, as the tables show them.
pub type Tables = (
    Rc<Vec<SessionView>>,
    Rc<Vec<RetainedMessage>>,
    Rc<Vec<ShadowView>>,
);

impl FeedSlot {
    pub fn new(feed: Feed, live: Option<(Rc<RefCell<Inbox>>, LiveSocket)>) -> Self {
        let devices = live.is_some().then(DeviceSockets::default);
        let (inbox, socket) = live.unzip();
        FeedSlot {
            feed,
            devices,
            inbox,
            _socket: socket,
            lanes: 0,
            configured: false,
        }
    }

    /// Advances the feed by a frame of `elapsed` real milliseconds.
    pub fn frame(&mut self, elapsed: f64) -> FeedFrame {
        let (entries, status) = match &mut self.feed {
            Feed::Live(live) => {
                let state = match &self.inbox {
                    Some(inbox) => {
                        let mut inbox = inbox.borrow_mut();
                        live.handle_inbox(&mut inbox);
                        inbox.state.clone()
                    }
                    None => LiveState::Closed("no socket".into()),
                };
                let (state, text) = live.describe(&state);
                let status = FeedStatus {
                    state,
                    text,
                    paused: live.paused,
                    export_url: dom::server_url("/recording", false),
                };
                (live.poll_trace(), status)
            }
            Feed::Playback(p) => {
                p.tick(elapsed);
                let status = FeedStatus {
                    state: "replaying",
                    text: p.describe(),
                    paused: !p.clock.playing,
                    export_url: None,
                };
                (p.poll_trace(), status)
            }
        };
        let tape = self.feed.tape();
        let names = tape.map(|t| t.lanes()).unwrap_or_default();
        let lanes = (names.len() != self.lanes).then(|| {
            self.lanes = names.len();
            Rc::new(Lanes::named(names))
        });
        let config = match tape {
            Some(tape) if !self.configured => {
                self.configured = true;
                Some(Box::new(tape.config().clone()))
            }
            _ => None,
        };
        let changed = self
            .devices
            .as_mut()
            .map(DeviceSockets::frame)
            .unwrap_or_default();
        FeedFrame {
            changed,
            entries,
            lanes,
            now: self.feed.now(),
            playing: self.feed.playing(),
            status,
            config,
        }
    }

    /// The clock's speed: a recording's; a live server runs at real time.
    pub fn speed(&self) -> f64 {
        match &self.feed {
            Feed::Playback(p) => p.clock.speed,
            Feed::Live(_) => 1.0,
        }
    }

    /// The broker's tables, for a recording played back (a live server's are not
    /// streamed).
    pub fn tables(&self) -> Option<Tables> {
        let Feed::Playback(p) = &self.feed else {
            return None;
        };
        let broker = p.broker();
        Some((
            Rc::new(broker.sessions()),
            Rc::new(broker.retained()),
            Rc::new(broker_wasm::shadow_views(broker.shadows())),
        ))
    }
}
