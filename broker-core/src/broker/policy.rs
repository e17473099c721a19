//! Enforcing AWS IoT policies: the one place that asks the policy set and reports the
//! decision. What a denial does on the wire depends on the profile and the protocol
//! version, and is decided in `refusal.rs`.

use super::Broker;
use crate::event::Event;
use crate::policy::{Action, Variables};
use crate::session::{AuthContext, SessionId};
use crate::topic::TopicName;
use crate::types::ConnId;

impl Broker {
    /// May the client do `action` on `name`? Always yes without policies. Every answer
    /// given by a policy is emitted as `Event::PolicyDecision`.
    pub(super) fn authorize(
        &mut self,
        conn: Option<ConnId>,
        client_id: &str,
        auth: &AuthContext,
        action: Action,
        name: &str,
    ) -> bool {
        let Some(policies) = &self.config.policies else {
            return true;
        };
        let vars = Variables {
            client_id: Some(client_id),
            common_name: auth.common_name.as_deref(),
        };
        let decision = policies.evaluate(auth.principal.as_deref(), action, name, &vars);
        let allowed = decision.allowed;
        self.emit(Event::PolicyDecision {
            conn,
            client_id: client_id.to_owned(),
            decision,
        });
        allowed
    }

    /// The same question for a connected session's client.
    pub(super) fn authorize_session(
        &mut self,
        session: SessionId,
        action: Action,
        name: &str,
    ) -> bool {
        if self.config.policies.is_none() {
            return true;
        }
        let Some(s) = self.session_ref(session) else {
            return false;
        };
        let (conn, client_id, auth) = (s.conn, s.client_id.clone(), s.auth());
        self.authorize(conn, &client_id, &auth, action, name)
    }

    /// iot:Receive: a denied receive silently skips delivery to that client (docs/policies.md, "What a denial does").
    pub(super) fn may_receive(&mut self, session: SessionId, topic: &TopicName) -> bool {
        self.authorize_session(session, Action::Receive, topic.as_str())
    }
}
