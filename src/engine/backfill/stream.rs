//! [`Stream`]: a backfill as a [`WriteFeed`]. The amoCRM client asks it for the next writes
//! whenever a lane is free and hands it each answer; in between it reads the panel and plans.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use super::{Ahead, Input, Pipeline, Progress, LOCK_BREATHER};
use crate::billing::{IdList, Service};
use crate::crm::{BatchOutcome, CrmError, Link, Write, WriteFeed};
use crate::engine::order::{depends_on, ORDER};
use crate::engine::plan::{Applying, Plan};
use crate::engine::queue::{sends, Sends};
use crate::engine::Engine;
use crate::rules::EntityKind;

/// Plans of one kind written together, until every answer (and link) is in.
pub(super) struct Group {
    applying: Applying,
    responsible: BTreeMap<String, Option<i64>>,
    /// Keys marked as on their way.
    keys: Vec<String>,
    /// Links handed to the pool and not answered yet.
    links_open: usize,
}

/// The state of one backfill while its writes stream.
pub(super) struct Stream<'e, 'a> {
    pub(super) engine: &'e Engine<'a>,
    pub(super) pl: Pipeline,
    pub(super) input: Input,
    /// The run's clients, sorted (every one is fed before services are read).
    pub(super) client_ids: &'e IdList,
    pub(super) chunk: usize,
    /// Contacts wanted (not `--entity company`).
    pub(super) contacts: bool,
    pub(super) leads_wanted: bool,
    pub(super) since: chrono::NaiveDate,
    pub(super) progress: &'e dyn Progress,
    /// The hand-over with the form reader: a client chunk is read after its forms, so no
    /// form is read twice, and the reader stays at most two chunks ahead.
    pub(super) ahead: &'e Ahead,
    pub(super) groups: HashMap<u64, Group>,
    /// Create and update writes on their way: their group, and whether they are the
    /// group's updates (true) or creates (false).
    pub(super) writes: HashMap<u64, (u64, bool)>,
    /// Links waiting to fill a request, per kind, each with its group.
    pub(super) links: HashMap<EntityKind, Vec<(u64, Link)>>,
    /// Link writes on their way: the group of each link.
    pub(super) link_writes: HashMap<u64, Vec<u64>>,
    pub(super) next: u64,
    /// What stopped the run (a store error, a fatal amoCRM answer, a panel error).
    pub(super) error: Option<anyhow::Error>,
    pub(super) lock: Option<crate::lock::FileLock>,
    pub(super) locked_at: Instant,
}

impl Stream<'_, '_> {
    fn number(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// How many plans may wait (queued, or for what they depend on) before reading stops:
    /// a quarter of `max_in_flight` requests' worth, at least four. The benchmark showed
    /// that this keeps every lane as busy as a whole `max_in_flight`'s worth at a much
    /// lower peak, and that half of it starves the lanes (docs/benchmarks.md).
    fn read_ahead(&self) -> usize {
        (self.pl.lanes / 4).max(4) * self.pl.batch
    }

    fn input_done(&self) -> bool {
        matches!(self.input, Input::Done)
    }

    /// Moves from clients to services, or to the end.
    pub(super) fn next_phase(&mut self) -> anyhow::Result<()> {
        self.input = match self.input {
            Input::Clients(_) if self.leads_wanted => {
                let ids = self.engine.billing.service_id_list(self.since)?;
                self.progress.start(EntityKind::Lead, ids.len() as u64);
                Input::Services(ids, 0)
            }
            _ => {
                self.progress.phase(super::FINISHING);
                Input::Done
            }
        };
        Ok(())
    }

    /// Reads and feeds in the next chunk of clients or services.
    fn read_chunk(&mut self) -> anyhow::Result<()> {
        let e = self.engine;
        // The chunk's bindings are read ahead ([`crate::store::Store::prime_bindings`]);
        // the last chunk's are forgotten, so memory holds one chunk's.
        e.store.forget_primed();
        match &mut self.input {
            Input::Clients(pos) => {
                let part = self.client_ids.part(*pos, self.chunk);
                *pos += part.len();
                let end = *pos >= self.client_ids.len();
                self.ahead.start_chunk();
                let mut clients = Vec::with_capacity(part.len());
                for id in &part {
                    clients.push((e.billing.client(id)?, e.billing.payers_of(id)?));
                }
                let keys: Vec<String> = part.iter().map(|id| format!("client:{id}")).collect();
                crate::crash::point("read-before-planned", keys.iter().map(String::as_str));
                e.feed_clients(&mut self.pl, clients, self.contacts)?;
                self.progress
                    .advance(EntityKind::Contact, part.len() as u64);
                if end {
                    self.next_phase()?;
                }
            }
            Input::Services(ids, pos) => {
                let part: Vec<String> = ids.part(*pos, self.chunk);
                *pos += part.len();
                let end = *pos >= ids.len();
                let mut services: Vec<Service> = Vec::with_capacity(part.len());
                for id in &part {
                    match e.billing.service(id) {
                        Ok(s) => services.push(s),
                        // Reported with the other unlinked rows at the end; never guessed.
                        Err(crate::billing::BillingError::Unlinked { .. }) => {}
                        Err(err) => return Err(err.into()),
                    }
                }
                let keys: Vec<String> = part.iter().map(|id| format!("service:{id}")).collect();
                crate::crash::point("read-before-planned", keys.iter().map(String::as_str));
                e.feed_services(&mut self.pl, services, self.client_ids)?;
                self.progress.advance(EntityKind::Lead, part.len() as u64);
                if end {
                    self.progress.phase(super::FINISHING);
                    self.input = Input::Done;
                }
            }
            Input::Done => {}
        }
        Ok(())
    }

    /// Whether `kind` may go out in a partial request: nothing more can join it (the input
    /// is read and nothing it waits for is queued or on its way), or nothing is open at all.
    fn may_flush(&self, kind: EntityKind, idle: bool) -> bool {
        if idle {
            return true;
        }
        if !self.input_done() {
            return false;
        }
        // What depends on nothing never waits; the rest waits for the clients still to be
        // planned and for everything it depends on to be written.
        match depends_on(kind) {
            [] => true,
            deps => self.pl.clients.is_empty() && deps.iter().all(|k| !self.pl.busy(*k)),
        }
    }

    /// Hands out each kind's whole requests (and partial ones where [`Self::may_flush`]),
    /// in dependency order; returns how many groups left the queues.
    fn dispatch(
        &mut self,
        idle: bool,
        out: &mut Vec<(u64, EntityKind, Write)>,
    ) -> anyhow::Result<usize> {
        let mut groups = 0;
        for kind in ORDER {
            let all = self.may_flush(kind, idle);
            let batch = self.pl.batch;
            let plans = self.pl.queue_mut(kind).take(batch, all);
            for group in split(plans, batch) {
                self.start_group(kind, group, out)?;
                groups += 1;
            }
        }
        Ok(groups)
    }

    /// Starts writing one group: what needs no request is settled now.
    fn start_group(
        &mut self,
        kind: EntityKind,
        plans: Vec<Plan>,
        out: &mut Vec<(u64, EntityKind, Write)>,
    ) -> anyhow::Result<()> {
        let e = self.engine;
        if e.dry_run {
            e.run_plans(kind, plans)?;
            return Ok(());
        }
        let keys: Vec<String> = plans.iter().map(|p| p.key.clone()).collect();
        // Before `start`, which moves the bodies out of the plans.
        let responsible = crate::engine::plan::responsible(&plans);
        // Notes and tasks are stored before their entity's create goes out.
        e.followups_before(kind, &plans)?;
        let mut applying = Applying::start(e.store, kind, plans)?;
        let id = self.number();
        for patch in [false, true] {
            let items = applying.take_items(patch);
            if !items.is_empty() {
                let w = self.number();
                self.writes.insert(w, (id, patch));
                out.push((
                    w,
                    kind,
                    if patch {
                        Write::Update(items)
                    } else {
                        Write::Create(items)
                    },
                ));
            }
        }
        let flying = self.pl.flying.entry(kind).or_default();
        flying.extend(keys.iter().cloned());
        self.groups.insert(
            id,
            Group {
                applying,
                responsible,
                keys,
                links_open: 0,
            },
        );
        self.group_progress(id)
    }

    /// After a group's creates and updates are answered: what waited for them may be
    /// planned, its links go out, and once those are answered it is reported.
    fn group_progress(&mut self, id: u64) -> anyhow::Result<()> {
        let Some(g) = self.groups.get_mut(&id) else {
            return Ok(());
        };
        if g.applying.awaiting() || g.links_open > 0 {
            return Ok(());
        }
        let kind = g.applying.kind();
        if let Some(f) = self.pl.flying.get_mut(&kind) {
            for k in std::mem::take(&mut g.keys) {
                f.remove(&k);
            }
        }
        let links = g.applying.links();
        if !links.is_empty() {
            g.links_open = links.len();
            let pool = self.links.entry(kind).or_default();
            pool.extend(links.into_iter().map(|l| (id, l)));
            return Ok(());
        }
        self.finish_group(id)
    }

    /// Reports a group whose writes and links are all answered.
    fn finish_group(&mut self, id: u64) -> anyhow::Result<()> {
        let Some(g) = self.groups.remove(&id) else {
            return Ok(());
        };
        let kind = g.applying.kind();
        g.applying.links_made(self.engine.store)?;
        let (_, outcomes) = g.applying.finish();
        self.engine.after_applied(kind, &g.responsible, outcomes)
    }

    /// Hands out link requests: whole ones, and the rest of a kind once nothing of that
    /// kind is queued or on its way (or nothing at all is open).
    fn hand_out_links(&mut self, idle: bool, out: &mut Vec<(u64, EntityKind, Write)>) {
        let batch = self.pl.batch;
        for kind in ORDER {
            let quiet = idle || !self.pl.busy(kind);
            loop {
                let pool = self.links.entry(kind).or_default();
                if pool.is_empty() || (pool.len() < batch && !quiet) {
                    break;
                }
                let taken: Vec<(u64, Link)> = pool.drain(..pool.len().min(batch)).collect();
                let w = self.number();
                let (groups, links): (Vec<u64>, Vec<Link>) = taken.into_iter().unzip();
                self.link_writes.insert(w, groups);
                out.push((w, kind, Write::Link(links)));
            }
        }
    }

    /// Records a link request's answer: groups whose links are all made are reported.
    fn links_answered(&mut self, groups: Vec<u64>) -> anyhow::Result<()> {
        for id in groups {
            let Some(g) = self.groups.get_mut(&id) else {
                continue;
            };
            g.links_open -= 1;
            if g.links_open == 0 {
                self.finish_group(id)?;
            }
        }
        Ok(())
    }

    /// Lets the write lock go once nothing is open, every [`LOCK_BREATHER`]; false while
    /// writes must be held back for it.
    fn breathe(&mut self, idle: bool) -> anyhow::Result<bool> {
        if self.engine.dry_run {
            return Ok(true);
        }
        if self.lock.is_some() && self.locked_at.elapsed() < LOCK_BREATHER {
            return Ok(true);
        }
        if !idle {
            return Ok(false);
        }
        if self.lock.take().is_some() {
            // Longer than a waiter's poll (`lock::lock_within`), so a `sync` waiting for
            // the lock gets it before this run takes it back.
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        self.lock = self.engine.write_lock()?;
        self.locked_at = Instant::now();
        // Another process may have written while the lock was let go.
        self.engine.store.forget_primed();
        Ok(true)
    }

    /// The writes to start now.
    fn fill(&mut self, room: usize, idle: bool) -> anyhow::Result<Vec<(u64, EntityKind, Write)>> {
        let mut out = Vec::new();
        self.hand_out_links(false, &mut out);
        if !self.breathe(idle && out.is_empty())? {
            return Ok(out);
        }
        while out.len() < room {
            let e = self.engine;
            e.plan_waiting_contacts(&mut self.pl)?;
            e.plan_waiting_leads(&mut self.pl)?;
            self.pl.prune_owners();
            if self.dispatch(false, &mut out)? > 0 {
                continue;
            }
            // Read on only while the backlog is short: what waits for answers is planned
            // again on every call, and memory holds it.
            if !self.input_done() && self.pl.backlog() < self.read_ahead() {
                self.read_chunk()?;
                continue;
            }
            let stuck = idle && out.is_empty() && self.writes.is_empty();
            if self.dispatch(stuck, &mut out)? > 0 {
                continue;
            }
            self.hand_out_links(stuck, &mut out);
            break;
        }
        Ok(out)
    }

    /// What was not sent when the run stopped.
    pub(super) fn unsent(&self) -> super::Unsent {
        let (clients, services) = match &self.input {
            Input::Clients(pos) => (
                self.client_ids.len().saturating_sub(*pos),
                if self.leads_wanted { None } else { Some(0) },
            ),
            Input::Services(ids, pos) => (0, Some(ids.len().saturating_sub(*pos))),
            Input::Done => (0, Some(0)),
        };
        super::Unsent {
            planned: self.pl.backlog(),
            unfinished: self.groups.len(),
            clients,
            services,
        }
    }

    fn stop(&mut self, e: anyhow::Error) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// Records a create/update answer (or its error) for a group.
    fn items_answered(
        &mut self,
        group: u64,
        patch: bool,
        result: Result<BatchOutcome, CrmError>,
    ) -> anyhow::Result<()> {
        let store = self.engine.store;
        let Some(g) = self.groups.get_mut(&group) else {
            return Ok(());
        };
        match result {
            Ok(outcome) => {
                g.applying.answer(store, patch, outcome)?;
                g.applying.settle(patch, None)?;
            }
            Err(e) => g.applying.settle(patch, Some(e))?,
        }
        self.group_progress(group)
    }
}

impl WriteFeed for Stream<'_, '_> {
    fn more(&mut self, room: usize, idle: bool) -> Vec<(u64, EntityKind, Write)> {
        if self.error.is_some() {
            return Vec::new();
        }
        match self.fill(room.max(1), idle) {
            Ok(out) => out,
            Err(e) => {
                self.stop(e);
                Vec::new()
            }
        }
    }

    /// Reads ahead while requests are open, up to about `max_in_flight` requests' worth.
    fn meanwhile(&mut self) -> bool {
        if self.error.is_some() || self.input_done() {
            return false;
        }
        if self.pl.backlog() >= self.read_ahead() {
            return false;
        }
        match self.read_chunk() {
            Ok(()) => true,
            Err(e) => {
                self.stop(e);
                false
            }
        }
    }

    fn answered(&mut self, id: u64, result: Result<BatchOutcome, CrmError>) -> bool {
        let recorded = if let Some((group, patch)) = self.writes.remove(&id) {
            self.items_answered(group, patch, result)
        } else if let Some(groups) = self.link_writes.remove(&id) {
            // A link that failed stops the run, as in a `sync`: its entities stay bound
            // under a pending hash, so the next run makes the links.
            result
                .map_err(anyhow::Error::from)
                .and_then(|_| self.links_answered(groups))
        } else {
            Ok(())
        };
        if let Err(e) = recorded {
            self.stop(e);
        }
        self.error.is_none()
    }
}

/// Plans in groups of at most `batch` creates and `batch` updates each (plans that send
/// nothing go with the first group).
fn split(plans: Vec<Plan>, batch: usize) -> Vec<Vec<Plan>> {
    let mut groups: Vec<(usize, usize, Vec<Plan>)> = Vec::new();
    for p in plans {
        let sends = sends(&p);
        let fits = |g: &(usize, usize, Vec<Plan>)| match sends {
            Sends::Create => g.0 < batch,
            Sends::Update => g.1 < batch,
            Sends::Nothing => true,
        };
        let i = match groups.iter().position(fits) {
            Some(i) => i,
            None => {
                groups.push((0, 0, Vec::new()));
                groups.len() - 1
            }
        };
        let g = &mut groups[i];
        match sends {
            Sends::Create => g.0 += 1,
            Sends::Update => g.1 += 1,
            Sends::Nothing => {}
        }
        g.2.push(p);
    }
    groups.into_iter().map(|g| g.2).collect()
}
