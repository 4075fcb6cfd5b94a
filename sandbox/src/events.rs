//! `GET /api/v4/events[/{id}]` (§14): the log written by every applied write,
//! newest first, with the documented filters and `limit` ≤ 100.

use serde_json::{json, Value};

use crate::api::{href, Call};
use crate::hal;
use crate::http::Response;
use crate::store::{Event, Store};

const MAX_IDS: usize = 10;

fn plural(entity_type: &str) -> String {
    match entity_type {
        "company" => "companies".into(),
        other => format!("{other}s"),
    }
}

pub fn render(store: &Store, base: &str, e: &Event) -> Value {
    let entity_href = href(base, &format!("{}/{}", plural(e.entity_type), e.entity_id));
    json!({
        "id": e.id,
        "type": e.event_type,
        "entity_id": e.entity_id,
        "entity_type": e.entity_type,
        "created_by": e.created_by,
        "created_at": e.created_at,
        "value_after": e.value_after,
        "value_before": e.value_before,
        "account_id": store.account_id(),
        "_links": hal::link(href(base, &format!("events/{}", e.id))),
        "_embedded": {"entity": {"id": e.entity_id, "_links": hal::link(entity_href)}},
    })
}

/// (pipeline_id, status_id) pairs of `filter[value_after|before][leads_statuses]`.
fn status_pairs(call: &Call, which: &str) -> Vec<(Option<i64>, Option<i64>)> {
    call.query
        .groups(&format!("filter[{which}][leads_statuses]"))
        .values()
        .map(|g| {
            (
                g.get("pipeline_id").and_then(|v| v.parse().ok()),
                g.get("status_id").and_then(|v| v.parse().ok()),
            )
        })
        .collect()
}

fn status_matches(value: &Value, pairs: &[(Option<i64>, Option<i64>)]) -> bool {
    if pairs.is_empty() {
        return true;
    }
    let Some(ls) = value.get(0).and_then(|v| v.get("lead_status")) else {
        return false;
    };
    let (p, s) = (ls["pipeline_id"].as_i64(), ls["id"].as_i64());
    pairs
        .iter()
        .any(|(fp, fs)| fp.is_none_or(|x| Some(x) == p) && fs.is_none_or(|x| Some(x) == s))
}

fn responsible_matches(value: &Value, id: Option<i64>) -> bool {
    id.is_none_or(|id| {
        value
            .get(0)
            .and_then(|v| v.get("responsible_user"))
            .and_then(|r| r["id"].as_i64())
            == Some(id)
    })
}

pub fn list(store: &Store, call: &Call) -> Response {
    let paging = call.paging(50, 100);
    let q = &call.query;
    let types = q.list("filter[type]");
    let entities = q.list("filter[entity]");
    let entity_ids = q.ids("filter[entity_id]");
    let ids = q.list("filter[id]");
    let created_by = q.ids("filter[created_by]");
    if entity_ids.is_some() && entities.len() != 1 {
        return hal::bad_request("filter[entity_id] requires exactly one filter[entity]");
    }
    if entity_ids.as_ref().is_some_and(|l| l.len() > MAX_IDS)
        || created_by.as_ref().is_some_and(|l| l.len() > MAX_IDS)
    {
        return hal::bad_request("Too many values in filter (max 10)");
    }
    let created = q.range("filter[created_at]");
    let after = status_pairs(call, "value_after");
    let before = status_pairs(call, "value_before");
    let resp_after: Option<i64> = q
        .get("filter[value_after][responsible_user_id]")
        .and_then(|v| v.parse().ok());
    let resp_before: Option<i64> = q
        .get("filter[value_before][responsible_user_id]")
        .and_then(|v| v.parse().ok());
    let mut all: Vec<&Event> = store
        .events
        .iter()
        .filter(|e| types.is_empty() || types.contains(&e.event_type))
        .filter(|e| entities.is_empty() || entities.iter().any(|x| x == e.entity_type))
        .filter(|e| entity_ids.as_ref().is_none_or(|l| l.contains(&e.entity_id)))
        .filter(|e| ids.is_empty() || ids.contains(&e.id))
        .filter(|e| {
            created_by
                .as_ref()
                .is_none_or(|l| l.contains(&e.created_by))
        })
        .filter(|e| {
            created.is_none_or(|(from, to)| {
                from.is_none_or(|f| e.created_at >= f) && to.is_none_or(|t| e.created_at <= t)
            })
        })
        .filter(|e| {
            status_matches(&e.value_after, &after) && status_matches(&e.value_before, &before)
        })
        .filter(|e| {
            responsible_matches(&e.value_after, resp_after)
                && responsible_matches(&e.value_before, resp_before)
        })
        .collect();
    let ascending = q.order().is_some_and(|(_, desc)| !desc);
    if !ascending {
        all.reverse();
    }
    let (page, more) = paging.slice(&all);
    let items = page.iter().map(|e| render(store, &call.base, e)).collect();
    hal::list_page(&call.origin(), &paging, more, "events", items)
}

pub fn get_one(store: &Store, call: &Call, id: &str) -> Response {
    match store.events.iter().find(|e| e.id == id) {
        Some(e) => hal::ok(&render(store, &call.base, e)),
        None => hal::no_content(),
    }
}
