//! `GET /api/v4/{leads|contacts|companies}/custom_fields[/{id}]` (§7.1). The real
//! method returns at most 50 fields per page whatever `limit` says, so clients
//! must follow `_links.next`.

use serde_json::{json, Value};

use crate::api::Call;
use crate::hal::{self, Paging};
use crate::http::Response;
use crate::seed::SeedField;
use crate::store::{Kind, Store};

const PAGE_MAX: usize = 50;

fn render(store: &Store, call: &Call, kind: Kind, f: &SeedField) -> Value {
    let enums = if f.enums.is_empty() {
        Value::Null
    } else {
        Value::Array(
            f.enums
                .iter()
                .map(|e| json!({"id": e.id, "value": e.value, "sort": e.sort, "code": e.code}))
                .collect(),
        )
    };
    json!({
        "id": f.id,
        "name": f.name,
        "type": f.field_type.as_str(),
        "account_id": store.account_id(),
        "code": f.code,
        "sort": f.sort,
        "is_api_only": f.is_api_only,
        "enums": enums,
        "group_id": null,
        "required_statuses": [],
        "is_deletable": f.code.is_none(),
        "is_predefined": f.code.as_deref().is_some_and(|c| c == "PHONE" || c == "EMAIL"),
        "entity_type": kind.plural(),
        "remind": null,
        "_links": hal::link(call.href(&format!("{}/custom_fields/{}", kind.plural(), f.id))),
    })
}

pub fn list(store: &Store, call: &Call, kind: Kind) -> Response {
    let paging = Paging {
        page: call.query.page(),
        limit: call.query.limit(PAGE_MAX, 250).min(PAGE_MAX),
    };
    let all: Vec<&SeedField> = store.fields.ordered(kind).collect();
    let (page, more) = paging.slice(&all);
    if page.is_empty() {
        return hal::no_content();
    }
    let items: Vec<Value> = page.iter().map(|f| render(store, call, kind, f)).collect();
    hal::ok(&json!({
        "_total_items": all.len(),
        "_page": paging.page,
        "_page_count": paging.page_count(all.len()),
        "_links": call.origin().links(&paging, more),
        "_embedded": {"custom_fields": items},
    }))
}

pub fn get(store: &Store, call: &Call, kind: Kind, id: i64) -> Response {
    match store.fields.get(kind, id) {
        Some(f) => hal::ok(&render(store, call, kind, f)),
        None => hal::no_content(),
    }
}
