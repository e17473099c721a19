//! The panels of the page, one file each.

mod broker;
mod clock;
mod device_card;
mod devices;
mod inspector;
mod lessons;
mod live;
mod mqtt5_fields;
mod notice;
mod share;
mod tables;
mod timeline;

pub use broker::BrokerPanel;
pub use clock::Clock;
pub use devices::DevicesPanel;
pub use inspector::Inspector;
pub use lessons::LessonsPanel;
pub use live::LivePanel;
pub use notice::NoticeBar;
pub use share::SharePanel;
pub use tables::Tables;
pub use timeline::TimelinePanel;

use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::NodeRef;

/// The text of an input, or its placeholder when left empty: every field shows its
/// default as a placeholder, so a learner (or a test) can type over an empty field.
fn input_or_placeholder(node: &NodeRef) -> String {
    node.cast::<HtmlInputElement>()
        .map(|i| {
            let value = i.value();
            if value.trim().is_empty() {
                i.placeholder()
            } else {
                value
            }
        })
        .unwrap_or_default()
}

/// The number typed in an input, `None` when it is empty or not a number.
fn number<T: core::str::FromStr>(node: &NodeRef) -> Option<T> {
    node.cast::<HtmlInputElement>()
        .and_then(|i| i.value().trim().parse().ok())
}

fn checked(node: &NodeRef) -> bool {
    node.cast::<HtmlInputElement>().is_some_and(|i| i.checked())
}

fn selected(node: &NodeRef) -> String {
    node.cast::<HtmlSelectElement>()
        .map(|s| s.value())
        .unwrap_or_default()
}

/// A QoS select's value, 0 when unreadable.
fn selected_qos(node: &NodeRef) -> u8 {
    selected(node).parse().unwrap_or(0)
}
