//! One device: its connection, subscribe and publish forms, auto-ack, and inbox.

use std::rc::Rc;

use broker_core::ProtocolVersion;
use broker_wasm::{Action, DeviceState, DeviceView, InboxMessage};
use yew::prelude::*;

use super::mqtt5_fields::{Mqtt5Fields, Mqtt5Refs};
use super::{checked, input_or_placeholder, selected_qos};
use crate::ui::hooks::use_sim;

#[derive(Properties, PartialEq)]
pub struct DeviceCardProps {
    pub device: Rc<DeviceView>,
}

#[component]
pub fn DeviceCard(props: &DeviceCardProps) -> Html {
    let sim = use_sim();
    let d = &props.device;
    let id = d.id;
    let filter_ref = use_node_ref();
    let sub_qos_ref = use_node_ref();
    let topic_ref = use_node_ref();
    let payload_ref = use_node_ref();
    let pub_qos_ref = use_node_ref();
    let retain_ref = use_node_ref();
    let v5 = use_memo((), |_| Mqtt5Refs::default());
    let act = |make: Rc<dyn Fn() -> Action>| {
        let sim = sim.clone();
        Callback::from(move |_: MouseEvent| {
            sim.apply(make());
        })
    };
    let connect = act(Rc::new(move || Action::Connect { device: id }));
    let disconnect = act(Rc::new(move || Action::Disconnect {
        device: id,
        with_will: false,
    }));
    let disconnect_with_will = act(Rc::new(move || Action::Disconnect {
        device: id,
        with_will: true,
    }));
    let drop_network = act(Rc::new(move || Action::DropNetwork { device: id }));
    let subscribe = {
        let (filter_ref, qos_ref, v5) = (filter_ref.clone(), sub_qos_ref.clone(), v5.clone());
        act(Rc::new(move || Action::Subscribe {
            device: id,
            filter: input_or_placeholder(&filter_ref).trim().to_owned(),
            qos: selected_qos(&qos_ref),
            options: v5.subscribe_options(),
        }))
    };
    let unsubscribe = {
        let filter_ref = filter_ref.clone();
        act(Rc::new(move || Action::Unsubscribe {
            device: id,
            filter: input_or_placeholder(&filter_ref).trim().to_owned(),
        }))
    };
    let publish = {
        let (topic_ref, payload_ref) = (topic_ref.clone(), payload_ref.clone());
        let (qos_ref, retain_ref, v5) = (pub_qos_ref.clone(), retain_ref.clone(), v5.clone());
        act(Rc::new(move || Action::Publish {
            device: id,
            topic: input_or_placeholder(&topic_ref).trim().to_owned(),
            payload: input_or_placeholder(&payload_ref),
            qos: selected_qos(&qos_ref),
            retain: checked(&retain_ref),
            message_expiry: v5.message_expiry(),
        }))
    };
    let auto_ack = {
        let sim = sim.clone();
        let on = !d.auto_ack;
        Callback::from(move |_: Event| {
            sim.apply(Action::SetAutoAck { device: id, on });
        })
    };
    let connected = d.state != DeviceState::Disconnected;
    let is_v5 = d.spec.version == ProtocolVersion::V5;
    let state = d.state.name();
    let badge = match d.state {
        DeviceState::Connected => "connected",
        DeviceState::Connecting => "connecting…",
        DeviceState::Disconnected => "disconnected",
    };
    html! {
        <article class={classes!("card", state)} data-testid="device"
            data-client-id={d.spec.client_id.clone()} data-state={state}
            data-device={id.to_string()}>
            <header>
                <strong>{ &d.spec.client_id }</strong>
                <span class="muted">{ format!(" #{id}") }</span>
                <span class={classes!("badge", state)}>{ badge }</span>
                if !d.spec.clean_session { <span class="badge">{ "persistent" }</span> }
                if is_v5 { <span class="badge v5" data-testid="mqtt5">{ "MQTT 5" }</span> }
                if let Some(principal) = d.spec.certificate.as_ref().or(d.spec.username.as_ref()) {
                    <span class="badge" data-testid="device-principal"
                        title="the principal its policies are attached to">
                        { format!("as {principal}") }
                    </span>
                }
            </header>
            <div class="row">
                <button data-testid="connect" disabled={connected} onclick={connect}>{ "connect" }</button>
                <button data-testid="disconnect" disabled={!connected} onclick={disconnect}
                    title="DISCONNECT, then close: the Will is discarded">{ "disconnect" }</button>
                <button data-testid="drop-network" disabled={!connected} onclick={drop_network}
                    title="the network fails: no DISCONNECT, the Will is published">
                    { "drop network" }
                </button>
                <label title="acknowledge incoming QoS 1 and 2 messages at once">
                    <input type="checkbox" data-testid="auto-ack" checked={d.auto_ack}
                        onchange={auto_ack} />
                    { " auto-ack" }
                </label>
            </div>
            <div class="row">
                <input data-testid="subscribe-filter" ref={filter_ref} placeholder="lab/#"
                    aria-label="topic filter" />
                <QosSelect testid="subscribe-qos" node={sub_qos_ref} />
                <button data-testid="subscribe" onclick={subscribe}>{ "subscribe" }</button>
                <button data-testid="unsubscribe" onclick={unsubscribe}>{ "unsubscribe" }</button>
            </div>
            <div class="row">
                <input data-testid="publish-topic" ref={topic_ref}
                    placeholder={format!("lab/{}", d.spec.client_id)} aria-label="topic" />
                <input data-testid="publish-payload" ref={payload_ref} placeholder="hello"
                    aria-label="payload" />
                <QosSelect testid="publish-qos" node={pub_qos_ref} />
                <label title="RETAIN flag">
                    <input type="checkbox" data-testid="publish-retain" ref={retain_ref} />
                    { " retain" }
                </label>
                <button data-testid="publish" onclick={publish}>{ "publish" }</button>
            </div>
            if is_v5 {
                <Mqtt5Fields refs={(*v5).clone()} connected={connected}
                    on_disconnect_with_will={disconnect_with_will} />
            }
            <Unacked device={id} unacked={d.unacked.clone()} />
            <Inbox messages={d.inbox.clone()} received={d.received} />
        </article>
    }
}

#[derive(Properties, PartialEq)]
struct QosProps {
    testid: &'static str,
    node: NodeRef,
}

#[component]
fn QosSelect(props: &QosProps) -> Html {
    html! {
        <select data-testid={props.testid} ref={props.node.clone()} aria-label="QoS">
            <option value="0" selected=true>{ "QoS 0" }</option>
            <option value="1">{ "QoS 1" }</option>
            <option value="2">{ "QoS 2" }</option>
        </select>
    }
}

#[derive(Properties, PartialEq)]
struct UnackedProps {
    device: u32,
    unacked: Vec<u16>,
}

/// Messages held because auto-ack is off, each with its acknowledge button.
#[component]
fn Unacked(props: &UnackedProps) -> Html {
    let sim = use_sim();
    if props.unacked.is_empty() {
        return html! {};
    }
    let device = props.device;
    html! {
        <div class="row unacked">
            <span class="muted">{ "awaiting your ack: " }</span>
            { for props.unacked.iter().map(|&packet_id| {
                let sim = sim.clone();
                let ack = Callback::from(move |_: MouseEvent| {
                    sim.apply(Action::Ack { device, packet_id });
                });
                html! {
                    <button data-testid="ack" onclick={ack}>{ format!("ack id {packet_id}") }</button>
                }
            }) }
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct InboxProps {
    messages: Vec<InboxMessage>,
    received: u64,
}

#[component]
fn Inbox(props: &InboxProps) -> Html {
    let older = props.received.saturating_sub(props.messages.len() as u64);
    html! {
        <div class="inbox" data-testid="inbox">
            if props.messages.is_empty() {
                <span class="muted">{ "inbox empty" }</span>
            }
            if older > 0 {
                <span class="muted">{ format!("{older} older messages") }</span>
            }
            { for props.messages.iter().rev().map(|m| html! {
                <div class="message" data-testid="message" key={m.n}>
                    <code class="topic">{ &m.topic }</code>
                    <span class="payload">{ &m.payload }</span>
                    <span class="flags">{ flags(m) }</span>
                    if !m.properties.is_empty() {
                        <span class="properties" data-testid="message-properties">
                            { m.properties.join(", ") }
                        </span>
                    }
                </div>
            }) }
        </div>
    }
}

/// QoS, packet id, DUP and RETAIN of an inbox message, in a few characters.
fn flags(m: &InboxMessage) -> String {
    let mut s = format!("q{}", m.qos);
    if let Some(id) = m.packet_id {
        s.push_str(&format!(" id {id}"));
    }
    if m.dup {
        s.push_str(" DUP");
    }
    if m.retain {
        s.push_str(" RETAIN");
    }
    s
}
