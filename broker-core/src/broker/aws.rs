//! The `aws-iot` profile's checks and bookkeeping that do not belong to one packet type:
//! topic quotas, reserved `$` topics, the publish rate, and firing rules as events.

use super::Broker;
use crate::config::AwsRules;
use crate::event::Event;
use crate::rule::Rule;
use crate::time::Instant;
use crate::types::ConnId;

/// The `$aws/` topic trees AWS IoT defines (shadows, rules, lifecycle events, jobs,
/// fleet provisioning, Device Defender, SiteWise). Any other `$` topic is refused.
const AWS_TOPIC_TREES: &[&str] = &[
    "$aws/things/",
    "$aws/rules/",
    "$aws/events/",
    "$aws/certificates/",
    "$aws/provisioning-templates/",
    "$aws/defender/",
    "$aws/sitewise/",
];

/// Where a topic or filter is used, since AWS treats publishing and subscribing apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TopicUse {
    Publish,
    Subscribe,
}

/// Checks a topic or filter against the profile's topic rules: length, slashes, and
/// reserved `$` topics. Returns the rule broken and a detail for the event.
pub(super) fn check_topic(
    rules: &AwsRules,
    text: &str,
    usage: TopicUse,
) -> Result<(), (Rule, String)> {
    if text.len() > rules.max_topic_len {
        let detail = format!("{} bytes, limit {}", text.len(), rules.max_topic_len);
        return Err((Rule::TopicTooLong, detail));
    }
    if rules.restrict_dollar_topics && text.starts_with('$') {
        let known = AWS_TOPIC_TREES.iter().any(|tree| text.starts_with(tree));
        // Lifecycle events are published by the broker alone; clients may only subscribe.
        let broker_only = usage == TopicUse::Publish && text.starts_with("$aws/events/");
        if !known || broker_only {
            return Err((Rule::ReservedTopic, format!("{text:?} is reserved")));
        }
    }
    // The `$aws/rules/<rule>/` prefix of Basic Ingest does not count towards the limit.
    let counted = match text.strip_prefix("$aws/rules/") {
        Some(rest) => rest.split_once('/').map_or("", |(_, after)| after),
        None => text,
    };
    let slashes = counted.matches('/').count();
    if slashes > rules.max_topic_slashes {
        let detail = format!("{slashes} slashes, limit {}", rules.max_topic_slashes);
        return Err((Rule::TooManyTopicLevels, detail));
    }
    Ok(())
}

/// PUBLISH packets counted over one-second windows, each direction apart.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct RateWindow {
    start: Instant,
    inbound: u32,
    outbound: u32,
}

impl RateWindow {
    /// Counts one PUBLISH; false if it is over `limit` for the current second.
    pub(super) fn allow(&mut self, now: Instant, limit: u32, inbound: bool) -> bool {
        if now.saturating_since(self.start).as_millis() >= 1000 {
            *self = RateWindow {
                start: now,
                inbound: 0,
                outbound: 0,
            };
        }
        let count = if inbound {
            &mut self.inbound
        } else {
            &mut self.outbound
        };
        if *count >= limit {
            return false;
        }
        *count += 1;
        true
    }
}

impl Broker {
    /// The profile's rules, if the `aws-iot` profile is in force.
    pub(super) fn aws(&self) -> Option<&AwsRules> {
        match self.config.profile {
            crate::Profile::AwsIot => Some(&self.config.aws),
            crate::Profile::Standard => None,
        }
    }

    /// Counts one PUBLISH on `conn` against the publish-rate quota, in the direction
    /// given; over the quota, the rule fires and the answer is no.
    pub(super) fn admit_rate(
        &mut self,
        now: Instant,
        conn: ConnId,
        limit: u32,
        inbound: bool,
    ) -> bool {
        let allowed = self
            .conns
            .get_mut(&conn)
            .is_some_and(|c| c.rate.allow(now, limit, inbound));
        if !allowed {
            let direction = if inbound { "inbound" } else { "outbound" };
            self.fire(
                Rule::PublishRate,
                Some(conn),
                format!("{direction} PUBLISH over {limit}/s dropped"),
            );
        }
        allowed
    }

    /// Reports that `rule` changed what the broker did.
    pub(super) fn fire(&mut self, rule: Rule, conn: Option<ConnId>, detail: String) {
        *self.stats.rules_fired.entry(rule.code()).or_insert(0) += 1;
        let client_id = conn.and_then(|c| self.client_id_of_conn(c));
        self.emit(Event::RuleFired {
            rule,
            conn,
            client_id,
            detail,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_prefix_does_not_count_towards_the_slash_limit() {
        let rules = AwsRules::default();
        assert!(check_topic(
            &rules,
            "$aws/rules/myrule/a/b/c/d/e/f/g/h",
            TopicUse::Publish
        )
        .is_ok());
        assert!(check_topic(
            &rules,
            "$aws/rules/myrule/a/b/c/d/e/f/g/h/i",
            TopicUse::Publish
        )
        .is_err());
    }

    #[test]
    fn lifecycle_topics_are_subscribe_only() {
        let rules = AwsRules::default();
        let t = "$aws/events/presence/connected/dev";
        assert!(check_topic(&rules, t, TopicUse::Subscribe).is_ok());
        assert_eq!(
            check_topic(&rules, t, TopicUse::Publish).map_err(|e| e.0),
            Err(Rule::ReservedTopic)
        );
        assert!(check_topic(&rules, "$SYS/uptime", TopicUse::Subscribe).is_err());
    }

    #[test]
    fn rate_window_resets_each_second() {
        let mut w = RateWindow::default();
        for _ in 0..3 {
            assert!(w.allow(Instant::from_millis(10), 3, true));
        }
        assert!(!w.allow(Instant::from_millis(999), 3, true));
        assert!(
            w.allow(Instant::from_millis(999), 3, false),
            "the directions count apart"
        );
        assert!(w.allow(Instant::from_millis(1000), 3, true));
    }
}
