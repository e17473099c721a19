//! The broker panel: the profile, each AWS rule's control, the seed and the latency.
//! Every change replays the run so far under the new settings.

use std::rc::Rc;

use broker_core::{Config, Profile, Qos2Mode, RetainMode};
use web_sys::{HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

use crate::ui::hooks::use_sim;
use crate::ui::sim::Sim;
use crate::ui::state::{Policies, Shared};

#[derive(Properties, PartialEq)]
pub struct BrokerProps {
    pub config: Shared<Config>,
    pub latency_ms: u64,
    /// The policy documents attached.
    pub policies: Rc<Policies>,
    /// Set while the page shows a server live or a recording: the settings shown are
    /// theirs, and read-only.
    #[prop_or_default]
    pub locked: Option<&'static str>,
}

/// Changes one setting, from the new value of the control that fired `Event`.
type Edit = fn(&mut Config, &mut u64, &str) -> bool;

fn control(sim: &Sim, edit: Edit) -> Callback<Event> {
    let sim = sim.clone();
    Callback::from(move |e: Event| {
        let value = e
            .target_dyn_into::<HtmlInputElement>()
            .map(|i| i.value())
            .or_else(|| e.target_dyn_into::<HtmlSelectElement>().map(|s| s.value()))
            .unwrap_or_default();
        let (mut config, mut latency) = sim.settings();
        if edit(&mut config, &mut latency, value.trim()) {
            sim.reconfigure(config, latency);
        }
    })
}

/// Parses a probability between 0 and 1.
fn probability(value: &str) -> Option<f64> {
    value
        .parse::<f64>()
        .ok()
        .filter(|p| (0.0..=1.0).contains(p))
}

#[component]
pub fn BrokerPanel(props: &BrokerProps) -> Html {
    let sim = use_sim();
    let c = &props.config.0;
    let aws = &c.aws;
    let off = c.profile != Profile::AwsIot;
    let profile = control(&sim, |c, _, v| match v.parse::<Profile>() {
        Ok(p) => {
            c.profile = p;
            true
        }
        Err(_) => false,
    });
    let d1 = control(&sim, |c, _, v| {
        probability(v)
            .map(|p| c.aws.qos0_duplicate_probability = p)
            .is_some()
    });
    let d2 = control(&sim, |c, _, v| {
        c.aws.qos2 = if v == "disconnect" {
            Qos2Mode::Disconnect
        } else {
            Qos2Mode::Ignore
        };
        true
    });
    let d4 = control(&sim, |c, _, v| {
        v.parse().map(|ms| c.aws.subscription_delay_ms = ms).is_ok()
    });
    let d5 = control(&sim, |c, _, v| {
        c.aws.retain = if v == "exact-match" {
            RetainMode::ExactMatch
        } else {
            RetainMode::Disconnect
        };
        true
    });
    let d7 = control(&sim, |c, _, v| {
        probability(v)
            .map(|p| c.aws.resend_probability = p)
            .is_some()
    });
    let d8 = control(&sim, |c, _, v| {
        probability(v)
            .map(|p| c.aws.reorder_probability = p)
            .is_some()
    });
    let d8_delay = control(&sim, |c, _, v| {
        v.parse().map(|ms| c.aws.reorder_max_delay_ms = ms).is_ok()
    });
    let seed = control(&sim, |c, _, v| v.parse().map(|s| c.seed = s).is_ok());
    let latency = control(&sim, |_, l, v| v.parse().map(|ms| *l = ms).is_ok());
    html! {
        <div class="panel broker">
            <h2>{ "Broker" }</h2>
            if let Some(feed) = props.locked {
                <p class="muted small" data-testid="broker-locked">
                    { if feed == "replaying" {
                        "The recording's settings, read-only; close it to change the simulator's."
                    } else {
                        "The server's settings, read-only; detach to change the simulator's."
                    } }
                </p>
            }
            <fieldset class="plain" disabled={props.locked.is_some()}>
            <label class="field">
                { "profile " }
                <select data-testid="profile" onchange={profile}>
                    <option value="aws-iot" selected={c.profile == Profile::AwsIot}>{ "aws-iot" }</option>
                    <option value="mqtt" selected={c.profile == Profile::Standard}>{ "mqtt (3.1.1 and 5.0)" }</option>
                </select>
            </label>
            if props.locked.is_none() {
                <p class="muted small">{ "Changing a setting replays everything so far under it." }</p>
            }
            <fieldset disabled={off} class="rules">
                <legend>{ if off { "AWS rules (aws-iot only)" } else { "AWS rules" } }</legend>
                <Knob code="D1" text="QoS 0 delivered twice, probability">
                    <input data-testid="d1" type="number" min="0" max="1" step="0.05"
                        value={aws.qos0_duplicate_probability.to_string()} onchange={d1} />
                </Knob>
                <Knob code="D2" text="QoS 2 requested">
                    <select data-testid="d2" onchange={d2}>
                        <option value="ignore" selected={aws.qos2 == Qos2Mode::Ignore}>{ "no acknowledgement" }</option>
                        <option value="disconnect" selected={aws.qos2 == Qos2Mode::Disconnect}>{ "disconnect" }</option>
                    </select>
                </Knob>
                <Knob code="D3" text="session present on resume: always on" />
                <Knob code="D4" text="subscription delay (ms)">
                    <input data-testid="d4" type="number" min="0" step="100"
                        value={aws.subscription_delay_ms.to_string()} onchange={d4} />
                </Knob>
                <Knob code="D5" text="RETAIN = 1">
                    <select data-testid="d5" onchange={d5}>
                        <option value="disconnect" selected={aws.retain == RetainMode::Disconnect}>{ "disconnect" }</option>
                        <option value="exact-match" selected={aws.retain == RetainMode::ExactMatch}>{ "store (2021 rules)" }</option>
                    </select>
                </Knob>
                <Knob code="D6" text="duplicate client id takes over: always on" />
                <Knob code="D7" text="resend with a new packet id, probability">
                    <input data-testid="d7" type="number" min="0" max="1" step="0.05"
                        value={aws.resend_probability.to_string()} onchange={d7} />
                </Knob>
                <Knob code="D8" text="reorder outgoing packets, probability">
                    <input data-testid="d8" type="number" min="0" max="1" step="0.05"
                        value={aws.reorder_probability.to_string()} onchange={d8} />
                </Knob>
                <Knob code="D8" text="longest hold (ms)">
                    <input data-testid="d8-delay" type="number" min="0" step="10"
                        value={aws.reorder_max_delay_ms.to_string()} onchange={d8_delay} />
                </Knob>
            </fieldset>
            <label class="field">
                { "seed " }
                <input data-testid="seed" type="number" min="0" value={c.seed.to_string()}
                    onchange={seed} />
            </label>
            <label class="field">
                { "latency (ms, each way) " }
                <input data-testid="latency" type="number" min="0" value={props.latency_ms.to_string()}
                    onchange={latency} />
            </label>
            if props.locked.is_none() {
                <PolicyEditor policies={props.policies.clone()} />
            }
            </fieldset>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct KnobProps {
    code: &'static str,
    text: &'static str,
    #[prop_or_default]
    children: Html,
}

#[component]
fn Knob(props: &KnobProps) -> Html {
    html! {
        <label class="knob">
            <span class="rule-code">{ props.code }</span>
            <span class="knob-text">{ props.text }</span>
            { props.children.clone() }
        </label>
    }
}

#[derive(Properties, PartialEq)]
struct PolicyEditorProps {
    policies: Rc<Policies>,
}

/// AWS IoT policies: one document for every principal, or one per principal (a device's
/// user name or certificate common name, as set when spawning it). The document shown is
/// the one of the principal named above it (empty: every device); applying it replays
/// the run under it. A malformed document is refused with its line and column, shown
/// here, and the run stays as it was.
#[component]
fn PolicyEditor(props: &PolicyEditorProps) -> Html {
    let sim = use_sim();
    let text = use_node_ref();
    let principal = use_state(String::new);
    let error = use_state(|| None::<String>);
    // A new scenario (a lesson, an import, a cleared policy) brings its own documents:
    // an error about the previous text no longer applies.
    {
        let error = error.clone();
        use_effect_with(props.policies.clone(), move |_| error.set(None));
    }
    let who = (!principal.trim().is_empty()).then(|| principal.trim().to_owned());
    let shown = match &who {
        Some(p) => props.policies.principals.get(p).cloned(),
        None => props.policies.global.clone(),
    };
    let on_principal = {
        let principal = principal.clone();
        Callback::from(move |e: InputEvent| {
            principal.set(e.target_unchecked_into::<HtmlInputElement>().value());
        })
    };
    let pick = |name: String| {
        let principal = principal.clone();
        Callback::from(move |_: MouseEvent| principal.set(name.clone()))
    };
    let apply = {
        let (sim, text, error, who) = (sim.clone(), text.clone(), error.clone(), who.clone());
        Callback::from(move |_: MouseEvent| {
            let value = text
                .cast::<HtmlTextAreaElement>()
                .map(|t| t.value())
                .unwrap_or_default();
            let policy = (!value.trim().is_empty()).then_some(value);
            error.set(sim.set_policy(who.as_deref(), policy).err());
        })
    };
    let clear = {
        let (sim, text, error, who) = (sim.clone(), text.clone(), error.clone(), who.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(t) = text.cast::<HtmlTextAreaElement>() {
                t.set_value("");
            }
            error.set(sim.set_policy(who.as_deref(), None).err());
        })
    };
    let any = props.policies.global.is_some() || !props.policies.principals.is_empty();
    html! {
        <fieldset class="policy">
            <legend>{ "AWS IoT policies" }</legend>
            <p class="muted small">
                { if any {
                    "Enforced: default deny, an explicit Deny wins. A device gets the document for every device and its principal's."
                } else {
                    "None attached: everything is allowed. Paste a policy document to enforce it."
                } }
            </p>
            <label class="field">
                { "for " }
                <input data-testid="policy-principal" placeholder="every device"
                    value={(*principal).clone()} oninput={on_principal}
                    title="a device's user name or certificate common name; empty for every device" />
            </label>
            if any {
                <p class="small" data-testid="policy-list">
                    { "attached: " }
                    if props.policies.global.is_some() {
                        <button class="link" onclick={pick(String::new())}>{ "every device" }</button>
                    }
                    { for props.policies.principals.keys().map(|name| html! {
                        <button class="link" data-principal={name.clone()} onclick={pick(name.clone())}>
                            { name.clone() }
                        </button>
                    }) }
                </p>
            }
            <textarea data-testid="policy-editor" rows="10" spellcheck="false" ref={text}
                value={shown.unwrap_or_default()}
                placeholder="{ \"Version\": \"2012-10-17\", \"Statement\": [ ... ] }" />
            if let Some(e) = &*error {
                <p class="policy-error" data-testid="policy-error">{ e.clone() }</p>
            }
            <button data-testid="policy-apply" onclick={apply}>{ "Apply policy" }</button>
            <button data-testid="policy-clear" onclick={clear}>{ "Remove policy" }</button>
        </fieldset>
    }
}
