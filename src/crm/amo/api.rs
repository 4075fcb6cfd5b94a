//! [`Crm`] over the amoCRM API v4: paths, paging, chunking and rejected-item handling.
//!
//! Writes go in chunks of the configured batch size (amoCRM's hard limit is 250 per request;
//! 50 is its recommendation; a rejected chunk costs one retry of its good items). amoCRM rejects a whole write request when one item
//! is invalid, so a rejected chunk is split: the items named in `validation-errors` are set
//! aside and the rest is sent again.

use bytes::Bytes;
use serde_json::{json, Value};

use super::client::{AmoClient, Flow, Job, JobFeed, RequestStats};
use crate::crm::{
    array_text, BatchOutcome, Created, Crm, CrmError, Dictionaries, EnumDef, FieldDef, Item,
    ItemErrors, Link, PipelineDef, StatusDef, UserDef, Write, WriteFeed,
};
use crate::rules::EntityKind;

/// amoCRM's hard limit of entities per write request.
pub const CHUNK: usize = 250;

/// What a read of entities by id asks for besides the entity: a lead's contacts appear in
/// `_embedded` only with `with=contacts` (§3.2), and the engine checks its links there.
fn with_of(kind: EntityKind) -> Vec<(String, String)> {
    if kind == EntityKind::Lead {
        vec![("with".to_string(), "contacts".to_string())]
    } else {
        vec![]
    }
}

/// The amoCRM implementation of [`Crm`].
pub struct AmoCrm<'a> {
    client: AmoClient<'a>,
    batch: usize,
    in_flight: usize,
    /// The account ignored `filter[id]` once: read by id one by one.
    filter_ignored: std::cell::Cell<bool>,
}

impl<'a> AmoCrm<'a> {
    /// Wraps a client; writes go in chunks of up to 250.
    pub fn new(client: AmoClient<'a>) -> Self {
        AmoCrm {
            client,
            batch: CHUNK,
            in_flight: 1,
            filter_ignored: std::cell::Cell::new(false),
        }
    }

    /// Sets how many write requests may be open at once (`[amocrm] max_in_flight`); the
    /// pacer still starts at most `rate_limit_rps` per second.
    pub fn with_in_flight(mut self, n: usize) -> Self {
        self.in_flight = n.max(1);
        self
    }

    /// Sets the entities per write request (1..=250).
    pub fn with_batch_size(mut self, n: usize) -> Self {
        self.batch = n.clamp(1, CHUNK);
        self
    }

    /// A contact with its leads embedded (`with=leads`), as a call is filed against it;
    /// `None` when it no longer exists.
    pub fn contact_with_leads(&self, id: i64) -> Result<Option<Value>, CrmError> {
        self.client.get(
            &format!("/api/v4/contacts/{id}"),
            &[("with".into(), "leads".into())],
        )
    }

    /// The underlying client (for `auth` and raw calls).
    pub fn client(&self) -> &AmoClient<'a> {
        &self.client
    }

    /// Follows `_links.next` through a paged collection.
    fn pages(
        &self,
        path: &str,
        key: &str,
        limit: usize,
        f: &mut dyn FnMut(Value),
    ) -> Result<(), CrmError> {
        self.pages_with(path, key, limit, &[], f)
    }

    /// [`Self::pages`] with extra query parameters (filters, order).
    fn pages_with(
        &self,
        path: &str,
        key: &str,
        limit: usize,
        extra: &[(String, String)],
        f: &mut dyn FnMut(Value),
    ) -> Result<(), CrmError> {
        let mut page = 1;
        loop {
            let mut q = vec![
                ("page".to_string(), page.to_string()),
                ("limit".to_string(), limit.to_string()),
            ];
            q.extend(extra.iter().cloned());
            let Some(v) = self.client.get(path, &q)? else {
                return Ok(());
            };
            if let Some(items) = v
                .pointer(&format!("/_embedded/{key}"))
                .and_then(Value::as_array)
            {
                for item in items {
                    f(item.clone());
                }
            }
            if v.pointer("/_links/next").is_none() {
                return Ok(());
            }
            page += 1;
        }
    }

    /// Creates (or with `patch` updates) `items` in requests of the batch size, up to
    /// `in_flight` open at once; `on_answer` gets each request's outcome as it arrives.
    /// amoCRM rejects a whole request when one item is invalid, so a rejected request is
    /// sent once more without the items `validation-errors` names. On another error nothing
    /// new starts, the open requests' outcomes are still delivered, and the error is returned.
    fn write_chunks(
        &self,
        kind: EntityKind,
        items: Vec<Item>,
        patch: bool,
        on_answer: &mut dyn FnMut(BatchOutcome) -> bool,
    ) -> Result<(), CrmError> {
        let writes = in_batches(items, self.batch)
            .into_iter()
            .map(|part| match patch {
                true => Write::Update(part),
                false => Write::Create(part),
            })
            .collect();
        self.write_list(kind, writes, on_answer)
    }

    /// Sends `writes` (each a request's worth), up to `in_flight` at once, through the
    /// write path of a pipelined run ([`Fed`]); the first error starts nothing new and is
    /// returned once the open requests are in.
    fn write_list(
        &self,
        kind: EntityKind,
        writes: Vec<Write>,
        on_answer: &mut dyn FnMut(BatchOutcome) -> bool,
    ) -> Result<(), CrmError> {
        let lanes = self.in_flight.min(writes.len()).max(1);
        let mut list = Listed {
            kind,
            writes: writes.into_iter(),
            next: 0,
            on_answer,
            failure: None,
        };
        self.client.run_fed(lanes, &mut self.fed(&mut list))?;
        match list.failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// `feed`'s writes as the client's jobs.
    fn fed<'f>(&self, feed: &'f mut dyn WriteFeed) -> Fed<'f> {
        Fed {
            feed,
            batch: self.batch,
            jobs: Vec::new(),
            open: std::collections::HashMap::new(),
        }
    }

    /// [`Self::write_chunks`] with every request's outcome gathered into one.
    fn write_all(
        &self,
        kind: EntityKind,
        items: Vec<Item>,
        patch: bool,
    ) -> Result<BatchOutcome, CrmError> {
        let mut all = BatchOutcome::default();
        self.write_chunks(kind, items, patch, &mut |o| {
            all.merge(o);
            true
        })?;
        Ok(all)
    }
}

/// The body of one link request.
fn link_body(links: &[Link]) -> Value {
    Value::Array(
        links
            .iter()
            .map(|l| {
                let mut v = json!({"entity_id": l.from_id, "to_entity_id": l.to_id, "to_entity_type": l.to_kind.collection()});
                if l.is_main {
                    v["metadata"] = json!({"is_main": true});
                }
                v
            })
            .collect(),
    )
}

/// A [`WriteFeed`]'s writes as the client's jobs: a write may become several requests (a
/// link list longer than a batch; a rejected chunk sent again without the items amoCRM
/// named), and the feed hears once, when the last of them is answered.
struct Fed<'f> {
    feed: &'f mut dyn WriteFeed,
    batch: usize,
    /// Per job number: the write it serves, its kind, and (creates and updates) what was
    /// sent.
    jobs: Vec<(u64, EntityKind, Option<Sent>)>,
    /// Per write: requests not answered yet, and what the answered ones gave.
    open: std::collections::HashMap<u64, (usize, Result<BatchOutcome, CrmError>)>,
}

/// One create or update request on its way: its body (shared with the job, not copied),
/// the `request_id` of each item (to match the answer), whether it was a PATCH, and its
/// round (1: sent again without the items amoCRM rejected). The items themselves are read
/// back from the body only when a rejection asks for the good ones to be sent again.
struct Sent {
    body: Bytes,
    ids: Vec<String>,
    patch: bool,
    round: u8,
}

impl Fed<'_> {
    fn job(kind: EntityKind, method: reqwest::Method, suffix: &str, body: Bytes) -> Job {
        Job {
            method,
            path: format!("/api/v4/{}{suffix}", kind.collection()),
            query: Vec::new(),
            body: Some(body),
        }
    }

    /// POSTs to the kind's `suffix` whose answer only says it was done (links, notes):
    /// `list` in requests of the batch size, each body built by `body`.
    fn posts<T>(
        &mut self,
        id: u64,
        kind: EntityKind,
        suffix: &str,
        list: &[T],
        body: impl Fn(&[T]) -> Value,
    ) -> Vec<Job> {
        list.chunks(self.batch)
            .map(|chunk| {
                self.jobs.push((id, kind, None));
                let text = Bytes::from(body(chunk).to_string());
                Self::job(kind, reqwest::Method::POST, suffix, text)
            })
            .collect()
    }

    /// Jobs for `items` in requests of the batch size; each body is JSON text built from
    /// the items' texts.
    fn items(
        &mut self,
        id: u64,
        kind: EntityKind,
        items: Vec<Item>,
        patch: bool,
        round: u8,
    ) -> Vec<Job> {
        let method = if patch {
            reqwest::Method::PATCH
        } else {
            reqwest::Method::POST
        };
        in_batches(items, self.batch)
            .into_iter()
            .map(|part| {
                let body = Bytes::from(array_text(&part));
                let sent = Sent {
                    body: body.clone(),
                    ids: part.iter().map(|i| i.request_id().to_string()).collect(),
                    patch,
                    round,
                };
                self.jobs.push((id, kind, Some(sent)));
                Self::job(kind, method.clone(), "", body)
            })
            .collect()
    }
}

/// A list of writes known up front as a [`WriteFeed`] (creates, updates, links and notes
/// of one call): each answer is handed on as it arrives; the first error is kept and
/// starts nothing new.
struct Listed<'a> {
    kind: EntityKind,
    writes: std::vec::IntoIter<Write>,
    next: u64,
    on_answer: &'a mut dyn FnMut(BatchOutcome) -> bool,
    failure: Option<CrmError>,
}

impl WriteFeed for Listed<'_> {
    fn more(&mut self, room: usize, _idle: bool) -> Vec<(u64, EntityKind, Write)> {
        if self.failure.is_some() {
            return Vec::new();
        }
        let kind = self.kind;
        let mut out = Vec::new();
        for write in self.writes.by_ref().take(room.max(1)) {
            self.next += 1;
            out.push((self.next, kind, write));
        }
        out
    }

    fn answered(&mut self, _id: u64, result: Result<BatchOutcome, CrmError>) -> bool {
        match result {
            Ok(outcome) => (self.on_answer)(outcome) && self.failure.is_none(),
            Err(e) => {
                self.failure.get_or_insert(e);
                false
            }
        }
    }
}

impl JobFeed for Fed<'_> {
    fn more(&mut self, room: usize, idle: bool) -> Vec<Job> {
        let mut out = Vec::new();
        for (id, kind, write) in self.feed.more(room, idle) {
            let jobs = match write {
                Write::Create(items) => self.items(id, kind, items, false, 0),
                Write::Update(items) => self.items(id, kind, items, true, 0),
                Write::Link(links) => self.posts(id, kind, "/link", &links, link_body),
                Write::Notes(notes) => {
                    self.posts(id, kind, "/notes", &notes, |c| Value::Array(c.to_vec()))
                }
            };
            if jobs.is_empty() {
                // Nothing to send: answered at once, as an empty write.
                if !self.feed.answered(id, Ok(BatchOutcome::default())) {
                    break;
                }
                continue;
            }
            self.open
                .insert(id, (jobs.len(), Ok(BatchOutcome::default())));
            out.extend(jobs);
        }
        out
    }

    fn meanwhile(&mut self) -> bool {
        self.feed.meanwhile()
    }

    fn answered(&mut self, index: usize, result: Result<Option<Value>, CrmError>) -> Flow {
        let (id, kind) = (self.jobs[index].0, self.jobs[index].1);
        let sent = self.jobs[index].2.take();
        let mut again = Vec::new();
        let part = match sent {
            None => result.map(|_| BatchOutcome::default()),
            Some(sent) => match chunk_outcome(kind, sent.patch, &sent.ids, result) {
                Ok((outcome, rest)) => {
                    if !rest.is_empty() && sent.round == 0 {
                        let items = items_of(&sent.body, &rest);
                        again = self.items(id, kind, items, sent.patch, 1);
                    }
                    Ok(outcome)
                }
                Err(e) => Err(e),
            },
        };
        let Some((left, sum)) = self.open.get_mut(&id) else {
            return Flow::Continue(again);
        };
        *left = *left - 1 + again.len();
        match (&mut *sum, part) {
            (Ok(s), Ok(p)) => s.merge(p),
            // The first error is the write's answer.
            (Ok(_), Err(e)) => *sum = Err(e),
            (Err(_), _) => {}
        }
        if *left > 0 {
            return Flow::Continue(again);
        }
        let (_, result) = self.open.remove(&id).expect("open write");
        if self.feed.answered(id, result) {
            Flow::Continue(again)
        } else {
            Flow::Stop
        }
    }
}

/// One write request's outcome, and the `request_id`s of the items to send again (its
/// good items after a rejection naming others). `pending`: the request's `request_id`s.
fn chunk_outcome(
    kind: EntityKind,
    patch: bool,
    pending: &[String],
    result: Result<Option<Value>, CrmError>,
) -> Result<(BatchOutcome, Vec<String>), CrmError> {
    let mut outcome = BatchOutcome::default();
    match result {
        Ok(v) => {
            let v = v.unwrap_or(Value::Null);
            let returned = v
                .pointer(&format!("/_embedded/{}", kind.collection()))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for (i, item) in returned.iter().enumerate() {
                let rid = match item.get("request_id") {
                    Some(Value::String(s)) => s.clone(),
                    _ => pending.get(i).cloned().unwrap_or_default(),
                };
                if let (false, Some(id)) = (patch, item.get("id").and_then(Value::as_i64)) {
                    outcome.created.push(Created {
                        request_id: rid.clone(),
                        id,
                    });
                }
                outcome.applied.push(rid);
            }
            Ok((outcome, Vec::new()))
        }
        Err(CrmError::Validation {
            items: bad,
            request,
            detail,
        }) => {
            // amoCRM may name items by our request_id or by their index.
            let mut rejected = Vec::new();
            for b in bad {
                let rid = if pending.contains(&b.request_id) {
                    b.request_id.clone()
                } else if let Some(n) = b
                    .request_id
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| pending.get(i))
                {
                    n.clone()
                } else {
                    // Cannot tell which item: the whole chunk stays rejected.
                    return Err(CrmError::Validation {
                        request,
                        detail,
                        items: vec![b],
                    });
                };
                rejected.push(ItemErrors {
                    request_id: rid,
                    errors: b.errors,
                });
            }
            let rest: Vec<String> = pending
                .iter()
                .filter(|p| !rejected.iter().any(|r| &r.request_id == *p))
                .cloned()
                .collect();
            outcome.rejected = rejected;
            Ok((outcome, rest))
        }
        Err(e) => Err(e),
    }
}

/// `items` in requests' worth of at most `batch` each, moved, not copied.
fn in_batches(items: Vec<Item>, batch: usize) -> Vec<Vec<Item>> {
    let mut parts = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        parts.push(items.by_ref().take(batch.max(1)).collect());
    }
    parts
}

/// The items of a request's `body` whose `request_id` is in `keep`, read back from the
/// text that was sent (only after a rejection, so nothing else holds them meanwhile).
fn items_of(body: &[u8], keep: &[String]) -> Vec<Item> {
    let items: Vec<Value> = serde_json::from_slice(body).unwrap_or_default();
    items
        .iter()
        .filter(|v| {
            v.get("request_id")
                .and_then(Value::as_str)
                .is_some_and(|r| keep.iter().any(|k| k == r))
        })
        .map(Item::new)
        .collect()
}

/// Every value of a contact's PHONE fields (amoCRM names the standard field by its
/// `field_code` in every answer).
fn phones_of(contact: &Value) -> impl Iterator<Item = &str> {
    contact
        .get("custom_fields_values")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|f| f.get("field_code").and_then(Value::as_str) == Some("PHONE"))
        .flat_map(|f| {
            f.get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(|v| v.get("value").and_then(Value::as_str))
}

fn s(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

fn field_def(v: &Value) -> Option<FieldDef> {
    Some(FieldDef {
        id: v.get("id")?.as_i64()?,
        name: s(v, "name"),
        code: v
            .get("code")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .map(String::from),
        field_type: s(v, "type"),
        enums: v
            .get("enums")
            .and_then(Value::as_array)
            .map(|es| {
                es.iter()
                    .filter_map(|e| {
                        Some(EnumDef {
                            id: e.get("id")?.as_i64()?,
                            value: s(e, "value"),
                            code: e.get("code").and_then(Value::as_str).map(String::from),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default(),
    })
}

impl Crm for AmoCrm<'_> {
    fn dictionaries(&self) -> Result<Dictionaries, CrmError> {
        let mut d = Dictionaries::default();
        if let Some(acc) = self.client.get("/api/v4/account", &[])? {
            d.current_user_id = acc.get("current_user_id").and_then(Value::as_i64);
        }
        for kind in [EntityKind::Contact, EntityKind::Company, EntityKind::Lead] {
            let mut fields = Vec::new();
            self.pages(
                &format!("/api/v4/{}/custom_fields", kind.collection()),
                "custom_fields",
                50,
                &mut |v| fields.extend(field_def(&v)),
            )?;
            d.fields.insert(kind.as_str().to_string(), fields);
        }
        if let Some(v) = self.client.get("/api/v4/leads/pipelines", &[])? {
            for p in v
                .pointer("/_embedded/pipelines")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                d.pipelines.push(PipelineDef {
                    id: p.get("id").and_then(Value::as_i64).unwrap_or(0),
                    name: s(p, "name"),
                    is_main: p.get("is_main").and_then(Value::as_bool).unwrap_or(false),
                    statuses: p
                        .pointer("/_embedded/statuses")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        // "Unsorted" (type 1) cannot be set by hand: amoCRM rejects a lead
                        // sent there, so it is neither a default nor a rule target.
                        .filter(|st| st.get("type").and_then(Value::as_i64) != Some(1))
                        .map(|st| StatusDef {
                            id: st.get("id").and_then(Value::as_i64).unwrap_or(0),
                            name: s(st, "name"),
                        })
                        .collect(),
                });
            }
        }
        // The users list needs admin rights; without it, responsible users are given by id.
        let mut users = Vec::new();
        match self.pages("/api/v4/users", "users", 250, &mut |u| {
            users.push(UserDef {
                id: u.get("id").and_then(Value::as_i64).unwrap_or(0),
                name: s(&u, "name"),
                email: u.get("email").and_then(Value::as_str).map(String::from),
                active: u
                    .pointer("/rights/is_active")
                    .and_then(Value::as_bool)
                    .unwrap_or(true),
            })
        }) {
            Ok(()) => d.users = users,
            Err(CrmError::Forbidden { .. }) => {}
            Err(e) => return Err(e),
        }
        Ok(d)
    }

    fn search(&self, kind: EntityKind, query: &str) -> Result<Vec<Value>, CrmError> {
        let q = vec![
            ("query".to_string(), query.to_string()),
            ("limit".to_string(), "50".to_string()),
        ];
        let v = self
            .client
            .get(&format!("/api/v4/{}", kind.collection()), &q)?;
        Ok(v.and_then(|v| {
            v.pointer(&format!("/_embedded/{}", kind.collection()))
                .and_then(Value::as_array)
                .cloned()
        })
        .unwrap_or_default())
    }

    fn contacts_by_phone(&self, phone: &str, with_leads: bool) -> Result<Vec<Value>, CrmError> {
        let mut q = vec![
            ("query".to_string(), crate::phone::search_key(phone)),
            ("limit".to_string(), "50".to_string()),
        ];
        if with_leads {
            q.push(("with".to_string(), "leads".to_string()));
        }
        let found = self.client.get("/api/v4/contacts", &q)?;
        let hits = found
            .and_then(|v| {
                v.pointer("/_embedded/contacts")
                    .and_then(Value::as_array)
                    .cloned()
            })
            .unwrap_or_default();
        Ok(hits
            .into_iter()
            .filter(|c| phones_of(c).any(|p| crate::phone::same(p, phone)))
            .collect())
    }

    fn get(&self, kind: EntityKind, id: i64) -> Result<Option<Value>, CrmError> {
        self.client.get(
            &format!("/api/v4/{}/{id}", kind.collection()),
            &with_of(kind),
        )
    }

    /// `filter[id][]` pages of up to 250 (§3.3). The filter is an add-on some accounts lack,
    /// and then amoCRM ignores it and lists everything (amocrm-api-php#348): an answer
    /// holding an id we did not ask for means that, and the rest is read one by one (and
    /// this client stops trying the filter).
    fn get_many(&self, kind: EntityKind, ids: &[i64]) -> Result<Vec<Value>, CrmError> {
        let mut out = Vec::new();
        let mut left: Vec<i64> = ids.to_vec();
        if !self.filter_ignored.get() {
            let path = format!("/api/v4/{}", kind.collection());
            let mut done = Vec::new();
            for page in ids.chunks(CHUNK) {
                let mut q: Vec<(String, String)> = page
                    .iter()
                    .map(|id| ("filter[id][]".to_string(), id.to_string()))
                    .collect();
                q.push(("limit".into(), CHUNK.to_string()));
                q.extend(with_of(kind));
                let listed = self
                    .client
                    .get(&path, &q)?
                    .and_then(|v| {
                        v.pointer(&format!("/_embedded/{}", kind.collection()))
                            .and_then(Value::as_array)
                            .cloned()
                    })
                    .unwrap_or_default();
                let foreign = listed.iter().any(|e| {
                    e.get("id")
                        .and_then(Value::as_i64)
                        .is_none_or(|id| !page.contains(&id))
                });
                if foreign {
                    crate::log::verbose(
                        "amoCRM ignored filter[id] (the filter add-on is off): reading one by one",
                    );
                    self.filter_ignored.set(true);
                    break;
                }
                out.extend(listed);
                done.extend_from_slice(page);
            }
            left.retain(|id| !done.contains(id));
        }
        for id in left {
            out.extend(self.get(kind, id)?);
        }
        Ok(out)
    }

    fn create(&self, kind: EntityKind, items: Vec<Item>) -> Result<BatchOutcome, CrmError> {
        self.write_all(kind, items, false)
    }

    fn update(&self, kind: EntityKind, items: Vec<Item>) -> Result<BatchOutcome, CrmError> {
        self.write_all(kind, items, true)
    }

    fn write_each(
        &self,
        kind: EntityKind,
        items: Vec<Item>,
        patch: bool,
        on_answer: &mut dyn FnMut(BatchOutcome) -> bool,
    ) -> Result<(), CrmError> {
        self.write_chunks(kind, items, patch, on_answer)
    }

    fn write_fed(&self, feed: &mut dyn WriteFeed) -> Result<(), CrmError> {
        self.client.run_fed(self.in_flight, &mut self.fed(feed))
    }

    fn link(&self, kind: EntityKind, links: Vec<Link>) -> Result<(), CrmError> {
        let writes = links
            .chunks(self.batch)
            .map(|c| Write::Link(c.to_vec()))
            .collect();
        self.write_list(kind, writes, &mut |_| true)
    }

    fn for_each(&self, kind: EntityKind, f: &mut dyn FnMut(Value)) -> Result<(), CrmError> {
        self.pages(
            &format!("/api/v4/{}", kind.collection()),
            kind.collection(),
            250,
            f,
        )
    }

    fn requests(&self) -> RequestStats {
        self.client.stats()
    }

    fn create_tasks(&self, tasks: Vec<Value>) -> Result<Vec<Created>, CrmError> {
        let mut out = Vec::new();
        for chunk in tasks.chunks(self.batch) {
            let v = self
                .client
                .post("/api/v4/tasks", &Value::Array(chunk.to_vec()))?
                .unwrap_or(Value::Null);
            for (i, t) in v
                .pointer("/_embedded/tasks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let request_id = match t.get("request_id") {
                    Some(Value::String(s)) => s.clone(),
                    _ => chunk.get(i).map(|c| s(c, "request_id")).unwrap_or_default(),
                };
                if let Some(id) = t.get("id").and_then(Value::as_i64) {
                    out.push(Created { request_id, id });
                }
            }
        }
        Ok(out)
    }

    fn open_tasks(&self, kind: EntityKind, ids: &[i64]) -> Result<Vec<Value>, CrmError> {
        let mut out = Vec::new();
        // `filter[entity_id]` takes a list; keep URLs short.
        for chunk in ids.chunks(50) {
            let mut q = vec![
                (
                    "filter[entity_type]".to_string(),
                    kind.collection().to_string(),
                ),
                ("filter[is_completed]".to_string(), "0".to_string()),
            ];
            q.extend(
                chunk
                    .iter()
                    .map(|id| ("filter[entity_id][]".to_string(), id.to_string())),
            );
            self.pages_with("/api/v4/tasks", "tasks", 250, &q, &mut |t| {
                // Filters may be ignored on accounts without the API filter add-on.
                let open = !t
                    .get("is_completed")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let mine = t.get("entity_type").and_then(Value::as_str) == Some(kind.collection())
                    && t.get("entity_id")
                        .and_then(Value::as_i64)
                        .is_some_and(|e| chunk.contains(&e));
                if open && mine {
                    out.push(t);
                }
            })?;
        }
        Ok(out)
    }

    fn add_notes(&self, kind: EntityKind, notes: Vec<Value>) -> Result<(), CrmError> {
        let writes = notes
            .chunks(self.batch)
            .map(|c| Write::Notes(c.to_vec()))
            .collect();
        self.write_list(kind, writes, &mut |_| true)
    }

    fn notes_of(&self, kind: EntityKind, id: i64) -> Result<Vec<Value>, CrmError> {
        let mut out = Vec::new();
        let path = format!("/api/v4/{}/{id}/notes", kind.collection());
        self.pages(&path, "notes", 250, &mut |n| out.push(n))?;
        Ok(out)
    }

    fn events(&self, types: &[&str], since: i64, f: &mut dyn FnMut(Value)) -> Result<(), CrmError> {
        let q = vec![
            ("filter[type]".to_string(), types.join(",")),
            ("filter[created_at][from]".to_string(), since.to_string()),
            ("order[created_at]".to_string(), "asc".to_string()),
        ];
        self.pages_with("/api/v4/events", "events", 100, &q, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contacts_phones_are_the_values_of_its_phone_fields_only() {
        let c = json!({"custom_fields_values": [
            {"field_id": 1, "field_code": "PHONE", "values": [{"value": "+7 916 000-11-22"}, {"value": "8 495 123 45 67"}]},
            {"field_id": 2, "field_code": "EMAIL", "values": [{"value": "79160001122@x.example"}]},
            {"field_id": 3, "values": [{"value": "79161112233"}]},
        ]});
        let phones: Vec<&str> = phones_of(&c).collect();
        assert_eq!(phones, ["+7 916 000-11-22", "8 495 123 45 67"]);
        assert_eq!(phones_of(&json!({"id": 1})).count(), 0);
    }

    /// amoCRM's rejection of a lead request for its second item, named by its index.
    fn second_item_rejected() -> CrmError {
        CrmError::Validation {
            request: "POST /api/v4/leads".into(),
            detail: "validation-errors".into(),
            items: vec![ItemErrors {
                request_id: "1".into(),
                errors: vec![],
            }],
        }
    }

    #[test]
    fn a_rejected_request_sends_again_only_its_good_items_read_back_from_the_body() {
        let items: Vec<Item> = ["service:1", "service:2", "service:3"]
            .iter()
            .map(|r| Item::new(&json!({"name": format!("Lead {r}"), "request_id": r})))
            .collect();
        let body = array_text(&items);
        let ids: Vec<String> = items.iter().map(|i| i.request_id().to_string()).collect();
        // amoCRM names the bad item by its index in the request.
        let rejection = second_item_rejected();
        let (outcome, rest) = chunk_outcome(EntityKind::Lead, false, &ids, Err(rejection)).unwrap();
        assert_eq!(outcome.rejected[0].request_id, "service:2");
        assert_eq!(rest, ["service:1", "service:3"]);
        let again = items_of(body.as_bytes(), &rest);
        assert_eq!(again, [items[0].clone(), items[2].clone()]);
    }

    /// Writes handed out once; every answer the feed hears, in order.
    #[derive(Default)]
    struct Script {
        writes: Vec<(u64, EntityKind, Write)>,
        heard: Vec<(u64, Result<BatchOutcome, CrmError>)>,
    }

    impl WriteFeed for Script {
        fn more(&mut self, _room: usize, _idle: bool) -> Vec<(u64, EntityKind, Write)> {
            std::mem::take(&mut self.writes)
        }
        fn answered(&mut self, id: u64, result: Result<BatchOutcome, CrmError>) -> bool {
            self.heard.push((id, result));
            true
        }
    }

    fn again(flow: Flow) -> Vec<Job> {
        match flow {
            Flow::Continue(jobs) => jobs,
            Flow::Stop => panic!("the feed did not stop"),
        }
    }

    fn created(kind: &str, pairs: &[(&str, i64)]) -> Result<Option<Value>, CrmError> {
        let list: Vec<Value> = pairs
            .iter()
            .map(|(rid, id)| json!({"id": id, "request_id": rid}))
            .collect();
        Ok(Some(json!({"_embedded": {kind: list}})))
    }

    #[test]
    fn writes_become_requests_of_the_batch_size_and_each_write_is_answered_once() {
        let items: Vec<Item> = (1..=5)
            .map(|n| {
                Item::new(&json!({"name": format!("Lead {n}"), "request_id": format!("l{n}")}))
            })
            .collect();
        let link = |n| Link {
            from_id: n,
            to_kind: EntityKind::Company,
            to_id: 9,
            is_main: false,
        };
        let mut script = Script {
            writes: vec![
                (1, EntityKind::Lead, Write::Create(items)),
                (
                    2,
                    EntityKind::Contact,
                    Write::Link(vec![link(1), link(2), link(3)]),
                ),
                (3, EntityKind::Lead, Write::Notes(Vec::new())),
            ],
            ..Script::default()
        };
        let mut fed = Fed {
            feed: &mut script,
            batch: 2,
            jobs: Vec::new(),
            open: std::collections::HashMap::new(),
        };
        // Five items in requests of two, three links in requests of two; no notes, no request.
        let jobs = fed.more(10, true);
        let shape: Vec<(String, String)> = jobs
            .iter()
            .map(|j| (j.method.to_string(), j.path.clone()))
            .collect();
        let leads = ("POST".to_string(), "/api/v4/leads".to_string());
        let links = ("POST".to_string(), "/api/v4/contacts/link".to_string());
        assert_eq!(
            shape,
            [
                leads.clone(),
                leads.clone(),
                leads.clone(),
                links.clone(),
                links
            ]
        );
        let body: Value = serde_json::from_slice(jobs[3].body.as_ref().unwrap()).unwrap();
        assert_eq!(body.as_array().unwrap().len(), 2);
        assert!(again(fed.answered(0, created("leads", &[("l1", 11), ("l2", 12)]))).is_empty());
        // The second request is rejected for its second item (named by index): its first is
        // sent again on its own, as job 5.
        let rejection = second_item_rejected();
        let resend = again(fed.answered(1, Err(rejection)));
        assert_eq!(resend.len(), 1);
        let body: Value = serde_json::from_slice(resend[0].body.as_ref().unwrap()).unwrap();
        assert_eq!(body[0]["request_id"], "l3");
        assert!(again(fed.answered(2, created("leads", &[("l5", 15)]))).is_empty());
        assert!(again(fed.answered(5, created("leads", &[("l3", 13)]))).is_empty());
        assert!(again(fed.answered(3, Ok(None))).is_empty());
        let refused = CrmError::Http {
            request: "POST /api/v4/contacts/link".into(),
            status: 400,
            detail: String::new(),
        };
        assert!(again(fed.answered(4, Err(refused))).is_empty());
        let heard: Vec<u64> = script.heard.iter().map(|(id, _)| *id).collect();
        assert_eq!(
            heard,
            [3, 1, 2],
            "each write heard once, when its last request is in"
        );
        let Ok(leads) = &script.heard[1].1 else {
            panic!("the create was answered");
        };
        let ids: Vec<(&str, i64)> = leads
            .created
            .iter()
            .map(|c| (c.request_id.as_str(), c.id))
            .collect();
        assert_eq!(ids, [("l1", 11), ("l2", 12), ("l5", 15), ("l3", 13)]);
        assert_eq!(leads.rejected[0].request_id, "l4");
        assert!(matches!(
            script.heard[2].1,
            Err(CrmError::Http { status: 400, .. })
        ));
    }
}
