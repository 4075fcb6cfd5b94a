//! Turning names in the rule file into amoCRM ids, once per run.
//!
//! The rule file says `pipeline = "Sales"`, `"Product" = "service.product"`,
//! `responsible = "boris@example.com"`; amoCRM wants ids. The account's dictionaries are
//! read through [`crate::crm::Crm`] (cached in the store for an hour, so hook-driven syncs do not
//! re-read them every time) and every name is resolved up front: a name that does not exist
//! is a rule-file error (exit 2) naming the key and the names that do exist.

use std::collections::BTreeMap;

pub use crate::crm::names::{dictionaries, find_field, find_user, pipeline_status};
use crate::crm::{Dictionaries, FieldDef};
use crate::rules::condition::scalar_text;
use crate::rules::{EntityKind, FieldSource, Problem, RuleSet, RulesError, When};

/// One mapped custom field.
#[derive(Debug, Clone)]
pub struct MappedField {
    /// The key as written in the rule file (for messages).
    pub key: String,
    /// The amoCRM field.
    pub def: FieldDef,
    /// Attribute path, when the value comes from BILLmanager.
    pub from: Option<String>,
    /// Constant value, when given instead.
    pub constant: Option<String>,
    /// Enum code for multitext values.
    pub enum_code: Option<String>,
    /// Value map of a select/multiselect mapping (`map = { … }`).
    pub map: BTreeMap<String, String>,
    /// The option for values nothing else covers.
    pub default: Option<String>,
}

/// A pipeline rule with ids.
#[derive(Debug, Clone)]
pub struct PipelineTarget {
    /// The condition.
    pub when: When,
    /// Pipeline id.
    pub pipeline_id: i64,
    /// Status id.
    pub status_id: i64,
    /// Responsible user id, if the rule names one.
    pub responsible: Option<i64>,
}

/// The rule file with every amoCRM name resolved.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The dictionaries used.
    pub dict: Dictionaries,
    /// Mapped fields per kind.
    pub fields: BTreeMap<EntityKind, Vec<MappedField>>,
    /// Pipeline rules in order.
    pub pipelines: Vec<PipelineTarget>,
    /// Default responsible user for new entities.
    pub responsible: Option<i64>,
}

impl Resolved {
    /// The standard PHONE or EMAIL field of a kind, if the account has it.
    pub fn standard(&self, kind: EntityKind, code: &str) -> Option<&FieldDef> {
        self.dict
            .fields
            .get(kind.as_str())
            .and_then(|fs| fs.iter().find(|f| f.code.as_deref() == Some(code)))
    }

    /// The main pipeline and its first ordinary status (where amoCRM puts leads by default).
    pub fn default_pipeline(&self) -> Option<(i64, i64)> {
        let p = self
            .dict
            .pipelines
            .iter()
            .find(|p| p.is_main)
            .or(self.dict.pipelines.first())?;
        let status = p.statuses.iter().find(|s| s.id != 142 && s.id != 143)?;
        Some((p.id, status.id))
    }
}

/// Resolves every name in the rule file; all problems are reported at once.
pub fn resolve(rules: &RuleSet, dict: Dictionaries) -> Result<Resolved, RulesError> {
    let f = &rules.file;
    let mut problems = Vec::new();
    let mut fields = BTreeMap::new();
    for kind in [EntityKind::Contact, EntityKind::Company, EntityKind::Lead] {
        let defs = dict.fields.get(kind.as_str()).cloned().unwrap_or_default();
        let mut mapped = Vec::new();
        for (key, source) in f.fields.of(kind) {
            let Some(def) = find_field(&defs, key) else {
                let known = if defs.is_empty() {
                    format!("the account has no {} fields yet", kind.as_str())
                } else {
                    format!(
                        "known fields: {}",
                        defs.iter()
                            .map(|d| d.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                let message = match crate::crm::names::near_field(&defs, key) {
                    // A typo: creating the field would make a near-duplicate.
                    Some(near) => format!(
                        "no amoCRM {} field with id, code or name `{key}`; did you mean \
                         `{near}`? Fix the key; {known}",
                        kind.as_str(),
                    ),
                    None => format!(
                        "no amoCRM {} field with id, code or name `{key}`; {known}; \
                         `amocrm-bin setup-fields` creates the fields the rules map",
                        kind.as_str(),
                    ),
                };
                problems.push(Problem {
                    key: format!("fields.{}.\"{key}\"", kind.as_str()),
                    message,
                });
                continue;
            };
            let (from, constant, enum_code, map, default) = match source {
                FieldSource::Attribute(a) => (Some(a.clone()), None, None, BTreeMap::new(), None),
                FieldSource::Detailed(d) => (
                    d.from.clone(),
                    d.value.as_ref().and_then(scalar_text),
                    d.enum_code.clone(),
                    d.map.clone(),
                    d.default.clone(),
                ),
            };
            mapped.push(MappedField {
                key: key.clone(),
                def: def.clone(),
                from,
                constant,
                enum_code,
                map,
                default,
            });
        }
        fields.insert(kind, mapped);
    }
    let mut pipelines = Vec::new();
    for (i, p) in f.pipelines.iter().enumerate() {
        let (pipeline_id, status_id) =
            match pipeline_status(&dict, &p.pipeline, &p.status, &format!("pipelines[{i}]")) {
                Ok(ids) => ids,
                Err(problem) => {
                    problems.push(problem);
                    continue;
                }
            };
        let responsible = match &p.responsible {
            Some(r) => match find_user(&dict, r) {
                Ok(id) => Some(id),
                Err(message) => {
                    problems.push(Problem {
                        key: format!("pipelines[{i}].responsible"),
                        message,
                    });
                    None
                }
            },
            None => None,
        };
        pipelines.push(PipelineTarget {
            when: p.when.clone(),
            pipeline_id,
            status_id,
            responsible,
        });
    }
    let responsible = match &f.sync.responsible {
        Some(r) => match find_user(&dict, r) {
            Ok(id) => Some(id),
            Err(message) => {
                problems.push(Problem {
                    key: "sync.responsible".into(),
                    message,
                });
                None
            }
        },
        None => None,
    };
    if !problems.is_empty() {
        return Err(RulesError::Invalid {
            path: rules.path.clone(),
            problems,
        });
    }
    Ok(Resolved {
        dict,
        fields,
        pipelines,
        responsible,
    })
}
