//! Resolving one call (`func` + `key=value` parameters) to the document BILLmanager would
//! print, from a fixture directory.
//!
//! Two behaviours, chosen by [`Shapes`] (`FAKEBILL_SHAPES` for `fake-mgrctl`):
//!
//! **`real` (the default)**, as real panels were seen to answer
//! (`../shared/reference/billmanager-facts.md` J2, J7, D3):
//! - a call with `elid` goes to `<dir>/<func>/<elid>.json` when `<dir>/<func>/` exists; a
//!   missing file is answered with `error` `$type` `value`, `$object` `elid`;
//! - otherwise `<dir>/<func>.json`; a missing file is answered with `$type` `missed`,
//!   `$object` = the function;
//! - a list is filtered only with `filter=on`, by `<column>=<value>` matched against the
//!   column's display text (`$`) or raw value (`$orig`); other parameters are ignored and
//!   the whole list comes back; a filtered list of one row is still an array.
//!
//! **`assumed`**, the shapes this project assumed before it had sources: lists filtered by
//! any `key=value` hint (`elid` as `id`), a one-row result printed with `doc.elem` as an
//! object, and a missing `elid` answered with `$type` `missed`, `$object` `elid`.
//!
//! Unfiltered answers are served byte for byte, so broken fixtures stay broken.

use std::path::Path;

use serde_json::{json, Map, Value};

/// Parameters that never select rows (output format, credentials, language, `su`).
const NOT_FILTERS: &[&str] = &[
    "out", "auth", "authinfo", "username", "password", "lang", "su", "sok", "func",
];

/// Which panel behaviour to imitate (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shapes {
    /// As real panels were seen to answer (the default).
    #[default]
    Real,
    /// The project's earlier assumptions, kept as a second fixture set.
    Assumed,
}

impl Shapes {
    /// `FAKEBILL_SHAPES`: `assumed` selects [`Shapes::Assumed`]; anything else is real.
    pub fn from_env() -> Shapes {
        match std::env::var("FAKEBILL_SHAPES").as_deref() {
            Ok("assumed") => Shapes::Assumed,
            _ => Shapes::Real,
        }
    }
}

/// Whether an answer is an error document (fake-mgrctl may exit non-zero on those).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The document text.
    pub body: String,
    /// True when `body` is an error document made up here (unknown function or elid).
    pub is_error: bool,
}

/// The document for `func` with `params`, read from `dir`, as a real panel answers.
pub fn answer(dir: &Path, func: &str, params: &[(String, String)]) -> Answer {
    answer_as(Shapes::Real, dir, func, params)
}

/// The document for `func` with `params`, read from `dir`, in the given behaviour.
pub fn answer_as(shapes: Shapes, dir: &Path, func: &str, params: &[(String, String)]) -> Answer {
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
            _ => missed_elid(shapes, id),
        };
    }
    let Ok(bytes) = std::fs::read(dir.join(format!("{func}.json"))) else {
        return missed_function(func);
    };
    let filtering = params.iter().any(|(k, v)| k == "filter" && v == "on");
    let filters: Vec<(&str, &str)> = match shapes {
        Shapes::Real if !filtering => Vec::new(),
        Shapes::Real => params
            .iter()
            .filter(|(k, _)| !NOT_FILTERS.contains(&k.as_str()) && k != "filter")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
        Shapes::Assumed => params
            .iter()
            .filter(|(k, _)| !NOT_FILTERS.contains(&k.as_str()))
            .map(|(k, v)| (if k == "elid" { "id" } else { k.as_str() }, v.as_str()))
            .collect(),
    };
    if filters.is_empty() {
        return ok(bytes);
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut doc) => {
            filter_rows(&mut doc, &filters, shapes);
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

fn missed_elid(shapes: Shapes, id: &str) -> Answer {
    let body = match shapes {
        // As an ISPsystem panel answered an edit of a missing object (facts J7).
        Shapes::Real => error_doc(
            "value",
            "elid",
            &format!("Invalid value of the field elid: {id}"),
        ),
        Shapes::Assumed => error_doc("missed", "elid", &format!("Object not found (elid={id})")),
    };
    Answer {
        body,
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

/// Keeps the rows of `doc.elem` whose fields equal every filter; in the assumed shapes one
/// row becomes an object.
fn filter_rows(doc: &mut Value, filters: &[(&str, &str)], shapes: Shapes) {
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
        .filter(|r| r.as_object().is_some_and(|m| matches(m, filters, shapes)))
        .collect();
    match kept.len() {
        0 => {}
        1 if shapes == Shapes::Assumed => {
            node.insert("elem".into(), kept.remove(0));
        }
        _ => {
            node.insert("elem".into(), Value::Array(kept));
        }
    }
}

fn matches(row: &Map<String, Value>, filters: &[(&str, &str)], shapes: Shapes) -> bool {
    filters.iter().all(|(k, v)| match (shapes, row.get(*k)) {
        (_, None) => false,
        (Shapes::Assumed, Some(f)) => text(f).as_deref() == Some(*v),
        // A panel filters a column by what it shows or by its raw value (`account` by the
        // client's name, facts D3).
        (Shapes::Real, Some(f)) => {
            display(f).as_deref() == Some(*v) || text(f).as_deref() == Some(*v)
        }
    })
}

/// A field's display text (`$`), or the plain value.
fn display(v: &Value) -> Option<String> {
    match v {
        Value::Array(a) => a.first().and_then(display),
        Value::Object(m) => m.get("$").and_then(display),
        other => text(other),
    }
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
