//! Attribute names in conditions and field sources that nothing ever fills: a typo such as
//! `service.trail` makes a rule that can never match, and loading the rule file cannot tell
//! (raw BILLmanager fields have free names). `check` warns about each name that is neither a
//! documented stable name nor seen in the panel's answers, with the closest known name.

use std::collections::BTreeSet;

use super::finding::{Finding, Severity};
use crate::rules::{FieldSource, RuleSet, When};
use crate::spelling::distance;

/// The names `engine::facts` and the lifecycle always fill (README "Conditions",
/// docs/lifecycle.md).
pub const STABLE: &[&str] = &[
    "client.id",
    "client.name",
    "client.country",
    "client.registered_at",
    "client.page_url",
    "user.id",
    "user.realname",
    "user.email",
    "user.phone",
    "user.marketing_consent",
    "payer.id",
    "payer.name",
    "payer.kind",
    "payer.inn",
    "payer.email",
    "payer.phone",
    "service.id",
    "service.product",
    "service.item_type",
    "service.cost",
    "service.status",
    "service.trial",
    "service.created_at",
    "service.expires_at",
    "service.page_url",
    "service.event",
    "service.previous_status",
    "lead.id",
    "lead.status",
    "lead.status_id",
    "lead.pipeline_id",
    "lead.closed",
    "lead.closed_by_hand",
];

/// Every attribute the rule file reads, with the key that reads it.
pub fn used_attributes(rules: &RuleSet) -> Vec<(String, String)> {
    let f = &rules.file;
    let mut out = Vec::new();
    let mut when = |w: &When, key: String| {
        for attr in w.keys() {
            out.push((format!("{key}.when.\"{attr}\""), attr.clone()));
        }
    };
    for (i, r) in f.skip.iter().enumerate() {
        when(&r.when, format!("skip[{i}]"));
    }
    for (i, r) in f.tags.iter().enumerate() {
        when(&r.when, format!("tags[{i}]"));
    }
    for (i, r) in f.pipelines.iter().enumerate() {
        when(&r.when, format!("pipelines[{i}]"));
    }
    for (i, r) in f.lifecycle.status.iter().enumerate() {
        when(&r.when, format!("lifecycle.status[{i}]"));
    }
    if let Some(n) = &f.lifecycle.nudge {
        when(&n.when, "lifecycle.nudge".into());
    }
    if let Some(a) = &f.lifecycle.assignment {
        for (i, r) in a.rules.iter().enumerate() {
            when(&r.when, format!("lifecycle.assignment.rules[{i}]"));
        }
    }
    for (kind, map) in [
        ("contact", &f.fields.contact),
        ("company", &f.fields.company),
        ("lead", &f.fields.lead),
    ] {
        for (name, source) in map {
            let from = match source {
                FieldSource::Attribute(a) => Some(a),
                FieldSource::Detailed(d) => d.from.as_ref(),
            };
            if let Some(a) = from {
                out.push((format!("fields.{kind}.\"{name}\""), a.clone()));
            }
        }
    }
    out
}

/// Warnings for attributes neither stable nor in `seen` (the panel's raw field names, as
/// `prefix.field`). With no panel sample (`seen` empty) raw names cannot be judged, so only
/// names close to a stable one (a likely typo) are reported.
pub fn unknown_attribute_findings(rules: &RuleSet, seen: &BTreeSet<String>) -> Vec<Finding> {
    let mut out = Vec::new();
    for (key, attr) in used_attributes(rules) {
        if STABLE.contains(&attr.as_str()) || seen.contains(&attr) {
            continue;
        }
        let prefix = attr.split('.').next().unwrap_or("");
        let candidates = STABLE
            .iter()
            .copied()
            .chain(seen.iter().map(String::as_str))
            .filter(|c| c.split('.').next() == Some(prefix));
        let closest = candidates
            .map(|c| (distance(&attr, c), c))
            .min()
            .filter(|(d, _)| *d <= 2 || (*d <= 3 && attr.len() > 14));
        let message = match (closest, seen.is_empty()) {
            (Some((_, c)), true) => format!(
                "`{attr}` is not a documented attribute (BILLmanager's own fields were not \
                 read); did you mean `{c}`?"
            ),
            (Some((_, c)), false) => format!(
                "`{attr}` is neither a documented attribute nor a field in BILLmanager's \
                 answers, so this never matches; did you mean `{c}`?"
            ),
            (None, true) => continue,
            (None, false) => format!(
                "`{attr}` is neither a documented attribute nor a field in BILLmanager's \
                 answers (a sample), so it is always empty here; check the name"
            ),
        };
        out.push(Finding {
            severity: Severity::Warning,
            key,
            message,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::setup::new_fields::tests::rules;

    #[test]
    fn a_typo_gets_the_closest_known_name_and_panel_fields_count_as_known() {
        let r = rules(
            "[[tags]]\nentity = \"lead\"\ntag = \"t\"\nwhen = { \"service.trail\" = true, \
             \"service.utm_source\" = \"x\", \"service.utm_sorce\" = \"y\" }\n",
        );
        let seen: BTreeSet<String> = ["service.utm_source".to_string()].into();
        let f = unknown_attribute_findings(&r, &seen);
        let messages: Vec<&str> = f.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(f.len(), 2, "{messages:?}");
        assert!(
            messages[0].contains("did you mean `service.trial`?"),
            "{messages:?}"
        );
        assert!(
            messages[1].contains("did you mean `service.utm_source`?"),
            "{messages:?}"
        );
        assert_eq!(f[0].key, "tags[0].when.\"service.trail\"");
        // Without a panel sample a raw name far from every stable one is not judged.
        assert_eq!(unknown_attribute_findings(&r, &BTreeSet::new()).len(), 1);
    }
}
