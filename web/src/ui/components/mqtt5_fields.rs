//! The MQTT 5.0 controls of a device card: subscription options, a message's expiry,
//! and disconnecting with the Will. Shown only for a device that speaks 5.0; the card
//! reads them through the node references it passes in.

use broker_wasm::SubscribeOptions;
use yew::prelude::*;

use super::{checked, number, selected};

/// The references a card reads its MQTT 5.0 fields through.
#[derive(Clone, Default, PartialEq)]
pub struct Mqtt5Refs {
    pub no_local: NodeRef,
    pub retain_as_published: NodeRef,
    pub retain_handling: NodeRef,
    pub subscription_id: NodeRef,
    pub message_expiry: NodeRef,
}

impl Mqtt5Refs {
    /// The subscription options as set; the defaults where the fields are not shown.
    pub fn subscribe_options(&self) -> SubscribeOptions {
        SubscribeOptions {
            no_local: checked(&self.no_local),
            retain_as_published: checked(&self.retain_as_published),
            retain_handling: selected(&self.retain_handling).parse().unwrap_or(0),
            subscription_id: number(&self.subscription_id),
        }
    }

    /// The Message Expiry Interval typed, if any.
    pub fn message_expiry(&self) -> Option<u32> {
        number(&self.message_expiry)
    }
}

#[derive(Properties, PartialEq)]
pub struct Mqtt5FieldsProps {
    pub refs: Mqtt5Refs,
    pub connected: bool,
    pub on_disconnect_with_will: Callback<MouseEvent>,
}

#[component]
pub fn Mqtt5Fields(props: &Mqtt5FieldsProps) -> Html {
    let r = &props.refs;
    html! {
        <details class="mqtt5" data-testid="mqtt5-options">
            <summary>{ "MQTT 5 options" }</summary>
            <div class="row">
                <label title="No Local: do not send me what I publish myself">
                    <input type="checkbox" data-testid="subscribe-no-local" ref={r.no_local.clone()} />
                    { " no local" }
                </label>
                <label title="Retain As Published: keep the RETAIN flag of forwarded messages">
                    <input type="checkbox" data-testid="subscribe-rap"
                        ref={r.retain_as_published.clone()} />
                    { " retain as published" }
                </label>
                <select data-testid="subscribe-retain-handling" ref={r.retain_handling.clone()}
                    aria-label="retain handling">
                    <option value="0" selected=true>{ "retained: on subscribe" }</option>
                    <option value="1">{ "retained: if new" }</option>
                    <option value="2">{ "retained: never" }</option>
                </select>
                <input class="short" data-testid="subscribe-id" ref={r.subscription_id.clone()}
                    placeholder="sub id" aria-label="subscription identifier" />
            </div>
            <div class="row">
                <label title="Message Expiry Interval: the broker discards the message after this">
                    { "message expiry (s) " }
                    <input class="short" data-testid="publish-expiry"
                        ref={r.message_expiry.clone()} placeholder="none" />
                </label>
                <button data-testid="disconnect-with-will" disabled={!props.connected}
                    onclick={props.on_disconnect_with_will.clone()}
                    title="DISCONNECT with Reason Code 0x04: the broker publishes the Will">
                    { "disconnect with will" }
                </button>
            </div>
        </details>
    }
}
