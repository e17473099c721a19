//! AWS IoT's Device Shadow service over MQTT: a component beside the broker. It sees the
//! PUBLISH packets to its request topics (`get`, `update`, `delete`), keeps the documents,
//! and answers with messages the broker routes like any other, timestamped on the broker's
//! clock. docs/shadow.md says what it implements, with AWS's sentence for each rule, and
//! what it does not.

mod document;
mod topic;

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

pub use document::{Document, Section};
pub use topic::{parse_request, Operation, ShadowId};

/// The limits of AWS's Device Shadow service that a request can break.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most levels of nesting in a request's `state.desired` or `state.reported`,
    /// counting that section itself ("JSON contains too many levels of nesting; maximum is
    /// 6").
    pub max_depth: usize,
    /// The largest document, desired and reported state together, in bytes ("8 KB").
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 6,
            max_bytes: 8192,
        }
    }
}

/// A message the service publishes in reply: a topic and a JSON payload.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// For example `$aws/things/lamp/shadow/update/accepted`.
    pub topic: String,
    /// The JSON document.
    pub payload: Vec<u8>,
    /// Who the reply is for.
    pub audience: Audience,
}

/// Who a reply is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// The answer to one client's request: `get/accepted` and every `rejected`.
    Requester,
    /// News of a state change, for everyone who follows the shadow: `update/accepted`,
    /// `update/delta`, `update/documents`, `delete/accepted`.
    Subscribers,
}

/// Every shadow the service keeps.
#[derive(Clone, Debug, Default)]
pub struct Shadows {
    documents: BTreeMap<ShadowId, Document>,
    /// The version a deleted shadow had: "deleting a shadow does not reset its version
    /// number to 0".
    deleted: BTreeMap<ShadowId, u64>,
}

/// A refused request: AWS's HTTP-style code and message.
struct Rejection {
    code: u16,
    message: String,
}

impl Rejection {
    fn new(code: u16, message: &str) -> Self {
        Rejection {
            code,
            message: message.to_owned(),
        }
    }
}

impl Shadows {
    /// What the store keeps of shadow `id` (durability, `store/record.rs`): its document
    /// as JSON, or the version it had when deleted (which the next update continues), or
    /// nothing.
    pub(crate) fn stored(&self, id: &ShadowId) -> Option<Vec<u8>> {
        let value = match (self.documents.get(id), self.deleted.get(id)) {
            (Some(doc), _) => json!({
                "version": doc.version,
                "desired": doc.desired,
                "reported": doc.reported,
                "desiredMetadata": doc.desired_metadata,
                "reportedMetadata": doc.reported_metadata,
            }),
            (None, Some(version)) => json!({ "deletedVersion": version }),
            (None, None) => return None,
        };
        serde_json::to_vec(&value).ok()
    }

    /// Restores shadow `id` from what `stored` made of it.
    pub(crate) fn restore(&mut self, id: ShadowId, bytes: &[u8]) -> Result<(), String> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| format!("an unreadable shadow: {e}"))?;
        if let Some(version) = value.get("deletedVersion").and_then(Value::as_u64) {
            self.deleted.insert(id, version);
            return Ok(());
        }
        let object = |key: &str| value.get(key).and_then(Value::as_object).cloned();
        let version = value
            .get("version")
            .and_then(Value::as_u64)
            .ok_or("a shadow without a version")?;
        let doc = Document {
            desired: object("desired"),
            reported: object("reported"),
            desired_metadata: object("desiredMetadata").unwrap_or_default(),
            reported_metadata: object("reportedMetadata").unwrap_or_default(),
            version,
        };
        self.documents.insert(id, doc);
        Ok(())
    }

    /// The shadow `id`'s document, if it exists.
    pub fn get(&self, id: &ShadowId) -> Option<&Document> {
        self.documents.get(id)
    }

    /// Every shadow, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&ShadowId, &Document)> {
        self.documents.iter()
    }

    /// Serves one request published to `id`'s `op` topic at `timestamp` (seconds since
    /// the epoch on the server, virtual seconds in the simulator); returns the replies in
    /// the order they are published.
    pub fn handle(
        &mut self,
        id: &ShadowId,
        op: Operation,
        payload: &[u8],
        timestamp: u64,
        limits: Limits,
    ) -> Vec<Reply> {
        let prefix = format!("{}/{}", id.prefix(), op.as_str());
        // The body of `get` and `delete` is ignored, except a client token: AWS's SDKs
        // send `{"clientToken": "..."}` there.
        let token = client_token(payload);
        let outcome = match op {
            Operation::Get => self.serve_get(id, timestamp, token.as_deref()),
            Operation::Delete => self.serve_delete(id, timestamp, token.as_deref()),
            Operation::Update => self.serve_update(id, payload, timestamp, limits),
        };
        match outcome {
            Ok(replies) => replies
                .into_iter()
                .map(|(suffix, body)| reply(&prefix, suffix, body))
                .collect(),
            Err((rejection, token)) => {
                let mut body = Map::new();
                body.insert("code".into(), json!(rejection.code));
                body.insert("message".into(), json!(rejection.message));
                // AWS's examples of 404 and 409 carry no timestamp ("This property is
                // not present in all error response documents").
                if let Some(token) = token {
                    body.insert("clientToken".into(), json!(token));
                }
                vec![reply(&prefix, "rejected", body)]
            }
        }
    }

    fn serve_get(&self, id: &ShadowId, timestamp: u64, token: Option<&str>) -> Outcome {
        let Some(doc) = self.documents.get(id) else {
            return Err((not_found(id), token.map(str::to_owned)));
        };
        let mut body = doc.snapshot(true);
        body.insert("timestamp".into(), json!(timestamp));
        with_token(&mut body, token);
        Ok(vec![("accepted", body)])
    }

    fn serve_delete(&mut self, id: &ShadowId, timestamp: u64, token: Option<&str>) -> Outcome {
        let Some(doc) = self.documents.remove(id) else {
            return Err((not_found(id), token.map(str::to_owned)));
        };
        self.deleted.insert(id.clone(), doc.version);
        let mut body = Map::new();
        body.insert("version".into(), json!(doc.version));
        body.insert("timestamp".into(), json!(timestamp));
        with_token(&mut body, token);
        Ok(vec![("accepted", body)])
    }

    fn serve_update(
        &mut self,
        id: &ShadowId,
        payload: &[u8],
        timestamp: u64,
        limits: Limits,
    ) -> Outcome {
        let request = UpdateRequest::parse(payload, limits)?;
        let token = request.token.as_deref();
        let current = self.documents.get(id);
        let current_version = current
            .map(|d| d.version)
            .or_else(|| self.deleted.get(id).copied())
            .unwrap_or(0);
        // Optimistic locking: "the service rejects the request with an HTTP 409 conflict
        // response code if the current version of the state document does not match the
        // version supplied".
        if request.version.is_some_and(|v| v != current_version) {
            return Err((
                Rejection::new(409, "Version conflict"),
                request.token.clone(),
            ));
        }
        let previous = current.cloned();
        let mut doc = previous.clone().unwrap_or_default();
        for (section, value) in &request.sections {
            doc.apply(*section, value, timestamp);
        }
        if doc.counted_size() > limits.max_bytes {
            return Err((
                Rejection::new(413, "The payload exceeds the maximum size allowed"),
                request.token.clone(),
            ));
        }
        doc.version = current_version + 1;

        // update/accepted echoes the request's state, with metadata for what it wrote.
        let mut state = Map::new();
        let mut metadata = Map::new();
        for (section, value) in &request.sections {
            state.insert(section.key().into(), value.clone());
            metadata.insert(section.key().into(), document::stamp(value, timestamp));
        }
        let mut accepted = Map::new();
        accepted.insert("state".into(), Value::Object(state));
        accepted.insert("metadata".into(), Value::Object(metadata));
        accepted.insert("version".into(), json!(doc.version));
        accepted.insert("timestamp".into(), json!(timestamp));
        with_token(&mut accepted, token);

        let mut documents = Map::new();
        documents.insert(
            "previous".into(),
            previous.map_or(Value::Null, |p| Value::Object(p.snapshot(false))),
        );
        documents.insert("current".into(), Value::Object(doc.snapshot(false)));
        documents.insert("timestamp".into(), json!(timestamp));
        with_token(&mut documents, token);

        let mut replies = vec![("accepted", accepted), ("documents", documents)];
        // A delta goes out whenever desired and reported differ after the update.
        let delta = doc.delta();
        if !delta.is_empty() {
            let mut body = Map::new();
            body.insert("version".into(), json!(doc.version));
            body.insert("timestamp".into(), json!(timestamp));
            body.insert("metadata".into(), Value::Object(doc.delta_metadata(&delta)));
            body.insert("state".into(), Value::Object(delta));
            with_token(&mut body, token);
            replies.push(("delta", body));
        }
        self.deleted.remove(id);
        self.documents.insert(id.clone(), doc);
        Ok(replies)
    }
}

/// The replies of an accepted request (topic suffix and body), or why it was refused and
/// the client token to echo.
type Outcome = Result<Vec<(&'static str, Map<String, Value>)>, (Rejection, Option<String>)>;

fn reply(prefix: &str, suffix: &str, body: Map<String, Value>) -> Reply {
    let audience = if prefix.ends_with("/get") || suffix == "rejected" {
        Audience::Requester
    } else {
        Audience::Subscribers
    };
    Reply {
        topic: format!("{prefix}/{suffix}"),
        payload: Value::Object(body).to_string().into_bytes(),
        audience,
    }
}

fn with_token(body: &mut Map<String, Value>, token: Option<&str>) {
    if let Some(token) = token {
        body.insert("clientToken".into(), json!(token));
    }
}

fn not_found(id: &ShadowId) -> Rejection {
    Rejection {
        code: 404,
        message: format!("No shadow exists with name: '{}'", id.display_name()),
    }
}

/// The `clientToken` of a JSON object body, if it has a usable one.
fn client_token(payload: &[u8]) -> Option<String> {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(payload) else {
        return None;
    };
    match body.get("clientToken") {
        Some(Value::String(token)) if token.len() <= MAX_CLIENT_TOKEN => Some(token.clone()),
        _ => None,
    }
}

/// "The client token can be no longer than 64 bytes."
const MAX_CLIENT_TOKEN: usize = 64;

/// An update request, checked in the order of AWS's error table.
struct UpdateRequest {
    sections: Vec<(Section, Value)>,
    version: Option<u64>,
    token: Option<String>,
}

impl UpdateRequest {
    fn parse(payload: &[u8], limits: Limits) -> Result<Self, (Rejection, Option<String>)> {
        let bad = |message: &str| (Rejection::new(400, message), None);
        let Ok(text) = core::str::from_utf8(payload) else {
            return Err((
                Rejection::new(
                    415,
                    "Unsupported documented encoding; supported encoding is UTF-8",
                ),
                None,
            ));
        };
        let Ok(Value::Object(body)) = serde_json::from_str::<Value>(text) else {
            return Err(bad("Invalid JSON"));
        };
        let token = match body.get("clientToken") {
            None => None,
            Some(Value::String(t)) if t.len() <= MAX_CLIENT_TOKEN => Some(t.clone()),
            Some(_) => return Err(bad("Invalid clientToken")),
        };
        let with_token = |message: &str| (Rejection::new(400, message), token.clone());
        let version = match body.get("version") {
            None => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| with_token("Invalid version"))?),
        };
        let state = match body.get("state") {
            None => return Err(with_token("Missing required node: state")),
            Some(Value::Object(state)) => state,
            Some(_) => return Err(with_token("State node must be an object")),
        };
        let mut sections = Vec::new();
        for (key, value) in state {
            let section = match key.as_str() {
                "desired" => Section::Desired,
                "reported" => Section::Reported,
                _ => return Err(with_token("State contains an invalid node")),
            };
            match value {
                Value::Object(_) | Value::Null => {}
                _ if section == Section::Desired => {
                    return Err(with_token("Desired node must be an object"))
                }
                _ => return Err(with_token("Reported node must be an object")),
            }
            if document::depth(value) > limits.max_depth {
                let message = format!(
                    "JSON contains too many levels of nesting; maximum is {}",
                    limits.max_depth
                );
                return Err(with_token(&message));
            }
            sections.push((section, value.clone()));
        }
        Ok(UpdateRequest {
            sections,
            version,
            token,
        })
    }
}
