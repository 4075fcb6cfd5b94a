//! `GET /api/v4/{leads|contacts|companies}/custom_fields[/{id}]` and `POST` (§7.1). The real
//! method returns at most 50 fields per page whatever `limit` says, so clients
//! must follow `_links.next`.

use serde_json::{json, Value};

use crate::api::Call;
use crate::hal::{self, Paging};
use crate::http::Response;
use crate::seed::{FieldType, SeedEnum, SeedField};
use crate::store::{Kind, Store};
use crate::validation::{self, check_keys, Errs, MISSING, NOT_BLANK, NOT_EXPECTED, NOT_SUPPORTED};

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

/// Types a field may be created with through the API, per entity (§7.2: `multitext` only on
/// contacts and companies; catalog-only types are refused everywhere).
fn creatable(kind: Kind, t: &str) -> Option<FieldType> {
    use FieldType::*;
    let ft = match t {
        "text" => Text,
        "numeric" => Numeric,
        "checkbox" => Checkbox,
        "select" => Select,
        "multiselect" => Multiselect,
        "date" => Date,
        "date_time" => DateTime,
        "birthday" => Birthday,
        "url" => Url,
        "textarea" => Textarea,
        "radiobutton" => Radiobutton,
        "streetaddress" => Streetaddress,
        "multitext" if kind != Kind::Lead => Multitext,
        _ => return None,
    };
    Some(ft)
}

/// `POST /api/v4/{entity}/custom_fields` (§7.1): administrators only, a batch of
/// `{name, type, code?, sort?, is_api_only?, enums?}`, answered with 201. Validated as
/// strictly as the documentation allows: `name` and `type` required, options required for
/// select/multiselect/radiobutton and refused for other types, a `code` or name already used
/// by a field of the entity refused (the uniqueness rules are UNCONFIRMED; refusing is the
/// safe reading), codes limited to Latin capitals, digits and `_` (UNCONFIRMED, the shape of
/// every documented code). The whole batch is rejected when one item is.
pub fn create(store: &mut Store, call: &Call, kind: Kind) -> Response {
    let is_admin = store
        .seed
        .user(store.current_user())
        .is_some_and(|u| u.is_admin);
    if !is_admin {
        return hal::problem(403, "Only administrators may add custom fields");
    }
    let items = match validation::body_array(call.body, 250) {
        Ok(items) => items,
        Err(resp) => return resp,
    };
    let (mut next_field, mut next_enum) = store.fields.max_ids();
    let mut codes: Vec<String> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut made = Vec::new();
    let mut failed = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let rid = validation::request_id(item, i);
        let mut errs = Errs::default();
        let Some(obj) = item.as_object() else {
            errs.invalid_type("", "object");
            failed.push((rid, errs));
            continue;
        };
        check_keys(
            obj,
            &[
                "name",
                "type",
                "code",
                "sort",
                "is_api_only",
                "enums",
                "request_id",
                "is_visible",
                "is_required",
                "group_id",
                "required_statuses",
            ],
            &[],
            "",
            &mut errs,
        );
        let name = validation::get_str(obj, "name", "", &mut errs);
        match &name {
            None if !obj.contains_key("name") => errs.add(MISSING, "name"),
            Some(n) if n.trim().is_empty() => errs.add(NOT_BLANK, "name"),
            Some(n) if store.fields.has_name(kind, n) || names.contains(n) => {
                errs.add(NOT_SUPPORTED, "name")
            }
            _ => {}
        }
        let field_type = match validation::get_str(obj, "type", "", &mut errs) {
            Some(t) => creatable(kind, &t).or_else(|| {
                errs.add(NOT_SUPPORTED, "type");
                None
            }),
            None => {
                if !obj.contains_key("type") {
                    errs.add(MISSING, "type");
                }
                None
            }
        };
        let code = validation::get_str(obj, "code", "", &mut errs);
        if let Some(c) = &code {
            let shaped = !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            if !shaped || store.fields.by_code(kind, c).is_some() || codes.contains(c) {
                errs.add(NOT_SUPPORTED, "code");
            }
        }
        let sort = validation::get_int(obj, "sort", "", &mut errs).unwrap_or(500);
        let is_api_only = validation::get_bool(obj, "is_api_only", "", &mut errs).unwrap_or(false);
        let mut enums = Vec::new();
        let wants_enums = field_type.is_some_and(|t| {
            matches!(
                t,
                FieldType::Select | FieldType::Multiselect | FieldType::Radiobutton
            )
        });
        match (obj.get("enums"), wants_enums) {
            (None | Some(Value::Null), true) => errs.add(MISSING, "enums"),
            (Some(v), false) if !v.is_null() && field_type.is_some() => {
                errs.add(NOT_EXPECTED, "enums")
            }
            (Some(Value::Array(list)), true) if list.is_empty() => errs.add(NOT_BLANK, "enums"),
            (Some(Value::Array(list)), true) => {
                for (j, e) in list.iter().enumerate() {
                    let p = format!("enums.{j}");
                    let Some(eo) = e.as_object() else {
                        errs.invalid_type(p, "object");
                        continue;
                    };
                    check_keys(eo, &["value", "sort", "code"], &[], &p, &mut errs);
                    let value = validation::get_str(eo, "value", &p, &mut errs);
                    match value {
                        Some(v) if !v.trim().is_empty() => {
                            let sort = validation::get_int(eo, "sort", &p, &mut errs)
                                .unwrap_or((j as i64 + 1) * 10);
                            let code = validation::get_str(eo, "code", &p, &mut errs);
                            enums.push(SeedEnum {
                                id: 0,
                                value: v,
                                sort,
                                code,
                            });
                        }
                        Some(_) => errs.add(NOT_BLANK, format!("{p}.value")),
                        None if !eo.contains_key("value") => {
                            errs.add(MISSING, format!("{p}.value"))
                        }
                        None => {}
                    }
                }
            }
            (Some(_), true) => errs.invalid_type("enums", "array"),
            _ => {}
        }
        match (errs.is_empty(), name, field_type) {
            (true, Some(name), Some(field_type)) => {
                next_field += 1;
                for e in &mut enums {
                    next_enum += 1;
                    e.id = next_enum;
                }
                names.push(name.clone());
                codes.extend(code.clone());
                made.push(SeedField {
                    id: next_field,
                    name,
                    code,
                    field_type,
                    sort,
                    is_api_only,
                    enums,
                });
            }
            _ => failed.push((rid, errs)),
        }
    }
    if !failed.is_empty() {
        return validation::rejected(failed);
    }
    let mut rendered = Vec::new();
    for f in made {
        rendered.push(render(store, call, kind, &f));
        store.fields.insert(kind, f);
    }
    hal::hal(
        201,
        &json!({
            "_total_items": rendered.len(),
            "_embedded": {"custom_fields": rendered},
        }),
    )
}
