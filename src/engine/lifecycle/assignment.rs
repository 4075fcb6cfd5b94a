//! Manager assignment (`[lifecycle.assignment]`): who becomes responsible for a new lead,
//! contact or company.
//!
//! For a new lead, in order: the manager of the client's lost lead (a returning client), the
//! first `[[lifecycle.assignment.rules]]` that holds, a `[[pipelines]]` rule's
//! `responsible`, the client's manager, `[sync] responsible`. A client's manager is, in
//! order: the responsible user of the client's contact or company as amoCRM holds it now
//! (`keep_client_manager`), the manager recorded for the client earlier, the next user of
//! `round_robin`. New contacts and companies get the client's manager, so the whole card
//! belongs to one person. Existing entities are never reassigned.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::Engine;
use crate::billing::Client;
use crate::engine::companies::company_key;
use crate::engine::plan::{Op, Plan};
use crate::rules::condition::{holds, Facts};
use crate::rules::EntityKind;

impl Engine<'_> {
    fn active_user(&self, id: i64) -> bool {
        let users = &self.resolved.dict.users;
        users.is_empty() || users.iter().any(|u| u.id == id && u.active)
    }

    fn user_label(&self, id: i64) -> String {
        self.resolved
            .dict
            .users
            .iter()
            .find(|u| u.id == id)
            .map(|u| format!("{} ({id})", u.name))
            .unwrap_or_else(|| id.to_string())
    }

    /// The user after the last one handed out; `commit` moves the pointer.
    fn round_robin(&self, commit: bool) -> anyhow::Result<Option<i64>> {
        let Some(list) = self
            .life
            .assignment
            .as_ref()
            .map(|a| &a.round_robin)
            .filter(|l| !l.is_empty())
        else {
            return Ok(None);
        };
        let known = self.life_state.borrow().last_round_robin;
        let last = match known {
            Some(l) => l,
            None => {
                let l = self
                    .store
                    .life_value("round_robin")?
                    .and_then(|v| v.parse::<i64>().ok());
                self.life_state.borrow_mut().last_round_robin = Some(l);
                l
            }
        };
        let next = match last.and_then(|l| list.iter().position(|u| *u == l)) {
            Some(i) => list[(i + 1) % list.len()],
            None => list[0],
        };
        if commit {
            self.life_state.borrow_mut().last_round_robin = Some(Some(next));
            if !self.dry_run {
                self.store
                    .life_value_put("round_robin", &next.to_string())?;
            }
        }
        Ok(Some(next))
    }

    /// The responsible user of the client's contact or company as amoCRM holds it now.
    fn existing_manager(&self, client: &Client) -> anyhow::Result<Option<i64>> {
        let mut bound = Vec::new();
        for u in &client.users {
            if let Some(b) = self.store.binding("contact", &format!("user:{}", u.id))? {
                bound.push((EntityKind::Contact, b.amo_id));
            }
        }
        if bound.is_empty() {
            for p in self.billing.payers_of(&client.id)? {
                if let Some(b) = self.store.binding("company", &company_key(&p))? {
                    bound.push((EntityKind::Company, b.amo_id));
                }
            }
        }
        for (kind, id) in bound.into_iter().take(2) {
            if let Some(r) = self.responsible_of(kind, id)? {
                if self.active_user(r) {
                    return Ok(Some(r));
                }
            }
        }
        Ok(None)
    }

    /// An entity's responsible user: from what this run knows (created with it, or read
    /// in a page, [`Self::prefetch_managers`]), else one read (a single `sync`, or the one
    /// entity a batch left to it).
    fn responsible_of(&self, kind: EntityKind, id: i64) -> anyhow::Result<Option<i64>> {
        if let Some(r) = self.life_state.borrow().responsible.get(&(kind, id)) {
            return Ok(*r);
        }
        let r = self
            .remote(kind, id)?
            .and_then(|e| e.get("responsible_user_id").and_then(Value::as_i64));
        self.life_state
            .borrow_mut()
            .responsible
            .insert((kind, id), r);
        Ok(r)
    }

    /// Reads, in pages by id, the responsible users [`Self::existing_manager`] will need for
    /// these clients (when `keep_client_manager` is on), instead of one GET per entity.
    pub(in crate::engine) fn prefetch_managers<'c>(
        &self,
        clients: impl IntoIterator<Item = &'c Client>,
    ) -> anyhow::Result<()> {
        if !self
            .life
            .assignment
            .as_ref()
            .is_some_and(|a| a.keep_client_manager)
        {
            return Ok(());
        }
        let mut wanted: BTreeMap<EntityKind, BTreeSet<i64>> = BTreeMap::new();
        for client in clients {
            // Only a client with a contact to create asks for its manager, and only once.
            if self.life_state.borrow().fresh_clients.contains(&client.id) {
                continue;
            }
            let mut contacts = Vec::new();
            let mut unbound = false;
            for u in &client.users {
                match self.store.binding("contact", &format!("user:{}", u.id))? {
                    Some(b) => contacts.push(b.amo_id),
                    None => unbound = true,
                }
            }
            if !unbound {
                continue;
            }
            let (kind, ids) = if contacts.is_empty() {
                let mut companies = Vec::new();
                for p in self.billing.payers_of(&client.id)? {
                    if let Some(b) = self.store.binding("company", &company_key(&p))? {
                        companies.push(b.amo_id);
                    }
                }
                (EntityKind::Company, companies)
            } else {
                (EntityKind::Contact, contacts)
            };
            wanted
                .entry(kind)
                .or_default()
                .extend(ids.into_iter().take(2));
        }
        for (kind, ids) in wanted {
            let missing: Vec<i64> = {
                let st = self.life_state.borrow();
                ids.into_iter()
                    .filter(|id| !st.responsible.contains_key(&(kind, *id)))
                    .collect()
            };
            // One lazy GET costs no more than a page.
            if missing.len() < 2 {
                continue;
            }
            let found = self.crm.get_many(kind, &missing)?;
            let mut st = self.life_state.borrow_mut();
            for e in found {
                if let Some(id) = e.get("id").and_then(Value::as_i64) {
                    let r = e.get("responsible_user_id").and_then(Value::as_i64);
                    st.responsible.insert((kind, id), r);
                }
            }
        }
        Ok(())
    }

    /// The client's manager and why; `commit` hands out (and records) a round-robin pick.
    fn client_manager(
        &self,
        client: &Client,
        commit: bool,
    ) -> anyhow::Result<Option<(i64, String)>> {
        let Some(a) = self.life.assignment.as_ref() else {
            return Ok(None);
        };
        let recorded = self.store.life_client_manager(&client.id)?;
        let fresh = {
            let st = self.life_state.borrow();
            st.fresh_clients.contains(&client.id) && !st.adopted_clients.contains(&client.id)
        };
        if let (true, Some((m, src))) = (fresh, &recorded) {
            return Ok(Some((*m, src.clone())));
        }
        if a.keep_client_manager {
            if let Some(m) = self.existing_manager(client)? {
                if !self.dry_run && recorded.as_ref().map(|r| r.0) != Some(m) {
                    self.store
                        .life_client_manager_put(&client.id, m, "amoCRM")?;
                }
                let mut st = self.life_state.borrow_mut();
                st.fresh_clients.insert(client.id.clone());
                st.adopted_clients.remove(&client.id);
                return Ok(Some((m, "the client's manager in amoCRM".into())));
            }
        }
        if let Some((m, src)) = recorded {
            if self.active_user(m) {
                return Ok(Some((m, src)));
            }
        }
        let Some(next) = self.round_robin(commit)? else {
            return Ok(None);
        };
        if commit {
            self.remember_manager(client, next)?;
        }
        Ok(Some((next, "round-robin".into())))
    }

    fn remember_manager(&self, client: &Client, m: i64) -> anyhow::Result<()> {
        if !self.dry_run {
            self.store
                .life_client_manager_put(&client.id, m, "round-robin")?;
        }
        self.life_state
            .borrow_mut()
            .fresh_clients
            .insert(client.id.clone());
        Ok(())
    }

    /// The responsible user for a new (unbound) contact or company of `client`; `None`
    /// leaves `[sync] responsible`.
    pub(in crate::engine) fn new_entity_responsible(
        &self,
        client: &Client,
        kind: EntityKind,
        key: &str,
    ) -> anyhow::Result<Option<i64>> {
        if self.life.assignment.is_none() || self.store.binding(kind.as_str(), key)?.is_some() {
            return Ok(None);
        }
        Ok(self.client_manager(client, false)?.map(|(m, _)| m))
    }

    /// After a contact or company was planned: a create hands the client's manager out for
    /// good (an adopted entity keeps its own responsible, which then becomes the client's).
    pub(in crate::engine) fn entity_planned(
        &self,
        client: &Client,
        plan: &Plan,
        f: &Facts,
    ) -> anyhow::Result<()> {
        if let Op::Update {
            id,
            adopted: Some(_),
            ..
        } = plan.op
        {
            // The client was in amoCRM already: its manager is whoever amoCRM says.
            {
                let mut st = self.life_state.borrow_mut();
                st.adopted_clients.insert(client.id.clone());
                st.fresh_clients.remove(&client.id);
            }
            if self
                .life
                .assignment
                .as_ref()
                .is_some_and(|a| a.keep_client_manager)
            {
                // `upsert` noted it from the entity it adopted: no read here.
                let found = self
                    .responsible_of(plan.kind, id)?
                    .filter(|r| self.active_user(*r));
                if let Some(m) = found {
                    if !self.dry_run {
                        self.store
                            .life_client_manager_put(&client.id, m, "amoCRM")?;
                    }
                    let mut st = self.life_state.borrow_mut();
                    st.adopted_clients.remove(&client.id);
                    st.fresh_clients.insert(client.id.clone());
                }
            }
        }
        if !matches!(plan.op, Op::Create(_)) {
            return Ok(());
        }
        if plan.kind == EntityKind::Contact {
            self.link_note(EntityKind::Contact, &plan.key, f);
        }
        let Op::Create(payload) = &plan.op else {
            return Ok(());
        };
        if self.life.assignment.is_none()
            || self.life_state.borrow().fresh_clients.contains(&client.id)
            || self.store.life_client_manager(&client.id)?.is_some()
        {
            return Ok(());
        }
        let m = payload.get("responsible_user_id").and_then(|r| r.as_i64());
        if m.is_some() && self.round_robin(false)? == m {
            self.round_robin(true)?;
            self.remember_manager(client, m.unwrap_or_default())?;
        }
        Ok(())
    }

    /// The responsible user for a new lead and why, after the returning client's manager
    /// (decided by the caller); `None` leaves what `[[pipelines]]`/`[sync]` give.
    pub(super) fn lead_manager(
        &self,
        client: &Client,
        f: &Facts,
    ) -> anyhow::Result<Option<(i64, String)>> {
        let Some(a) = self.life.assignment.as_ref() else {
            return Ok(None);
        };
        if let Some((i, (_, user))) = a
            .rules
            .iter()
            .enumerate()
            .find(|(_, (when, _))| holds(when, f))
        {
            return Ok(Some((*user, format!("lifecycle.assignment.rules[{i}]"))));
        }
        if self
            .resolved
            .pipelines
            .iter()
            .find(|p| holds(&p.when, f))
            .and_then(|p| p.responsible)
            .is_some()
        {
            return Ok(None);
        }
        self.client_manager(client, true)
    }

    /// What the payload hash covers. When lifecycle rules pick the responsible user of new
    /// entities (which is only sent on create), it is left out: a later run computes the
    /// payload of the then bound entity without that choice, and must see "unchanged".
    pub(in crate::engine) fn hash_view(&self, payload: &Value) -> Value {
        let picks = self.life.assignment.is_some()
            || self
                .rules
                .file
                .lifecycle
                .lost_returns
                .as_ref()
                .is_some_and(|l| l.enabled);
        if !picks {
            return payload.clone();
        }
        let mut v = payload.clone();
        if let Some(o) = v.as_object_mut() {
            o.remove("responsible_user_id");
        }
        v
    }

    /// Report line for a responsible user chosen by lifecycle rules.
    pub(super) fn responsible_change(&self, id: i64, why: &str) -> (String, String) {
        (
            "responsible".into(),
            format!("{} ({why})", self.user_label(id)),
        )
    }
}
