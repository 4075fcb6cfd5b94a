//! Applying validated drafts: creating/updating entities, linking what a lead
//! create names, and logging the events a real account would (§14).

use serde_json::{json, Value};

use super::parse::Draft;
use crate::cf_values;
use crate::store::{Entity, Kind, Store};
use crate::tags;

fn compose_name(store: &Store, first: &str, last: &str) -> String {
    let (a, b) = if store.seed.account.contact_name_display_order == 2 {
        (last, first)
    } else {
        (first, last)
    };
    [a, b]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

fn status_value(pipeline_id: i64, status_id: i64) -> Value {
    json!([{"lead_status": {"id": status_id, "pipeline_id": pipeline_id}}])
}

fn responsible_value(id: i64) -> Value {
    json!([{"responsible_user": {"id": id}}])
}

/// Creates the entity and returns its id.
pub fn create(store: &mut Store, kind: Kind, d: Draft, now: i64) -> i64 {
    let user = store.current_user();
    let id = store.next_id(kind);
    let mut e = Entity::new(id, kind);
    e.responsible_user_id = d.responsible_user_id.unwrap_or(user);
    e.group_id = store.seed.group_of(e.responsible_user_id);
    e.created_by = d.created_by.unwrap_or(user);
    e.updated_by = d.updated_by.unwrap_or(e.created_by);
    e.created_at = d.created_at.unwrap_or(now);
    e.updated_at = d.updated_at.unwrap_or(e.created_at.max(now));
    e.first_name = d.first_name.unwrap_or_default();
    e.last_name = d.last_name.unwrap_or_default();
    e.name = match d.name {
        Some(n) => n,
        None if kind == Kind::Contact => compose_name(store, &e.first_name, &e.last_name),
        None => String::new(),
    };
    if let Some(p) = d.price {
        e.price = p;
    }
    if let Some((pipeline_id, status_id)) = d.stage {
        e.pipeline_id = pipeline_id;
        e.status_id = status_id;
    }
    e.loss_reason_id = d.loss_reason_id;
    e.closed_at = d.closed_at.or_else(|| e.is_closed().then_some(now));
    cf_values::apply(&mut e.cf, d.cf);
    let mut tag_ids = Vec::new();
    tags::apply(store, kind, &mut tag_ids, &d.tags);
    e.tags = tag_ids;
    let actor = d.created_by.unwrap_or(user);
    store.put(e);
    for (contact_id, is_main) in d.contacts {
        store
            .links
            .link((kind, id), (Kind::Contact, contact_id), is_main);
    }
    for company_id in d.companies {
        store
            .links
            .link((kind, id), (Kind::Company, company_id), false);
    }
    let event = format!("{}_added", kind.singular());
    store.record_event(
        &event,
        (kind.singular(), id),
        actor,
        now,
        json!([]),
        json!([]),
    );
    id
}

/// Updates entity `id` and returns its new `updated_at`.
pub fn update(store: &mut Store, kind: Kind, id: i64, d: Draft, now: i64) -> i64 {
    let user = store.current_user();
    let Some(mut e) = store.get(kind, id).cloned() else {
        return now;
    };
    let actor = d.updated_by.unwrap_or(user);
    let before_stage = (e.pipeline_id, e.status_id);
    let before_responsible = e.responsible_user_id;
    let names_changed = d.first_name.is_some() || d.last_name.is_some();
    if let Some(v) = d.first_name {
        e.first_name = v;
    }
    if let Some(v) = d.last_name {
        e.last_name = v;
    }
    match d.name {
        Some(n) => e.name = n,
        None if kind == Kind::Contact && names_changed => {
            e.name = compose_name(store, &e.first_name, &e.last_name)
        }
        None => {}
    }
    if let Some(p) = d.price {
        e.price = p;
    }
    if let Some(r) = d.responsible_user_id {
        e.responsible_user_id = r;
        e.group_id = store.seed.group_of(r);
    }
    if let Some(v) = d.created_by {
        e.created_by = v;
    }
    if let Some(v) = d.created_at {
        e.created_at = v;
    }
    if let Some(v) = d.loss_reason_id {
        e.loss_reason_id = Some(v);
    }
    if let Some((pipeline_id, status_id)) = d.stage {
        e.pipeline_id = pipeline_id;
        e.status_id = status_id;
    }
    let stage_changed = (e.pipeline_id, e.status_id) != before_stage;
    if let Some(c) = d.closed_at {
        e.closed_at = Some(c);
    } else if stage_changed {
        e.closed_at = e.is_closed().then_some(now);
    }
    cf_values::apply(&mut e.cf, d.cf);
    let mut tag_ids = std::mem::take(&mut e.tags);
    tags::apply(store, kind, &mut tag_ids, &d.tags);
    e.tags = tag_ids;
    e.updated_by = actor;
    e.updated_at = d.updated_at.unwrap_or(now);
    let updated_at = e.updated_at;
    let (after_stage, after_responsible) = ((e.pipeline_id, e.status_id), e.responsible_user_id);
    store.put(e);
    if kind == Kind::Lead && stage_changed {
        store.record_event(
            "lead_status_changed",
            (kind.singular(), id),
            actor,
            now,
            status_value(before_stage.0, before_stage.1),
            status_value(after_stage.0, after_stage.1),
        );
    }
    if after_responsible != before_responsible {
        store.record_event(
            "entity_responsible_changed",
            (kind.singular(), id),
            actor,
            now,
            responsible_value(before_responsible),
            responsible_value(after_responsible),
        );
    }
    updated_at
}
