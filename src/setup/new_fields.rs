//! `setup-fields`: the custom fields the rules map but the account lacks, as amoCRM's
//! `POST /api/v4/{entity}/custom_fields` wants them (amocrm-api.md §7.1).
//!
//! amoCRM's web interface cannot give a field a code, so keys such as `BM_CLIENT_ID` can only
//! be made to work through the API. The field type follows the attribute, with the same
//! knowledge `check` uses ([`super::attr_kind`]): ids and costs become numeric fields,
//! `*_at` dates, yes/no attributes checkboxes, attributes with a fixed set of values selects
//! with those options, page URLs url fields, everything else text. So `check` passes on the
//! fields this creates.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::attr_kind::{attr_kind, AttrKind};
use crate::crm::Dictionaries;
use crate::engine::resolve::find_field;
use crate::rules::{EntityKind, FieldSource, RuleSet};

/// A field to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewField {
    /// The entity it belongs to.
    pub kind: EntityKind,
    /// The rule file's key (`fields.<kind>."<key>"`), which finds it afterwards.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Code, when the key is code-shaped (`BM_CLIENT_ID`): the key then finds the field by code.
    pub code: Option<String>,
    /// amoCRM type.
    pub field_type: &'static str,
    /// Options of a select field.
    pub options: Vec<String>,
    /// Read-only in amoCRM's interface: the BILLmanager ids the sync finds entities by.
    pub api_only: bool,
}

/// A mapped field that is missing and cannot be created automatically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// `fields.<kind>."<key>"`.
    pub key: String,
    /// Why, and what to do.
    pub reason: String,
}

/// Whether a key is shaped like an amoCRM field code (Latin capitals, digits, `_`).
pub fn is_code(key: &str) -> bool {
    key.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && key
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The fields the rule file maps that the account does not have. A key one typo away from a
/// field the account has (`Prodcut` beside `Product`) is held back as [`Skipped`], with the
/// name it probably means, unless `near_ok` (`setup-fields --yes`): creating it would leave
/// the account with two fields for one thing.
pub fn missing_fields(
    rules: &RuleSet,
    dict: &Dictionaries,
    near_ok: bool,
) -> (Vec<NewField>, Vec<Skipped>) {
    let mut create = Vec::new();
    let mut skipped = Vec::new();
    for kind in [EntityKind::Contact, EntityKind::Company, EntityKind::Lead] {
        let defs = dict.fields.get(kind.as_str()).cloned().unwrap_or_default();
        for (key, source) in rules.file.fields.of(kind) {
            if find_field(&defs, key).is_some() {
                continue;
            }
            let path = format!("fields.{}.\"{key}\"", kind.as_str());
            let near = crate::crm::names::near_field(&defs, key).filter(|_| !near_ok);
            if let Some(near) = near {
                skipped.push(Skipped {
                    key: path,
                    reason: format!(
                        "the account has no field `{key}`; did you mean `{near}`? Fix the key in \
                         the rule file, or run `amocrm-bin setup-fields --yes` to create `{key}` \
                         beside it"
                    ),
                });
                continue;
            }
            if key.trim().parse::<i64>().is_ok() {
                skipped.push(Skipped {
                    key: path,
                    reason: format!(
                        "names field id {key}, which the account does not have; use a name or \
                         a code instead of an id"
                    ),
                });
                continue;
            }
            let (from, enum_code) = match source {
                FieldSource::Attribute(a) => (Some(a.as_str()), None),
                FieldSource::Detailed(d) => (d.from.as_deref(), d.enum_code.as_deref()),
            };
            // A value map names the options: a select of the map's targets and the default.
            let mapped_options: Vec<String> = match source {
                FieldSource::Detailed(d) => {
                    let mut o: Vec<String> = d.map.values().cloned().collect();
                    o.extend(d.default.clone());
                    o.sort();
                    o.dedup();
                    o
                }
                FieldSource::Attribute(_) => Vec::new(),
            };
            if enum_code.is_some() {
                skipped.push(Skipped {
                    key: path,
                    reason: "a multitext field with enum codes: create it in amoCRM, or map the \
                             standard PHONE/EMAIL fields"
                        .into(),
                });
                continue;
            }
            let (field_type, options) = match from.and_then(attr_kind) {
                _ if !mapped_options.is_empty() => ("select", mapped_options),
                Some(AttrKind::Number) => ("numeric", Vec::new()),
                Some(AttrKind::Date) => ("date", Vec::new()),
                Some(AttrKind::YesNo) => ("checkbox", Vec::new()),
                Some(AttrKind::Url) => ("url", Vec::new()),
                Some(AttrKind::OneOf(words)) => {
                    ("select", words.iter().map(|w| w.to_string()).collect())
                }
                _ => ("text", Vec::new()),
            };
            let code = is_code(key).then(|| key.clone());
            let name = match (&code, from) {
                (Some(_), Some(attr)) if attr.ends_with(".id") => {
                    format!("BILLmanager {} id", attr.trim_end_matches(".id"))
                }
                _ => key.clone(),
            };
            create.push(NewField {
                kind,
                key: key.clone(),
                name,
                code,
                field_type,
                options,
                api_only: from.is_some_and(|a| a.ends_with(".id")),
            });
        }
    }
    (create, skipped)
}

/// The attributes whose panel values decide the options of the selects in `create`: those a
/// value map does not close with a `default` (a map with a default covers every value).
pub fn sampled_for(create: &[NewField], rules: &RuleSet) -> BTreeSet<String> {
    create
        .iter()
        .filter(|f| f.field_type == "select")
        .filter_map(|f| open_source(rules, f).map(|(from, _)| from.to_string()))
        .collect()
}

/// Adds to each select in `create` the sampled panel values its value map sends nowhere, so
/// `check` right after `setup-fields` finds every sampled value covered (a value that is an
/// option is sent as itself). Returns how many options were added.
pub fn offer_sampled(
    create: &mut [NewField],
    rules: &RuleSet,
    sample: &BTreeMap<String, BTreeSet<String>>,
) -> usize {
    let same = |a: &str, b: &str| a.trim().to_lowercase() == b.trim().to_lowercase();
    let mut added = 0;
    for f in create.iter_mut().filter(|f| f.field_type == "select") {
        let Some((from, map)) = open_source(rules, f) else {
            continue;
        };
        for v in sample.get(from).into_iter().flatten() {
            let covered = map.keys().any(|k| same(k, v)) || f.options.iter().any(|o| same(o, v));
            if !covered && f.options.len() < MAX_OPTIONS {
                f.options.push(v.trim().to_string());
                added += 1;
            }
        }
    }
    added
}

/// Options offered per select at most (a sample of a free-text attribute is not a list).
const MAX_OPTIONS: usize = 100;

/// The attribute and value map of `f`'s mapping when no `default` closes it.
fn open_source<'r>(
    rules: &'r RuleSet,
    f: &NewField,
) -> Option<(&'r str, BTreeMap<String, String>)> {
    match rules.file.fields.of(f.kind).get(&f.key)? {
        FieldSource::Attribute(a) => Some((a.as_str(), BTreeMap::new())),
        FieldSource::Detailed(d) if d.default.is_none() => {
            Some((d.from.as_deref()?, d.map.clone()))
        }
        FieldSource::Detailed(_) => None,
    }
}

/// The request body for the fields of one kind, sorted after the account's own fields.
pub fn create_body(fields: &[&NewField]) -> Value {
    Value::Array(
        fields
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let mut v = json!({
                    "name": f.name,
                    "type": f.field_type,
                    "sort": 500 + 10 * i as i64,
                    "is_api_only": f.api_only,
                    "request_id": f.key,
                });
                if let Some(code) = &f.code {
                    v["code"] = json!(code);
                }
                if !f.options.is_empty() {
                    v["enums"] = Value::Array(
                        f.options
                            .iter()
                            .enumerate()
                            .map(|(j, o)| json!({"value": o, "sort": 10 * (j as i64 + 1)}))
                            .collect(),
                    );
                }
                v
            })
            .collect(),
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::crm::FieldDef;
    use std::path::Path;

    /// `text` after a minimal connection (`[amocrm]`, `[billmanager]`), parsed.
    pub(crate) fn rules(text: &str) -> RuleSet {
        let head = "[amocrm]\nbase_url = \"https://x.amocrm.ru\"\nclient_id = \"c\"\n\
                    client_secret = \"s\"\nredirect_uri = \"https://e.com/\"\n\
                    [billmanager]\nsource = \"mgrctl\"\n";
        RuleSet::parse(&format!("{head}{text}"), Path::new("r.toml")).unwrap()
    }

    #[test]
    fn missing_fields_get_codes_types_and_options_from_their_attributes() {
        let r = rules(
            "[fields.contact]\n\"BM_CLIENT_ID\" = \"client.id\"\n\"Phone\" = \"user.phone\"\n\
             [fields.lead]\n\"Expires\" = \"service.expires_at\"\n\"Status\" = \"service.status\"\n\
             \"Trial\" = \"service.trial\"\n\"Source\" = \"service.utm_source\"\n",
        );
        let mut dict = Dictionaries::default();
        dict.fields.insert(
            "contact".into(),
            vec![FieldDef {
                id: 1,
                name: "Телефон".into(),
                code: Some("PHONE".into()),
                field_type: "multitext".into(),
                enums: vec![],
            }],
        );
        let (create, skipped) = missing_fields(&r, &dict, false);
        assert!(skipped.is_empty());
        let summary: Vec<(&str, Option<&str>, &str, bool)> = create
            .iter()
            .map(|f| (f.name.as_str(), f.code.as_deref(), f.field_type, f.api_only))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "BILLmanager client id",
                    Some("BM_CLIENT_ID"),
                    "numeric",
                    true
                ),
                ("Phone", None, "text", false),
                ("Expires", None, "date", false),
                ("Source", None, "text", false),
                ("Status", None, "select", false),
                ("Trial", None, "checkbox", false),
            ]
        );
        let status = create.iter().find(|f| f.key == "Status").unwrap();
        assert_eq!(status.options.len(), 5);
        let body = create_body(&[status]);
        assert_eq!(body[0]["enums"][0]["value"], "ordered");
        assert!(body[0].get("code").is_none());
    }

    #[test]
    fn a_near_duplicate_of_an_account_field_is_held_back_unless_asked_for() {
        let r = rules(
            "[fields.lead]\n\"Prodcut\" = \"service.product\"\n\"Tariff\" = \"service.product\"\n",
        );
        let mut dict = Dictionaries::default();
        dict.fields.insert(
            "lead".into(),
            vec![FieldDef {
                id: 7,
                name: "Product".into(),
                code: None,
                field_type: "text".into(),
                enums: vec![],
            }],
        );
        let (create, skipped) = missing_fields(&r, &dict, false);
        let made: Vec<&str> = create.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(made, ["Tariff"]);
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].key, "fields.lead.\"Prodcut\"");
        assert!(
            skipped[0].reason.contains("did you mean `Product`?")
                && skipped[0].reason.contains("setup-fields --yes"),
            "{}",
            skipped[0].reason
        );
        let (create, skipped) = missing_fields(&r, &dict, true);
        assert_eq!(create.len(), 2);
        assert!(skipped.is_empty());
    }

    #[test]
    fn ids_and_enum_codes_are_not_guessed() {
        let r = rules(
            "[fields.contact]\n\"271316\" = \"client.id\"\n\"IM\" = { from = \"user.phone\", enum = \"SKYPE\" }\n",
        );
        let (create, skipped) = missing_fields(&r, &Dictionaries::default(), false);
        assert!(create.is_empty(), "{create:?}");
        assert_eq!(skipped.len(), 2);
    }
}
