//! The virtual clock: play, pause, step, speed, and the frame-time statistics.

use yew::prelude::*;

use super::selected;
use crate::model::timeline::seconds;
use crate::ui::hooks::use_sim;
use crate::ui::state::FrameStats;

const SPEEDS: [f64; 7] = [0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0];

#[derive(Properties, PartialEq)]
pub struct ClockProps {
    pub now: u64,
    pub playing: bool,
    pub speed: f64,
    pub stats: FrameStats,
}

#[component]
pub fn Clock(props: &ClockProps) -> Html {
    let sim = use_sim();
    let speed_ref = use_node_ref();
    let play = {
        let sim = sim.clone();
        Callback::from(move |_| sim.play())
    };
    let pause = {
        let sim = sim.clone();
        Callback::from(move |_| sim.pause())
    };
    let step = {
        let sim = sim.clone();
        Callback::from(move |_| sim.step())
    };
    let on_speed = {
        let speed_ref = speed_ref.clone();
        Callback::from(move |_: Event| {
            if let Ok(speed) = selected(&speed_ref).parse::<f64>() {
                sim.set_speed(speed);
            }
        })
    };
    let s = &props.stats;
    html! {
        <div class="clock">
            <span class="time" data-testid="clock" data-now={props.now.to_string()}>
                { seconds(props.now) }
            </span>
            <button data-testid="play" disabled={props.playing} onclick={play}>{ "▶ play" }</button>
            <button data-testid="pause" disabled={!props.playing} onclick={pause}>{ "❚❚ pause" }</button>
            <button data-testid="step" onclick={step} title="pause and move to the next event">
                { "step ›" }
            </button>
            <label>
                { "speed " }
                <select data-testid="speed" ref={speed_ref} onchange={on_speed}>
                    { for SPEEDS.iter().map(|v| html! {
                        <option value={v.to_string()} selected={*v == props.speed}>
                            { format!("{v}×") }
                        </option>
                    }) }
                </select>
            </label>
            <span class="stats" data-testid="frame-stats" data-mean={format!("{:.2}", s.mean_ms)}
                data-p95={format!("{:.2}", s.p95_ms)} data-max={format!("{:.2}", s.max_ms)}
                data-frames={s.frames.to_string()} data-sim={format!("{:.2}", s.sim_mean_ms)}
                title="time between animation frames over the last few seconds">
                { format!("frame {:.1} ms (p95 {:.1}, simulation {:.1})", s.mean_ms, s.p95_ms, s.sim_mean_ms) }
            </span>
        </div>
    }
}
