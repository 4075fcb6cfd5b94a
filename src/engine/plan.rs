//! Plans and their application: decide first (pure as far as possible), then write in
//! batches and record bindings right after each successful write.
//!
//! Crash safety: a binding is written immediately after the batch that created the entity
//! returned. If the process dies between the two, the next run finds no binding and looks the
//! entity up (by phone/e-mail, INN, or the BILLmanager-id field) before creating, so it adopts
//! the orphan instead of duplicating it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::report::{Action, Outcome};
use crate::crm::{Crm, CrmError, Link};
use crate::rules::EntityKind;
use crate::store::{Binding, Store};

/// What to do with one entity.
#[derive(Debug, Clone)]
pub enum Op {
    /// Create with this payload (carries `request_id` = the BILLmanager key).
    Create(Value),
    /// PATCH this payload (carries `id`); `adopted` when a search found the entity.
    Update {
        /// amoCRM id.
        id: i64,
        /// The PATCH body.
        body: Value,
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
            Op::Join { id, reason, .. } => self.outcome(Action::Joined, Some(*id), reason.clone()),
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
    let mut ids = BTreeMap::new();
    let mut outcomes = Vec::new();
    let mut creates = Vec::new();
    let mut updates = Vec::new();
    let by_key: BTreeMap<String, &Plan> = plans.iter().map(|p| (p.key.clone(), p)).collect();
    for p in &plans {
        match &p.op {
            Op::Create(body) => match store.binding(kind.as_str(), &p.key)? {
                // Bound by another process (a `sync`) while this plan waited for a full
                // request: that process created it; creating it again would duplicate it.
                Some(b) => {
                    ids.insert(p.key.clone(), b.amo_id);
                    outcomes.push(p.outcome(
                        Action::Unchanged,
                        Some(b.amo_id),
                        "bound by another run meanwhile".into(),
                    ));
                }
                None => creates.push(body.clone()),
            },
            // Only links to add: no PATCH, the link request below does the work.
            Op::Update { body, .. } if body.as_object().is_some_and(|o| o.len() <= 2) => {}
            Op::Update { body, .. } => updates.push(body.clone()),
            Op::Keep(id) => {
                ids.insert(p.key.clone(), *id);
                outcomes.push(p.outcome(
                    Action::Unchanged,
                    Some(*id),
                    "no change since last push".into(),
                ));
            }
            Op::Skip(r) => outcomes.push(p.outcome(Action::Skipped, None, r.clone())),
            Op::Join { id, target, reason } => {
                store.put_alias(kind.as_str(), &p.key, target, reason)?;
                ids.insert(p.key.clone(), *id);
                outcomes.push(p.outcome(Action::Joined, Some(*id), reason.clone()));
            }
        }
    }
    let bind = |key: &str, id: i64| -> anyhow::Result<()> {
        let hash = by_key.get(key).map(|p| p.hash.clone()).unwrap_or_default();
        store.put_binding(&Binding {
            kind: kind.as_str().into(),
            bm_id: key.into(),
            amo_id: id,
            payload_hash: hash,
            synced_at: crate::store::now(),
        })?;
        Ok(())
    };
    let failed = |keys: Vec<(String, String, bool)>, outcomes: &mut Vec<Outcome>| {
        for (key, detail, rejected) in keys {
            if let Some(p) = by_key.get(&key) {
                let mut o = p.outcome(Action::Failed, None, detail);
                o.rejected = rejected;
                outcomes.push(o);
            }
        }
    };
    // Each request's answer is recorded as it arrives (several may be open at once), so
    // a crash loses at most the answers still on their way.
    for (patch, items) in [(false, creates), (true, updates)] {
        if items.is_empty() {
            continue;
        }
        let keys: Vec<String> = items.iter().map(rid).collect();
        let mut reported: BTreeSet<String> = BTreeSet::new();
        let mut store_error: Option<anyhow::Error> = None;
        let result = crm.write_each(kind, items, patch, &mut |res| {
            if store_error.is_some() {
                return false;
            }
            let recorded = (|| -> anyhow::Result<()> {
                if patch {
                    for key in &res.applied {
                        if let Some(p) = by_key.get(key) {
                            if let Op::Update { id, adopted, .. } = &p.op {
                                bind(key, *id)?;
                                ids.insert(key.clone(), *id);
                                let detail = adopted
                                    .clone()
                                    .map(|a| format!("adopted existing: {a}"))
                                    .unwrap_or_else(|| "updated".into());
                                outcomes.push(p.outcome(Action::Updated, Some(*id), detail));
                            }
                        }
                        reported.insert(key.clone());
                    }
                } else {
                    for c in &res.created {
                        bind(&c.request_id, c.id)?;
                        ids.insert(c.request_id.clone(), c.id);
                        if let Some(p) = by_key.get(&c.request_id) {
                            outcomes.push(p.outcome(Action::Created, Some(c.id), "created".into()));
                        }
                        reported.insert(c.request_id.clone());
                    }
                }
                Ok(())
            })();
            reported.extend(res.rejected.iter().map(|r| r.request_id.clone()));
            failed(rejections(&res.rejected), &mut outcomes);
            match recorded {
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
        let unreported: Vec<String> = keys.into_iter().filter(|k| !reported.contains(k)).collect();
        match result {
            Ok(()) => failed(
                unreported
                    .into_iter()
                    .map(|k| (k, "amoCRM did not confirm it".to_string(), false))
                    .collect(),
                &mut outcomes,
            ),
            Err(e) => failed(all_failed(&unreported, e)?, &mut outcomes),
        }
    }
    for p in &plans {
        if let Op::Update { id, body, adopted } = &p.op {
            if body.as_object().is_some_and(|o| o.len() <= 2) {
                bind(&p.key, *id)?;
                ids.insert(p.key.clone(), *id);
                let detail = adopted
                    .clone()
                    .map(|a| format!("adopted existing: {a}"))
                    .unwrap_or_else(|| "linked".into());
                outcomes.push(p.outcome(Action::Updated, Some(*id), detail));
            }
        }
    }
    // Links for the entities that now exist and were written in this run.
    let mut links = Vec::new();
    for p in &plans {
        if matches!(p.op, Op::Create(_) | Op::Update { .. }) {
            if let Some(id) = ids.get(&p.key) {
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
    if !links.is_empty() {
        crm.link(kind, links)?;
    }
    Ok((ids, outcomes))
}

fn rid(v: &Value) -> String {
    v.get("request_id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
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
    if matches!(
        e,
        CrmError::AuthNeeded { .. } | CrmError::Blocked | CrmError::PaymentRequired
    ) {
        return Err(e.into());
    }
    let rejected = matches!(e, CrmError::Validation { .. } | CrmError::Http { .. });
    Ok(keys
        .iter()
        .map(|k| (k.clone(), crate::log::redact(&e.to_string()), rejected))
        .collect())
}
