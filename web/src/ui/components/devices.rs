//! The devices panel: spawning one device or a load of them, and the device cards.

use std::rc::Rc;

use broker_core::ProtocolVersion;
use broker_wasm::{DeviceSpec, DeviceView, WillSpec};
use web_sys::{HtmlElement, HtmlInputElement};
use yew::prelude::*;

use super::device_card::DeviceCard;
use super::{checked, input_or_placeholder, number, selected};
use crate::ui::hooks::use_sim;

/// Up to this many devices, every card is in the page at its natural height; past it the
/// list is windowed: cards take a fixed height (their inside scrolls) and only those in
/// view are in the page, so hundreds of devices cost no more per frame than a handful.
const MAX_CARDS: usize = 24;

/// The height of a card in the windowed list, gap included, in pixels.
const CARD_PX: i32 = 236;

/// Cards drawn above and below the view.
const OVERSCAN_CARDS: i32 = 2;

#[derive(Properties, PartialEq)]
pub struct DevicesProps {
    pub devices: Rc<Vec<Rc<DeviceView>>>,
}

#[component]
pub fn DevicesPanel(props: &DevicesProps) -> Html {
    let filter = use_state(String::new);
    let on_filter = {
        let filter = filter.clone();
        Callback::from(move |e: InputEvent| {
            filter.set(e.target_unchecked_into::<HtmlInputElement>().value());
        })
    };
    let matching: Vec<&Rc<DeviceView>> = props
        .devices
        .iter()
        .filter(|d| filter.is_empty() || d.spec.client_id.contains(filter.as_str()))
        .collect();
    let windowed = props.devices.len() > MAX_CARDS;
    html! {
        <div class="panel devices">
            <h2>{ "Devices" }</h2>
            <SpawnForm count={props.devices.len()} />
            <LoadForm />
            if windowed {
                <input class="filter" placeholder="filter by client id" oninput={on_filter} />
                <WindowedCards devices={matching.into_iter().cloned().collect::<Vec<_>>()} />
            } else {
                <div class="cards">
                    { for matching.iter().map(|d| html! {
                        <DeviceCard key={d.id} device={(*d).clone()} />
                    }) }
                </div>
            }
        </div>
    }
}

/// The trimmed text of an input, `None` when it is empty.
fn text(node: &NodeRef) -> Option<String> {
    node.cast::<HtmlInputElement>()
        .map(|i| i.value().trim().to_owned())
        .filter(|v| !v.is_empty())
}

#[derive(Properties, PartialEq)]
struct WindowedProps {
    devices: Vec<Rc<DeviceView>>,
}

/// Every device's card in a scrolling box, only those in view in the page.
#[component]
fn WindowedCards(props: &WindowedProps) -> Html {
    let scroller = use_node_ref();
    let view = use_state(|| (0i32, 600i32));
    let on_scroll = {
        let (scroller, view) = (scroller.clone(), view.clone());
        Callback::from(move |_: Event| {
            if let Some(el) = scroller.cast::<HtmlElement>() {
                view.set((el.scroll_top(), el.client_height()));
            }
        })
    };
    let (top, shown) = *view;
    let first = (top / CARD_PX - OVERSCAN_CARDS).max(0) as usize;
    let last = ((top + shown) / CARD_PX + 1 + OVERSCAN_CARDS).max(0) as usize;
    let height = props.devices.len() as i32 * CARD_PX;
    html! {
        <div class="cards windowed" data-testid="device-list"
            data-devices={props.devices.len().to_string()} ref={scroller} onscroll={on_scroll}>
            <div class="content" style={format!("height: {height}px")}>
                { for props.devices.iter().enumerate().take(last).skip(first).map(|(i, d)| html! {
                    <div class="slot" key={d.id}
                        style={format!("top: {}px; height: {}px", i as i32 * CARD_PX, CARD_PX - 6)}>
                        <DeviceCard device={d.clone()} />
                    </div>
                }) }
            </div>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct SpawnProps {
    count: usize,
}

#[component]
fn SpawnForm(props: &SpawnProps) -> Html {
    let sim = use_sim();
    let id_ref = use_node_ref();
    let clean_ref = use_node_ref();
    let keep_alive_ref = use_node_ref();
    let will_topic_ref = use_node_ref();
    let will_payload_ref = use_node_ref();
    let version_ref = use_node_ref();
    let expiry_ref = use_node_ref();
    let will_delay_ref = use_node_ref();
    let aliases_ref = use_node_ref();
    let username_ref = use_node_ref();
    let certificate_ref = use_node_ref();
    let spawn = {
        let (username_ref, certificate_ref) = (username_ref.clone(), certificate_ref.clone());
        let (id_ref, clean_ref, keep_alive_ref) =
            (id_ref.clone(), clean_ref.clone(), keep_alive_ref.clone());
        let (will_topic_ref, will_payload_ref) = (will_topic_ref.clone(), will_payload_ref.clone());
        let (version_ref, expiry_ref) = (version_ref.clone(), expiry_ref.clone());
        let (will_delay_ref, aliases_ref) = (will_delay_ref.clone(), aliases_ref.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let client_id = input_or_placeholder(&id_ref);
            let will_topic = will_topic_ref
                .cast::<HtmlInputElement>()
                .map(|i| i.value())
                .unwrap_or_default();
            let will = (!will_topic.trim().is_empty()).then(|| WillSpec {
                topic: will_topic.trim().to_owned(),
                payload: input_or_placeholder(&will_payload_ref),
                qos: 1,
                retain: false,
                delay: number(&will_delay_ref),
            });
            let version = match selected(&version_ref).as_str() {
                "5.0" => ProtocolVersion::V5,
                _ => ProtocolVersion::V311,
            };
            let spec = DeviceSpec {
                version,
                session_expiry: number(&expiry_ref),
                topic_aliases: checked(&aliases_ref),
                clean_session: checked(&clean_ref),
                keep_alive: input_or_placeholder(&keep_alive_ref)
                    .trim()
                    .parse()
                    .unwrap_or(60),
                will,
                username: text(&username_ref),
                certificate: text(&certificate_ref),
                ..DeviceSpec::new(client_id.trim())
            };
            sim.spawn(spec);
            // The field is cleared for the next device; its placeholder suggests a name.
            if let Some(input) = id_ref.cast::<HtmlInputElement>() {
                input.set_value("");
            }
        })
    };
    html! {
        <form class="spawn" onsubmit={spawn}>
            <input data-testid="new-client-id" ref={id_ref}
                placeholder={format!("device-{}", props.count + 1)} aria-label="client id" />
            <select data-testid="new-version" ref={version_ref} aria-label="MQTT version">
                <option value="3.1.1" selected=true>{ "MQTT 3.1.1" }</option>
                <option value="5.0">{ "MQTT 5.0" }</option>
            </select>
            <button data-testid="spawn-device" type="submit">{ "spawn device" }</button>
            <details>
                <summary>{ "options" }</summary>
                <label>
                    <input type="checkbox" data-testid="new-clean-session" ref={clean_ref}
                        checked=true />
                    { " clean session" }
                </label>
                <label>
                    { "keep-alive (s) " }
                    <input class="short" data-testid="new-keep-alive" ref={keep_alive_ref}
                        placeholder="60" />
                </label>
                <label>
                    { "will topic " }
                    <input data-testid="new-will-topic" ref={will_topic_ref}
                        placeholder="none" />
                </label>
                <label>
                    { "will payload " }
                    <input data-testid="new-will-payload" ref={will_payload_ref}
                        placeholder="offline" />
                </label>
                <label title="sent in CONNECT: the principal that per-principal policies apply to">
                    { "user name " }
                    <input data-testid="new-username" ref={username_ref} placeholder="none" />
                </label>
                <label title="a client certificate's subject common name, as over mutual TLS: the principal, before any user name">
                    { "certificate CN " }
                    <input data-testid="new-certificate" ref={certificate_ref} placeholder="none" />
                </label>
                <fieldset>
                    <legend>{ "MQTT 5.0 only" }</legend>
                    <label title="Session Expiry Interval: how long the broker keeps the session">
                        { "session expiry (s) " }
                        <input class="short" data-testid="new-session-expiry" ref={expiry_ref}
                            placeholder="0" />
                    </label>
                    <label title="Will Delay Interval: how long the broker waits before the Will">
                        { "will delay (s) " }
                        <input class="short" data-testid="new-will-delay" ref={will_delay_ref}
                            placeholder="0" />
                    </label>
                    <label title="replace repeated topics by numbers, both ways">
                        <input type="checkbox" data-testid="new-topic-aliases" ref={aliases_ref} />
                        { " topic aliases" }
                    </label>
                </fieldset>
            </details>
        </form>
    }
}

#[component]
fn LoadForm() -> Html {
    let sim = use_sim();
    let count_ref = use_node_ref();
    let period_ref = use_node_ref();
    let start = {
        let (count_ref, period_ref) = (count_ref.clone(), period_ref.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let count: u32 = input_or_placeholder(&count_ref).trim().parse().unwrap_or(0);
            let every: u64 = input_or_placeholder(&period_ref)
                .trim()
                .parse()
                .unwrap_or(1000);
            sim.start_load(count, every);
        })
    };
    html! {
        <details class="load">
            <summary>{ "load generator" }</summary>
            <form onsubmit={start}>
                <input class="short" data-testid="load-count" ref={count_ref} placeholder="500" />
                { " devices, each publishing every " }
                <input class="short" data-testid="load-period" ref={period_ref} placeholder="1000" />
                { " ms " }
                <button data-testid="load-start" type="submit">{ "start" }</button>
            </form>
        </details>
    }
}
