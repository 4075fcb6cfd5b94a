//! Derived search data of an entity, recomputed on every write so that `query`
//! search and call matching stay cheap at benchmark sizes (~50k entities).

use serde_json::Value;

use super::fields::FieldIndex;
use super::records::Entity;

pub fn digits_only(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// The last 10 digits of a phone number (the whole number when shorter), §13.
pub fn phone_key(s: &str) -> Option<String> {
    let d = digits_only(s);
    if d.is_empty() {
        return None;
    }
    Some(d[d.len().saturating_sub(10)..].to_string())
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Fills `search_text`, `search_digits` and `phone_keys`.
pub fn reindex(fields: &FieldIndex, e: &mut Entity) {
    let mut texts: Vec<String> = vec![e.name.clone(), e.first_name.clone(), e.last_name.clone()];
    let mut phones = Vec::new();
    for cf in &e.cf {
        let is_phone = fields
            .get(e.kind, cf.field_id)
            .is_some_and(|f| f.code.as_deref() == Some("PHONE"));
        for v in &cf.values {
            let t = text_of(&v.value);
            if is_phone {
                if let Some(k) = phone_key(&t) {
                    if !phones.contains(&k) {
                        phones.push(k);
                    }
                }
            }
            texts.push(t);
        }
    }
    texts.retain(|t| !t.is_empty());
    e.search_text = texts.join("\n").to_lowercase();
    e.search_digits = texts
        .iter()
        .map(|t| digits_only(t))
        .filter(|d| !d.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    e.phone_keys = phones;
}
