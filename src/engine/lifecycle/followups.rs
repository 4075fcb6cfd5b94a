//! Notes and tasks that follow a create (issue 22): part of the write they belong to.
//!
//! - **Before** the create request is sent ([`Engine::followups_before`]) each note and task
//!   planned for the entity is stored with its own idempotency key
//!   (`<kind>:<bm key>:note:<n>`, `<purpose>:<subject>` for tasks). A run that dies after
//!   amoCRM created the entity but before the binding was stored loses nothing: the next
//!   run adopts the orphan, binds it, and the stored rows become due.
//! - **Sending** ([`Engine::send_followups`]): after each batch for the entities it wrote,
//!   and for everything due at the end of `sync`, `backfill` and `drain`
//!   ([`Engine::flush_followups`]). A row is marked `sending` before its POST and removed
//!   once amoCRM took it; a failure keeps it, is named in the report and makes the run
//!   "partial". Each row is tried at most once per run.
//! - **Exactly once**: a row still marked `sending` (the run died after the POST, or the
//!   answer was lost) is looked up in amoCRM (the entity's notes, its open tasks: same
//!   text) before it is sent again.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::{Engine, Target};
use crate::crm::CrmError;
use crate::engine::plan::{Op, Plan};
use crate::engine::report::QueuedFollowUp;
use crate::rules::EntityKind;
use crate::status::Classify as _;
use crate::store::{FollowUp, FollowUpKind, FollowUpTask, LifeTask};

/// Rows read from the store at a time.
const PAGE: usize = 10_000;

/// The text as sent: `{new.id}` is the entity's amoCRM id.
fn text_of(f: &FollowUp, id: i64) -> String {
    f.text.replace("{new.id}", &id.to_string())
}

/// Where a note goes: another entity of the same kind, or the entity itself.
fn note_target(f: &FollowUp, id: i64) -> i64 {
    f.target_id.unwrap_or(id)
}

/// The request body of a follow-up whose entity is `id`.
fn body(f: &FollowUp, kind: EntityKind, id: i64) -> Value {
    match &f.task {
        Some(t) => {
            let mut b = json!({
                "task_type_id": t.task_type,
                "text": text_of(f, id),
                "complete_till": crate::store::now() + t.hours * 3600,
                "entity_id": id,
                "entity_type": kind.collection(),
                "request_id": f.key,
            });
            if let Some(r) = t.responsible {
                b["responsible_user_id"] = Value::from(r);
            }
            b
        }
        None => json!({
            "entity_id": note_target(f, id),
            "note_type": "common",
            "params": {"text": text_of(f, id)},
            "request_id": f.key,
        }),
    }
}

/// The kind a row names (`contact`, `company`, `lead`).
fn kind_of(s: &str) -> Option<EntityKind> {
    [EntityKind::Contact, EntityKind::Company, EntityKind::Lead]
        .into_iter()
        .find(|k| k.as_str() == s)
}

/// Whether amoCRM said no (the data, the entity), rather than being out of reach: a second
/// refusal parks the row.
fn refused(e: &CrmError) -> bool {
    matches!(
        e,
        CrmError::Validation { .. } | CrmError::Http { .. } | CrmError::Forbidden { .. }
    )
}

/// Whether a failed request may still have been applied (its answer was lost).
fn maybe_sent(e: &CrmError) -> bool {
    matches!(e, CrmError::Ambiguous { .. } | CrmError::Decode { .. })
}

impl Engine<'_> {
    /// Stores the notes and tasks planned for the creates among `plans`, before their
    /// create request is sent (see the module docs). Not in a dry run.
    pub(in crate::engine) fn followups_before(
        &self,
        kind: EntityKind,
        plans: &[Plan],
    ) -> anyhow::Result<()> {
        if self.dry_run {
            return Ok(());
        }
        let mut rows = Vec::new();
        for p in plans {
            if !matches!(p.op, Op::Create(_)) {
                continue;
            }
            let (notes, tasks) = {
                let mut st = self.life_state.borrow_mut();
                let Some(pending) = st.pending.get_mut(&(kind, p.key.clone())) else {
                    continue;
                };
                (
                    std::mem::take(&mut pending.notes),
                    std::mem::take(&mut pending.tasks),
                )
            };
            if notes.is_empty() && tasks.is_empty() {
                continue;
            }
            // Bound by another run meanwhile: that run created it, and its follow-ups.
            if self.store.binding(kind.as_str(), &p.key)?.is_some() {
                continue;
            }
            let row = |key: String, what, target_id, text: String, task| FollowUp {
                key,
                kind: kind.as_str().into(),
                bm_id: p.key.clone(),
                what,
                target_id,
                text,
                task,
                sending: false,
                parked: false,
                attempts: 0,
                last_error: None,
                entity_id: None,
            };
            for (n, note) in notes.into_iter().enumerate() {
                let target = match note.on {
                    Target::New => None,
                    Target::Id(x) => Some(x),
                };
                rows.push(row(
                    format!("{}:{}:note:{n}", kind.as_str(), p.key),
                    FollowUpKind::Note,
                    target,
                    note.text,
                    None,
                ));
            }
            for t in tasks {
                rows.push(row(
                    format!("{}:{}", t.purpose, t.subject),
                    FollowUpKind::Task,
                    None,
                    t.text,
                    Some(FollowUpTask {
                        task_type: t.task_type,
                        hours: i64::from(t.hours),
                        responsible: t.responsible,
                        purpose: t.purpose.into(),
                        subject: t.subject,
                    }),
                ));
            }
        }
        if !rows.is_empty() {
            self.store.followups_put(&rows)?;
        }
        Ok(())
    }

    /// The follow-ups that failed in this run (a drain hands them to its next engine with
    /// [`Engine::followups_failed_before`], so one drain tries each once and counts it once).
    pub fn followups_failed(&self) -> BTreeSet<String> {
        self.life_state.borrow().followups_tried.clone()
    }

    /// Follow-ups that failed earlier in this run, under another engine: not tried again.
    pub fn followups_failed_before(&self, keys: &BTreeSet<String>) {
        self.life_state
            .borrow_mut()
            .followups_tried
            .extend(keys.iter().cloned());
    }

    /// Sends every due note and task not tried in this run yet (end of `sync`, `backfill`,
    /// `drain`), and reports how many still wait for their entity. Under the write lock, as
    /// the sends after a batch are: two processes never send the same row at once. Call it
    /// when the engine holds no write lock (after `sync` or `backfill` returned).
    pub fn flush_followups(&self) -> anyhow::Result<()> {
        if self.dry_run {
            return Ok(());
        }
        if self.store.followup_counts()?.due > 0 {
            let _lock = crate::lock::lock_within(
                self.store.path(),
                crate::lock::LockKind::Write,
                "notes and tasks",
                std::time::Duration::from_secs(300),
            )?;
            self.send_followups(None)?;
        }
        let waiting = self.store.followup_counts()?.waiting;
        self.report.borrow_mut().followups.waiting = waiting;
        Ok(())
    }

    /// Sends the due follow-ups of `only` (kind, BILLmanager key), or all of them; each row
    /// at most once per run. Fatal errors (authorization, a blocked or unpaid account) stop
    /// the run; any other failure is queued and reported.
    pub(in crate::engine) fn send_followups(
        &self,
        only: Option<&BTreeSet<(EntityKind, String)>>,
    ) -> anyhow::Result<()> {
        if self.dry_run {
            return Ok(());
        }
        if let Some(only) = only {
            let mut due = Vec::new();
            for (kind, key) in only {
                for f in self.store.followups_of(kind.as_str(), key)? {
                    if !self.life_state.borrow().followups_tried.contains(&f.key) {
                        due.push((*kind, f));
                    }
                }
            }
            return self.send_due(due);
        }
        let mut after = String::new();
        loop {
            let page = self.store.followups_due(&after, PAGE)?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = last.key.clone();
            let due: Vec<(EntityKind, FollowUp)> = {
                let st = self.life_state.borrow();
                page.into_iter()
                    .filter(|f| !st.followups_tried.contains(&f.key))
                    .filter_map(|f| Some((kind_of(&f.kind)?, f)))
                    .collect()
            };
            self.send_due(due)?;
        }
    }

    /// Sends one page of due follow-ups.
    fn send_due(&self, due: Vec<(EntityKind, FollowUp)>) -> anyhow::Result<()> {
        if due.is_empty() {
            return Ok(());
        }
        crate::crash::point(
            "bound-before-followups",
            due.iter()
                .flat_map(|(_, f)| [f.bm_id.as_str(), f.key.as_str()]),
        );
        // Grouped per request: (entity kind, note or task).
        let mut groups: BTreeMap<(EntityKind, &'static str), Vec<FollowUp>> = BTreeMap::new();
        for (kind, f) in due {
            groups.entry((kind, f.what.as_str())).or_default().push(f);
        }
        let batch = self.rules.file.amocrm.batch_size.clamp(1, 250);
        for ((kind, _), rows) in groups {
            let (in_flight, fresh): (Vec<FollowUp>, Vec<FollowUp>) =
                rows.into_iter().partition(|f| f.sending);
            let mut to_send = fresh;
            to_send.extend(self.settle_in_flight(kind, in_flight)?);
            for chunk in to_send.chunks(batch) {
                self.send_chunk(kind, chunk)?;
            }
        }
        Ok(())
    }

    /// Rows marked `sending` by an earlier run: those amoCRM has are cleared (tasks are
    /// recorded), the rest are returned to be sent. Compared by text on the same entity.
    fn settle_in_flight(
        &self,
        kind: EntityKind,
        rows: Vec<FollowUp>,
    ) -> anyhow::Result<Vec<FollowUp>> {
        if rows.is_empty() {
            return Ok(rows);
        }
        let id = |f: &FollowUp| f.entity_id.unwrap_or(0);
        // What amoCRM holds, per entity: (entity id, text) → amoCRM ids (notes: 0).
        let mut held: BTreeMap<(i64, String), Vec<i64>> = BTreeMap::new();
        let looked = if rows[0].what == FollowUpKind::Task {
            let ids: Vec<i64> = rows
                .iter()
                .map(id)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            self.crm.open_tasks(kind, &ids).map(|tasks| {
                for t in tasks {
                    let e = t.get("entity_id").and_then(Value::as_i64).unwrap_or(0);
                    let text = t.get("text").and_then(Value::as_str).unwrap_or("");
                    let tid = t.get("id").and_then(Value::as_i64).unwrap_or(0);
                    held.entry((e, text.to_string())).or_default().push(tid);
                }
            })
        } else {
            let targets: BTreeSet<i64> = rows.iter().map(|f| note_target(f, id(f))).collect();
            targets.into_iter().try_for_each(|target| {
                for n in self.crm.notes_of(kind, target)? {
                    let text = n.pointer("/params/text").and_then(Value::as_str);
                    held.entry((target, text.unwrap_or("").to_string()))
                        .or_default()
                        .push(0);
                }
                Ok(())
            })
        };
        if let Err(e) = looked {
            if e.is_fatal() {
                return Err(e.into());
            }
            let error = format!(
                "could not check whether amoCRM has it (sent before the last run stopped): {}",
                crate::log::redact(&e.to_string())
            );
            for f in &rows {
                self.store.followup_failed(&f.key, &error, true, false)?;
                self.queued(kind, f, &error);
            }
            return Ok(Vec::new());
        }
        let mut resend = Vec::new();
        let mut found = Vec::new();
        for f in rows {
            let entity = match f.what {
                FollowUpKind::Task => id(&f),
                FollowUpKind::Note => note_target(&f, id(&f)),
            };
            match held
                .get_mut(&(entity, text_of(&f, id(&f))))
                .and_then(|v| v.pop())
            {
                Some(task_id) => {
                    if let Some(t) = &f.task {
                        self.record_task(kind, t, task_id, id(&f))?;
                    }
                    found.push(f.key);
                }
                None => {
                    self.store.followup_not_sent(&f.key)?;
                    resend.push(f);
                }
            }
        }
        let keys: Vec<&str> = found.iter().map(String::as_str).collect();
        self.store.followups_done(&keys)?;
        self.report.borrow_mut().followups.found_sent += found.len() as u64;
        Ok(resend)
    }

    /// One request of notes or tasks (all of one kind).
    fn send_chunk(&self, kind: EntityKind, rows: &[FollowUp]) -> anyhow::Result<()> {
        let bodies: Vec<Value> = rows
            .iter()
            .map(|f| body(f, kind, f.entity_id.unwrap_or(0)))
            .collect();
        let keys: Vec<&str> = rows.iter().map(|f| f.key.as_str()).collect();
        self.store.followups_sending(&keys)?;
        let tasks = rows[0].what == FollowUpKind::Task;
        let result = if tasks {
            self.crm.create_tasks(bodies).map(Some)
        } else {
            self.crm.add_notes(kind, bodies).map(|()| None)
        };
        match result {
            Ok(created) => {
                crate::crash::point(
                    "followup-sent-before-cleared",
                    rows.iter().flat_map(|f| [f.bm_id.as_str(), f.key.as_str()]),
                );
                let mut done = Vec::new();
                for f in rows {
                    let confirmed = match (&created, &f.task) {
                        (Some(created), Some(t)) => {
                            match created.iter().find(|c| c.request_id == f.key) {
                                Some(c) => {
                                    self.record_task(kind, t, c.id, f.entity_id.unwrap_or(0))?;
                                    true
                                }
                                None => false,
                            }
                        }
                        _ => true,
                    };
                    if confirmed {
                        done.push(f.key.as_str());
                    } else {
                        // Kept `sending`: the next run looks for it before sending again.
                        let error = "amoCRM did not confirm the task";
                        self.store.followup_failed(&f.key, error, true, false)?;
                        self.queued(kind, f, error);
                    }
                }
                self.store.followups_done(&done)?;
                let mut r = self.report.borrow_mut();
                if tasks {
                    r.followups.tasks_sent += done.len() as u64;
                } else {
                    r.followups.notes_sent += done.len() as u64;
                }
                Ok(())
            }
            Err(e) => {
                let error = crate::log::redact(&e.to_string());
                for f in rows {
                    self.store
                        .followup_failed(&f.key, &error, maybe_sent(&e), refused(&e))?;
                    self.queued(kind, f, &error);
                }
                if e.is_fatal() {
                    return Err(e.into());
                }
                Ok(())
            }
        }
    }

    /// Remembers a task amoCRM created, as `nudge` does, so none is created twice.
    fn record_task(
        &self,
        kind: EntityKind,
        t: &FollowUpTask,
        task_id: i64,
        entity_id: i64,
    ) -> anyhow::Result<()> {
        self.store.life_task_put(
            &t.purpose,
            &t.subject,
            &LifeTask {
                task_id,
                entity_type: kind.collection().into(),
                entity_id,
                created_at: crate::store::now(),
            },
        )?;
        Ok(())
    }

    /// Names a follow-up that stays queued in the report.
    fn queued(&self, kind: EntityKind, f: &FollowUp, error: &str) {
        crate::log::verbose(&format!(
            "{} {} of {} {} queued: {error}",
            f.what.as_str(),
            f.key,
            kind.as_str(),
            f.bm_id
        ));
        // Tried in this run: not again until the next one. (Rows sent are gone from the
        // store, so only failures need remembering; a backfill sends 400 000 of these.)
        self.life_state
            .borrow_mut()
            .followups_tried
            .insert(f.key.clone());
        self.report.borrow_mut().followups.queue(QueuedFollowUp {
            what: f.what.as_str().into(),
            key: f.key.clone(),
            kind,
            entity: f.bm_id.clone(),
            error: error.to_string(),
        });
    }
}
