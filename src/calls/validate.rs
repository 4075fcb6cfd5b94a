//! Offline checks of `[calls]`, run with the rule file's own checks when a command loads it
//! (`RuleSet::load_with`). They live here, with the call facts, key maps and offsets they
//! check against, so that `rules` never imports `calls` (calls builds on rules).

use crate::rules::{Problem, RuleFile};

use super::config::{CALL_FACTS, LEAD_FIELD_KEYS};
use super::ringostat::KNOWN_KEYS;

/// `[calls]`: offsets, hours and templates make sense, every employee has something to be
/// recognised by and no key is claimed twice, conditions name call facts, key maps name
/// known keys.
pub fn check(file: &RuleFile, problems: &mut Vec<Problem>) {
    let c = &file.calls;
    let mut bad = |key: String, message: String| problems.push(Problem { key, message });
    if let Err((key, e)) =
        super::zone::CallZone::from_settings(c.time_zone.as_deref(), &c.utc_offset)
    {
        bad(key.into(), e);
    }
    if let Err((raw, e)) = super::options::StatusMap::from_rules(&c.statuses) {
        bad(format!("calls.statuses.\"{raw}\""), e);
    }
    if !(1..=7).contains(&c.missed_call_status) {
        bad(
            "calls.missed_call_status".into(),
            format!(
                "{} is not an amoCRM call_status: use 6 (did not get through) or 3 (not available)",
                c.missed_call_status
            ),
        );
    }
    if let Some(api) = &c.ringostat_api {
        if api.auth_key_env.trim().is_empty() {
            bad(
                "calls.ringostat_api.auth_key_env".into(),
                "name the environment variable that holds the Auth-key, e.g. `RINGOSTAT_AUTH_KEY`"
                    .into(),
            );
        }
        if !(api.url.starts_with("https://") || api.url.starts_with("http://")) {
            bad(
                "calls.ringostat_api.url".into(),
                format!("`{}` is not an http(s) URL", api.url),
            );
        }
    }
    if c.callback_deadline_minutes == 0 {
        bad(
            "calls.callback_deadline_minutes".into(),
            "must be at least 1".into(),
        );
    }
    let [start, end] = c.working_hours;
    if start >= end || end > 24 {
        bad(
            "calls.working_hours".into(),
            format!("[{start}, {end}] is not a working day: expected [first hour, end hour] with 0 <= first < end <= 24, e.g. [9, 18]"),
        );
    }
    for (key, text) in [
        ("calls.callback_task_text", &c.callback_task_text),
        ("calls.contact_name", &c.contact_name),
        ("calls.lead_name", &c.lead_name),
    ] {
        if text.trim().is_empty() {
            bad(key.into(), "must not be empty".into());
        }
    }
    let country = c
        .default_country
        .clone()
        .unwrap_or_else(|| file.sync.default_country.clone());
    let mut seen: std::collections::BTreeMap<String, usize> = Default::default();
    for (i, e) in c.employees.iter().enumerate() {
        let at = format!("calls.employees[{i}]");
        if e.user.trim().is_empty() {
            bad(
                format!("{at}.user"),
                "must name an amoCRM user (name, e-mail or id)".into(),
            );
        }
        if e.extensions.is_empty() && e.sip.is_empty() && e.phones.is_empty() && e.ids.is_empty() {
            bad(
                at.clone(),
                "give at least one of `extensions`, `sip`, `phones`, `ids` to recognise the employee by".into(),
            );
        }
        let mut keys = Vec::new();
        for p in &e.phones {
            match crate::phone::normalize(p, &country) {
                Some(n) => keys.push(format!("phone {n}")),
                None => bad(
                    format!("{at}.phones"),
                    format!("`{p}` is not a phone number"),
                ),
            }
        }
        keys.extend(
            e.extensions
                .iter()
                .map(|x| format!("extension {}", x.trim())),
        );
        keys.extend(
            e.sip
                .iter()
                .map(|x| format!("SIP login {}", x.trim().to_lowercase())),
        );
        keys.extend(e.ids.iter().map(|x| format!("id {}", x.trim())));
        for k in keys {
            if let Some(first) = seen.insert(k.clone(), i) {
                if first != i {
                    bad(
                        at.clone(),
                        format!(
                            "{k} is also mapped by calls.employees[{first}]; each may map one user"
                        ),
                    );
                }
            }
        }
    }
    for (i, p) in c.pipelines.iter().enumerate() {
        for (key, cond) in &p.when {
            if !CALL_FACTS.contains(&key.as_str()) {
                bad(
                    format!("calls.pipelines[{i}].when.\"{key}\""),
                    format!(
                        "unknown call attribute `{key}`; expected one of {}",
                        CALL_FACTS.join(", ")
                    ),
                );
            }
            if let crate::rules::Condition::Ops(ops) = cond {
                if let Some(Err(e)) = ops.matches.as_ref().map(|re| regex::Regex::new(re)) {
                    bad(
                        format!("calls.pipelines[{i}].when.\"{key}\".matches"),
                        format!("invalid regular expression: {e}"),
                    );
                }
            }
        }
    }
    if let Some(map) = &c.lead_fields {
        for key in map.keys() {
            if !LEAD_FIELD_KEYS.contains(&key.as_str()) {
                bad(
                    format!("calls.lead_fields.{key}"),
                    format!(
                        "unknown attribution key `{key}`; expected one of {}",
                        LEAD_FIELD_KEYS.join(", ")
                    ),
                );
            }
        }
    }
    for key in c.ringostat_keys.keys() {
        if !KNOWN_KEYS.contains(&key.as_str()) {
            bad(
                format!("calls.ringostat_keys.{key}"),
                format!(
                    "unknown Ringostat parameter `{key}`; expected one of {}",
                    KNOWN_KEYS.join(", ")
                ),
            );
        }
    }
    for n in &c.internal_numbers {
        if crate::phone::normalize(n, &country).is_none() {
            bad(
                "calls.internal_numbers".into(),
                format!("`{n}` is not a phone number"),
            );
        }
    }
}
