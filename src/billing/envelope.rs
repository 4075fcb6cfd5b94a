//! Tolerant parsing of BILLmanager's JSON answers (`out=json`, with `sjson` quirks).
//!
//! BILLmanager converts its XML documents to JSON mechanically (`docs/billmanager.md` §3):
//! text sits under `"$"`, attributes become `"$name"` keys, a raw value may sit under
//! `"$orig"`, and a tag that occurs once may come as an object where several would come as
//! an array. Nothing of that is guaranteed across versions, so every accessor here accepts
//! `X | [X]` at every level and `{"$": s} | s` at every field, and every surprise becomes
//! [`BillingError::Malformed`] — an answer from the panel must never panic the sync.

use serde_json::{Map, Value};

use super::error::BillingError;
use super::model::Attrs;

/// What was asked, so errors can name the function and the entity.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// BILLmanager function (`account.edit`, `item`, …).
    pub func: &'a str,
    /// Entity word for [`BillingError::NotFound`] (`client`, `payer`, `service`, `user`).
    pub entity: &'static str,
    /// The id asked for, when the call names one (`elid`).
    pub elid: Option<&'a str>,
}

/// The `doc` node of a successful answer (no `error` in it).
#[derive(Debug, Clone)]
pub struct Doc {
    node: Map<String, Value>,
}

/// Parses raw bytes from mgrctl, the HTTP API or a file into a [`Doc`], turning an error
/// document into the matching [`BillingError`].
pub fn parse(bytes: &[u8], call: &Call<'_>) -> Result<Doc, BillingError> {
    let malformed = |detail: String| BillingError::Malformed {
        func: call.func.to_string(),
        detail,
    };
    let text = std::str::from_utf8(bytes)
        .map_err(|e| malformed(format!("the answer is not UTF-8 text ({e})")))?;
    if text.trim().is_empty() {
        return Err(malformed("the answer is empty".into()));
    }
    let root: Value = serde_json::from_str(text)
        .map_err(|e| malformed(format!("the answer is not JSON ({e}): {}", excerpt(text))))?;
    let root = one(&root)
        .as_object()
        .ok_or_else(|| malformed(format!("expected a JSON object, got {}", excerpt(text))))?;
    // `out=bjson` puts the error at the top level (docs/billmanager.md §3.4).
    if let Some(err) = root.get("error") {
        return Err(panel_error(err, call));
    }
    let doc = root.get("doc").map(one).ok_or_else(|| {
        malformed(format!(
            "no `doc` node; was `out=json` honoured? {}",
            excerpt(text)
        ))
    })?;
    let node = match doc {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        other => return Err(malformed(format!("`doc` is {}", kind(other)))),
    };
    if let Some(err) = node.get("error") {
        return Err(panel_error(err, call));
    }
    Ok(Doc { node })
}

/// Whether raw output is a BILLmanager JSON document; transports use it to keep a body that
/// explains a failure (an error document next to a non-zero exit or HTTP status).
pub fn looks_like_doc(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    text.trim_start().starts_with('{') && text.contains("\"doc\"")
}

impl Doc {
    /// Rows of a list function: `doc.elem` as an array, a single object, or absent (empty).
    pub fn elems(&self, func: &str) -> Result<Vec<Attrs>, BillingError> {
        let items: Vec<&Value> = match self.node.get("elem") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.iter().collect(),
            Some(v @ Value::Object(_)) => vec![v],
            Some(other) => {
                return Err(BillingError::Malformed {
                    func: func.to_string(),
                    detail: format!("`doc.elem` is {}, expected objects", kind(other)),
                })
            }
        };
        items
            .into_iter()
            .map(|v| match one(v) {
                Value::Object(m) => Ok(flatten(m)),
                other => Err(BillingError::Malformed {
                    func: func.to_string(),
                    detail: format!("a row of `doc.elem` is {}", kind(other)),
                }),
            })
            .collect()
    }

    /// Fields of an edit form (`<obj>.edit elid=N`): the children of `doc` that carry text.
    pub fn form(&self) -> Attrs {
        flatten(&self.node)
    }

    /// The session id of a `func=auth` answer (`doc.auth.$id`, or its text).
    pub fn session(&self) -> Option<String> {
        let auth = one(self.node.get("auth")?);
        let id = match auth {
            Value::Object(m) => m.get("$id").and_then(text).or_else(|| text(auth)),
            other => text(other),
        };
        id.filter(|s| !s.is_empty())
    }
}

/// Flattens one element to text fields: `$orig` wins over `$`, nodes without text (nested
/// structures, metadata) and attribute keys (`$…`) are skipped.
pub fn flatten(elem: &Map<String, Value>) -> Attrs {
    elem.iter()
        .filter(|(k, _)| !k.starts_with('$'))
        .filter_map(|(k, v)| text(v).map(|t| (k.clone(), t)))
        .collect()
}

/// The text of one field: a plain string or number, or `{"$orig"?, "$"}`, possibly wrapped
/// in an array (the first element counts). `None` for nodes that carry no text.
pub fn text(v: &Value) -> Option<String> {
    match one(v) {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "on" } else { "off" }.to_string()),
        Value::Object(m) => ["$orig", "$"]
            .iter()
            .find_map(|k| m.get(*k).and_then(scalar)),
        _ => None,
    }
}

fn scalar(v: &Value) -> Option<String> {
    match one(v) {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `X | [X]`: the first element of an array, or the value itself.
fn one(v: &Value) -> &Value {
    match v {
        Value::Array(a) => a.first().map(one).unwrap_or(&Value::Null),
        other => other,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// At most 120 characters of the answer, on one line, for error messages.
fn excerpt(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = flat.chars().take(120).collect();
    if cut.len() < flat.len() {
        format!("`{cut}…`")
    } else {
        format!("`{cut}`")
    }
}

/// Maps `doc.error` (`$type`, `$object`, `msg.$`) to a typed error.
fn panel_error(err: &Value, call: &Call<'_>) -> BillingError {
    let err = one(err);
    let field = |k: &str| err.get(k).and_then(text).unwrap_or_default();
    let kind = field("$type");
    let object = field("$object");
    let msg = err
        .get("msg")
        .and_then(text)
        .or_else(|| text(err))
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| format!("error of type `{kind}` on `{object}`"));
    let kind_l = kind.to_lowercase();
    if ["auth", "badauth", "access", "badpassword", "permission"].contains(&kind_l.as_str()) {
        return BillingError::AccessDenied { detail: msg };
    }
    if let Some(id) = call.elid {
        if is_not_found(&kind_l, &object, &msg, call.func) {
            return BillingError::NotFound {
                entity: call.entity,
                id: id.to_string(),
            };
        }
    }
    BillingError::Panel {
        func: call.func.to_string(),
        kind: if kind.is_empty() {
            "unknown".into()
        } else {
            kind
        },
        detail: msg,
    }
}

/// "Unknown elid"-like, when the call named an elid: `value` on `elid` (an edit of a missing
/// object, facts J7), `missed` on anything but the function itself (`missed`/`users` on a
/// missing user, J7; `missed`/`elid`), or a message saying the object does not exist.
/// An unknown *function* (`missed` on the function name) is not a missing entity.
fn is_not_found(kind: &str, object: &str, msg: &str, func: &str) -> bool {
    let msg = msg.to_lowercase();
    if object == func || msg.contains("function") {
        return false;
    }
    let words = [
        "not found",
        "does not exist",
        "doesn't exist",
        "no such",
        "не найден",
        "не существует",
    ];
    (kind == "value" && matches!(object, "elid" | "id"))
        || kind == "missed"
        || (matches!(kind, "exists" | "value") && words.iter().any(|w| msg.contains(w)))
        || kind == "notfound"
}
