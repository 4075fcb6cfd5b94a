//! Lifecycle automation (`[lifecycle]`, docs/lifecycle.md): what happens to amoCRM entities
//! as a client's services live their lives.
//!
//! It hooks into the ordinary plan flow rather than running beside it, so `sync`, `backfill`
//! and the hook's `drain` all apply it the same way:
//!
//! - **facts** ([`Engine::lifecycle_facts`]): billing events derived from two successive
//!   snapshots of a service (`service.event`, `service.previous_status`), what is known about
//!   its lead's status in amoCRM (`lead.*`), links to BILLmanager pages (`*.page_url`);
//! - **planning a lead** ([`Engine::lifecycle_plan_lead`]): the status a `[[lifecycle.status]]`
//!   rule gives, the responsible manager, a returning client's lost lead, link notes;
//! - **updating** (`stage_decision`, part of the planner's pure decision in
//!   `engine::decide`, with what amoCRM holds):
//!   whether the status may move (never a lead an operator closed by hand unless the rule
//!   says so, never back when only a manager moved it);
//! - **after a batch** ([`Engine::lifecycle_after`]): the stages we set, recorded in the
//!   store, and the notes and tasks for what was created ([`followups`]: stored before the
//!   create, sent after it, queued when they fail).
//!
//! `amocrm-bin nudge` ([`nudge`]) and `amocrm-bin pull` ([`pullback`]) are the two parts
//! that run on their own (cron).
//!
//! Invariant: an unchanged re-run writes nothing. Status targets enter the payload hash;
//! events are sticky (the last one stays until billing changes again); notes and tasks
//! follow creates only, and `nudge` remembers every task it created.

mod assignment;
mod followups;
mod lead;
mod links;
mod lost;
pub mod nudge;
pub mod pullback;
mod resolve;
mod status;
mod written;

use std::collections::{BTreeMap, BTreeSet};

use super::report::{Action, Outcome};
use super::Engine;
use crate::rules::EntityKind;
use crate::store::Stage;

pub use resolve::{resolve, Life};
pub(in crate::engine) use status::{
    decide as stage_decision, Decision as StageDecision, RuleTarget,
};

/// amoCRM's closed statuses (the same ids in every pipeline).
pub const WON: i64 = 142;
/// Lost.
pub const LOST: i64 = 143;

/// Whether a status closes a lead.
pub fn is_closed(status: i64) -> bool {
    status == WON || status == LOST
}

/// Whether a lead in `status` was closed by an operator's hand: closed, and not by us (we
/// did not set that status, or a person set it again after we did, as the events say).
pub fn closed_by_hand(known: &crate::store::LeadState, status: i64) -> bool {
    let ours = known.set.map(|s| s.1) == Some(status) && !known.hand_moved_to(status);
    is_closed(status) && !ours
}

/// Where a note or task goes once the entity it follows exists.
#[derive(Debug, Clone)]
pub(super) enum Target {
    /// The entity just created (id known after the write).
    New,
    /// Another entity of the same kind.
    Id(i64),
}

/// A note to add after the write; `{new.id}` in the text is the new entity's id.
#[derive(Debug, Clone)]
pub(super) struct NoteSpec {
    pub on: Target,
    pub text: String,
}

/// A task to create after the write, on the new entity.
#[derive(Debug, Clone)]
pub(super) struct TaskSpec {
    pub text: String,
    pub hours: u32,
    pub task_type: i64,
    pub responsible: Option<i64>,
    /// Recorded in the store as (purpose, subject).
    pub purpose: &'static str,
    pub subject: String,
}

/// What to do once one planned entity was written.
#[derive(Debug, Clone, Default)]
pub(super) struct Pending {
    /// Created in this stage; `true` when a status rule chose it.
    pub create_stage: Option<(Stage, bool)>,
    /// A status rule's stage, for the update's decision (`engine::decide`).
    pub rule: Option<status::RuleTarget>,
    /// Set by an update (filled in once the decision moves the lead).
    pub moved: Option<Stage>,
    /// Notes and tasks that follow a create.
    pub notes: Vec<NoteSpec>,
    pub tasks: Vec<TaskSpec>,
}

/// Run-time state of one engine run.
#[derive(Debug, Default)]
pub struct RunState {
    /// Leads created or updated in this run (their status is what we set or just read).
    pub(super) written_leads: written::Written,
    /// Per (kind, key) of a planned entity.
    pub(super) pending: BTreeMap<(EntityKind, String), Pending>,
    /// Clients whose manager was decided or checked in this run.
    pub(super) fresh_clients: BTreeSet<String>,
    /// Clients one of whose contacts or companies was adopted (found in amoCRM) in this run:
    /// their manager is whoever amoCRM says.
    pub(super) adopted_clients: BTreeSet<String>,
    /// The round-robin pointer (last user handed out), once read.
    pub(super) last_round_robin: Option<Option<i64>>,
    /// The responsible user of amoCRM entities as this run knows it (created with it, or
    /// read in a page by id), so a client's manager costs no GET per entity.
    pub(in crate::engine) responsible: BTreeMap<(EntityKind, i64), Option<i64>>,
    /// Bound entities read in pages by id for this run's decisions.
    pub(in crate::engine) remote: crate::engine::remote::RemoteCache,
    /// Follow-ups (notes, tasks) this run tried to send: each is tried once per run.
    pub(super) followups_tried: BTreeSet<String>,
}

/// Fills `{placeholders}` from facts plus extra values.
pub(super) fn render(
    template: &str,
    facts: &crate::rules::condition::Facts,
    extra: &[(&str, String)],
) -> String {
    let mut f = facts.clone();
    for (k, v) in extra {
        f.insert((*k).to_string(), v.clone());
    }
    super::facts::render(template, &f)
}

impl Engine<'_> {
    pub(super) fn pending_mut<R>(
        &self,
        kind: EntityKind,
        key: &str,
        f: impl FnOnce(&mut Pending) -> R,
    ) -> R {
        let mut st = self.life_state.borrow_mut();
        f(st.pending.entry((kind, key.to_string())).or_default())
    }

    /// After a batch of one kind was written: record the stages set, then send the notes
    /// and tasks of the entities it wrote (stored before their create, see [`followups`]).
    /// One that fails stays queued and is reported; the entity itself was written.
    pub(super) fn lifecycle_after(
        &self,
        kind: EntityKind,
        outcomes: &mut [Outcome],
    ) -> anyhow::Result<()> {
        let mut written = BTreeSet::new();
        for o in outcomes.iter() {
            if let (Some(id), Action::Created | Action::Updated) = (o.amo_id, o.action) {
                // Created, or adopted after an earlier run created it and died unbound.
                written.insert((kind, o.key.clone()));
                let mut st = self.life_state.borrow_mut();
                // What was read of it before is stale now.
                st.remote.forget(kind, id);
                // Only the lost-lead check asks; a backfill writes 200 000 of these.
                if kind == EntityKind::Lead && self.lost_returns_on() {
                    st.written_leads.insert(id);
                }
            }
            let Some(p) = self
                .life_state
                .borrow_mut()
                .pending
                .remove(&(kind, o.key.clone()))
            else {
                continue;
            };
            let Some(id) = o.amo_id else { continue };
            match o.action {
                Action::Created => {
                    if let Some((stage, by_rule)) = p.create_stage {
                        self.store
                            .life_lead_set(id, stage, by_rule.then_some(stage))?;
                    }
                }
                Action::Updated => {
                    if let Some(stage) = p.moved {
                        self.store.life_lead_set(id, stage, Some(stage))?;
                    }
                }
                _ => {}
            }
        }
        if !written.is_empty() {
            self.send_followups(Some(&written))?;
        }
        Ok(())
    }
}
