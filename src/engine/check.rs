//! `amocrm-bin check`: the rule file against the live account, before anything is sent.
//!
//! Loading a rule file already proves it is well formed (`rules::validate`). What only the
//! account can tell is whether the names in it exist and whether the values fit. That is
//! decided in three layers, and each layer is the one the sync itself uses, so `check` can
//! never disagree with a run:
//!
//! 1. **Names** — fields, pipelines, statuses and users — go through the same resolvers a
//!    run uses ([`super::resolve::resolve`], [`super::lifecycle::resolve`],
//!    [`crate::calls::config::resolve`]). Their problems are reported unchanged, key paths
//!    included.
//! 2. **Values and types** are checked here, for every mapped field the account has:
//!    constants go through [`super::payload::field_values`], the converter a sync uses. An
//!    option missing from a select and a number sent to a date field are caught that way.
//!    Attributes whose kind is known (ids and costs are numbers, `*_at` are dates,
//!    `service.trial` is yes/no, `service.status` has five values, …) must fit the field's
//!    type. Multitext `enum` codes must exist, and the attribute must be known for that
//!    entity (a company has no `service.*`). Field types the converter cannot write are
//!    flagged, and so are two keys that name the same field.
//! 3. **Tags** are only looked up: amoCRM creates a missing tag on the first write. So a
//!    tag the account does not have yet is a [`Severity::Warning`] (a typo such as `trail`
//!    would quietly make a new tag), not a problem.
//!
//! Raw BILLmanager attributes (`service.utm_source`, `client.project`, …) have no known
//! type; they are accepted by every field and their values are checked when they are sent.

use std::collections::BTreeMap;

use serde::Serialize;

use super::payload::field_values;
use super::resolve::find_field;
use crate::crm::{Dictionaries, FieldDef};
use crate::rules::condition::scalar_text;
use crate::rules::{EntityKind, FieldSource, Problem, RuleSet, RulesError};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A sync would fail, or would send less than the rules ask for. `check` exits 2.
    Problem,
    /// Worth a look, but a sync would work (a tag amoCRM will create). `--strict` counts it.
    Warning,
}

/// One thing `check` found, with the rule-file key it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Problem or warning.
    pub severity: Severity,
    /// Dotted key path, e.g. `fields.lead."Product"` or `pipelines[1].status`.
    pub key: String,
    /// What is wrong and what exists instead.
    pub message: String,
}

impl Finding {
    fn problem(key: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding {
            severity: Severity::Problem,
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Every name, value and type in the rule file against the account's dictionaries.
///
/// Tags are not looked at here (they need the account's tag lists: [`tag_findings`]).
pub fn check(rules: &RuleSet, dict: &Dictionaries) -> Vec<Finding> {
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
    add(super::resolve::resolve(rules, dict.clone()).map(drop));
    add(super::lifecycle::resolve(rules, dict).map(drop));
    add(crate::calls::CallSetup::from_rules(rules)
        .and_then(|setup| crate::calls::config::resolve(&setup, rules, dict.clone()).map(drop)));
    for kind in [EntityKind::Contact, EntityKind::Company, EntityKind::Lead] {
        out.extend(field_findings(rules, dict, kind));
    }
    // One resolver may meet a name another one reports too (a shared responsible user).
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|f| seen.insert((f.key.clone(), f.message.clone())));
    out
}

/// What is known about the values of a stable attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttrKind {
    Number,
    Date,
    YesNo,
    /// One of a fixed set of words.
    OneOf(&'static [&'static str]),
    Phone,
    Email,
    Url,
    Text,
}

impl AttrKind {
    fn describe(self) -> String {
        match self {
            AttrKind::Number => "a number".into(),
            AttrKind::Date => "a date".into(),
            AttrKind::YesNo => "yes/no".into(),
            AttrKind::OneOf(words) => format!("one of {}", words.join(", ")),
            AttrKind::Phone => "a phone number".into(),
            AttrKind::Email => "an e-mail address".into(),
            AttrKind::Url => "a URL".into(),
            AttrKind::Text => "free text".into(),
        }
    }
}

const SERVICE_STATUSES: &[&str] = &["ordered", "active", "suspended", "deleted", "processing"];
const PAYER_KINDS: &[&str] = &["individual", "company", "sole_proprietor"];

/// The stable attributes (`engine::facts`, `lifecycle::links`) and what their values are.
pub(crate) fn attr_kind(attr: &str) -> Option<AttrKind> {
    Some(match attr {
        "client.id" | "user.id" | "payer.id" | "service.id" | "service.cost" => AttrKind::Number,
        "client.registered_at" | "service.created_at" | "service.expires_at" => AttrKind::Date,
        "service.trial" | "user.marketing_consent" => AttrKind::YesNo,
        "service.status" => AttrKind::OneOf(SERVICE_STATUSES),
        "payer.kind" => AttrKind::OneOf(PAYER_KINDS),
        "user.phone" | "payer.phone" => AttrKind::Phone,
        "user.email" | "payer.email" => AttrKind::Email,
        "client.page_url" | "service.page_url" => AttrKind::Url,
        "client.name" | "client.country" | "user.realname" | "payer.name" | "payer.inn"
        | "service.product" | "service.item_type" => AttrKind::Text,
        _ => return None,
    })
}

/// The fact prefixes a sync fills in for an entity (`engine::{contacts, companies, leads}`).
fn prefixes(kind: EntityKind) -> &'static [&'static str] {
    match kind {
        EntityKind::Contact => &["client", "user", "payer"],
        EntityKind::Company => &["client", "payer"],
        EntityKind::Lead => &["client", "user", "payer", "service", "lead"],
    }
}

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

fn field_findings(rules: &RuleSet, dict: &Dictionaries, kind: EntityKind) -> Vec<Finding> {
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

/// Field types whose values are options.
const SELECTS: &[&str] = &["select", "multiselect", "radiobutton", "category"];

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
                let mapped = super::payload::map_value(def, &m.map, m.default, v);
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
                        let mapped = super::payload::map_value(def, map, default, w);
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

/// A tag the rule file adds, and where it says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagUse {
    /// The entity kind whose tag dictionary it belongs to (amoCRM keeps one per kind).
    pub kind: EntityKind,
    /// The tag name.
    pub name: String,
    /// The rule-file key that adds it.
    pub key: String,
}

/// Every tag the rule file may add: `[sync] default_tags` (to all three kinds), `[[tags]]`
/// and `[calls] tags` (contacts and leads created from calls).
pub fn tag_uses(rules: &RuleSet) -> Vec<TagUse> {
    let f = &rules.file;
    let mut out = Vec::new();
    let mut add = |kind: EntityKind, name: &str, key: String| {
        let name = name.trim();
        if !name.is_empty() {
            out.push(TagUse {
                kind,
                name: name.to_string(),
                key,
            });
        }
    };
    for (i, t) in f.sync.default_tags.iter().enumerate() {
        for kind in [EntityKind::Contact, EntityKind::Company, EntityKind::Lead] {
            add(kind, t, format!("sync.default_tags[{i}]"));
        }
    }
    for (i, t) in f.tags.iter().enumerate() {
        add(t.entity, &t.tag, format!("tags[{i}].tag"));
    }
    for (i, t) in f.calls.tags.iter().enumerate() {
        for kind in [EntityKind::Contact, EntityKind::Lead] {
            add(kind, t, format!("calls.tags[{i}]"));
        }
    }
    out
}

/// Looks every used tag up (`exists(kind, name)`, asked once per kind and name) and warns
/// about those the account does not have yet: one warning per rule-file key, naming the
/// kinds that lack it.
pub fn tag_findings(
    uses: &[TagUse],
    exists: &mut dyn FnMut(EntityKind, &str) -> anyhow::Result<bool>,
) -> anyhow::Result<Vec<Finding>> {
    let mut known: BTreeMap<(EntityKind, String), bool> = BTreeMap::new();
    // (key, name) → kinds lacking it, in the order the rule file uses them.
    let mut missing: Vec<((String, String), Vec<EntityKind>)> = Vec::new();
    for u in uses {
        let id = (u.kind, u.name.to_lowercase());
        let found = match known.get(&id) {
            Some(f) => *f,
            None => {
                let f = exists(u.kind, &u.name)?;
                known.insert(id, f);
                f
            }
        };
        if found {
            continue;
        }
        let at = (u.key.clone(), u.name.clone());
        match missing.iter_mut().find(|(k, _)| *k == at) {
            Some((_, kinds)) => kinds.push(u.kind),
            None => missing.push((at, vec![u.kind])),
        }
    }
    Ok(missing
        .into_iter()
        .map(|((key, name), kinds)| {
            let kinds: Vec<&str> = kinds.iter().map(|k| k.collection()).collect();
            Finding {
                severity: Severity::Warning,
                key,
                message: format!(
                    "amoCRM has no `{name}` tag for {} yet; the first sync creates it (check \
                     the spelling if you meant an existing tag)",
                    kinds.join(", ")
                ),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::crm::{EnumDef, PipelineDef, StatusDef, UserDef};

    fn field(id: i64, name: &str, code: Option<&str>, t: &str, enums: &[&str]) -> FieldDef {
        FieldDef {
            id,
            name: name.into(),
            code: code.map(String::from),
            field_type: t.into(),
            enums: enums
                .iter()
                .enumerate()
                .map(|(i, v)| EnumDef {
                    id: id * 100 + i as i64,
                    value: v.to_string(),
                    code: (t == "multitext").then(|| v.to_string()),
                })
                .collect(),
        }
    }

    fn dict() -> Dictionaries {
        let mut d = Dictionaries::default();
        d.fields.insert(
            "contact".into(),
            vec![
                field(1, "Phone", Some("PHONE"), "multitext", &["WORK", "MOB"]),
                field(2, "Country", None, "select", &["Russia", "Other"]),
                field(3, "Registered", None, "date", &[]),
                field(4, "Address", None, "smart_address", &[]),
                field(5, "Email", Some("EMAIL"), "multitext", &["WORK"]),
            ],
        );
        d.fields.insert(
            "company".into(),
            vec![field(10, "INN", Some("INN"), "text", &[])],
        );
        d.fields.insert(
            "lead".into(),
            vec![
                field(20, "Product", None, "select", &["VPS-1", "VPS-2"]),
                field(21, "State", None, "select", &["ordered", "active"]),
                field(22, "Cost", None, "numeric", &[]),
                field(23, "BM_SERVICE_ID", Some("BM_SERVICE_ID"), "numeric", &[]),
            ],
        );
        d.pipelines = vec![PipelineDef {
            id: 7,
            name: "Sales".into(),
            is_main: true,
            statuses: vec![StatusDef {
                id: 70,
                name: "New order".into(),
            }],
        }];
        d.users = vec![UserDef {
            id: 5,
            name: "Anna".into(),
            email: Some("anna@example.com".into()),
            active: true,
        }];
        d
    }

    const HEAD: &str = r#"
[amocrm]
base_url = "https://x.amocrm.ru"
client_id = "x"
client_secret = "s"
redirect_uri = "https://x/"
[billmanager]
source = "files"
dir = "."
"#;

    fn rules(body: &str) -> RuleSet {
        RuleSet::parse(&format!("{HEAD}{body}"), Path::new("r.toml")).unwrap()
    }

    fn keys(found: &[Finding]) -> Vec<&str> {
        found.iter().map(|f| f.key.as_str()).collect()
    }

    #[test]
    fn a_fitting_rule_file_has_no_findings() {
        let r = rules(
            r#"
[sync]
responsible = "anna@example.com"
[fields.contact]
"Country" = "client.country"
"Registered" = "client.registered_at"
"PHONE" = { from = "user.phone", enum = "MOB" }
[fields.lead]
"Product" = "service.product"
"Cost" = "service.cost"
"BM_SERVICE_ID" = "service.utm_source"
[[pipelines]]
pipeline = "Sales"
status = "New order"
"#,
        );
        // A raw attribute (`service.utm_source`) has no known type: any field takes it.
        assert_eq!(check(&r, &dict()), vec![]);
    }

    #[test]
    fn names_come_from_the_resolver_with_their_key_paths() {
        let r = rules(
            r#"
[fields.lead]
"Prodcut" = "service.product"
[[pipelines]]
pipeline = "Sales"
status = "Won't exist"
"#,
        );
        let found = check(&r, &dict());
        assert_eq!(
            keys(&found),
            vec!["fields.lead.\"Prodcut\"", "pipelines[0].status"]
        );
        assert!(found[0].message.contains("known fields"), "{found:?}");
    }

    #[test]
    fn values_types_and_enums_must_fit() {
        let r = rules(
            r#"
[fields.contact]
"Country" = { value = "Atlantis" }
"Registered" = "client.country"
"PHONE" = { from = "user.phone", enum = "PAGER" }
"Address" = "client.name"
"EMAIL" = "user.phone"
[fields.company]
"INN" = "service.product"
[fields.lead]
"Product" = "service.product"
"Product " = "service.id"
"State" = "service.status"
"Cost" = "service.trial"
"BM_SERVICE_ID" = { value = "abc" }
"#,
        );
        let found = check(&r, &dict());
        let text: String = found
            .iter()
            .map(|f| format!("{}: {}\n", f.key, f.message))
            .collect();
        assert_eq!(
            keys(&found),
            vec![
                "fields.contact.\"Address\"",
                "fields.contact.\"Country\".value",
                "fields.contact.\"EMAIL\"",
                "fields.contact.\"PHONE\".enum",
                "fields.contact.\"Registered\"",
                "fields.company.\"INN\"",
                "fields.lead.\"BM_SERVICE_ID\".value",
                "fields.lead.\"Cost\"",
                "fields.lead.\"Product \"",
                "fields.lead.\"State\"",
            ],
            "{text}"
        );
        for want in [
            "`user.phone` is a phone number, which does not fit multitext field `Email`",
            "smart_address",
            "`Atlantis` is not an option",
            "no enum `PAGER`",
            "`client.country` is free text, which does not fit date field",
            "never known for a company",
            "not a number",
            "`service.trial` is yes/no",
            "same amoCRM field as `fields.lead.\"Product\"`",
            "suspended, deleted, processing",
        ] {
            assert!(text.contains(want), "{want}: {text}");
        }
        assert!(found.iter().all(|f| f.severity == Severity::Problem));
    }

    #[test]
    fn tags_are_looked_up_once_per_kind_and_missing_ones_warn() {
        let r = rules(
            r#"
[sync]
default_tags = ["BILL"]
[[tags]]
entity = "lead"
tag = "trial"
when = { "service.trial" = true }
[[tags]]
entity = "lead"
tag = "Trial"
when = { "service.cost" = { gt = 1 } }
"#,
        );
        let uses = tag_uses(&r);
        let mut asked = Vec::new();
        let found = tag_findings(&uses, &mut |kind, name| {
            asked.push(format!("{}:{name}", kind.as_str()));
            Ok(name == "BILL" && kind != EntityKind::Company)
        })
        .unwrap();
        assert_eq!(
            asked,
            vec!["contact:BILL", "company:BILL", "lead:BILL", "lead:trial"]
        );
        assert_eq!(
            keys(&found),
            vec!["sync.default_tags[0]", "tags[0].tag", "tags[1].tag"]
        );
        assert!(found.iter().all(|f| f.severity == Severity::Warning));
        assert!(
            found[0].message.contains("no `BILL` tag for companies yet"),
            "{found:?}"
        );
        assert!(
            found[1].message.contains("`trial` tag for leads"),
            "{found:?}"
        );
    }

    #[test]
    fn a_map_that_sends_every_sampled_value_to_its_default_is_a_warning() {
        let r = rules(
            r#"
[fields.contact]
"Country" = { from = "client.country", map = { "Россия" = "Russia" }, default = "Other" }
"#,
        );
        let sample = |vals: &[&str]| -> BTreeMap<String, std::collections::BTreeSet<String>> {
            [(
                "client.country".to_string(),
                vals.iter().map(|v| v.to_string()).collect(),
            )]
            .into()
        };
        // The panel sends directory ids where the map has names.
        let found = sample_findings(&r, &dict(), &sample(&["182", "40"]));
        assert_eq!(
            keys(&found),
            vec!["fields.contact.\"Country\""],
            "{found:?}"
        );
        assert_eq!(found[0].severity, Severity::Warning);
        let m = &found[0].message;
        assert!(
            m.contains("every sampled value of `client.country` falls to `default = \"Other\"` (`182`, `40`)")
                && m.contains("directory ids")
                && m.contains("mgrctl -m billmgr country"),
            "{m}"
        );
        // One value the map covers (any case), or an option itself: the map does its job.
        for covered in [&["182", "россия"][..], &["182", "Other"][..]] {
            assert_eq!(sample_findings(&r, &dict(), &sample(covered)), vec![]);
        }
        // Names that all fall to the default are said too, without the id advice.
        let found = sample_findings(&r, &dict(), &sample(&["Франция"]));
        assert_eq!(found.len(), 1);
        assert!(!found[0].message.contains("directory ids"), "{found:?}");
        assert_eq!(sample_findings(&r, &dict(), &sample(&[])), vec![]);
    }
}
