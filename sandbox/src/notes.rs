//! Notes (§12.2) on leads/contacts/companies, created either with `entity_id` in
//! the body or under `/{entity}/{id}/notes`. Per-type `params` are checked; call
//! notes reject explicit nulls (NotNullable), as the real service does.

use serde_json::{json, Map, Value};

use crate::api::{href, Call};
use crate::hal;
use crate::http::Response;
use crate::store::{Kind, Note, Store};
use crate::timefmt::now;
use crate::validation::{
    self, check_keys, get_int, get_str, get_user, join, Errs, MISSING, NOT_NULLABLE, NOT_SUPPORTED,
};

/// Required `params` keys per editable note type.
fn required_params(note_type: &str) -> Option<&'static [&'static str]> {
    Some(match note_type {
        "common" | "message_cashier" => &["text"],
        "call_in" | "call_out" => &["uniq", "duration", "source", "phone"],
        "service_message" | "extended_service_message" => &["service", "text"],
        "sms_in" | "sms_out" => &["text", "phone"],
        "geolocation" => &["text", "address", "longitude", "latitude"],
        "attachment" => &["file_uuid", "file_name"],
        _ => return None,
    })
}

/// Checks `params` of `note_type`; returns the params to store.
pub fn check_params(
    note_type: &str,
    params: Option<&Value>,
    create: bool,
    errs: &mut Errs,
) -> Option<Value> {
    let required = required_params(note_type)?;
    let obj = match params {
        None if create => {
            errs.add(MISSING, "params");
            return None;
        }
        None => return None,
        Some(Value::Null) => {
            errs.add(NOT_NULLABLE, "params");
            return None;
        }
        Some(Value::Object(o)) => o,
        Some(_) => {
            errs.invalid_type("params", "object");
            return None;
        }
    };
    for (k, v) in obj {
        let p = join("params", k);
        match (k.as_str(), v) {
            (_, Value::Null) => errs.add(NOT_NULLABLE, p),
            ("duration", v) if !v.is_i64() => errs.invalid_type(p, "int"),
            ("call_status", v) if !v.as_i64().is_some_and(|s| (1..=8).contains(&s)) => {
                errs.add(NOT_SUPPORTED, p)
            }
            ("call_responsible", v) if !(v.is_string() || v.is_i64()) => {
                errs.invalid_type(p, "string")
            }
            (
                "text" | "service" | "uniq" | "source" | "phone" | "link" | "call_result"
                | "file_name",
                v,
            ) if !v.is_string() => errs.invalid_type(p, "string"),
            _ => {}
        }
    }
    for key in required {
        if !obj.contains_key(*key) {
            errs.add(MISSING, join("params", key));
        }
    }
    Some(Value::Object(obj.clone()))
}

pub fn render(store: &Store, base: &str, n: &Note, with_type: bool) -> Value {
    let mut v = json!({
        "id": n.id,
        "entity_id": n.entity.1,
        "created_by": n.created_by,
        "updated_by": n.updated_by,
        "created_at": n.created_at,
        "updated_at": n.updated_at,
        "responsible_user_id": n.responsible_user_id,
        "group_id": n.group_id,
        "note_type": n.note_type,
        "params": n.params,
        "account_id": store.account_id(),
        "_links": hal::link(href(base, &format!("{}/{}/notes/{}", n.entity.0.plural(), n.entity.1, n.id))),
    });
    if with_type {
        v["entity_type"] = json!(n.entity.0.plural());
    }
    v
}

fn parse_new(
    store: &Store,
    kind: Kind,
    fixed: Option<i64>,
    obj: &Map<String, Value>,
    now: i64,
    errs: &mut Errs,
) -> Option<Note> {
    let mut keys = vec![
        "note_type",
        "params",
        "created_by",
        "updated_by",
        "created_at",
        "updated_at",
        "responsible_user_id",
        "request_id",
        "is_need_to_trigger_digital_pipeline",
    ];
    if fixed.is_none() {
        keys.push("entity_id");
    }
    check_keys(
        obj,
        &keys,
        &[
            "id",
            "group_id",
            "account_id",
            "_links",
            "entity_type",
            "entity_id",
        ],
        "",
        errs,
    );
    let entity_id = match fixed {
        Some(id) => Some(id),
        None if !obj.contains_key("entity_id") => {
            errs.add(MISSING, "entity_id");
            None
        }
        None => get_int(obj, "entity_id", "", errs),
    };
    if let Some(id) = entity_id {
        if store.get(kind, id).is_none() {
            errs.add(NOT_SUPPORTED, "entity_id");
        }
    }
    let note_type = match get_str(obj, "note_type", "", errs) {
        Some(t) if required_params(&t).is_some() => Some(t),
        Some(_) => {
            errs.add(NOT_SUPPORTED, "note_type");
            None
        }
        None => {
            if !obj.contains_key("note_type") {
                errs.add(MISSING, "note_type");
            }
            None
        }
    };
    let params = note_type
        .as_deref()
        .and_then(|t| check_params(t, obj.get("params"), true, errs));
    let seed = &store.seed;
    let user = store.current_user();
    let responsible = get_user(obj, "responsible_user_id", "", false, seed, errs).unwrap_or(user);
    let created_by = get_user(obj, "created_by", "", true, seed, errs).unwrap_or(user);
    let updated_by = get_user(obj, "updated_by", "", true, seed, errs).unwrap_or(created_by);
    let created_at = get_int(obj, "created_at", "", errs).unwrap_or(now);
    let updated_at = get_int(obj, "updated_at", "", errs).unwrap_or(now);
    if obj.get("is_need_to_trigger_digital_pipeline").is_some() {
        validation::get_bool(obj, "is_need_to_trigger_digital_pipeline", "", errs);
    }
    Some(Note {
        id: 0,
        entity: (kind, entity_id?),
        note_type: note_type?,
        params: params?,
        created_by,
        updated_by,
        created_at,
        updated_at,
        responsible_user_id: responsible,
        group_id: seed.group_of(responsible),
    })
}

/// Stores a new note and returns its id.
pub fn add(store: &mut Store, mut note: Note) -> i64 {
    note.id = store.next_note_id();
    let id = note.id;
    store.put_note(note);
    id
}

/// Creates one note outside HTTP (`Sandbox::insert`); the body names `entity_type`.
pub fn insert(store: &mut Store, item: &Value) -> Result<i64, String> {
    let obj = item.as_object().ok_or("note must be an object")?;
    let kind = obj
        .get("entity_type")
        .and_then(Value::as_str)
        .and_then(Kind::from_plural)
        .ok_or("note needs entity_type leads|contacts|companies")?;
    let mut errs = Errs::default();
    let note = parse_new(store, kind, None, obj, now(), &mut errs);
    match note {
        Some(n) if errs.is_empty() => Ok(add(store, n)),
        _ => Err(crate::entities::format_errs(&errs)),
    }
}

pub fn create(store: &mut Store, call: &Call, kind: Kind, fixed: Option<i64>) -> Response {
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
        let note = match item.as_object() {
            None => {
                errs.invalid_type("", "object");
                None
            }
            Some(obj) => parse_new(store, kind, fixed, obj, now, &mut errs),
        };
        match note {
            Some(n) if errs.is_empty() => parsed.push((rid, n)),
            _ => rejected.push((rid, errs)),
        }
    }
    if !rejected.is_empty() {
        return validation::rejected(rejected);
    }
    let out: Vec<Value> = parsed
        .into_iter()
        .map(|(rid, n)| {
            let entity_id = n.entity.1;
            let id = add(store, n);
            json!({
                "id": id, "entity_id": entity_id, "request_id": rid,
                "_links": hal::link(call.href(&format!("{}/{}/notes/{}", kind.plural(), entity_id, id))),
            })
        })
        .collect();
    hal::ok(
        &json!({"_links": hal::link(call.href(&format!("{}/notes", kind.plural()))), "_embedded": {"notes": out}}),
    )
}

/// `PATCH …/notes` (array with ids) and `PATCH …/{entity_id}/notes/{id}` (object).
pub fn update(
    store: &mut Store,
    call: &Call,
    kind: Kind,
    fixed: Option<i64>,
    single: Option<i64>,
) -> Response {
    let items = match single {
        Some(_) => validation::body_object(call.body).map(|v| vec![v]),
        None => validation::body_array(call.body, 250),
    };
    let items = match items {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let now = now();
    let mut parsed = Vec::new();
    let mut rejected = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let rid = validation::request_id(item, i);
        let mut errs = Errs::default();
        let Some(obj) = item.as_object() else {
            errs.invalid_type("", "object");
            rejected.push((rid, errs));
            continue;
        };
        check_keys(
            obj,
            &[
                "id",
                "params",
                "request_id",
                "updated_by",
                "updated_at",
                "note_type",
                "responsible_user_id",
            ],
            &[
                "entity_id",
                "created_by",
                "created_at",
                "group_id",
                "account_id",
                "_links",
                "entity_type",
            ],
            "",
            &mut errs,
        );
        let id = single.or_else(|| get_int(obj, "id", "", &mut errs));
        let current = id
            .and_then(|id| store.notes.get(&id))
            .filter(|n| n.entity.0 == kind && fixed.is_none_or(|f| f == n.entity.1));
        match current {
            None => errs.add(NOT_SUPPORTED, "id"),
            Some(cur) => {
                let mut n = cur.clone();
                if let Some(p) = check_params(&n.note_type, obj.get("params"), false, &mut errs) {
                    n.params = p;
                }
                if let Some(r) = get_user(
                    obj,
                    "responsible_user_id",
                    "",
                    false,
                    &store.seed,
                    &mut errs,
                ) {
                    n.responsible_user_id = r;
                }
                n.updated_by = get_user(obj, "updated_by", "", true, &store.seed, &mut errs)
                    .unwrap_or(store.current_user());
                n.updated_at = get_int(obj, "updated_at", "", &mut errs).unwrap_or(now);
                parsed.push((rid.clone(), n));
            }
        }
        if !errs.is_empty() {
            rejected.push((rid, errs));
        }
    }
    if !rejected.is_empty() {
        return validation::rejected(rejected);
    }
    let mut out = Vec::new();
    for (rid, n) in parsed {
        out.push(json!({"id": n.id, "entity_id": n.entity.1, "updated_at": n.updated_at, "request_id": rid,
            "_links": hal::link(call.href(&format!("{}/{}/notes/{}", kind.plural(), n.entity.1, n.id)))}));
        store.put_note(n);
    }
    if single.is_some() {
        return hal::ok(&out.remove(0));
    }
    hal::ok(
        &json!({"_links": hal::link(call.href(&format!("{}/notes", kind.plural()))), "_embedded": {"notes": out}}),
    )
}

pub fn list(store: &Store, call: &Call, kind: Kind, fixed: Option<i64>) -> Response {
    let paging = call.paging(50, 250);
    let q = &call.query;
    let ids = q.ids("filter[id]");
    let entity_ids = q.ids("filter[entity_id]");
    let types = q.list("filter[note_type]");
    let updated = q.range("filter[updated_at]");
    let candidates: Vec<&Note> = match fixed {
        Some(eid) => store
            .notes_by_entity
            .get(&(kind, eid))
            .map_or_else(Vec::new, |l| {
                l.iter().filter_map(|id| store.notes.get(id)).collect()
            }),
        None => store
            .notes
            .values()
            .filter(|n| n.entity.0 == kind)
            .collect(),
    };
    let mut all: Vec<&Note> = candidates
        .into_iter()
        .filter(|n| ids.as_ref().is_none_or(|l| l.contains(&n.id)))
        .filter(|n| entity_ids.as_ref().is_none_or(|l| l.contains(&n.entity.1)))
        .filter(|n| types.is_empty() || types.contains(&n.note_type))
        .filter(|n| {
            updated.is_none_or(|(from, to)| {
                from.is_none_or(|f| n.updated_at >= f) && to.is_none_or(|x| n.updated_at <= x)
            })
        })
        .collect();
    all.sort_by_key(|n| n.id);
    if let Some((field, desc)) = q.order() {
        if field == "updated_at" {
            all.sort_by_key(|n| (n.updated_at, n.id));
        }
        if desc {
            all.reverse();
        }
    }
    let (page, more) = paging.slice(&all);
    let items = page
        .iter()
        .map(|n| render(store, &call.base, n, false))
        .collect();
    hal::list_page(&call.origin(), &paging, more, "notes", items)
}

pub fn get_one(store: &Store, call: &Call, kind: Kind, entity_id: i64, id: i64) -> Response {
    match store
        .notes
        .get(&id)
        .filter(|n| n.entity == (kind, entity_id))
    {
        Some(n) => hal::ok(&render(store, &call.base, n, false)),
        None => hal::no_content(),
    }
}
