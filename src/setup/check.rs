//! `amocrm-bin check`: the rule file against the live account, before anything is sent.
//!
//! Loading a rule file already proves it is well formed (`rules::validate`). What only the
//! account can tell is whether the names in it exist and whether the values fit. That is
//! decided in three layers, and each layer is the one the sync itself uses, so `check` can
//! never disagree with a run:
//!
//! 1. **Names** — fields, pipelines, statuses and users — go through the same resolvers a
//!    run uses ([`crate::engine::resolve::resolve`],
//!    [`crate::engine::lifecycle::resolve`],
//!    [`crate::calls::config::resolve`]). Their problems are reported unchanged, key paths
//!    included.
//! 2. **Values and types** are checked here, for every mapped field the account has:
//!    constants go through [`crate::engine::payload::field_values`], the converter a sync uses. An
//!    option missing from a select and a number sent to a date field are caught that way.
//!    Attributes whose kind is known (ids and costs are numbers, `*_at` are dates,
//!    `service.trial` is yes/no, `service.status` has five values, …) must fit the field's
//!    type. Multitext `enum` codes must exist, and the attribute must be known for that
//!    entity (a company has no `service.*`). Field types the converter cannot write are
//!    flagged, and so are two keys that name the same field.
//! 3. **Tags** are only looked up: amoCRM creates a missing tag on the first write. So a
//!    tag the account does not have yet is a [`super::Severity::Warning`] (a typo such as `trail`
//!    would quietly make a new tag), not a problem.
//!
//! Raw BILLmanager attributes (`service.utm_source`, `client.project`, …) have no known
//! type; they are accepted by every field and their values are checked when they are sent.

use super::field_check::field_findings;
use super::finding::Finding;
use super::names::name_findings;
use crate::crm::Dictionaries;
use crate::rules::{EntityKind, RuleSet};

/// Every name, value and type in the rule file against the account's dictionaries.
///
/// Tags are not looked at here (they need the account's tag lists: [`super::tags::tag_findings`]).
pub fn check(rules: &RuleSet, dict: &Dictionaries) -> Vec<Finding> {
    let mut out = name_findings(rules, dict);
    for kind in [EntityKind::Contact, EntityKind::Company, EntityKind::Lead] {
        out.extend(field_findings(rules, dict, kind));
    }
    // One resolver may meet a name another one reports too (a shared responsible user).
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|f| seen.insert((f.key.clone(), f.message.clone())));
    out
}
