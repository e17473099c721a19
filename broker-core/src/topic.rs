//! Topic names and topic filters, parsed at the edge (MQTT 3.1.1 section 4.7).
//!
//! A `TopicName` can never hold a wildcard and a `TopicFilter` is always well formed, so
//! the routing code below never re-checks a string. Both share their text through an
//! `Arc<str>`: one published message fans out to many sessions without copying its topic.

use core::fmt;
use std::sync::Arc;

/// Why a string is not a valid topic name or filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum TopicError {
    /// Topic names and filters are at least one character long (MQTT-4.7.3-1).
    Empty,
    /// A topic name contains `+` or `#` (MQTT-3.3.2-2, MQTT-4.7.1-1).
    WildcardInName,
    /// `#` is not alone in the last level of a filter (MQTT-4.7.1-2).
    MisplacedMultiLevelWildcard,
    /// `+` does not fill a whole level of a filter (MQTT-4.7.1-3).
    MisplacedSingleLevelWildcard,
    /// The string contains U+0000 (MQTT-4.7.3-2).
    NullCharacter,
    /// The string is longer than the 65535 bytes a length prefix can describe (MQTT-4.7.3-3).
    TooLong,
}

impl fmt::Display for TopicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TopicError::Empty => "empty topic (MQTT-4.7.3-1)",
            TopicError::WildcardInName => "wildcard in a topic name (MQTT-3.3.2-2)",
            TopicError::MisplacedMultiLevelWildcard => {
                "'#' must be the last level, alone (MQTT-4.7.1-2)"
            }
            TopicError::MisplacedSingleLevelWildcard => {
                "'+' must fill a whole level (MQTT-4.7.1-3)"
            }
            TopicError::NullCharacter => "U+0000 in a topic (MQTT-4.7.3-2)",
            TopicError::TooLong => "topic longer than 65535 bytes (MQTT-4.7.3-3)",
        })
    }
}

fn check_common(s: &str) -> Result<(), TopicError> {
    if s.is_empty() {
        return Err(TopicError::Empty);
    }
    if s.len() > usize::from(u16::MAX) {
        return Err(TopicError::TooLong);
    }
    if s.contains('\0') {
        return Err(TopicError::NullCharacter);
    }
    Ok(())
}

/// A topic name a message is published to: no wildcards, never empty.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TopicName(Arc<str>);

impl TopicName {
    /// Parses a topic name.
    pub fn new(s: &str) -> Result<TopicName, TopicError> {
        check_common(s)?;
        if s.contains(['+', '#']) {
            return Err(TopicError::WildcardInName);
        }
        Ok(TopicName(Arc::from(s)))
    }

    /// The empty topic of an MQTT 5.0 PUBLISH that names its topic by a Topic Alias
    /// alone (section 3.3.2.3.4). The engine replaces it before routing; it is never a
    /// topic anything is published to.
    pub fn aliased() -> TopicName {
        TopicName(Arc::from(""))
    }

    /// Whether this is the empty topic of a PUBLISH that names its topic by alias.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The topic as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The topic's levels, split on `/`. Empty levels are real levels (`a//b` has three).
    pub fn levels(&self) -> core::str::Split<'_, char> {
        self.0.split('/')
    }

    /// Topics starting with `$` are reserved for the server; wildcards at the first
    /// level do not match them (MQTT-4.7.2-1).
    pub fn is_system(&self) -> bool {
        self.0.starts_with('$')
    }
}

impl fmt::Debug for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A subscription's topic filter, possibly with `+` and `#` wildcards, always well formed.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TopicFilter(Arc<str>);

impl TopicFilter {
    /// Parses a topic filter.
    pub fn new(s: &str) -> Result<TopicFilter, TopicError> {
        check_common(s)?;
        let mut levels = s.split('/').peekable();
        while let Some(level) = levels.next() {
            if level.contains('#') && (level != "#" || levels.peek().is_some()) {
                return Err(TopicError::MisplacedMultiLevelWildcard);
            }
            if level.contains('+') && level != "+" {
                return Err(TopicError::MisplacedSingleLevelWildcard);
            }
        }
        Ok(TopicFilter(Arc::from(s)))
    }

    /// The filter as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The filter's levels, split on `/`.
    pub fn levels(&self) -> core::str::Split<'_, char> {
        self.0.split('/')
    }

    /// True if the filter has no wildcard: it matches exactly one topic name.
    pub fn is_exact(&self) -> bool {
        !self.0.contains(['+', '#'])
    }
}

impl fmt::Debug for TopicFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for TopicFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How `#` treats the level above it. The standard says `sport/#` also matches `sport`
/// (section 4.7.1.2); AWS IoT says it does not (docs/aws-iot-profile.md, "Quotas and rules").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum HashMatchesParent {
    /// `sport/#` matches `sport` (MQTT 3.1.1).
    #[default]
    Yes,
    /// `sport/#` does not match `sport` (AWS IoT Core).
    No,
}

/// The reference matcher: does `filter` match `topic`?
///
/// The subscription index answers the same question for many filters at once; this
/// direct version is the specification it is tested against, and what the retained
/// store uses to check single candidates.
pub fn matches(filter: &TopicFilter, topic: &TopicName, parent: HashMatchesParent) -> bool {
    let mut f = filter.levels();
    let mut t = topic.levels();
    let mut first = true;
    loop {
        match (f.next(), t.next()) {
            (Some("#"), level) => {
                // MQTT-4.7.2-1: a leading wildcard never matches a `$` topic.
                if first && topic.is_system() {
                    return false;
                }
                return level.is_some() || parent == HashMatchesParent::Yes;
            }
            (Some("+"), Some(_)) if first && topic.is_system() => return false,
            (Some("+"), Some(_)) => {}
            (Some(fl), Some(tl)) if fl == tl => {}
            (None, None) => return true,
            _ => return false,
        }
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(f: &str, t: &str) -> bool {
        matches(
            &TopicFilter::new(f).expect("filter"),
            &TopicName::new(t).expect("topic"),
            HashMatchesParent::Yes,
        )
    }

    #[test]
    fn filter_validation_follows_section_4_7_1() {
        for ok in ["#", "+", "a/#", "a/+/b", "+/+", "/", "a//b", "$SYS/#", "/+"] {
            assert!(TopicFilter::new(ok).is_ok(), "{ok}");
        }
        for (bad, err) in [
            ("", TopicError::Empty),
            ("a/#/b", TopicError::MisplacedMultiLevelWildcard),
            ("a#", TopicError::MisplacedMultiLevelWildcard),
            ("a/b#", TopicError::MisplacedMultiLevelWildcard),
            ("a+", TopicError::MisplacedSingleLevelWildcard),
            ("a/+b/c", TopicError::MisplacedSingleLevelWildcard),
            ("a\0b", TopicError::NullCharacter),
        ] {
            assert_eq!(TopicFilter::new(bad), Err(err), "{bad:?}");
        }
    }

    #[test]
    fn mqtt_4_7_3_3_topics_longer_than_65535_bytes_are_refused() {
        let long = "a".repeat(65_536);
        assert_eq!(TopicName::new(&long), Err(TopicError::TooLong));
        assert_eq!(TopicFilter::new(&long), Err(TopicError::TooLong));
        assert!(TopicName::new(&long[1..]).is_ok());
    }

    #[test]
    fn topic_names_refuse_wildcards_and_empty() {
        assert_eq!(TopicName::new("a/+"), Err(TopicError::WildcardInName));
        assert_eq!(TopicName::new("#"), Err(TopicError::WildcardInName));
        assert_eq!(TopicName::new(""), Err(TopicError::Empty));
        assert!(TopicName::new("/").is_ok());
    }

    #[test]
    fn examples_of_section_4_7_1_2_multi_level() {
        assert!(m("sport/tennis/player1/#", "sport/tennis/player1"));
        assert!(m("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
        assert!(m(
            "sport/tennis/player1/#",
            "sport/tennis/player1/score/wimbledon"
        ));
        assert!(m("sport/#", "sport"));
        assert!(m("#", "a/b/c"));
    }

    #[test]
    fn examples_of_section_4_7_1_3_single_level() {
        assert!(m("sport/tennis/+", "sport/tennis/player1"));
        assert!(!m("sport/tennis/+", "sport/tennis/player1/ranking"));
        assert!(!m("sport/+", "sport"));
        assert!(m("sport/+", "sport/"));
        assert!(m("+/+", "/finance"));
        assert!(m("/+", "/finance"));
        assert!(!m("+", "/finance"));
    }

    #[test]
    fn mqtt_4_7_2_1_leading_wildcards_do_not_match_dollar_topics() {
        assert!(!m("#", "$SYS/uptime"));
        assert!(!m("+/monitor/Clients", "$SYS/monitor/Clients"));
        assert!(m("$SYS/#", "$SYS/monitor/Clients"));
        assert!(m("$SYS/monitor/+", "$SYS/monitor/Clients"));
    }

    #[test]
    fn aws_hash_does_not_match_parent_level() {
        let f = TopicFilter::new("sensor/#").expect("filter");
        let t = TopicName::new("sensor").expect("topic");
        assert!(!matches(&f, &t, HashMatchesParent::No));
        assert!(matches(&f, &t, HashMatchesParent::Yes));
    }

    #[test]
    fn topics_are_case_sensitive_and_spaces_count() {
        assert!(!m("ACCOUNTS", "Accounts"));
        assert!(m("Accounts payable", "Accounts payable"));
    }
}
