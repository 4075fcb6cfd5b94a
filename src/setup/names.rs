//! `check`, names: fields, pipelines, statuses and users go through the resolvers a run
//! uses (the sync's, the lifecycle's, the call tracking's), so `check` can never disagree
//! with a run. Their problems are reported unchanged, key paths included.

use super::finding::Finding;
use crate::crm::Dictionaries;
use crate::rules::{Problem, RuleSet, RulesError};

/// Every problem the run's resolvers find with the names in the rule file.
pub(crate) fn name_findings(rules: &RuleSet, dict: &Dictionaries) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut add = |r: Result<(), RulesError>| {
        if let Err(RulesError::Invalid { problems, .. }) = r {
            out.extend(
                problems
                    .into_iter()
                    .map(|Problem { key, message }| Finding::problem(key, message)),
            );
        }
    };
    add(crate::engine::resolve::resolve(rules, dict.clone()).map(drop));
    add(crate::engine::lifecycle::resolve(rules, dict).map(drop));
    add(crate::calls::CallSetup::from_rules(rules)
        .and_then(|setup| crate::calls::config::resolve(&setup, rules, dict.clone()).map(drop)));
    out
}
