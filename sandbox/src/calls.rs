//! `POST /api/v4/calls` (§13): a call is matched to a contact or company by the
//! last 10 digits of a PHONE value, attached to that entity's single active lead
//! if there is exactly one, and stored as a call_in/call_out note. Unknown numbers
//! fail per item with "Entity not found"; calls are not deduplicated by `uniq`.

use serde_json::{json, Map, Value};

use crate::api::Call;
use crate::hal::{self, PROBLEM};
use crate::http::Response;
use crate::notes;
use crate::store::index::phone_key;
use crate::store::{Kind, Node, Note, Store};
use crate::timefmt::now;
use crate::validation::{
    self, check_keys, get_int, get_str, get_user, Errs, MISSING, NOT_NULLABLE, NOT_SUPPORTED,
};

const KEYS: &[&str] = &[
    "direction",
    "duration",
    "source",
    "phone",
    "uniq",
    "link",
    "call_responsible",
    "call_result",
    "call_status",
    "responsible_user_id",
    "created_by",
    "updated_by",
    "created_at",
    "updated_at",
    "request_id",
];

/// A validated call before matching.
struct CallReq {
    request_id: String,
    body: Map<String, Value>,
    phone: String,
    inbound: bool,
    responsible: i64,
    created_by: i64,
    created_at: i64,
}

fn parse(
    store: &Store,
    obj: &Map<String, Value>,
    rid: String,
    now: i64,
    errs: &mut Errs,
) -> Option<CallReq> {
    check_keys(obj, KEYS, &[], "", errs);
    for (k, v) in obj {
        if v.is_null() && KEYS.contains(&k.as_str()) {
            errs.add(NOT_NULLABLE, k.as_str());
        }
    }
    for key in ["direction", "duration", "source", "phone"] {
        if !obj.contains_key(key) {
            errs.add(MISSING, key);
        }
    }
    let direction = get_str(obj, "direction", "", errs);
    let inbound = match direction.as_deref() {
        Some("inbound") => true,
        Some("outbound") => false,
        Some(_) => {
            errs.add(NOT_SUPPORTED, "direction");
            false
        }
        None => false,
    };
    get_int(obj, "duration", "", errs);
    get_str(obj, "source", "", errs);
    let phone = get_str(obj, "phone", "", errs);
    for key in ["uniq", "link", "call_result"] {
        get_str(obj, key, "", errs);
    }
    if let Some(s) = get_int(obj, "call_status", "", errs) {
        if !(1..=8).contains(&s) {
            errs.add(NOT_SUPPORTED, "call_status");
        }
    }
    if let Some(v) = obj.get("call_responsible") {
        if !(v.is_string() || v.is_i64() || v.is_null()) {
            errs.invalid_type("call_responsible", "string");
        }
    }
    let seed = &store.seed;
    let user = store.current_user();
    let responsible = get_user(obj, "responsible_user_id", "", false, seed, errs).unwrap_or(user);
    let created_by = get_user(obj, "created_by", "", true, seed, errs).unwrap_or(responsible);
    get_user(obj, "updated_by", "", true, seed, errs);
    let created_at = get_int(obj, "created_at", "", errs).unwrap_or(now);
    get_int(obj, "updated_at", "", errs);
    Some(CallReq {
        request_id: rid,
        body: obj.clone(),
        phone: phone?,
        inbound,
        responsible,
        created_by,
        created_at,
    })
}

/// The entity a call to `phone` attaches to, per the matching rules of §13.
fn target(store: &Store, phone: &str) -> Option<Node> {
    let key = phone_key(phone)?;
    let owner = *store.phones.get(&key)?.iter().next()?;
    let active: Vec<i64> = store
        .links
        .of(owner, Kind::Lead)
        .into_iter()
        .map(|(id, _)| id)
        .filter(|id| store.get(Kind::Lead, *id).is_some_and(|l| !l.is_closed()))
        .collect();
    match active[..] {
        [lead] => Some((Kind::Lead, lead)),
        _ => Some(owner),
    }
}

fn not_found(rid: &str) -> Value {
    json!({"title": "Entity not found", "type": "https://httpstatus.es/404", "status": 404, "detail": "Entity not found", "request_id": rid})
}

/// Matches and stores one call; Err is the per-item error object.
fn accept(store: &mut Store, c: CallReq, base: &str) -> Result<Value, Value> {
    let node = target(store, &c.phone).ok_or_else(|| not_found(&c.request_id))?;
    let mut params = Map::new();
    for key in [
        "uniq",
        "duration",
        "source",
        "link",
        "phone",
        "call_result",
        "call_status",
        "call_responsible",
    ] {
        if let Some(v) = c.body.get(key) {
            params.insert(key.into(), v.clone());
        }
    }
    let note = Note {
        id: 0,
        entity: node,
        note_type: if c.inbound { "call_in" } else { "call_out" }.into(),
        params: Value::Object(params),
        created_by: c.created_by,
        updated_by: c.created_by,
        created_at: c.created_at,
        updated_at: c.created_at,
        responsible_user_id: c.responsible,
        group_id: store.seed.group_of(c.responsible),
    };
    let id = notes::add(store, note);
    let mut stored = c.body.clone();
    stored.insert("id".into(), json!(id));
    stored.insert("entity_id".into(), json!(node.1));
    stored.insert("entity_type".into(), json!(node.0.singular()));
    store.calls.insert(id, Value::Object(stored));
    Ok(json!({
        "id": id,
        "entity_id": node.1,
        "entity_type": node.0.singular(),
        "account_id": store.account_id(),
        "request_id": c.request_id,
        "_embedded": {"entity": {"id": node.1, "_links": hal::link(crate::api::href(base, &format!("{}/{}", node.0.plural(), node.1)))}},
    }))
}

/// Adds one call outside HTTP (`Sandbox::insert`); returns the call note id.
pub fn insert(store: &mut Store, item: &Value, base: &str) -> Result<i64, String> {
    let obj = item.as_object().ok_or("call must be an object")?;
    let mut errs = Errs::default();
    let c = parse(store, obj, "0".into(), now(), &mut errs);
    match c {
        Some(c) if errs.is_empty() => accept(store, c, base)
            .map(|v| v["id"].as_i64().unwrap_or(0))
            .map_err(|e| e.to_string()),
        _ => Err(crate::entities::format_errs(&errs)),
    }
}

pub fn create(store: &mut Store, call: &Call) -> Response {
    let items = match validation::body_array(call.body, 250) {
        Ok(items) => items,
        Err(resp) => return resp,
    };
    let now = now();
    let mut parsed = Vec::new();
    let mut rejected = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let rid = validation::request_id(item, i);
        let mut errs = Errs::default();
        let c = match item.as_object() {
            Some(obj) => parse(store, obj, rid.clone(), now, &mut errs),
            None => {
                errs.invalid_type("", "object");
                None
            }
        };
        match c {
            Some(c) if errs.is_empty() => parsed.push(c),
            _ => rejected.push((rid, errs)),
        }
    }
    if !rejected.is_empty() {
        return validation::rejected(rejected);
    }
    let (mut ok, mut failed) = (Vec::new(), Vec::new());
    for c in parsed {
        match accept(store, c, &call.base) {
            Ok(v) => ok.push(v),
            Err(e) => failed.push(e),
        }
    }
    let status = if ok.is_empty() { 400 } else { 200 };
    let body = json!({"_total_items": ok.len(), "errors": failed, "_embedded": {"calls": ok}});
    if status == 400 {
        return Response::new(400, PROBLEM, body.to_string().into_bytes());
    }
    hal::ok(&body)
}
