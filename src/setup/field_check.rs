//! `check`, values and types: every mapped field the account has, against the converter a
//! sync uses and what is known about the attribute that fills it.

use std::collections::BTreeMap;

use super::attr_kind::{attr_kind, AttrKind};
use super::finding::Finding;
use crate::crm::{Dictionaries, FieldDef};
use crate::engine::payload::field_values;
use crate::engine::resolve::find_field;
use crate::rules::condition::scalar_text;
use crate::rules::{EntityKind, FieldSource, RuleSet};

/// The fact prefixes a sync fills in for an entity (`engine::{contacts, companies, leads}`).
fn prefixes(kind: EntityKind) -> &'static [&'static str] {
    match kind {
        EntityKind::Contact => &["client", "user", "payer"],
        EntityKind::Company => &["client", "payer"],
        EntityKind::Lead => &["client", "user", "payer", "service", "lead"],
    }
}

/// Field types whose values are options.
pub(crate) const SELECTS: &[&str] = &["select", "multiselect", "radiobutton", "category"];

/// Field types the payload converter writes (`payload::field_values`); anything else
/// (legal_entity, smart_address, items, file, …) would be sent as text and rejected.
const WRITABLE: &[&str] = &[
    "text",
    "textarea",
    "numeric",
    "price",
    "monetary",
    "checkbox",
    "select",
    "radiobutton",
    "category",
    "multiselect",
    "multitext",
    "date",
    "date_time",
    "birthday",
    "url",
    "streetaddress",
];

pub(crate) fn field_findings(
    rules: &RuleSet,
    dict: &Dictionaries,
    kind: EntityKind,
) -> Vec<Finding> {
    let defs = dict.fields.get(kind.as_str()).cloned().unwrap_or_default();
    let mut out = Vec::new();
    let mut owner: BTreeMap<i64, String> = BTreeMap::new();
    for (name, source) in rules.file.fields.of(kind) {
        let key = format!("fields.{}.\"{name}\"", kind.as_str());
        // A name the account lacks is the resolver's problem, reported once.
        let Some(def) = find_field(&defs, name) else {
            continue;
        };
        if let Some(first) = owner.get(&def.id) {
            out.push(Finding::problem(
                &key,
                format!(
                    "names the same amoCRM field as `{first}` ({} `{}`, id {}); one would overwrite the other",
                    def.field_type, def.name, def.id
                ),
            ));
            continue;
        }
        owner.insert(def.id, key.clone());
        if !WRITABLE.contains(&def.field_type.as_str()) {
            out.push(Finding::problem(
                &key,
                format!(
                    "amoCRM field `{}` is of type `{}`, which amocrm-bin cannot write; map a text, \
                     number, date, checkbox, select, multiselect, url or multitext field",
                    def.name, def.field_type
                ),
            ));
            continue;
        }
        let (from, constant, enum_code) = match source {
            FieldSource::Attribute(a) => (Some(a.as_str()), None, None),
            FieldSource::Detailed(d) => (
                d.from.as_deref(),
                d.value.as_ref().and_then(scalar_text),
                d.enum_code.as_deref(),
            ),
        };
        if let FieldSource::Detailed(d) = source {
            out.extend(value_map_findings(&key, def, &d.map, d.default.as_deref()));
        }
        if let Some(code) = enum_code {
            if let Some(message) = enum_code_problem(def, code) {
                out.push(Finding::problem(format!("{key}.enum"), message));
            }
        } else if def.field_type == "multitext" && !def.enums.is_empty() {
            // The converter sends WORK when no code is given.
            if let Some(message) = enum_code_problem(def, "WORK") {
                out.push(Finding::problem(
                    &key,
                    format!("{message}; add `enum = \"…\"` to the mapping"),
                ));
            }
        }
        if let Some(value) = constant {
            if let Err(e) = field_values(def, &value, enum_code) {
                out.push(Finding::problem(
                    format!("{key}.value"),
                    format!("does not fit {} field `{}`: {e}", def.field_type, def.name),
                ));
            }
        }
        if let Some(attr) = from {
            let (map, default) = match source {
                FieldSource::Detailed(d) => (d.map.clone(), d.default.clone()),
                FieldSource::Attribute(_) => (BTreeMap::new(), None),
            };
            out.extend(
                attribute_problem(kind, def, attr, &map, default.as_deref())
                    .map(|m| Finding::problem(&key, m)),
            );
        }
    }
    out
}

/// A value map must translate into the field's options, and only a select-like field has
/// options to translate into.
fn value_map_findings(
    key: &str,
    def: &FieldDef,
    map: &BTreeMap<String, String>,
    default: Option<&str>,
) -> Vec<Finding> {
    if map.is_empty() && default.is_none() {
        return Vec::new();
    }
    if !SELECTS.contains(&def.field_type.as_str()) {
        return vec![Finding::problem(
            format!("{key}.map"),
            format!(
                "`map` and `default` choose options; `{}` is a {} field without options",
                def.name, def.field_type
            ),
        )];
    }
    let mut out = Vec::new();
    for (from, to) in map {
        if let Err(e) = field_values(def, to, None) {
            out.push(Finding::problem(format!("{key}.map.\"{from}\""), e));
        }
    }
    if let Some(d) = default {
        if let Err(e) = field_values(def, d, None) {
            out.push(Finding::problem(format!("{key}.default"), e));
        }
    }
    out
}

/// `enum = "MOB"` must be one of the field's enum codes (a multitext field's PHONE/EMAIL types).
fn enum_code_problem(def: &FieldDef, code: &str) -> Option<String> {
    if def.field_type != "multitext" {
        return Some(format!(
            "`enum` only applies to multitext fields; `{}` is {}",
            def.name, def.field_type
        ));
    }
    let codes: Vec<&str> = def
        .enums
        .iter()
        .map(|e| e.code.as_deref().unwrap_or(e.value.as_str()))
        .collect();
    if codes.is_empty() || codes.iter().any(|c| c.eq_ignore_ascii_case(code)) {
        return None;
    }
    Some(format!(
        "field `{}` has no enum `{code}`; its enums: {}",
        def.name,
        codes.join(", ")
    ))
}

/// Whether an attribute can ever fill a field: known for the entity, and of a fitting kind.
fn attribute_problem(
    kind: EntityKind,
    def: &FieldDef,
    attr: &str,
    map: &BTreeMap<String, String>,
    default: Option<&str>,
) -> Option<String> {
    let prefix = attr.split('.').next().unwrap_or("");
    if !prefixes(kind).contains(&prefix) {
        return Some(format!(
            "`{attr}` is never known for a {}: a {} is built from {} attributes",
            kind.as_str(),
            kind.as_str(),
            prefixes(kind)
                .iter()
                .map(|p| format!("{p}.*"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let known = attr_kind(attr)?;
    let t = def.field_type.as_str();
    let fits = match t {
        "numeric" | "price" | "monetary" => known == AttrKind::Number,
        "checkbox" => known == AttrKind::YesNo,
        "date" | "date_time" | "birthday" => known == AttrKind::Date,
        "url" => known == AttrKind::Url,
        "multitext" => match def.code.as_deref() {
            Some("PHONE") => known == AttrKind::Phone,
            Some("EMAIL") => known == AttrKind::Email,
            _ => true,
        },
        "select" | "radiobutton" | "category" | "multiselect" => {
            if let AttrKind::OneOf(words) = known {
                let missing: Vec<&str> = words
                    .iter()
                    .copied()
                    .filter(|w| {
                        let mapped = crate::engine::payload::map_value(def, map, default, w);
                        field_values(def, &mapped, None).is_err()
                    })
                    .collect();
                if !missing.is_empty() {
                    return Some(format!(
                        "{t} field `{}` has no option for {} of `{attr}`'s values ({}); \
                         such entities would be sent without it (options: {})",
                        def.name,
                        missing.len(),
                        missing.join(", "),
                        def.enums
                            .iter()
                            .map(|e| e.value.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                true
            } else {
                !matches!(known, AttrKind::Date | AttrKind::YesNo | AttrKind::Url)
            }
        }
        _ => true,
    };
    (!fits).then(|| {
        format!(
            "`{attr}` is {}, which does not fit {t} field `{}`",
            known.describe(),
            def.name
        )
    })
}
