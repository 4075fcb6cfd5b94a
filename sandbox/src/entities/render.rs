//! Leads/contacts/companies as GET shows them (§5, §6): `custom_fields_values`
//! null when empty, `_embedded.tags` always, companies always for leads and
//! contacts, linked contacts/leads only with `with=…`.

use serde_json::{json, Map, Value};

use crate::api::href;
use crate::cf_values;
use crate::hal;
use crate::store::{Entity, Kind, Store};

fn entity_link(base: &str, kind: Kind, id: i64) -> Value {
    hal::link(href(base, &format!("{}/{}", kind.plural(), id)))
}

fn linked(store: &Store, base: &str, e: &Entity, kind: Kind, with_main: bool) -> Value {
    let list: Vec<Value> = store
        .links
        .of(e.node(), kind)
        .into_iter()
        .map(|(id, main)| {
            let mut v = json!({"id": id, "_links": entity_link(base, kind, id)});
            if with_main {
                v["is_main"] = json!(main);
            }
            v
        })
        .collect();
    Value::Array(list)
}

fn tags(store: &Store, e: &Entity) -> Value {
    Value::Array(
        e.tags
            .iter()
            .filter_map(|id| store.tags.get(e.kind, *id))
            .map(crate::tags::render)
            .collect(),
    )
}

pub fn render(store: &Store, base: &str, e: &Entity, with: &[String]) -> Value {
    let has = |w: &str| with.iter().any(|x| x == w);
    let mut v = Map::new();
    v.insert("id".into(), json!(e.id));
    v.insert("name".into(), json!(e.name));
    if e.kind == Kind::Contact {
        v.insert("first_name".into(), json!(e.first_name));
        v.insert("last_name".into(), json!(e.last_name));
    }
    if e.kind == Kind::Lead {
        v.insert("price".into(), json!(e.price));
    }
    v.insert("responsible_user_id".into(), json!(e.responsible_user_id));
    v.insert("group_id".into(), json!(e.group_id));
    if e.kind == Kind::Lead {
        v.insert("status_id".into(), json!(e.status_id));
        v.insert("pipeline_id".into(), json!(e.pipeline_id));
        v.insert("loss_reason_id".into(), json!(e.loss_reason_id));
    }
    v.insert("created_by".into(), json!(e.created_by));
    v.insert("updated_by".into(), json!(e.updated_by));
    v.insert("created_at".into(), json!(e.created_at));
    v.insert("updated_at".into(), json!(e.updated_at));
    if e.kind == Kind::Lead {
        v.insert("closed_at".into(), json!(e.closed_at));
    }
    v.insert("closest_task_at".into(), json!(e.closest_task_at));
    v.insert("is_deleted".into(), json!(false));
    if e.kind == Kind::Contact {
        v.insert("is_unsorted".into(), json!(false));
    }
    v.insert(
        "custom_fields_values".into(),
        cf_values::render(&store.fields, e.kind, &e.cf),
    );
    if e.kind == Kind::Lead {
        v.insert("score".into(), Value::Null);
        v.insert("labor_cost".into(), Value::Null);
    }
    v.insert("account_id".into(), json!(store.account_id()));
    v.insert("_links".into(), entity_link(base, e.kind, e.id));
    let mut emb = Map::new();
    emb.insert("tags".into(), tags(store, e));
    match e.kind {
        Kind::Lead => {
            emb.insert(
                "companies".into(),
                linked(store, base, e, Kind::Company, false),
            );
            if has("contacts") {
                emb.insert(
                    "contacts".into(),
                    linked(store, base, e, Kind::Contact, true),
                );
            }
        }
        Kind::Contact => {
            emb.insert(
                "companies".into(),
                linked(store, base, e, Kind::Company, false),
            );
            if has("leads") {
                emb.insert("leads".into(), linked(store, base, e, Kind::Lead, false));
            }
        }
        Kind::Company => {
            if has("contacts") {
                emb.insert(
                    "contacts".into(),
                    linked(store, base, e, Kind::Contact, false),
                );
            }
            if has("leads") {
                emb.insert("leads".into(), linked(store, base, e, Kind::Lead, false));
            }
        }
    }
    v.insert("_embedded".into(), Value::Object(emb));
    Value::Object(v)
}
