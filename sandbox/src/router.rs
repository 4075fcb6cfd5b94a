//! Maps `/api/v4/...` paths and verbs to handlers. A known path with the wrong
//! verb answers 405 (as the real API does for a write to `/contacts/{id}` with
//! the wrong verb, §4), an unknown path 404.

use crate::api::Call;
use crate::hal;
use crate::http::Response;
use crate::store::{Kind, Store};
use crate::{account, calls, complex, custom_fields, entities, events, links, notes, tags, tasks};

/// A path segment: an entity collection, a numeric id, or another word.
#[derive(Clone, Copy)]
enum Seg<'a> {
    E(Kind),
    N(i64),
    W(&'a str),
}

fn classify<'a>(s: &'a str) -> Seg<'a> {
    if let Some(k) = Kind::from_plural(s) {
        return Seg::E(k);
    }
    if !s.is_empty() && s.len() < 19 && s.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(n) = s.parse() {
            return Seg::N(n);
        }
    }
    Seg::W(s)
}

pub fn handle(store: &mut Store, call: &Call) -> Response {
    use Seg::{E, N, W};
    let segs: Vec<Seg> = call.segs.iter().map(|s| classify(s)).collect();
    match (call.method, segs.as_slice()) {
        ("GET", [W("account")]) => account::account(store, call),
        ("GET", [W("users")]) => account::users(store, call),
        ("GET", [W("users"), N(id)]) => account::user(store, call, *id),
        ("GET", [E(Kind::Lead), W("pipelines")]) => account::pipelines(store, call),
        ("GET", [E(Kind::Lead), W("pipelines"), N(id)]) => account::pipeline(store, call, *id),
        ("GET", [E(Kind::Lead), W("pipelines"), N(id), W("statuses")]) => {
            account::statuses(store, call, *id)
        }
        ("GET", [E(Kind::Lead), W("pipelines"), N(p), W("statuses"), N(s)]) => {
            account::status(store, call, *p, *s)
        }
        ("POST", [E(Kind::Lead), W("complex")]) => complex::create(store, call),
        ("GET", [E(k), W("custom_fields")]) => custom_fields::list(store, call, *k),
        ("POST", [E(k), W("custom_fields")]) => custom_fields::create(store, call, *k),
        ("GET", [E(k), W("custom_fields"), N(id)]) => custom_fields::get(store, call, *k, *id),
        ("GET", [E(k), W("tags")]) => tags::list(store, call, *k),
        ("POST", [E(k), W("tags")]) => tags::create(store, call, *k),
        ("GET", [E(k), W("notes")]) => notes::list(store, call, *k, None),
        ("POST", [E(k), W("notes")]) => notes::create(store, call, *k, None),
        ("PATCH", [E(k), W("notes")]) => notes::update(store, call, *k, None, None),
        ("POST", [E(k), W("link")]) => links::link(store, call, *k, None),
        ("POST", [E(k), W("unlink")]) => links::unlink(store, call, *k, None),
        ("GET", [E(k), W("links")]) => links::list(store, call, *k, None),
        ("GET", [E(k)]) => entities::list(store, call, *k),
        ("POST", [E(k)]) => entities::create(store, call, *k),
        ("PATCH", [E(k)]) => entities::update_many(store, call, *k),
        ("GET", [E(k), N(id)]) => entities::get_one(store, call, *k, *id),
        ("PATCH", [E(k), N(id)]) => entities::update_one(store, call, *k, *id),
        ("POST", [E(k), N(id), W("link")]) => links::link(store, call, *k, Some(*id)),
        ("POST", [E(k), N(id), W("unlink")]) => links::unlink(store, call, *k, Some(*id)),
        ("GET", [E(k), N(id), W("links")]) => links::list(store, call, *k, Some(*id)),
        ("GET", [E(k), N(id), W("notes")]) => notes::list(store, call, *k, Some(*id)),
        ("POST", [E(k), N(id), W("notes")]) => notes::create(store, call, *k, Some(*id)),
        ("PATCH", [E(k), N(id), W("notes")]) => notes::update(store, call, *k, Some(*id), None),
        ("GET", [E(k), N(id), W("notes"), N(n)]) => notes::get_one(store, call, *k, *id, *n),
        ("PATCH", [E(k), N(id), W("notes"), N(n)]) => {
            notes::update(store, call, *k, Some(*id), Some(*n))
        }
        ("GET", [W("tasks")]) => tasks::list(store, call),
        ("POST", [W("tasks")]) => tasks::create(store, call),
        ("PATCH", [W("tasks")]) => tasks::update(store, call, None),
        ("GET", [W("tasks"), N(id)]) => tasks::get_one(store, call, *id),
        ("PATCH", [W("tasks"), N(id)]) => tasks::update(store, call, Some(*id)),
        ("POST", [W("calls")]) => calls::create(store, call),
        ("GET", [W("events")]) => events::list(store, call),
        ("GET", [W("events"), W(id)]) => events::get_one(store, call, id),
        (_, s) if known(s) => hal::problem(405, "Method not allowed"),
        _ => hal::problem(
            404,
            &format!("Cannot {} {}{}", call.method, call.base, call.path),
        ),
    }
}

/// True when some verb is served at this path.
fn known(segs: &[Seg]) -> bool {
    use Seg::{E, N, W};
    matches!(
        segs,
        [W("account" | "users" | "tasks" | "calls" | "events")]
            | [W("users" | "tasks"), N(_)]
            | [W("events"), W(_)]
            | [E(_)]
            | [E(_), N(_)]
            | [
                E(_),
                W("custom_fields" | "tags" | "notes" | "link" | "unlink" | "links")
            ]
            | [E(_), W("custom_fields"), N(_)]
            | [E(_), N(_), W("link" | "unlink" | "links" | "notes")]
            | [E(_), N(_), W("notes"), N(_)]
            | [E(Kind::Lead), W("pipelines" | "complex"), ..]
    )
}
