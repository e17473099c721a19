//! Matching AWS IoT policy resources: `*` is any run of characters (slashes included),
//! `?` is exactly one character, and everything else, MQTT's `+` and `#` included, is a
//! plain character. Policy variables are substituted before matching.

/// What policy variables resolve to for one connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Variables<'a> {
    /// `${iot:ClientId}`, and `${iot:Connection.Thing.ThingName}`, which AWS resolves to
    /// the client id when it names a thing attached to the certificate.
    pub client_id: Option<&'a str>,
    /// `${iot:Certificate.Subject.CommonName}`, for mutual-TLS connections.
    pub common_name: Option<&'a str>,
}

/// Substitutes the policy variables in `pattern`. Returns `None` if the pattern uses a
/// variable that has no value for this connection (a statement that cannot apply), or
/// a variable brokerlab does not know.
pub fn substitute(pattern: &str, vars: &Variables<'_>) -> Option<String> {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}')?;
        let value = match &after[..end] {
            "iot:ClientId" | "iot:Connection.Thing.ThingName" => vars.client_id?,
            "iot:Certificate.Subject.CommonName" => vars.common_name?,
            _ => return None,
        };
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Does `pattern` (with `*` and `?`) match all of `text`?
///
/// The classic two-pointer wildcard match: linear in practice, and never recursive, so
/// a hostile policy cannot make it blow the stack.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                // Let the last `*` swallow one more character and try again.
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_spans_slashes_and_question_mark_is_one_character() {
        assert!(glob_match(
            "arn:aws:iot:*:*:topic/sensors/*",
            "arn:aws:iot:eu-west-1:1:topic/sensors/a/b"
        ));
        assert!(glob_match("topic/dev?", "topic/dev1"));
        assert!(!glob_match("topic/dev?", "topic/dev12"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
    }

    #[test]
    fn mqtt_wildcards_are_literal_characters() {
        assert!(glob_match("topicfilter/sensors/#", "topicfilter/sensors/#"));
        assert!(!glob_match(
            "topicfilter/sensors/#",
            "topicfilter/sensors/a"
        ));
        assert!(!glob_match("topic/+/x", "topic/a/x"));
    }

    #[test]
    fn variables_are_substituted_and_unknown_ones_never_match() {
        let vars = Variables {
            client_id: Some("dev-1"),
            common_name: None,
        };
        assert_eq!(
            substitute("client/${iot:ClientId}", &vars).as_deref(),
            Some("client/dev-1")
        );
        assert_eq!(
            substitute("topic/${iot:Connection.Thing.ThingName}/x", &vars).as_deref(),
            Some("topic/dev-1/x")
        );
        assert_eq!(
            substitute("topic/${iot:Certificate.Subject.CommonName}", &vars),
            None
        );
        assert_eq!(substitute("topic/${iot:Unknown}", &vars), None);
        assert_eq!(substitute("topic/${iot:ClientId", &vars), None);
    }
}
