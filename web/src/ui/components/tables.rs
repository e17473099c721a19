//! The broker's state: its sessions, its retained messages, and (aws-iot) its Device
//! Shadows.

use std::rc::Rc;

use broker_core::{RetainedMessage, SessionView};
use broker_wasm::ShadowView;
use yew::prelude::*;

/// Rows shown per table; hundreds of sessions would only slow the page down.
const MAX_ROWS: usize = 50;

#[derive(Properties, PartialEq)]
pub struct TablesProps {
    pub sessions: Rc<Vec<SessionView>>,
    pub retained: Rc<Vec<RetainedMessage>>,
    pub shadows: Rc<Vec<ShadowView>>,
    /// Set while the page is attached to a server, whose tables are not streamed.
    #[prop_or_default]
    pub live: bool,
}

#[component]
pub fn Tables(props: &TablesProps) -> Html {
    let more = |n: usize| {
        (n > MAX_ROWS)
            .then(|| html! { <p class="muted">{ format!("and {} more", n - MAX_ROWS) }</p> })
    };
    if props.live {
        return html! {
            <div class="panel">
                <h2>{ "Sessions" }</h2>
                <p class="muted">{ "Attached to the server: its sessions and retained messages are \
                    not streamed to the page (they live in the server, and its /metrics counts \
                    them). A recording imported into the page shows them as it plays." }</p>
            </div>
        };
    }
    html! {
        <>
        <div class="panel">
            <h2>{ format!("Sessions ({})", props.sessions.len()) }</h2>
            <table data-testid="sessions" data-count={props.sessions.len().to_string()}
                data-connected={props.sessions.iter().filter(|s| s.connected).count().to_string()}>
                <tr>
                    <th>{ "client id" }</th><th>{ "connected" }</th><th>{ "clean" }</th>
                    <th>{ "subscriptions" }</th><th title="unacknowledged outgoing QoS 1/2">{ "in flight" }</th>
                    <th>{ "queued" }</th>
                </tr>
                { for props.sessions.iter().take(MAX_ROWS).map(|s| html! {
                    <tr data-testid="session" data-client-id={s.client_id.clone()}>
                        <td><code>{ &s.client_id }</code></td>
                        <td>{ if s.connected { "yes" } else { "no" } }</td>
                        <td>{ if s.clean_session { "1" } else { "0" } }</td>
                        <td>{ s.subscriptions.iter().map(|(f, q)| format!("{} q{}", f.as_str(), q.bits()))
                            .collect::<Vec<_>>().join(", ") }</td>
                        <td>{ s.inflight.len() }</td>
                        <td>{ s.queued }</td>
                    </tr>
                }) }
            </table>
            { more(props.sessions.len()).unwrap_or_default() }
        </div>
        <div class="panel">
            <h2>{ format!("Retained messages ({})", props.retained.len()) }</h2>
            <table data-testid="retained">
                <tr><th>{ "topic" }</th><th>{ "payload" }</th><th>{ "QoS" }</th></tr>
                { for props.retained.iter().take(MAX_ROWS).map(|r| html! {
                    <tr data-testid="retained-message" data-topic={r.topic.as_str().to_owned()}>
                        <td><code>{ r.topic.as_str() }</code></td>
                        <td>{ String::from_utf8_lossy(&r.payload).into_owned() }</td>
                        <td>{ r.qos.bits() }</td>
                    </tr>
                }) }
            </table>
            { more(props.retained.len()).unwrap_or_default() }
        </div>
        if !props.shadows.is_empty() {
            <div class="panel">
                <h2>{ format!("Device Shadows ({})", props.shadows.len()) }</h2>
                <table data-testid="shadows">
                    <tr>
                        <th>{ "thing / shadow" }</th><th>{ "version" }</th>
                        <th>{ "desired" }</th><th>{ "reported" }</th><th>{ "delta" }</th>
                    </tr>
                    { for props.shadows.iter().take(MAX_ROWS).map(|s| html! {
                        <tr data-testid="shadow" data-thing={s.thing.clone()}
                            data-version={s.version.to_string()}>
                            <td><code>{ match &s.name {
                                Some(name) => format!("{} / {name}", s.thing),
                                None => format!("{} (classic)", s.thing),
                            } }</code></td>
                            <td>{ s.version }</td>
                            <td><code>{ s.desired.clone().unwrap_or_default() }</code></td>
                            <td><code>{ s.reported.clone().unwrap_or_default() }</code></td>
                            <td data-testid="shadow-delta">
                                <code>{ s.delta.clone().unwrap_or_default() }</code>
                            </td>
                        </tr>
                    }) }
                </table>
                { more(props.shadows.len()).unwrap_or_default() }
            </div>
        }
        </>
    }
}
