//! Entity links endpoints (§9): link/unlink per entity or in bulk, and reading
//! links back. Metadata is `is_main` on write and `main_contact` on read.

use serde_json::{json, Value};

use crate::api::Call;
use crate::hal;
use crate::http::Response;
use crate::store::{Kind, Node, Store};
use crate::validation::{self, check_keys, get_int, Errs, MISSING, NOT_SUPPORTED};

/// A validated link request.
struct LinkReq {
    from: Node,
    to: Node,
    is_main: bool,
}

fn render(from: Node, to: Node, main: bool) -> Value {
    let contact_link = matches!(
        (from.0, to.0),
        (Kind::Lead, Kind::Contact) | (Kind::Contact, Kind::Lead)
    );
    json!({
        "entity_id": from.1,
        "entity_type": from.0.plural(),
        "to_entity_id": to.1,
        "to_entity_type": to.0.plural(),
        "metadata": if contact_link { json!({"main_contact": main}) } else { Value::Null },
    })
}

fn parse_item(
    store: &Store,
    kind: Kind,
    fixed: Option<i64>,
    item: &Value,
    errs: &mut Errs,
) -> Option<LinkReq> {
    let Some(obj) = item.as_object() else {
        errs.invalid_type("", "object");
        return None;
    };
    let mut keys = vec!["to_entity_id", "to_entity_type", "metadata", "request_id"];
    if fixed.is_none() {
        keys.push("entity_id");
    }
    check_keys(obj, &keys, &["entity_type"], "", errs);
    let from_id = match fixed {
        Some(id) => Some(id),
        None if !obj.contains_key("entity_id") => {
            errs.add(MISSING, "entity_id");
            None
        }
        None => get_int(obj, "entity_id", "", errs),
    };
    if let Some(id) = from_id {
        if store.get(kind, id).is_none() {
            errs.add(NOT_SUPPORTED, "entity_id");
        }
    }
    let to_kind = match obj.get("to_entity_type").and_then(Value::as_str) {
        None => {
            errs.add(MISSING, "to_entity_type");
            None
        }
        Some(t) => match Kind::from_plural(t).filter(|k| *k != kind) {
            Some(k) => Some(k),
            None => {
                errs.add(NOT_SUPPORTED, "to_entity_type");
                None
            }
        },
    };
    let to_id = if obj.contains_key("to_entity_id") {
        get_int(obj, "to_entity_id", "", errs)
    } else {
        errs.add(MISSING, "to_entity_id");
        None
    };
    if let (Some(k), Some(id)) = (to_kind, to_id) {
        if store.get(k, id).is_none() {
            errs.add(NOT_SUPPORTED, "to_entity_id");
        }
    }
    let mut is_main = false;
    match obj.get("metadata") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            check_keys(
                m,
                &[
                    "is_main",
                    "updated_by",
                    "catalog_id",
                    "quantity",
                    "price_id",
                ],
                &["main_contact"],
                "metadata",
                errs,
            );
            is_main = validation::get_bool(m, "is_main", "metadata", errs).unwrap_or(false);
            validation::get_user(m, "updated_by", "metadata", true, &store.seed, errs);
        }
        Some(_) => errs.invalid_type("metadata", "object"),
    }
    Some(LinkReq {
        from: (kind, from_id?),
        to: (to_kind?, to_id?),
        is_main,
    })
}

fn parse_all(
    store: &Store,
    call: &Call,
    kind: Kind,
    fixed: Option<i64>,
) -> Result<Vec<LinkReq>, Response> {
    let items = validation::body_array(call.body, 250)?;
    let mut reqs = Vec::new();
    let mut rejected = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let mut errs = Errs::default();
        let r = parse_item(store, kind, fixed, item, &mut errs);
        if errs.is_empty() {
            reqs.extend(r);
        } else {
            rejected.push((validation::request_id(item, i), errs));
        }
    }
    if rejected.is_empty() {
        Ok(reqs)
    } else {
        Err(validation::rejected(rejected))
    }
}

/// `POST /{entity}/{id}/link` (`fixed` = Some(id)) and `POST /{entity}/link`.
pub fn link(store: &mut Store, call: &Call, kind: Kind, fixed: Option<i64>) -> Response {
    let reqs = match parse_all(store, call, kind, fixed) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let mut out = Vec::new();
    for r in reqs {
        store.links.link(r.from, r.to, r.is_main);
        let main = store
            .links
            .of(r.from, r.to.0)
            .into_iter()
            .any(|(id, m)| id == r.to.1 && m);
        out.push(render(r.from, r.to, main));
    }
    let self_href = match fixed {
        Some(id) => call.href(&format!("{}/{}/links", kind.plural(), id)),
        None => call.href(&format!("{}/links", kind.plural())),
    };
    hal::ok(&json!({
        "_total_items": out.len(),
        "_links": hal::link(self_href),
        "_embedded": {"links": out},
    }))
}

/// `POST /{entity}/{id}/unlink` and `POST /{entity}/unlink`: 204.
pub fn unlink(store: &mut Store, call: &Call, kind: Kind, fixed: Option<i64>) -> Response {
    match parse_all(store, call, kind, fixed) {
        Ok(reqs) => {
            for r in reqs {
                store.links.unlink(r.from, r.to);
            }
            hal::no_content()
        }
        Err(resp) => resp,
    }
}

/// `GET /{entity}/{id}/links` and `GET /{entity}/links?filter[entity_id][]=…`.
pub fn list(store: &Store, call: &Call, kind: Kind, fixed: Option<i64>) -> Response {
    let q = &call.query;
    let ids = match fixed {
        Some(id) => vec![id],
        None => match q.ids("filter[entity_id]") {
            Some(ids) if !ids.is_empty() => ids,
            _ => return hal::bad_request("filter[entity_id] is required"),
        },
    };
    let to_id: Option<i64> = q.get("filter[to_entity_id]").and_then(|v| v.parse().ok());
    let to_type = q.get("filter[to_entity_type]").and_then(Kind::from_plural);
    let mut out = Vec::new();
    for id in ids {
        let from = (kind, id);
        for (to, main) in store.links.all_of(from) {
            if to_id.is_some_and(|t| t != to.1) || to_type.is_some_and(|t| t != to.0) {
                continue;
            }
            out.push(render(from, to, main));
        }
    }
    if out.is_empty() {
        return hal::no_content();
    }
    hal::ok(&json!({
        "_total_items": out.len(),
        "_links": hal::link(call.origin().self_href()),
        "_embedded": {"links": out},
    }))
}
