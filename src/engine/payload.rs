//! Building amoCRM payload pieces: custom-field values by field type, tags, and the payload
//! hash that tells whether anything changed since the last push.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::resolve::{MappedField, Resolved};
use crate::crm::FieldDef;
use crate::rules::condition::{holds, parse_bool, Facts};
use crate::rules::{EntityKind, RuleSet};

/// The `values` array for one field, converted to what its amoCRM type accepts.
///
/// Empty text gives `Ok(None)` (the field is left alone, never cleared: operators may have
/// filled it by hand). A value the type cannot take is an `Err` naming why.
pub fn field_values(
    def: &FieldDef,
    raw: &str,
    enum_code: Option<&str>,
) -> Result<Option<Value>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let enum_by_text = |text: &str| {
        def.enums
            .iter()
            .find(|e| e.value == text)
            .or_else(|| {
                def.enums
                    .iter()
                    .find(|e| e.value.to_lowercase() == text.to_lowercase())
            })
            .map(|e| e.id)
    };
    let v = match def.field_type.as_str() {
        "numeric" | "price" | "monetary" => {
            let n: f64 = raw
                .replace([' ', '\u{a0}'], "")
                .replace(',', ".")
                .parse()
                .map_err(|_| format!("`{raw}` is not a number"))?;
            json!([{ "value": trim_number(n) }])
        }
        "checkbox" => {
            let b = parse_bool(raw).ok_or_else(|| format!("`{raw}` is not yes/no"))?;
            json!([{ "value": b }])
        }
        "date" | "date_time" | "birthday" => {
            json!([{ "value": unix_time(raw).ok_or_else(|| format!("`{raw}` is not a date"))? }])
        }
        "url" => {
            if !(raw.starts_with("http://") || raw.starts_with("https://")) {
                return Err(format!("`{raw}` is not an http(s) URL"));
            }
            json!([{ "value": raw }])
        }
        "select" | "radiobutton" | "category" => {
            let id = enum_by_text(raw).ok_or_else(|| {
                format!(
                    "`{raw}` is not an option of `{}` (options: {})",
                    def.name,
                    options(def)
                )
            })?;
            json!([{ "enum_id": id }])
        }
        "multiselect" => {
            let mut out = Vec::new();
            for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let id = enum_by_text(part).ok_or_else(|| {
                    format!(
                        "`{part}` is not an option of `{}` (options: {})",
                        def.name,
                        options(def)
                    )
                })?;
                out.push(json!({ "enum_id": id }));
            }
            Value::Array(out)
        }
        "multitext" => json!([{ "value": raw, "enum_code": enum_code.unwrap_or("WORK") }]),
        _ => json!([{ "value": raw }]),
    };
    Ok(Some(v))
}

fn options(def: &FieldDef) -> String {
    def.enums
        .iter()
        .map(|e| e.value.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn trim_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Unix time of `YYYY-MM-DD[ HH:MM[:SS]]` (read as UTC).
pub fn unix_time(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(d) = chrono::NaiveDateTime::parse_from_str(raw, fmt) {
            return Some(d.and_utc().timestamp());
        }
    }
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp())
}

/// The mapped custom fields of one entity, plus the mapping problems met (skipped fields).
pub fn custom_fields(
    resolved: &Resolved,
    kind: EntityKind,
    facts: &Facts,
) -> (Vec<Value>, Vec<String>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for m in resolved.fields.get(&kind).into_iter().flatten() {
        let raw = value_of(m, facts);
        match field_values(&m.def, &raw, m.enum_code.as_deref()) {
            Ok(Some(values)) => out.push(json!({ "field_id": m.def.id, "values": values })),
            Ok(None) => {}
            Err(e) => problems.push(format!("field `{}` skipped: {e}", m.key)),
        }
    }
    (out, problems)
}

fn value_of(m: &MappedField, facts: &Facts) -> String {
    match (&m.constant, &m.from) {
        (Some(c), _) => c.clone(),
        (None, Some(a)) => map_value(
            &m.def,
            &m.map,
            m.default.as_deref(),
            facts.get(a).map(String::as_str).unwrap_or_default(),
        ),
        _ => String::new(),
    }
}

/// A BILLmanager value through a select's value map: the map's option (exact, then any
/// case), else the value itself when it is an option, else `default`, else the value
/// unchanged (the converter then names it as not an option). A multiselect's
/// comma-separated parts are mapped one by one.
pub fn map_value(
    def: &FieldDef,
    map: &std::collections::BTreeMap<String, String>,
    default: Option<&str>,
    raw: &str,
) -> String {
    if (map.is_empty() && default.is_none()) || raw.trim().is_empty() {
        return raw.to_string();
    }
    let one = |part: &str| -> String {
        let part = part.trim();
        if let Some(v) = map.get(part).or_else(|| {
            map.iter()
                .find(|(k, _)| k.to_lowercase() == part.to_lowercase())
                .map(|(_, v)| v)
        }) {
            return v.clone();
        }
        if def
            .enums
            .iter()
            .any(|e| e.value.to_lowercase() == part.to_lowercase())
        {
            return part.to_string();
        }
        default.unwrap_or(part).to_string()
    };
    if def.field_type == "multiselect" {
        raw.split(',')
            .filter(|p| !p.trim().is_empty())
            .map(one)
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        one(raw)
    }
}

/// Tags for an entity: the default tags plus every tag rule that holds.
pub fn tags(rules: &RuleSet, kind: EntityKind, facts: &Facts) -> Vec<String> {
    let mut out: Vec<String> = rules.file.sync.default_tags.clone();
    for t in &rules.file.tags {
        if t.entity == kind && holds(&t.when, facts) && !out.contains(&t.tag) {
            out.push(t.tag.clone());
        }
    }
    out
}

/// `tags_to_add` (incremental: tags operators added by hand are never removed).
pub fn tags_to_add(tags: &[String]) -> Value {
    Value::Array(tags.iter().map(|t| json!({ "name": t })).collect())
}

/// Stable hash of a payload (serde_json maps are sorted, so equal content hashes equal).
pub fn hash(v: &Value) -> String {
    let digest = Sha256::digest(v.to_string().as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The values of a field in an amoCRM entity as returned by GET.
pub fn remote_values(entity: &Value, field_id: i64, code: Option<&str>) -> Vec<Value> {
    entity
        .get("custom_fields_values")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|f| {
            f.get("field_id").and_then(Value::as_i64) == Some(field_id)
                || (code.is_some() && f.get("field_code").and_then(Value::as_str) == code)
        })
        .and_then(|f| f.get("values").and_then(Value::as_array).cloned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::EnumDef;

    fn def(t: &str) -> FieldDef {
        FieldDef {
            id: 1,
            name: "Product".into(),
            code: None,
            field_type: t.into(),
            enums: vec![
                EnumDef {
                    id: 10,
                    value: "VPS-1".into(),
                    code: None,
                },
                EnumDef {
                    id: 11,
                    value: "Backup".into(),
                    code: None,
                },
                EnumDef {
                    id: 12,
                    value: "Extra IP".into(),
                    code: None,
                },
            ],
        }
    }

    #[test]
    fn every_type_converts() {
        let cases: &[(&str, &str, Value)] = &[
            ("text", "abc", json!([{"value": "abc"}])),
            ("numeric", "1 490.00", json!([{"value": "1490"}])),
            ("numeric", "12,5", json!([{"value": "12.5"}])),
            ("checkbox", "on", json!([{"value": true}])),
            ("date", "2024-03-01", json!([{"value": 1709251200}])),
            (
                "date_time",
                "2024-03-01 12:00",
                json!([{"value": 1709294400}]),
            ),
            (
                "url",
                "https://x.example/1",
                json!([{"value": "https://x.example/1"}]),
            ),
            ("select", "vps-1", json!([{"enum_id": 10}])),
            ("radiobutton", "VPS-1", json!([{"enum_id": 10}])),
            (
                "multiselect",
                "Backup, Extra IP",
                json!([{"enum_id": 11}, {"enum_id": 12}]),
            ),
            (
                "multitext",
                "+79161234567",
                json!([{"value": "+79161234567", "enum_code": "WORK"}]),
            ),
        ];
        for (t, raw, want) in cases {
            assert_eq!(
                field_values(&def(t), raw, None).unwrap().unwrap(),
                *want,
                "{t} {raw}"
            );
        }
    }

    #[test]
    fn bad_values_are_explained_and_empty_is_left_alone() {
        assert!(field_values(&def("numeric"), "abc", None)
            .unwrap_err()
            .contains("not a number"));
        let e = field_values(&def("select"), "VPS-9", None).unwrap_err();
        assert!(e.contains("VPS-9") && e.contains("VPS-1"), "{e}");
        assert!(field_values(&def("url"), "example.com", None).is_err());
        assert_eq!(field_values(&def("text"), "  ", None).unwrap(), None);
    }

    #[test]
    fn value_maps_translate_panel_values_to_options_with_a_default() {
        let mut d = def("select");
        d.enums = ["Russia", "Germany", "Other"]
            .iter()
            .enumerate()
            .map(|(i, v)| crate::crm::EnumDef {
                id: i as i64 + 1,
                value: v.to_string(),
                code: None,
            })
            .collect();
        let map: std::collections::BTreeMap<String, String> =
            [("Россия".to_string(), "Russia".to_string())].into();
        assert_eq!(map_value(&d, &map, Some("Other"), "Россия"), "Russia");
        assert_eq!(map_value(&d, &map, Some("Other"), "россия"), "Russia");
        assert_eq!(
            map_value(&d, &map, Some("Other"), "germany"),
            "germany",
            "an option"
        );
        assert_eq!(map_value(&d, &map, Some("Other"), "Франция"), "Other");
        assert_eq!(map_value(&d, &map, None, "Франция"), "Франция");
        assert_eq!(map_value(&d, &map, Some("Other"), ""), "");
        assert!(field_values(&d, &map_value(&d, &map, None, "Россия"), None).is_ok());
        d.field_type = "multiselect".into();
        assert_eq!(
            map_value(&d, &map, Some("Other"), "Россия, Франция"),
            "Russia, Other"
        );
    }

    #[test]
    fn hash_is_order_independent_for_objects() {
        assert_eq!(
            hash(&json!({"a": 1, "b": 2})),
            hash(&json!({"b": 2, "a": 1}))
        );
        assert_ne!(hash(&json!({"a": 1})), hash(&json!({"a": 2})));
    }
}
