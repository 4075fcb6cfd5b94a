//! Tags (§10): `tags_to_add`/`tags_to_delete` change the set incrementally,
//! `_embedded.tags` replaces it; unknown names are created on the fly; the
//! dictionary endpoints `GET/POST /api/v4/{entity}/tags` (POST idempotent by name).

use serde_json::{json, Value};

use crate::api::Call;
use crate::hal;
use crate::http::Response;
use crate::store::tags::Tag;
use crate::store::{Kind, Store};
use crate::validation::{self, check_keys, join, Errs, MISSING, NOT_SUPPORTED};

#[derive(Clone, Debug)]
pub enum TagRef {
    Id(i64),
    Name(String, Option<String>),
}

/// Tag changes requested for one entity.
#[derive(Default, Debug)]
pub struct TagOps {
    pub add: Vec<TagRef>,
    pub delete: Vec<TagRef>,
    /// `_embedded.tags`: the whole new set (empty for `null`).
    pub replace: Option<Vec<TagRef>>,
}

/// Parses `[{id}|{name}]` at `prefix`.
pub fn parse_refs(
    store: &Store,
    kind: Kind,
    v: &Value,
    prefix: &str,
    errs: &mut Errs,
) -> Vec<TagRef> {
    let Some(items) = v.as_array() else {
        errs.invalid_type(prefix, "array");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = join(prefix, &i.to_string());
        let Some(obj) = item.as_object() else {
            errs.invalid_type(p, "object");
            continue;
        };
        check_keys(obj, &["id", "name", "color"], &["_links"], &p, errs);
        let id = validation::get_int(obj, "id", &p, errs);
        let name = validation::get_str(obj, "name", &p, errs);
        let color = obj.get("color").and_then(Value::as_str).map(String::from);
        match (id, name) {
            (Some(id), _) => {
                if store.tags.get(kind, id).is_some() {
                    out.push(TagRef::Id(id));
                } else {
                    errs.add(NOT_SUPPORTED, join(&p, "id"));
                }
            }
            (None, Some(name)) if !name.trim().is_empty() => {
                out.push(TagRef::Name(name.trim().to_string(), color))
            }
            (None, Some(_)) => errs.add(validation::NOT_BLANK, join(&p, "name")),
            (None, None) => {
                if !obj.contains_key("id") && !obj.contains_key("name") {
                    errs.add(MISSING, join(&p, "name"));
                }
            }
        }
    }
    out
}

fn resolve(store: &mut Store, kind: Kind, r: &TagRef) -> i64 {
    match r {
        TagRef::Id(id) => *id,
        TagRef::Name(name, color) => store.tags.ensure(kind, name, color.as_deref()),
    }
}

/// Applies `ops` to a tag id list.
pub fn apply(store: &mut Store, kind: Kind, tags: &mut Vec<i64>, ops: &TagOps) {
    if let Some(set) = &ops.replace {
        tags.clear();
        for r in set {
            let id = resolve(store, kind, r);
            if !tags.contains(&id) {
                tags.push(id);
            }
        }
        return;
    }
    for r in &ops.add {
        let id = resolve(store, kind, r);
        if !tags.contains(&id) {
            tags.push(id);
        }
    }
    for r in &ops.delete {
        let id = match r {
            TagRef::Id(id) => Some(*id),
            TagRef::Name(name, _) => store.tags.find(kind, name),
        };
        if let Some(id) = id {
            tags.retain(|t| *t != id);
        }
    }
}

pub fn render(t: &Tag) -> Value {
    json!({"id": t.id, "name": t.name, "color": t.color})
}

/// `GET /api/v4/{entity}/tags`.
pub fn list(store: &Store, call: &Call, kind: Kind) -> Response {
    let paging = call.paging(50, 250);
    let q = &call.query;
    let ids = q.ids("filter[id]");
    let name = q.get("filter[name]").map(str::to_lowercase);
    let query = q.get("query").map(str::to_lowercase);
    let all: Vec<&Tag> = store
        .tags
        .dict(kind)
        .by_id
        .values()
        .filter(|t| ids.as_ref().is_none_or(|ids| ids.contains(&t.id)))
        .filter(|t| name.as_ref().is_none_or(|n| t.name.to_lowercase() == *n))
        .filter(|t| {
            query
                .as_ref()
                .is_none_or(|s| t.name.to_lowercase().contains(s.as_str()))
        })
        .collect();
    let (page, more) = paging.slice(&all);
    let items = page.iter().map(|t| render(t)).collect();
    hal::list_page(&call.origin(), &paging, more, "tags", items)
}

/// `POST /api/v4/{entity}/tags`: returns the existing id for a known name.
pub fn create(store: &mut Store, call: &Call, kind: Kind) -> Response {
    let items = match validation::body_array(call.body, 250) {
        Ok(items) => items,
        Err(resp) => return resp,
    };
    let mut rejected = Vec::new();
    let mut accepted = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let rid = validation::request_id(item, i);
        let mut errs = Errs::default();
        match item.as_object() {
            None => errs.invalid_type("", "object"),
            Some(obj) => {
                check_keys(
                    obj,
                    &["name", "color", "request_id"],
                    &["id"],
                    "",
                    &mut errs,
                );
                let name = validation::get_str(obj, "name", "", &mut errs);
                let color = validation::get_str(obj, "color", "", &mut errs);
                match name {
                    Some(n) if !n.trim().is_empty() => {
                        accepted.push((rid.clone(), n.trim().to_string(), color))
                    }
                    Some(_) => errs.add(validation::NOT_BLANK, "name"),
                    None if !obj.contains_key("name") => errs.add(MISSING, "name"),
                    None => {}
                }
            }
        }
        if !errs.is_empty() {
            rejected.push((rid, errs));
        }
    }
    if !rejected.is_empty() {
        return validation::rejected(rejected);
    }
    let out: Vec<Value> = accepted
        .into_iter()
        .map(|(rid, name, color)| {
            let id = store.tags.ensure(kind, &name, color.as_deref());
            let mut v = render(store.tags.get(kind, id).expect("tag just ensured"));
            v["request_id"] = json!(rid);
            v
        })
        .collect();
    hal::ok(&json!({
        "_total_items": out.len(),
        "_links": hal::link(call.href(&format!("{}/tags", kind.plural()))),
        "_embedded": {"tags": out},
    }))
}
