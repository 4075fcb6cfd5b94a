//! The decision every entity goes through: bound and unchanged → keep; bound and changed →
//! update what differs; unbound → look it up in amoCRM and adopt it, or create it.

use serde_json::Value;

use super::diff::update_body;
use super::lookup::Found;
use super::plan::{Op, Plan};
use super::Engine;
use crate::crm::Item;
use crate::rules::condition::Facts;
use crate::rules::EntityKind;
use crate::store::Binding;

/// Matches passed over (they stand for other keys) named on one plan; the rest are counted.
const PASSED_NAMED: usize = 3;

/// Everything needed to decide about one entity.
pub struct Desired {
    /// amoCRM kind.
    pub kind: EntityKind,
    /// BILLmanager key.
    pub key: String,
    /// The create payload (with `request_id`).
    pub payload: Value,
    /// Hash of the desired state, including link targets.
    pub hash: String,
    /// Links the entity must have: (kind, id, is_main).
    pub links: Vec<(EntityKind, i64, bool)>,
    /// Mapping problems.
    pub warnings: Vec<String>,
    /// Multi-value fields to merge: (field id, is phone).
    pub multitext: Vec<(i64, bool)>,
    /// Keys only sent on create (responsible, pipeline, status, `_embedded`).
    pub create_only: Vec<&'static str>,
    /// Whether links are made by separate requests after a create (contacts) or are part of
    /// the create payload (leads' `_embedded`).
    pub links_on_create: bool,
    /// What to re-run if it fails.
    pub origin: (EntityKind, String),
}

/// An entity's desired state (with its facts and what finds it in amoCRM when unbound), or
/// the plan decided without amoCRM (skipped, kept as it is).
pub enum Wanted<F = ()> {
    /// Nothing to compare with amoCRM.
    Decided(Plan),
    /// To be compared with what amoCRM holds ([`Engine::upsert`]).
    Upsert(Desired, Facts, F),
}

fn has_link(remote: &Value, kind: EntityKind, id: i64) -> bool {
    remote
        .pointer(&format!("/_embedded/{}", kind.collection()))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .any(|x| x.get("id").and_then(Value::as_i64) == Some(id))
        })
        .unwrap_or(false)
}

impl Engine<'_> {
    /// Plans one entity. `find` looks it up in amoCRM when there is no binding; it is given
    /// the entity's key, so it adopts only what no other key stands for.
    pub(super) fn upsert(
        &self,
        d: Desired,
        find: &dyn Fn(&str) -> anyhow::Result<Found>,
    ) -> anyhow::Result<Plan> {
        let names = |id: i64| self.field_name(d.kind, id);
        let mut plan = Plan {
            kind: d.kind,
            key: d.key.clone(),
            op: Op::Keep(0),
            hash: d.hash.clone(),
            links: Vec::new(),
            changes: Vec::new(),
            warnings: d.warnings.clone(),
            origin: d.origin.clone(),
        };
        let mut found = None;
        let fill = self.rules.file.sync.adopt == crate::rules::AdoptPolicy::Fill;
        // What the panel said at the last sync, for an entity adopted under `fill`.
        let mut filled_before = None;
        if let Some(b) = self.store.binding(d.kind.as_str(), &d.key)? {
            if b.payload_hash == d.hash {
                plan.op = Op::Keep(b.amo_id);
                return Ok(plan);
            }
            match self.bound_remote(d.kind, b.amo_id)? {
                Some(remote) => {
                    if fill {
                        filled_before = self.store.filled(d.kind.as_str(), &d.key)?;
                    }
                    found = Some((remote, None))
                }
                None => {
                    // Deleted in amoCRM: forget it and start over (search, then create).
                    if !self.dry_run {
                        self.store.forget_binding(d.kind.as_str(), &b.bm_id)?;
                    }
                }
            }
        }
        if found.is_none() {
            let lookup = find(&d.key)?;
            // An agency's fifty clients on one phone need not fifty warnings each.
            let passed = lookup.passed.len();
            plan.warnings
                .extend(lookup.passed.into_iter().take(PASSED_NAMED));
            if passed > PASSED_NAMED {
                plan.warnings.push(format!(
                    "… and {} more matches that stand for other BILLmanager keys",
                    passed - PASSED_NAMED
                ));
            }
            if let Some((remote, reason)) = lookup.hit {
                if let Some(id) = remote.get("id").and_then(Value::as_i64) {
                    self.claim(d.kind, id, &d.key);
                }
                found = Some((remote, Some(reason)));
            }
        }
        let Some((remote, adopted)) = found else {
            if self.wants_changes() {
                plan.changes = super::diff::create_changes(&d.payload, &names);
            }
            if d.links_on_create {
                plan.links = d.links;
            }
            plan.op = Op::Create(Item::new(&d.payload));
            return Ok(plan);
        };
        let id = remote.get("id").and_then(Value::as_i64).unwrap_or(0);
        // Who is responsible for it, for `keep_client_manager` (no read of its own).
        self.life_state.borrow_mut().responsible.insert(
            (d.kind, id),
            remote.get("responsible_user_id").and_then(Value::as_i64),
        );
        let mut desired = d.payload.clone();
        if let Some(obj) = desired.as_object_mut() {
            for k in &d.create_only {
                obj.remove(*k);
            }
        }
        let fill_only = adopted.is_some() && fill;
        // An entity adopted under `fill` keeps what people typed for good: later syncs
        // compare only what the panel changed since the last one.
        let compared = match filled_before.as_deref().map(serde_json::from_str::<Value>) {
            Some(Ok(before)) => super::diff::changed_since(&desired, &before),
            _ => desired.clone(),
        };
        let filled_now = (fill_only || filled_before.is_some()).then(|| desired.to_string());
        let (mut body, mut changes) = update_body(&compared, &remote, &d.multitext, fill_only);
        self.lifecycle_update(
            d.kind,
            &d.key,
            &remote,
            &mut body,
            &mut changes,
            &mut plan.warnings,
        )?;
        if !self.wants_changes() {
            changes.clear();
        }
        plan.changes = changes
            .into_iter()
            .map(
                |(k, v)| match k.strip_prefix("field ").and_then(|i| i.parse::<i64>().ok()) {
                    Some(fid) => (names(fid), v),
                    None => (k, v),
                },
            )
            .collect();
        plan.links = d
            .links
            .into_iter()
            .filter(|(k, to, _)| !has_link(&remote, *k, *to))
            .collect();
        if body.is_empty() && plan.links.is_empty() {
            // amoCRM already holds what we would send: just remember that.
            if !self.dry_run {
                self.store.put_binding(&Binding {
                    kind: d.kind.as_str().into(),
                    bm_id: d.key.clone(),
                    amo_id: id,
                    payload_hash: d.hash,
                    synced_at: crate::store::now(),
                })?;
                if let Some(panel) = &filled_now {
                    self.store.put_filled(d.kind.as_str(), &d.key, panel)?;
                }
            }
            plan.op = Op::Keep(id);
            return Ok(plan);
        }
        if let Some(panel) = filled_now {
            // Recorded once the write is answered ([`Engine::record_filled`]).
            self.filled
                .borrow_mut()
                .insert((d.kind, d.key.clone()), panel);
        }
        body.insert("id".into(), Value::from(id));
        body.insert("request_id".into(), Value::from(d.key.clone()));
        plan.op = Op::Update {
            id,
            body: Item::new(&Value::Object(body)),
            adopted,
        };
        Ok(plan)
    }

    /// Records, for the entities adopted under `fill` that were just written, what the
    /// panel said: the next sync compares against it. A failed write records nothing, so
    /// its changes are compared (and sent) again.
    pub(super) fn record_filled(
        &self,
        kind: EntityKind,
        outcomes: &[crate::engine::Outcome],
    ) -> anyhow::Result<()> {
        let mut filled = self.filled.borrow_mut();
        if filled.is_empty() {
            return Ok(());
        }
        for o in outcomes {
            let Some(panel) = filled.remove(&(kind, o.key.clone())) else {
                continue;
            };
            if matches!(
                o.action,
                crate::engine::Action::Updated | crate::engine::Action::Unchanged
            ) {
                self.store.put_filled(kind.as_str(), &o.key, &panel)?;
            }
        }
        Ok(())
    }

    /// A field's display name for plans.
    pub(super) fn field_name(&self, kind: EntityKind, id: i64) -> String {
        self.resolved
            .dict
            .fields
            .get(kind.as_str())
            .and_then(|fs| fs.iter().find(|f| f.id == id))
            .map(|f| f.name.clone())
            .unwrap_or_else(|| format!("field {id}"))
    }
}
