//! Plans and their application: decide first (pure as far as possible), then write in
//! batches and record bindings right after each successful write.
//!
//! Crash safety: a binding is written immediately after the batch that created the entity
//! returned. If the process dies between the two, the next run finds no binding and looks the
//! entity up (by phone/e-mail, INN, or the BILLmanager-id field) before creating, so it adopts
//! the orphan instead of duplicating it.

use std::collections::{BTreeMap, BTreeSet};

use super::report::{Action, Outcome};
use crate::crm::{BatchOutcome, Crm, CrmError, Item, Link};
use crate::rules::EntityKind;
use crate::store::{Binding, Store};

/// What to do with one entity.
#[derive(Debug, Clone)]
pub enum Op {
    /// Create with this payload (carries `request_id` = the BILLmanager key).
    Create(Item),
    /// PATCH this payload (carries `id`); `adopted` when a search found the entity.
    Update {
        /// amoCRM id.
        id: i64,
        /// The PATCH body.
        body: Item,
        /// Found by search rather than by binding.
        adopted: Option<String>,
    },
    /// Nothing to send.
    Keep(i64),
    /// A rule says no.
    Skip(String),
    /// Represented by another BILLmanager entity's amoCRM entity.
    Join {
        /// amoCRM id.
        id: i64,
        /// The BILLmanager key that owns the binding.
        target: String,
        /// Why.
        reason: String,
    },
}

impl Op {
    /// An update whose body holds nothing but `id` and `request_id`: the entity only gains
    /// links, which go in their own requests, so no PATCH is sent for it.
    pub fn links_only(&self) -> bool {
        matches!(self, Op::Update { body, .. } if body.keys() <= 2)
    }
}

/// A decided operation for one entity.
#[derive(Debug, Clone)]
pub struct Plan {
    /// amoCRM kind.
    pub kind: EntityKind,
    /// BILLmanager key.
    pub key: String,
    /// The decision.
    pub op: Op,
    /// Hash of the desired state (stored in the binding).
    pub hash: String,
    /// Links to make once the entity exists (`to_kind`, `to_id`, `is_main`).
    pub links: Vec<(EntityKind, i64, bool)>,
    /// Field-by-field summary for the report.
    pub changes: Vec<(String, String)>,
    /// Mapping problems.
    pub warnings: Vec<String>,
    /// What to re-run if it fails: `(kind, BILLmanager id)` for `sync --entity --elid`.
    pub origin: (EntityKind, String),
}

impl Plan {
    fn outcome(&self, action: Action, amo_id: Option<i64>, detail: String) -> Outcome {
        Outcome {
            kind: self.kind,
            key: self.key.clone(),
            action,
            amo_id,
            detail,
            changes: self.changes.clone(),
            warnings: self.warnings.clone(),
            rejected: false,
            origin: self.origin.clone(),
        }
    }

    /// The outcome of a dry run.
    pub fn dry_outcome(&self) -> Outcome {
        match &self.op {
            Op::Create(_) => self.outcome(Action::Created, None, "would create".into()),
            Op::Update { id, adopted, .. } => self.outcome(
                Action::Updated,
                Some(*id),
                adopted
                    .clone()
                    .map(|a| format!("would adopt existing: {a}"))
                    .unwrap_or_else(|| "would update".into()),
            ),
            Op::Keep(id) => self.outcome(
                Action::Unchanged,
                Some(*id),
                "no change since last push".into(),
            ),
            Op::Skip(r) => self.outcome(Action::Skipped, None, r.clone()),
            // A lead this dry run only planned has no id yet.
            Op::Join { id, reason, .. } => {
                self.outcome(Action::Joined, (*id > 0).then_some(*id), reason.clone())
            }
        }
    }
}

/// Applies plans of one kind in batches; returns key → amoCRM id for every entity that
/// exists afterwards, and the outcomes.
pub fn apply(
    store: &Store,
    crm: &dyn Crm,
    kind: EntityKind,
    plans: Vec<Plan>,
) -> anyhow::Result<(BTreeMap<String, i64>, Vec<Outcome>)> {
    let mut a = Applying::start(store, kind, plans)?;
    // Each request's answer is recorded as it arrives (several may be open at once), so
    // a crash loses at most the answers still on their way.
    for patch in [false, true] {
        let items = a.take_items(patch);
        if items.is_empty() {
            continue;
        }
        let mut store_error: Option<anyhow::Error> = None;
        let result = crm.write_each(kind, items, patch, &mut |res| {
            if store_error.is_some() {
                return false;
            }
            match a.answer(store, patch, res) {
                Ok(()) => true,
                // The store cannot record more: start no further write.
                Err(e) => {
                    store_error = Some(e);
                    false
                }
            }
        });
        if let Some(e) = store_error {
            return Err(e);
        }
        a.settle(patch, result.err())?;
    }
    let links = a.links();
    if !links.is_empty() {
        crm.link(kind, links)?;
        a.links_made(store)?;
    }
    Ok(a.finish())
}

/// The binding hash of an entity written whose links are not made yet: never a real
/// payload's hash, so the next run looks at the entity again.
pub const LINKS_PENDING: &str = "links-pending";

/// The creates among `plans`, with the manager each names: what we create, we know the
/// manager of, so `keep_client_manager` reads nothing for it.
pub fn responsible<'p>(plans: impl IntoIterator<Item = &'p Plan>) -> BTreeMap<String, Option<i64>> {
    plans
        .into_iter()
        .filter_map(|p| match &p.op {
            Op::Create(body) => Some((
                p.key.clone(),
                body.get("responsible_user_id").and_then(|r| r.as_i64()),
            )),
            _ => None,
        })
        .collect()
}

/// Plans of one kind on their way: what needs no request is settled at once
/// ([`Applying::start`]); creates and updates are settled by their answers
/// ([`Applying::answer`], [`Applying::settle`]); links follow ([`Applying::links`]). A
/// backfill keeps many of these open at once, so each answer is recorded as it arrives.
pub struct Applying {
    kind: EntityKind,
    by_key: BTreeMap<String, Plan>,
    creates: Vec<Item>,
    updates: Vec<Item>,
    /// `request_id`s sent and not answered yet, per write (false: create, true: update).
    sent: [BTreeSet<String>; 2],
    ids: BTreeMap<String, i64>,
    outcomes: Vec<Outcome>,
}

impl Applying {
    /// Settles what needs no request: kept, skipped, joined, bound by another run
    /// meanwhile, and updates that only add links (bound now; the link request does the
    /// work).
    pub fn start(store: &Store, kind: EntityKind, plans: Vec<Plan>) -> anyhow::Result<Applying> {
        let mut a = Applying {
            kind,
            by_key: BTreeMap::new(),
            creates: Vec::new(),
            updates: Vec::new(),
            sent: Default::default(),
            ids: BTreeMap::new(),
            outcomes: Vec::new(),
        };
        for mut p in plans {
            // Whether the body goes into a create (false) or an update (true) request.
            let mut send = None;
            match &p.op {
                Op::Create(_) => match store.binding(kind.as_str(), &p.key)? {
                    // Bound by another process (a `sync`) while this plan waited for a full
                    // request: that process created it; creating it again would duplicate it.
                    Some(b) => {
                        a.ids.insert(p.key.clone(), b.amo_id);
                        a.outcomes.push(p.outcome(
                            Action::Unchanged,
                            Some(b.amo_id),
                            "bound by another run meanwhile".into(),
                        ));
                    }
                    None => send = Some(false),
                },
                Op::Update { id, adopted, .. } if p.op.links_only() => {
                    a.bind(store, &p, *id)?;
                    let detail = adopted
                        .clone()
                        .map(|a| format!("adopted existing: {a}"))
                        .unwrap_or_else(|| "linked".into());
                    a.outcomes
                        .push(p.outcome(Action::Updated, Some(*id), detail));
                }
                Op::Update { .. } => send = Some(true),
                Op::Keep(id) => {
                    a.ids.insert(p.key.clone(), *id);
                    a.outcomes.push(p.outcome(
                        Action::Unchanged,
                        Some(*id),
                        "no change since last push".into(),
                    ));
                }
                Op::Skip(r) => a.outcomes.push(p.outcome(Action::Skipped, None, r.clone())),
                Op::Join { id, target, reason } => {
                    store.put_alias(kind.as_str(), &p.key, target, reason)?;
                    a.ids.insert(p.key.clone(), *id);
                    a.outcomes
                        .push(p.outcome(Action::Joined, Some(*id), reason.clone()));
                }
            }
            // Moved, not copied: a backfill holds many batches of these at once.
            if let (Some(patch), Op::Create(body) | Op::Update { body, .. }) = (send, &mut p.op) {
                let body = std::mem::take(body);
                if patch {
                    a.updates.push(body);
                } else {
                    a.creates.push(body);
                }
            }
            a.by_key.insert(p.key.clone(), p);
        }
        Ok(a)
    }

    /// The kind being applied.
    pub fn kind(&self) -> EntityKind {
        self.kind
    }

    /// The bodies to create (or with `patch`, to update), handed out once; their keys are
    /// then awaited.
    pub fn take_items(&mut self, patch: bool) -> Vec<Item> {
        let items = std::mem::take(if patch {
            &mut self.updates
        } else {
            &mut self.creates
        });
        self.sent[patch as usize].extend(items.iter().map(|i| i.request_id().to_string()));
        items
    }

    /// True while a create or update handed out has no answer.
    pub fn awaiting(&self) -> bool {
        self.sent.iter().any(|s| !s.is_empty())
    }

    /// Binds `p` to `id`. An entity with links to make is bound under [`LINKS_PENDING`]
    /// until they are made ([`Applying::links_made`]): if the run dies in between, the next
    /// one sees a changed hash, reads the entity and makes the links it lacks.
    fn bind(&mut self, store: &Store, p: &Plan, id: i64) -> anyhow::Result<()> {
        let hash = if p.links.is_empty() {
            p.hash.clone()
        } else {
            LINKS_PENDING.to_string()
        };
        store.put_binding(&Binding {
            kind: self.kind.as_str().into(),
            bm_id: p.key.clone(),
            amo_id: id,
            payload_hash: hash,
            synced_at: crate::store::now(),
        })?;
        self.ids.insert(p.key.clone(), id);
        Ok(())
    }

    /// The links of [`Applying::links`] are made: their entities' bindings get their hash.
    pub fn links_made(&self, store: &Store) -> anyhow::Result<()> {
        let linked: Vec<&Plan> = self
            .by_key
            .values()
            .filter(|p| !p.links.is_empty() && matches!(p.op, Op::Create(_) | Op::Update { .. }))
            .filter(|p| self.ids.contains_key(&p.key))
            .collect();
        if !linked.is_empty() {
            crate::crash::point("linked-before-hash", linked.iter().map(|p| p.key.as_str()));
        }
        for p in linked {
            if let Some(id) = self.ids.get(&p.key) {
                store.put_binding(&Binding {
                    kind: self.kind.as_str().into(),
                    bm_id: p.key.clone(),
                    amo_id: *id,
                    payload_hash: p.hash.clone(),
                    synced_at: crate::store::now(),
                })?;
            }
        }
        Ok(())
    }

    /// Records one request's answer: a binding for each entity written, a failure for each
    /// item amoCRM rejected.
    pub fn answer(&mut self, store: &Store, patch: bool, res: BatchOutcome) -> anyhow::Result<()> {
        let written: Vec<(String, Option<i64>)> = if patch {
            res.applied.into_iter().map(|k| (k, None)).collect()
        } else {
            res.created
                .into_iter()
                .map(|c| (c.request_id, Some(c.id)))
                .collect()
        };
        for (key, created) in written {
            self.sent[patch as usize].remove(&key);
            let Some(p) = self.by_key.get(&key).cloned() else {
                continue;
            };
            let (id, detail) = match (&p.op, created) {
                (_, Some(id)) => (id, "created".to_string()),
                (Op::Update { id, adopted, .. }, None) => (
                    *id,
                    adopted
                        .clone()
                        .map(|a| format!("adopted existing: {a}"))
                        .unwrap_or_else(|| "updated".into()),
                ),
                _ => continue,
            };
            if created.is_some() {
                crate::crash::point("created-before-binding", [key.as_str()]);
            } else {
                crate::crash::point("updated-before-binding", [key.as_str()]);
            }
            self.bind(store, &p, id)?;
            let action = if created.is_some() {
                Action::Created
            } else {
                Action::Updated
            };
            self.outcomes.push(p.outcome(action, Some(id), detail));
        }
        let rejected = rejections(&res.rejected);
        for (key, _, _) in &rejected {
            self.sent[patch as usize].remove(key);
        }
        self.fail(rejected);
        Ok(())
    }

    /// After the last answer of the creates (or updates): what amoCRM never confirmed failed,
    /// with `error` when the write ended in one. Errors no entity can outlive (auth, a
    /// blocked or unpaid account) are returned: the run stops.
    pub fn settle(&mut self, patch: bool, error: Option<CrmError>) -> anyhow::Result<()> {
        let unreported: Vec<String> = std::mem::take(&mut self.sent[patch as usize])
            .into_iter()
            .collect();
        let failures = match error {
            None => unreported
                .into_iter()
                .map(|k| (k, "amoCRM did not confirm it".to_string(), false))
                .collect(),
            Some(e) => all_failed(&unreported, e)?,
        };
        self.fail(failures);
        Ok(())
    }

    fn fail(&mut self, keys: Vec<(String, String, bool)>) {
        for (key, detail, rejected) in keys {
            if let Some(p) = self.by_key.get(&key) {
                let mut o = p.outcome(Action::Failed, None, detail);
                o.rejected = rejected;
                self.outcomes.push(o);
            }
        }
    }

    /// Links for the entities written (or linked) by these plans.
    pub fn links(&self) -> Vec<Link> {
        let mut links = Vec::new();
        for p in self.by_key.values() {
            if matches!(p.op, Op::Create(_) | Op::Update { .. }) {
                if let Some(id) = self.ids.get(&p.key) {
                    for (to_kind, to_id, is_main) in &p.links {
                        links.push(Link {
                            from_id: *id,
                            to_kind: *to_kind,
                            to_id: *to_id,
                            is_main: *is_main,
                        });
                    }
                }
            }
        }
        links
    }

    /// Key → amoCRM id of every entity that exists, and the outcomes.
    pub fn finish(self) -> (BTreeMap<String, i64>, Vec<Outcome>) {
        (self.ids, self.outcomes)
    }
}

fn rejections(items: &[crate::crm::ItemErrors]) -> Vec<(String, String, bool)> {
    items
        .iter()
        .map(|i| {
            let detail = i
                .errors
                .iter()
                .map(|e| format!("field `{}`: {} ({})", e.path, e.detail, e.code))
                .collect::<Vec<_>>()
                .join("; ");
            (
                i.request_id.clone(),
                format!("amoCRM rejected it: {detail}"),
                true,
            )
        })
        .collect()
}

/// A whole batch failed: fatal errors stop the run, others fail each item.
fn all_failed(keys: &[String], e: CrmError) -> anyhow::Result<Vec<(String, String, bool)>> {
    use crate::status::Classify as _;
    if e.is_fatal() {
        return Err(e.into());
    }
    let rejected = e.is_refused();
    Ok(keys
        .iter()
        .map(|k| (k.clone(), crate::log::redact(&e.to_string()), rejected))
        .collect())
}
