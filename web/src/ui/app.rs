//! The page: the provider (world, reducer, frame loop) and the layout of the panels.

use std::cell::RefCell;
use std::rc::Rc;

use broker_core::{Config, Profile};
use broker_wasm::Scenario;
use yew::prelude::*;

use super::components::{
    BrokerPanel, Clock, DevicesPanel, Inspector, LessonsPanel, LivePanel, NoticeBar, SharePanel,
    Tables, TimelinePanel,
};
use super::dom;
use super::hooks::use_animation_frame;
use super::sim::{FrameLoop, Sim};
use super::state::UiState;
use crate::model::driver::Driver;

/// The profile a fresh page starts with: the product's reference broker.
const DEFAULT_PROFILE: Profile = Profile::AwsIot;

#[component]
pub fn App() -> Html {
    let state = use_reducer(|| {
        UiState::new(
            Config::for_profile(DEFAULT_PROFILE),
            broker_wasm::DEFAULT_LATENCY_MS,
        )
    });
    let driver = use_mut_ref(|| Driver::new(&Scenario::new(Config::for_profile(DEFAULT_PROFILE))));
    let sim = {
        let dispatcher = state.dispatcher();
        let driver: Rc<RefCell<Driver>> = driver.clone();
        (*use_memo((), move |_| {
            Sim::new(driver, Callback::from(move |a| dispatcher.dispatch(a)))
        }))
        .clone()
    };
    {
        let sim = sim.clone();
        use_effect_with((), move |_| sim.load_fragment(&dom::fragment()));
    }
    let on_frame: Rc<dyn Fn(f64)> = {
        let sim = sim.clone();
        let frames = use_memo((), move |_| FrameLoop::new(sim));
        Rc::new(move |t| frames.on_frame(t))
    };
    use_animation_frame(on_frame);
    let selected = state.selected.and_then(|id| state.timeline.packet(id));
    html! {
        <ContextProvider<Sim> context={sim}>
            <header class="top">
                <h1>{ "brokerlab" }<span class="sub">{ " simulator" }</span></h1>
                <Clock now={state.now} playing={state.playing} speed={state.speed}
                    stats={state.stats.clone()} />
                <LivePanel feed={state.feed.clone()} />
                <SharePanel feed={state.feed.clone()} />
            </header>
            <NoticeBar notice={state.notice.clone()} />
            <main class="layout">
                <section class="left">
                    <LessonsPanel lesson={state.lesson.clone()}
                        now={if state.lesson.is_some() { state.now } else { 0 }} />
                    <DevicesPanel devices={state.devices.clone()} />
                </section>
                <section class="center">
                    <TimelinePanel timeline={state.timeline.clone()} lanes={state.lanes.clone()}
                        selected={state.selected} />
                    <Inspector packet={selected} />
                </section>
                <section class="right">
                    <BrokerPanel config={state.config.clone()} latency_ms={state.latency_ms}
                        policies={state.policies.clone()} locked={state.feed.as_ref().map(|f| f.state)} />
                    <Tables sessions={state.sessions.clone()} retained={state.retained.clone()}
                        shadows={state.shadows.clone()}
                        live={state.feed.as_ref().is_some_and(|f| f.state != "replaying")} />
                </section>
            </main>
        </ContextProvider<Sim>>
    }
}
