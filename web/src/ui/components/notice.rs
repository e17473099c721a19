//! The notice bar: why an action was refused, or what an import found.

use yew::prelude::*;

use crate::ui::hooks::use_sim;
use crate::ui::state::Notice;

#[derive(Properties, PartialEq)]
pub struct NoticeProps {
    pub notice: Option<Notice>,
}

#[component]
pub fn NoticeBar(props: &NoticeProps) -> Html {
    let sim = use_sim();
    let Some(notice) = &props.notice else {
        return html! {};
    };
    let dismiss = Callback::from(move |_| sim.notice(None));
    let class = if notice.error {
        "notice error"
    } else {
        "notice ok"
    };
    html! {
        <div class={class} data-testid="notice" role="status">
            <span>{ &notice.text }</span>
            <button class="link" onclick={dismiss}>{ "dismiss" }</button>
        </div>
    }
}
