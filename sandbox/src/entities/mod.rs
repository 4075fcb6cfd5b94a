//! Leads, contacts and companies: list/get/create/update endpoints (§3–§7).
//! Writes validate every item first and apply nothing if one fails.

pub mod apply;
pub mod parse;
pub mod render;
pub mod search;

use serde_json::{json, Value};

use crate::api::Call;
use crate::hal;
use crate::http::Response;
use crate::store::{Entity, Kind, Store};
use crate::timefmt::now;
use crate::validation::{self, Errs};
use parse::{Draft, Mode};

/// The max number of models per write request (§4).
pub const WRITE_LIMIT: usize = 250;

pub fn list(store: &Store, call: &Call, kind: Kind) -> Response {
    let paging = call.paging(50, 250);
    let q = &call.query;
    let query = search::matcher(store.query_mode, q.get("query"));
    let filters_on = store.seed.account.is_api_filter_enabled && q.has_prefix("filter[");
    let filter = search::filter(kind, q);
    let ok = |e: &&Entity| query.as_ref().is_none_or(|m| m(e)) && (!filters_on || filter(e));
    let mut all: Vec<&Entity> = match q.ids("filter[id]").filter(|_| filters_on) {
        Some(ids) => ids
            .iter()
            .filter_map(|id| store.get(kind, *id))
            .filter(ok)
            .collect(),
        None => store.ents[kind.idx()].values().filter(ok).collect(),
    };
    match q.order() {
        Some((field, desc)) => {
            match field.as_str() {
                "updated_at" => all.sort_by_key(|e| (e.updated_at, e.id)),
                "created_at" => all.sort_by_key(|e| (e.created_at, e.id)),
                _ => all.sort_by_key(|e| e.id),
            }
            if desc {
                all.reverse();
            }
        }
        None => all.sort_by_key(|e| e.id),
    }
    all.dedup_by_key(|e| e.id);
    let (page, more) = paging.slice(&all);
    let with = q.with();
    let items = page
        .iter()
        .map(|e| render::render(store, &call.base, e, &with))
        .collect();
    hal::list_page(&call.origin(), &paging, more, kind.plural(), items)
}

pub fn get_one(store: &Store, call: &Call, kind: Kind, id: i64) -> Response {
    match store.get(kind, id) {
        Some(e) => hal::ok(&render::render(store, &call.base, e, &call.query.with())),
        None => hal::no_content(),
    }
}

fn write_item(call: &Call, kind: Kind, id: i64, rid: &str, updated_at: Option<i64>) -> Value {
    let mut v = json!({"id": id, "request_id": rid, "_links": hal::link(call.href(&format!("{}/{}", kind.plural(), id)))});
    if let Some(u) = updated_at {
        v["updated_at"] = json!(u);
    }
    v
}

fn envelope(call: &Call, kind: Kind, items: Vec<Value>) -> Response {
    hal::ok(&json!({
        "_links": hal::link(call.href(kind.plural())),
        "_embedded": {kind.plural(): items},
    }))
}

/// `POST /api/v4/{entity}`: always creates, even when an item carries an `id` (§4).
pub fn create(store: &mut Store, call: &Call, kind: Kind) -> Response {
    let items = match validation::body_array(call.body, WRITE_LIMIT) {
        Ok(items) => items,
        Err(resp) => return resp,
    };
    let mut drafts: Vec<Draft> = Vec::new();
    let mut rejected = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let mut errs = Errs::default();
        let mut d = parse::parse(store, kind, item, Mode::Create, "", &mut errs);
        d.request_id = validation::request_id(item, i);
        if !errs.is_empty() {
            rejected.push((d.request_id.clone(), errs));
        }
        drafts.push(d);
    }
    if !rejected.is_empty() {
        return validation::rejected(rejected);
    }
    let now = now();
    let out = drafts
        .into_iter()
        .map(|d| {
            let rid = d.request_id.clone();
            let id = apply::create(store, kind, d, now);
            write_item(call, kind, id, &rid, None)
        })
        .collect();
    envelope(call, kind, out)
}

/// `PATCH /api/v4/{entity}` with an array of models each carrying `id`.
pub fn update_many(store: &mut Store, call: &Call, kind: Kind) -> Response {
    let items = match validation::body_array(call.body, WRITE_LIMIT) {
        Ok(items) => items,
        Err(resp) => return resp,
    };
    let mut drafts: Vec<(i64, Draft)> = Vec::new();
    let mut rejected = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let mut errs = Errs::default();
        let rid = validation::request_id(item, i);
        let id = parse::update_id(store, kind, item, &mut errs);
        let mut d = parse::parse(
            store,
            kind,
            item,
            Mode::Update(id.unwrap_or(0)),
            "",
            &mut errs,
        );
        d.request_id = rid;
        if errs.is_empty() {
            drafts.push((id.unwrap_or(0), d));
        } else {
            rejected.push((d.request_id.clone(), errs));
        }
    }
    if !rejected.is_empty() {
        return validation::rejected(rejected);
    }
    let now = now();
    let out = drafts
        .into_iter()
        .map(|(id, d)| {
            let rid = d.request_id.clone();
            let updated_at = apply::update(store, kind, id, d, now);
            write_item(call, kind, id, &rid, Some(updated_at))
        })
        .collect();
    envelope(call, kind, out)
}

/// `PATCH /api/v4/{entity}/{id}` with a single model; answers a single object.
pub fn update_one(store: &mut Store, call: &Call, kind: Kind, id: i64) -> Response {
    let item = match validation::body_object(call.body) {
        Ok(item) => item,
        Err(resp) => return resp,
    };
    let mut errs = Errs::default();
    let rid = validation::request_id(&item, 0);
    if store.get(kind, id).is_none() {
        errs.add(validation::NOT_SUPPORTED, "id");
        return validation::rejected(vec![(rid, errs)]);
    }
    let d = parse::parse(store, kind, &item, Mode::Update(id), "", &mut errs);
    if !errs.is_empty() {
        return validation::rejected(vec![(rid, errs)]);
    }
    let updated_at = apply::update(store, kind, id, d, now());
    hal::ok(&json!({
        "id": id,
        "updated_at": updated_at,
        "_links": hal::link(call.href(&format!("{}/{}", kind.plural(), id))),
    }))
}

/// Creates one entity outside HTTP (`Sandbox::insert`); Err lists validation errors.
pub fn insert(store: &mut Store, kind: Kind, item: &Value) -> Result<i64, String> {
    let mut errs = Errs::default();
    let d = parse::parse(store, kind, item, Mode::Create, "", &mut errs);
    if !errs.is_empty() {
        return Err(format_errs(&errs));
    }
    Ok(apply::create(store, kind, d, now()))
}

pub fn format_errs(errs: &Errs) -> String {
    errs.list
        .iter()
        .map(|e| format!("{} at {}", e.code, e.path))
        .collect::<Vec<_>>()
        .join("; ")
}
