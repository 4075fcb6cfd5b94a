//! The sync engine: BILLmanager entities in, amoCRM entities out, following the rules.
//!
//! It knows neither clap, nor HTTP, nor how BILLmanager is read: it works through
//! [`BillingSource`] and [`Crm`], and keeps its memory in the [`Store`].
//!
//! # Terminology
//! - *key*: a BILLmanager entity as bindings name it: `user:17` (→ contact), `payer:5` or
//!   `inn:7701234567` (→ company; payers with the same INN share one company),
//!   `service:42` (→ lead).
//! - *plan*: what to do with one entity ([`plan::Op`]): create, update, keep, skip, join.
//!
//! # Order
//! A lead needs its contact and company, a contact needs its company ([`order`]): so a sync
//! resolves the company first, then the contacts, then the lead, applying each step before
//! planning the next (the next step needs the ids the previous one created).
//!
//! # Plan
//! Each entity is planned in three phases: gather (panel, store, amoCRM), decide (a pure
//! function, `decide`), apply (`plan::apply`, the only writes).

pub mod backfill;
mod companies;
mod contacts;
mod decide;
mod diff;
pub mod facts;
pub mod labels;
mod leads;
pub mod lifecycle;
mod lookup;
mod needs;
mod order;
pub mod outbox;
pub mod payload;
pub mod plan;
mod purged;
mod queue;
mod remote;
pub mod report;
pub mod resolve;
mod upsert;

use std::cell::RefCell;
use std::time::Duration;

use crate::billing::{BillingSource, Client, Payer, PayerKind};
use crate::crm::Crm;
use crate::lock::{lock_within, LockKind};
use crate::rules::{EntityKind, RuleSet};
use crate::store::Store;

pub use report::{Action, Degraded, FollowUps, Gap, Outcome, QueuedFollowUp, Report};
pub use resolve::Resolved;

/// The engine for one run.
pub struct Engine<'a> {
    rules: &'a RuleSet,
    store: &'a Store,
    crm: &'a dyn Crm,
    billing: &'a dyn BillingSource,
    resolved: Resolved,
    dry_run: bool,
    report: RefCell<Report>,
    index: RefCell<lookup::Index>,
    life: lifecycle::Life,
    life_state: RefCell<lifecycle::RunState>,
    /// What the panel says now of entities adopted under `adopt = "fill"` that are being
    /// written, recorded once their write is answered ([`Engine::record_filled`]).
    filled: RefCell<std::collections::HashMap<(EntityKind, String), String>>,
    /// A dry run's leads planned to be created (their keys): a re-order later in the same
    /// run joins one as the real run would join the lead once created.
    dry_leads: RefCell<std::collections::BTreeSet<String>>,
}

impl<'a> Engine<'a> {
    /// Resolves the rule file's names against the account (exit 2 on unknown names).
    pub fn new(
        rules: &'a RuleSet,
        store: &'a Store,
        crm: &'a dyn Crm,
        billing: &'a dyn BillingSource,
        dry_run: bool,
    ) -> anyhow::Result<Engine<'a>> {
        let dict = resolve::dictionaries(store, crm, &rules.file.amocrm.base_url)?;
        let resolved = resolve::resolve(rules, dict)?;
        let life = lifecycle::resolve(rules, &resolved.dict)?;
        // `account.edit` only for clients whose list row lacks what the rules use.
        billing.need_client_fields(needs::client_fields(rules));
        Ok(Engine {
            rules,
            store,
            crm,
            billing,
            resolved,
            dry_run,
            report: RefCell::new(Report::new(dry_run, false)),
            index: RefCell::new(lookup::Index::default()),
            life,
            life_state: RefCell::default(),
            filled: RefCell::default(),
            dry_leads: RefCell::default(),
        })
    }

    /// Keep only failures in the report (backfill: counts stay exact, memory stays flat).
    pub fn summary_only(&self) {
        self.report.borrow_mut().summary_only = true;
    }

    /// Whether plans carry their field-by-field changes: only a report that shows
    /// outcomes prints them, and a backfill holds thousands of plans at once.
    fn wants_changes(&self) -> bool {
        !self.report.borrow().summary_only
    }

    /// The outcomes so far, with what reading the panel cost.
    pub fn report(&self) -> Report {
        let mut r = self.report.borrow().clone();
        r.panel = self.billing.stats();
        // In words: stages, pipelines and users by name, dates as dates.
        for o in &mut r.outcomes {
            for (key, value) in &mut o.changes {
                (*key, *value) = labels::readable(o.kind, key, value, &self.resolved.dict);
            }
        }
        r
    }

    /// Records an optional part that failed; the caller goes on with the core sync.
    pub fn degrade(&self, part: &str, error: &anyhow::Error, fix: String) {
        let error = crate::log::redact(&format!("{error:#}"));
        crate::log::warn(&format!(
            "{part} failed, the sync goes on without it: {error}\nhint: {fix}"
        ));
        self.report.borrow_mut().degraded.push(Degraded {
            part: part.to_string(),
            error,
            fix,
        });
    }

    /// Syncs one BILLmanager entity (and what it depends on).
    pub fn sync(&self, kind: EntityKind, elid: &str) -> anyhow::Result<()> {
        // Creating is serialised across processes: check binding → search → create → bind
        // must not interleave with another process doing the same for the same entity.
        let _lock = if self.dry_run {
            None
        } else {
            Some(lock_within(
                self.store.path(),
                LockKind::Write,
                "sync",
                Duration::from_secs(300),
            )?)
        };
        match kind {
            EntityKind::Contact => {
                let client = self.billing.client(elid)?;
                let payers = self.billing.payers_of(&client.id)?;
                self.sync_client(&client, &payers, true)?;
                self.report_unlinked(|u| u.candidates.iter().any(|c| c == &client.id));
                if client.users.is_empty() {
                    // Asked for this client's contacts and there are none: say so, never "ok".
                    self.gap(
                        EntityKind::Contact,
                        &format!("client:{}", client.id),
                        format!(
                            "client {} ({}) has no users in BILLmanager, so there is no contact \
                             to sync; add a user to the client in BILLmanager, then sync again",
                            client.id, client.name
                        ),
                    );
                }
            }
            EntityKind::Company => {
                let payer = self.billing.payer(elid)?;
                let client = self.billing.client(&payer.client_id)?;
                if self.company_payer(std::slice::from_ref(&payer)).is_none() {
                    // As backfill does: an individual is no company unless the rules say so.
                    self.record(vec![Outcome {
                        kind: EntityKind::Company,
                        key: companies::company_key(&payer),
                        action: Action::Skipped,
                        amo_id: None,
                        detail: format!(
                            "payer {} is an individual (profiletype 1) and [sync] individual_payers_as_companies = false",
                            payer.id
                        ),
                        changes: vec![],
                        warnings: vec![],
                        rejected: false,
                        origin: (EntityKind::Company, payer.id.clone()),
                    }]);
                    return Ok(());
                }
                let company = self.sync_company(&client, &payer, true)?;
                // Contacts of the payer's client join the company; `[sync] since` applies
                // to them as to the company (both are the client's).
                self.sync_contacts(&client, Some(&payer), company, true)?;
                self.report_unlinked(|u| u.candidates.iter().any(|c| c == &client.id));
            }
            EntityKind::Lead => {
                let service = match self.billing.service(elid) {
                    Err(e @ crate::billing::BillingError::NotFound { .. }) => {
                        // A bound service the panel purged: reported, not an unknown id.
                        let key = format!("service:{elid}");
                        let Some(b) = self.store.binding("lead", &key)? else {
                            return Err(e.into());
                        };
                        match self.purged(elid, b.amo_id)? {
                            purged::Purged::Listed => return Err(e.into()),
                            purged::Purged::Unseen(reason) => {
                                self.gap(EntityKind::Lead, &key, reason)
                            }
                            purged::Purged::Expected(detail) => self.record(vec![Outcome {
                                kind: EntityKind::Lead,
                                key,
                                action: Action::Skipped,
                                amo_id: Some(b.amo_id),
                                detail,
                                changes: vec![],
                                warnings: vec![],
                                rejected: false,
                                origin: (EntityKind::Lead, elid.to_string()),
                            }]),
                        }
                        return Ok(());
                    }
                    other => other?,
                };
                self.sync_service(&service, true)?;
            }
        }
        Ok(())
    }

    /// The payer that represents a client as a company, if any.
    fn company_payer<'p>(&self, payers: &'p [Payer]) -> Option<&'p Payer> {
        let all = self.rules.file.sync.individual_payers_as_companies;
        payers
            .iter()
            .find(|p| all || p.kind != PayerKind::Individual)
    }

    /// Company first, then every user of the client as a contact; returns user id → contact id.
    fn sync_client(
        &self,
        client: &Client,
        payers: &[Payer],
        root: bool,
    ) -> anyhow::Result<std::collections::BTreeMap<String, i64>> {
        let payer = self
            .prerequisites(EntityKind::Contact, client, payers)
            .company;
        let company = match payer {
            Some(p) => self.sync_company(client, p, root)?,
            None => None,
        };
        self.sync_contacts(client, payer.or(payers.first()), company, root)
    }

    /// Records that an entity could not be linked (see [`report::Gap`]).
    fn gap(&self, kind: EntityKind, key: &str, reason: String) {
        self.report.borrow_mut().gap(kind, key, reason);
    }

    /// Reports the BILLmanager rows `keep` selects that the reader could not tie to a
    /// client (a shared or unknown client name) or date: never guessed, each becomes a
    /// gap, queued for a re-run where one can help (once the panel is fixed).
    fn report_unlinked(&self, keep: impl Fn(&crate::billing::Unlinked) -> bool) {
        let mut report = self.report.borrow_mut();
        for u in self.billing.unlinked().into_iter().filter(|u| keep(u)) {
            let (kind, requeue) = match u.entity {
                "client" => (EntityKind::Contact, None),
                "user" => (
                    EntityKind::Contact,
                    u.candidates
                        .first()
                        .map(|c| (EntityKind::Contact, c.clone())),
                ),
                "payer" => (
                    EntityKind::Company,
                    Some((EntityKind::Company, u.id.clone())),
                ),
                _ => (EntityKind::Lead, Some((EntityKind::Lead, u.id.clone()))),
            };
            let key = format!("{}:{}", u.entity, u.id);
            report.gap(kind, &key, format!("not linked: {}", u.reason));
            report.requeue(kind, &key, requeue);
        }
    }

    fn record(&self, outcomes: Vec<Outcome>) {
        let mut r = self.report.borrow_mut();
        for o in outcomes {
            r.push(o);
        }
    }

    /// Applies plans (or records them as planned in a dry run); returns key → id.
    fn run_plans(
        &self,
        kind: EntityKind,
        plans: Vec<plan::Plan>,
    ) -> anyhow::Result<std::collections::BTreeMap<String, i64>> {
        if self.dry_run {
            let mut ids = std::collections::BTreeMap::new();
            let outcomes = plans
                .iter()
                .map(|p| {
                    if kind == EntityKind::Lead && matches!(p.op, plan::Op::Create(_)) {
                        self.dry_leads.borrow_mut().insert(p.key.clone());
                    }
                    let o = p.dry_outcome();
                    if let Some(id) = o.amo_id {
                        ids.insert(p.key.clone(), id);
                    }
                    o
                })
                .collect();
            self.record(outcomes);
            return Ok(ids);
        }
        let responsible = plan::responsible(&plans);
        self.followups_before(kind, &plans)?;
        let (ids, outcomes) = plan::apply(self.store, self.crm, kind, plans)?;
        self.after_applied(kind, &responsible, outcomes)?;
        Ok(ids)
    }

    /// After a group of plans is written: what the run now knows of the managers, the
    /// lifecycle's notes and tasks, and the report.
    fn after_applied(
        &self,
        kind: EntityKind,
        responsible: &std::collections::BTreeMap<String, Option<i64>>,
        mut outcomes: Vec<Outcome>,
    ) -> anyhow::Result<()> {
        // What we create, we know the manager of (`keep_client_manager` reads no GET for it);
        // kept only when that rule is on, as it grows by one entry per created entity.
        let keeps_managers = self
            .life
            .assignment
            .as_ref()
            .is_some_and(|a| a.keep_client_manager);
        if keeps_managers {
            let mut st = self.life_state.borrow_mut();
            for o in &outcomes {
                // Without one in the payload amoCRM picks it: leave that to a read.
                if let (report::Action::Created, Some(id), Some(Some(r))) =
                    (o.action, o.amo_id, responsible.get(&o.key))
                {
                    st.responsible.insert((kind, id), Some(*r));
                }
            }
        }
        self.record_filled(kind, &outcomes)?;
        self.lifecycle_after(kind, &mut outcomes)?;
        self.record(outcomes);
        Ok(())
    }
}
