//! Resolving one call (`func` + `key=value` parameters) to the document BILLmanager would
//! print, from a fixture directory.
//!
//! - A call with `elid` goes to `<dir>/<func>/<elid>.json` when `<dir>/<func>/` exists; a
//!   missing file is answered with the "object not found" error document
//!   (`$type` `missed`, `$object` `elid`).
//! - Otherwise `<dir>/<func>.json`; a missing file is answered with the "unknown function"
//!   error document (`$type` `missed`, `$object` = the function).
//! - List answers are filtered like a panel filtering by `account=<client id>` and
//!   `elid=<row id>` (amocrm-bin sends these as hints); a filtered list of exactly one row
//!   is printed with `doc.elem` as an object, BILLmanager's one-element quirk, so readers
//!   are exercised on both shapes. Unfiltered answers are served byte for byte, so broken
//!   fixtures stay broken.

use std::path::Path;

use serde_json::{json, Map, Value};

/// Parameters that never select rows (output format, credentials, language, `su`).
const NOT_FILTERS: &[&str] = &[
    "out", "auth", "authinfo", "username", "password", "lang", "su", "sok", "func",
];

/// Whether an answer is an error document (fake-mgrctl may exit non-zero on those).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The document text.
    pub body: String,
    /// True when `body` is an error document made up here (unknown function or elid).
    pub is_error: bool,
}

/// The document for `func` with `params`, read from `dir`.
pub fn answer(dir: &Path, func: &str, params: &[(String, String)]) -> Answer {
    if !safe_name(func) {
        return missed_function(func);
    }
    let elid = params
        .iter()
        .find(|(k, _)| k == "elid")
        .map(|(_, v)| v.as_str());
    let folder = dir.join(func);
    if let Some(id) = elid.filter(|_| folder.is_dir()) {
        let path = folder.join(format!("{id}.json"));
        return match (safe_name(id), std::fs::read(&path)) {
            (true, Ok(bytes)) => ok(bytes),
            _ => missed_elid(id),
        };
    }
    let Ok(bytes) = std::fs::read(dir.join(format!("{func}.json"))) else {
        return missed_function(func);
    };
    let filters: Vec<(&str, &str)> = params
        .iter()
        .filter(|(k, _)| !NOT_FILTERS.contains(&k.as_str()))
        .map(|(k, v)| (if k == "elid" { "id" } else { k.as_str() }, v.as_str()))
        .collect();
    if filters.is_empty() {
        return ok(bytes);
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut doc) => {
            filter_rows(&mut doc, &filters);
            Answer {
                body: doc.to_string(),
                is_error: false,
            }
        }
        Err(_) => ok(bytes),
    }
}

/// BILLmanager's error document: `{"doc":{"error":{"$type","$object","msg":{"$"}}}}`.
pub fn error_doc(kind: &str, object: &str, msg: &str) -> String {
    json!({"doc": {"error": {"$type": kind, "$object": object, "msg": {"$": msg}}}}).to_string()
}

fn ok(bytes: Vec<u8>) -> Answer {
    Answer {
        body: String::from_utf8_lossy(&bytes).into_owned(),
        is_error: false,
    }
}

fn missed_elid(id: &str) -> Answer {
    Answer {
        body: error_doc("missed", "elid", &format!("Object not found (elid={id})")),
        is_error: true,
    }
}

fn missed_function(func: &str) -> Answer {
    Answer {
        body: error_doc(
            "missed",
            func,
            &format!("could not find function '{func}'; the module may not be loaded"),
        ),
        is_error: true,
    }
}

/// Keeps the rows of `doc.elem` whose fields equal every filter; one row becomes an object.
fn filter_rows(doc: &mut Value, filters: &[(&str, &str)]) {
    let Some(node) = doc.get_mut("doc").and_then(Value::as_object_mut) else {
        return;
    };
    let rows: Vec<Value> = match node.remove("elem") {
        Some(Value::Array(a)) => a,
        Some(one) => vec![one],
        None => Vec::new(),
    };
    let mut kept: Vec<Value> = rows
        .into_iter()
        .filter(|r| r.as_object().is_some_and(|m| matches(m, filters)))
        .collect();
    match kept.len() {
        0 => {}
        1 => {
            node.insert("elem".into(), kept.remove(0));
        }
        _ => {
            node.insert("elem".into(), Value::Array(kept));
        }
    }
}

fn matches(row: &Map<String, Value>, filters: &[(&str, &str)]) -> bool {
    filters
        .iter()
        .all(|(k, v)| row.get(*k).and_then(text).as_deref() == Some(*v))
}

/// A field's text: `$orig`, else `$`, else the plain value; arrays count by their first item.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Array(a) => a.first().and_then(text),
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(m) => m.get("$orig").or_else(|| m.get("$")).and_then(text),
        _ => None,
    }
}

fn safe_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
}
