//! `[lifecycle]` names → amoCRM ids, once per run (like `engine::resolve` for the rest of the
//! rule file): an unknown pipeline, status or user is a rule-file error naming its key.

use crate::crm::{Dictionaries, PipelineDef};
use crate::engine::resolve::find_user;
use crate::rules::{Problem, RuleSet, RulesError, When};
use crate::store::Stage;

/// A `[[lifecycle.status]]` rule with ids.
#[derive(Debug, Clone)]
pub struct StatusTarget {
    /// `lifecycle.status[i]`, for messages.
    pub label: String,
    /// The condition.
    pub when: When,
    /// Where the lead belongs while it holds.
    pub stage: Stage,
    /// May move leads closed by hand.
    pub override_closed: bool,
}

/// `[lifecycle.assignment]` with ids.
#[derive(Debug, Clone)]
pub struct AssignmentCfg {
    /// Rules in order: condition → user.
    pub rules: Vec<(When, i64)>,
    /// Users handed out in turn.
    pub round_robin: Vec<i64>,
    /// A client's existing manager wins over round-robin.
    pub keep_client_manager: bool,
}

/// `[lifecycle]` resolved against the account.
#[derive(Debug, Clone, Default)]
pub struct Life {
    /// Status rules in order.
    pub status: Vec<StatusTarget>,
    /// Assignment, when configured.
    pub assignment: Option<AssignmentCfg>,
    /// The abandoned-cart stage, when configured.
    pub cart: Option<Stage>,
}

/// Finds `pipeline` and `status` (names or ids) in the account.
pub fn find_stage(
    dict: &Dictionaries,
    pipeline: &str,
    status: &str,
) -> Result<Stage, (String, String)> {
    let by_name = |p: &&PipelineDef| p.name.to_lowercase() == pipeline.trim().to_lowercase();
    let pipe = pipeline
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|id| dict.pipelines.iter().find(|p| p.id == id))
        .or_else(|| dict.pipelines.iter().find(by_name));
    let Some(pipe) = pipe else {
        return Err((
            "pipeline".into(),
            format!(
                "no amoCRM pipeline `{pipeline}`; known pipelines: {}",
                dict.pipelines
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    let st = status
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|id| pipe.statuses.iter().find(|s| s.id == id))
        .or_else(|| {
            pipe.statuses
                .iter()
                .find(|s| s.name.to_lowercase() == status.trim().to_lowercase())
        });
    match st {
        Some(s) => Ok((pipe.id, s.id)),
        None => Err((
            "status".into(),
            format!(
                "pipeline `{}` has no status `{status}`; its statuses: {}",
                pipe.name,
                pipe.statuses
                    .iter()
                    .map(|s| format!("{} ({})", s.name, s.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// Resolves every name in `[lifecycle]`; all problems are reported at once.
pub fn resolve(rules: &RuleSet, dict: &Dictionaries) -> Result<Life, RulesError> {
    let l = &rules.file.lifecycle;
    let mut problems = Vec::new();
    let mut life = Life::default();
    for (i, r) in l.status.iter().enumerate() {
        let label = format!("lifecycle.status[{i}]");
        match find_stage(dict, &r.pipeline, &r.status) {
            Ok(stage) => life.status.push(StatusTarget {
                label,
                when: r.when.clone(),
                stage,
                override_closed: r.override_closed,
            }),
            Err((what, message)) => problems.push(Problem {
                key: format!("{label}.{what}"),
                message,
            }),
        }
    }
    if let Some(c) = &l.abandoned_cart {
        match find_stage(dict, &c.pipeline, &c.status) {
            Ok(stage) => life.cart = Some(stage),
            Err((what, message)) => problems.push(Problem {
                key: format!("lifecycle.abandoned_cart.{what}"),
                message,
            }),
        }
    }
    if let Some(a) = &l.assignment {
        let mut cfg = AssignmentCfg {
            rules: Vec::new(),
            round_robin: Vec::new(),
            keep_client_manager: a.keep_client_manager,
        };
        for (i, u) in a.round_robin.iter().enumerate() {
            match find_user(dict, u) {
                Ok(id) => cfg.round_robin.push(id),
                Err(message) => problems.push(Problem {
                    key: format!("lifecycle.assignment.round_robin[{i}]"),
                    message,
                }),
            }
        }
        for (i, r) in a.rules.iter().enumerate() {
            match find_user(dict, &r.responsible) {
                Ok(id) => cfg.rules.push((r.when.clone(), id)),
                Err(message) => problems.push(Problem {
                    key: format!("lifecycle.assignment.rules[{i}].responsible"),
                    message,
                }),
            }
        }
        life.assignment = Some(cfg);
    }
    if !problems.is_empty() {
        return Err(RulesError::Invalid {
            path: rules.path.clone(),
            problems,
        });
    }
    Ok(life)
}
