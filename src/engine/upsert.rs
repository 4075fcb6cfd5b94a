//! Gather and apply around the planner's decision ([`super::decide`]): bound and unchanged
//! → keep; bound and changed → read it and update what differs; unbound → look it up in
//! amoCRM and adopt it, or create it. The store and amoCRM are read here, never while
//! deciding.

use serde_json::Value;

use super::decide::{self, Desired, Gate, Names, Operation, Policy, Remote};
use super::lifecycle::StageDecision;
use super::lookup::Found;
use super::plan::Plan;
use super::Engine;
use crate::rules::condition::{holds, Facts};
use crate::rules::EntityKind;
use crate::store::{Binding, Stage};

/// An entity's desired state (with its facts and what finds it in amoCRM when unbound), or
/// the plan decided without amoCRM (skipped, kept as it is).
pub enum Wanted<F = ()> {
    /// Nothing to compare with amoCRM.
    Decided(Plan),
    /// To be compared with what amoCRM holds ([`Engine::upsert`]).
    Upsert(Desired, Facts, F),
}

impl Names for Engine<'_> {
    fn field(&self, kind: EntityKind, id: i64) -> String {
        self.field_name(kind, id)
    }

    fn stage(&self, stage: Stage) -> String {
        self.stage_name(stage)
    }
}

impl Engine<'_> {
    /// Plans one entity: gathers its binding and what amoCRM holds, decides
    /// ([`decide::decide`]), and records what the decision names. `find` looks it up in
    /// amoCRM when there is no binding; it is given the entity's key, so it adopts only
    /// what no other key stands for.
    pub(super) fn upsert(
        &self,
        d: Desired,
        find: &dyn Fn(&str) -> anyhow::Result<Found>,
    ) -> anyhow::Result<Plan> {
        let binding = self.store.binding(d.kind.as_str(), &d.key)?;
        let remote = match &binding {
            Some(b) if b.payload_hash == d.hash => Remote::default(),
            _ => self.gather_remote(&d, binding.as_ref(), find)?,
        };
        let policy = Policy {
            fill: self.rules.file.sync.adopt == crate::rules::AdoptPolicy::Fill,
            changes: self.wants_changes(),
            names: self,
        };
        let decision = decide::decide(&d, binding.as_ref(), &remote, &policy);
        self.apply_decision(&d, &remote, &decision)?;
        Ok(decision.into_plan(d))
    }

    /// What amoCRM holds of an entity whose binding is missing or changed: the bound entity
    /// (one deleted in amoCRM is forgotten and looked up again), or a lookup's free match,
    /// claimed for this key; and for a lead, its status rule and what the store knows.
    fn gather_remote(
        &self,
        d: &Desired,
        binding: Option<&Binding>,
        find: &dyn Fn(&str) -> anyhow::Result<Found>,
    ) -> anyhow::Result<Remote> {
        let fill = self.rules.file.sync.adopt == crate::rules::AdoptPolicy::Fill;
        let mut r = Remote::default();
        if let Some(b) = binding {
            r.bound = self.bound_remote(d.kind, b.amo_id)?;
            if r.bound.is_some() && fill {
                r.filled_before = self.store.filled(d.kind.as_str(), &d.key)?;
            }
            if r.bound.is_none() && !self.dry_run {
                // Deleted in amoCRM: forget it and start over (search, then create).
                self.store.forget_binding(d.kind.as_str(), &b.bm_id)?;
            }
        }
        if r.bound.is_none() {
            r.found = find(&d.key)?;
            if let Some(id) = r
                .found
                .hit
                .as_ref()
                .and_then(|(e, _)| e.get("id")?.as_i64())
            {
                self.claim(d.kind, id, &d.key);
            }
        }
        let Some(entity) = r.bound.as_ref().or(r.found.hit.as_ref().map(|(e, _)| e)) else {
            return Ok(r);
        };
        let id = entity.get("id").and_then(Value::as_i64).unwrap_or(0);
        // Who is responsible for it, for `keep_client_manager` (no read of its own).
        self.life_state.borrow_mut().responsible.insert(
            (d.kind, id),
            entity.get("responsible_user_id").and_then(Value::as_i64),
        );
        r.stage = self.stage_inputs(d.kind, &d.key, entity)?;
        Ok(r)
    }

    /// Gathers what keeps a contact or company out: the first `[[skip]]` rule that holds,
    /// else `since` (asked only then: it may report a gap), and then its binding, which
    /// decides whether it is kept as it is or skipped.
    pub(super) fn excluded(
        &self,
        mut gate: Gate,
        key: &str,
        f: &Facts,
        since: impl FnOnce() -> anyhow::Result<Option<String>>,
    ) -> anyhow::Result<Gate> {
        gate.skip_rule = self.skip_rule(gate.kind, f);
        if gate.skip_rule.is_none() {
            gate.since = since()?;
        }
        if gate.bound.is_none() && (gate.skip_rule.is_some() || gate.since.is_some()) {
            gate.bound = self
                .store
                .binding(gate.kind.as_str(), key)?
                .map(|b| b.amo_id);
        }
        Ok(gate)
    }

    /// The reason of the first `[[skip]]` rule for `kind` that holds.
    pub(super) fn skip_rule(&self, kind: EntityKind, f: &Facts) -> Option<String> {
        self.rules
            .file
            .skip
            .iter()
            .find(|r| r.entity == kind && holds(&r.when, f))
            .map(|r| r.reason.clone())
    }

    /// Records what a decision names besides its plan: the binding of an entity amoCRM
    /// already holds as wanted, the panel's state under `fill`, a lead's status rule.
    fn apply_decision(
        &self,
        d: &Desired,
        r: &Remote,
        decision: &decide::Decision,
    ) -> anyhow::Result<()> {
        if let (Some(StageDecision::AlreadyThere), Some((target, known))) =
            (&decision.stage, &r.stage)
        {
            let entity = r.bound.as_ref().or(r.found.hit.as_ref().map(|(e, _)| e));
            let id = entity.and_then(|e| e.get("id")?.as_i64());
            if let (false, Some(id)) = (self.dry_run, id) {
                if known.rule != Some(target.stage) {
                    self.store.life_lead_rule(id, target.stage)?;
                }
            }
        }
        if let (Some(StageDecision::Move), Some((target, _))) = (&decision.stage, &r.stage) {
            self.pending_mut(d.kind, &d.key, |p| p.moved = Some(target.stage));
        }
        match &decision.op {
            Operation::AlreadyHeld { id, filled } if !self.dry_run => {
                self.store.put_binding(&Binding {
                    kind: d.kind.as_str().into(),
                    bm_id: d.key.clone(),
                    amo_id: *id,
                    payload_hash: d.hash.clone(),
                    synced_at: crate::store::now(),
                })?;
                if let Some(panel) = filled {
                    self.store.put_filled(d.kind.as_str(), &d.key, panel)?;
                }
            }
            Operation::Update {
                filled: Some(panel),
                ..
            }
            | Operation::Adopt {
                filled: Some(panel),
                ..
            } => {
                // Recorded once the write is answered ([`Engine::record_filled`]).
                self.filled
                    .borrow_mut()
                    .insert((d.kind, d.key.clone()), panel.clone());
            }
            _ => {}
        }
        Ok(())
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
