//! `calls ingest` (stdin, `--file`, JSON lines, CGI), `calls list`, `calls reparse` and
//! `replay-calls`.
//!
//! Order of work, always: store → parse → store every event → answer (print, or the CGI
//! response) → push. A push failure never loses an event: it stays pending with its error
//! and `replay-calls --days N` sends it later, oldest first. An item that cannot be parsed
//! is stored as `unparsed` and read again by `calls reparse`.

use serde::{Serialize, Serializer};
use serde_json::{json, Value};

use crate::calls::{parse_body, CallSetup, Format};
use crate::exit::ExitStatus;
use crate::lock::{try_lock, LockKind};
use crate::store::StoredCall;

use super::Context;

pub mod cgi;
pub mod explain;
mod intake;
pub mod push;
pub mod replay;

pub use crate::store::{CallState, Intake};
pub use intake::{intake_word, Taken};
pub use push::{push_all, Pushed};

/// Stored calls as `calls list` shows them.
#[derive(Serialize)]
pub struct Listed {
    /// Always true.
    pub ok: bool,
    /// The calls, oldest first.
    pub calls: Vec<StoredCall>,
    /// The call-tracking setup (its time zone shows the times).
    #[serde(skip)]
    pub setup: CallSetup,
    /// Stored calls older than the window ([`crate::app::report::outside_window`]).
    pub older: u64,
}

/// The calls of the last `days` days (`pending`: only those amoCRM has not acknowledged,
/// and the items that could not be parsed).
pub fn list(ctx: &Context, days: u32, pending: bool) -> anyhow::Result<Listed> {
    let setup = CallSetup::from_rules(&ctx.rules)?;
    let to = crate::store::now() + 1;
    let from = to - 1 - i64::from(days) * 86_400;
    let calls = ctx
        .store
        .calls_between(from, to)?
        .into_iter()
        .filter(|c| !pending || matches!(c.call.state, CallState::Pending | CallState::Unparsed))
        .collect();
    Ok(Listed {
        ok: true,
        calls,
        setup,
        older: ctx.store.calls_before(from)?,
    })
}

/// Stores a body as received, before anything can fail on its content.
pub fn receive(ctx: &Context, body: &str) -> anyhow::Result<()> {
    ctx.store.call_body_received(body)?;
    Ok(())
}

/// A body taken in: each item stored (an event, or its text as `unparsed`).
pub struct Intaken {
    /// The call-tracking setup.
    pub setup: CallSetup,
    /// The items, in the body's order.
    pub taken: Vec<Taken>,
}

/// Stores a body's items. `Ok(Err(why))` when the body as a whole cannot be read (it is
/// then stored whole as one `unparsed` item).
pub fn take(
    ctx: &Context,
    setup: CallSetup,
    body: &str,
    format: Format,
) -> anyhow::Result<Result<Intaken, String>> {
    Ok(intake::take(&ctx.store, &setup, body, format)?.map(|taken| Intaken { setup, taken }))
}

/// What `calls ingest` did with a body taken in.
pub struct Ingested {
    /// The items.
    pub taken: Vec<Taken>,
    /// The pushes (none with `--no-push`).
    pub pushed: Vec<Pushed>,
    /// The exit status.
    pub status: ExitStatus,
    /// Advice.
    pub hint: Option<String>,
}

impl Serialize for Ingested {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let items: Vec<Value> = self
            .taken
            .iter()
            .map(|t| match &t.error {
                None => json!({"position": t.position, "call_id": t.call_id, "id": t.intake.id(), "intake": intake_word(t.intake)}),
                Some(e) => json!({"position": t.position, "error": e, "unparsed_id": t.intake.id()}),
            })
            .collect();
        json!({
            "ok": self.status == ExitStatus::Ok,
            "exit_code": self.status.code(),
            "items": items,
            "pushed": self.pushed.iter().map(push::outcome_json).collect::<Vec<_>>(),
            "hint": self.hint,
        })
        .serialize(s)
    }
}

/// The stored calls a body made pushable.
pub fn to_push(ctx: &Context, taken: &[Taken]) -> anyhow::Result<Vec<i64>> {
    intake::to_push(&ctx.store, &intake::parsed(taken))
}

/// Pushes what a body brought (unless `no_push`) within the ingest budget.
pub fn ingest(ctx: &Context, intaken: Intaken, no_push: bool) -> anyhow::Result<Ingested> {
    let ids = to_push(ctx, &intaken.taken)?;
    crate::calls::start_ingest_budget();
    let pushed = if no_push {
        Vec::new()
    } else {
        push_all(ctx, &intaken.setup, &ids)
    };
    let refused = intaken.taken.iter().filter(|t| t.error.is_some()).count();
    let (status, hint) = match push::worst(&pushed) {
        Some(w) => w,
        None if refused > 0 => (
            ExitStatus::Usage,
            Some("the refused items are kept as `unparsed`: fix `[calls.ringostat_keys]` and run `amocrm-bin calls reparse`, or send them again fixed; the others were stored".into()),
        ),
        None => (ExitStatus::Ok, None),
    };
    Ok(Ingested {
        taken: intaken.taken,
        pushed,
        status,
        hint,
    })
}

/// One stored item read again by `calls reparse`.
pub enum Reread {
    /// It is a call now.
    Read {
        /// The unparsed item's id.
        unparsed_id: i64,
        /// The provider's call id.
        call_id: String,
        /// What the store did with it.
        intake: Intake,
    },
    /// Still not readable.
    Still {
        /// The unparsed item's id.
        unparsed_id: i64,
        /// Why.
        error: String,
    },
}

/// What `calls reparse` did.
pub struct Reparsed {
    /// Every item, in order.
    pub items: Vec<Reread>,
    /// The pushes of what became calls.
    pub pushed: Vec<Pushed>,
    /// The exit status.
    pub status: ExitStatus,
    /// Advice.
    pub hint: Option<String>,
}

impl Reparsed {
    /// Items read now, as JSON.
    fn read(&self) -> Vec<Value> {
        self.items
            .iter()
            .filter_map(|r| match r {
                Reread::Read {
                    unparsed_id,
                    call_id,
                    intake,
                } => Some(
                    json!({"unparsed_id": unparsed_id, "call_id": call_id, "id": intake.id(), "intake": intake_word(*intake)}),
                ),
                Reread::Still { .. } => None,
            })
            .collect()
    }

    /// Items still not readable, as JSON.
    fn still(&self) -> Vec<Value> {
        self.items
            .iter()
            .filter_map(|r| match r {
                Reread::Still { unparsed_id, error } => {
                    Some(json!({"unparsed_id": unparsed_id, "error": error}))
                }
                Reread::Read { .. } => None,
            })
            .collect()
    }

    /// (read now, still unparsed).
    pub fn counts(&self) -> (usize, usize) {
        let still = self
            .items
            .iter()
            .filter(|r| matches!(r, Reread::Still { .. }))
            .count();
        (self.items.len() - still, still)
    }
}

impl Serialize for Reparsed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        json!({
            "ok": self.status == ExitStatus::Ok,
            "exit_code": self.status.code(),
            "reparsed": self.read(),
            "still_unparsed": self.still(),
            "pushed": self.pushed.iter().map(push::outcome_json).collect::<Vec<_>>(),
            "hint": self.hint,
        })
        .serialize(s)
    }
}

/// Reads the stored `unparsed` items again with the rule file as it is now, stores what they
/// turn out to be with the usual dedupe, then pushes (unless `no_push`).
pub fn reparse(ctx: &Context, no_push: bool) -> anyhow::Result<Reparsed> {
    let store = &ctx.store;
    let setup = CallSetup::from_rules(&ctx.rules)?;
    let _run = try_lock(store.path(), LockKind::Run, "calls reparse")?;
    let opts = setup.parse_options(Format::Auto, setup.now());
    let window = i64::from(setup.calls.dedup_window_secs);
    let mut items = Vec::new();
    let mut intakes = Vec::new();
    for row in store.calls_in_state(CallState::Unparsed)? {
        let events: Result<Vec<_>, String> = match parse_body(&row.call.raw, &opts) {
            Ok(parsed) => parsed.into_iter().map(|i| i.event).collect(),
            Err(e) => Err(e),
        };
        match events {
            Ok(events) => {
                let records: Vec<_> = events.iter().map(|e| setup.new_call(e)).collect();
                let done = store.call_reparsed(row.id, &records, window)?;
                for (e, i) in events.iter().zip(&done) {
                    crate::log::record(&format!(
                        "unparsed call {} re-parsed: {}:{} {}",
                        row.id,
                        e.provider,
                        e.call_id,
                        intake_word(*i)
                    ));
                    items.push(Reread::Read {
                        unparsed_id: row.id,
                        call_id: e.call_id.clone(),
                        intake: *i,
                    });
                }
                intakes.extend(done);
            }
            Err(why) => {
                store.call_unparsed_again(row.id, &why)?;
                items.push(Reread::Still {
                    unparsed_id: row.id,
                    error: why,
                });
            }
        }
    }
    let ids = intake::to_push(store, &intakes)?;
    let pushed = if no_push {
        Vec::new()
    } else {
        push_all(ctx, &setup, &ids)
    };
    let still = items.iter().any(|r| matches!(r, Reread::Still { .. }));
    let (status, hint) = match push::worst(&pushed) {
        Some(w) => w,
        None if still => (
            ExitStatus::Partial,
            Some("`amocrm-bin calls ingest --explain --file ITEM` shows which keys an item carries; map them in `[calls.ringostat_keys]`".into()),
        ),
        None => (ExitStatus::Ok, None),
    };
    Ok(Reparsed {
        items,
        pushed,
        status,
        hint,
    })
}
