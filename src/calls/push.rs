//! Sending a stored call to amoCRM: look the caller up, plan, write step by step.
//!
//! Invariants:
//! - A call is marked delivered only after `POST /api/v4/calls` answered with the call's id.
//! - Each write is recorded in the store as soon as amoCRM confirmed it (`call_steps`), so a
//!   push interrupted by an outage or a revoked token resumes without creating anything
//!   twice. A contact, lead or task whose answer was lost is found again by the lookups
//!   (phone search, open leads, open call-back tasks); a call whose answer was lost is
//!   looked for among the contact's and its leads' call notes before it is sent again.
//! - Pushes of calls hold the store's write lock, so the CGI handler and `replay-calls`
//!   never push the same call at once.
//! - Any failure leaves the call pending with its error for `replay-calls`.
//!
//! Reads go through the typed API ([`Crm::contacts_by_phone`], the product's one phone
//! lookup; [`Crm::get_many`], [`Crm::open_tasks`], [`Crm::notes_of`]). Writes are sent one by one with the
//! client's `post` and `patch`: a push fails with amoCRM's own rejection, where
//! [`Crm::create`] would record the item as rejected and go on.

use std::cell::OnceCell;
use std::time::Duration;

use serde_json::{json, Value};

use super::config::{resolve, CallRules};
use super::event::{CallEvent, Direction};
use super::plan::{
    callback_marker, decide, ContactStep, Decision, Known, KnownContact, KnownLead, LeadStep,
};
use super::setup::CallSetup;
use super::staff::Triage;
use crate::crm::amo::{AmoClient, AmoCrm};
use crate::crm::{Crm, CrmError};
use crate::lock::{lock_within, LockKind};
use crate::rules::{EntityKind, RuleSet};
use crate::store::{CallState, Store};

/// How long `calls ingest` (and the CGI handler after answering) may spend pushing: the
/// call is stored and answered first; what the push leaves waits for `replay-calls` (with
/// amoCRM down, retries used to hold the caller about a minute).
pub const INGEST_PUSH_BUDGET: Duration = Duration::from_secs(5);

/// Starts the bounded push time of `calls ingest` and the CGI handler: every amoCRM
/// request's retries end by [`INGEST_PUSH_BUDGET`] from now.
pub fn start_ingest_budget() {
    crate::crm::amo::retry::set_deadline(Some(std::time::Instant::now() + INGEST_PUSH_BUDGET));
}

/// Whether a push that failed with `status` would fail the same way for every later call
/// (authorization, amoCRM unreachable, the rule file, the lock): the rest are then recorded
/// as not sent with that error instead of being tried.
pub fn concerns_every_call(status: crate::status::ExitStatus) -> bool {
    use crate::status::ExitStatus as S;
    matches!(
        status,
        S::AuthNeeded | S::Unreachable | S::Usage | S::Locked
    )
}

/// Cache namespace remembering employees we already asked the senior manager to map.
const MAPPING_CACHE: &str = "calls-mapping-task";

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// amoCRM confirmed the call.
    Delivered {
        /// The call's id (its call note).
        amo_call_id: i64,
        /// `lead:ID` or `contact:ID`.
        entity: String,
        /// What was done.
        detail: String,
    },
    /// Nothing to send; the reason.
    Skipped(String),
    /// Already delivered or skipped (by another process, or earlier).
    Done(CallState),
}

/// Pushes stored calls through one amoCRM client.
pub struct Pusher<'a> {
    store: &'a Store,
    setup: &'a CallSetup,
    rules: &'a RuleSet,
    crm: &'a AmoCrm<'a>,
    resolved: OnceCell<CallRules>,
}

fn id_of(v: &Value) -> Option<i64> {
    v.get("id").and_then(Value::as_i64)
}

fn decode(request: &str, detail: &str) -> CrmError {
    CrmError::Decode {
        request: request.into(),
        detail: detail.into(),
    }
}

impl<'a> Pusher<'a> {
    /// A pusher; amoCRM's dictionaries are read at the first call that needs them.
    pub fn new(
        store: &'a Store,
        setup: &'a CallSetup,
        rules: &'a RuleSet,
        crm: &'a AmoCrm<'a>,
    ) -> Pusher<'a> {
        Pusher {
            store,
            setup,
            rules,
            crm,
            resolved: OnceCell::new(),
        }
    }

    fn client(&self) -> &AmoClient<'a> {
        self.crm.client()
    }

    fn resolved(&self) -> anyhow::Result<&CallRules> {
        if let Some(r) = self.resolved.get() {
            return Ok(r);
        }
        let dict = crate::crm::names::dictionaries(
            self.store,
            self.crm,
            &self.rules.file.amocrm.base_url,
        )?;
        let r = resolve(self.setup, self.rules, dict)?;
        Ok(self.resolved.get_or_init(|| r))
    }

    /// Pushes one stored call; on failure the call stays pending with the error.
    pub fn push(&self, id: i64) -> anyhow::Result<PushOutcome> {
        let _lock = lock_within(
            self.store.path(),
            LockKind::Write,
            "calls",
            Duration::from_secs(120),
        )?;
        let Some(row) = self.store.call(id)? else {
            anyhow::bail!("no stored call {id}");
        };
        if row.call.state != CallState::Pending {
            return Ok(PushOutcome::Done(row.call.state));
        }
        let e: CallEvent = serde_json::from_str(&row.call.event)
            .map_err(|err| anyhow::anyhow!("stored call {id} cannot be read: {err}"))?;
        match self.setup.triage(&e) {
            Triage::Push => {}
            Triage::Internal(why) => {
                let why = format!("internal call: {why}");
                self.store.call_skipped(id, &why, true)?;
                return Ok(PushOutcome::Skipped(why));
            }
            Triage::Skip(why) => {
                self.store.call_skipped(id, &why, false)?;
                return Ok(PushOutcome::Skipped(why));
            }
            Triage::Interim => return Ok(PushOutcome::Done(CallState::Interim)),
        }
        match self.deliver(id, &e) {
            Ok(o) => Ok(o),
            Err(err) => {
                let text = crate::log::redact(&format!("{err:#}"));
                self.store.call_failed(id, &text)?;
                Err(err)
            }
        }
    }

    fn deliver(&self, id: i64, e: &CallEvent) -> anyhow::Result<PushOutcome> {
        let rules = self.resolved()?;
        let phone = e.client_phone.clone().unwrap_or_default();
        let (contact, chosen) = match self.store.call_step(id, "contact")? {
            Some(Some(cid)) => (self.crm.contact_with_leads(cid)?, None),
            _ => self.find_contact(&phone)?,
        };
        let mut known = Known::default();
        if let Some(c) = &contact {
            let cid = id_of(c).unwrap_or(0);
            known.contact = Some(KnownContact {
                id: cid,
                responsible: c.get("responsible_user_id").and_then(Value::as_i64),
            });
            known.open_leads = self.open_leads(c)?;
            if e.direction == Direction::Inbound && e.status.is_missed() {
                known.open_callback_task = self.open_callback_task(cid)?;
            }
        }
        let employee_key = e.employee.as_ref().map(|x| x.label()).unwrap_or_default();
        known.mapping_task_recent = self
            .store
            .cache_get(MAPPING_CACHE, &employee_key, 86_400)?
            .is_some();
        let mut plan = match decide(e, self.setup, rules, &known) {
            Decision::Skip(why) => {
                self.store.call_skipped(id, &why, false)?;
                return Ok(PushOutcome::Skipped(why));
            }
            Decision::Push(p) => p,
        };
        plan.why.extend(chosen);
        let contact_id = match &plan.contact {
            ContactStep::Existing(cid) => *cid,
            ContactStep::Create(body) => {
                self.create_once(id, "contact", "contacts", body.clone())?
            }
        };
        let mut leads: Vec<i64> = known.open_leads.iter().map(|l| l.id).collect();
        match &plan.lead {
            Some(LeadStep::Create(body)) => {
                let mut body = body.clone();
                let embedded = body
                    .as_object_mut()
                    .expect("lead body is an object")
                    .entry("_embedded")
                    .or_insert_with(|| json!({}));
                embedded["contacts"] = json!([{ "id": contact_id, "is_main": true }]);
                leads.push(self.create_once(id, "lead", "leads", body)?);
            }
            Some(LeadStep::Fill(body)) => {
                self.client()
                    .patch("/api/v4/leads", &Value::Array(vec![body.clone()]))?;
            }
            None => {}
        }
        for t in &plan.tasks {
            let mut body = t.body.clone();
            body["entity_id"] = json!(contact_id);
            body["entity_type"] = json!("contacts");
            self.create_once(id, t.key, "tasks", body)?;
            if t.key == "task:mapping" {
                self.store.cache_put(MAPPING_CACHE, &employee_key, "1")?;
            }
        }
        let (amo_call_id, entity) = self.post_call(id, e, &plan.call, contact_id, &leads)?;
        let detail = plan.why.join("; ");
        self.store
            .call_delivered(id, amo_call_id, &entity, plan.responsible, &detail)?;
        Ok(PushOutcome::Delivered {
            amo_call_id,
            entity,
            detail,
        })
    }

    /// The contact whose PHONE holds the number ([`Crm::contacts_by_phone`]), and, when
    /// several do (an agency's clients, a family), which one was taken and why: the one
    /// bound to a panel client with an open lead bound to a service, else the most
    /// recently updated.
    fn find_contact(&self, phone: &str) -> anyhow::Result<(Option<Value>, Option<String>)> {
        let hits = self.crm.contacts_by_phone(phone, true)?;
        if hits.len() < 2 {
            return Ok((hits.into_iter().next(), None));
        }
        let ids: Vec<String> = hits
            .iter()
            .filter_map(id_of)
            .map(|i| i.to_string())
            .collect();
        // A client's own contact: bound to the panel, with an open lead bound to a service.
        for c in &hits {
            let Some(cid) = id_of(c) else { continue };
            if self.store.binding_by_amo("contact", cid)?.is_none() {
                continue;
            }
            for lead in self.open_leads(c)? {
                if self.store.binding_by_amo("lead", lead.id)?.is_some() {
                    let why = format!(
                        "phone {phone} is on contacts {}; took {cid}, the panel client's with open lead {}",
                        ids.join(", "),
                        lead.id
                    );
                    return Ok((Some(c.clone()), Some(why)));
                }
            }
        }
        let recent = hits
            .into_iter()
            .max_by_key(|c| {
                (
                    c.get("updated_at").and_then(Value::as_i64).unwrap_or(0),
                    id_of(c).unwrap_or(0),
                )
            })
            .expect("two hits or more");
        let why = format!(
            "phone {phone} is on contacts {} and none is a panel client's with an open lead; took the most recently updated, {}",
            ids.join(", "),
            id_of(&recent).unwrap_or(0)
        );
        Ok((Some(recent), Some(why)))
    }

    fn open_leads(&self, contact: &Value) -> anyhow::Result<Vec<KnownLead>> {
        let ids: Vec<i64> = contact
            .pointer("/_embedded/leads")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(id_of)
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .crm
            .get_many(EntityKind::Lead, &ids)?
            .iter()
            .filter(|l| {
                let status = l.get("status_id").and_then(Value::as_i64).unwrap_or(0);
                status != 142 && status != 143
            })
            .filter_map(|l| {
                Some(KnownLead {
                    id: id_of(l)?,
                    responsible: l.get("responsible_user_id").and_then(Value::as_i64),
                    filled_fields: l
                        .get("custom_fields_values")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter(|f| {
                            f.get("values")
                                .and_then(Value::as_array)
                                .is_some_and(|v| !v.is_empty())
                        })
                        .filter_map(|f| f.get("field_id").and_then(Value::as_i64))
                        .collect(),
                })
            })
            .collect())
    }

    /// Whether the contact has an open call-back task of ours (by id, or by its text).
    fn open_callback_task(&self, contact_id: i64) -> anyhow::Result<bool> {
        let marker = callback_marker(self.setup);
        for t in self.crm.open_tasks(EntityKind::Contact, &[contact_id])? {
            let text = t.get("text").and_then(Value::as_str).unwrap_or("");
            let ours = id_of(&t)
                .map(|i| self.store.is_callback_task(i))
                .transpose()?;
            if ours == Some(true) || (!marker.is_empty() && text.starts_with(marker)) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Creates one entity unless this call's push already did; returns its id.
    fn create_once(
        &self,
        call: i64,
        step: &str,
        collection: &str,
        mut body: Value,
    ) -> anyhow::Result<i64> {
        if let Some(Some(done)) = self.store.call_step(call, step)? {
            return Ok(done);
        }
        body["request_id"] = json!(format!("call-{call}-{step}"));
        let path = format!("/api/v4/{collection}");
        let answer = self.client().post(&path, &Value::Array(vec![body]))?;
        let id = answer
            .as_ref()
            .and_then(|v| v.pointer(&format!("/_embedded/{collection}/0/id")))
            .and_then(Value::as_i64)
            .ok_or_else(|| decode(&format!("POST {path}"), "no id in the answer"))?;
        self.store.call_step_set(call, step, Some(id))?;
        crate::log::verbose(&format!("call {call}: {step} → amoCRM id {id}"));
        Ok(id)
    }

    /// A call note with our `uniq` on the contact or its leads (a lost answer's call).
    fn find_call_note(
        &self,
        e: &CallEvent,
        contact_id: i64,
        leads: &[i64],
    ) -> anyhow::Result<Option<(i64, String)>> {
        let note_type = match e.direction {
            Direction::Inbound => "call_in",
            Direction::Outbound => "call_out",
        };
        let places = std::iter::once((EntityKind::Contact, contact_id))
            .chain(leads.iter().map(|l| (EntityKind::Lead, *l)));
        for (kind, id) in places {
            for n in self.crm.notes_of(kind, id)? {
                let ours = n.get("note_type").and_then(Value::as_str) == Some(note_type)
                    && n.pointer("/params/uniq").and_then(Value::as_str) == Some(&e.call_id);
                if let (true, Some(nid)) = (ours, id_of(&n)) {
                    return Ok(Some((nid, format!("{}:{id}", kind.as_str()))));
                }
            }
        }
        Ok(None)
    }

    fn post_call(
        &self,
        call: i64,
        e: &CallEvent,
        body: &Value,
        contact_id: i64,
        leads: &[i64],
    ) -> anyhow::Result<(i64, String)> {
        match self.store.call_step(call, "call")? {
            Some(Some(done)) => return Ok((done, format!("contact:{contact_id}"))),
            Some(None) => {
                if let Some((nid, entity)) = self.find_call_note(e, contact_id, leads)? {
                    self.store.call_step_set(call, "call", Some(nid))?;
                    return Ok((nid, entity));
                }
            }
            None => {}
        }
        self.store.call_step_set(call, "call", None)?;
        let mut body = body.clone();
        body["request_id"] = json!(format!("call-{call}"));
        let answer = match self
            .client()
            .post("/api/v4/calls", &Value::Array(vec![body]))
        {
            Ok(a) => a.unwrap_or(Value::Null),
            Err(err @ CrmError::Ambiguous { .. }) => return Err(err.into()),
            Err(err) => {
                self.store.call_step_clear(call, "call")?;
                return Err(err.into());
            }
        };
        let Some(item) = answer.pointer("/_embedded/calls/0") else {
            self.store.call_step_clear(call, "call")?;
            let why = answer
                .pointer("/errors/0/title")
                .and_then(Value::as_str)
                .unwrap_or("no call in the answer");
            return Err(decode("POST /api/v4/calls", why).into());
        };
        let nid = id_of(item).ok_or_else(|| decode("POST /api/v4/calls", "no call id"))?;
        let entity = format!(
            "{}:{}",
            item.get("entity_type")
                .and_then(Value::as_str)
                .unwrap_or("contact"),
            item.get("entity_id")
                .and_then(Value::as_i64)
                .unwrap_or(contact_id)
        );
        self.store.call_step_set(call, "call", Some(nid))?;
        Ok((nid, entity))
    }
}

#[cfg(test)]
mod every_call_tests {
    use super::concerns_every_call;
    use crate::status::ExitStatus as S;

    #[test]
    fn only_failures_every_later_call_would_hit_stop_the_others() {
        let table = [
            (S::Ok, false),
            (S::Partial, false),
            (S::Usage, true),
            (S::AuthNeeded, true),
            (S::Rejected, false),
            (S::Unreachable, true),
            (S::Locked, true),
        ];
        for (status, stops) in table {
            assert_eq!(concerns_every_call(status), stops, "{status:?}");
        }
    }
}
