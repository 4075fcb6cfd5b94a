//! `POST /api/v4/leads/complex` (§8): up to 50 leads, each with at most one
//! contact and one company (existing `{id}` or a full model), ≤40 custom-field
//! values per entity. Answers a bare array. No duplicate control is emulated.

use serde_json::{json, Map, Value};

use crate::api::Call;
use crate::cf_values::count_values;
use crate::entities::apply;
use crate::entities::parse::{self, Draft, Mode};
use crate::hal;
use crate::http::Response;
use crate::store::{Kind, Store};
use crate::timefmt::now;
use crate::validation::{self, join, Errs, NOT_SUPPORTED};

const MAX_LEADS: usize = 50;
const MAX_CF_VALUES: usize = 40;

/// A related contact/company: existing or to be created.
enum Part {
    Existing(i64),
    New(Box<Draft>),
}

struct Item {
    lead: Draft,
    contact: Option<Part>,
    company: Option<Part>,
}

fn check_cf_count(obj: &Map<String, Value>, prefix: &str, errs: &mut Errs) {
    if let Some(v) = obj.get("custom_fields_values") {
        if count_values(v) > MAX_CF_VALUES {
            errs.too_many(join(prefix, "custom_fields_values"), MAX_CF_VALUES);
        }
    }
}

fn part(store: &Store, kind: Kind, list: Option<&Value>, p: &str, errs: &mut Errs) -> Option<Part> {
    let items = match list? {
        Value::Array(a) => a,
        _ => {
            errs.invalid_type(p, "array");
            return None;
        }
    };
    if items.len() > 1 {
        errs.too_many(p, 1);
        return None;
    }
    let item = items.first()?;
    let ip = join(p, "0");
    let obj = item.as_object()?;
    let only_id = obj
        .keys()
        .all(|k| k == "id" || k == "is_main" || k == "_links");
    if let (true, Some(id)) = (only_id, obj.get("id").and_then(Value::as_i64)) {
        if store.get(kind, id).is_none() {
            errs.add(NOT_SUPPORTED, join(&ip, "id"));
        }
        return Some(Part::Existing(id));
    }
    check_cf_count(obj, &ip, errs);
    Some(Part::New(Box::new(parse::parse(
        store,
        kind,
        item,
        Mode::Create,
        &ip,
        errs,
    ))))
}

fn parse_item(store: &Store, item: &Value, errs: &mut Errs) -> Option<Item> {
    let Some(obj) = item.as_object() else {
        errs.invalid_type("", "object");
        return None;
    };
    check_cf_count(obj, "", errs);
    let mut lead = parse::parse(store, Kind::Lead, item, Mode::Complex, "", errs);
    let emb = obj.get("_embedded").and_then(Value::as_object);
    let contact = emb.and_then(|e| {
        part(
            store,
            Kind::Contact,
            e.get("contacts"),
            "_embedded.contacts",
            errs,
        )
    });
    let company = emb.and_then(|e| {
        part(
            store,
            Kind::Company,
            e.get("companies"),
            "_embedded.companies",
            errs,
        )
    });
    if let Some(meta) = emb.and_then(|e| e.get("metadata")) {
        let category = meta.get("category").and_then(Value::as_str);
        if !matches!(category, Some("forms" | "sip")) {
            errs.add(NOT_SUPPORTED, "_embedded.metadata.category");
        }
        if let Some((pipeline_id, _)) = lead.stage {
            let unsorted = store
                .seed
                .pipeline(pipeline_id)
                .and_then(|p| p.unsorted_stage());
            if let Some(status_id) = unsorted {
                lead.stage = Some((pipeline_id, status_id));
            }
        }
    }
    Some(Item {
        lead,
        contact,
        company,
    })
}

fn materialise(store: &mut Store, kind: Kind, part: Option<Part>, now: i64) -> Option<i64> {
    match part? {
        Part::Existing(id) => Some(id),
        Part::New(d) => Some(apply::create(store, kind, *d, now)),
    }
}

pub fn create(store: &mut Store, call: &Call) -> Response {
    let items = match validation::body_array(call.body, MAX_LEADS) {
        Ok(items) => items,
        Err(resp) => return resp,
    };
    let mut parsed = Vec::new();
    let mut rejected = Vec::new();
    for (i, raw) in items.iter().enumerate() {
        let rid = validation::request_id(raw, i);
        let mut errs = Errs::default();
        let item = parse_item(store, raw, &mut errs);
        match item {
            Some(it) if errs.is_empty() => parsed.push((rid, it)),
            _ => rejected.push((rid, errs)),
        }
    }
    if !rejected.is_empty() {
        return validation::rejected(rejected);
    }
    let now = now();
    let mut out = Vec::new();
    for (rid, it) in parsed {
        let contact_is_new = matches!(it.contact, Some(Part::New(_)));
        let contact_id = materialise(store, Kind::Contact, it.contact, now);
        let company_id = materialise(store, Kind::Company, it.company, now);
        if let (Some(c), Some(co)) = (contact_id, company_id) {
            if contact_is_new || store.links.of((Kind::Contact, c), Kind::Company).is_empty() {
                store
                    .links
                    .link((Kind::Contact, c), (Kind::Company, co), false);
            }
        }
        let mut lead = it.lead;
        lead.contacts = contact_id.map(|c| (c, true)).into_iter().collect();
        lead.companies = company_id.into_iter().collect();
        let id = apply::create(store, Kind::Lead, lead, now);
        out.push(json!({"id": id, "contact_id": contact_id, "company_id": company_id, "request_id": [rid], "merged": false}));
    }
    hal::ok(&Value::Array(out))
}
