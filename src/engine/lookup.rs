//! Finding an amoCRM entity that already stands for a BILLmanager entity we have no binding
//! for: the website, a manager or an interrupted earlier run may have created it.
//!
//! Searches use amoCRM's `query` (substring over every field), so every hit is verified: a
//! phone must match the last 10 digits of a PHONE value, an e-mail must equal an EMAIL value,
//! an INN must equal a field value, a BILLmanager id must be in the mapped id field.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::payload::remote_values;
use super::Engine;
use crate::phone;
use crate::rules::EntityKind;

fn texts(values: &[Value]) -> Vec<String> {
    values
        .iter()
        .filter_map(|v| match v.get("value") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
        .collect()
}

fn oldest(mut hits: Vec<Value>) -> Option<Value> {
    hits.sort_by_key(|h| h.get("id").and_then(Value::as_i64).unwrap_or(i64::MAX));
    hits.into_iter().next()
}

/// Pre-loaded lookup keys (backfill): one paged walk over a kind replaces one `query`
/// search per entity. Only keys and ids are kept, so memory stays small.
#[derive(Debug, Default)]
pub struct Index {
    loaded: BTreeSet<EntityKind>,
    phones: HashMap<String, i64>,
    emails: HashMap<String, i64>,
    inns: HashMap<String, i64>,
    company_names: HashMap<String, i64>,
    markers: HashMap<String, i64>,
}

/// What identifies an unbound entity in the pre-loaded index.
pub(super) enum Lookup<'a> {
    /// A contact by phone (E.164) or e-mail.
    Contact {
        phone: Option<&'a str>,
        email: Option<&'a str>,
    },
    /// A company by INN or, without one, by name.
    Company { inn: Option<&'a str>, name: &'a str },
    /// An entity whose BILLmanager-id field holds this id.
    Marker(&'a str),
}

fn contact_hit(i: &Index, phone_e164: Option<&str>, email: Option<&str>) -> Option<(i64, String)> {
    phone_e164
        .and_then(|p| {
            i.phones
                .get(&phone::search_key(p))
                .map(|id| (*id, format!("same phone {p}")))
        })
        .or_else(|| {
            email.and_then(|e| {
                i.emails
                    .get(&e.to_lowercase())
                    .map(|id| (*id, format!("same e-mail {e}")))
            })
        })
}

fn company_hit(i: &Index, inn: Option<&str>, name: &str) -> Option<(i64, String)> {
    match inn.map(str::trim).filter(|x| !x.is_empty()) {
        Some(inn) => i.inns.get(inn).map(|id| (*id, format!("same INN {inn}"))),
        None => i
            .company_names
            .get(&name.trim().to_lowercase())
            .map(|id| (*id, format!("same name {name}"))),
    }
}

fn keep_oldest(map: &mut HashMap<String, i64>, key: String, id: i64) {
    map.entry(key)
        .and_modify(|e| *e = (*e).min(id))
        .or_insert(id);
}

impl Engine<'_> {
    /// Walks every entity of `kind` once and indexes its lookup keys.
    pub fn preload(&self, kind: EntityKind) -> anyhow::Result<()> {
        if self.index.borrow().loaded.contains(&kind) {
            return Ok(());
        }
        let phone_field = self.resolved.standard(kind, "PHONE").map(|f| f.id);
        let email_field = self.resolved.standard(kind, "EMAIL").map(|f| f.id);
        let marker_field = self
            .resolved
            .fields
            .get(&kind)
            .into_iter()
            .flatten()
            .find(|m| m.from.as_deref() == Some("service.id"))
            .map(|m| m.def.id);
        let mut idx = Index::default();
        self.crm.for_each(kind, &mut |e| {
            let Some(id) = e.get("id").and_then(Value::as_i64) else {
                return;
            };
            match kind {
                EntityKind::Contact => {
                    if let Some(fid) = phone_field {
                        for p in texts(&remote_values(&e, fid, Some("PHONE"))) {
                            let k = phone::search_key(&p);
                            if k.len() >= 7 {
                                keep_oldest(&mut idx.phones, k, id);
                            }
                        }
                    }
                    if let Some(fid) = email_field {
                        for m in texts(&remote_values(&e, fid, Some("EMAIL"))) {
                            keep_oldest(&mut idx.emails, m.trim().to_lowercase(), id);
                        }
                    }
                }
                EntityKind::Company => {
                    for f in e
                        .get("custom_fields_values")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let values = f
                            .get("values")
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default();
                        for v in texts(&values) {
                            let v = v.trim();
                            if (10..=12).contains(&v.len()) && v.chars().all(|c| c.is_ascii_digit())
                            {
                                keep_oldest(&mut idx.inns, v.to_string(), id);
                            }
                        }
                    }
                    if let Some(n) = e.get("name").and_then(Value::as_str) {
                        keep_oldest(&mut idx.company_names, n.trim().to_lowercase(), id);
                    }
                }
                EntityKind::Lead => {
                    if let Some(fid) = marker_field {
                        for v in texts(&remote_values(&e, fid, None)) {
                            keep_oldest(&mut idx.markers, v.trim().to_string(), id);
                        }
                    }
                }
            }
        })?;
        let mut current = self.index.borrow_mut();
        current.loaded.insert(kind);
        match kind {
            EntityKind::Contact => {
                current.phones = idx.phones;
                current.emails = idx.emails;
            }
            EntityKind::Company => {
                current.inns = idx.inns;
                current.company_names = idx.company_names;
            }
            EntityKind::Lead => current.markers = idx.markers,
        }
        Ok(())
    }

    /// Looks a key up in the pre-loaded index; `None` when the kind was not pre-loaded. A
    /// hit is read from the pages a batch read ahead ([`Engine::prefetch_adoptions`]), else
    /// with one GET (a single `sync`).
    #[allow(clippy::type_complexity)]
    fn indexed(
        &self,
        kind: EntityKind,
        pick: impl Fn(&Index) -> Option<(i64, String)>,
    ) -> Option<anyhow::Result<Option<(Value, String)>>> {
        let hit = self.index_pick(kind, pick)?;
        Some(match hit {
            None => Ok(None),
            Some((id, reason)) => self
                .bound_remote(kind, id)
                .map(|e| e.map(|e| (e, reason)))
                .map_err(Into::into),
        })
    }

    /// What `pick` finds in the pre-loaded index of `kind`; `None` when it was not loaded.
    fn index_pick<T>(&self, kind: EntityKind, pick: impl Fn(&Index) -> T) -> Option<T> {
        let idx = self.index.borrow();
        idx.loaded.contains(&kind).then(|| pick(&idx))
    }

    /// The amoCRM id the pre-loaded index gives an unbound entity (what `find_contact`,
    /// `find_company` or `find_by_marker` would adopt), without reading it.
    pub(super) fn index_hit(&self, kind: EntityKind, key: &Lookup<'_>) -> Option<i64> {
        self.index_pick(kind, |i| match key {
            Lookup::Contact { phone, email } => contact_hit(i, *phone, *email),
            Lookup::Company { inn, name } => company_hit(i, *inn, name),
            Lookup::Marker(bm_id) => i.markers.get(*bm_id).map(|id| (*id, String::new())),
        })
        .flatten()
        .map(|(id, _)| id)
    }

    /// A contact with this phone or e-mail; the reason says which matched.
    pub(super) fn find_contact(
        &self,
        phone_e164: Option<&str>,
        email: Option<&str>,
    ) -> anyhow::Result<Option<(Value, String)>> {
        if let Some(r) = self.indexed(EntityKind::Contact, |i| contact_hit(i, phone_e164, email)) {
            return r;
        }
        let phone_field = self
            .resolved
            .standard(EntityKind::Contact, "PHONE")
            .map(|f| f.id);
        let email_field = self
            .resolved
            .standard(EntityKind::Contact, "EMAIL")
            .map(|f| f.id);
        if let (Some(p), Some(fid)) = (phone_e164, phone_field) {
            let key = phone::search_key(p);
            let hits: Vec<Value> = self
                .crm
                .search(EntityKind::Contact, &key)?
                .into_iter()
                .filter(|c| {
                    texts(&remote_values(c, fid, Some("PHONE")))
                        .iter()
                        .any(|v| phone::same(v, p))
                })
                .collect();
            if let Some(c) = oldest(hits) {
                return Ok(Some((c, format!("same phone {p}"))));
            }
        }
        if let (Some(e), Some(fid)) = (email, email_field) {
            let hits: Vec<Value> = self
                .crm
                .search(EntityKind::Contact, e)?
                .into_iter()
                .filter(|c| {
                    texts(&remote_values(c, fid, Some("EMAIL")))
                        .iter()
                        .any(|v| v.trim().eq_ignore_ascii_case(e))
                })
                .collect();
            if let Some(c) = oldest(hits) {
                return Ok(Some((c, format!("same e-mail {e}"))));
            }
        }
        Ok(None)
    }

    /// A company with this INN (in any field) or, without an INN, this exact name.
    pub(super) fn find_company(
        &self,
        inn: Option<&str>,
        name: &str,
    ) -> anyhow::Result<Option<(Value, String)>> {
        if let Some(r) = self.indexed(EntityKind::Company, |i| company_hit(i, inn, name)) {
            return r;
        }
        if let Some(inn) = inn.filter(|i| !i.trim().is_empty()) {
            let hits: Vec<Value> = self
                .crm
                .search(EntityKind::Company, inn)?
                .into_iter()
                .filter(|c| {
                    c.get("custom_fields_values")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .any(|f| {
                            texts(
                                f.get("values")
                                    .and_then(Value::as_array)
                                    .map(Vec::as_slice)
                                    .unwrap_or(&[]),
                            )
                            .iter()
                            .any(|v| v.trim() == inn)
                        })
                })
                .collect();
            return Ok(oldest(hits).map(|c| (c, format!("same INN {inn}"))));
        }
        if name.trim().is_empty() {
            return Ok(None);
        }
        let hits: Vec<Value> = self
            .crm
            .search(EntityKind::Company, name)?
            .into_iter()
            .filter(|c| {
                c.get("name")
                    .and_then(Value::as_str)
                    .map(|n| n.trim().eq_ignore_ascii_case(name.trim()))
                    .unwrap_or(false)
            })
            .collect();
        Ok(oldest(hits).map(|c| (c, format!("same name {name}"))))
    }

    /// An entity whose mapped BILLmanager-id field holds `bm_id` (an interrupted run's orphan).
    pub(super) fn find_by_marker(
        &self,
        kind: EntityKind,
        attr: &str,
        bm_id: &str,
    ) -> anyhow::Result<Option<(Value, String)>> {
        let Some(field) = self
            .resolved
            .fields
            .get(&kind)
            .into_iter()
            .flatten()
            .find(|m| m.from.as_deref() == Some(attr))
        else {
            return Ok(None);
        };
        if let Some(r) = self.indexed(kind, |i| {
            i.markers
                .get(bm_id)
                .map(|id| (*id, format!("its `{}` field holds {bm_id}", field.key)))
        }) {
            return r;
        }
        let fid = field.def.id;
        let hits: Vec<Value> = self
            .crm
            .search(kind, bm_id)?
            .into_iter()
            .filter(|e| {
                texts(&remote_values(e, fid, None))
                    .iter()
                    .any(|v| v.trim() == bm_id)
            })
            .collect();
        Ok(oldest(hits).map(|e| (e, format!("its `{}` field holds {bm_id}", field.key))))
    }
}
