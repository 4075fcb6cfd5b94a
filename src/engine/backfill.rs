//! Backfill: everything created since a date, at the API's speed limit.
//!
//! Per chunk of BILLmanager entities the engine plans every company, then every contact,
//! then every lead, and applies each kind in one batched write (up to 250 per request), so a
//! fresh account costs about one request per 250 entities plus links. Lookups of entities
//! amoCRM may already have (created by the website, or by an interrupted run) use an index
//! built by one paged walk per kind instead of one search per entity.
//!
//! Memory stays flat: only ids are listed up front; entities are read chunk by chunk.
//! Interrupted runs resume without duplicates: bindings are written after each batch, and an
//! entity created just before a crash is adopted through the index on the next run.

use std::collections::{BTreeMap, BTreeSet};

use super::companies::company_key;
use super::plan::Plan;
use super::Engine;
use crate::billing::{Client, Payer, Service};
use crate::rules::EntityKind;

/// Receives progress (the CLI draws bars with it).
pub trait Progress {
    /// A phase starts with `total` items.
    fn start(&self, kind: EntityKind, total: u64);
    /// `n` more items are done.
    fn advance(&self, kind: EntityKind, n: u64);
}

/// No progress display.
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: EntityKind, _: u64) {}
    fn advance(&self, _: EntityKind, _: u64) {}
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

impl Engine<'_> {
    /// Sends every client registered and every service created since `opts.since`.
    pub fn backfill(&self, opts: &BackfillOptions, progress: &dyn Progress) -> anyhow::Result<()> {
        // Managers' status changes first, so the rules see them (`[lifecycle.pullback]`).
        self.pull_if_enabled()?;
        let chunk = opts.chunk.max(1);
        let clients_wanted = matches!(
            opts.only,
            None | Some(EntityKind::Contact) | Some(EntityKind::Company)
        );
        let leads_wanted = matches!(opts.only, None | Some(EntityKind::Lead));
        let mut done_clients: BTreeSet<String> = BTreeSet::new();
        if clients_wanted {
            let ids = self.billing.client_ids_since(opts.since)?;
            progress.start(EntityKind::Contact, ids.len() as u64);
            let parts: Vec<&[String]> = ids.chunks(chunk).collect();
            if let Some(first) = parts.first() {
                self.billing.prefetch(first);
            }
            for (n, part) in parts.iter().enumerate() {
                let mut clients = Vec::with_capacity(part.len());
                for id in *part {
                    let c = self.billing.client(id)?;
                    let p = self.billing.payers_of(id)?;
                    clients.push((c, p));
                }
                // The next chunk's forms are read from the panel while this one is written
                // to amoCRM, so panel time overlaps amoCRM time instead of adding to it.
                let billing = self.billing;
                std::thread::scope(|s| -> anyhow::Result<()> {
                    if let Some(next) = parts.get(n + 1) {
                        s.spawn(move || billing.prefetch(next));
                    }
                    let _lock = self.chunk_lock()?;
                    self.clients_batch(&clients, opts.only != Some(EntityKind::Company))?;
                    Ok(())
                })?;
                done_clients.extend(part.iter().cloned());
                progress.advance(EntityKind::Contact, part.len() as u64);
            }
        }
        if leads_wanted {
            let ids = self.billing.service_ids_since(opts.since)?;
            progress.start(EntityKind::Lead, ids.len() as u64);
            for part in ids.chunks(chunk) {
                let mut services: Vec<Service> = Vec::with_capacity(part.len());
                for id in part {
                    match self.billing.service(id) {
                        Ok(s) => services.push(s),
                        // Reported with the other unlinked rows below; never guessed.
                        Err(crate::billing::BillingError::Unlinked { .. }) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                let _lock = self.chunk_lock()?;
                self.services_batch(&services, &mut done_clients)?;
                progress.advance(EntityKind::Lead, part.len() as u64);
            }
        }
        // Rows the panel gave that no client or date could be tied to: each is reported.
        self.report_unlinked(|u| match u.entity {
            "service" => leads_wanted,
            "payer" => clients_wanted,
            _ => clients_wanted && opts.only != Some(EntityKind::Company),
        });
        Ok(())
    }

    /// The write lock for one chunk: "check binding → look up → create → bind" must not
    /// interleave with a `sync` or a drain doing the same for the same entity (they take it
    /// too, in [`Engine::sync`]), or both would create it.
    fn chunk_lock(&self) -> anyhow::Result<Option<crate::lock::FileLock>> {
        if self.dry_run {
            return Ok(None);
        }
        Ok(Some(crate::lock::lock_within(
            self.store.path(),
            crate::lock::LockKind::Write,
            "backfill",
            std::time::Duration::from_secs(300),
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

    /// Companies then (with `contacts`) contacts of a chunk of clients, each kind in one
    /// batched write.
    fn clients_batch(
        &self,
        clients: &[(Client, Vec<Payer>)],
        contacts: bool,
    ) -> anyhow::Result<BTreeMap<String, i64>> {
        // Companies: one plan per key (payers sharing an INN appear once).
        let mut company_plans: BTreeMap<String, Plan> = BTreeMap::new();
        let payers: Vec<(&Client, &Payer)> = clients
            .iter()
            .filter_map(|(c, ps)| self.company_payer(ps).map(|p| (c, p)))
            .collect();
        self.preload_if_unbound(
            EntityKind::Company,
            &payers
                .iter()
                .map(|(_, p)| company_key(p))
                .collect::<Vec<_>>(),
        )?;
        for (c, p) in &payers {
            let key = company_key(p);
            if let std::collections::btree_map::Entry::Vacant(slot) = company_plans.entry(key) {
                slot.insert(self.plan_company(c, p, true)?);
            }
        }
        let company_ids =
            self.run_plans(EntityKind::Company, company_plans.into_values().collect())?;
        for (_, p) in &payers {
            self.alias_payer(p)?;
        }
        if !contacts {
            return Ok(company_ids);
        }
        // Contacts, linked to their client's company.
        let user_keys: Vec<String> = clients
            .iter()
            .flat_map(|(c, _)| c.users.iter().map(|u| format!("user:{}", u.id)))
            .collect();
        self.preload_if_unbound(EntityKind::Contact, &user_keys)?;
        let mut plans = Vec::new();
        for (client, ps) in clients {
            let payer = self.company_payer(ps);
            let company = payer.and_then(|p| company_ids.get(&company_key(p)).copied());
            for user in &client.users {
                plans.push(self.plan_contact(client, user, payer.or(ps.first()), company, true)?);
            }
        }
        let ids = self.run_plans(EntityKind::Contact, plans)?;
        Ok(ids)
    }

    /// Leads of a chunk of services; clients not synced yet in this run are synced first.
    fn services_batch(
        &self,
        services: &[Service],
        done_clients: &mut BTreeSet<String>,
    ) -> anyhow::Result<()> {
        // Every client these services belong to must have its contacts and company.
        let mut need: Vec<String> = services.iter().map(|s| s.client_id.clone()).collect();
        need.sort();
        need.dedup();
        self.billing.prefetch(&need);
        let mut clients: BTreeMap<String, (Client, Vec<Payer>)> = BTreeMap::new();
        for id in &need {
            clients.insert(
                id.clone(),
                (self.billing.client(id)?, self.billing.payers_of(id)?),
            );
        }
        let missing: Vec<(Client, Vec<Payer>)> = clients
            .iter()
            .filter(|(id, _)| !done_clients.contains(*id))
            .map(|(_, v)| v.clone())
            .collect();
        if !missing.is_empty() {
            self.clients_batch(&missing, true)?;
            done_clients.extend(missing.iter().map(|(c, _)| c.id.clone()));
        }
        // Only leads that may be created need the lookup index: a service a rule skips
        // stays unbound for good and must not cost a walk of every lead on each run.
        let mut keys: Vec<String> = Vec::new();
        for s in services {
            let (client, payers) = &clients[&s.client_id];
            if self.lead_may_be_created(s, client, payers)? {
                keys.push(format!("service:{}", s.id));
            }
        }
        self.preload_if_unbound(EntityKind::Lead, &keys)?;
        // A re-order whose first order is in this same chunk must wait until that lead exists.
        let mut first_pass = Vec::new();
        let mut second_pass = Vec::new();
        let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
        let mut sorted: Vec<&Service> = services.iter().collect();
        sorted.sort_by_key(|s| (s.created_at, s.id.parse::<u64>().unwrap_or(u64::MAX)));
        for s in sorted {
            let pair = (s.client_id.clone(), s.product.clone());
            if seen.contains(&pair) {
                second_pass.push(s);
            } else {
                seen.insert(pair);
                first_pass.push(s);
            }
        }
        for pass in [first_pass, second_pass] {
            let mut plans = Vec::new();
            for s in pass {
                let (client, payers) = &clients[&s.client_id];
                plans.push(self.plan_service(s, client, payers, true)?);
            }
            self.run_plans(EntityKind::Lead, plans)?;
        }
        Ok(())
    }
}
