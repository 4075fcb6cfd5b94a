//! [`PanelReader`]: the one [`BillingSource`] implementation, generic over how calls travel.
//!
//! Which functions it calls (`docs/billmanager.md` §13):
//! - the lists `account`, `user`, `profile` and `item`, each read **whole, once per run**,
//!   streamed into a temporary table of the run's scratch database and indexed by id
//!   and by owning client ([`List`]).
//!   Real panels filter only with `filter=on&<column>=<value>`, and `account` filters by
//!   the client's *name* (facts D3), so the earlier `account=<id>` hints were ignored
//!   anyway; one whole-list read also serves every later lookup of the run;
//! - the edit forms `account.edit elid=<client>` (fields the list lacks, such as `country`)
//!   and `profile.edit elid=<payer>` (the tax number `vatnum`, e-mail, phone and person,
//!   which real `profile` rows do not carry, facts D5), each read at most once per run.
//!
//! The owner of a user, payer or service row is `account_id`, else a numeric `account`
//! (`$orig` first), else the client's name in `account` matched against the `account`
//! list. A name two clients share is never guessed: the row is kept out and reported as
//! [`Unlinked`] with both ids, and so is a name no client has.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::NaiveDate;

use super::convert;
use super::envelope::{self, Call};
use super::error::BillingError;
use super::forms::Forms;
use super::ids::IdList;
use super::list::{entity_of, List};
use super::model::{Attrs, Client, PanelStats, Payer, Service, Unlinked, User};
use super::scratch::Scratch;
use super::transport::Transport;
use super::values::{first, id_order};
use super::{BillingSource, CachedForm, Sample};

/// Reads BILLmanager through a [`Transport`], caching lists and forms for the run.
pub struct PanelReader<T> {
    transport: T,
    /// The run's private database the lists and forms wait in.
    scratch: Arc<Scratch>,
    lists: Mutex<HashMap<String, Arc<List>>>,
    /// Forms of this run and kept from earlier runs (see [`Forms`]).
    forms: Mutex<Forms>,
    unlinked: Mutex<Vec<Unlinked>>,
    calls: AtomicU64,
    forms_read: AtomicU64,
    micros: AtomicU64,
    /// Forms read at once by [`BillingSource::prefetch`].
    parallel: usize,
    /// Age after which a kept form is read again, in seconds.
    max_age_secs: i64,
    /// Client attributes the rules use (`None`: unknown, so every form is read).
    client_needs: Mutex<Option<Vec<Vec<String>>>>,
}

impl<T: Transport> PanelReader<T> {
    /// A reader over `transport` with an empty cache.
    pub fn new(transport: T) -> Self {
        let scratch = Arc::new(Scratch::default());
        PanelReader {
            transport,
            forms: Mutex::new(Forms::new(scratch.clone())),
            scratch,
            lists: Mutex::new(HashMap::new()),
            unlinked: Mutex::new(Vec::new()),
            calls: AtomicU64::new(0),
            forms_read: AtomicU64::new(0),
            micros: AtomicU64::new(0),
            parallel: 4,
            max_age_secs: 24 * 3600,
            client_needs: Mutex::new(None),
        }
    }

    /// Sets how many forms are read at once and after how many hours a kept form is read
    /// again (`[billmanager] parallel`, `form_max_age_hours`).
    pub fn tuned(mut self, parallel: usize, form_max_age_hours: u64) -> Self {
        self.parallel = parallel.max(1);
        self.max_age_secs = (form_max_age_hours * 3600) as i64;
        self
    }

    /// How many calls reached the transport (tests check the cache with it).
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed) as usize
    }

    fn fetch(
        &self,
        call: &Call<'_>,
        params: &[(&str, &str)],
    ) -> Result<envelope::Doc, BillingError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let shown: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        crate::log::debug(&format!("billmanager: {} {}", call.func, shown.join(" ")));
        let started = Instant::now();
        let bytes = self.transport.fetch(call.func, params);
        self.micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        envelope::parse(&bytes?, call)
    }

    /// The whole list `func`, read once per run.
    fn list(&self, func: &str) -> Result<Arc<List>, BillingError> {
        if let Some(hit) = self.lock_lists().get(func) {
            return Ok(hit.clone());
        }
        let call = Call {
            func,
            entity: entity_of(func),
            elid: None,
        };
        self.calls.fetch_add(1, Ordering::Relaxed);
        crate::log::debug(&format!("billmanager: {func}"));
        let started = Instant::now();
        // Streamed: each row goes from the answer into the list's table as it is parsed;
        // no `Value` tree and no list of `Attrs` is ever built.
        let read = List::load(&self.scratch, func, |sink| {
            let r = self.transport.open(func, &[])?;
            super::stream::each_row(r, &call, sink)
        });
        self.micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        let mut list = read?;
        // Rows that name their client by name are matched against the `account` list.
        let accounts = match list.needs_accounts() {
            true => Some(self.list("account")?),
            false => None,
        };
        list.finish(accounts)?;
        self.lock_unlinked().append(&mut list.unlinked);
        let list = Arc::new(list);
        self.lock_lists().insert(func.to_string(), list.clone());
        Ok(list)
    }

    /// The fields of edit form `func` for `id`, read at most once per run, and not at all
    /// while a form kept from an earlier run is younger than the age limit and was read
    /// for the same list row (`row_hash`); `NotFound` when the panel answers an empty form.
    fn form(
        &self,
        func: &str,
        entity: &'static str,
        id: &str,
        row_hash: &str,
    ) -> Result<Attrs, BillingError> {
        let now = chrono::Utc::now().timestamp();
        {
            let mut forms = self.lock_forms();
            if let Some(hit) = forms.get(func, id)? {
                return Ok(hit);
            }
            if let Some(form) = forms.take_kept(func, id, row_hash, now - self.max_age_secs)? {
                return Ok(form);
            }
        }
        let call = Call {
            func,
            entity,
            elid: Some(id),
        };
        self.forms_read.fetch_add(1, Ordering::Relaxed);
        let form = self.fetch(&call, &[("elid", id)])?.form();
        if form.keys().all(|k| k == "elid" || k == "id") {
            return Err(BillingError::NotFound {
                entity,
                id: id.to_string(),
            });
        }
        self.lock_forms().put(func, id, &form, row_hash, now)?;
        Ok(form)
    }

    /// Whether client `id`'s sync needs `account.edit`: the list has no row for it, or
    /// lacks an attribute the rules use (every form is read while the needs are unknown).
    fn client_form_needed(&self, row: Option<&Attrs>) -> bool {
        let Some(row) = row else {
            return true;
        };
        match &*self.client_needs.lock().unwrap_or_else(|e| e.into_inner()) {
            None => true,
            Some(needs) => needs.iter().any(|alts| {
                let alts: Vec<&str> = alts.iter().map(String::as_str).collect();
                first(row, &alts).is_none()
            }),
        }
    }

    fn lock_lists(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<List>>> {
        self.lists.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_forms(&self) -> std::sync::MutexGuard<'_, Forms> {
        self.forms.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_unlinked(&self) -> std::sync::MutexGuard<'_, Vec<Unlinked>> {
        self.unlinked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A payer row with its `profile.edit` details when the list lacks them (real panels:
    /// always, facts D5); the form's fields win over the row's.
    fn payer_of_row(&self, row: &Attrs, client_id: &str) -> Result<Payer, BillingError> {
        let mut attrs = row.clone();
        if first(row, convert::PAYER_DETAILS).is_none() {
            if let Some(id) = convert::row_id(row) {
                let form = self.form("profile.edit", "payer", id, &row_hash(row))?;
                attrs.extend(form.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        convert::payer(attrs, client_id).map_err(|d| malformed("profile", d))
    }

    /// The owned row `id` of `func` with its owner; `NotFound` when there is no such row,
    /// `Unlinked` when it cannot be tied to a client.
    fn owned_row(&self, func: &str, id: &str) -> Result<(Attrs, String), BillingError> {
        let list = self.list(func)?;
        let entity = entity_of(func);
        let (row, owner) = list.row(id)?.ok_or_else(|| BillingError::NotFound {
            entity,
            id: id.to_string(),
        })?;
        match owner {
            Some(o) => Ok((row, o)),
            None => {
                let why = self
                    .lock_unlinked()
                    .iter()
                    .find(|u| u.entity == entity && u.id == id)
                    .map(|u| u.reason.clone())
                    .unwrap_or_else(|| "no owning client".into());
                Err(BillingError::Unlinked {
                    entity,
                    id: id.to_string(),
                    detail: why,
                })
            }
        }
    }

    /// Ids of `func` rows whose date (first of `names`) is on or after `since`, ascending.
    /// Undated rows are reported as [`Unlinked`], never silently sent or dropped.
    fn ids_since(
        &self,
        func: &str,
        names: &[&str],
        since: NaiveDate,
    ) -> Result<IdList, BillingError> {
        let list = self.list(func)?;
        let mut undated = Vec::new();
        let mut ids = IdList::default();
        list.each(&mut |row| {
            let Some(id) = convert::row_id(&row) else {
                return;
            };
            match first(&row, names).and_then(super::values::datetime) {
                Some(t) if t.date() >= since => ids.push(id),
                Some(_) => {}
                None => undated.push(Unlinked {
                    entity: entity_of(func),
                    id: id.to_string(),
                    reason: format!(
                        "the `{func}` list gives no date in {names:?}, so `--since {since}` cannot be applied; it was left out"
                    ),
                    candidates: Vec::new(),
                }),
            }
        })?;
        let mut all = self.lock_unlinked();
        for u in undated {
            if !all.iter().any(|x| x.entity == u.entity && x.id == u.id) {
                all.push(u);
            }
        }
        ids.sort();
        Ok(ids)
    }
}

/// A list row's fingerprint: a kept form is reused only while its row is unchanged.
fn row_hash(row: &Attrs) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (k, v) in row {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    h.finalize()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
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
        // The list row carries the registration date (`tz_registration_date`, facts D1);
        // the form adds what the list lacks (`country`, notes) and wins where both have it.
        let row = self.list("account")?.row(id)?.map(|(r, _)| r);
        let func = "account.edit";
        let form_needed = self.client_form_needed(row.as_ref());
        let mut attrs = row.unwrap_or_default();
        if form_needed {
            let form = self.form(func, "client", id, &row_hash(&attrs))?;
            attrs.extend(form.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let mut client = convert::client(id, attrs).map_err(|d| malformed(func, d))?;
        let users = self.list("user")?;
        let mut users: Vec<User> = users
            .of_owner(&client.id)?
            .into_iter()
            .map(|r| convert::user(r, &client.id).map_err(|d| malformed("user", d)))
            .collect::<Result<_, _>>()?;
        users.sort_by(|a, b| {
            convert::is_owner(b)
                .cmp(&convert::is_owner(a))
                .then_with(|| id_order(&a.id, &b.id))
        });
        client.users = users;
        Ok(client)
    }

    fn payer(&self, id: &str) -> Result<Payer, BillingError> {
        let (row, owner) = self.owned_row("profile", id)?;
        self.payer_of_row(&row, &owner)
    }

    fn payers_of(&self, client_id: &str) -> Result<Vec<Payer>, BillingError> {
        let list = self.list("profile")?;
        let mut payers = list
            .of_owner(client_id)?
            .iter()
            .map(|r| self.payer_of_row(r, client_id))
            .collect::<Result<Vec<_>, _>>()?;
        by_id(&mut payers, |p| &p.id);
        Ok(payers)
    }

    fn service(&self, id: &str) -> Result<Service, BillingError> {
        let (row, owner) = self.owned_row("item", id)?;
        convert::service(row, &owner).map_err(|d| malformed("item", d))
    }

    fn services_of(&self, client_id: &str) -> Result<Vec<Service>, BillingError> {
        let list = self.list("item")?;
        let mut services = list
            .of_owner(client_id)?
            .into_iter()
            .map(|r| convert::service(r, client_id).map_err(|d| malformed("item", d)))
            .collect::<Result<Vec<_>, _>>()?;
        by_id(&mut services, |s| &s.id);
        Ok(services)
    }

    fn client_ids_since(&self, since: NaiveDate) -> Result<Vec<String>, BillingError> {
        let ids = self.client_id_list(since)?;
        Ok(ids.iter().collect())
    }

    fn service_ids_since(&self, since: NaiveDate) -> Result<Vec<String>, BillingError> {
        let ids = self.service_id_list(since)?;
        Ok(ids.iter().collect())
    }

    fn client_id_list(&self, since: NaiveDate) -> Result<IdList, BillingError> {
        self.ids_since("account", convert::REGISTERED, since)
    }

    fn service_id_list(&self, since: NaiveDate) -> Result<IdList, BillingError> {
        self.ids_since("item", convert::CREATED, since)
    }

    fn user_client(&self, user_id: &str) -> Result<String, BillingError> {
        self.owned_row("user", user_id).map(|(_, owner)| owner)
    }

    fn unlinked(&self) -> Vec<Unlinked> {
        self.lock_unlinked().clone()
    }

    fn survey(&self) -> Vec<Sample> {
        let mut samples = Vec::new();
        // The first row of each list, and whether the first payer row lacks the details
        // (then `profile.edit` is read, as the sync would).
        let mut first_ids: HashMap<&str, String> = HashMap::new();
        for func in ["account", "user", "profile", "item"] {
            let call = Call {
                func,
                entity: entity_of(func),
                elid: None,
            };
            self.calls.fetch_add(1, Ordering::Relaxed);
            let raw = self.transport.fetch(func, &[]);
            let mut sample = Sample {
                func: func.to_string(),
                elid: None,
                fields: Default::default(),
                raw: Vec::new(),
                error: None,
            };
            match raw.and_then(|raw| super::stream::rows(&raw[..], &call).map(|rows| (raw, rows))) {
                Ok((raw, rows)) => {
                    let head = rows.iter().find(|r| convert::row_id(r).is_some());
                    let form_needed = func != "profile"
                        || head.is_some_and(|r| first(r, convert::PAYER_DETAILS).is_none());
                    if let (Some(row), true) = (head, form_needed) {
                        first_ids
                            .insert(func, convert::row_id(row).unwrap_or_default().to_string());
                    }
                    sample.fields = rows.iter().flat_map(|r| r.keys().cloned()).collect();
                    sample.raw = raw;
                }
                Err(e) => sample.error = Some(e.to_string()),
            }
            samples.push(sample);
        }
        for (func, list, entity) in [
            ("account.edit", "account", "client"),
            ("profile.edit", "profile", "payer"),
        ] {
            let Some(id) = first_ids.get(list) else {
                continue;
            };
            let call = Call {
                func,
                entity,
                elid: Some(id),
            };
            self.calls.fetch_add(1, Ordering::Relaxed);
            let mut sample = Sample {
                func: func.to_string(),
                elid: Some(id.clone()),
                fields: Default::default(),
                raw: Vec::new(),
                error: None,
            };
            match self
                .transport
                .fetch(func, &[("elid", id)])
                .and_then(|raw| envelope::parse(&raw, &call).map(|d| (raw, d.form())))
            {
                Ok((raw, form)) => {
                    sample.fields = form.into_keys().collect();
                    sample.raw = raw;
                }
                Err(e) => sample.error = Some(e.to_string()),
            }
            samples.push(sample);
        }
        samples
    }

    fn need_client_fields(&self, needs: Vec<Vec<String>>) {
        *self.client_needs.lock().unwrap_or_else(|e| e.into_inner()) = Some(needs);
    }

    fn prefetch(&self, client_ids: &[String]) {
        let mut jobs: Vec<(&'static str, &'static str, String, String)> = Vec::new();
        if let Ok(accounts) = self.list("account") {
            for id in client_ids {
                let Ok(row) = accounts.row(id).map(|r| r.map(|(r, _)| r)) else {
                    continue;
                };
                if self.client_form_needed(row.as_ref()) {
                    let hash = row.as_ref().map(row_hash).unwrap_or_default();
                    jobs.push(("account.edit", "client", id.clone(), hash));
                }
            }
        }
        if let Ok(payers) = self.list("profile") {
            for id in client_ids {
                for row in payers.of_owner(id).unwrap_or_default() {
                    if let (None, Some(pid)) =
                        (first(&row, convert::PAYER_DETAILS), convert::row_id(&row))
                    {
                        jobs.push(("profile.edit", "payer", pid.to_string(), row_hash(&row)));
                    }
                }
            }
        }
        let mut cached = self.lock_forms();
        // A form whose cache cannot be asked is read, and its failure met, by the sync.
        jobs.retain(|(func, _, id, _)| !cached.has(func, id).unwrap_or(false));
        drop(cached);
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..self.parallel.min(jobs.len()) {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((func, entity, id, hash)) = jobs.get(i) else {
                        break;
                    };
                    // A failure is met again, and reported, by the sync that needs it.
                    let _ = self.form(func, entity, id, hash);
                });
            }
        });
    }

    fn keep_form(&self, form: CachedForm) {
        // A form that cannot be kept is simply read again from the panel.
        let _ = self.lock_forms().keep(form);
    }

    fn each_fresh_form(&self, f: &mut dyn FnMut(CachedForm)) {
        // A form that cannot be read back is read again by the next run.
        let _ = self.lock_forms().each_fresh(f);
    }

    fn stats(&self) -> PanelStats {
        PanelStats {
            calls: self.calls.load(Ordering::Relaxed),
            millis: self.micros.load(Ordering::Relaxed) / 1000,
            forms: self.forms_read.load(Ordering::Relaxed),
        }
    }
}
