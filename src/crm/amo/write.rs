//! The write path: a [`WriteFeed`]'s writes become the client's jobs ([`Fed`]), and a
//! call's writes known up front become a feed ([`Listed`]).
//!
//! Writes go in chunks of the configured batch size (amoCRM's hard limit is 250 per
//! request; 50 is its recommendation; a rejected chunk costs one retry of its good items).
//! amoCRM rejects a whole write request when one item is invalid, so a rejected chunk is
//! split: the items named in `validation-errors` are set aside and the rest is sent again.

use bytes::Bytes;
use serde_json::{json, Value};

use super::client::{Flow, Job, JobFeed};
use crate::crm::{
    array_text, BatchOutcome, Created, CrmError, Item, ItemErrors, Link, Write, WriteFeed,
};
use crate::rules::EntityKind;

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
pub(super) struct Fed<'f> {
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

impl<'f> Fed<'f> {
    /// `feed`'s writes as the client's jobs, in requests of up to `batch` items.
    pub(super) fn new(feed: &'f mut dyn WriteFeed, batch: usize) -> Fed<'f> {
        Fed {
            feed,
            batch,
            jobs: Vec::new(),
            open: std::collections::HashMap::new(),
        }
    }

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
pub(super) struct Listed<'a> {
    kind: EntityKind,
    writes: std::vec::IntoIter<Write>,
    next: u64,
    on_answer: &'a mut dyn FnMut(BatchOutcome) -> bool,
    failure: Option<CrmError>,
}

impl<'a> Listed<'a> {
    /// `writes` of `kind`, each outcome handed to `on_answer`, which returns `false` to
    /// start nothing new.
    pub(super) fn new(
        kind: EntityKind,
        writes: Vec<Write>,
        on_answer: &'a mut dyn FnMut(BatchOutcome) -> bool,
    ) -> Listed<'a> {
        Listed {
            kind,
            writes: writes.into_iter(),
            next: 0,
            on_answer,
            failure: None,
        }
    }

    /// The first error, once the run is over.
    pub(super) fn finish(self) -> Result<(), CrmError> {
        match self.failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
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
pub(super) fn in_batches(items: Vec<Item>, batch: usize) -> Vec<Vec<Item>> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
