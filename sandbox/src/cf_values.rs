//! Writing and reading `custom_fields_values` (§7.3–§7.5): each value is checked
//! against its field's type and enums, errors point at the index in the submitted
//! array, and responses carry field_name/field_code/field_type and enum ids/codes.

use serde_json::{json, Map, Value};

use crate::seed::{FieldType, SeedEnum, SeedField};
use crate::store::fields::FieldIndex;
use crate::store::{CfVal, CfValues, Kind};
use crate::timefmt::parse_rfc3339;
use crate::validation::{
    check_keys, join, Errs, INVALID_VALUE, MISSING, NOT_NULLABLE, NOT_SUPPORTED,
};

/// A field to set (`Some`) or clear (`None`, from `values: null` or `[]`).
pub type CfChange = (i64, Option<Vec<CfVal>>);

/// Validates a `custom_fields_values` array found at `prefix`.
pub fn parse(
    fields: &FieldIndex,
    kind: Kind,
    v: &Value,
    prefix: &str,
    errs: &mut Errs,
) -> Vec<CfChange> {
    let Some(items) = v.as_array() else {
        errs.invalid_type(prefix, "array");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = join(prefix, &i.to_string());
        let Some(obj) = item.as_object() else {
            errs.invalid_type(p, "object");
            continue;
        };
        check_keys(obj, &["field_id", "field_code", "values"], &[], &p, errs);
        let Some(def) = resolve_field(fields, kind, obj, &p, errs) else {
            continue;
        };
        match obj.get("values") {
            None => errs.add(MISSING, join(&p, "values")),
            Some(Value::Null) => out.push((def.id, None)),
            Some(Value::Array(vals)) => {
                if let Some(vals) = parse_values(def, vals, &join(&p, "values"), errs) {
                    out.push((def.id, (!vals.is_empty()).then_some(vals)));
                }
            }
            Some(_) => errs.invalid_type(join(&p, "values"), "array"),
        }
    }
    out
}

/// Number of value objects in a `custom_fields_values` array (complex-create limit).
pub fn count_values(v: &Value) -> usize {
    v.as_array().map_or(0, |items| {
        items
            .iter()
            .map(|i| {
                i.get("values")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len)
            })
            .sum()
    })
}

fn resolve_field<'f>(
    fields: &'f FieldIndex,
    kind: Kind,
    obj: &Map<String, Value>,
    p: &str,
    errs: &mut Errs,
) -> Option<&'f SeedField> {
    let by_id = match obj.get("field_id") {
        None => None,
        Some(Value::Null) => {
            errs.add(NOT_NULLABLE, join(p, "field_id"));
            return None;
        }
        Some(v) => match v.as_i64() {
            Some(id) => match fields.get(kind, id) {
                Some(f) => Some(f),
                None => {
                    errs.add(NOT_SUPPORTED, join(p, "field_id"));
                    return None;
                }
            },
            None => {
                errs.invalid_type(join(p, "field_id"), "int");
                return None;
            }
        },
    };
    let by_code = match obj.get("field_code") {
        None => None,
        Some(Value::Null) => {
            errs.add(NOT_NULLABLE, join(p, "field_code"));
            return None;
        }
        Some(Value::String(code)) => match fields.by_code(kind, code) {
            Some(f) => Some(f),
            None => {
                errs.add(NOT_SUPPORTED, join(p, "field_code"));
                return None;
            }
        },
        Some(_) => {
            errs.invalid_type(join(p, "field_code"), "string");
            return None;
        }
    };
    match (by_id, by_code) {
        (Some(a), Some(b)) if a.id != b.id => {
            errs.add(NOT_SUPPORTED, join(p, "field_code"));
            None
        }
        (Some(f), _) | (None, Some(f)) => Some(f),
        (None, None) => {
            errs.add(MISSING, join(p, "field_id"));
            None
        }
    }
}

fn parse_values(def: &SeedField, vals: &[Value], p: &str, errs: &mut Errs) -> Option<Vec<CfVal>> {
    let before = errs.list.len();
    let single = matches!(
        def.field_type,
        FieldType::Select | FieldType::Radiobutton | FieldType::Checkbox
    );
    if single && vals.len() > 1 {
        errs.too_many(p, 1);
    }
    let mut out: Vec<CfVal> = Vec::new();
    for (m, v) in vals.iter().enumerate() {
        if let Some(val) = parse_value(def, v, &join(p, &m.to_string()), errs) {
            let dup = def.field_type == FieldType::Multiselect
                && out.iter().any(|o| o.enum_id == val.enum_id);
            if !dup {
                out.push(val);
            }
        }
    }
    (errs.list.len() == before).then_some(out)
}

fn enum_of<'a>(
    def: &'a SeedField,
    obj: &Map<String, Value>,
    p: &str,
    errs: &mut Errs,
) -> Option<&'a SeedEnum> {
    let mut found: Option<&SeedEnum> = None;
    let mut seen = false;
    for key in ["enum_id", "enum_code", "value"] {
        let Some(v) = obj.get(key) else { continue };
        if key == "value" && def.field_type == FieldType::Multitext {
            continue;
        }
        seen = true;
        let hit = match key {
            "enum_id" => v
                .as_i64()
                .and_then(|id| def.enums.iter().find(|e| e.id == id)),
            "enum_code" => v
                .as_str()
                .and_then(|c| def.enums.iter().find(|e| e.code.as_deref() == Some(c))),
            _ => v
                .as_str()
                .and_then(|s| def.enums.iter().find(|e| e.value == s)),
        };
        match (hit, found) {
            (None, _) => {
                errs.add(NOT_SUPPORTED, join(p, key));
                return None;
            }
            (Some(h), Some(f)) if h.id != f.id => {
                errs.add(NOT_SUPPORTED, join(p, key));
                return None;
            }
            (Some(h), _) => found = Some(h),
        }
    }
    if !seen {
        let key = if def.field_type == FieldType::Multitext {
            "enum_code"
        } else {
            "value"
        };
        errs.add(MISSING, join(p, key));
    }
    found
}

fn is_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !r.contains(char::is_whitespace)
    })
}

fn parse_value(def: &SeedField, v: &Value, p: &str, errs: &mut Errs) -> Option<CfVal> {
    let Some(obj) = v.as_object() else {
        errs.invalid_type(p, "object");
        return None;
    };
    let before = errs.list.len();
    let allowed: &[&str] = if def.field_type.has_enums() {
        &["value", "enum_id", "enum_code"]
    } else {
        &["value"]
    };
    check_keys(obj, allowed, &[], p, errs);
    for (k, val) in obj {
        if val.is_null() && allowed.contains(&k.as_str()) {
            errs.add(NOT_NULLABLE, join(p, k));
        }
    }
    if errs.list.len() > before {
        return None;
    }
    let vp = join(p, "value");
    let raw = obj.get("value");
    if !def.field_type.has_enums() && raw.is_none() {
        errs.add(MISSING, vp);
        return None;
    }
    let plain = |value: Value| {
        Some(CfVal {
            value,
            enum_id: None,
            enum_code: None,
        })
    };
    let raw = raw.unwrap_or(&Value::Null);
    match def.field_type {
        FieldType::Text | FieldType::Textarea | FieldType::Streetaddress => match raw {
            Value::String(s) => plain(json!(s)),
            Value::Number(n) => plain(json!(n.to_string())),
            _ => {
                errs.invalid_type(vp, "string");
                None
            }
        },
        FieldType::Numeric => {
            let txt = match raw {
                Value::Number(n) => Some(n.to_string()),
                Value::String(s) if s.trim().parse::<f64>().is_ok_and(f64::is_finite) => {
                    Some(s.trim().to_string())
                }
                _ => None,
            };
            match txt {
                Some(t) => plain(json!(t)),
                None => {
                    errs.invalid_type(vp, "numeric");
                    None
                }
            }
        }
        FieldType::Checkbox => match raw {
            Value::Bool(b) => plain(json!(b)),
            _ => {
                errs.invalid_type(vp, "bool");
                None
            }
        },
        FieldType::Date | FieldType::DateTime | FieldType::Birthday => {
            let ts = match raw {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => parse_rfc3339(s),
                _ => None,
            };
            match ts {
                Some(t) => plain(json!(t)),
                None => {
                    errs.add(INVALID_VALUE, vp);
                    None
                }
            }
        }
        FieldType::Url => match raw.as_str() {
            Some(s) if is_url(s) => plain(json!(s)),
            _ => {
                errs.add(INVALID_VALUE, vp);
                None
            }
        },
        FieldType::Select | FieldType::Radiobutton | FieldType::Multiselect => {
            let e = enum_of(def, obj, p, errs)?;
            Some(CfVal {
                value: json!(e.value),
                enum_id: Some(e.id),
                enum_code: e.code.clone(),
            })
        }
        FieldType::Multitext => {
            let value = match raw {
                Value::String(s) if !s.trim().is_empty() => s.clone(),
                Value::Null => {
                    errs.add(MISSING, vp);
                    return None;
                }
                Value::String(_) => {
                    errs.add(crate::validation::NOT_BLANK, vp);
                    return None;
                }
                _ => {
                    errs.invalid_type(vp, "string");
                    return None;
                }
            };
            let e = enum_of(def, obj, p, errs)?;
            Some(CfVal {
                value: json!(value),
                enum_id: Some(e.id),
                enum_code: e.code.clone(),
            })
        }
    }
}

/// Replaces the values of each changed field; other fields stay (§7.3).
pub fn apply(cf: &mut Vec<CfValues>, changes: Vec<CfChange>) {
    for (field_id, values) in changes {
        match values {
            None => cf.retain(|c| c.field_id != field_id),
            Some(values) => match cf.iter_mut().find(|c| c.field_id == field_id) {
                Some(c) => c.values = values,
                None => cf.push(CfValues { field_id, values }),
            },
        }
    }
}

/// `custom_fields_values` as GET shows it: null when empty.
pub fn render(fields: &FieldIndex, kind: Kind, cf: &[CfValues]) -> Value {
    if cf.is_empty() {
        return Value::Null;
    }
    let list: Vec<Value> = cf
        .iter()
        .filter_map(|c| {
            let def = fields.get(kind, c.field_id)?;
            let values: Vec<Value> = c
                .values
                .iter()
                .map(|v| {
                    if def.field_type.has_enums() {
                        json!({"value": v.value, "enum_id": v.enum_id, "enum_code": v.enum_code})
                    } else {
                        json!({"value": v.value})
                    }
                })
                .collect();
            Some(json!({
                "field_id": def.id,
                "field_name": def.name,
                "field_code": def.code,
                "field_type": def.field_type.as_str(),
                "values": values,
            }))
        })
        .collect();
    Value::Array(list)
}
