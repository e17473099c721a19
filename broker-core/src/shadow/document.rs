//! A shadow's state document and the rules AWS documents for it: partial updates where
//! `null` removes a key and arrays are replaced whole, metadata timestamps mirroring the
//! state down to its leaves, and the delta between desired and reported state.
//! docs/shadow.md quotes AWS's sentence behind each rule.

use serde_json::{json, Map, Value};

/// One shadow: its desired and reported state, their metadata, and its version.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Document {
    /// The desired state; `None` when the document has none.
    pub desired: Option<Map<String, Value>>,
    /// The reported state; `None` when the document has none.
    pub reported: Option<Map<String, Value>>,
    /// When each desired value was last written, mirroring `desired`.
    pub desired_metadata: Map<String, Value>,
    /// When each reported value was last written, mirroring `reported`.
    pub reported_metadata: Map<String, Value>,
    /// Incremented by every accepted update; the first makes it 1.
    pub version: u64,
}

impl Document {
    /// Applies one section of an update (`desired` or `reported`): `null` removes the whole
    /// section, an object is merged into it.
    pub fn apply(&mut self, section: Section, update: &Value, timestamp: u64) {
        let (state, metadata) = match section {
            Section::Desired => (&mut self.desired, &mut self.desired_metadata),
            Section::Reported => (&mut self.reported, &mut self.reported_metadata),
        };
        match update {
            Value::Object(fields) => {
                merge(
                    state.get_or_insert_with(Map::new),
                    metadata,
                    fields,
                    timestamp,
                );
            }
            _ => {
                *state = None;
                metadata.clear();
            }
        }
    }

    /// The delta: what desired asks that reported does not show (empty when in step).
    pub fn delta(&self) -> Map<String, Value> {
        match (&self.desired, &self.reported) {
            (Some(desired), Some(reported)) => delta(desired, reported),
            (Some(desired), None) => desired.clone(),
            (None, _) => Map::new(),
        }
    }

    /// The delta's metadata: the desired metadata of the keys in it.
    pub fn delta_metadata(&self, delta: &Map<String, Value>) -> Map<String, Value> {
        delta_metadata(delta, &self.desired_metadata)
    }

    /// `{"state": {"desired", "reported"}, "metadata": {...}, "version"}`, the form of
    /// `update/documents`' `previous` and `current`; `delta` is added for `get/accepted`.
    pub fn snapshot(&self, with_delta: bool) -> Map<String, Value> {
        let mut state = Map::new();
        let mut metadata = Map::new();
        if let Some(desired) = &self.desired {
            state.insert("desired".into(), Value::Object(desired.clone()));
            metadata.insert(
                "desired".into(),
                Value::Object(self.desired_metadata.clone()),
            );
        }
        if let Some(reported) = &self.reported {
            state.insert("reported".into(), Value::Object(reported.clone()));
            metadata.insert(
                "reported".into(),
                Value::Object(self.reported_metadata.clone()),
            );
        }
        if with_delta {
            let delta = self.delta();
            if !delta.is_empty() {
                state.insert("delta".into(), Value::Object(delta));
            }
        }
        let mut out = Map::new();
        out.insert("state".into(), Value::Object(state));
        out.insert("metadata".into(), Value::Object(metadata));
        out.insert("version".into(), json!(self.version));
        out
    }

    /// The size that counts against AWS's document limit: the desired and reported state
    /// only ("Metadata do not contribute to the document size").
    pub fn counted_size(&self) -> usize {
        let len = |m: &Option<Map<String, Value>>| {
            m.as_ref()
                .map_or(0, |m| Value::Object(m.clone()).to_string().len())
        };
        len(&self.desired) + len(&self.reported)
    }
}

/// The two sections of state a request may write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// `state.desired`.
    Desired,
    /// `state.reported`.
    Reported,
}

impl Section {
    pub(crate) fn key(self) -> &'static str {
        match self {
            Section::Desired => "desired",
            Section::Reported => "reported",
        }
    }
}

/// Merges `update` into `state`: `null` removes a key, an object is merged key by key,
/// anything else (an array included) replaces the value. Every written leaf gets
/// `timestamp` in `metadata`.
fn merge(
    state: &mut Map<String, Value>,
    metadata: &mut Map<String, Value>,
    update: &Map<String, Value>,
    timestamp: u64,
) {
    for (key, value) in update {
        match value {
            Value::Null => {
                state.remove(key);
                metadata.remove(key);
            }
            Value::Object(fields) => {
                let sub_state = state
                    .entry(key.clone())
                    .and_modify(|v| {
                        if !v.is_object() {
                            *v = Value::Object(Map::new());
                        }
                    })
                    .or_insert_with(|| Value::Object(Map::new()));
                let sub_meta = metadata
                    .entry(key.clone())
                    .and_modify(|v| {
                        if !v.is_object() || v.get("timestamp").is_some() {
                            *v = Value::Object(Map::new());
                        }
                    })
                    .or_insert_with(|| Value::Object(Map::new()));
                if let (Value::Object(s), Value::Object(m)) = (sub_state, sub_meta) {
                    merge(s, m, fields, timestamp);
                }
            }
            other => {
                state.insert(key.clone(), other.clone());
                metadata.insert(key.clone(), stamp(other, timestamp));
            }
        }
    }
}

/// The metadata of a value written at `timestamp`: `{"timestamp": t}` for a leaf, one per
/// element for an array, and the same shape as the value for an object.
pub fn stamp(value: &Value, timestamp: u64) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|v| stamp(v, timestamp)).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), stamp(v, timestamp)))
                .collect(),
        ),
        _ => json!({ "timestamp": timestamp }),
    }
}

/// Every desired field that reported lacks or holds differently, with nested objects
/// compared field by field ("the delta contains the path all the way to the root") and
/// arrays compared whole.
fn delta(desired: &Map<String, Value>, reported: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, want) in desired {
        match (want, reported.get(key)) {
            (Value::Object(w), Some(Value::Object(r))) => {
                let sub = delta(w, r);
                if !sub.is_empty() {
                    out.insert(key.clone(), Value::Object(sub));
                }
            }
            (want, Some(have)) if want == have => {}
            (want, _) => {
                out.insert(key.clone(), want.clone());
            }
        }
    }
    out
}

fn delta_metadata(delta: &Map<String, Value>, metadata: &Map<String, Value>) -> Map<String, Value> {
    delta
        .iter()
        .filter_map(|(key, value)| {
            let meta = metadata.get(key)?;
            Some(match (value, meta) {
                (Value::Object(d), Value::Object(m)) if m.get("timestamp").is_none() => {
                    (key.clone(), Value::Object(delta_metadata(d, m)))
                }
                _ => (key.clone(), meta.clone()),
            })
        })
        .collect()
}

/// How many levels of objects and arrays `value` nests (a scalar is 0).
pub fn depth(value: &Value) -> usize {
    match value {
        Value::Object(fields) => 1 + fields.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    /// AWS's delta example: desired `lights.color {r:255, g:255, b:255}` against reported
    /// `{r:255, g:0, b:255}` gives `{"lights": {"color": {"g": 255}}}`.
    #[test]
    fn the_delta_keeps_the_path_to_the_root() {
        let mut doc = Document::default();
        let desired = json!({"lights": {"color": {"r": 255, "g": 255, "b": 255}}});
        let reported = json!({"lights": {"color": {"r": 255, "g": 0, "b": 255}}});
        doc.apply(Section::Desired, &desired, 1);
        doc.apply(Section::Reported, &reported, 2);
        assert_eq!(
            Value::Object(doc.delta()),
            json!({"lights": {"color": {"g": 255}}})
        );
        let meta = doc.delta_metadata(&doc.delta());
        assert_eq!(
            Value::Object(meta),
            json!({"lights": {"color": {"g": {"timestamp": 1}}}})
        );
    }

    #[test]
    fn null_removes_a_key_and_a_section_and_arrays_are_replaced_whole() {
        let mut doc = Document::default();
        doc.apply(
            Section::Reported,
            &json!({"color": "red", "rgb": [1, 2, 3]}),
            10,
        );
        doc.apply(Section::Reported, &json!({"color": null, "rgb": [4]}), 11);
        assert_eq!(doc.reported, Some(obj(json!({"rgb": [4]}))));
        assert_eq!(
            Value::Object(doc.reported_metadata.clone()),
            json!({"rgb": [{"timestamp": 11}]})
        );
        doc.apply(Section::Reported, &Value::Null, 12);
        assert_eq!(doc.reported, None);
        assert!(doc.reported_metadata.is_empty());
    }

    /// "Fields in the desired section that are not in the reported section are included
    /// in the delta. Fields that are in the reported section and not in the desired
    /// section are not included in the delta." Arrays compare whole.
    #[test]
    fn the_delta_follows_awss_rules() {
        let cases = [
            (json!({"a": 1}), json!({}), json!({"a": 1})),
            (json!({}), json!({"a": 1}), json!({})),
            (json!({"a": 1}), json!({"a": 1}), json!({})),
            (
                json!({"a": [1, 2]}),
                json!({"a": [1]}),
                json!({"a": [1, 2]}),
            ),
            (
                json!({"a": {"b": 1}}),
                json!({"a": 5}),
                json!({"a": {"b": 1}}),
            ),
        ];
        for (desired, reported, want) in cases {
            let mut doc = Document::default();
            doc.apply(Section::Desired, &desired, 1);
            doc.apply(Section::Reported, &reported, 1);
            assert_eq!(Value::Object(doc.delta()), want, "{desired} vs {reported}");
        }
    }

    #[test]
    fn depth_counts_objects_and_arrays() {
        assert_eq!(depth(&json!(1)), 0);
        assert_eq!(depth(&json!({"a": 1})), 1);
        assert_eq!(depth(&json!({"a": {"b": [1]}})), 3);
    }
}
