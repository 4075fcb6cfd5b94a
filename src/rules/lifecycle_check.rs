//! Offline checks of `[lifecycle]` (conditions, texts, numbers), apart from its types in
//! `lifecycle` so that the schema can hold the section without the checks reaching back.

use super::condition::check as check_when;
use super::schema::RuleFile;
use super::when::When;
use super::Problem;

/// Offline checks of `[lifecycle]`: conditions, texts, numbers.
pub fn check(file: &RuleFile, problems: &mut Vec<Problem>) {
    let l = &file.lifecycle;
    let mut bad = |key: String, message: &str| {
        problems.push(Problem {
            key,
            message: message.into(),
        })
    };
    let mut whens: Vec<(String, &When)> = Vec::new();
    for (i, r) in l.status.iter().enumerate() {
        whens.push((format!("lifecycle.status[{i}]"), &r.when));
    }
    if let Some(x) = &l.lost_returns {
        if x.task_text.trim().is_empty() {
            bad(
                "lifecycle.lost_returns.task_text".into(),
                "must not be empty",
            );
        }
        if x.task_hours == 0 {
            bad(
                "lifecycle.lost_returns.task_hours".into(),
                "must be at least 1",
            );
        }
    }
    if let Some(x) = &l.nudge {
        if x.task_text.trim().is_empty() {
            bad("lifecycle.nudge.task_text".into(), "must not be empty");
        }
        if x.task_hours == 0 {
            bad("lifecycle.nudge.task_hours".into(), "must be at least 1");
        }
        whens.push(("lifecycle.nudge".into(), &x.when));
    }
    if let Some(x) = &l.abandoned_cart {
        if x.task_text.trim().is_empty() {
            bad(
                "lifecycle.abandoned_cart.task_text".into(),
                "must not be empty",
            );
        }
        if x.hours == 0 {
            bad(
                "lifecycle.abandoned_cart.hours".into(),
                "must be at least 1",
            );
        }
        if x.task_hours == 0 {
            bad(
                "lifecycle.abandoned_cart.task_hours".into(),
                "must be at least 1",
            );
        }
        whens.push(("lifecycle.abandoned_cart".into(), &x.when));
    }
    for (key, url) in [
        ("lifecycle.links.client_url", &l.links.client_url),
        ("lifecycle.links.service_url", &l.links.service_url),
    ] {
        if !url.contains("{panel_url}") && !url.starts_with("http") {
            bad(
                key.into(),
                "must start with `{panel_url}` or http(s)://, e.g. `{panel_url}?startform=account.edit&elid={client.id}`",
            );
        }
    }
    if l.links.note && file.billmanager.panel_url.is_none() {
        bad(
            "lifecycle.links.note".into(),
            "needs `[billmanager] panel_url` (the links are built from it)",
        );
    }
    if let Some(a) = &l.assignment {
        for (i, u) in a.round_robin.iter().enumerate() {
            if u.trim().is_empty() {
                bad(
                    format!("lifecycle.assignment.round_robin[{i}]"),
                    "must name an amoCRM user (name, e-mail or id)",
                );
            }
        }
        for (i, r) in a.rules.iter().enumerate() {
            whens.push((format!("lifecycle.assignment.rules[{i}]"), &r.when));
            if r.when.is_empty() {
                bad(
                    format!("lifecycle.assignment.rules[{i}].when"),
                    "an empty condition would catch every lead; give at least one attribute",
                );
            }
        }
    }
    for (at, when) in whens {
        check_when(when, &at, problems);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::rules::{RuleSet, RulesError};

    const BASE: &str = r#"
[amocrm]
base_url = "https://acme.amocrm.ru"
client_id = "abc"
client_secret_env = "AMO_SECRET"
redirect_uri = "https://example.com/cb"

[billmanager]
source = "mgrctl"
"#;

    fn parse(extra: &str) -> Result<RuleSet, RulesError> {
        RuleSet::parse(&format!("{BASE}{extra}"), Path::new("rules.toml"))
    }

    #[test]
    fn absent_means_off_and_present_tables_get_defaults() {
        let l = parse("").unwrap().file.lifecycle;
        assert!(l.status.is_empty() && l.nudge.is_none() && l.pullback.is_none());
        let l = parse("[lifecycle.nudge]\n[lifecycle.pullback]\n[lifecycle.lost_returns]\n")
            .unwrap()
            .file
            .lifecycle;
        let n = l.nudge.unwrap();
        assert_eq!(
            (n.trial_age_days, n.again_after_days, n.task_hours),
            (7, 30, 24)
        );
        assert!(l.pullback.unwrap().enabled);
        assert!(l.lost_returns.unwrap().enabled);
    }

    #[test]
    fn typos_and_bad_values_name_their_keys() {
        let msg = parse("[lifecycle.nudge]\ntrial_days = 7\n")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("trial_days") && msg.contains("trial_age_days"),
            "{msg}"
        );
        let msg = parse(
            "[[lifecycle.status]]\nwhen = { \"status\" = \"x\" }\npipeline = \"Sales\"\nstatus = \"Won\"\n\
             [lifecycle.abandoned_cart]\nhours = 0\npipeline = \"Sales\"\nstatus = \"X\"\n\
             [lifecycle.links]\nnote = true\n\
             [lifecycle.assignment]\nround_robin = [\"\"]\n",
        )
        .unwrap_err()
        .to_string();
        for key in [
            "lifecycle.status[0].when.\"status\"",
            "lifecycle.abandoned_cart.hours",
            "lifecycle.links.note",
            "lifecycle.assignment.round_robin[0]",
        ] {
            assert!(msg.contains(key), "{key}: {msg}");
        }
    }
}
