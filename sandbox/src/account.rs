//! Read-only account data (§11, §16): `/account`, `/users`, `/leads/pipelines`
//! and their statuses, all served from the seed.

use serde_json::{json, Value};

use crate::api::Call;
use crate::hal;
use crate::http::Response;
use crate::seed::{SeedPipeline, SeedStatus, SeedUser};
use crate::store::Store;

pub fn account(store: &Store, call: &Call) -> Response {
    let a = &store.seed.account;
    let mut body = json!({
        "id": a.id,
        "name": a.name,
        "subdomain": a.subdomain,
        "created_at": 1_700_000_000,
        "created_by": 0,
        "updated_at": 1_700_000_000,
        "updated_by": 0,
        "current_user_id": a.current_user_id,
        "country": a.country,
        "currency": a.currency,
        "currency_symbol": a.currency_symbol,
        "customers_mode": "disabled",
        "is_unsorted_on": true,
        "mobile_feature_version": 0,
        "is_loss_reason_enabled": false,
        "is_helpbot_enabled": false,
        "is_technical_account": false,
        "contact_name_display_order": a.contact_name_display_order,
        "_links": hal::link(call.href("account")),
    });
    let mut embedded = serde_json::Map::new();
    for w in call.query.with() {
        match w.as_str() {
            "task_types" => {
                let types: Vec<Value> = store
                    .seed
                    .task_types
                    .iter()
                    .map(|t| json!({"id": t.id, "name": t.name, "color": t.color, "icon_id": t.icon_id, "code": t.code}))
                    .collect();
                embedded.insert("task_types".into(), Value::Array(types));
            }
            "users_groups" => {
                let groups: Vec<Value> = store
                    .seed
                    .groups
                    .iter()
                    .map(|g| json!({"id": g.id, "name": g.name, "uuid": null}))
                    .collect();
                embedded.insert("users_groups".into(), Value::Array(groups));
            }
            "is_api_filter_enabled" => {
                body["is_api_filter_enabled"] = json!(a.is_api_filter_enabled)
            }
            "datetime_settings" => {
                body["datetime_settings"] = json!({
                    "date_pattern": "d.m.Y H:i",
                    "short_date_pattern": "d.m.Y",
                    "short_time_pattern": "H:i",
                    "date_format": "d.m.Y",
                    "time_format": "H:i:s",
                    "timezone": a.timezone,
                    "timezone_offset": "+03:00",
                })
            }
            "version" => body["version"] = json!(25),
            "amojo_id" => body["amojo_id"] = json!("00000000-0000-4000-8000-000000000000"),
            _ => {}
        }
    }
    if !embedded.is_empty() {
        body["_embedded"] = Value::Object(embedded);
    }
    hal::ok(&body)
}

fn render_user(call: &Call, u: &SeedUser) -> Value {
    let all = if u.is_admin { "A" } else { "M" };
    let entity = json!({"view": all, "edit": all, "add": "A", "delete": all, "export": all});
    json!({
        "id": u.id,
        "name": u.name,
        "email": u.email,
        "lang": u.lang,
        "rights": {
            "leads": entity, "contacts": entity, "companies": entity,
            "tasks": {"edit": all, "delete": all},
            "mail_access": true, "catalog_access": true,
            "is_admin": u.is_admin, "is_free": false, "is_active": u.is_active,
            "group_id": u.group_id, "role_id": null, "status_rights": [],
        },
        "_links": hal::link(call.href(&format!("users/{}", u.id))),
    })
}

pub fn users(store: &Store, call: &Call) -> Response {
    let paging = call.paging(50, 250);
    let all: Vec<&SeedUser> = store.seed.users.iter().collect();
    let (page, more) = paging.slice(&all);
    if page.is_empty() {
        return hal::no_content();
    }
    let items: Vec<Value> = page.iter().map(|u| render_user(call, u)).collect();
    hal::ok(&json!({
        "_total_items": all.len(),
        "_page": paging.page,
        "_page_count": paging.page_count(all.len()),
        "_links": call.origin().links(&paging, more),
        "_embedded": {"users": items},
    }))
}

pub fn user(store: &Store, call: &Call, id: i64) -> Response {
    match store.seed.user(id) {
        Some(u) => hal::ok(&render_user(call, u)),
        None => hal::no_content(),
    }
}

fn render_status(store: &Store, call: &Call, p: &SeedPipeline, s: &SeedStatus) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "sort": s.sort,
        "is_editable": s.is_editable,
        "pipeline_id": p.id,
        "color": s.color,
        "type": s.status_type,
        "account_id": store.account_id(),
        "_links": hal::link(call.href(&format!("leads/pipelines/{}/statuses/{}", p.id, s.id))),
    })
}

fn render_pipeline(store: &Store, call: &Call, p: &SeedPipeline) -> Value {
    let statuses: Vec<Value> = p
        .statuses
        .iter()
        .map(|s| render_status(store, call, p, s))
        .collect();
    json!({
        "id": p.id,
        "name": p.name,
        "sort": p.sort,
        "is_main": p.is_main,
        "is_unsorted_on": p.is_unsorted_on,
        "is_archive": p.is_archive,
        "account_id": store.account_id(),
        "_links": hal::link(call.href(&format!("leads/pipelines/{}", p.id))),
        "_embedded": {"statuses": statuses},
    })
}

pub fn pipelines(store: &Store, call: &Call) -> Response {
    let items: Vec<Value> = store
        .seed
        .pipelines
        .iter()
        .map(|p| render_pipeline(store, call, p))
        .collect();
    hal::ok(&json!({
        "_total_items": items.len(),
        "_links": hal::link(call.href("leads/pipelines")),
        "_embedded": {"pipelines": items},
    }))
}

pub fn pipeline(store: &Store, call: &Call, id: i64) -> Response {
    match store.seed.pipeline(id) {
        Some(p) => hal::ok(&render_pipeline(store, call, p)),
        None => hal::no_content(),
    }
}

pub fn statuses(store: &Store, call: &Call, pipeline_id: i64) -> Response {
    let Some(p) = store.seed.pipeline(pipeline_id) else {
        return hal::no_content();
    };
    let items: Vec<Value> = p
        .statuses
        .iter()
        .map(|s| render_status(store, call, p, s))
        .collect();
    hal::ok(&json!({
        "_total_items": items.len(),
        "_links": hal::link(call.href(&format!("leads/pipelines/{pipeline_id}/statuses"))),
        "_embedded": {"statuses": items},
    }))
}

pub fn status(store: &Store, call: &Call, pipeline_id: i64, id: i64) -> Response {
    match store
        .seed
        .pipeline(pipeline_id)
        .and_then(|p| Some((p, p.status(id)?)))
    {
        Some((p, s)) => hal::ok(&render_status(store, call, p, s)),
        None => hal::no_content(),
    }
}
