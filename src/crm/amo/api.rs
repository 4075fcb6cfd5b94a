//! [`Crm`] over the amoCRM API v4: paths, paging, chunking and rejected-item handling.
//!
//! Writes go in chunks of the configured batch size (amoCRM's hard limit is 250 per request;
//! 50 is its recommendation; a rejected chunk costs one retry of its good items). amoCRM rejects a whole write request when one item
//! is invalid, so a rejected chunk is split: the items named in `validation-errors` are set
//! aside and the rest is sent again.

use std::sync::Arc;

use serde_json::{json, Value};

use super::client::{AmoClient, Flow, Job, JobFeed, RequestStats};
use crate::crm::{
    BatchOutcome, Created, Crm, CrmError, Dictionaries, EnumDef, FieldDef, ItemErrors, Link,
    PipelineDef, StatusDef, UserDef, Write, WriteFeed,
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
        items: Vec<Value>,
        patch: bool,
        on_answer: &mut dyn FnMut(BatchOutcome) -> bool,
    ) -> Result<(), CrmError> {
        let path = format!("/api/v4/{}", kind.collection());
        let method = if patch {
            reqwest::Method::PATCH
        } else {
            reqwest::Method::POST
        };
        let job = |chunk: &[Value]| Job {
            method: method.clone(),
            path: path.clone(),
            query: Vec::new(),
            body: Some(Arc::new(Value::Array(chunk.to_vec()))),
        };
        // Per job, in the order `run_many` numbers them: its items and its round (0 or 1).
        let mut sent: Vec<(Vec<Value>, u8)> = Vec::new();
        let mut jobs = Vec::new();
        for chunk in items.chunks(self.batch) {
            jobs.push(job(chunk));
            sent.push((chunk.to_vec(), 0));
        }
        let mut failure: Option<CrmError> = None;
        self.client
            .run_many(jobs, self.in_flight, &mut |i, result| {
                let (pending, round) = sent[i].clone();
                match chunk_outcome(kind, patch, &pending, result) {
                    Ok((outcome, rest)) => {
                        if !on_answer(outcome) {
                            return Flow::Stop;
                        }
                        if rest.is_empty() || round > 0 {
                            return Flow::Continue(Vec::new());
                        }
                        sent.push((rest.clone(), 1));
                        Flow::Continue(vec![job(&rest)])
                    }
                    Err(e) => {
                        if failure.is_none() {
                            failure = Some(e);
                        }
                        Flow::Stop
                    }
                }
            })?;
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// [`Self::write_chunks`] with every request's outcome gathered into one.
    fn write_all(
        &self,
        kind: EntityKind,
        items: Vec<Value>,
        patch: bool,
    ) -> Result<BatchOutcome, CrmError> {
        let mut all = BatchOutcome::default();
        self.write_chunks(kind, items, patch, &mut |o| {
            all.merge(o);
            true
        })?;
        Ok(all)
    }

    /// Sends `bodies` to `path` (POST), up to `in_flight` at once; the first error wins.
    fn post_all(&self, path: &str, bodies: Vec<Value>) -> Result<Vec<Option<Value>>, CrmError> {
        let n = bodies.len();
        let jobs = bodies
            .into_iter()
            .map(|b| Job {
                method: reqwest::Method::POST,
                path: path.to_string(),
                query: Vec::new(),
                body: Some(Arc::new(b)),
            })
            .collect();
        let mut answers = vec![None; n];
        let mut failure = None;
        self.client
            .run_many(jobs, self.in_flight, &mut |i, r| match r {
                Ok(v) => {
                    answers[i] = v;
                    Flow::Continue(Vec::new())
                }
                Err(e) => {
                    failure.get_or_insert(e);
                    Flow::Stop
                }
            })?;
        match failure {
            Some(e) => Err(e),
            None => Ok(answers),
        }
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

/// The items of one create or update request (the very body sent, shared with the job),
/// whether it was a PATCH, and its round (1: sent again without the items amoCRM rejected).
type Sent = (Arc<Value>, bool, u8);

impl Fed<'_> {
    fn job(kind: EntityKind, method: reqwest::Method, suffix: &str, body: Arc<Value>) -> Job {
        Job {
            method,
            path: format!("/api/v4/{}{suffix}", kind.collection()),
            query: Vec::new(),
            body: Some(body),
        }
    }

    /// Jobs for `items` in requests of the batch size; each body is held once.
    fn items(
        &mut self,
        id: u64,
        kind: EntityKind,
        items: Vec<Value>,
        patch: bool,
        round: u8,
    ) -> Vec<Job> {
        let method = if patch {
            reqwest::Method::PATCH
        } else {
            reqwest::Method::POST
        };
        let mut parts: Vec<Vec<Value>> = Vec::new();
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            parts.push(items.by_ref().take(self.batch).collect());
        }
        parts
            .into_iter()
            .map(|part| {
                let body = Arc::new(Value::Array(part));
                self.jobs
                    .push((id, kind, Some((body.clone(), patch, round))));
                Self::job(kind, method.clone(), "", body)
            })
            .collect()
    }
}

impl JobFeed for Fed<'_> {
    fn more(&mut self, room: usize, idle: bool) -> Vec<Job> {
        let mut out = Vec::new();
        for (id, kind, write) in self.feed.more(room, idle) {
            let jobs = match write {
                Write::Create(items) => self.items(id, kind, items, false, 0),
                Write::Update(items) => self.items(id, kind, items, true, 0),
                Write::Link(links) => links
                    .chunks(self.batch)
                    .map(|chunk| {
                        self.jobs.push((id, kind, None));
                        Self::job(
                            kind,
                            reqwest::Method::POST,
                            "/link",
                            Arc::new(link_body(chunk)),
                        )
                    })
                    .collect(),
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
            Some((body, patch, round)) => {
                let items = body.as_array().map(Vec::as_slice).unwrap_or_default();
                match chunk_outcome(kind, patch, items, result) {
                    Ok((outcome, rest)) => {
                        if !rest.is_empty() && round == 0 {
                            again = self.items(id, kind, rest, patch, 1);
                        }
                        Ok(outcome)
                    }
                    Err(e) => Err(e),
                }
            }
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

/// One write request's outcome, and the items to send again (its good items after a
/// rejection naming others).
fn chunk_outcome(
    kind: EntityKind,
    patch: bool,
    pending: &[Value],
    result: Result<Option<Value>, CrmError>,
) -> Result<(BatchOutcome, Vec<Value>), CrmError> {
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
                    _ => pending
                        .get(i)
                        .and_then(|p| p.get("request_id"))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
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
            let names: Vec<String> = pending.iter().map(|p| s(p, "request_id")).collect();
            // amoCRM may name items by our request_id or by their index.
            let mut rejected = Vec::new();
            for b in bad {
                let rid = if names.contains(&b.request_id) {
                    b.request_id.clone()
                } else if let Some(n) = b
                    .request_id
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| names.get(i))
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
            let rest: Vec<Value> = pending
                .iter()
                .filter(|p| {
                    let rid = s(p, "request_id");
                    !rejected.iter().any(|r| r.request_id == rid)
                })
                .cloned()
                .collect();
            outcome.rejected = rejected;
            Ok((outcome, rest))
        }
        Err(e) => Err(e),
    }
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

    fn create(&self, kind: EntityKind, items: Vec<Value>) -> Result<BatchOutcome, CrmError> {
        self.write_all(kind, items, false)
    }

    fn update(&self, kind: EntityKind, items: Vec<Value>) -> Result<BatchOutcome, CrmError> {
        self.write_all(kind, items, true)
    }

    fn write_each(
        &self,
        kind: EntityKind,
        items: Vec<Value>,
        patch: bool,
        on_answer: &mut dyn FnMut(BatchOutcome) -> bool,
    ) -> Result<(), CrmError> {
        self.write_chunks(kind, items, patch, on_answer)
    }

    fn write_fed(&self, feed: &mut dyn WriteFeed) -> Result<(), CrmError> {
        let mut fed = Fed {
            feed,
            batch: self.batch,
            jobs: Vec::new(),
            open: std::collections::HashMap::new(),
        };
        self.client.run_fed(self.in_flight, &mut fed)
    }

    fn link(&self, kind: EntityKind, links: Vec<Link>) -> Result<(), CrmError> {
        let path = format!("/api/v4/{}/link", kind.collection());
        let bodies = links.chunks(self.batch).map(link_body).collect();
        self.post_all(&path, bodies).map(drop)
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
        let path = format!("/api/v4/{}/notes", kind.collection());
        let bodies = notes
            .chunks(self.batch)
            .map(|c| Value::Array(c.to_vec()))
            .collect();
        self.post_all(&path, bodies).map(drop)
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
