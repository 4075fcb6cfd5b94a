//! Backfill: everything created since a date, at the API's speed limit.
//!
//! BILLmanager entities are read in chunks; each chunk's companies, contacts and leads are
//! planned and queued per kind ([`Queue`]), and a kind is written only in whole requests of
//! `batch_size` (up to 250), across chunk boundaries: only the last request of each kind is
//! partial. So a fresh account costs about one request per 250 entities plus links. What
//! depends on a queued entity waits for it: a client's contacts for its company's id, a
//! service's lead for its client's contacts and company, and a re-order for the lead it may
//! join. Lookups of entities amoCRM may already have (created by the website, or by an
//! interrupted run) use an index built by one paged walk per kind instead of one search per
//! entity.
//!
//! The writes stream ([`Stream`], a [`WriteFeed`]): the amoCRM client keeps up to
//! `[amocrm] max_in_flight` requests open under the shared pacer and asks for the next
//! write whenever one is answered, while the panel is read and the next chunk planned in
//! the meantime; each answer's bindings are written as it arrives. So a run is paced by the
//! rate limit, not by rounds of requests waiting for the slowest answer, and a kind's
//! requests overlap the next kind's as soon as what those depend on exists.
//!
//! Memory stays flat: only ids are listed up front; entities are read chunk by chunk, and
//! what waits to be written is about a quarter of `max_in_flight` requests' worth (at least
//! four), besides the `max_in_flight` requests on their way.
//! Interrupted runs resume without duplicates: bindings are written as answers arrive, and
//! an entity created just before a crash is adopted through the index on the next run. A
//! plan that waited for a full request while another process (a `sync`) bound its entity is
//! applied as "unchanged" (see [`Applying::start`]). The write lock is held while writes are
//! open and let go for a moment every [`LOCK_BREATHER`], so an operator's `sync` waits
//! seconds, not the whole backfill.

mod ahead;
mod stream;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use super::companies::company_key;
use super::queue::Queue;
use super::Engine;
use crate::billing::{Client, IdList, Payer, Service};
use crate::rules::EntityKind;
use ahead::{Ahead, FinishGuard, StopGuard};
use stream::Stream;

/// How long the write lock is held before it is let go for a moment (once the open writes
/// are answered), so a `sync` or a call push waiting for it gets its turn.
pub const LOCK_BREATHER: Duration = Duration::from_secs(30);

/// Receives progress (the CLI draws bars with it).
pub trait Progress {
    /// What the run is doing now ([`READING_LISTS`], [`SENDING`], [`FINISHING`]), so a bar
    /// at 0 while the panel answers, or at 100% while writes are still open, says why.
    fn phase(&self, what: &'static str);
    /// A phase starts with `total` items.
    fn start(&self, kind: EntityKind, total: u64);
    /// `n` more items are done.
    fn advance(&self, kind: EntityKind, n: u64);
}

/// The phase while the panel's lists are read, before any item is counted.
pub const READING_LISTS: &str = "reading the panel's lists";
/// The phase while items are read, planned and sent.
pub const SENDING: &str = "reading, planning and sending";
/// The phase once every item is read and planned: the last writes are still on their way.
pub const FINISHING: &str = "every item read and planned; waiting for amoCRM's last answers";

/// No progress display.
pub struct Silent;

impl Progress for Silent {
    fn phase(&self, _: &'static str) {}
    fn start(&self, _: EntityKind, _: u64) {}
    fn advance(&self, _: EntityKind, _: u64) {}
}

/// What a backfill that amoCRM's outage stopped did not send. Nothing of it is lost: the
/// entities written are bound, those whose request failed are queued in the outbox (the
/// CLI puts them there), and the rest is sent by the next `backfill --since` with the same
/// date, which finds what exists through the bindings and the lookup index.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Unsent {
    /// Entities planned and not sent (queued, or waiting for what they link to).
    pub planned: usize,
    /// Groups of writes not finished: answers or links that were not all in (their
    /// entities are bound as written; the next run makes the missing links).
    pub unfinished: usize,
    /// BILLmanager clients not read yet.
    pub clients: usize,
    /// BILLmanager services not read yet; `None` when they were not even listed (all).
    pub services: Option<usize>,
}

/// The context of an error that stopped a backfill because amoCRM became unreachable: the
/// error chain still ends in the `CrmError` (exit 5 and its hint); this says what was not
/// sent and how it gets sent.
#[derive(Debug, Clone)]
pub struct Stopped {
    /// The run's `--since`, for the command that sends the rest.
    pub since: chrono::NaiveDate,
    /// What was not sent.
    pub unsent: Unsent,
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let u = &self.unsent;
        let services = match u.services {
            Some(n) => n.to_string(),
            None => "all".into(),
        };
        write!(
            f,
            // Three short lines, so a terminal or a cron mail shows each whole.
            "the backfill stopped at amoCRM's first unreachable answer and sent nothing after \
             it\n  not sent: {} planned entities, {} groups of writes not finished, {} clients \
             and {services} services not read yet\n  Nothing was lost: what was written is \
             bound, what failed is queued in the outbox, and `amocrm-bin backfill --since {}` \
             sends the rest without duplicates",
            u.planned, u.unfinished, u.clients, self.since
        )
    }
}

/// What to send.
#[derive(Debug, Clone)]
pub struct BackfillOptions {
    /// First creation date.
    pub since: chrono::NaiveDate,
    /// Only this kind: contacts (with the companies they link to), companies alone, or
    /// leads (with the contacts and companies they link to).
    pub only: Option<EntityKind>,
    /// BILLmanager entities read per chunk.
    pub chunk: usize,
}

/// Where reading the panel is: client ids from a position, then service ids, then done.
enum Input {
    Clients(usize),
    /// Packed: every service id is held for the whole phase (`docs/billmanager.md` §13.7).
    Services(IdList, usize),
    Done,
}

/// What a backfill has planned but not written yet, and what waits for it.
#[derive(Default)]
struct Pipeline {
    batch: usize,
    /// `[amocrm] max_in_flight`: how far the panel is read ahead of the writes.
    lanes: usize,
    companies: Queue,
    contacts: Queue,
    leads: Queue,
    /// Clients whose contacts wait for their company to be written.
    clients: Vec<(Client, Vec<Payer>)>,
    /// Clients fed in while services were read (not in the run's client list: registered
    /// before `since`, or `--entity lead`); the listed ones were all fed before.
    fed_late: BTreeSet<String>,
    /// Services whose lead waits (for the client's entities, or for the lead it may join).
    services: Vec<Service>,
    /// Client data of waiting services.
    owners: BTreeMap<String, (Client, Vec<Payer>)>,
    /// `(client, product)` of every queued lead, by key.
    lead_pairs: BTreeMap<String, (String, String)>,
    /// Keys whose create or update is on its way, per kind: still pending for what waits.
    flying: HashMap<EntityKind, BTreeSet<String>>,
}

impl Pipeline {
    /// True while the entity `key` of `kind` is queued or on its way.
    fn pending(&self, kind: EntityKind, key: &str) -> bool {
        self.queue(kind).pending(key) || self.flying.get(&kind).is_some_and(|f| f.contains(key))
    }

    fn queue(&self, kind: EntityKind) -> &Queue {
        match kind {
            EntityKind::Company => &self.companies,
            EntityKind::Contact => &self.contacts,
            EntityKind::Lead => &self.leads,
        }
    }

    fn queue_mut(&mut self, kind: EntityKind) -> &mut Queue {
        match kind {
            EntityKind::Company => &mut self.companies,
            EntityKind::Contact => &mut self.contacts,
            EntityKind::Lead => &mut self.leads,
        }
    }

    /// True while anything of `kind` is queued or on its way.
    fn busy(&self, kind: EntityKind) -> bool {
        !self.queue(kind).is_empty() || self.flying.get(&kind).is_some_and(|f| !f.is_empty())
    }

    /// Forgets the client data of clients no waiting service needs.
    fn prune_owners(&mut self) {
        let waiting: BTreeSet<&String> = self.services.iter().map(|s| &s.client_id).collect();
        self.owners.retain(|id, _| waiting.contains(id));
    }

    /// Plans queued or waiting: how much is read ahead of the writes.
    fn backlog(&self) -> usize {
        self.companies.len()
            + self.contacts.len()
            + self.leads.len()
            + self.clients.len()
            + self.services.len()
    }
}

impl Engine<'_> {
    /// Sends every client registered and every service created since `opts.since`.
    pub fn backfill(&self, opts: &BackfillOptions, progress: &dyn Progress) -> anyhow::Result<()> {
        // Managers' status changes first, so the rules see them (`[lifecycle.pullback]`).
        self.pull_if_enabled()?;
        let clients_wanted = matches!(
            opts.only,
            None | Some(EntityKind::Contact) | Some(EntityKind::Company)
        );
        let leads_wanted = matches!(opts.only, None | Some(EntityKind::Lead));
        progress.phase(READING_LISTS);
        // Packed and sorted: 100 000 ids as `String`s (and a set of those fed) cost ~12 MB.
        let client_ids = if clients_wanted {
            let mut ids = self.billing.client_id_list(opts.since)?;
            ids.sort();
            ids
        } else {
            IdList::default()
        };
        let chunk = opts.chunk.max(1);
        let ahead = Ahead::default();
        let mut stream = Stream {
            engine: self,
            pl: Pipeline {
                batch: self.rules.file.amocrm.batch_size.clamp(1, 250),
                lanes: self.rules.file.amocrm.max_in_flight.max(1),
                ..Pipeline::default()
            },
            input: Input::Clients(0),
            client_ids: &client_ids,
            chunk,
            contacts: opts.only != Some(EntityKind::Company),
            leads_wanted,
            since: opts.since,
            progress,
            ahead: &ahead,
            groups: HashMap::new(),
            writes: HashMap::new(),
            links: HashMap::new(),
            link_writes: HashMap::new(),
            next: 0,
            error: None,
            lock: None,
            locked_at: Instant::now(),
        };
        if clients_wanted {
            progress.start(EntityKind::Contact, client_ids.len() as u64);
        }
        progress.phase(SENDING);
        if client_ids.is_empty() {
            stream.next_phase()?;
        }
        // The forms of the next chunks are read on another thread, at most two chunks
        // ahead, so panel time overlaps amoCRM time instead of adding to it.
        let billing = self.billing;
        let result = std::thread::scope(|s| {
            let (ahead, ids) = (&ahead, &client_ids);
            s.spawn(move || {
                let _stop = StopGuard(ahead);
                for n in 0..ids.len().div_ceil(chunk) {
                    if !ahead.may_fetch(n) {
                        break;
                    }
                    billing.prefetch(&ids.part(n * chunk, chunk));
                    ahead.fetched();
                }
            });
            let _finish = FinishGuard(ahead);
            self.crm.write_fed(&mut stream)
        });
        // The write lock goes: what was read ahead may be changed by another process.
        self.store.forget_primed();
        drop(stream.lock.take());
        let failure = match (stream.error.take(), result) {
            (Some(e), _) => Some(e),
            (None, Err(e)) => Some(e.into()),
            (None, Ok(())) => None,
        };
        if let Some(e) = failure {
            let outage = e
                .chain()
                .filter_map(|c| c.downcast_ref::<crate::crm::CrmError>())
                .any(|c| c.stops_the_run());
            if outage {
                // Said once, with what was not sent and where it is (issue 22).
                let stopped = Stopped {
                    since: opts.since,
                    unsent: stream.unsent(),
                };
                return Err(e.context(stopped));
            }
            return Err(e);
        }
        let left = stream.pl.backlog() + stream.groups.len();
        anyhow::ensure!(
            left == 0,
            "backfill stopped with {left} entities planned but not written; run it again (nothing is duplicated)"
        );
        if leads_wanted {
            self.report_purged_services()?;
        }
        // Rows the panel gave that no client or date could be tied to: each is reported.
        self.report_unlinked(|u| match u.entity {
            "service" => leads_wanted,
            "payer" => clients_wanted,
            _ => clients_wanted && opts.only != Some(EntityKind::Company),
        });
        Ok(())
    }

    /// The write lock: "check binding → look up → create → bind" must not interleave with
    /// a `sync` or a drain doing the same for the same entity (they take it too, in
    /// [`Engine::sync`]), or both would create it.
    fn write_lock(&self) -> anyhow::Result<Option<crate::lock::FileLock>> {
        if self.dry_run {
            return Ok(None);
        }
        Ok(Some(crate::lock::lock_within(
            self.store.path(),
            crate::lock::LockKind::Write,
            "backfill",
            Duration::from_secs(300),
        )?))
    }

    /// Pre-loads the lookup index for `kind` unless every key is already bound.
    fn preload_if_unbound(&self, kind: EntityKind, keys: &[String]) -> anyhow::Result<()> {
        for k in keys {
            if self.store.binding(kind.as_str(), k)?.is_none() {
                return self.preload(kind);
            }
        }
        Ok(())
    }

    /// Plans the companies of a chunk of clients (payers sharing an INN appear once) and,
    /// with `contacts`, puts the clients in line for their contacts.
    fn feed_clients(
        &self,
        pl: &mut Pipeline,
        clients: Vec<(Client, Vec<Payer>)>,
        contacts: bool,
    ) -> anyhow::Result<()> {
        let payers: Vec<(&Client, &Payer)> = clients
            .iter()
            .filter_map(|(c, ps)| self.company_payer(ps).map(|p| (c, p)))
            .collect();
        let company_keys: Vec<String> = payers.iter().map(|(_, p)| company_key(p)).collect();
        self.store
            .prime_bindings("company", company_keys.iter().map(String::as_str))?;
        self.preload_if_unbound(EntityKind::Company, &company_keys)?;
        self.prefetch_companies(payers.iter().copied(), true)?;
        let mut planned = BTreeSet::new();
        for (c, p) in &payers {
            let key = company_key(p);
            if !pl.pending(EntityKind::Company, &key) && planned.insert(key) {
                pl.companies.push([self.plan_company(c, p, true)?]);
            }
        }
        if !contacts {
            return Ok(());
        }
        let user_keys: Vec<String> = clients
            .iter()
            .flat_map(|(c, _)| c.users.iter().map(|u| format!("user:{}", u.id)))
            .collect();
        self.store
            .prime_bindings("contact", user_keys.iter().map(String::as_str))?;
        self.preload_if_unbound(EntityKind::Contact, &user_keys)?;
        pl.clients.extend(clients);
        Ok(())
    }

    /// Puts a chunk of services in line for their leads, first feeding clients not synced
    /// yet in this run (every client in `listed`, the run's sorted client list, was).
    fn feed_services(
        &self,
        pl: &mut Pipeline,
        services: Vec<Service>,
        listed: &IdList,
    ) -> anyhow::Result<()> {
        let mut need: Vec<String> = services.iter().map(|s| s.client_id.clone()).collect();
        need.sort();
        need.dedup();
        self.billing.prefetch(&need);
        let mut missing = Vec::new();
        for id in need {
            if pl.owners.contains_key(&id) {
                continue;
            }
            let data = (self.billing.client(&id)?, self.billing.payers_of(&id)?);
            if !listed.contains_sorted(&id) && pl.fed_late.insert(id.clone()) {
                missing.push(data.clone());
            }
            pl.owners.insert(id, data);
        }
        if !missing.is_empty() {
            self.feed_clients(pl, missing, true)?;
        }
        self.prime_for_leads(&services, &pl.owners)?;
        self.prefetch_leads(&services, &pl.owners)?;
        // Only leads that may be created need the lookup index: a service a rule skips
        // stays unbound for good and must not cost a walk of every lead on each run.
        let mut keys: Vec<String> = Vec::new();
        for s in &services {
            let (client, payers) = &pl.owners[&s.client_id];
            if self.lead_may_be_created(s, client, payers)? {
                keys.push(format!("service:{}", s.id));
            }
        }
        self.preload_if_unbound(EntityKind::Lead, &keys)?;
        self.prefetch_lead_adoptions(&services)?;
        // Oldest first, so a re-order finds the lead of the order it joins.
        let mut sorted = services;
        sorted.sort_by_key(|s| (s.created_at, s.id.parse::<u64>().unwrap_or(u64::MAX)));
        pl.services.extend(sorted);
        Ok(())
    }

    /// Reads ahead, in one read, the bindings planning these services' leads asks for:
    /// each lead's, and its client's company and contacts.
    fn prime_for_leads(
        &self,
        services: &[Service],
        owners: &BTreeMap<String, (Client, Vec<Payer>)>,
    ) -> anyhow::Result<()> {
        let leads: Vec<String> = services
            .iter()
            .map(|s| format!("service:{}", s.id))
            .collect();
        self.store
            .prime_bindings("lead", leads.iter().map(String::as_str))?;
        let (mut companies, mut contacts) = (Vec::new(), Vec::new());
        for (client, payers) in owners.values() {
            companies.extend(self.company_payer(payers).map(company_key));
            contacts.extend(client.users.iter().map(|u| format!("user:{}", u.id)));
        }
        self.store
            .prime_bindings("company", companies.iter().map(String::as_str))?;
        self.store
            .prime_bindings("contact", contacts.iter().map(String::as_str))?;
        Ok(())
    }

    /// Plans the contacts of waiting clients whose company is written (or who have none).
    fn plan_waiting_contacts(&self, pl: &mut Pipeline) -> anyhow::Result<bool> {
        let mut ready = Vec::new();
        for (client, payers) in std::mem::take(&mut pl.clients) {
            let pending = self
                .prerequisites(EntityKind::Contact, &client, &payers)
                .keys()
                .any(|(kind, key)| pl.pending(kind, &key));
            if pending {
                pl.clients.push((client, payers));
            } else {
                ready.push((client, payers));
            }
        }
        let moved = !ready.is_empty();
        // Changed contacts first: a page read for them gives their managers too.
        self.prefetch_contacts(&ready, true)?;
        self.prefetch_managers(ready.iter().map(|(c, _)| c))?;
        for (client, payers) in ready {
            let payer = self.company_payer(&payers);
            let company_key = payer.map(company_key);
            // The company is written: payers sharing its INN now point at it.
            let company = match (payer, &company_key) {
                (Some(p), Some(k)) => {
                    self.alias_payer(p)?;
                    self.store.binding("company", k)?.map(|b| b.amo_id)
                }
                _ => None,
            };
            let mut plans = Vec::new();
            for user in &client.users {
                plans.push(self.plan_contact(
                    &client,
                    user,
                    payer.or(payers.first()),
                    company,
                    true,
                )?);
            }
            pl.contacts.push(plans);
        }
        Ok(moved)
    }

    /// Plans the leads of waiting services whose client's entities are written and whose
    /// product has no earlier lead of the same client still in line.
    fn plan_waiting_leads(&self, pl: &mut Pipeline) -> anyhow::Result<bool> {
        let mut moved = false;
        let waiting_clients: BTreeSet<String> =
            pl.clients.iter().map(|(c, _)| c.id.clone()).collect();
        // A re-order waits for the lead it may join while that is queued or on its way.
        let Pipeline {
            lead_pairs,
            leads,
            flying,
            ..
        } = &mut *pl;
        lead_pairs.retain(|key, _| {
            leads.pending(key)
                || flying
                    .get(&EntityKind::Lead)
                    .is_some_and(|f| f.contains(key))
        });
        let mut blocked: BTreeSet<(String, String)> = pl.lead_pairs.values().cloned().collect();
        for s in std::mem::take(&mut pl.services) {
            let pair = (s.client_id.clone(), s.product.clone());
            let (client, payers) = &pl.owners[&s.client_id];
            let entities_pending = waiting_clients.contains(&s.client_id)
                || self
                    .prerequisites(EntityKind::Lead, client, payers)
                    .keys()
                    .any(|(kind, key)| pl.pending(kind, &key));
            if entities_pending || blocked.contains(&pair) {
                blocked.insert(pair);
                pl.services.push(s);
                continue;
            }
            let plan = self.plan_service(&s, client, payers, true)?;
            pl.lead_pairs.insert(plan.key.clone(), pair.clone());
            blocked.insert(pair);
            pl.leads.push([plan]);
            moved = true;
        }
        Ok(moved)
    }
}

/// A backfill stopped by an outage, as the error it returns: the example the tests of this
/// module and of `crate::exit` (which sits above the engine) share.
#[cfg(test)]
pub(crate) fn stopped_example() -> anyhow::Error {
    let stopped = Stopped {
        since: chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
        unsent: Unsent {
            planned: 20,
            unfinished: 3,
            clients: 7,
            services: None,
        },
    };
    let cause = crate::crm::CrmError::Unreachable {
        request: "POST /api/v4/leads".into(),
        detail: "gave up after 7 attempts".into(),
    };
    anyhow::Error::from(cause).context(stopped)
}

#[cfg(test)]
mod tests {
    use super::{stopped_example, Stopped};

    #[test]
    fn a_stopped_backfill_says_what_was_not_sent_and_still_exits_5_with_the_crm_hint() {
        let err = stopped_example();
        let text = err.to_string();
        for part in [
            "not sent: 20 planned entities",
            "3 groups of writes not finished",
            "7 clients and all services not read yet",
            "Nothing was lost",
            "`amocrm-bin backfill --since 2025-01-01` sends the rest",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
        // Its exit status and hint: `crate::exit`'s tests (exit sits above the engine).
        assert_eq!(err.downcast_ref::<Stopped>().unwrap().unsent.planned, 20);
    }
}
