//! `amocrm-bin nudge` (cron): tasks for what time alone makes urgent.
//!
//! - **Stuck trials** (`[lifecycle.nudge]`): a client whose trial is `trial_age_days` old and
//!   who has no paid order (no non-trial service active, suspended or being opened) gets one
//!   task for the responsible manager of the trial's lead (or of the client's contact).
//!   Never a second while one is open; another only `again_after_days` after the last.
//! - **Abandoned carts** (`[lifecycle.abandoned_cart]`): an order still unpaid `hours` after
//!   it was created moves its lead to the configured status (unless an operator closed it
//!   by hand) and gets a task — once per order.
//!
//! Both only look at what is already in amoCRM; an order not synced yet is reported and
//! picked up by the next run after `sync`/`backfill`/the hook created its lead.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use super::super::remote::Need;
use super::pullback::PullReport;
use super::{closed_by_hand, render, Engine, WON};
use crate::billing::{Service, ServiceStatus};
use crate::crm::Item;
use crate::rules::condition::{holds, Facts};
use crate::rules::lifecycle::{AbandonedCart, Nudge};
use crate::rules::EntityKind;
use crate::status::Classify as _;
use crate::store::{now, LifeTask};

/// One thing `nudge` looked at and what it did.
#[derive(Debug, Clone, Serialize)]
pub struct NudgeItem {
    /// `trial` or `cart`.
    pub what: &'static str,
    /// BILLmanager client id.
    pub client: String,
    /// BILLmanager service id.
    pub service: String,
    /// `task created`, `would create a task`, `skipped`, `failed`, …
    pub action: String,
    /// The amoCRM entity the task is (or would be) attached to.
    pub entity: Option<String>,
    /// The task created.
    pub task: Option<i64>,
    /// Why.
    pub detail: String,
    /// Its failure stops the run (amoCRM unreachable after the retries).
    #[serde(skip)]
    stops: bool,
}

/// What a `nudge` run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NudgeReport {
    /// The events pull before it, when `[lifecycle.pullback]` is on.
    pub pulled: Option<PullReport>,
    /// Every trial and order looked at closely.
    pub items: Vec<NudgeItem>,
    /// Tasks created.
    pub tasks_created: usize,
    /// Leads moved (abandoned carts).
    pub leads_moved: usize,
    /// Items that failed (amoCRM refused or was unreachable).
    pub failed: usize,
    /// Optional parts that failed (the events pull) while the nudges went on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub degraded: Vec<crate::engine::Degraded>,
    /// Set when amoCRM became unreachable: the first unreachable answer. The run stopped
    /// there (issue 22): the items after it were not looked at, and the exit code is 5.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// Items not looked at because the run stopped; the next `nudge` looks at them.
    pub not_looked_at: usize,
}

impl NudgeItem {
    fn new(what: &'static str, s: &Service, action: &str, detail: String) -> NudgeItem {
        NudgeItem {
            what,
            client: s.client_id.clone(),
            service: s.id.clone(),
            action: action.into(),
            entity: None,
            task: None,
            detail,
            stops: false,
        }
    }
}

/// A task `nudge` creates, recorded in the store as (purpose, subject).
struct NewTask<'a> {
    purpose: &'static str,
    subject: &'a str,
    entity: (EntityKind, i64),
    text: String,
    hours: u32,
    task_type: i64,
    responsible: Option<i64>,
}

/// Open tasks by the entity they are on.
type OpenTasks = BTreeMap<(EntityKind, i64), Vec<Value>>;

/// A cart or trial `nudge` looks at, before and after what it needs of amoCRM is read.
enum Step<'s> {
    /// Decided without amoCRM (`None`: nothing to report).
    Done(Option<NudgeItem>),
    Cart(CartDue<'s>),
    Trial(TrialDue<'s>),
}

/// An order unpaid for too long, with a lead.
struct CartDue<'s> {
    s: &'s Service,
    lead: i64,
    f: Facts,
    age: i64,
    cfg: &'s AbandonedCart,
    target: crate::store::Stage,
}

/// A stuck trial, with the entity its task goes to.
struct TrialDue<'s> {
    client: &'s str,
    trial: &'s Service,
    entity: (EntityKind, i64),
    f: Facts,
    age: i64,
    cfg: &'s Nudge,
}

/// The action of an item a stopped run did not look at.
pub const NOT_LOOKED_AT: &str = "not looked at";

/// An item the run did not look at because amoCRM became unreachable before it.
fn not_looked_at(what: &'static str, s: &Service) -> NudgeItem {
    NudgeItem::new(
        what,
        s,
        NOT_LOOKED_AT,
        "amoCRM became unreachable before it; the next `nudge` looks at it".into(),
    )
}

/// Text before the first placeholder: how our open tasks are recognised without the store.
fn text_prefix(template: &str) -> &str {
    template.split('{').next().unwrap_or("").trim()
}

impl Engine<'_> {
    /// Runs the trial and abandoned-cart checks as of `at`: the panel's wall clock
    /// ([`crate::billing::panel_now`]), the clock BILLmanager's dates are written in.
    pub fn nudge(&self, at: chrono::NaiveDateTime) -> anyhow::Result<NudgeReport> {
        let l = &self.rules.file.lifecycle;
        if l.nudge.is_none() && l.abandoned_cart.is_none() {
            return Err(crate::status::Failure::usage(
                "nothing to nudge: the rule file has neither `[lifecycle.nudge]` nor `[lifecycle.abandoned_cart]`",
                "add one of them (docs/lifecycle.md, examples/rules.toml)",
            )
            .into());
        }
        let mut report = NudgeReport {
            pulled: self.pull_if_enabled()?,
            ..NudgeReport::default()
        };
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        let mut by_client: BTreeMap<String, Vec<Service>> = BTreeMap::new();
        for id in self.billing.service_ids_since(epoch)? {
            let s = self.billing.service(&id)?;
            by_client.entry(s.client_id.clone()).or_default().push(s);
        }
        // First what each cart and trial needs to know of amoCRM, so the leads and contacts
        // are read in pages by id rather than one GET each.
        let mut steps: Vec<Step> = Vec::new();
        for (client, services) in &by_client {
            if l.abandoned_cart.is_some() {
                for s in services {
                    steps.push(self.cart_due(s, at)?);
                }
            }
            if l.nudge.is_some() {
                steps.push(self.trial_due(client, services, at)?);
            }
        }
        for kind in [EntityKind::Lead, EntityKind::Contact] {
            let ids = steps.iter().filter_map(|s| match s {
                Step::Cart(due) => (kind == EntityKind::Lead).then_some(due.lead),
                Step::Trial(due) => (due.entity.0 == kind).then_some(due.entity.1),
                Step::Done(_) => None,
            });
            self.prefetch_remote(kind, ids.map(|id| (id, Need::Stage)).collect::<Vec<_>>())?;
        }
        let open = self.trials_open_tasks(&steps)?;
        for step in steps {
            let item = match step {
                Step::Done(item) => item,
                // Stopped: nothing more is sent; what needed amoCRM waits for the next run.
                Step::Cart(due) if report.stopped.is_some() => Some(not_looked_at("cart", due.s)),
                Step::Trial(due) if report.stopped.is_some() => {
                    Some(not_looked_at("trial", due.trial))
                }
                Step::Cart(due) => Some(self.cart(due)?),
                Step::Trial(due) => Some(self.trial(due, open.as_ref())?),
            };
            if let Some(i) = item.as_ref().filter(|i| i.stops) {
                report.stopped.get_or_insert_with(|| i.detail.clone());
            }
            report.items.extend(item);
        }
        for i in &report.items {
            if i.task.is_some() {
                report.tasks_created += 1;
            }
            if i.action.contains("moved") {
                report.leads_moved += 1;
            }
            if i.action == "failed" {
                report.failed += 1;
            }
            if i.action == NOT_LOOKED_AT {
                report.not_looked_at += 1;
            }
        }
        report.degraded = self.report.borrow().degraded.clone();
        Ok(report)
    }

    fn service_facts(&self, s: &Service) -> anyhow::Result<crate::rules::condition::Facts> {
        let client = self.billing.client(&s.client_id)?;
        let payers = self.billing.payers_of(&client.id)?;
        Ok(self.lead_context(s, &client, &payers).2)
    }

    /// The lead of a service (its own or the one it joined).
    fn lead_of(&self, s: &Service) -> anyhow::Result<Option<i64>> {
        Ok(self
            .store
            .binding("lead", &format!("service:{}", s.id))?
            .map(|b| b.amo_id))
    }

    /// A failure of one item: fatal ones stop the run, others are reported; an unreachable
    /// amoCRM is reported on the item and stops the run after it.
    fn item_error(
        &self,
        what: &'static str,
        s: &Service,
        e: crate::crm::CrmError,
    ) -> anyhow::Result<NudgeItem> {
        if e.is_fatal() {
            return Err(e.into());
        }
        let mut item = NudgeItem::new(what, s, "failed", crate::log::redact(&e.to_string()));
        item.stops = e.stops_the_run();
        Ok(item)
    }

    fn create_task(&self, t: NewTask<'_>) -> Result<i64, crate::crm::CrmError> {
        let NewTask {
            purpose,
            subject,
            entity,
            text,
            hours,
            task_type,
            responsible,
        } = t;
        let mut body = json!({
            "task_type_id": task_type,
            "text": text,
            "complete_till": now() + i64::from(hours) * 3600,
            "entity_id": entity.1,
            "entity_type": entity.0.collection(),
            "request_id": format!("{purpose}:{subject}"),
        });
        if let Some(r) = responsible {
            body["responsible_user_id"] = Value::from(r);
        }
        let created = self.crm.create_tasks(vec![body])?;
        let id = created.first().map(|c| c.id).unwrap_or(0);
        if id != 0 {
            let t = LifeTask {
                task_id: id,
                entity_type: entity.0.collection().into(),
                entity_id: entity.1,
                created_at: now(),
            };
            if let Err(e) = self.store.life_task_put(purpose, subject, &t) {
                crate::log::warn(&format!(
                    "lifecycle: task {id} created but not recorded: {e}"
                ));
            }
        }
        Ok(id)
    }

    /// Whether an order is unpaid for too long and has a lead to look at.
    fn cart_due<'s>(
        &'s self,
        s: &'s Service,
        at: chrono::NaiveDateTime,
    ) -> anyhow::Result<Step<'s>> {
        let (Some(cfg), Some(target)) = (&self.rules.file.lifecycle.abandoned_cart, self.life.cart)
        else {
            return Ok(Step::Done(None));
        };
        if s.status != ServiceStatus::Ordered || s.trial {
            return Ok(Step::Done(None));
        }
        let Some(created) = s.created_at else {
            return Ok(Step::Done(None));
        };
        let age = (at - created).num_hours();
        if age < i64::from(cfg.hours) {
            return Ok(Step::Done(None));
        }
        let f = self.service_facts(s)?;
        if !holds(&cfg.when, &f) {
            return Ok(Step::Done(Some(NudgeItem::new(
                "cart",
                s,
                "skipped",
                "lifecycle.abandoned_cart.when does not hold".into(),
            ))));
        }
        if let Some(done) = self.store.life_tasks("cart", &s.id)?.first() {
            let mut item = NudgeItem::new(
                "cart",
                s,
                "skipped",
                format!("already handled: task {}", done.task_id),
            );
            item.entity = Some(format!("lead {}", done.entity_id));
            return Ok(Step::Done(Some(item)));
        }
        let Some(lead) = self.lead_of(s)? else {
            return Ok(Step::Done(Some(NudgeItem::new(
                "cart",
                s,
                "skipped",
                "no amoCRM lead yet (sync the service first)".into(),
            ))));
        };
        Ok(Step::Cart(CartDue {
            s,
            lead,
            f,
            age,
            cfg,
            target,
        }))
    }

    /// An order unpaid for too long: its lead moves to the configured status (unless an
    /// operator closed it by hand) and gets a task.
    fn cart(&self, due: CartDue<'_>) -> anyhow::Result<NudgeItem> {
        let CartDue {
            s,
            lead: lead_id,
            f,
            age,
            cfg,
            target,
        } = due;
        let lead = match self.remote(EntityKind::Lead, lead_id) {
            Ok(Some(l)) => l,
            Ok(None) => {
                return Ok(NudgeItem::new(
                    "cart",
                    s,
                    "skipped",
                    format!("lead {lead_id} was deleted in amoCRM"),
                ))
            }
            Err(e) => return self.item_error("cart", s, e),
        };
        let remote = (
            lead.get("pipeline_id").and_then(Value::as_i64).unwrap_or(0),
            lead.get("status_id").and_then(Value::as_i64).unwrap_or(0),
        );
        let known = self.store.life_lead(lead_id)?;
        let mut item = NudgeItem::new("cart", s, "", String::new());
        item.entity = Some(format!("lead {lead_id}"));
        if closed_by_hand(&known, remote.1) {
            item.action = "skipped".into();
            item.detail = format!(
                "closed by hand as `{}`: left alone",
                if remote.1 == WON { "won" } else { "lost" }
            );
            return Ok(item);
        }
        let text = render(&cfg.task_text, &f, &[("cart.hours", age.to_string())]);
        let moving = remote != target;
        if self.dry_run {
            item.action = if moving {
                "would move and create a task".into()
            } else {
                "would create a task".into()
            };
            item.detail = format!("unpaid for {age} hours: {text}");
            return Ok(item);
        }
        if moving {
            let body = json!({
                "id": lead_id, "pipeline_id": target.0, "status_id": target.1,
                "updated_by": 0, "request_id": format!("cart:{}", s.id),
            });
            let res = match self.crm.update(EntityKind::Lead, vec![Item::new(&body)]) {
                Ok(r) => r,
                Err(e) => return self.item_error("cart", s, e),
            };
            if let Some(r) = res.rejected.first() {
                item.action = "failed".into();
                item.detail = r
                    .errors
                    .iter()
                    .map(|e| format!("field `{}`: {} ({})", e.path, e.detail, e.code))
                    .collect::<Vec<_>>()
                    .join("; ");
                return Ok(item);
            }
            self.store.life_lead_set(lead_id, target, None)?;
        }
        let responsible = lead.get("responsible_user_id").and_then(Value::as_i64);
        match self.create_task(NewTask {
            purpose: "cart",
            subject: &s.id,
            entity: (EntityKind::Lead, lead_id),
            text: text.clone(),
            hours: cfg.task_hours,
            task_type: cfg.task_type,
            responsible,
        }) {
            Ok(id) => {
                item.task = Some(id);
                item.action = if moving {
                    format!("moved to `{}`, task created", self.stage_name(target))
                } else {
                    "task created".into()
                };
                item.detail = format!("unpaid for {age} hours: {text}");
            }
            Err(e) => return self.item_error("cart", s, e),
        }
        Ok(item)
    }

    /// The entities a trial's open warm-up task may be on: where the next would go, and
    /// where the ones this tool created went.
    fn trial_task_entities(
        &self,
        entity: (EntityKind, i64),
        ours: &[LifeTask],
    ) -> Vec<(EntityKind, i64)> {
        let mut on: Vec<(EntityKind, i64)> = vec![entity];
        for t in ours {
            let k = if t.entity_type == "contacts" {
                EntityKind::Contact
            } else {
                EntityKind::Lead
            };
            if !on.contains(&(k, t.entity_id)) {
                on.push((k, t.entity_id));
            }
        }
        on
    }

    /// The open tasks on every trial's entities, read together (a page per 50 entities)
    /// rather than once per trial; `None` when that failed short of a fatal error, and each
    /// trial then reads its own (and fails on its own).
    fn trials_open_tasks(&self, steps: &[Step<'_>]) -> anyhow::Result<Option<OpenTasks>> {
        let mut on: BTreeMap<EntityKind, Vec<i64>> = BTreeMap::new();
        for step in steps {
            if let Step::Trial(due) = step {
                let ours = self.store.life_tasks("nudge", due.client)?;
                for (k, id) in self.trial_task_entities(due.entity, &ours) {
                    on.entry(k).or_default().push(id);
                }
            }
        }
        let mut open = OpenTasks::new();
        for (kind, mut ids) in on {
            ids.sort_unstable();
            ids.dedup();
            match self.crm.open_tasks(kind, &ids) {
                Ok(tasks) => {
                    for id in ids {
                        open.entry((kind, id)).or_default();
                    }
                    for t in tasks {
                        if let Some(id) = t.get("entity_id").and_then(Value::as_i64) {
                            open.entry((kind, id)).or_default().push(t);
                        }
                    }
                }
                Err(e) if e.is_fatal() => return Err(e.into()),
                Err(_) => return Ok(None),
            }
        }
        Ok(Some(open))
    }

    /// A client's stuck trial, when there is one, with where its task would go.
    fn trial_due<'s>(
        &'s self,
        client: &'s str,
        services: &'s [Service],
        at: chrono::NaiveDateTime,
    ) -> anyhow::Result<Step<'s>> {
        let Some(cfg) = &self.rules.file.lifecycle.nudge else {
            return Ok(Step::Done(None));
        };
        let paid = services.iter().any(|s| {
            !s.trial
                && matches!(
                    s.status,
                    ServiceStatus::Active | ServiceStatus::Suspended | ServiceStatus::Processing
                )
        });
        let days = i64::from(cfg.trial_age_days);
        let mut trials: Vec<&Service> = services
            .iter()
            .filter(|s| s.trial)
            .filter(|s| s.created_at.is_some_and(|c| (at - c).num_days() >= days))
            .collect();
        trials.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        let Some(trial) = trials.first().copied() else {
            return Ok(Step::Done(None));
        };
        if paid {
            return Ok(Step::Done(None));
        }
        let age = trial.created_at.map(|c| (at - c).num_days()).unwrap_or(0);
        let f = self.service_facts(trial)?;
        if !holds(&cfg.when, &f) {
            return Ok(Step::Done(Some(NudgeItem::new(
                "trial",
                trial,
                "skipped",
                "lifecycle.nudge.when does not hold".into(),
            ))));
        }
        // Where the task goes: the trial's lead, else the client's contact.
        let mut entity = self.lead_of(trial)?.map(|id| (EntityKind::Lead, id));
        if entity.is_none() {
            let c = self.billing.client(client)?;
            for u in &c.users {
                if let Some(b) = self.store.binding("contact", &format!("user:{}", u.id))? {
                    entity = Some((EntityKind::Contact, b.amo_id));
                    break;
                }
            }
        }
        let Some(entity) = entity else {
            return Ok(Step::Done(Some(NudgeItem::new(
                "trial",
                trial,
                "skipped",
                "the client is not in amoCRM yet (sync it first)".into(),
            ))));
        };
        Ok(Step::Trial(TrialDue {
            client,
            trial,
            entity,
            f,
            age,
            cfg,
        }))
    }

    /// A stuck trial: one task for the entity's responsible manager, unless one is open or
    /// the last one is too recent.
    fn trial(&self, due: TrialDue<'_>, known: Option<&OpenTasks>) -> anyhow::Result<NudgeItem> {
        let TrialDue {
            client,
            trial,
            entity,
            f,
            age,
            cfg,
        } = due;
        let mut item = NudgeItem::new("trial", trial, "", String::new());
        item.entity = Some(format!("{} {}", entity.0.as_str(), entity.1));
        // Never a second task while one is open.
        let ours = self.store.life_tasks("nudge", client)?;
        let on = self.trial_task_entities(entity, &ours);
        let prefix = text_prefix(&cfg.task_text);
        for kind in [EntityKind::Lead, EntityKind::Contact] {
            let ids: Vec<i64> = on
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, i)| *i)
                .collect();
            if ids.is_empty() {
                continue;
            }
            let open = match known {
                Some(known) => ids
                    .iter()
                    .flat_map(|id| known.get(&(kind, *id)).into_iter().flatten().cloned())
                    .collect(),
                None => match self.crm.open_tasks(kind, &ids) {
                    Ok(o) => o,
                    Err(e) => return self.item_error("trial", trial, e),
                },
            };
            let hit = open.iter().find(|t| {
                let id = t.get("id").and_then(Value::as_i64).unwrap_or(0);
                let text = t.get("text").and_then(Value::as_str).unwrap_or("");
                ours.iter().any(|o| o.task_id == id)
                    || (!prefix.is_empty() && text.starts_with(prefix))
            });
            if let Some(t) = hit {
                item.action = "skipped".into();
                item.detail = format!(
                    "warm-up task {} is still open",
                    t.get("id").and_then(Value::as_i64).unwrap_or(0)
                );
                return Ok(item);
            }
        }
        if let Some(last) = ours.first() {
            let since = (now() - last.created_at) / 86_400;
            if since < i64::from(cfg.again_after_days) {
                item.action = "skipped".into();
                item.detail = format!(
                    "last warm-up task {} was created {since} days ago (again_after_days = {})",
                    last.task_id, cfg.again_after_days
                );
                return Ok(item);
            }
        }
        let text = render(&cfg.task_text, &f, &[("trial.days", age.to_string())]);
        let responsible = match self.remote(entity.0, entity.1) {
            Ok(Some(e)) => e.get("responsible_user_id").and_then(Value::as_i64),
            Ok(None) => {
                item.action = "skipped".into();
                item.detail = format!("{} {} was deleted in amoCRM", entity.0.as_str(), entity.1);
                return Ok(item);
            }
            Err(e) => return self.item_error("trial", trial, e),
        };
        if self.dry_run {
            item.action = "would create a task".into();
            item.detail = format!("trial {age} days old, no paid order: {text}");
            return Ok(item);
        }
        match self.create_task(NewTask {
            purpose: "nudge",
            subject: client,
            entity,
            text: text.clone(),
            hours: cfg.task_hours,
            task_type: cfg.task_type,
            responsible,
        }) {
            Ok(id) => {
                item.task = Some(id);
                item.action = "task created".into();
                item.detail = format!("trial {age} days old, no paid order: {text}");
            }
            Err(e) => return self.item_error("trial", trial, e),
        }
        Ok(item)
    }
}
