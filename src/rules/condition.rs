//! Evaluating `when` tables against an entity's facts.
//!
//! Facts are flat `prefix.attribute → text` pairs (`service.product = "VPS-2"`,
//! `client.country = "Russia"`). Comparisons are numeric when both sides are numbers,
//! boolean when the fact is `true`/`false`, and textual otherwise; ISO dates compare
//! correctly as text. A missing fact never equals anything, so `{ ne = "x" }` holds for it
//! and `{ eq = "x" }` does not.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};

use regex::Regex;

use super::when::{Condition, Ops, When};

/// An entity's attributes, flattened.
pub type Facts = BTreeMap<String, String>;

/// The attribute prefixes conditions and mappings may use.
pub const PREFIXES: &[&str] = &["client", "user", "payer", "service", "lead"];

/// Whether `text` matches `re`, compiled once per process: a backfill evaluates the same
/// few patterns of the rule file for every lead, and compiling one cost more than the rest
/// of the condition. The regex is used in place (a clone would build its search caches
/// afresh); an invalid pattern (refused at load) matches nothing.
fn pattern_matches(re: &str, text: &str) -> bool {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<Regex>>>> = OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    cache
        .entry(re.to_string())
        .or_insert_with(|| Regex::new(re).ok())
        .as_ref()
        .is_some_and(|r| r.is_match(text))
}

/// Whether every condition of `when` holds.
pub fn holds(when: &When, facts: &Facts) -> bool {
    when.iter()
        .all(|(key, cond)| matches(cond, facts.get(key).map(String::as_str)))
}

fn matches(cond: &Condition, fact: Option<&str>) -> bool {
    match cond {
        Condition::Value(toml::Value::Array(alts)) => alts.iter().any(|v| equals(v, fact)),
        Condition::Value(v) => equals(v, fact),
        Condition::Ops(ops) => ops_hold(ops, fact),
    }
}

fn ops_hold(ops: &Ops, fact: Option<&str>) -> bool {
    let present = fact.map(|f| !f.trim().is_empty()).unwrap_or(false);
    if let Some(e) = ops.exists {
        if e != present {
            return false;
        }
    }
    if let Some(v) = &ops.eq {
        if !equals(v, fact) {
            return false;
        }
    }
    if let Some(v) = &ops.ne {
        if equals(v, fact) {
            return false;
        }
    }
    let ordered = |v: &toml::Value, want: &[std::cmp::Ordering]| {
        fact.and_then(|f| compare(f, v))
            .map(|o| want.contains(&o))
            .unwrap_or(false)
    };
    use std::cmp::Ordering::*;
    if let Some(v) = &ops.gt {
        if !ordered(v, &[Greater]) {
            return false;
        }
    }
    if let Some(v) = &ops.ge {
        if !ordered(v, &[Greater, Equal]) {
            return false;
        }
    }
    if let Some(v) = &ops.lt {
        if !ordered(v, &[Less]) {
            return false;
        }
    }
    if let Some(v) = &ops.le {
        if !ordered(v, &[Less, Equal]) {
            return false;
        }
    }
    if let Some(re) = &ops.matches {
        let ok = fact.is_some_and(|f| pattern_matches(re, f));
        if !ok {
            return false;
        }
    }
    if let Some(list) = &ops.any_of {
        if !list.iter().any(|v| equals(v, fact)) {
            return false;
        }
    }
    if let Some(list) = &ops.not_in {
        if list.iter().any(|v| equals(v, fact)) {
            return false;
        }
    }
    true
}

/// The text form of a TOML scalar, as facts are written.
pub fn scalar_text(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        toml::Value::Datetime(d) => Some(d.to_string()),
        _ => None,
    }
}

fn equals(v: &toml::Value, fact: Option<&str>) -> bool {
    let Some(fact) = fact else { return false };
    match v {
        toml::Value::Integer(_) | toml::Value::Float(_) => {
            compare(fact, v) == Some(std::cmp::Ordering::Equal)
        }
        toml::Value::Boolean(b) => parse_bool(fact) == Some(*b),
        other => scalar_text(other).map(|s| s == fact).unwrap_or(false),
    }
}

fn compare(fact: &str, v: &toml::Value) -> Option<std::cmp::Ordering> {
    let want = scalar_text(v)?;
    match (fact.trim().parse::<f64>(), want.parse::<f64>()) {
        (Ok(a), Ok(b)) => a.partial_cmp(&b),
        _ => Some(fact.cmp(want.as_str())),
    }
}

/// Reads BILLmanager's many spellings of yes/no.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "1" | "y" => Some(true),
        "false" | "off" | "no" | "0" | "n" | "" => Some(false),
        _ => None,
    }
}

/// Problems in a `when` table (bad prefixes, invalid regexes), with key paths.
pub fn check(when: &When, at: &str, problems: &mut Vec<super::Problem>) {
    for (key, cond) in when {
        let prefix = key.split('.').next().unwrap_or("");
        if !key.contains('.') || !PREFIXES.contains(&prefix) {
            problems.push(super::Problem {
                key: format!("{at}.when.\"{key}\""),
                message: format!(
                    "attribute `{key}` must start with one of {} followed by a dot, e.g. `service.product`",
                    PREFIXES.join(", ")
                ),
            });
        }
        if let Condition::Value(toml::Value::Table(t)) = cond {
            problems.push(super::Problem {
                key: format!("{at}.when.\"{key}\""),
                message: format!(
                    "unknown operator in {{ {} }}; use eq, ne, gt, ge, lt, le, matches, in, not_in or exists",
                    t.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        if let Some(re) = match cond {
            Condition::Ops(ops) => ops.matches.as_ref(),
            Condition::Value(_) => None,
        } {
            if let Err(e) = Regex::new(re) {
                problems.push(super::Problem {
                    key: format!("{at}.when.\"{key}\".matches"),
                    message: format!("invalid regular expression: {e}"),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn when(text: &str) -> When {
        #[derive(serde::Deserialize)]
        struct W {
            when: When,
        }
        toml::from_str::<W>(text).unwrap().when
    }

    fn facts(pairs: &[(&str, &str)]) -> Facts {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn values_lists_and_operators() {
        let f = facts(&[
            ("service.product", "VPS-2"),
            ("service.cost", "1490.00"),
            ("service.trial", "false"),
            ("client.country", "Russia"),
        ]);
        let cases = [
            (r#"when = { "service.product" = "VPS-2" }"#, true),
            (r#"when = { "service.product" = ["VPS-1", "VPS-2"] }"#, true),
            (r#"when = { "service.cost" = { gt = 1000 } }"#, true),
            (
                r#"when = { "service.cost" = { gt = 1000, lt = 1400 } }"#,
                false,
            ),
            (r#"when = { "service.cost" = 1490 }"#, true),
            (
                r#"when = { "service.product" = { matches = "^VPS" } }"#,
                true,
            ),
            (r#"when = { "service.trial" = false }"#, true),
            (r#"when = { "service.source" = { exists = false } }"#, true),
            (r#"when = { "service.source" = "site" }"#, false),
            (r#"when = { "service.source" = { ne = "site" } }"#, true),
            (
                r#"when = { "client.country" = { not_in = ["Russia"] } }"#,
                false,
            ),
            (
                r#"when = { "client.country" = { in = ["Russia", "Belarus"] }, "service.product" = "VPS-2" }"#,
                true,
            ),
            (r#"when = {}"#, true),
            // The same pattern again (now compiled once), one that does not match, and an
            // invalid one (refused at load; here it matches nothing, every time).
            (
                r#"when = { "service.product" = { matches = "^VPS" } }"#,
                true,
            ),
            (
                r#"when = { "service.product" = { matches = "^Ded" } }"#,
                false,
            ),
            (r#"when = { "service.product" = { matches = "(" } }"#, false),
            (r#"when = { "service.product" = { matches = "(" } }"#, false),
        ];
        for (text, want) in cases {
            assert_eq!(holds(&when(text), &f), want, "{text}");
        }
    }

    #[test]
    fn check_reports_bad_prefix_and_regex() {
        let mut p = Vec::new();
        check(
            &when(r#"when = { "product" = "x", "service.name" = { matches = "(" } }"#),
            "skip[0]",
            &mut p,
        );
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].key, "skip[0].when.\"product\"");
        assert_eq!(p[1].key, "skip[0].when.\"service.name\".matches");
    }
}
