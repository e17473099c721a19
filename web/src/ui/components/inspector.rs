//! The packet inspector: the selected packet's bytes in hex, each field highlighted and
//! named from the codec's spans.

use std::rc::Rc;

use broker_wasm::{Direction, PacketTrace};
use yew::prelude::*;

use crate::model::hex;
use crate::model::timeline::seconds;

/// How many colours fields cycle through (classes `f0` to `f7` in the style sheet).
const COLOURS: usize = 8;

#[derive(Properties, PartialEq)]
pub struct InspectorProps {
    pub packet: Option<Rc<PacketTrace>>,
}

#[component]
pub fn Inspector(props: &InspectorProps) -> Html {
    let hovered = use_state(|| None::<usize>);
    let Some(p) = &props.packet else {
        return html! {
            <div class="panel inspector" data-testid="inspector">
                <h2>{ "Inspector" }</h2>
                <p class="muted">{ "Click a packet on the timeline to see its bytes." }</p>
            </div>
        };
    };
    let direction = match p.direction {
        Direction::ToBroker => format!("{} → broker", p.client_id),
        Direction::ToDevice => format!("broker → {}", p.client_id),
    };
    let hover = |field: Option<usize>| {
        let hovered = hovered.clone();
        Callback::from(move |_: MouseEvent| hovered.set(field))
    };
    let class_of = |field: Option<usize>| {
        classes!(
            field.map(|f| format!("f{}", f % COLOURS)),
            (field.is_some() && field == *hovered).then_some("hot")
        )
    };
    html! {
        <div class="panel inspector" data-testid="inspector" data-kind={p.kind}
            data-packet={p.id.to_string()}>
            <h2>{ "Inspector" }</h2>
            <p>
                <strong>{ p.kind }</strong>{ " " }{ &p.label }<br/>
                <span class="muted">
                    { format!("{direction}, sent {}, arrives {}, {} bytes",
                        seconds(p.sent_at), seconds(p.arrives_at), p.bytes.len()) }
                </span>
            </p>
            <div class="hex" data-testid="hex">
                { for hex::rows(&p.bytes, &p.spans).into_iter().map(|(offset, cells)| html! {
                    <div class="hexrow">
                        <span class="offset">{ format!("{offset:04x}") }</span>
                        { for cells.into_iter().map(|b| {
                            let title = b.field.and_then(|f| p.spans.get(f)).map(|s| s.field);
                            html! {
                                <span class={classes!("byte", class_of(b.field))} title={title}
                                    onmouseover={hover(b.field)}>{ b.hex }</span>
                            }
                        }) }
                    </div>
                }) }
            </div>
            <table class="fields" data-testid="fields">
                <tr><th>{ "field" }</th><th>{ "bytes" }</th><th>{ "hex" }</th></tr>
                { for p.spans.iter().enumerate().map(|(i, s)| html! {
                    <tr class={class_of(Some(i))} onmouseover={hover(Some(i))}>
                        <td><span class={classes!("swatch", format!("f{}", i % COLOURS))}></span>{ s.field }</td>
                        <td>{ format!("{}..{}", s.start, s.end) }</td>
                        <td><code>{ hex::field_hex(&p.bytes, s) }</code></td>
                    </tr>
                }) }
            </table>
        </div>
    }
}
