//! The aws-iot profile's Device Shadow service (`crate::shadow`), wired to the broker: a
//! PUBLISH to a shadow request topic is routed like any other, then answered with the
//! service's replies, routed at QoS 1 through the same engine, so that policies, sessions
//! and the sequence diagram treat them like any message. A reply meant for the requester
//! alone (`Audience::Requester`) reaches only its subscriptions unless
//! `aws.shadow_replies_to_requester` is off.

use bytes::Bytes;

use super::Broker;
use crate::session::SessionId;
use crate::shadow::{self, Audience, Limits, Shadows};
use crate::time::Instant;
use crate::topic::TopicName;
use crate::types::QoS;

impl Broker {
    /// Answers a client's PUBLISH to `topic` if it is a Device Shadow request.
    pub(super) fn serve_shadow(
        &mut self,
        now: Instant,
        requester: SessionId,
        topic: &TopicName,
        payload: &Bytes,
    ) {
        let Some(rules) = self.aws().filter(|r| r.shadows) else {
            return;
        };
        let to_requester = rules.shadow_replies_to_requester;
        let limits = Limits {
            max_depth: rules.shadow_max_depth,
            max_bytes: rules.shadow_max_bytes,
        };
        let Some((id, op)) = shadow::parse_request(topic.as_str()) else {
            return;
        };
        // AWS's documents carry epoch seconds; the broker's clock is in milliseconds.
        let timestamp = now.as_millis() / 1000;
        let replies = self.shadows.handle(&id, op, payload, timestamp, limits);
        if op != shadow::Operation::Get {
            // Under durability, what the replies announce is stored before they go.
            self.shadow_changed(&id);
        }
        for reply in replies {
            // Reply topics are built from names parse_request accepted, so they parse.
            let Ok(topic) = TopicName::new(&reply.topic) else {
                continue;
            };
            let to = (to_requester && reply.audience == Audience::Requester).then_some(requester);
            self.route_own(
                now,
                &topic,
                Bytes::from(reply.payload),
                QoS::AtLeastOnce,
                to,
            );
        }
    }

    /// The Device Shadow service's documents (aws-iot profile).
    pub fn shadows(&self) -> &Shadows {
        &self.shadows
    }
}
