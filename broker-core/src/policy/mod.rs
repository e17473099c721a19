//! AWS IoT policies (docs/policies.md): who may connect, publish, subscribe and
//! receive. Documents attach to principals; evaluation is default deny, and an explicit
//! Deny beats any Allow. The broker asks at each enforcement point and emits every
//! decision as an event, so the simulator can show why a device was refused.

mod document;
mod glob;

use std::collections::BTreeMap;

pub use document::{Action, Effect, PolicyDocument, PolicyError, Statement};
pub use glob::{glob_match, substitute, Variables};

/// Policies and the principals they are attached to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicySet {
    /// The region written into resource ARNs.
    pub region: String,
    /// The account id written into resource ARNs.
    pub account: String,
    default: Vec<PolicyDocument>,
    principals: BTreeMap<String, Vec<PolicyDocument>>,
}

impl Default for PolicySet {
    fn default() -> Self {
        PolicySet::new("us-east-1", "123456789012")
    }
}

/// The statement that decided, if one did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MatchedStatement {
    /// The policy's name.
    pub policy: String,
    /// The statement's index in the policy, from 0.
    pub index: usize,
    /// Its effect.
    pub effect: Effect,
    /// The resource pattern that matched, as written.
    pub resource: String,
}

/// The outcome of one authorization check.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Decision {
    /// What was asked.
    pub action: Action,
    /// The resource ARN it was asked for.
    pub resource: String,
    /// The answer.
    pub allowed: bool,
    /// The statement that decided; `None` when nothing matched (default deny).
    pub statement: Option<MatchedStatement>,
}

impl Decision {
    /// The decision in one line a person reads: `iot:Subscribe on topicfilter/cmd/#
    /// denied by statement 1 of policy "global"`, or `... denied: no statement allows it
    /// (default deny)`. Statements are counted from 1, as a reader counts them in the
    /// document; the server's log and the simulator both say it this way.
    pub fn describe(&self) -> String {
        // `arn:aws:iot:<region>:<account>:topicfilter/cmd/#` reads `topicfilter/cmd/#`.
        let resource = self
            .resource
            .splitn(6, ':')
            .nth(5)
            .unwrap_or(&self.resource);
        let verdict = if self.allowed { "allowed" } else { "denied" };
        let what = format!("{} on {resource} {verdict}", self.action.name());
        match &self.statement {
            Some(s) => format!(
                "{what} by statement {} of policy \"{}\"",
                s.index + 1,
                s.policy
            ),
            None => format!("{what}: no statement allows it (default deny)"),
        }
    }
}

impl PolicySet {
    /// No policies yet: everything is denied until an Allow is attached.
    pub fn new(region: &str, account: &str) -> Self {
        PolicySet {
            region: region.to_owned(),
            account: account.to_owned(),
            default: Vec::new(),
            principals: BTreeMap::new(),
        }
    }

    /// Attaches `policy` to every principal.
    pub fn attach_default(&mut self, policy: PolicyDocument) {
        self.default.push(policy);
    }

    /// Attaches `policy` to one principal: a certificate's common name, or a user name.
    pub fn attach(&mut self, principal: &str, policy: PolicyDocument) {
        self.principals
            .entry(principal.to_owned())
            .or_default()
            .push(policy);
    }

    /// The ARN of `name` for `action`: `arn:aws:iot:<region>:<account>:<kind>/<name>`.
    pub fn arn(&self, action: &Action, name: &str) -> String {
        format!(
            "arn:aws:iot:{}:{}:{}/{}",
            self.region,
            self.account,
            action.resource_kind(),
            name
        )
    }

    /// May `principal` do `action` on `name`? Every policy attached to everyone and to
    /// the principal is consulted; a matching Deny wins over any Allow, and with no
    /// matching statement the answer is no.
    pub fn evaluate(
        &self,
        principal: Option<&str>,
        action: Action,
        name: &str,
        vars: &Variables<'_>,
    ) -> Decision {
        let resource = self.arn(&action, name);
        let attached = principal
            .and_then(|p| self.principals.get(p))
            .into_iter()
            .flatten();
        let mut allow = None;
        for policy in self.default.iter().chain(attached) {
            for (index, statement) in policy.statements.iter().enumerate() {
                if !statement.names(&action) {
                    continue;
                }
                let matched = statement.resources.iter().find(|pattern| {
                    pattern.as_str() == "*"
                        || substitute(pattern, vars).is_some_and(|p| glob_match(&p, &resource))
                });
                let Some(pattern) = matched else {
                    continue;
                };
                let found = MatchedStatement {
                    policy: policy.name.clone(),
                    index,
                    effect: statement.effect,
                    resource: pattern.clone(),
                };
                match statement.effect {
                    Effect::Deny => {
                        return Decision {
                            action,
                            resource,
                            allowed: false,
                            statement: Some(found),
                        }
                    }
                    Effect::Allow => {
                        allow.get_or_insert(found);
                    }
                }
            }
        }
        Decision {
            action,
            resource,
            allowed: allow.is_some(),
            statement: allow,
        }
    }
}
