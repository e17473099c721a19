//! The live view's controls: attach the diagram to the server that served the page,
//! pause it, and go back to the simulator. Its status says what was skipped.

use yew::prelude::*;

use crate::ui::hooks::use_sim;
use crate::ui::state::FeedStatus;

#[derive(Properties, PartialEq)]
pub struct LiveProps {
    pub feed: Option<FeedStatus>,
}

#[component]
pub fn LivePanel(props: &LiveProps) -> Html {
    let sim = use_sim();
    let Some(feed) = &props.feed else {
        let attach = Callback::from(move |_: MouseEvent| sim.attach());
        return html! {
            <div class="live">
                <button data-testid="live-attach" onclick={attach}
                    title="show the real connections of the server that served this page">
                    { "◉ attach to server" }
                </button>
            </div>
        };
    };
    let detach = {
        let sim = sim.clone();
        Callback::from(move |_: MouseEvent| sim.detach())
    };
    let pause = Callback::from(move |_: MouseEvent| sim.toggle_live_pause());
    let live = feed.state != "replaying";
    html! {
        <div class={classes!("live", feed.state)}>
            <span data-testid="live-status" data-state={feed.state} class="live-status">
                { &feed.text }
            </span>
            if live && feed.state == "attached" {
                <button data-testid="live-pause" onclick={pause}>
                    { if feed.paused { "resume view" } else { "pause view" } }
                </button>
            }
            <button data-testid="live-detach" class="secondary" onclick={detach}>
                { if live { "detach" } else { "close recording" } }
            </button>
        </div>
    }
}
