//! Lost lead returns: a client whose earlier lead is closed as lost (143) buys again.
//!
//! The earlier lead is found through bindings (the client's other services in BILLmanager →
//! their leads), never by phone or e-mail, so a client who changed both is still recognised.
//! The newest earlier lead decides: if it is lost, the new lead goes to the same responsible
//! manager, both leads get a note pointing at each other, and the manager gets a task.

use serde_json::Value;

use super::{render, Engine, NoteSpec, Target, TaskSpec, LOST};
use crate::billing::Service;
use crate::rules::condition::Facts;
use crate::rules::EntityKind;

/// The newest earlier leads looked at (one read each at most).
const LOOK_BACK: usize = 3;

/// What is known about an earlier lead.
enum Known {
    /// Closed as lost (as amoCRM has it).
    Lost(Value),
    /// Open or won.
    Open,
    /// Deleted in amoCRM.
    Gone,
}

impl Engine<'_> {
    /// The client's newest earlier lead, when it is closed as lost (`[lifecycle.lost_returns]`).
    pub(super) fn lost_lead(&self, service: &Service) -> anyhow::Result<Option<Value>> {
        if !self.lost_returns_on() {
            return Ok(None);
        }
        for id in self.earlier_leads(service)? {
            match self.lead_if_lost(id)? {
                Known::Lost(lead) => return Ok(Some(lead)),
                Known::Open => return Ok(None),
                Known::Gone => continue, // deleted in amoCRM: look further back
            }
        }
        Ok(None)
    }

    /// The leads of the client's earlier services, newest first (at most [`LOOK_BACK`]).
    fn earlier_leads(&self, service: &Service) -> anyhow::Result<Vec<i64>> {
        let mut earlier: Vec<Service> = self
            .billing
            .services_of(&service.client_id)?
            .into_iter()
            .filter(|s| s.id != service.id)
            .filter(|s| match (s.created_at, service.created_at) {
                (Some(a), Some(b)) => a <= b,
                _ => true,
            })
            .collect();
        earlier.sort_by_key(|s| std::cmp::Reverse((s.created_at, s.id.parse::<u64>().ok())));
        let mut looked = Vec::new();
        for s in earlier {
            let Some(b) = self.store.binding("lead", &format!("service:{}", s.id))? else {
                continue;
            };
            if looked.contains(&b.amo_id) {
                continue;
            }
            if looked.len() >= LOOK_BACK {
                break;
            }
            looked.push(b.amo_id);
        }
        Ok(looked)
    }

    /// The earlier leads whose status planning this service's new lead will read: the
    /// newest earlier lead (a returning client) and the lead a re-order would join, unless
    /// the store knows them open. A batch reads them in pages ([`Engine::prefetch_leads`]);
    /// one deleted in amoCRM sends the check further back, with a GET of its own.
    pub(in crate::engine) fn lost_candidates(&self, service: &Service) -> anyhow::Result<Vec<i64>> {
        if !self.lost_returns_on()
            || self
                .store
                .binding("lead", &format!("service:{}", service.id))?
                .is_some()
            || self.joined(service)?.is_some()
        {
            return Ok(Vec::new());
        }
        let mut ids = Vec::new();
        if let Some(id) = self.earlier_leads(service)?.first() {
            ids.push(*id);
        }
        if let Some((_, b)) = self.reorder_targets(service)?.first() {
            ids.push(b.amo_id);
        }
        let mut out = Vec::new();
        for id in ids {
            if !self.known_open(id)? && !out.contains(&id) {
                out.push(id);
            }
        }
        Ok(out)
    }

    pub(super) fn lost_returns_on(&self) -> bool {
        self.rules
            .file
            .lifecycle
            .lost_returns
            .as_ref()
            .is_some_and(|l| l.enabled)
    }

    /// Whether the store knows a lead is not lost: the lead was written in this run, or
    /// `[lifecycle.pullback]` keeps managers' changes coming.
    fn known_open(&self, id: i64) -> anyhow::Result<bool> {
        let pulled = self
            .rules
            .file
            .lifecycle
            .pullback
            .as_ref()
            .is_some_and(|p| p.enabled);
        let fresh = self.life_state.borrow().written_leads.contains(id);
        if pulled || fresh {
            if let Some(stage) = self.store.life_lead(id)?.current() {
                return Ok(stage.1 != LOST);
            }
        }
        Ok(false)
    }

    /// Whether a lead is lost, from the store when it knows, else from amoCRM: from the
    /// pages a batch read ([`Engine::prefetch_leads`]), or one GET for a single `sync`.
    fn lead_if_lost(&self, id: i64) -> anyhow::Result<Known> {
        if self.known_open(id)? {
            return Ok(Known::Open);
        }
        Ok(match self.remote(EntityKind::Lead, id)? {
            Some(lead) if lead.get("status_id").and_then(Value::as_i64) == Some(LOST) => {
                Known::Lost(lead)
            }
            Some(_) => Known::Open,
            None => Known::Gone,
        })
    }

    /// Whether a re-order must not join `lead` because it is lost: the purchase becomes a
    /// new lead (a returning client) instead of disappearing into a closed one.
    pub(in crate::engine) fn lost_blocks_join(&self, lead: i64) -> anyhow::Result<bool> {
        if !self.lost_returns_on() {
            return Ok(false);
        }
        Ok(matches!(self.lead_if_lost(lead)?, Known::Lost(_)))
    }

    /// Notes on both leads and a task for the manager, once the new lead exists.
    pub(super) fn plan_lost_return(
        &self,
        key: &str,
        service: &Service,
        lost: &Value,
        responsible: Option<i64>,
        f: &Facts,
    ) {
        let Some(cfg) = self.rules.file.lifecycle.lost_returns.as_ref() else {
            return;
        };
        let lost_id = lost.get("id").and_then(Value::as_i64).unwrap_or(0);
        let lost_name = lost
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let extra = [
            ("lost.id", lost_id.to_string()),
            ("lost.name", lost_name.clone()),
        ];
        let text = render(&cfg.task_text, f, &extra);
        self.pending_mut(EntityKind::Lead, key, |p| {
            p.notes.push(NoteSpec {
                on: Target::New,
                text: format!(
                    "Returning client: their earlier lead #{lost_id} \"{lost_name}\" was closed as lost; \
                     this is a new order ({} #{}).",
                    service.product, service.id
                ),
            });
            p.notes.push(NoteSpec {
                on: Target::Id(lost_id),
                text: format!(
                    "The client came back: new order {} #{} is lead #{{new.id}}.",
                    service.product, service.id
                ),
            });
            p.tasks.push(TaskSpec {
                text,
                hours: cfg.task_hours,
                task_type: cfg.task_type,
                responsible,
                purpose: "lost",
                subject: service.id.clone(),
            });
        });
    }
}
