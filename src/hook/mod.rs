//! The BILLmanager addon hook, library side: from a handler invocation to the syncs to queue.
//!
//! BILLmanager runs an addon handler with no arguments, the request's parameters in the
//! environment (`PARAM_func`, `PARAM_elid`, `PARAM_sok`, `AUTH_USER`, `EVENT_TYPE`) and,
//! for `type="xml"` handlers, its XML document on stdin; the handler must print a valid XML
//! document and exit 0 (`docs/billmanager.md` §6). The binary's `hook` command echoes the
//! document first and only then calls [`decide`], a pure function from the invocation to
//! the outbox entries; the drain pushes them later. Nothing here touches amoCRM, the store
//! or the network, so it is cheap and testable.
//!
//! # Decisions, in order
//! 1. A `before` stage (`EVENT_TYPE`/`HANDLER_STAGE`) changes nothing yet: ignored.
//! 2. The function is looked up in the [`events::EventMap`]: ignored or unknown functions
//!    queue nothing (the log says which).
//! 3. A form opened without `sok` changes nothing: ignored.
//! 4. A document with a top-level `<error>` means the function failed: ignored.
//! 5. Ids: `PARAM_elid` (a group operation sends several, comma-separated), else the
//!    answer's `<id>` or `<elid>` (an object created by a submitted form).

pub mod events;
pub mod users;
pub mod xml;

use crate::rules::EventTarget;
use events::{EventMap, Lookup};
use xml::DocInfo;

/// The environment variable the detached drain can be switched off with (tests, debugging).
pub const NO_DRAIN_ENV: &str = "AMOCRM_BIN_HOOK_NO_DRAIN";

/// What the panel told the handler through the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    /// `PARAM_func`: the panel function that ran.
    pub func: String,
    /// `PARAM_elid`, when set and not empty.
    pub elid: Option<String>,
    /// `PARAM_sok` is set: a form was submitted.
    pub sok: bool,
    /// `EVENT_TYPE` (or the older `HANDLER_STAGE`): `before`, `after`, `final`, `action`.
    pub stage: Option<String>,
    /// `AUTH_USER`: the panel user who triggered it (for the log line).
    pub user: Option<String>,
}

impl Invocation {
    /// Reads the invocation through `get` (the process environment in production);
    /// `None` when `PARAM_func` is missing, i.e. this is not a handler call.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Option<Invocation> {
        let non_empty = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Some(Invocation {
            func: non_empty("PARAM_func")?,
            elid: non_empty("PARAM_elid"),
            sok: non_empty("PARAM_sok").is_some(),
            stage: non_empty("EVENT_TYPE").or_else(|| non_empty("HANDLER_STAGE")),
            user: non_empty("AUTH_USER"),
        })
    }

    /// The invocation as one log fragment; every value is made printable and short so a
    /// crafted parameter cannot forge log lines.
    pub fn describe(&self) -> String {
        let mut s = printable(&self.func);
        if let Some(e) = &self.elid {
            s.push_str(&format!(" elid={}", printable(e)));
        }
        if self.sok {
            s.push_str(" sok");
        }
        if let Some(st) = &self.stage {
            s.push_str(&format!(" stage={}", printable(st)));
        }
        if let Some(u) = &self.user {
            s.push_str(&format!(" user={}", printable(u)));
        }
        s
    }
}

/// One sync to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// What the id names.
    pub target: EventTarget,
    /// The BILLmanager id.
    pub id: String,
}

/// What the hook does with an invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Queue these syncs.
    Queue(Vec<Queued>),
    /// Nothing to do, and why (logged).
    Ignore(String),
}

/// Decides what an invocation queues (see the module docs for the order of the checks).
/// `doc` is the panel's document when it was well-formed.
pub fn decide(inv: &Invocation, doc: Option<&DocInfo>, map: &EventMap) -> Decision {
    let func = printable(&inv.func);
    if let Some(stage) = &inv.stage {
        if stage.eq_ignore_ascii_case("before") {
            return Decision::Ignore(format!(
                "`{func}` runs before the change; register the handler with after=\"yes\""
            ));
        }
    }
    let mapping = match map.lookup(&inv.func) {
        Lookup::Mapped(m) => m,
        Lookup::Ignored => return Decision::Ignore(format!("`{func}` is in `[hook] ignore`")),
        Lookup::Unknown => {
            return Decision::Ignore(format!(
                "unknown function `{func}`: no entity mapped; add it under `[hook.events]` if it \
                 changes a client, user, payer or service"
            ))
        }
    };
    if mapping.submit_only && !inv.sok {
        return Decision::Ignore(format!("`{func}` form opened, not submitted (no sok)"));
    }
    if doc.is_some_and(|d| d.error) {
        return Decision::Ignore(format!("`{func}` answered an error: nothing changed"));
    }
    let from_env: Vec<&str> = inv
        .elid
        .as_deref()
        .map(|e| {
            e.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let ids: Vec<&str> = if from_env.is_empty() {
        doc.and_then(|d| d.id.as_deref().or(d.elid.as_deref()))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .into_iter()
            .collect()
    } else {
        from_env
    };
    if ids.is_empty() {
        return Decision::Ignore(format!(
            "`{func}` carries no elid and its answer no <id>: nothing to sync"
        ));
    }
    let mut queued: Vec<Queued> = Vec::new();
    for id in ids {
        if !plausible_id(id) {
            return Decision::Ignore(format!(
                "`{func}` elid `{}` is not a BILLmanager id",
                printable(id)
            ));
        }
        let q = Queued {
            target: mapping.target,
            id: id.to_string(),
        };
        if !queued.contains(&q) {
            queued.push(q);
        }
    }
    Decision::Queue(queued)
}

/// BILLmanager ids are numbers; allow a little more (letters, `-`, `_`, `.`) but nothing
/// that could break a log line or a command line.
fn plausible_id(id: &str) -> bool {
    id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// At most 80 characters, control characters replaced with `?`.
pub fn printable(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(80)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn inv(pairs: &[(&str, &str)]) -> Invocation {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Invocation::from_env(|k| env.get(k).cloned()).unwrap()
    }

    fn queued(target: EventTarget, ids: &[&str]) -> Decision {
        Decision::Queue(
            ids.iter()
                .map(|id| Queued {
                    target,
                    id: id.to_string(),
                })
                .collect(),
        )
    }

    #[test]
    fn no_param_func_is_not_a_handler_call() {
        assert!(Invocation::from_env(|_| None).is_none());
        assert!(Invocation::from_env(|k| (k == "PARAM_func").then(|| " ".into())).is_none());
    }

    #[test]
    fn submitted_edit_queues_its_elid() {
        let map = EventMap::builtin();
        let i = inv(&[
            ("PARAM_func", "profile.edit"),
            ("PARAM_elid", "301"),
            ("PARAM_sok", "ok"),
        ]);
        assert_eq!(
            decide(&i, None, &map),
            queued(EventTarget::Company, &["301"])
        );
    }

    #[test]
    fn opened_form_before_stage_error_answer_and_unknown_function_queue_nothing() {
        let map = EventMap::builtin();
        let opened = inv(&[("PARAM_func", "account.edit"), ("PARAM_elid", "101")]);
        assert!(
            matches!(decide(&opened, None, &map), Decision::Ignore(w) if w.contains("not submitted"))
        );
        let before = inv(&[
            ("PARAM_func", "service.postopen"),
            ("PARAM_elid", "401"),
            ("EVENT_TYPE", "before"),
        ]);
        assert!(matches!(decide(&before, None, &map), Decision::Ignore(w) if w.contains("before")));
        let failed = inv(&[("PARAM_func", "service.postopen"), ("PARAM_elid", "401")]);
        let doc = DocInfo {
            error: true,
            ..Default::default()
        };
        assert!(
            matches!(decide(&failed, Some(&doc), &map), Decision::Ignore(w) if w.contains("error"))
        );
        let unknown = inv(&[("PARAM_func", "payment.add"), ("PARAM_elid", "9")]);
        assert!(
            matches!(decide(&unknown, None, &map), Decision::Ignore(w) if w.contains("unknown function"))
        );
    }

    #[test]
    fn group_operation_queues_each_id_once() {
        let map = EventMap::builtin();
        let i = inv(&[
            ("PARAM_func", "service.postsuspend"),
            ("PARAM_elid", "401, 402,401"),
        ]);
        assert_eq!(
            decide(&i, None, &map),
            queued(EventTarget::Lead, &["401", "402"])
        );
    }

    #[test]
    fn created_object_id_comes_from_the_answer() {
        let map = EventMap::builtin();
        let i = inv(&[("PARAM_func", "profile.edit"), ("PARAM_sok", "ok")]);
        let doc = DocInfo {
            root: "doc".into(),
            id: Some("305".into()),
            ..Default::default()
        };
        assert_eq!(
            decide(&i, Some(&doc), &map),
            queued(EventTarget::Company, &["305"])
        );
        assert!(matches!(decide(&i, None, &map), Decision::Ignore(w) if w.contains("no elid")));
    }

    #[test]
    fn hostile_values_are_neither_queued_nor_logged_raw() {
        let map = EventMap::builtin();
        let i = inv(&[
            ("PARAM_func", "service.postopen"),
            ("PARAM_elid", "1\nforged line"),
        ]);
        let Decision::Ignore(why) = decide(&i, None, &map) else {
            panic!("not an id");
        };
        assert!(!why.contains('\n'), "{why}");
        assert!(!inv(&[("PARAM_func", "x\ny")]).describe().contains('\n'));
    }
}
