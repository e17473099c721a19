//! The Device Shadow service's reserved topics: `$aws/things/{thing}/shadow/{op}` for a
//! thing's classic shadow and `$aws/things/{thing}/shadow/name/{shadow}/{op}` for a named
//! one, where `op` is `get`, `update` or `delete` (docs/shadow.md quotes AWS's table).

/// Which shadow: a thing's classic (unnamed) shadow, or one of its named shadows.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShadowId {
    /// The thing's name.
    pub thing: String,
    /// The shadow's name; `None` for the classic shadow.
    pub name: Option<String>,
}

impl ShadowId {
    /// The topic prefix every reply about this shadow starts with.
    pub fn prefix(&self) -> String {
        match &self.name {
            None => format!("$aws/things/{}/shadow", self.thing),
            Some(name) => format!("$aws/things/{}/shadow/name/{name}", self.thing),
        }
    }

    /// The name AWS's 404 message quotes: the shadow's, or the thing's for a classic one.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.thing)
    }
}

/// What a request asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Returns the whole document.
    Get,
    /// Merges a partial state document.
    Update,
    /// Deletes the shadow.
    Delete,
}

impl Operation {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Operation::Get => "get",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }
}

/// AWS's limits on names: a thing name of 1 to 128 characters and a shadow name of 1 to
/// 64, both of `[a-zA-Z0-9:_-]` (the UpdateThingShadow API reference).
const MAX_THING_NAME: usize = 128;
const MAX_SHADOW_NAME: usize = 64;

fn valid_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-'))
}

/// The shadow and operation a PUBLISH topic requests, or `None` if it is not a request
/// topic (the reply topics, `.../update/delta` among them, are not requests). A name
/// outside AWS's limits is not a shadow either: the service does not answer it.
pub fn parse_request(topic: &str) -> Option<(ShadowId, Operation)> {
    let rest = topic.strip_prefix("$aws/things/")?;
    let (thing, rest) = rest.split_once("/shadow/")?;
    let (name, op) = match rest.strip_prefix("name/") {
        Some(named) => {
            let (name, op) = named.split_once('/')?;
            (Some(name), op)
        }
        None => (None, rest),
    };
    let op = match op {
        "get" => Operation::Get,
        "update" => Operation::Update,
        "delete" => Operation::Delete,
        _ => return None,
    };
    if !valid_name(thing, MAX_THING_NAME) || name.is_some_and(|n| !valid_name(n, MAX_SHADOW_NAME)) {
        return None;
    }
    let id = ShadowId {
        thing: thing.to_owned(),
        name: name.map(str::to_owned),
    };
    Some((id, op))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_topics_are_recognised_and_reply_topics_are_not() {
        let (id, op) = parse_request("$aws/things/lamp/shadow/update").expect("classic");
        assert_eq!(
            (id.thing.as_str(), id.name, op),
            ("lamp", None, Operation::Update)
        );
        let (id, op) = parse_request("$aws/things/lamp/shadow/name/colour/get").expect("named");
        assert_eq!(id.name.as_deref(), Some("colour"));
        assert_eq!(op, Operation::Get);
        assert_eq!(id.prefix(), "$aws/things/lamp/shadow/name/colour");
        for not_a_request in [
            "$aws/things/lamp/shadow/update/accepted",
            "$aws/things/lamp/shadow/update/delta",
            "$aws/things/lamp/shadow/name/colour",
            "$aws/things/lamp/shadow/list",
            "$aws/things/la mp/shadow/get",
            "things/lamp/shadow/get",
        ] {
            assert_eq!(parse_request(not_a_request), None, "{not_a_request}");
        }
        let long = format!("$aws/things/{}/shadow/get", "t".repeat(129));
        assert_eq!(parse_request(&long), None);
    }
}
