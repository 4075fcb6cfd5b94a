//! Finding an amoCRM entity that already stands for a BILLmanager entity we have no binding
//! for: the website, a manager or an interrupted earlier run may have created it.
//!
//! Searches use amoCRM's `query` (substring over every field), so every hit is verified: a
//! phone must match the last 10 digits of a PHONE value, an e-mail must equal an EMAIL value,
//! an INN must equal a field value, a BILLmanager id must be in the mapped id field.
//!
//! Only a *free* entity is adopted: one no BILLmanager key is bound to and no other entity
//! of this run has adopted. Clients of one agency or family share phones and e-mails; a
//! match that already stands for another key is passed over (said as a warning on the plan),
//! and this entity gets its own. Adopting it would merge two clients into one card.

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

/// What a lookup found for an entity that has no binding.
#[derive(Debug, Default)]
pub(super) struct Found {
    /// The free entity to adopt, with why it matched (`same phone +7…`).
    pub hit: Option<(Value, String)>,
    /// Matches passed over because they stand for another BILLmanager key: warnings for
    /// the plan, so the shared phone or e-mail is on record.
    pub passed: Vec<String>,
}

/// One match of a lookup key: the amoCRM id and what matched (`phone +7…`).
type Hit = (i64, String);

/// Ids by lookup key, oldest first. Most keys name one entity, so the oldest is kept on its
/// own and costs no vector; the others (contacts of an agency's clients that share a phone,
/// orphans of a crashed run for two such clients) wait in `more`, so each client can still
/// adopt its own.
#[derive(Debug, Default)]
struct IdsByKey {
    first: HashMap<String, i64>,
    more: HashMap<String, Vec<i64>>,
}

impl IdsByKey {
    fn insert(&mut self, key: String, id: i64) {
        let Some(first) = self.first.get_mut(&key) else {
            self.first.insert(key, id);
            return;
        };
        if *first == id {
            return;
        }
        let later = if id < *first {
            std::mem::replace(first, id)
        } else {
            id
        };
        let more = self.more.entry(key).or_default();
        if let Err(at) = more.binary_search(&later) {
            more.insert(at, later);
        }
    }

    /// The ids under `key`, oldest first.
    fn get(&self, key: &str) -> Vec<i64> {
        let mut out: Vec<i64> = self.first.get(key).copied().into_iter().collect();
        out.extend(self.more.get(key).into_iter().flatten());
        out
    }
}

/// Lookup keys of one set of entities.
#[derive(Debug, Default)]
struct Keys {
    phones: IdsByKey,
    emails: IdsByKey,
    inns: IdsByKey,
    company_names: IdsByKey,
    markers: IdsByKey,
}

/// Pre-loaded lookup keys (backfill): one paged walk over a kind replaces one `query`
/// search per entity. Only keys and ids are kept, so memory stays small. Entities bound
/// when the walk ran are kept apart from free ones: they are never adopted, only named.
#[derive(Debug, Default)]
pub struct Index {
    loaded: BTreeSet<EntityKind>,
    free: Keys,
    bound: Keys,
    /// amoCRM entities adopted by a plan of this run (not bound until its write is
    /// answered), with the key that took them: nobody else may take them.
    claimed: HashMap<(EntityKind, i64), String>,
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

/// Every index match of a contact's keys, best first: those with both the phone and the
/// e-mail, then by phone, then by e-mail (each oldest first), every id once.
fn contact_hits(i: &Keys, phone_e164: Option<&str>, email: Option<&str>) -> Vec<Hit> {
    let by_phone = phone_e164
        .map(|p| i.phones.get(&phone::search_key(p)))
        .unwrap_or_default();
    let by_email = email
        .map(|e| i.emails.get(&e.to_lowercase()))
        .unwrap_or_default();
    let (p, e) = (phone_e164.unwrap_or_default(), email.unwrap_or_default());
    let both = by_phone.iter().filter(|id| by_email.contains(id));
    let mut out: Vec<Hit> = both
        .map(|id| (*id, format!("phone {p} and e-mail {e}")))
        .collect();
    for id in by_phone {
        if !out.iter().any(|(x, _)| *x == id) {
            out.push((id, format!("phone {p}")));
        }
    }
    for id in by_email {
        if !out.iter().any(|(x, _)| *x == id) {
            out.push((id, format!("e-mail {e}")));
        }
    }
    out
}

/// The index matches of a company: by INN, or by name when it has none.
fn company_hits(i: &Keys, inn: Option<&str>, name: &str) -> Vec<Hit> {
    match inn.map(str::trim).filter(|x| !x.is_empty()) {
        Some(inn) => i
            .inns
            .get(inn)
            .into_iter()
            .map(|id| (id, format!("INN {inn}")))
            .collect(),
        None => i
            .company_names
            .get(&name.trim().to_lowercase())
            .into_iter()
            .map(|id| (id, format!("name {name}")))
            .collect(),
    }
}

/// The warning for a match passed over: which key it stands for, and what follows.
fn passed_note(kind: EntityKind, id: i64, what: &str, owner: &str, me: &str) -> String {
    let kind = kind.as_str();
    format!(
        "{what} is shared with {kind} {id}, which stands for {owner}; {me} gets its own {kind} (not adopted)"
    )
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
        let mut free = Keys::default();
        let mut bound = Keys::default();
        let mut store_error = None;
        self.crm.for_each(kind, &mut |e| {
            let Some(id) = e.get("id").and_then(Value::as_i64) else {
                return;
            };
            let idx = match self.store.binding_by_amo(kind.as_str(), id) {
                Ok(None) => &mut free,
                Ok(Some(_)) => &mut bound,
                Err(err) => {
                    store_error.get_or_insert(err);
                    return;
                }
            };
            match kind {
                EntityKind::Contact => {
                    if let Some(fid) = phone_field {
                        for p in texts(&remote_values(&e, fid, Some("PHONE"))) {
                            let k = phone::search_key(&p);
                            if k.len() >= 7 {
                                idx.phones.insert(k, id);
                            }
                        }
                    }
                    if let Some(fid) = email_field {
                        for m in texts(&remote_values(&e, fid, Some("EMAIL"))) {
                            idx.emails.insert(m.trim().to_lowercase(), id);
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
                                idx.inns.insert(v.to_string(), id);
                            }
                        }
                    }
                    if let Some(n) = e.get("name").and_then(Value::as_str) {
                        idx.company_names.insert(n.trim().to_lowercase(), id);
                    }
                }
                EntityKind::Lead => {
                    if let Some(fid) = marker_field {
                        for v in texts(&remote_values(&e, fid, None)) {
                            idx.markers.insert(v.trim().to_string(), id);
                        }
                    }
                }
            }
        })?;
        if let Some(err) = store_error {
            return Err(err.into());
        }
        let mut guard = self.index.borrow_mut();
        let current = &mut *guard;
        current.loaded.insert(kind);
        for (into, from) in [(&mut current.free, free), (&mut current.bound, bound)] {
            match kind {
                EntityKind::Contact => {
                    into.phones = from.phones;
                    into.emails = from.emails;
                }
                EntityKind::Company => {
                    into.inns = from.inns;
                    into.company_names = from.company_names;
                }
                EntityKind::Lead => into.markers = from.markers,
            }
        }
        Ok(())
    }

    /// The other BILLmanager key an amoCRM entity stands for: bound to it, or adopted by
    /// it earlier in this run. `None` when the entity is free for `me`.
    fn owner(&self, kind: EntityKind, id: i64, me: &str) -> anyhow::Result<Option<String>> {
        if let Some(k) = self.index.borrow().claimed.get(&(kind, id)) {
            return Ok((k != me).then(|| format!("{k} (adopted earlier in this run)")));
        }
        Ok(self
            .store
            .binding_by_amo(kind.as_str(), id)?
            .map(|b| b.bm_id)
            .filter(|k| k != me))
    }

    /// Marks an entity as adopted by `me` in this run: no other key may take it.
    pub(super) fn claim(&self, kind: EntityKind, id: i64, me: &str) {
        self.index
            .borrow_mut()
            .claimed
            .insert((kind, id), me.to_string());
    }

    /// The first free entity among `hits` (oldest first), and the matches passed over.
    fn first_free(
        &self,
        kind: EntityKind,
        me: &str,
        hits: Vec<(Value, String)>,
    ) -> anyhow::Result<Found> {
        let mut found = Found::default();
        for (e, what) in hits {
            let id = e.get("id").and_then(Value::as_i64).unwrap_or(0);
            match self.owner(kind, id, me)? {
                Some(owner) => found.passed.push(passed_note(kind, id, &what, &owner, me)),
                None => {
                    found.hit = Some((e, format!("same {what}")));
                    break;
                }
            }
        }
        Ok(found)
    }

    /// Looks a key up in the pre-loaded index; `None` when the kind was not pre-loaded. A
    /// free hit is read from the pages a batch read ahead ([`Engine::prefetch_adoptions`]),
    /// else with one GET (a single `sync`); bound ones are only named.
    fn indexed(
        &self,
        kind: EntityKind,
        me: &str,
        pick: impl Fn(&Keys) -> Vec<Hit>,
    ) -> Option<anyhow::Result<Found>> {
        let (free, bound) = self.index_pick(kind, |i| (pick(&i.free), pick(&i.bound)))?;
        Some((|| {
            let mut found = Found::default();
            for (id, what) in bound {
                let owner = self
                    .owner(kind, id, me)?
                    .unwrap_or_else(|| "another key".into());
                found.passed.push(passed_note(kind, id, &what, &owner, me));
            }
            for (id, what) in free {
                if let Some(owner) = self.owner(kind, id, me)? {
                    found.passed.push(passed_note(kind, id, &what, &owner, me));
                    continue;
                }
                if let Some(e) = self.bound_remote(kind, id)? {
                    found.hit = Some((e, format!("same {what}")));
                    break;
                }
            }
            Ok(found)
        })())
    }

    /// What `pick` finds in the pre-loaded index of `kind`; `None` when it was not loaded.
    fn index_pick<T>(&self, kind: EntityKind, pick: impl FnOnce(&Index) -> T) -> Option<T> {
        let idx = self.index.borrow();
        idx.loaded.contains(&kind).then(|| pick(&idx))
    }

    /// The amoCRM id the pre-loaded index gives an unbound entity (what `find_contact`,
    /// `find_company` or `find_by_marker` would adopt), without reading it.
    pub(super) fn index_hit(&self, kind: EntityKind, key: &Lookup<'_>) -> Option<i64> {
        self.index_pick(kind, |i| match key {
            Lookup::Contact { phone, email } => contact_hits(&i.free, *phone, *email),
            Lookup::Company { inn, name } => company_hits(&i.free, *inn, name),
            Lookup::Marker(bm_id) => i
                .free
                .markers
                .get(bm_id)
                .into_iter()
                .map(|id| (id, String::new()))
                .collect(),
        })
        .and_then(|hits| hits.first().map(|(id, _)| *id))
    }

    /// A free contact with this phone or e-mail, for the contact of `me`; the reason says
    /// which matched. Contacts standing for other keys are passed over and named.
    pub(super) fn find_contact(
        &self,
        me: &str,
        phone_e164: Option<&str>,
        email: Option<&str>,
    ) -> anyhow::Result<Found> {
        if let Some(r) = self.indexed(EntityKind::Contact, me, |i| {
            contact_hits(i, phone_e164, email)
        }) {
            return r;
        }
        // Phones are looked up only where the account has its standard PHONE field.
        let by_phone = self
            .resolved
            .standard(EntityKind::Contact, "PHONE")
            .and(phone_e164);
        let email_field = self
            .resolved
            .standard(EntityKind::Contact, "EMAIL")
            .map(|f| f.id);
        let mut found = Found::default();
        if let Some(p) = by_phone {
            let hits: Vec<(Value, String)> = self
                .crm
                .contacts_by_phone(p, false)?
                .into_iter()
                .map(|c| (c, format!("phone {p}")))
                .collect();
            found = self.first_free(EntityKind::Contact, me, oldest_first_pairs(hits))?;
            if found.hit.is_some() {
                return Ok(found);
            }
        }
        if let (Some(e), Some(fid)) = (email, email_field) {
            let hits: Vec<(Value, String)> = self
                .crm
                .search(EntityKind::Contact, e)?
                .into_iter()
                .filter(|c| {
                    texts(&remote_values(c, fid, Some("EMAIL")))
                        .iter()
                        .any(|v| v.trim().eq_ignore_ascii_case(e))
                })
                .map(|c| (c, format!("e-mail {e}")))
                .collect();
            let by_email = self.first_free(EntityKind::Contact, me, oldest_first_pairs(hits))?;
            found.hit = by_email.hit;
            found.passed.extend(by_email.passed);
        }
        Ok(found)
    }

    /// A free company with this INN (in any field) or, without an INN, this exact name,
    /// for the company of `me`. Companies standing for other keys are passed over and named.
    pub(super) fn find_company(
        &self,
        me: &str,
        inn: Option<&str>,
        name: &str,
    ) -> anyhow::Result<Found> {
        if let Some(r) = self.indexed(EntityKind::Company, me, |i| company_hits(i, inn, name)) {
            return r;
        }
        if let Some(inn) = inn.filter(|i| !i.trim().is_empty()) {
            let hits: Vec<(Value, String)> = self
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
                .map(|c| (c, format!("INN {inn}")))
                .collect();
            return self.first_free(EntityKind::Company, me, oldest_first_pairs(hits));
        }
        if name.trim().is_empty() {
            return Ok(Found::default());
        }
        let hits: Vec<(Value, String)> = self
            .crm
            .search(EntityKind::Company, name)?
            .into_iter()
            .filter(|c| {
                c.get("name")
                    .and_then(Value::as_str)
                    .map(|n| n.trim().eq_ignore_ascii_case(name.trim()))
                    .unwrap_or(false)
            })
            .map(|c| (c, format!("name {name}")))
            .collect();
        self.first_free(EntityKind::Company, me, oldest_first_pairs(hits))
    }

    /// A free entity whose mapped BILLmanager-id field holds `bm_id` (an interrupted run's
    /// orphan), for `me`. One that stands for another key is passed over and named.
    pub(super) fn find_by_marker(
        &self,
        kind: EntityKind,
        me: &str,
        attr: &str,
        bm_id: &str,
    ) -> anyhow::Result<Found> {
        let Some(field) = self
            .resolved
            .fields
            .get(&kind)
            .into_iter()
            .flatten()
            .find(|m| m.from.as_deref() == Some(attr))
        else {
            return Ok(Found::default());
        };
        let what = format!("`{}` field value {bm_id}", field.key);
        if let Some(r) = self.indexed(kind, me, |i| {
            i.markers
                .get(bm_id)
                .into_iter()
                .map(|id| (id, what.clone()))
                .collect()
        }) {
            return r;
        }
        let fid = field.def.id;
        let hits: Vec<(Value, String)> = self
            .crm
            .search(kind, bm_id)?
            .into_iter()
            .filter(|e| {
                texts(&remote_values(e, fid, None))
                    .iter()
                    .any(|v| v.trim() == bm_id)
            })
            .map(|e| (e, what.clone()))
            .collect();
        self.first_free(kind, me, oldest_first_pairs(hits))
    }
}

/// Search hits oldest first: the entity that was there first is the one to adopt.
fn oldest_first_pairs(hits: Vec<(Value, String)>) -> Vec<(Value, String)> {
    let mut hits = hits;
    hits.sort_by_key(|(h, _)| h.get("id").and_then(Value::as_i64).unwrap_or(i64::MAX));
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_by_key_keep_every_entity_oldest_first_and_each_once() {
        let mut m = IdsByKey::default();
        for id in [30, 10, 20, 10, 30] {
            m.insert("+7916".into(), id);
        }
        m.insert("other".into(), 5);
        assert_eq!(m.get("+7916"), [10, 20, 30]);
        assert_eq!(m.get("other"), [5]);
        assert!(m.get("none").is_empty());
        assert!(!m.more.contains_key("other"), "one id costs no vector");
    }

    #[test]
    fn contact_hits_put_both_keys_first_then_phone_then_email() {
        let mut k = Keys::default();
        let phone = "+79160001122";
        for id in [1, 3] {
            k.phones.insert(phone::search_key(phone), id);
        }
        for id in [2, 3] {
            k.emails.insert("ivan@x.example".into(), id);
        }
        let hits = contact_hits(&k, Some(phone), Some("Ivan@x.example"));
        let ids: Vec<i64> = hits.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [3, 1, 2], "{hits:?}");
        assert!(hits[0].1.contains("phone") && hits[0].1.contains("e-mail"));
        assert_eq!(contact_hits(&k, None, None), []);
        assert_eq!(
            contact_hits(&k, None, Some("ivan@x.example"))
                .iter()
                .map(|(id, _)| *id)
                .collect::<Vec<_>>(),
            [2, 3]
        );
    }

    #[test]
    fn a_passed_match_names_what_is_shared_whose_it_is_and_what_follows() {
        assert_eq!(
            passed_note(EntityKind::Contact, 7, "phone +7916", "user:1", "user:2"),
            "phone +7916 is shared with contact 7, which stands for user:1; user:2 gets its own contact (not adopted)"
        );
    }
}
