//! `check`, panel values: values a sample of BILLmanager holds that no select option or
//! value map covers, and maps that send every sampled value to their default.

use std::collections::BTreeMap;

use super::field_check::SELECTS;
use super::finding::{Finding, Severity};
use crate::crm::{Dictionaries, FieldDef};
use crate::engine::payload::field_values;
use crate::engine::resolve::find_field;
use crate::rules::{EntityKind, FieldSource, RuleSet};

/// A mapping of an attribute to a select-like field the account has.
struct SelectMapping<'a> {
    kind: EntityKind,
    name: &'a str,
    def: FieldDef,
    from: &'a str,
    map: BTreeMap<String, String>,
    default: Option<&'a str>,
}

/// Every `fields.*` entry that maps an attribute (`from`) to a select-like field.
fn select_mappings<'a>(rules: &'a RuleSet, dict: &Dictionaries) -> Vec<SelectMapping<'a>> {
    let mut out = Vec::new();
    for kind in [EntityKind::Contact, EntityKind::Company, EntityKind::Lead] {
        let defs = dict.fields.get(kind.as_str()).cloned().unwrap_or_default();
        for (name, source) in rules.file.fields.of(kind) {
            let Some(def) = find_field(&defs, name) else {
                continue;
            };
            if !SELECTS.contains(&def.field_type.as_str()) {
                continue;
            }
            let (from, map, default) = match source {
                FieldSource::Attribute(a) => (a.as_str(), BTreeMap::new(), None),
                FieldSource::Detailed(d) => match &d.from {
                    Some(f) => (f.as_str(), d.map.clone(), d.default.as_deref()),
                    None => continue,
                },
            };
            out.push(SelectMapping {
                kind,
                name,
                def: def.clone(),
                from,
                map,
                default,
            });
        }
    }
    out
}

/// Panel values (a sample read from BILLmanager, by attribute) that no option, value map or
/// default of a select-like field covers: each would be left out of every sync with a
/// warning, so `check` counts them as problems.
pub fn sample_findings(
    rules: &RuleSet,
    dict: &Dictionaries,
    sample: &BTreeMap<String, std::collections::BTreeSet<String>>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for m in select_mappings(rules, dict) {
        let (name, def, from) = (m.name, &m.def, m.from);
        let Some(values) = sample.get(from) else {
            continue;
        };
        let uncovered: Vec<&str> = values
            .iter()
            .filter(|v| {
                let mapped = crate::engine::payload::map_value(def, &m.map, m.default, v);
                field_values(def, &mapped, None).is_err()
            })
            .map(String::as_str)
            .collect();
        if let Some(f) = all_to_default(&m, values) {
            out.push(f);
        }
        if uncovered.is_empty() {
            continue;
        }
        let shown: Vec<String> = uncovered
            .iter()
            .take(10)
            .map(|v| format!("`{v}`"))
            .collect();
        out.push(Finding::problem(
            format!("fields.{}.\"{name}\"", m.kind.as_str()),
            format!(
                "BILLmanager sends {} value(s) of `{from}` that no option of {} field `{}` covers: {}{}; \
                 such entities are sent without it. Map them to options \
                 (`\"{name}\" = {{ from = \"{from}\", map = {{ {} = \"…\" }}, default = \"…\" }}`); \
                 options: {}",
                uncovered.len(),
                def.field_type,
                def.name,
                shown.join(", "),
                if uncovered.len() > 10 { ", …" } else { "" },
                toml::Value::String(uncovered[0].to_string()),
                def.enums.iter().map(|e| e.value.as_str()).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    out
}

/// A warning when every sampled value of a mapping falls to its `default`: the map then
/// decides nothing, which is what happens when the panel sends directory ids (`account.edit`
/// answers `country` with an id such as `182`, issue 22) where the map has names.
fn all_to_default(
    m: &SelectMapping<'_>,
    values: &std::collections::BTreeSet<String>,
) -> Option<Finding> {
    let default = m.default?;
    let same = |a: &str, b: &str| a.trim().to_lowercase() == b.trim().to_lowercase();
    let falls = |v: &str| {
        !m.map.keys().any(|k| same(k, v)) && !m.def.enums.iter().any(|e| same(&e.value, v))
    };
    let parts = |v: &str| -> Vec<String> {
        if m.def.field_type == "multiselect" {
            v.split(',').map(String::from).collect()
        } else {
            vec![v.to_string()]
        }
    };
    let values: Vec<&String> = values.iter().filter(|v| !v.trim().is_empty()).collect();
    if values.is_empty() || !values.iter().all(|v| parts(v).iter().all(|p| falls(p))) {
        return None;
    }
    let shown: Vec<String> = values.iter().take(10).map(|v| format!("`{v}`")).collect();
    let ids = values
        .iter()
        .all(|v| v.trim().chars().all(|c| c.is_ascii_digit()));
    Some(Finding {
        severity: Severity::Warning,
        key: format!("fields.{}.\"{}\"", m.kind.as_str(), m.name),
        message: format!(
            "every sampled value of `{}` falls to `default = \"{default}\"` ({}{}): the map covers \
             none of them, so every entity gets `{default}`. Map the values BILLmanager sends{}",
            m.from,
            shown.join(", "),
            if values.len() > 10 { ", …" } else { "" },
            if ids {
                "; these are directory ids, not names: `mgrctl -m billmgr country` lists each \
                 country's id with its name (docs/billmanager.md)"
            } else {
                ""
            }
        ),
    })
}

/// The attributes whose panel values `check` should sample: those mapped to select-like
/// fields the account has.
pub fn sampled_attributes(
    rules: &RuleSet,
    dict: &Dictionaries,
) -> std::collections::BTreeSet<String> {
    select_mappings(rules, dict)
        .into_iter()
        .map(|m| m.from.to_string())
        .collect()
}
