//! `replay-calls --days N`: fetch what Ringostat's call log holds for the period (when
//! `[calls.ringostat_api]` is set), store what is new with the same dedupe as webhooks,
//! then send every stored call amoCRM has not acknowledged, oldest first.

use chrono::{NaiveDateTime, TimeDelta};
use serde::{Serialize, Serializer};
use serde_json::json;

use crate::calls::calllog::{CallLog, CallLogError};
use crate::calls::parse::parse_call_log_row;
use crate::calls::{CallSetup, Format, PushOutcome};
use crate::exit::{ExitStatus, Failure};
use crate::lock::{try_lock, LockKind};
use crate::rules::RingostatApi;
use crate::store::{Intake, Store};

use super::push::{outcome_json, worst, Pushed};
use super::{push_all, Context};

/// How reading the call log goes, for a progress bar.
pub enum FetchStep {
    /// Reading starts; the period is `secs` long.
    Start {
        /// Seconds in the period.
        secs: u64,
    },
    /// A window of `secs` seconds was read; `rows` so far, up to `up_to`.
    Window {
        /// Seconds in the window.
        secs: u64,
        /// Rows read so far.
        rows: usize,
        /// The window's end.
        up_to: NaiveDateTime,
    },
    /// Reading is over.
    Done,
}

/// What reading the call log brought.
#[derive(Debug, Default)]
pub struct Fetched {
    /// Calls the call log returned.
    pub rows: usize,
    /// Stored now for the first time.
    pub new: usize,
    /// Already in the store (a webhook or an earlier replay brought them).
    pub known: usize,
    /// Of those, stored ones this row reported better (a call in progress now finished, an
    /// answered leg after a missed one): their stored report was replaced.
    pub updated: usize,
    /// Rows that could not be read (logged with the reason).
    pub unreadable: usize,
}

fn failure(e: CallLogError) -> Failure {
    match &e {
        CallLogError::KeyMissing(var) => Failure::usage(
            e.to_string(),
            format!("export {var}=… with the project's Auth-key (Ringostat: Integration → API) in the environment of this job; never put the key in the rule file or on the command line"),
        ),
        CallLogError::KeyRefused(var, _) => Failure::new(
            ExitStatus::AuthNeeded,
            e.to_string(),
            Some(format!("check the key in `{var}` against Ringostat's cabinet (Integration → API) and `project_id` in `[calls.ringostat_api]`")),
        ),
        CallLogError::Unreachable(_) => Failure::new(
            ExitStatus::Unreachable,
            e.to_string(),
            Some("run `amocrm-bin replay-calls` again later; stored calls are not affected".into()),
        ),
    }
}

/// Reads the call log of the last `days` days into the store.
fn fetch(
    progress: &mut dyn FnMut(FetchStep),
    api: &RingostatApi,
    store: &Store,
    setup: &CallSetup,
    days: u32,
) -> anyhow::Result<Fetched> {
    let log = CallLog::from_settings(api).map_err(failure)?;
    let now = setup.now();
    let to = now.naive_local();
    // `days` whole windows: [to - N days + 1 s, to].
    let from = to - TimeDelta::days(i64::from(days)) + TimeDelta::seconds(1);
    progress(FetchStep::Start {
        secs: (to - from).num_seconds().max(1) as u64,
    });
    let mut fetched_rows = 0usize;
    let rows = log
        .fetch_range(from, to, &mut |w, n| {
            fetched_rows += n;
            progress(FetchStep::Window {
                secs: (w.to - w.from).num_seconds().max(0) as u64 + 1,
                rows: fetched_rows,
                up_to: w.to,
            });
        })
        .map_err(failure)?;
    progress(FetchStep::Done);
    let opts = setup.parse_options(Format::Ringostat, now);
    let mut out = Fetched {
        rows: rows.len(),
        ..Default::default()
    };
    for row in &rows {
        match parse_call_log_row(row, &opts) {
            Ok(e) => match setup.store(store, &e)? {
                Intake::New(_) => out.new += 1,
                Intake::Replaced(_) => {
                    out.known += 1;
                    out.updated += 1;
                }
                Intake::Duplicate { .. } => out.known += 1,
            },
            Err(why) => {
                out.unreadable += 1;
                crate::log::warn(&format!("Ringostat call log: a row cannot be read: {why}"));
            }
        }
    }
    crate::log::record(&format!(
        "replay-calls: call log {} row(s), {} new, {} already known, {} unreadable",
        out.rows, out.new, out.known, out.unreadable
    ));
    Ok(out)
}

/// What `replay-calls` did.
pub struct Replayed {
    /// The period, in days.
    pub days: u32,
    /// What the call log brought, when it is set up and answered.
    pub fetched: Option<Fetched>,
    /// Why the call log could not be read.
    pub fetch_failed: Option<Failure>,
    /// Calls of the period sent.
    pub due: usize,
    /// Unacknowledged calls older than the period (not sent).
    pub older: usize,
    /// Every call's push.
    pub pushed: Vec<Pushed>,
    /// The exit status.
    pub status: ExitStatus,
    /// Advice for the worst failure.
    pub hint: Option<String>,
}

impl Replayed {
    /// How many pushes match.
    pub fn count(&self, f: &dyn Fn(&Pushed) -> bool) -> usize {
        self.pushed.iter().filter(|p| f(p)).count()
    }

    /// Calls delivered.
    pub fn delivered(&self) -> usize {
        self.count(&|p| matches!(p.outcome, Ok(PushOutcome::Delivered { .. })))
    }

    /// Calls skipped.
    pub fn skipped(&self) -> usize {
        self.count(&|p| matches!(p.outcome, Ok(PushOutcome::Skipped(_))))
    }

    /// Calls still pending.
    pub fn failed(&self) -> usize {
        self.count(&|p| p.outcome.is_err())
    }
}

impl Serialize for Replayed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let delivered = self.delivered();
        json!({
            "ok": self.status == ExitStatus::Ok,
            "exit_code": self.status.code(),
            "days": self.days,
            "call_log_error": self.fetch_failed.as_ref().map(|f| json!({
                "error": f.message, "hint": f.hint,
            })),
            "call_log": self.fetched.as_ref().map(|f| json!({
                "fetched": f.rows, "new": f.new, "already_known": f.known,
                "updated": f.updated, "unreadable": f.unreadable,
            })),
            "pushed": delivered,
            "delivered": delivered,
            "skipped": self.skipped(),
            "failed": self.failed(),
            "older_pending": self.older,
            "calls": self.pushed.iter().map(outcome_json).collect::<Vec<_>>(),
            "hint": self.hint,
        })
        .serialize(s)
    }
}

/// Reads the call log of the last `days` days (reporting to `progress`), then sends every
/// unacknowledged call of the period.
pub fn replay(
    ctx: &Context,
    days: u32,
    progress: &mut dyn FnMut(FetchStep),
) -> anyhow::Result<Replayed> {
    let store = &ctx.store;
    let setup = CallSetup::from_rules(&ctx.rules)?;
    let _run = try_lock(store.path(), LockKind::Run, "replay-calls")?;
    // A call log that cannot be read (Ringostat down, the key refused) does not keep the
    // stored calls from being sent: its failure is reported, and sets the exit code, after.
    let (fetched, fetch_failed) = match &setup.calls.ringostat_api {
        Some(api) => match fetch(progress, api, store, &setup, days) {
            Ok(f) => (Some(f), None),
            Err(e) => (None, Some(e.downcast::<Failure>()?)),
        },
        None => (None, None),
    };
    let since = crate::store::now() - i64::from(days) * 86_400;
    let due: Vec<i64> = store
        .calls_unacknowledged(since)?
        .iter()
        .map(|c| c.id)
        .collect();
    let older = store.calls_unacknowledged(0)?.len() - due.len();
    let pushed = push_all(ctx, &setup, &due);
    let (mut status, hint) = worst(&pushed).unwrap_or((ExitStatus::Ok, None));
    if status == ExitStatus::Ok && fetched.as_ref().is_some_and(|f| f.unreadable > 0) {
        status = ExitStatus::Partial;
    }
    if let Some(f) = &fetch_failed {
        status = status.max(f.status);
    }
    Ok(Replayed {
        days,
        fetched,
        fetch_failed,
        due: due.len(),
        older,
        pushed,
        status,
        hint,
    })
}
