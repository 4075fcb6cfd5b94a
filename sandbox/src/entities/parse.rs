//! Validation of one submitted lead/contact/company into a `Draft` (§4–§7).
//! Nothing is applied here: a request is applied only when every item passed.

use serde_json::{Map, Number, Value};

use crate::cf_values::{self, CfChange};
use crate::store::{Kind, Store};
use crate::tags::{self, TagOps};
use crate::validation::{
    check_keys, get_int, get_str, get_user, join, present, Errs, MISSING, NOT_SUPPORTED,
};

#[derive(Clone, Copy, PartialEq)]
pub enum Mode {
    Create,
    /// A lead inside `POST /leads/complex` (its `_embedded` is parsed by complex.rs).
    Complex,
    Update(i64),
}

/// Normalised changes of one item.
#[derive(Default)]
pub struct Draft {
    pub request_id: String,
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub price: Option<Number>,
    pub responsible_user_id: Option<i64>,
    pub created_by: Option<i64>,
    pub updated_by: Option<i64>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub loss_reason_id: Option<i64>,
    /// Resolved (pipeline_id, status_id) for leads.
    pub stage: Option<(i64, i64)>,
    pub cf: Vec<CfChange>,
    pub tags: TagOps,
    /// Lead create: contacts to link (id, is_main) and the company.
    pub contacts: Vec<(i64, bool)>,
    pub companies: Vec<i64>,
}

const COMMON: &[&str] = &[
    "id",
    "name",
    "responsible_user_id",
    "created_by",
    "updated_by",
    "created_at",
    "updated_at",
    "custom_fields_values",
    "tags_to_add",
    "tags_to_delete",
    "_embedded",
    "request_id",
];
const LEAD: &[&str] = &[
    "price",
    "status_id",
    "pipeline_id",
    "closed_at",
    "loss_reason_id",
];
const CONTACT: &[&str] = &["first_name", "last_name"];
/// Read-only keys a client may echo from a GET; accepted and dropped.
const READ_ONLY: &[&str] = &[
    "group_id",
    "closest_task_at",
    "is_deleted",
    "account_id",
    "_links",
    "is_unsorted",
    "score",
    "labor_cost",
    "is_price_modified_by_robot",
    "price_with_minor_units",
];

/// The id of an item of an array PATCH; reports a missing or unknown id.
pub fn update_id(store: &Store, kind: Kind, item: &Value, errs: &mut Errs) -> Option<i64> {
    let obj = item.as_object()?;
    if !obj.contains_key("id") {
        errs.add(MISSING, "id");
        return None;
    }
    let id = get_int(obj, "id", "", errs)?;
    if store.get(kind, id).is_none() {
        errs.add(NOT_SUPPORTED, "id");
        return None;
    }
    Some(id)
}

pub fn parse(
    store: &Store,
    kind: Kind,
    item: &Value,
    mode: Mode,
    prefix: &str,
    errs: &mut Errs,
) -> Draft {
    let mut d = Draft::default();
    let Some(obj) = item.as_object() else {
        errs.invalid_type(prefix, "object");
        return d;
    };
    let extra: &[&str] = match kind {
        Kind::Lead => LEAD,
        Kind::Contact => CONTACT,
        Kind::Company => &[],
    };
    let allowed: Vec<&str> = COMMON.iter().chain(extra).copied().collect();
    check_keys(obj, &allowed, READ_ONLY, prefix, errs);
    let seed = &store.seed;
    d.name = get_str(obj, "name", prefix, errs);
    if kind == Kind::Contact {
        d.first_name = get_str(obj, "first_name", prefix, errs);
        d.last_name = get_str(obj, "last_name", prefix, errs);
    }
    d.responsible_user_id = get_user(obj, "responsible_user_id", prefix, false, seed, errs);
    d.created_by = get_user(obj, "created_by", prefix, true, seed, errs);
    d.updated_by = get_user(obj, "updated_by", prefix, true, seed, errs);
    d.created_at = get_int(obj, "created_at", prefix, errs);
    d.updated_at = get_int(obj, "updated_at", prefix, errs);
    if kind == Kind::Lead {
        d.closed_at = get_int(obj, "closed_at", prefix, errs);
        d.loss_reason_id = get_int(obj, "loss_reason_id", prefix, errs);
        if let Some(v) = present(obj, "price", prefix, errs) {
            match v {
                Value::Number(n) => d.price = Some(n.clone()),
                _ => errs.invalid_type(join(prefix, "price"), "int"),
            }
        }
        d.stage = stage(store, obj, mode, prefix, errs);
    }
    if let Some(v) = present(obj, "custom_fields_values", prefix, errs) {
        d.cf = cf_values::parse(
            &store.fields,
            kind,
            v,
            &join(prefix, "custom_fields_values"),
            errs,
        );
    }
    if let Some(v) = present(obj, "tags_to_add", prefix, errs) {
        d.tags.add = tags::parse_refs(store, kind, v, &join(prefix, "tags_to_add"), errs);
    }
    if let Some(v) = present(obj, "tags_to_delete", prefix, errs) {
        d.tags.delete = tags::parse_refs(store, kind, v, &join(prefix, "tags_to_delete"), errs);
    }
    if let Some(v) = present(obj, "_embedded", prefix, errs) {
        embedded(
            store,
            kind,
            v,
            mode,
            &join(prefix, "_embedded"),
            errs,
            &mut d,
        );
    }
    d
}

/// Resolves where a lead goes. On create: the given or main pipeline, the given
/// status or its first stage. On update: the given or current pipeline.
fn stage(
    store: &Store,
    obj: &Map<String, Value>,
    mode: Mode,
    prefix: &str,
    errs: &mut Errs,
) -> Option<(i64, i64)> {
    let pipeline_in = get_int(obj, "pipeline_id", prefix, errs);
    let status_in = get_int(obj, "status_id", prefix, errs);
    let current = match mode {
        Mode::Update(id) => store
            .get(Kind::Lead, id)
            .map(|e| (e.pipeline_id, e.status_id)),
        _ => None,
    };
    if current.is_some() && pipeline_in.is_none() && status_in.is_none() {
        return None;
    }
    let pipeline_id = pipeline_in
        .or(current.map(|c| c.0))
        .or_else(|| store.seed.main_pipeline().map(|p| p.id))?;
    let Some(pipeline) = store.seed.pipeline(pipeline_id) else {
        errs.add(NOT_SUPPORTED, join(prefix, "pipeline_id"));
        return None;
    };
    let status_id = match (status_in, current) {
        (Some(s), _) => s,
        (None, Some((cur_p, cur_s))) if cur_p == pipeline_id => cur_s,
        _ => pipeline.first_stage()?,
    };
    match pipeline.status(status_id) {
        Some(s) if s.status_type == 0 => Some((pipeline_id, status_id)),
        _ => {
            errs.add(NOT_SUPPORTED, join(prefix, "status_id"));
            None
        }
    }
}

fn embedded(
    store: &Store,
    kind: Kind,
    v: &Value,
    mode: Mode,
    p: &str,
    errs: &mut Errs,
    d: &mut Draft,
) {
    let Some(obj) = v.as_object() else {
        errs.invalid_type(p, "object");
        return;
    };
    let (allowed, ignored): (&[&str], &[&str]) = match (kind, mode) {
        (_, Mode::Update(_)) => (
            &["tags"],
            &[
                "contacts",
                "companies",
                "leads",
                "customers",
                "catalog_elements",
                "loss_reason",
                "source",
            ],
        ),
        (Kind::Lead, Mode::Create) => (&["tags", "contacts", "companies", "source"], &[]),
        (Kind::Lead, Mode::Complex) => (
            &["tags", "contacts", "companies", "source", "metadata"],
            &[],
        ),
        _ => (&["tags"], &[]),
    };
    check_keys(obj, allowed, ignored, p, errs);
    match obj.get("tags") {
        None => {}
        Some(Value::Null) => d.tags.replace = Some(Vec::new()),
        Some(t) => d.tags.replace = Some(tags::parse_refs(store, kind, t, &join(p, "tags"), errs)),
    }
    if kind != Kind::Lead || mode != Mode::Create {
        return;
    }
    if let Some(v) = present(obj, "contacts", p, errs) {
        d.contacts = linked(store, Kind::Contact, v, &join(p, "contacts"), errs);
    }
    if let Some(v) = present(obj, "companies", p, errs) {
        let list = linked(store, Kind::Company, v, &join(p, "companies"), errs);
        if list.len() > 1 {
            errs.too_many(join(p, "companies"), 1);
        }
        d.companies = list.into_iter().map(|(id, _)| id).collect();
    }
}

/// `[{id, is_main?}]` of existing entities of `kind`.
fn linked(store: &Store, kind: Kind, v: &Value, p: &str, errs: &mut Errs) -> Vec<(i64, bool)> {
    let Some(items) = v.as_array() else {
        errs.invalid_type(p, "array");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let ip = join(p, &i.to_string());
        let Some(o) = item.as_object() else {
            errs.invalid_type(ip, "object");
            continue;
        };
        let keys: &[&str] = if kind == Kind::Contact {
            &["id", "is_main"]
        } else {
            &["id"]
        };
        check_keys(o, keys, &["_links"], &ip, errs);
        if !o.contains_key("id") {
            errs.add(MISSING, join(&ip, "id"));
            continue;
        }
        let is_main = crate::validation::get_bool(o, "is_main", &ip, errs).unwrap_or(false);
        if let Some(id) = get_int(o, "id", &ip, errs) {
            if store.get(kind, id).is_some() {
                out.push((id, is_main));
            } else {
                errs.add(NOT_SUPPORTED, join(&ip, "id"));
            }
        }
    }
    out
}
