//! Symfony-style validation errors (§18.3): a write is rejected whole with 400 and
//! `validation-errors` grouped per `request_id`, each error carrying a code and a
//! dot path with array indexes (§7.5).

use serde_json::{json, Map, Value};

use crate::hal::PROBLEM;
use crate::http::Response;

#[derive(Clone, Debug)]
pub struct FieldError {
    pub code: &'static str,
    pub path: String,
    pub detail: String,
}

pub const NOT_SUPPORTED: &str = "NotSupportedChoice";
pub const NOT_EXPECTED: &str = "FieldNotExpected";
pub const NOT_NULLABLE: &str = "NotNullable";
pub const INVALID_TYPE: &str = "InvalidType";
pub const MISSING: &str = "MissingField";
pub const NOT_BLANK: &str = "NotBlank";
pub const INVALID_VALUE: &str = "InvalidValue";
pub const INVALID_COUNT: &str = "InvalidCount";

fn default_detail(code: &str) -> &'static str {
    match code {
        NOT_SUPPORTED => "The value you selected is not a valid choice.",
        NOT_EXPECTED => "This field was not expected.",
        NOT_NULLABLE => "This value should not be null.",
        MISSING => "This field is missing.",
        NOT_BLANK => "This value should not be blank.",
        _ => "This value is not valid.",
    }
}

/// Errors of one submitted item.
#[derive(Default)]
pub struct Errs {
    pub list: Vec<FieldError>,
}

impl Errs {
    pub fn add(&mut self, code: &'static str, path: impl Into<String>) {
        self.list.push(FieldError {
            code,
            path: path.into(),
            detail: default_detail(code).to_string(),
        });
    }

    pub fn invalid_type(&mut self, path: impl Into<String>, ty: &str) {
        self.list.push(FieldError {
            code: INVALID_TYPE,
            path: path.into(),
            detail: format!("This value should be of type {ty}."),
        });
    }

    pub fn too_many(&mut self, path: impl Into<String>, max: usize) {
        self.list.push(FieldError {
            code: INVALID_COUNT,
            path: path.into(),
            detail: format!("This collection should contain {max} elements or less."),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// "prefix.key", or "key" at the top level.
pub fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Reports every key of `obj` not in `allowed` (keys in `ignored` are accepted and
/// dropped: read-only fields a client may echo back from a GET).
pub fn check_keys(
    obj: &Map<String, Value>,
    allowed: &[&str],
    ignored: &[&str],
    prefix: &str,
    errs: &mut Errs,
) {
    for key in obj.keys() {
        if !allowed.contains(&key.as_str()) && !ignored.contains(&key.as_str()) {
            errs.add(NOT_EXPECTED, join(prefix, key));
        }
    }
}

/// A present non-null value, reporting `null` as NotNullable.
pub fn present<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    prefix: &str,
    errs: &mut Errs,
) -> Option<&'a Value> {
    match obj.get(key) {
        None => None,
        Some(Value::Null) => {
            errs.add(NOT_NULLABLE, join(prefix, key));
            None
        }
        Some(v) => Some(v),
    }
}

pub fn get_int(obj: &Map<String, Value>, key: &str, prefix: &str, errs: &mut Errs) -> Option<i64> {
    let v = present(obj, key, prefix, errs)?;
    let n = v.as_i64();
    if n.is_none() {
        errs.invalid_type(join(prefix, key), "int");
    }
    n
}

pub fn get_str(
    obj: &Map<String, Value>,
    key: &str,
    prefix: &str,
    errs: &mut Errs,
) -> Option<String> {
    let v = present(obj, key, prefix, errs)?;
    match v.as_str() {
        Some(s) => Some(s.to_string()),
        None => {
            errs.invalid_type(join(prefix, key), "string");
            None
        }
    }
}

pub fn get_bool(
    obj: &Map<String, Value>,
    key: &str,
    prefix: &str,
    errs: &mut Errs,
) -> Option<bool> {
    let v = present(obj, key, prefix, errs)?;
    let b = v.as_bool();
    if b.is_none() {
        errs.invalid_type(join(prefix, key), "bool");
    }
    b
}

/// A user id that must belong to an existing active user (0 = robot when `robot_ok`).
pub fn get_user(
    obj: &Map<String, Value>,
    key: &str,
    prefix: &str,
    robot_ok: bool,
    seed: &crate::seed::Seed,
    errs: &mut Errs,
) -> Option<i64> {
    let id = get_int(obj, key, prefix, errs)?;
    if (robot_ok && id == 0) || seed.is_active_user(id) {
        Some(id)
    } else {
        errs.add(NOT_SUPPORTED, join(prefix, key));
        None
    }
}

/// The `request_id` of an item: the submitted string or the item's index (§4).
pub fn request_id(item: &Value, index: usize) -> String {
    match item.get("request_id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => index.to_string(),
    }
}

/// The 400 answer for a rejected write.
pub fn rejected(items: Vec<(String, Errs)>) -> Response {
    let list: Vec<Value> = items
        .into_iter()
        .map(|(rid, errs)| {
            let errors: Vec<Value> = errs
                .list
                .into_iter()
                .map(|e| json!({"code": e.code, "path": e.path, "detail": e.detail}))
                .collect();
            json!({"request_id": rid, "errors": errors})
        })
        .collect();
    let body = json!({
        "validation-errors": list,
        "title": "Bad Request",
        "type": "https://httpstatus.es/400",
        "status": 400,
        "detail": "Request validation failed",
    });
    Response::new(400, PROBLEM, body.to_string().into_bytes())
}

/// Parses a write body that must be a non-empty JSON array of at most `max` items.
pub fn body_array(body: &[u8], max: usize) -> Result<Vec<Value>, Response> {
    use crate::hal::{bad_request, problem};
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(bad_request("Request data can not be blank"));
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|_| bad_request("Request body is not valid JSON"))?;
    let Value::Array(items) = value else {
        return Err(bad_request("Request body must be a JSON array of models"));
    };
    if items.is_empty() {
        return Err(bad_request("Request data can not be blank"));
    }
    if items.len() > max {
        return Err(problem(422, &format!("Limit of {max} per page")));
    }
    Ok(items)
}

/// Parses a write body that must be one JSON object (PATCH /{entity}/{id}).
pub fn body_object(body: &[u8]) -> Result<Value, Response> {
    use crate::hal::bad_request;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(bad_request("Request data can not be blank"));
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|_| bad_request("Request body is not valid JSON"))?;
    if !value.is_object() {
        return Err(bad_request("Request body must be a JSON object"));
    }
    Ok(value)
}
