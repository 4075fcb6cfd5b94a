//! What a run knows of bound amoCRM entities, read in pages by id (`filter[id][]`, up to 250
//! a request, [`Crm::get_many`](crate::crm::Crm::get_many)) before a batch's per-entity
//! decisions, instead of one GET per entity.
//!
//! A batch path (backfill, nudge) first works out which bound entities its decisions will
//! need (an entity whose desired state changed, an earlier lead whose "lost" status decides a
//! returning client, the lead of an abandoned cart) and reads them here in pages; the
//! decisions then take them from this run's cache. Only a decision the batch did not foresee,
//! or a single-entity `sync`, reads its one entity with a GET ([`Engine::remote`]).
//!
//! Memory stays bounded: an update takes its entity out of the cache, a write drops what was
//! read before it, entries of a kind older than its last [`KEEP_BATCHES`] prefetches are
//! dropped, and reads that only need a lead's stage and manager keep just those fields.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::companies::company_key;
use super::contacts::phone_to_send;
use super::lookup::Lookup;
use super::upsert::Wanted;
use super::Engine;
use crate::billing::{Client, Payer, Service};
use crate::crm::CrmError;
use crate::rules::EntityKind;

/// Prefetches of a kind whose entries are kept (leads wait a chunk for their contacts).
const KEEP_BATCHES: u64 = 3;

/// What a decision reads of an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Need {
    /// The whole entity: an update is diffed against it (and takes it from the cache).
    Whole,
    /// Its stage, manager and name (the lost-lead check, `nudge`).
    Stage,
}

/// The fields [`Need::Stage`] keeps.
const STAGE_FIELDS: [&str; 5] = [
    "id",
    "name",
    "pipeline_id",
    "status_id",
    "responsible_user_id",
];

/// Entities read in pages for this run's decisions.
#[derive(Debug, Default)]
pub struct RemoteCache {
    /// (kind, id) → (prefetch number, what was kept, the entity; `None` when amoCRM no
    /// longer has it).
    entries: BTreeMap<(EntityKind, i64), (u64, Need, Option<Value>)>,
    /// Prefetches made so far, per kind.
    batches: BTreeMap<EntityKind, u64>,
}

impl RemoteCache {
    /// Forgets what was read of an entity (it was just written).
    pub fn forget(&mut self, kind: EntityKind, id: i64) {
        self.entries.remove(&(kind, id));
    }
}

fn trimmed(e: Value, need: Need) -> Value {
    match (need, e) {
        (Need::Stage, Value::Object(mut o)) => {
            let mut kept = Map::new();
            for k in STAGE_FIELDS {
                if let Some(v) = o.remove(k) {
                    kept.insert(k.to_string(), v);
                }
            }
            Value::Object(kept)
        }
        (_, e) => e,
    }
}

impl Engine<'_> {
    /// Reads in pages by id those of `ids` this run has not read yet (or read only in part
    /// and now needs whole). Fewer than two cost no more as one GET each when (if) a
    /// decision needs them, so they are left to that.
    pub(super) fn prefetch_remote(
        &self,
        kind: EntityKind,
        ids: impl IntoIterator<Item = (i64, Need)>,
    ) -> Result<(), CrmError> {
        let mut wanted: BTreeMap<i64, Need> = BTreeMap::new();
        {
            let st = self.life_state.borrow();
            for (id, need) in ids {
                let known = st.remote.entries.get(&(kind, id));
                if known.is_some_and(|(_, had, _)| *had == Need::Whole || *had == need) {
                    continue;
                }
                let w = wanted.entry(id).or_insert(need);
                if need == Need::Whole {
                    *w = Need::Whole;
                }
            }
        }
        if wanted.len() < 2 {
            return Ok(());
        }
        let ids: Vec<i64> = wanted.keys().copied().collect();
        let found = self.crm.get_many(kind, &ids)?;
        let mut st = self.life_state.borrow_mut();
        let batch = {
            let b = st.remote.batches.entry(kind).or_default();
            *b += 1;
            *b
        };
        st.remote
            .entries
            .retain(|(k, _), (b, _, _)| *k != kind || *b + KEEP_BATCHES > batch);
        // An id the answer lacks is no longer in amoCRM (deleted: lists leave it out).
        for (id, need) in &wanted {
            st.remote.entries.insert((kind, *id), (batch, *need, None));
        }
        for e in found {
            let Some(id) = e.get("id").and_then(Value::as_i64) else {
                continue;
            };
            let Some(need) = wanted.get(&id).copied() else {
                continue;
            };
            let r = e.get("responsible_user_id").and_then(Value::as_i64);
            st.responsible.insert((kind, id), r);
            st.remote
                .entries
                .insert((kind, id), (batch, need, Some(trimmed(e, need))));
        }
        Ok(())
    }

    /// A bound entity as amoCRM holds it, for a decision that keeps no copy beyond the
    /// run (lost-lead check, `nudge`): from the pages read, else one GET (a single-entity
    /// `sync`, or an entity the batch did not foresee).
    pub(super) fn remote(&self, kind: EntityKind, id: i64) -> Result<Option<Value>, CrmError> {
        if let Some((_, _, e)) = self.life_state.borrow().remote.entries.get(&(kind, id)) {
            return Ok(e.clone());
        }
        self.crm.get(kind, id)
    }

    /// A bound entity an update is diffed against: taken from the pages read (it is about
    /// to change), else one GET (a single-entity `sync`, or an entity the batch did not
    /// foresee). A copy trimmed to its stage is not enough and is read again.
    pub(super) fn bound_remote(
        &self,
        kind: EntityKind,
        id: i64,
    ) -> Result<Option<Value>, CrmError> {
        let cached = self
            .life_state
            .borrow_mut()
            .remote
            .entries
            .remove(&(kind, id));
        match cached {
            Some((_, _, None)) => Ok(None),
            Some((_, Need::Whole, Some(e))) => Ok(Some(e)),
            _ => self.crm.get(kind, id),
        }
    }

    /// Reads in pages the bound companies of these payers whose desired state changed, and
    /// the companies the lookup index would adopt for unbound ones.
    pub(in crate::engine) fn prefetch_companies<'c>(
        &self,
        payers: impl IntoIterator<Item = (&'c Client, &'c Payer)>,
        root: bool,
    ) -> anyhow::Result<()> {
        let mut ids = Vec::new();
        for (client, payer) in payers {
            let Some(b) = self.store.binding("company", &company_key(payer))? else {
                let key = Lookup::Company {
                    inn: payer.inn.as_deref(),
                    name: &payer.name,
                };
                ids.extend(self.index_hit(EntityKind::Company, &key));
                continue;
            };
            if let Wanted::Upsert(d, _, ()) = self.company_desired(client, payer, root)? {
                if d.hash != b.payload_hash {
                    ids.push(b.amo_id);
                }
            }
        }
        let ids = ids.into_iter().map(|id| (id, Need::Whole));
        Ok(self.prefetch_remote(EntityKind::Company, ids)?)
    }

    /// Reads in pages the bound contacts of these clients whose desired state changed (as
    /// backfill plans them: linked to the company of the client's company payer), and the
    /// contacts the lookup index would adopt for unbound users.
    pub(in crate::engine) fn prefetch_contacts<'c>(
        &self,
        clients: impl IntoIterator<Item = &'c (Client, Vec<Payer>)>,
        root: bool,
    ) -> anyhow::Result<()> {
        let mut ids = Vec::new();
        for (client, payers) in clients {
            let payer = self.company_payer(payers);
            let company = match payer {
                Some(p) => self
                    .store
                    .binding("company", &company_key(p))?
                    .map(|b| b.amo_id),
                None => None,
            };
            for user in &client.users {
                let Some(b) = self
                    .store
                    .binding("contact", &format!("user:{}", user.id))?
                else {
                    let country = &self.rules.file.sync.default_country;
                    let phone = phone_to_send(user.phone.as_deref(), country, &mut Vec::new());
                    let email = user.email.as_deref().map(|e| e.trim().to_lowercase());
                    let key = Lookup::Contact {
                        phone: phone.as_deref(),
                        email: email.as_deref().filter(|e| e.contains('@')),
                    };
                    ids.extend(self.index_hit(EntityKind::Contact, &key));
                    continue;
                };
                let wanted =
                    self.contact_desired(client, user, payer.or(payers.first()), company, root)?;
                if let Wanted::Upsert(d, _, _) = wanted {
                    if d.hash != b.payload_hash {
                        ids.push(b.amo_id);
                    }
                }
            }
        }
        let ids = ids.into_iter().map(|id| (id, Need::Whole));
        Ok(self.prefetch_remote(EntityKind::Contact, ids)?)
    }

    /// Reads in pages what planning these services' leads will need of amoCRM: bound leads
    /// whose desired state changed, and the earlier leads whose status decides a returning
    /// client or a re-order's join (`[lifecycle.lost_returns]`).
    pub(in crate::engine) fn prefetch_leads<'s>(
        &self,
        services: impl IntoIterator<Item = &'s Service>,
        owners: &BTreeMap<String, (Client, Vec<Payer>)>,
    ) -> anyhow::Result<()> {
        let mut ids = Vec::new();
        for s in services {
            let Some((client, payers)) = owners.get(&s.client_id) else {
                continue;
            };
            if let Some(id) = self.lead_changed(s, client, payers)? {
                ids.push((id, Need::Whole));
            }
            ids.extend(
                self.lost_candidates(s)?
                    .into_iter()
                    .map(|id| (id, Need::Stage)),
            );
        }
        Ok(self.prefetch_remote(EntityKind::Lead, ids)?)
    }

    /// Reads in pages the leads the lookup index would adopt for these unbound services
    /// (an interrupted run's orphans, found by their BILLmanager-id field).
    pub(in crate::engine) fn prefetch_lead_adoptions<'s>(
        &self,
        services: impl IntoIterator<Item = &'s Service>,
    ) -> anyhow::Result<()> {
        let mut ids = Vec::new();
        for s in services {
            if self
                .store
                .binding("lead", &format!("service:{}", s.id))?
                .is_none()
            {
                let hit = self.index_hit(EntityKind::Lead, &Lookup::Marker(&s.id));
                ids.extend(hit.map(|id| (id, Need::Whole)));
            }
        }
        Ok(self.prefetch_remote(EntityKind::Lead, ids)?)
    }
}
