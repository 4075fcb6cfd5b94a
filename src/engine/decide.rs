//! The planner's decision for one entity, as pure functions of what was gathered for it.
//!
//! Planning runs in three phases (see [`super::upsert`] for the I/O around them):
//! 1. *gather*: the desired state (panel + rules), the binding (store), what amoCRM holds
//!    (the bound entity read, or a lookup for an unbound one) and the run's claims;
//! 2. *decide*: [`admit`] (the rules: skip, `since`, join) and then [`decide`] (create,
//!    update, unchanged, adopt): no store, no HTTP, no clock, so a table of cases proves
//!    every branch (`decide/tests.rs`);
//! 3. *apply*: the [`Decision`] becomes a [`Plan`] and the side effects it names (a binding
//!    recorded, a status rule remembered) are done by the caller.

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::diff::{changed_since, create_changes, update_body};
use super::lifecycle::{stage_decision, RuleTarget, StageDecision};
use super::lookup::Found;
use super::plan::{Op, Plan};
use crate::crm::{Item, UserDef};
use crate::rules::EntityKind;
use crate::store::{Binding, LeadState, Stage};

/// Matches passed over (they stand for other keys) named on one plan; the rest are counted.
const PASSED_NAMED: usize = 3;

/// Everything needed to decide about one entity.
#[derive(Debug, Clone)]
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

/// What the rules say of one entity before its desired state is built (building it may
/// report gaps, so it is not built for an entity the rules keep out).
#[derive(Debug, Clone)]
pub struct Gate {
    /// amoCRM kind: leads are gated on creation only, contacts and companies always.
    pub kind: EntityKind,
    /// The amoCRM id of the entity's binding. Read only where it decides: a contact or
    /// company a rule keeps out, a company another payer may drive (a lead's creation is
    /// gated only while it is unbound).
    pub bound: Option<i64>,
    /// A company whose INN another payer with a lower id shares: that payer drives it.
    pub driven_by_other: bool,
    /// The lead of another service this service joined earlier: (id, owner key, reason).
    pub joined: Option<(i64, String, String)>,
    /// The reason of the first `[[skip]]` rule that holds.
    pub skip_rule: Option<String>,
    /// Why `[sync] since` keeps the entity out.
    pub since: Option<String>,
    /// Earlier leads a re-order may join, newest first; gathered up to the first one not
    /// lost, as each may cost a read.
    pub reorders: Vec<Reorder>,
}

impl Gate {
    /// The gate of an entity nothing is known of yet.
    pub fn new(kind: EntityKind) -> Gate {
        Gate {
            kind,
            bound: None,
            driven_by_other: false,
            joined: None,
            skip_rule: None,
            since: None,
            reorders: Vec::new(),
        }
    }
}

/// Why `[sync] since` keeps out an entity dated `date` (`what`: "client registered"),
/// if it does.
pub fn before_since(since: Option<NaiveDate>, date: NaiveDate, what: &str) -> Option<String> {
    let since = since?;
    (date < since).then(|| format!("{what} {date} before [sync] since = {since}"))
}

/// An earlier bound order of the same product within `new_purchase_timeout_days`.
#[derive(Debug, Clone)]
pub struct Reorder {
    /// Its lead's amoCRM id.
    pub id: i64,
    /// Its key (`service:…`), which owns the binding.
    pub target: String,
    /// The lead is lost (`[lifecycle.lost_returns]`): it does not swallow a purchase.
    pub lost: bool,
    /// Why the service joins it, for the report.
    pub reason: String,
}

/// What amoCRM holds of one entity, as gathered.
#[derive(Debug, Default)]
pub struct Remote {
    /// The bound entity, read because the desired state changed; `None` when it was not
    /// read (the hash is unchanged) or amoCRM no longer has it.
    pub bound: Option<Value>,
    /// What the panel said at the last sync of a bound entity adopted under `fill`.
    pub filled_before: Option<String>,
    /// The lookup of an entity with no (live) binding: a free match, matches passed over.
    pub found: Found,
    /// A lead's pending status rule and what the store knows of the lead.
    pub stage: Option<(RuleTarget, LeadState)>,
}

/// Display names the decision writes into changes and warnings.
pub trait Names {
    /// A custom field's name.
    fn field(&self, kind: EntityKind, id: i64) -> String;
    /// A pipeline stage's name.
    fn stage(&self, stage: Stage) -> String;
}

/// The run's settings the decision reads.
pub struct Policy<'a> {
    /// `[sync] adopt = "fill"`: an adopted entity only gets what amoCRM lacks.
    pub fill: bool,
    /// Whether plans carry their field-by-field changes (a backfill's summary does not).
    pub changes: bool,
    /// Field and stage names.
    pub names: &'a dyn Names,
}

/// What an update sends: the PATCH body (with `id` and `request_id`), the changes it makes
/// for the report, and the links the entity lacks.
#[derive(Debug, Clone, Default)]
pub struct Patch {
    /// The PATCH body.
    pub body: Map<String, Value>,
    /// Field-by-field summary.
    pub changes: Vec<(String, String)>,
    /// Links to make.
    pub links: Vec<(EntityKind, i64, bool)>,
}

/// The rules' verdict on an entity they decide about alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A rule keeps it out.
    Skip(String),
    /// Another service's lead represents it.
    Join {
        /// amoCRM id.
        id: i64,
        /// The key that owns the binding.
        target: String,
        /// Why.
        reason: String,
    },
    /// Bound, and kept as it is.
    Keep(i64),
}

impl Verdict {
    /// The plan of an entity the rules decided about: nothing to compare, nothing to send.
    pub fn into_plan(self, kind: EntityKind, key: String, origin: (EntityKind, String)) -> Plan {
        let op = match self {
            Verdict::Skip(reason) => Op::Skip(reason),
            Verdict::Join { id, target, reason } => Op::Join { id, target, reason },
            Verdict::Keep(id) => Op::Keep(id),
        };
        Plan {
            kind,
            key,
            op,
            hash: String::new(),
            links: vec![],
            changes: vec![],
            warnings: vec![],
            origin,
        }
    }
}

/// What to do with an entity the rules let through.
#[derive(Debug, Clone)]
pub enum Operation {
    /// Bound, and the panel holds what was last pushed.
    Unchanged(i64),
    /// amoCRM already holds what would be sent: record the binding now (a bound entity
    /// whose hash changed, or a match adopted as it is).
    AlreadyHeld {
        /// amoCRM id.
        id: i64,
        /// The panel's state to remember (`adopt = "fill"`).
        filled: Option<String>,
    },
    /// Not in amoCRM: create it.
    Create {
        /// Field-by-field summary.
        changes: Vec<(String, String)>,
        /// Links made by their own requests after the create.
        links: Vec<(EntityKind, i64, bool)>,
    },
    /// Bound and changed: send what differs.
    Update {
        /// amoCRM id.
        id: i64,
        /// What is sent.
        patch: Patch,
        /// The panel's state to remember once answered (entities adopted under `fill`).
        filled: Option<String>,
    },
    /// An unbound entity a lookup found free: take it over, sending what differs.
    Adopt {
        /// amoCRM id.
        id: i64,
        /// What matched (`same phone +7…`).
        reason: String,
        /// What is sent (under `fill`, only what amoCRM lacks).
        patch: Patch,
        /// The panel's state to remember once answered (`fill`).
        filled: Option<String>,
    },
}

/// The decision for one entity, with what the apply step records besides.
#[derive(Debug, Clone)]
pub struct Decision {
    /// What to do.
    pub op: Operation,
    /// Warnings the decision adds (matches passed over, a status left as an operator set it).
    pub warnings: Vec<String>,
    /// What the lead's status rule decided, for the store.
    pub stage: Option<StageDecision>,
}

/// The rules' verdict, before any desired state: `None` lets the entity through to
/// [`decide`].
pub fn admit(g: &Gate) -> Option<Verdict> {
    if let Some((id, target, reason)) = &g.joined {
        // A service that joined another's lead stays joined (no write, no read).
        return Some(Verdict::Join {
            id: *id,
            target: target.clone(),
            reason: reason.clone(),
        });
    }
    if g.kind == EntityKind::Lead {
        if g.bound.is_some() {
            // Bound leads are kept up to date whatever the creation rules say.
            return None;
        }
        if let Some(reason) = g.skip_rule.clone().or_else(|| g.since.clone()) {
            // A skip rule or `since` keeps a new lead out.
            return Some(Verdict::Skip(reason));
        }
        // A re-order within the timeout joins the newest earlier lead that is not lost.
        return g.reorders.iter().find(|r| !r.lost).map(|r| Verdict::Join {
            id: r.id,
            target: r.target.clone(),
            reason: r.reason.clone(),
        });
    }
    if let (Some(id), true) = (g.bound, g.driven_by_other) {
        // Another payer with the same INN drives this company: leave it to that one.
        return Some(Verdict::Keep(id));
    }
    let reason = g.skip_rule.clone().or_else(|| g.since.clone())?;
    Some(match g.bound {
        // Kept out, but already bound: it still serves its leads, as it is.
        Some(id) => Verdict::Keep(id),
        // Kept out and never sent.
        None => Verdict::Skip(reason),
    })
}

/// The manager a returning client's new lead goes to: the one of its lost lead, unless the
/// account's users are known and that one is gone or deactivated.
pub fn returning_manager(lost: &Value, users: &[UserDef]) -> Option<(i64, String)> {
    let manager = lost.get("responsible_user_id").and_then(Value::as_i64)?;
    let lead = lost.get("id").and_then(Value::as_i64).unwrap_or(0);
    (users.is_empty() || users.iter().any(|u| u.id == manager && u.active))
        .then(|| (manager, format!("manager of the lost lead #{lead}")))
}

/// The plan of an entity [`admit`] decides about alone, if it does.
pub fn admitted(
    g: &Gate,
    key: &str,
    origin: impl FnOnce() -> (EntityKind, String),
) -> Option<Plan> {
    admit(g).map(|v| v.into_plan(g.kind, key.to_string(), origin()))
}

/// Decides about an entity the rules let through, from its desired state, its binding and
/// what amoCRM holds.
pub fn decide(d: &Desired, binding: Option<&Binding>, r: &Remote, p: &Policy) -> Decision {
    let mut warnings = Vec::new();
    if let Some(b) = binding.filter(|b| b.payload_hash == d.hash) {
        // Bound and unchanged since the last push: nothing to read or send.
        return decision(Operation::Unchanged(b.amo_id), warnings, None);
    }
    // Bound and changed: compare with the entity read. Deleted in amoCRM (or never
    // bound): what a lookup found, else create.
    let (remote, adopted) = match (binding.and(r.bound.as_ref()), &r.found.hit) {
        (Some(remote), _) => (remote, None),
        (None, hit) => {
            // An agency's fifty clients on one phone need not fifty warnings each.
            let passed = &r.found.passed;
            warnings.extend(passed.iter().take(PASSED_NAMED).cloned());
            if passed.len() > PASSED_NAMED {
                warnings.push(format!(
                    "… and {} more matches that stand for other BILLmanager keys",
                    passed.len() - PASSED_NAMED
                ));
            }
            match hit {
                Some((remote, reason)) => (remote, Some(reason.clone())),
                None => {
                    // Nowhere in amoCRM: create it, with its links when they are separate.
                    let changes = if p.changes {
                        create_changes(&d.payload, &|id| p.names.field(d.kind, id))
                    } else {
                        Vec::new()
                    };
                    let links = if d.links_on_create {
                        d.links.clone()
                    } else {
                        Vec::new()
                    };
                    return decision(Operation::Create { changes, links }, warnings, None);
                }
            }
        }
    };
    let id = remote.get("id").and_then(Value::as_i64).unwrap_or(0);
    let mut desired = d.payload.clone();
    if let Some(obj) = desired.as_object_mut() {
        for k in &d.create_only {
            obj.remove(*k);
        }
    }
    let fill_only = adopted.is_some() && p.fill;
    let filled_before = r.filled_before.as_deref().filter(|_| adopted.is_none());
    // An entity adopted under `fill` keeps what people typed for good: later syncs
    // compare only what the panel changed since the last one.
    let compared = match filled_before.map(serde_json::from_str::<Value>) {
        Some(Ok(before)) => changed_since(&desired, &before),
        _ => desired.clone(),
    };
    let filled = (fill_only || filled_before.is_some()).then(|| desired.to_string());
    let (mut body, mut changes) = update_body(&compared, remote, &d.multitext, fill_only);
    let stage = stage_move(d.kind, remote, r, p, &mut body, &mut changes, &mut warnings);
    if !p.changes {
        changes.clear();
    }
    let changes = changes
        .into_iter()
        .map(
            |(k, v)| match k.strip_prefix("field ").and_then(|i| i.parse::<i64>().ok()) {
                Some(fid) => (p.names.field(d.kind, fid), v),
                None => (k, v),
            },
        )
        .collect();
    let links: Vec<_> = d
        .links
        .iter()
        .filter(|(k, to, _)| !has_link(remote, *k, *to))
        .copied()
        .collect();
    if body.is_empty() && links.is_empty() {
        // amoCRM already holds what we would send: just remember that.
        return decision(Operation::AlreadyHeld { id, filled }, warnings, stage);
    }
    body.insert("id".into(), Value::from(id));
    body.insert("request_id".into(), Value::from(d.key.clone()));
    let patch = Patch {
        body,
        changes,
        links,
    };
    let op = match adopted {
        // Found free by a lookup: adopted, and told so in the report.
        Some(reason) => Operation::Adopt {
            id,
            reason,
            patch,
            filled,
        },
        // Bound: send what differs.
        None => Operation::Update { id, patch, filled },
    };
    decision(op, warnings, stage)
}

fn decision(op: Operation, warnings: Vec<String>, stage: Option<StageDecision>) -> Decision {
    Decision {
        op,
        warnings,
        stage,
    }
}

/// A lead's status rule against where amoCRM holds it: the move goes into the PATCH body
/// (as a robot's), a lead an operator closed by hand stays and is said.
fn stage_move(
    kind: EntityKind,
    remote: &Value,
    r: &Remote,
    p: &Policy,
    body: &mut Map<String, Value>,
    changes: &mut Vec<(String, String)>,
    warnings: &mut Vec<String>,
) -> Option<StageDecision> {
    let (target, known) = r.stage.as_ref().filter(|_| kind == EntityKind::Lead)?;
    let (Some(_), Some(pl), Some(st)) = (
        remote.get("id").and_then(Value::as_i64),
        remote.get("pipeline_id").and_then(Value::as_i64),
        remote.get("status_id").and_then(Value::as_i64),
    ) else {
        return None;
    };
    let verdict = stage_decision(target, (pl, st), known);
    match verdict {
        // Nothing to send: where the rule wants it, or a manager moved it since.
        StageDecision::AlreadyThere | StageDecision::ManagerMoved => {}
        StageDecision::ClosedByHand => warnings.push(format!(
            "status left at `{}`: an operator closed the lead by hand ({} would move it to `{}`; \
             `override_closed = true` allows that)",
            p.names.stage((pl, st)),
            target.label,
            p.names.stage(target.stage)
        )),
        StageDecision::Move => {
            body.insert("pipeline_id".into(), Value::from(target.stage.0));
            body.insert("status_id".into(), Value::from(target.stage.1));
            // Our moves are a robot's: the events API then tells them from a manager's.
            body.insert("updated_by".into(), Value::from(0));
            changes.push((
                "status".into(),
                format!(
                    "{} → {} ({})",
                    p.names.stage((pl, st)),
                    p.names.stage(target.stage),
                    target.label
                ),
            ));
        }
    }
    Some(verdict)
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

impl Decision {
    /// The plan the apply step writes. `d` is consumed: a backfill holds many plans.
    pub fn into_plan(self, d: Desired) -> Plan {
        let mut warnings = d.warnings;
        warnings.extend(self.warnings);
        let (op, links, changes) = match self.op {
            Operation::Unchanged(id) | Operation::AlreadyHeld { id, .. } => {
                (Op::Keep(id), Vec::new(), Vec::new())
            }
            Operation::Create { changes, links } => {
                (Op::Create(Item::new(&d.payload)), links, changes)
            }
            Operation::Update { id, patch, .. } => {
                (update_op(id, &patch.body, None), patch.links, patch.changes)
            }
            Operation::Adopt {
                id, reason, patch, ..
            } => (
                update_op(id, &patch.body, Some(reason)),
                patch.links,
                patch.changes,
            ),
        };
        Plan {
            kind: d.kind,
            key: d.key,
            op,
            hash: d.hash,
            links,
            changes,
            warnings,
            origin: d.origin,
        }
    }
}

fn update_op(id: i64, body: &Map<String, Value>, adopted: Option<String>) -> Op {
    Op::Update {
        id,
        body: Item::new(&Value::Object(body.clone())),
        adopted,
    }
}

#[cfg(test)]
mod tests;
