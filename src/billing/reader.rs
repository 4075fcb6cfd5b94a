//! [`PanelReader`]: the one [`BillingSource`] implementation, generic over how calls travel.
//!
//! Which functions it calls (`docs/billmanager.md` §13):
//! - a client: `account.edit elid=<id>` (the edit form read without `sok`), then its users
//!   from `user account=<id>`;
//! - payers: `profile account=<client>` or `profile elid=<id>`;
//! - services: `item account=<client>` or `item elid=<id>`;
//! - backfill: the whole `account` and `item` lists.
//!
//! The `account=`/`elid=` parameters on list functions are hints (UNCONFIRMED that a panel
//! filters by them): rows are always filtered here too, so a panel that ignores them gives
//! the same result, only slower. Lists are cached for the life of the reader, and a lookup
//! first searches what is already cached, so syncing one client asks for each list once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;

use super::convert;
use super::envelope::{self, Call};
use super::error::BillingError;
use super::model::{Attrs, Client, Payer, Service, User};
use super::transport::Transport;
use super::values::id_order;
use super::BillingSource;

/// Which rows of a list are wanted.
#[derive(Clone, Copy)]
enum Filter<'a> {
    All,
    Owner(&'a str),
    Id(&'a str),
}

impl Filter<'_> {
    fn keeps(&self, row: &Attrs) -> bool {
        match self {
            Filter::All => true,
            Filter::Owner(c) => convert::owner(row) == Some(*c),
            Filter::Id(id) => convert::row_id(row) == Some(*id),
        }
    }

    fn param(&self) -> Option<(&'static str, &str)> {
        match self {
            Filter::All => None,
            Filter::Owner(c) => Some(("account", c)),
            Filter::Id(id) => Some(("elid", id)),
        }
    }
}

type Rows = Arc<Vec<Attrs>>;

/// A whole list (the panel answered without filtering, or backfill asked for everything),
/// indexed by id and by owning client so lookups stay O(1) however large it is.
struct FullList {
    rows: Vec<Attrs>,
    by_id: HashMap<String, usize>,
    by_owner: HashMap<String, Vec<usize>>,
}

impl FullList {
    fn new(rows: Vec<Attrs>) -> FullList {
        let mut by_id = HashMap::new();
        let mut by_owner: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, r) in rows.iter().enumerate() {
            if let Some(id) = convert::row_id(r) {
                by_id.entry(id.to_string()).or_insert(i);
            }
            if let Some(o) = convert::owner(r) {
                by_owner.entry(o.to_string()).or_default().push(i);
            }
        }
        FullList {
            rows,
            by_id,
            by_owner,
        }
    }

    fn select(&self, filter: Filter<'_>) -> Rows {
        Arc::new(match filter {
            Filter::All => self.rows.clone(),
            Filter::Id(id) => self
                .by_id
                .get(id)
                .map(|i| vec![self.rows[*i].clone()])
                .unwrap_or_default(),
            Filter::Owner(c) => self
                .by_owner
                .get(c)
                .map(|ix| ix.iter().map(|i| self.rows[*i].clone()).collect())
                .unwrap_or_default(),
        })
    }
}

/// Reads BILLmanager through a [`Transport`], caching list answers.
pub struct PanelReader<T> {
    transport: T,
    lists: Mutex<HashMap<String, Rows>>,
    full: Mutex<HashMap<String, Arc<FullList>>>,
    calls: AtomicUsize,
}

impl<T: Transport> PanelReader<T> {
    /// A reader over `transport` with an empty cache.
    pub fn new(transport: T) -> Self {
        PanelReader {
            transport,
            lists: Mutex::new(HashMap::new()),
            full: Mutex::new(HashMap::new()),
            calls: AtomicUsize::new(0),
        }
    }

    /// How many calls reached the transport (tests check the cache with it).
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    fn fetch(
        &self,
        call: &Call<'_>,
        params: &[(&str, &str)],
    ) -> Result<envelope::Doc, BillingError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let shown: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        crate::log::debug(&format!("billmanager: {} {}", call.func, shown.join(" ")));
        let bytes = self.transport.fetch(call.func, params)?;
        envelope::parse(&bytes, call)
    }

    /// Rows of list `func` that `filter` keeps, from the cache when possible.
    fn rows(
        &self,
        func: &str,
        entity: &'static str,
        filter: Filter<'_>,
    ) -> Result<Rows, BillingError> {
        let key = match filter.param() {
            Some((k, v)) => format!("{func}?{k}={v}"),
            None => func.to_string(),
        };
        if let Some(hit) = self.cached(func, &key, filter) {
            return Ok(hit);
        }
        let params: Vec<(&str, &str)> = filter.param().into_iter().collect();
        let elid = match filter {
            Filter::Id(id) => Some(id),
            _ => None,
        };
        let doc = self.fetch(&Call { func, entity, elid }, &params)?;
        let all = doc.elems(func)?;
        // A panel that ignored the filter (or a whole-list call) gave us everything: keep it
        // indexed, so the next lookups never call the panel or scan the list again.
        if matches!(filter, Filter::All) || all.iter().any(|r| !filter.keeps(r)) {
            let full = Arc::new(FullList::new(all));
            let rows = full.select(filter);
            self.full
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(func.to_string(), full);
            return Ok(rows);
        }
        let rows: Rows = Arc::new(all);
        self.lock().insert(key, rows.clone());
        Ok(rows)
    }

    /// A cached answer: the same call, or rows found in the whole list or (for one id) in
    /// any cached answer of the same function.
    fn cached(&self, func: &str, key: &str, filter: Filter<'_>) -> Option<Rows> {
        if let Some(full) = self
            .full
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(func)
        {
            return Some(full.select(filter));
        }
        let lists = self.lock();
        if let Some(hit) = lists.get(key) {
            return Some(hit.clone());
        }
        if let Some(all) = lists.get(func) {
            return Some(Arc::new(
                all.iter().filter(|r| filter.keeps(r)).cloned().collect(),
            ));
        }
        if let Filter::Id(_) = filter {
            let prefix = format!("{func}?");
            let found = lists
                .iter()
                .filter(|(k, _)| k.starts_with(&prefix))
                .find_map(|(_, rows)| rows.iter().find(|r| filter.keeps(r)))?;
            return Some(Arc::new(vec![found.clone()]));
        }
        None
    }

    /// The fields of edit form `func` for `id` (cached); `NotFound` when the panel answers
    /// an empty form.
    fn form(&self, func: &str, entity: &'static str, id: &str) -> Result<Attrs, BillingError> {
        let key = format!("{func}?elid={id}");
        if let Some(hit) = self.lock().get(&key) {
            return Ok(hit.first().cloned().unwrap_or_default());
        }
        let call = Call {
            func,
            entity,
            elid: Some(id),
        };
        let form = self.fetch(&call, &[("elid", id)])?.form();
        if form.keys().all(|k| k == "elid" || k == "id") {
            return Err(BillingError::NotFound {
                entity,
                id: id.to_string(),
            });
        }
        self.lock().insert(key, Arc::new(vec![form.clone()]));
        Ok(form)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Rows>> {
        self.lists.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn one<V>(
        &self,
        func: &str,
        entity: &'static str,
        id: &str,
        conv: fn(Attrs) -> Result<V, String>,
    ) -> Result<V, BillingError> {
        let rows = self.rows(func, entity, Filter::Id(id))?;
        let row = rows
            .first()
            .cloned()
            .ok_or_else(|| BillingError::NotFound {
                entity,
                id: id.to_string(),
            })?;
        conv(row).map_err(|detail| malformed(func, detail))
    }

    fn of_client<V>(
        &self,
        func: &str,
        entity: &'static str,
        client_id: &str,
        conv: fn(Attrs) -> Result<V, String>,
    ) -> Result<Vec<V>, BillingError> {
        self.rows(func, entity, Filter::Owner(client_id))?
            .iter()
            .map(|r| conv(r.clone()).map_err(|d| malformed(func, d)))
            .collect()
    }

    /// Ids of `func` rows whose date (first of `names`) is on or after `since`, ascending.
    fn ids_since(
        &self,
        func: &str,
        entity: &'static str,
        names: &[&str],
        since: NaiveDate,
    ) -> Result<Vec<String>, BillingError> {
        let rows = self.rows(func, entity, Filter::All)?;
        let mut undated = 0;
        let mut ids: Vec<String> = Vec::new();
        for row in rows.iter() {
            let Some(id) = convert::row_id(row) else {
                continue;
            };
            match super::values::first(row, names).and_then(super::values::datetime) {
                Some(t) if t.date() >= since => ids.push(id.to_string()),
                Some(_) => {}
                None => undated += 1,
            }
        }
        if undated > 0 {
            crate::log::warn(&format!(
                "{undated} `{func}` rows have no date in {names:?} and were left out of the backfill"
            ));
        }
        ids.sort_by(|a, b| id_order(a, b));
        Ok(ids)
    }
}

fn malformed(func: &str, detail: String) -> BillingError {
    BillingError::Malformed {
        func: func.to_string(),
        detail,
    }
}

fn by_id<V>(items: &mut [V], id: fn(&V) -> &str) {
    items.sort_by(|a, b| id_order(id(a), id(b)));
}

impl<T: Transport> BillingSource for PanelReader<T> {
    fn client(&self, id: &str) -> Result<Client, BillingError> {
        let func = "account.edit";
        let form = self.form(func, "client", id)?;
        let mut client = convert::client(id, form).map_err(|d| malformed(func, d))?;
        let mut users: Vec<User> = self.of_client("user", "user", &client.id, convert::user)?;
        users.sort_by(|a, b| {
            convert::is_owner(b)
                .cmp(&convert::is_owner(a))
                .then_with(|| id_order(&a.id, &b.id))
        });
        client.users = users;
        Ok(client)
    }

    fn payer(&self, id: &str) -> Result<Payer, BillingError> {
        self.one("profile", "payer", id, convert::payer)
    }

    fn payers_of(&self, client_id: &str) -> Result<Vec<Payer>, BillingError> {
        let mut payers = self.of_client("profile", "payer", client_id, convert::payer)?;
        by_id(&mut payers, |p| &p.id);
        Ok(payers)
    }

    fn service(&self, id: &str) -> Result<Service, BillingError> {
        self.one("item", "service", id, convert::service)
    }

    fn services_of(&self, client_id: &str) -> Result<Vec<Service>, BillingError> {
        let mut services = self.of_client("item", "service", client_id, convert::service)?;
        by_id(&mut services, |s| &s.id);
        Ok(services)
    }

    fn client_ids_since(&self, since: NaiveDate) -> Result<Vec<String>, BillingError> {
        self.ids_since("account", "client", convert::REGISTERED, since)
    }

    fn service_ids_since(&self, since: NaiveDate) -> Result<Vec<String>, BillingError> {
        self.ids_since("item", "service", convert::CREATED, since)
    }
}
