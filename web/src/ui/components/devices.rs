//! The devices panel: spawning one device or a load of them, and the device cards.

use std::rc::Rc;

use broker_core::ProtocolVersion;
use broker_wasm::{Action, DeviceSpec, DeviceView, WillSpec};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::device_card::DeviceCard;
use super::{checked, input_or_placeholder, number, selected};
use crate::ui::hooks::use_sim;

/// The most device cards shown at once. Hundreds of cards would cost every frame a
/// diff of thousands of elements; the filter finds any device.
const MAX_CARDS: usize = 24;

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
    let hidden = matching.len().saturating_sub(MAX_CARDS);
    html! {
        <div class="panel devices">
            <h2>{ "Devices" }</h2>
            <SpawnForm count={props.devices.len()} />
            <LoadForm />
            if props.devices.len() > MAX_CARDS {
                <input class="filter" placeholder="filter by client id" oninput={on_filter} />
            }
            <div class="cards">
                { for matching.iter().take(MAX_CARDS).map(|d| html! {
                    <DeviceCard key={d.id} device={(*d).clone()} />
                }) }
            </div>
            if hidden > 0 {
                <p class="muted">{ format!("{hidden} more devices not shown; filter to find one") }</p>
            }
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
    let spawn = {
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
            spawn_load(&sim, count, every.max(1));
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

/// Spawns a watcher subscribed to `load/#` and `count` devices that each publish a
/// counter to `load/<n>` every `every_ms`, their first messages spread over one period.
fn spawn_load(sim: &crate::ui::sim::Sim, count: u32, every_ms: u64) {
    let first = sim.device_count();
    sim.spawn(DeviceSpec::new("load-watcher"));
    sim.apply(Action::Subscribe {
        device: first,
        filter: "load/#".into(),
        qos: 0,
        options: Default::default(),
    });
    for n in 0..count {
        let device = sim.device_count();
        sim.spawn(DeviceSpec::new(&format!("load-{n}")));
        sim.apply(Action::AutoPublish {
            device,
            topic: format!("load/{n}"),
            qos: 0,
            every_ms: Some(every_ms),
            first_in_ms: Some(every_ms * u64::from(n) / u64::from(count.max(1))),
        });
    }
}
