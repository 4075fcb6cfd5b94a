//! What an update must send: only the fields that differ from what amoCRM holds.
//!
//! Sending only changes keeps PATCHes from tripping over data operators changed by hand (a
//! deactivated user in `updated_by`, say) and makes the field-by-field plan honest.
//! Multi-value fields (PHONE, EMAIL) are merged, never replaced: amoCRM overwrites every
//! value of a field on PATCH, so we send the values it has plus ours.

use serde_json::{json, Map, Value};

use super::payload::remote_values;
use crate::phone;

const COMPARED: &[&str] = &["name", "first_name", "last_name", "price"];

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(0.0);
            if f.fract() == 0.0 {
                format!("{}", f as i64)
            } else {
                f.to_string()
            }
        }
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn value_key(v: &Value) -> String {
    match v.get("enum_id") {
        Some(id) if v.get("value").is_none() => format!("#{id}"),
        _ => scalar(v.get("value").unwrap_or(&Value::Null)),
    }
}

fn same_value(multitext_phone: bool, a: &str, b: &str) -> bool {
    if multitext_phone {
        phone::same(a, b)
    } else {
        a.eq_ignore_ascii_case(b)
    }
}

/// Whether amoCRM holds nothing worth keeping here (`null`, blank, a price of 0).
fn is_empty(v: &Value) -> bool {
    matches!(scalar(v).as_str(), "" | "0")
}

/// The PATCH body fields (without `id`/`request_id`) and the changes they make.
///
/// `multitext` lists `(field_id, is_phone)` of fields whose values are merged. With
/// `fill_only` (an adopted entity under `[sync] adopt = "fill"`) names, prices and
/// single-value fields are only set where amoCRM holds nothing: what people typed stays.
pub fn update_body(
    desired: &Value,
    remote: &Value,
    multitext: &[(i64, bool)],
    fill_only: bool,
) -> (Map<String, Value>, Vec<(String, String)>) {
    let mut body = Map::new();
    let mut changes = Vec::new();
    for key in COMPARED {
        if let Some(want) = desired.get(*key) {
            let have = remote.get(*key).unwrap_or(&Value::Null);
            // First and last name make up a contact's name (amoCRM may recompose it from
            // them), so a contact with a name keeps all three.
            let named = matches!(*key, "first_name" | "last_name")
                && !is_empty(remote.get("name").unwrap_or(&Value::Null));
            if fill_only && (!is_empty(have) || named) {
                continue;
            }
            if scalar(want) != scalar(have) {
                body.insert(key.to_string(), want.clone());
                changes.push((key.to_string(), scalar(want)));
            }
        }
    }
    let mut fields = Vec::new();
    for f in desired
        .get("custom_fields_values")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(id) = f.get("field_id").and_then(Value::as_i64) else {
            continue;
        };
        let ours = f
            .get("values")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let theirs = remote_values(remote, id, None);
        if let Some((_, is_phone)) = multitext.iter().find(|(fid, _)| *fid == id) {
            let mut merged: Vec<Value> = theirs
                .iter()
                .map(|v| {
                    let mut m = json!({"value": v.get("value").cloned().unwrap_or(Value::Null)});
                    if let Some(e) = v.get("enum_id") {
                        m["enum_id"] = e.clone();
                    } else if let Some(c) = v.get("enum_code").or(v.get("enum")) {
                        m["enum_code"] = c.clone();
                    }
                    m
                })
                .collect();
            let mut added = Vec::new();
            for o in &ours {
                let ov = scalar(o.get("value").unwrap_or(&Value::Null));
                if !theirs.iter().any(|t| {
                    same_value(
                        *is_phone,
                        &scalar(t.get("value").unwrap_or(&Value::Null)),
                        &ov,
                    )
                }) {
                    merged.push(o.clone());
                    added.push(ov);
                }
            }
            if !added.is_empty() {
                fields.push(json!({"field_id": id, "values": merged}));
                changes.push((format!("field {id}"), format!("+ {}", added.join(", "))));
            }
        } else if fill_only && !theirs.is_empty() {
            continue;
        } else {
            let want: Vec<String> = ours.iter().map(value_key).collect();
            let have: Vec<String> = theirs
                .iter()
                .map(|v| {
                    if want.iter().any(|w| w.starts_with('#')) {
                        format!("#{}", v.get("enum_id").cloned().unwrap_or(Value::Null))
                    } else {
                        value_key(v)
                    }
                })
                .collect();
            if want != have {
                fields.push(f.clone());
                changes.push((format!("field {id}"), want.join(", ")));
            }
        }
    }
    if !fields.is_empty() {
        body.insert("custom_fields_values".into(), Value::Array(fields));
    }
    let have_tags: Vec<String> = remote
        .pointer("/_embedded/tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("name").and_then(Value::as_str).map(str::to_lowercase))
        .collect();
    let missing: Vec<Value> = desired
        .get("tags_to_add")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|t| {
            t.get("name")
                .and_then(Value::as_str)
                .map(|n| !have_tags.contains(&n.to_lowercase()))
                .unwrap_or(false)
        })
        .cloned()
        .collect();
    if !missing.is_empty() {
        changes.push((
            "tags".into(),
            format!(
                "+ {}",
                missing
                    .iter()
                    .filter_map(|t| t.get("name").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
        body.insert("tags_to_add".into(), Value::Array(missing));
    }
    (body, changes)
}

/// What of `desired` the panel changed since `before` (what it said at the last sync of
/// an entity adopted under `adopt = "fill"`): names, price and fields whose panel value
/// differs, plus the tags to add. The rest is left out, so a later sync never undoes
/// what `fill` kept as people typed it (the website's name, a manager's price).
pub fn changed_since(desired: &Value, before: &Value) -> Value {
    let mut out = Map::new();
    for key in COMPARED {
        if let Some(want) = desired.get(*key) {
            if before.get(*key).map(scalar) != Some(scalar(want)) {
                out.insert(key.to_string(), want.clone());
            }
        }
    }
    let field_values = |v: &Value, id: i64| -> Option<Vec<String>> {
        v.get("custom_fields_values")
            .and_then(Value::as_array)?
            .iter()
            .find(|f| f.get("field_id").and_then(Value::as_i64) == Some(id))
            .map(|f| {
                f.get("values")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(value_key)
                    .collect()
            })
    };
    let fields: Vec<Value> = desired
        .get("custom_fields_values")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|f| {
            let id = f.get("field_id").and_then(Value::as_i64).unwrap_or(0);
            field_values(before, id) != field_values(desired, id)
        })
        .cloned()
        .collect();
    if !fields.is_empty() {
        out.insert("custom_fields_values".into(), Value::Array(fields));
    }
    if let Some(tags) = desired.get("tags_to_add") {
        out.insert("tags_to_add".into(), tags.clone());
    }
    Value::Object(out)
}

/// The field-by-field summary of a create payload.
pub fn create_changes(desired: &Value, names: &dyn Fn(i64) -> String) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for key in COMPARED
        .iter()
        .chain(["pipeline_id", "status_id", "responsible_user_id"].iter())
    {
        if let Some(v) = desired.get(*key) {
            out.push((key.to_string(), scalar(v)));
        }
    }
    for f in desired
        .get("custom_fields_values")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let id = f.get("field_id").and_then(Value::as_i64).unwrap_or(0);
        let vals: Vec<String> = f
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(value_key)
            .collect();
        out.push((names(id), vals.join(", ")));
    }
    if let Some(tags) = desired.get("tags_to_add").and_then(Value::as_array) {
        out.push((
            "tags".into(),
            tags.iter()
                .filter_map(|t| t.get("name").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multitext_is_merged_not_replaced_and_equal_fields_are_not_sent() {
        let desired = json!({"name": "Ivan", "custom_fields_values": [
            {"field_id": 1, "values": [{"value": "+79161234567", "enum_code": "WORK"}]},
            {"field_id": 2, "values": [{"value": "x"}]}
        ], "tags_to_add": [{"name": "BILL"}]});
        let remote = json!({"name": "Ivan", "custom_fields_values": [
            {"field_id": 1, "values": [{"value": "+74950000000", "enum_id": 5}]},
            {"field_id": 2, "values": [{"value": "x"}]}
        ], "_embedded": {"tags": [{"name": "bill"}, {"name": "vip"}]}});
        let (body, changes) = update_body(&desired, &remote, &[(1, true)], false);
        assert_eq!(body.get("name"), None);
        assert_eq!(body.get("tags_to_add"), None, "existing tag, any case");
        let merged = &body["custom_fields_values"][0]["values"];
        assert_eq!(merged.as_array().unwrap().len(), 2);
        assert_eq!(merged[0]["value"], "+74950000000");
        assert_eq!(changes.len(), 1);
        // Same phone written differently: nothing to send.
        let remote2 = json!({"name": "Ivan", "custom_fields_values": [
            {"field_id": 1, "values": [{"value": "8 916 123-45-67", "enum_id": 5}]},
            {"field_id": 2, "values": [{"value": "x"}]}
        ], "_embedded": {"tags": [{"name": "BILL"}]}});
        assert!(update_body(&desired, &remote2, &[(1, true)], false)
            .0
            .is_empty());
    }

    #[test]
    fn after_a_fill_adoption_only_what_the_panel_changed_is_compared() {
        let before = json!({"name": "Клиент 1 Главный", "price": 300, "custom_fields_values": [
            {"field_id": 1, "values": [{"value": "+79161234567", "enum_code": "WORK"}]},
            {"field_id": 2, "values": [{"value": "Russia"}]}
        ], "tags_to_add": [{"name": "BILL"}]});
        // The panel changed the price and the phone; the name and Country are as before.
        let now = json!({"name": "Клиент 1 Главный", "price": 250, "custom_fields_values": [
            {"field_id": 1, "values": [{"value": "+79169998877", "enum_code": "WORK"}]},
            {"field_id": 2, "values": [{"value": "Russia"}]}
        ], "tags_to_add": [{"name": "BILL"}]});
        let changed = changed_since(&now, &before);
        assert_eq!(changed.get("name"), None);
        assert_eq!(changed["price"], 250);
        let fields = changed["custom_fields_values"].as_array().unwrap();
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0]["field_id"], 1);
        assert_eq!(changed["tags_to_add"][0]["name"], "BILL");
        // What people typed in amoCRM stays: only the changed price and the phone go out.
        let remote = json!({"name": "Иван с сайта", "price": 999, "custom_fields_values": [
            {"field_id": 1, "values": [{"value": "+74950000000", "enum_id": 5}]},
            {"field_id": 2, "values": [{"value": "Germany"}]}
        ], "_embedded": {"tags": [{"name": "BILL"}]}});
        let (body, _) = update_body(&changed, &remote, &[(1, true)], false);
        assert_eq!(body.get("name"), None);
        assert_eq!(body["price"], 250);
        let ids: Vec<i64> = body["custom_fields_values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field_id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, [1], "Country stays Germany");
        // Nothing changed in the panel: nothing to compare, nothing to send.
        let same = changed_since(&before, &before);
        assert_eq!(same.as_object().unwrap().len(), 1, "tags only: {same}");
        assert!(update_body(&same, &remote, &[(1, true)], false)
            .0
            .is_empty());
        // A field the panel did not fill before is a change.
        let bare = json!({"name": "Клиент 1 Главный"});
        assert_eq!(changed_since(&now, &bare)["price"], 250);
    }

    #[test]
    fn fill_only_sets_empty_fields_and_adds_phones_and_tags_but_keeps_what_people_typed() {
        let desired = json!({"name": "Клиент 1 Главный", "price": 300, "custom_fields_values": [
            {"field_id": 1, "values": [{"value": "+79161234567", "enum_code": "WORK"}]},
            {"field_id": 2, "values": [{"value": "Russia"}]},
            {"field_id": 3, "values": [{"value": "101"}]}
        ], "tags_to_add": [{"name": "BILL"}]});
        let remote = json!({"name": "Иван с сайта", "price": 999, "custom_fields_values": [
            {"field_id": 1, "values": [{"value": "+74950000000", "enum_id": 5}]},
            {"field_id": 2, "values": [{"value": "Germany"}]}
        ]});
        let (body, changes) = update_body(&desired, &remote, &[(1, true)], true);
        assert_eq!(body.get("name"), None, "{changes:?}");
        assert_eq!(body.get("price"), None);
        let fields = body["custom_fields_values"].as_array().unwrap();
        let ids: Vec<i64> = fields
            .iter()
            .map(|f| f["field_id"].as_i64().unwrap())
            .collect();
        assert_eq!(
            ids,
            [1, 3],
            "the phone is added, the empty field filled, Country kept"
        );
        assert_eq!(body["tags_to_add"][0]["name"], "BILL");
        // An empty name and a zero price are filled in.
        let bare = json!({"name": "", "price": 0});
        let (body, _) = update_body(&desired, &bare, &[(1, true)], true);
        assert_eq!(body["name"], "Клиент 1 Главный");
        assert_eq!(body["price"], 300);
        // Overwrite makes it what BILLmanager says.
        let (body, _) = update_body(&desired, &remote, &[(1, true)], false);
        assert_eq!(body["name"], "Клиент 1 Главный");
        assert_eq!(body["price"], 300);
    }
}
