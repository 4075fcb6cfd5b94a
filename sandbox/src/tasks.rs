//! Tasks (§12.1): `text` and `complete_till` required on create, responsible
//! defaults to the token's user, completion logs `task_completed`.

use serde_json::{json, Map, Value};

use crate::api::Call;
use crate::hal;
use crate::http::Response;
use crate::store::{Kind, Store, Task};
use crate::timefmt::now;
use crate::validation::{
    self, check_keys, get_bool, get_int, get_str, get_user, Errs, MISSING, NOT_BLANK, NOT_SUPPORTED,
};

const KEYS: &[&str] = &[
    "id",
    "task_type_id",
    "text",
    "complete_till",
    "entity_id",
    "entity_type",
    "responsible_user_id",
    "created_by",
    "updated_by",
    "created_at",
    "updated_at",
    "duration",
    "is_completed",
    "result",
    "request_id",
];
const READ_ONLY: &[&str] = &["group_id", "account_id", "_links"];

/// Parses an item onto `base` (a fresh task on create, a copy on update).
fn parse(
    store: &Store,
    obj: &Map<String, Value>,
    mut t: Task,
    create: bool,
    errs: &mut Errs,
) -> Task {
    check_keys(obj, KEYS, READ_ONLY, "", errs);
    let seed = &store.seed;
    if let Some(text) = get_str(obj, "text", "", errs) {
        if text.trim().is_empty() {
            errs.add(NOT_BLANK, "text");
        }
        t.text = text;
    } else if create && !obj.contains_key("text") {
        errs.add(MISSING, "text");
    }
    if let Some(v) = get_int(obj, "complete_till", "", errs) {
        t.complete_till = v;
    } else if create && !obj.contains_key("complete_till") {
        errs.add(MISSING, "complete_till");
    }
    if let Some(v) = get_int(obj, "task_type_id", "", errs) {
        if seed.task_types.iter().any(|tt| tt.id == v) {
            t.task_type_id = v;
        } else {
            errs.add(NOT_SUPPORTED, "task_type_id");
        }
    }
    if let Some(v) = get_user(obj, "responsible_user_id", "", false, seed, errs) {
        t.responsible_user_id = v;
        t.group_id = seed.group_of(v);
    }
    if let Some(v) = get_user(obj, "created_by", "", true, seed, errs) {
        t.created_by = v;
    }
    if let Some(v) = get_user(obj, "updated_by", "", true, seed, errs) {
        t.updated_by = v;
    }
    if let Some(v) = get_int(obj, "created_at", "", errs) {
        t.created_at = v;
    }
    if let Some(v) = get_int(obj, "duration", "", errs) {
        t.duration = v;
    }
    if let Some(v) = get_bool(obj, "is_completed", "", errs) {
        t.is_completed = v;
    }
    match obj.get("result") {
        None => {}
        Some(Value::Object(r)) => {
            check_keys(r, &["text"], &[], "result", errs);
            t.result = get_str(r, "text", "result", errs);
        }
        Some(Value::Array(a)) if a.is_empty() => {}
        Some(Value::Null) => errs.add(validation::NOT_NULLABLE, "result"),
        Some(_) => errs.invalid_type("result", "object"),
    }
    let entity_type = get_str(obj, "entity_type", "", errs);
    let entity_id = get_int(obj, "entity_id", "", errs);
    match (entity_type, entity_id) {
        (None, None) => {}
        (Some(ty), Some(id)) => match Kind::from_plural(&ty) {
            None => errs.add(NOT_SUPPORTED, "entity_type"),
            Some(k) if store.get(k, id).is_none() => errs.add(NOT_SUPPORTED, "entity_id"),
            Some(k) => t.entity = Some((k, id)),
        },
        (Some(_), None) if !obj.contains_key("entity_id") => errs.add(MISSING, "entity_id"),
        (None, Some(_)) if !obj.contains_key("entity_type") => errs.add(MISSING, "entity_type"),
        _ => {}
    }
    t
}

pub fn render(store: &Store, base: &str, t: &Task) -> Value {
    json!({
        "id": t.id,
        "created_by": t.created_by,
        "updated_by": t.updated_by,
        "created_at": t.created_at,
        "updated_at": t.updated_at,
        "responsible_user_id": t.responsible_user_id,
        "group_id": t.group_id,
        "entity_id": t.entity.map(|e| e.1),
        "entity_type": t.entity.map(|e| e.0.plural()),
        "duration": t.duration,
        "is_completed": t.is_completed,
        "task_type_id": t.task_type_id,
        "text": t.text,
        "result": t.result.as_ref().map_or(json!([]), |r| json!({"text": r})),
        "complete_till": t.complete_till,
        "account_id": store.account_id(),
        "_links": hal::link(crate::api::href(base, &format!("tasks/{}", t.id))),
    })
}

fn blank(store: &Store, now: i64) -> Task {
    let user = store.current_user();
    Task {
        id: 0,
        created_by: user,
        updated_by: user,
        created_at: now,
        updated_at: now,
        responsible_user_id: user,
        group_id: store.seed.group_of(user),
        entity: None,
        is_completed: false,
        task_type_id: 1,
        text: String::new(),
        duration: 0,
        complete_till: 0,
        result: None,
    }
}

fn commit(store: &mut Store, before: Option<bool>, mut t: Task, now: i64) -> Task {
    if before.is_none() {
        t.id = store.next_task_id();
        store.record_event(
            "task_added",
            ("task", t.id),
            t.created_by,
            now,
            json!([]),
            json!([]),
        );
    }
    if t.is_completed && before != Some(true) {
        store.record_event(
            "task_completed",
            ("task", t.id),
            t.updated_by,
            now,
            json!([]),
            json!([]),
        );
    }
    store.put_task(t.clone());
    t
}

/// Creates one task outside HTTP (`Sandbox::insert`).
pub fn insert(store: &mut Store, item: &Value) -> Result<i64, String> {
    let now = now();
    let mut errs = Errs::default();
    let obj = item.as_object().ok_or("task must be an object")?;
    let t = parse(store, obj, blank(store, now), true, &mut errs);
    if !errs.is_empty() {
        return Err(crate::entities::format_errs(&errs));
    }
    Ok(commit(store, None, t, now).id)
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
        match item.as_object() {
            None => errs.invalid_type("", "object"),
            Some(obj) => parsed.push((
                rid.clone(),
                parse(store, obj, blank(store, now), true, &mut errs),
            )),
        }
        if !errs.is_empty() {
            rejected.push((rid, errs));
        }
    }
    if !rejected.is_empty() {
        return validation::rejected(rejected);
    }
    let out: Vec<Value> = parsed
        .into_iter()
        .map(|(rid, t)| {
            let t = commit(store, None, t, now);
            json!({"id": t.id, "request_id": rid, "_links": hal::link(call.href(&format!("tasks/{}", t.id)))})
        })
        .collect();
    hal::ok(&json!({"_links": hal::link(call.href("tasks")), "_embedded": {"tasks": out}}))
}

fn parse_update(
    store: &Store,
    obj: &Map<String, Value>,
    id: i64,
    now: i64,
    errs: &mut Errs,
) -> Option<(bool, Task)> {
    let Some(cur) = store.tasks.get(&id) else {
        errs.add(NOT_SUPPORTED, "id");
        return None;
    };
    let before = cur.is_completed;
    let mut t = parse(store, obj, cur.clone(), false, errs);
    t.updated_at = get_int(obj, "updated_at", "", &mut Errs::default()).unwrap_or(now);
    if !obj.contains_key("updated_by") {
        t.updated_by = store.current_user();
    }
    Some((before, t))
}

/// `PATCH /api/v4/tasks` (array) and `PATCH /api/v4/tasks/{id}` (object).
pub fn update(store: &mut Store, call: &Call, single: Option<i64>) -> Response {
    let items = match single {
        Some(_) => match validation::body_object(call.body) {
            Ok(v) => vec![v],
            Err(resp) => return resp,
        },
        None => match validation::body_array(call.body, 250) {
            Ok(v) => v,
            Err(resp) => return resp,
        },
    };
    let now = now();
    let mut parsed = Vec::new();
    let mut rejected = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let rid = validation::request_id(item, i);
        let mut errs = Errs::default();
        let id = match (single, item.as_object()) {
            (Some(id), _) => Some(id),
            (None, Some(obj)) if !obj.contains_key("id") => {
                errs.add(MISSING, "id");
                None
            }
            (None, Some(obj)) => get_int(obj, "id", "", &mut errs),
            (None, None) => {
                errs.invalid_type("", "object");
                None
            }
        };
        if let (Some(id), Some(obj)) = (id, item.as_object()) {
            if let Some(p) = parse_update(store, obj, id, now, &mut errs) {
                parsed.push((rid.clone(), p));
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
    for (rid, (before, t)) in parsed {
        let t = commit(store, Some(before), t, now);
        out.push(json!({"id": t.id, "updated_at": t.updated_at, "request_id": rid, "_links": hal::link(call.href(&format!("tasks/{}", t.id)))}));
    }
    if single.is_some() {
        let mut one = out.remove(0);
        one.as_object_mut().map(|o| o.remove("request_id"));
        return hal::ok(&one);
    }
    hal::ok(&json!({"_links": hal::link(call.href("tasks")), "_embedded": {"tasks": out}}))
}

pub fn list(store: &Store, call: &Call) -> Response {
    let paging = call.paging(50, 250);
    let q = &call.query;
    let ids = q.ids("filter[id]");
    let entity_type = q.get("filter[entity_type]").and_then(Kind::from_plural);
    if q.get("filter[entity_type]").is_some() && entity_type.is_none() {
        return hal::bad_request("filter[entity_type] is not supported");
    }
    let entity_ids = q.ids("filter[entity_id]");
    let completed = q
        .get("filter[is_completed]")
        .map(|v| v == "1" || v == "true");
    let responsible = q.ids("filter[responsible_user_id]");
    let mut types = q.ids("filter[task_type]").unwrap_or_default();
    types.extend(q.ids("filter[task_type_id]").unwrap_or_default());
    let updated = q.range("filter[updated_at]");
    let mut all: Vec<&Task> = store
        .tasks
        .values()
        .filter(|t| ids.as_ref().is_none_or(|l| l.contains(&t.id)))
        .filter(|t| entity_type.is_none_or(|k| t.entity.is_some_and(|e| e.0 == k)))
        .filter(|t| {
            entity_ids
                .as_ref()
                .is_none_or(|l| t.entity.is_some_and(|e| l.contains(&e.1)))
        })
        .filter(|t| completed.is_none_or(|c| t.is_completed == c))
        .filter(|t| {
            responsible
                .as_ref()
                .is_none_or(|l| l.contains(&t.responsible_user_id))
        })
        .filter(|t| types.is_empty() || types.contains(&t.task_type_id))
        .filter(|t| {
            updated.is_none_or(|(from, to)| {
                from.is_none_or(|f| t.updated_at >= f) && to.is_none_or(|x| t.updated_at <= x)
            })
        })
        .collect();
    if let Some((field, desc)) = q.order() {
        match field.as_str() {
            "created_at" => all.sort_by_key(|t| (t.created_at, t.id)),
            "complete_till" => all.sort_by_key(|t| (t.complete_till, t.id)),
            _ => {}
        }
        if desc {
            all.reverse();
        }
    }
    let (page, more) = paging.slice(&all);
    let items = page.iter().map(|t| render(store, &call.base, t)).collect();
    hal::list_page(&call.origin(), &paging, more, "tasks", items)
}

pub fn get_one(store: &Store, call: &Call, id: i64) -> Response {
    match store.tasks.get(&id) {
        Some(t) => hal::ok(&render(store, &call.base, t)),
        None => hal::no_content(),
    }
}
