//! The sequence diagram: a lane per device plus the broker, an arrow per packet from its
//! sending lane to its receiving lane, and a marked line for each rule that fired.
//!
//! Every kept row has its place (`Timeline::window`), and only the rows in view, with a
//! margin, are in the page: scrolling back draws older ones. Tests find a packet that is no
//! longer in view by scrolling the `timeline` element (for example to the top); its
//! `data-rows` says how many rows are kept.

use std::rc::Rc;

use broker_wasm::{Direction, PacketTrace};
use web_sys::HtmlElement;
use yew::prelude::*;

use crate::model::timeline::{ends, seconds, Lanes, Row, Timeline};
use crate::ui::hooks::use_sim;

/// Rows this close to the bottom (in pixels) count as "at the end": the view keeps
/// following new rows until the learner scrolls up to read older ones.
const FOLLOW_SLACK: i32 = 40;

#[derive(Properties, PartialEq)]
pub struct TimelineProps {
    pub timeline: Rc<Timeline>,
    pub lanes: Rc<Lanes>,
    pub selected: Option<u64>,
}

/// Rows drawn above and below the view, so that a little scrolling shows rows at once.
const OVERSCAN_PX: u64 = 240;

#[component]
pub fn TimelinePanel(props: &TimelineProps) -> Html {
    let scroller = use_node_ref();
    let follow = use_mut_ref(|| true);
    // Where the learner scrolled to and how much shows, in pixels; drawn from when not
    // following the end.
    let view = use_state(|| (0u64, 600u64));
    // The first kept row's place when last drawn: dropping old rows moves every row up.
    let last_base = use_mut_ref(|| props.timeline.base());
    {
        let (scroller, follow, last_base) = (scroller.clone(), follow.clone(), last_base.clone());
        let view = view.clone();
        use_effect_with(props.timeline.clone(), move |timeline| {
            let Some(el) = scroller.cast::<HtmlElement>() else {
                return;
            };
            let shown = el.client_height().max(0) as u64;
            if shown != view.1 {
                view.set((el.scroll_top().max(0) as u64, shown));
            }
            let base = timeline.base();
            let moved = base.saturating_sub(std::mem::replace(&mut *last_base.borrow_mut(), base));
            if *follow.borrow() {
                el.set_scroll_top(el.scroll_height());
            } else if moved > 0 {
                // Keep the rows the learner reads where they were.
                let top = (el.scroll_top() as u64).saturating_sub(moved);
                el.set_scroll_top(top as i32);
                view.set((top, el.client_height().max(0) as u64));
            }
        });
    }
    let on_scroll = {
        let (scroller, follow, view) = (scroller.clone(), follow.clone(), view.clone());
        Callback::from(move |_: Event| {
            if let Some(el) = scroller.cast::<HtmlElement>() {
                let at_end =
                    el.scroll_height() - el.scroll_top() - el.client_height() < FOLLOW_SLACK;
                *follow.borrow_mut() = at_end;
                view.set((
                    el.scroll_top().max(0) as u64,
                    el.client_height().max(0) as u64,
                ));
            }
        })
    };
    let lanes = &props.lanes;
    let timeline = &props.timeline;
    let background = lane_background(lanes);
    let height = timeline.height();
    let (top, shown) = *view;
    let top = if *follow.borrow() {
        height.saturating_sub(shown)
    } else {
        top
    };
    let from = top.saturating_sub(OVERSCAN_PX);
    let to = top + shown + OVERSCAN_PX;
    html! {
        <div class="panel timeline">
            <h2>
                { "Timeline" }
                if timeline.dropped > 0 {
                    <span class="muted small">
                        { format!(" ({} oldest rows dropped; export the trace to keep everything)",
                            timeline.dropped) }
                    </span>
                }
            </h2>
            <svg class="defs" width="0" height="0" aria-hidden="true">
                <defs>
                    <marker id="arrowhead" viewBox="0 0 10 10" refX="9" refY="5"
                        markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                        <path d="M 0 0 L 10 5 L 0 10 z" />
                    </marker>
                </defs>
            </svg>
            <div class="lane-titles">
                <span class="t">{ "time" }</span>
                <div class="area">
                    { for lanes.titles.iter().enumerate().map(|(i, title)| html! {
                        <span class="lane-title" style={format!("left: {:.3}%", lanes.x(i))}>
                            { title }
                        </span>
                    }) }
                </div>
            </div>
            <div class="rows" data-testid="timeline" data-rows={timeline.rows.len().to_string()}
                ref={scroller} onscroll={on_scroll}>
                <div class="content" style={format!("height: {height}px")}>
                    <div class="lanes-bg" style={background}></div>
                    if timeline.rows.is_empty() {
                        <div class="trow note">{ "Spawn a device, or pick a lesson: every packet appears here." }</div>
                    }
                    { for timeline.window(from, to).map(|(top, row)| html! {
                        <TimelineRow key={row.seq()} row={row.clone()} lanes={lanes.clone()}
                            top={top} selected={is_selected(row, props.selected)} />
                    }) }
                </div>
            </div>
        </div>
    }
}

fn is_selected(row: &Row, selected: Option<u64>) -> bool {
    match row {
        Row::Packet { packet, .. } => Some(packet.id) == selected,
        _ => false,
    }
}

/// One vertical line per lane, drawn once behind every row as stacked backgrounds.
fn lane_background(lanes: &Lanes) -> String {
    let n = lanes.titles.len();
    let images = vec!["linear-gradient(#c8d1dc, #c8d1dc)"; n].join(", ");
    let positions: Vec<String> = (0..n).map(|i| format!("{:.3}% 0", lanes.x(i))).collect();
    format!(
        "background-image: {images}; background-position: {}; background-size: 1px 100%; \
         background-repeat: no-repeat;",
        positions.join(", ")
    )
}

#[derive(Properties, PartialEq)]
struct RowProps {
    row: Rc<Row>,
    lanes: Rc<Lanes>,
    /// Where the row is drawn, in pixels from the top of the kept rows.
    top: u64,
    selected: bool,
}

#[component]
fn TimelineRow(props: &RowProps) -> Html {
    let sim = use_sim();
    let place = format!("top: {}px; height: {}px", props.top, props.row.height());
    match props.row.as_ref() {
        Row::Packet { packet, lost, .. } => {
            let id = packet.id;
            let select = Callback::from(move |_: MouseEvent| sim.select(Some(id)));
            html! {
                <PacketRow packet={packet.clone()} lost={*lost} lanes={props.lanes.clone()}
                    selected={props.selected} onselect={select} place={place} />
            }
        }
        Row::Rule {
            at,
            code,
            explanation,
            detail,
            ..
        } => html! {
            <div class="trow rule" data-testid="rule" data-rule={*code} style={place}
                title={format!("{code}: {explanation} ({detail})")}>
                <span class="t">{ seconds(*at) }</span>
                <div class="area">
                    <span class="rule-code">{ *code }</span>
                    <span>{ format!("{code}: {explanation}") }</span>
                    if !detail.is_empty() { <span class="muted">{ format!(" ({detail})") }</span> }
                </div>
            </div>
        },
        Row::Policy {
            at,
            client_id,
            reason,
            ..
        } => html! {
            <div class="trow policy-denied" data-testid="policy-denied" style={place}
                title={reason.clone()}>
                <span class="t">{ seconds(*at) }</span>
                <div class="area">
                    <span class="policy-text">{ reason }</span>
                    <span class="muted">{ format!(" ({client_id})") }</span>
                </div>
            </div>
        },
        Row::Note { at, text, .. } => html! {
            <div class="trow note" style={place} title={text.clone()}>
                <span class="t">{ seconds(*at) }</span>
                <div class="area"><span class="note-text">{ text }</span></div>
            </div>
        },
    }
}

#[derive(Properties, PartialEq)]
struct PacketRowProps {
    packet: Rc<PacketTrace>,
    lost: Option<&'static str>,
    lanes: Rc<Lanes>,
    selected: bool,
    onselect: Callback<MouseEvent>,
    /// The row's `top` and `height` style.
    place: String,
}

#[component]
fn PacketRow(props: &PacketRowProps) -> Html {
    let p = &props.packet;
    let lanes = &props.lanes;
    let (from, to) = ends(lanes, p);
    let (x1, x2) = (lanes.x(from), lanes.x(to));
    let (data_from, data_to) = match p.direction {
        Direction::ToBroker => (p.client_id.clone(), "broker".to_owned()),
        Direction::ToDevice => ("broker".to_owned(), p.client_id.clone()),
    };
    let title = match props.lost {
        Some(why) => format!("sent {}, lost: {why}", seconds(p.sent_at)),
        None => format!(
            "sent {}, arrives {}",
            seconds(p.sent_at),
            seconds(p.arrives_at)
        ),
    };
    let class = classes!(
        "trow",
        "packet",
        p.kind.to_ascii_lowercase(),
        props.lost.map(|_| "lost"),
        props.selected.then_some("selected")
    );
    html! {
        <div class={class} data-testid="packet" data-kind={p.kind} data-from={data_from}
            data-to={data_to} data-packet={p.id.to_string()} title={title} style={props.place.clone()}
            onclick={props.onselect.clone()}>
            <span class="t">{ seconds(p.sent_at) }</span>
            <div class="area">
                <svg class="arrow" width="100%" height="100%" aria-hidden="true">
                    <line x1={format!("{x1:.3}%")} y1="5" x2={format!("{x2:.3}%")} y2="19"
                        marker-end="url(#arrowhead)" />
                </svg>
                <span class="label" style={format!("left: {:.3}%", (x1 + x2) / 2.0)}>
                    <b>{ p.kind }</b>{ " " }{ &p.label }
                    if let Some(why) = props.lost { <span class="lost-why">{ format!(" ✕ {why}") }</span> }
                </span>
            </div>
        </div>
    }
}
