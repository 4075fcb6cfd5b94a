//! `[calls]` with every amoCRM name turned into an id: employees' users, the senior manager,
//! the fallback responsible, call pipelines, lead attribution fields. A name that does not
//! exist is a rule-file error (exit 2) listing what does; all problems are reported at once.

use crate::crm::names::{find_field, find_user, pipeline_status};
use crate::crm::Dictionaries;
use crate::rules::{Problem, RuleSet, RulesError, When};

use super::event::CallEvent;
use super::setup::CallSetup;

/// The facts `[[calls.pipelines]]` conditions may name.
pub const CALL_FACTS: &[&str] = &[
    "call.pool",
    "call.utm_source",
    "call.utm_medium",
    "call.utm_campaign",
    "call.utm_term",
    "call.utm_content",
    "call.tracking_number",
    "call.scheme",
    "call.department",
    "call.provider",
    "call.status",
    "call.direction",
];

/// The attribution keys `[calls.lead_fields]` may map.
pub const LEAD_FIELD_KEYS: &[&str] = &[
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "pool",
];

/// A call's facts for `when` conditions.
pub fn facts(e: &CallEvent) -> crate::rules::condition::Facts {
    let mut f = crate::rules::condition::Facts::new();
    let mut put = |k: &str, v: Option<&String>| {
        if let Some(v) = v {
            f.insert(format!("call.{k}"), v.clone());
        }
    };
    put("pool", e.source.pool.as_ref());
    put("utm_source", e.utm.source.as_ref());
    put("utm_medium", e.utm.medium.as_ref());
    put("utm_campaign", e.utm.campaign.as_ref());
    put("utm_term", e.utm.term.as_ref());
    put("utm_content", e.utm.content.as_ref());
    put("tracking_number", e.tracking_number.as_ref());
    put("scheme", e.source.scheme.as_ref());
    put("department", e.source.department.as_ref());
    put("provider", Some(&e.provider));
    put("status", Some(&e.status.as_str().to_string()));
    put("direction", Some(&e.direction.as_str().to_string()));
    f
}

/// The value of an attribution key for a call.
pub fn attribution<'a>(e: &'a CallEvent, key: &str) -> Option<&'a str> {
    match key {
        "utm_source" => e.utm.source.as_deref(),
        "utm_medium" => e.utm.medium.as_deref(),
        "utm_campaign" => e.utm.campaign.as_deref(),
        "utm_term" => e.utm.term.as_deref(),
        "utm_content" => e.utm.content.as_deref(),
        "pool" => e.source.pool.as_deref(),
        _ => None,
    }
}

/// A call pipeline rule with ids.
#[derive(Debug, Clone)]
pub struct CallPipeline {
    /// The condition.
    pub when: When,
    /// Pipeline id.
    pub pipeline_id: i64,
    /// Status id.
    pub status_id: i64,
}

/// `[calls]` resolved against the account.
#[derive(Debug, Clone)]
pub struct CallRules {
    /// amoCRM user of each `[[calls.employees]]` entry, by index.
    pub users: Vec<i64>,
    /// The senior manager.
    pub senior: Option<i64>,
    /// Responsible when nobody mapped is (unmapped employee, missed call from a new number).
    pub fallback: Option<i64>,
    /// Call pipeline rules in order.
    pub pipelines: Vec<CallPipeline>,
    /// Attribution key → lead field id.
    pub lead_fields: Vec<(String, i64)>,
    /// The account's user names, for texts.
    pub dict: Dictionaries,
}

impl CallRules {
    /// The pipeline and status of a new lead for this call (`None`: amoCRM's default).
    pub fn pipeline_for(&self, e: &CallEvent) -> Option<(i64, i64)> {
        let f = facts(e);
        self.pipelines
            .iter()
            .find(|p| crate::rules::condition::holds(&p.when, &f))
            .map(|p| (p.pipeline_id, p.status_id))
    }

    /// A user's name for task texts.
    pub fn user_name(&self, id: i64) -> String {
        self.dict
            .users
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.name.clone())
            .unwrap_or_else(|| format!("user {id}"))
    }
}

/// Resolves `[calls]`; every unknown name is reported with its key path.
pub fn resolve(
    setup: &CallSetup,
    rules: &RuleSet,
    dict: Dictionaries,
) -> Result<CallRules, RulesError> {
    let c = &setup.calls;
    let mut problems = Vec::new();
    let mut user = |key: String, value: &str| match find_user(&dict, value) {
        Ok(id) => Some(id),
        Err(message) => {
            problems.push(Problem { key, message });
            None
        }
    };
    let users: Vec<i64> = c
        .employees
        .iter()
        .enumerate()
        .map(|(i, e)| user(format!("calls.employees[{i}].user"), &e.user).unwrap_or(0))
        .collect();
    let senior = c
        .senior
        .as_deref()
        .and_then(|s| user("calls.senior".into(), s));
    let responsible = c
        .responsible
        .as_deref()
        .and_then(|s| user("calls.responsible".into(), s));
    let sync_responsible = rules
        .file
        .sync
        .responsible
        .as_deref()
        .and_then(|s| find_user(&dict, s).ok());
    let fallback = responsible
        .or(senior)
        .or(sync_responsible)
        .or(dict.current_user_id);
    let mut pipelines = Vec::new();
    for (i, p) in c.pipelines.iter().enumerate() {
        let (pipeline_id, status_id) = match pipeline_status(
            &dict,
            &p.pipeline,
            &p.status,
            &format!("calls.pipelines[{i}]"),
        ) {
            Ok(ids) => ids,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        pipelines.push(CallPipeline {
            when: p.when.clone(),
            pipeline_id,
            status_id,
        });
    }
    let lead_defs = dict.fields.get("lead").cloned().unwrap_or_default();
    let mut lead_fields = Vec::new();
    match &c.lead_fields {
        None => {
            for key in LEAD_FIELD_KEYS {
                if let Some(f) = find_field(&lead_defs, &key.to_ascii_uppercase()) {
                    lead_fields.push((key.to_string(), f.id));
                }
            }
        }
        Some(map) => {
            for (key, field) in map {
                match find_field(&lead_defs, field) {
                    Some(f) => lead_fields.push((key.clone(), f.id)),
                    None => problems.push(Problem {
                        key: format!("calls.lead_fields.{key}"),
                        message: format!(
                            "no amoCRM lead field with id, code or name `{field}`; known fields: {}",
                            lead_defs
                                .iter()
                                .map(|d| d.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    }),
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(RulesError::Invalid {
            path: rules.path.clone(),
            problems,
        });
    }
    Ok(CallRules {
        users,
        senior,
        fallback,
        pipelines,
        lead_fields,
        dict,
    })
}
