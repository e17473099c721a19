//! What the simulator shows of the aws-iot profile's Device Shadow service: each shadow's
//! desired and reported state, its delta and its version.

use broker_core::shadow::Shadows;
use serde::Serialize;
use serde_json::{Map, Value};

/// One shadow, its state as compact JSON text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShadowView {
    /// The thing's name.
    pub thing: String,
    /// The shadow's name; `None` for the classic shadow.
    pub name: Option<String>,
    /// The document's version.
    pub version: u64,
    /// The desired state, if any.
    pub desired: Option<String>,
    /// The reported state, if any.
    pub reported: Option<String>,
    /// What desired asks that reported does not show, if anything.
    pub delta: Option<String>,
}

/// Every shadow, in name order.
pub fn shadow_views(shadows: &Shadows) -> Vec<ShadowView> {
    let text = |m: &Map<String, Value>| Value::Object(m.clone()).to_string();
    shadows
        .iter()
        .map(|(id, doc)| {
            let delta = doc.delta();
            ShadowView {
                thing: id.thing.clone(),
                name: id.name.clone(),
                version: doc.version,
                desired: doc.desired.as_ref().map(text),
                reported: doc.reported.as_ref().map(text),
                delta: (!delta.is_empty()).then(|| text(&delta)),
            }
        })
        .collect()
}
