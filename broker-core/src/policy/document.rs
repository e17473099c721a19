//! Parsing AWS IoT policy documents (JSON), with errors that give line, column and reason.

use core::fmt;

use serde::Deserialize;

/// An action a statement can allow or deny.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Action {
    /// `iot:Connect`, on `client/<clientId>`.
    Connect,
    /// `iot:Publish`, on `topic/<topicName>`.
    Publish,
    /// `iot:Subscribe`, on `topicfilter/<filter>`.
    Subscribe,
    /// `iot:Receive`, on `topic/<topicName>`.
    Receive,
    /// `iot:RetainPublish`, on `topic/<topicName>`.
    RetainPublish,
}

impl Action {
    /// The action's name in policy documents.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Connect => "iot:Connect",
            Action::Publish => "iot:Publish",
            Action::Subscribe => "iot:Subscribe",
            Action::Receive => "iot:Receive",
            Action::RetainPublish => "iot:RetainPublish",
        }
    }

    /// The resource kind of the action's ARN (`client`, `topic`, `topicfilter`).
    pub fn resource_kind(&self) -> &'static str {
        match self {
            Action::Connect => "client",
            Action::Subscribe => "topicfilter",
            Action::Publish | Action::Receive | Action::RetainPublish => "topic",
        }
    }
}

/// Allow or Deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Effect {
    /// The statement grants its actions.
    Allow,
    /// The statement refuses its actions; a Deny beats any Allow.
    Deny,
}

/// One statement of a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Statement {
    /// Allow or Deny.
    pub effect: Effect,
    /// The action patterns as written (`iot:Publish`, `iot:*`, ...).
    pub actions: Vec<String>,
    /// The resource patterns as written (ARNs with `*`, `?` and policy variables).
    pub resources: Vec<String>,
}

impl Statement {
    /// Does this statement name `action`? `iot:*` and `*` name every action; names are
    /// compared without regard to case, as AWS does.
    pub fn names(&self, action: &Action) -> bool {
        self.actions.iter().any(|a| {
            let a = a.to_ascii_lowercase();
            a == "*"
                || a == "iot:*"
                || super::glob::glob_match(&a, &action.name().to_ascii_lowercase())
        })
    }
}

/// A parsed policy document.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PolicyDocument {
    /// The policy's name, for events and error messages.
    pub name: String,
    /// Its statements, in document order.
    pub statements: Vec<Statement>,
}

/// Why a policy document was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    /// The policy's name.
    pub name: String,
    /// 1-based line of the problem (0 if it concerns the whole document).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "policy {}: line {}, column {}: {}",
            self.name, self.line, self.column, self.reason
        )
    }
}

impl std::error::Error for PolicyError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(rename = "Version")]
    _version: Option<String>,
    #[serde(rename = "Statement")]
    statement: OneOrMany<RawStatement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatement {
    #[serde(rename = "Sid")]
    _sid: Option<String>,
    #[serde(rename = "Effect")]
    effect: Effect,
    #[serde(rename = "Action")]
    action: OneOrMany<String>,
    #[serde(rename = "Resource")]
    resource: OneOrMany<String>,
}

/// AWS accepts a single value or a list wherever a list is expected. Written by hand
/// rather than as an untagged enum so that an error inside keeps its own message and
/// position instead of "did not match any variant".
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::value::{MapAccessDeserializer, StrDeserializer};
        use serde::de::{Error, MapAccess, SeqAccess, Visitor};

        struct V<T>(core::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value or a list of values")
            }

            fn visit_str<E: Error>(self, s: &str) -> Result<Self::Value, E> {
                T::deserialize(StrDeserializer::<E>::new(s)).map(OneOrMany::One)
            }

            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Self::Value, M::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(OneOrMany::One)
            }

            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(OneOrMany::Many(items))
            }
        }

        deserializer.deserialize_any(V(core::marker::PhantomData))
    }
}

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(t) => vec![t],
            OneOrMany::Many(v) => v,
        }
    }
}

impl PolicyDocument {
    /// Parses a policy document named `name`.
    pub fn parse(name: &str, json: &str) -> Result<PolicyDocument, PolicyError> {
        let raw: Raw = serde_json::from_str(json).map_err(|e| PolicyError {
            name: name.to_owned(),
            line: e.line(),
            column: e.column(),
            // serde_json's message ends with the position, which the error states apart.
            reason: strip_position(&e.to_string()).to_owned(),
        })?;
        let statements: Vec<Statement> = raw
            .statement
            .into_vec()
            .into_iter()
            .map(|s| Statement {
                effect: s.effect,
                actions: s.action.into_vec(),
                resources: s.resource.into_vec(),
            })
            .collect();
        let whole = |reason: &str| PolicyError {
            name: name.to_owned(),
            line: 0,
            column: 0,
            reason: reason.to_owned(),
        };
        if statements.is_empty() {
            return Err(whole("the policy has no statement"));
        }
        if statements
            .iter()
            .any(|s| s.actions.is_empty() || s.resources.is_empty())
        {
            return Err(whole(
                "every statement needs at least one Action and one Resource",
            ));
        }
        Ok(PolicyDocument {
            name: name.to_owned(),
            statements,
        })
    }
}

/// "unknown variant `Alow` at line 3 column 20" becomes "unknown variant `Alow`".
fn strip_position(message: &str) -> &str {
    match message.rsplit_once(" at line ") {
        Some((reason, position)) if position.contains(" column ") => reason,
        _ => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_or_lists_are_accepted() {
        let doc = PolicyDocument::parse(
            "p",
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:*","Resource":["*"]}}"#,
        )
        .expect("valid");
        assert_eq!(doc.statements[0].actions, ["iot:*"]);
    }

    #[test]
    fn errors_give_line_and_reason() {
        let json = "{\n  \"Statement\": [{\n    \"Effect\": \"Alow\",\n    \"Action\": \"iot:Connect\",\n    \"Resource\": \"*\"\n  }]\n}";
        let err = PolicyDocument::parse("bad", json).expect_err("a typo");
        assert_eq!(err.line, 3);
        assert!(err.reason.contains("Alow"), "{}", err.reason);
        assert!(
            !err.reason.contains("at line"),
            "the position is stated once: {err}"
        );
    }

    #[test]
    fn empty_statements_are_refused() {
        assert!(PolicyDocument::parse("p", r#"{"Statement":[]}"#).is_err());
        assert!(PolicyDocument::parse(
            "p",
            r#"{"Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}"#
        )
        .is_err());
    }
}
