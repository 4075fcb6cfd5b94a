//! `backfill --since DATE`: everything created since a date, batched at the API's limit.
//! Every failed entity is queued for `drain` (nothing is lost), the run is journaled, and
//! hook events that arrived meanwhile get a drain of their own.

use std::time::Instant;

use chrono::NaiveDate;
use serde::{Serialize, Serializer};
use serde_json::json;

use crate::crm::Crm as _;
use crate::engine::backfill::{BackfillOptions, Progress, Stopped};
use crate::engine::outbox::PARK_AFTER;
use crate::engine::{Action, Engine};
use crate::exit::{ExitStatus, Failure};
use crate::lock::{try_lock, LockKind};
use crate::rules::EntityKind;
use crate::store::Store;

use super::{Context, Ran};

/// What `backfill` was asked for.
pub struct BackfillRequest {
    /// The first day ([`parse_since`]).
    pub since: NaiveDate,
    /// Only this kind.
    pub only: Option<EntityKind>,
    /// Nothing written.
    pub dry_run: bool,
    /// Keep every entity's outcome (else failures only: a large run stays small).
    pub detailed: bool,
}

/// What a backfill did.
pub struct Backfilled {
    /// The report and the requests.
    pub ran: Ran,
    /// When it started (the printed duration runs to the print).
    pub started: Instant,
    /// The JSON summary, as journaled.
    pub summary: serde_json::Value,
    /// The exit status.
    pub status: ExitStatus,
    /// The error that ended it early, already journaled.
    pub error: Option<anyhow::Error>,
    /// The advice for that error.
    pub hint: Option<String>,
    /// True when that error is an outage that stopped the run ([`Stopped`]): what was sent
    /// before it is in the report.
    pub stopped: bool,
}

/// `--since` as a date; checked before the rule file is read.
pub fn parse_since(text: &str) -> anyhow::Result<NaiveDate> {
    Ok(
        NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
            Failure::usage(
                format!("`--since {text}` is not a date"),
                "write it as YYYY-MM-DD, e.g. `--since 2024-01-01`",
            )
        })?,
    )
}

/// The first creation date a backfill sends: `--since` when given, else the rule file's
/// `[sync] since`, the one go-live date cron's run reads; neither is a usage error.
pub fn first_day(
    given: Option<NaiveDate>,
    rules: &crate::rules::RuleSet,
) -> anyhow::Result<NaiveDate> {
    given.or(rules.file.sync.since).ok_or_else(|| {
        Failure::usage(
            "backfill needs a first creation date, and the rule file sets none",
            "set your go-live date once as `since = \"YYYY-MM-DD\"` under `[sync]` in the rule \
             file (cron's backfill reads it), or pass `--since YYYY-MM-DD`",
        )
        .into()
    })
}

/// The summary as `--json` prints it: with the error, its causes and its advice when an
/// outage stopped the run.
impl Serialize for Backfilled {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut v = self.summary.clone();
        match &self.error {
            None => v["ok"] = json!(self.status == ExitStatus::Ok),
            Some(e) => {
                v["ok"] = json!(false);
                v["exit_code"] = json!(self.status.code());
                v["error"] = json!(format!("{e}"));
                let causes: Vec<String> = e.chain().skip(1).map(|c| c.to_string()).collect();
                v["causes"] = json!(causes);
                v["hint"] = json!(self.hint);
            }
        }
        v.serialize(s)
    }
}

/// Peak resident memory of this process in KiB (Linux), for the summary and the benchmark.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Keeps the forms this run read for the next run, a few hundred at a time (a large
/// panel's forms are never all in memory at once).
fn keep_fresh_forms(
    store: &Store,
    billing: &dyn crate::billing::BillingSource,
) -> anyhow::Result<()> {
    let mut kept = Ok(());
    let mut batch = Vec::new();
    billing.each_fresh_form(&mut |f| {
        batch.push(f);
        if batch.len() >= 500 {
            if kept.is_ok() {
                kept = store.keep_panel_forms(&batch);
            }
            batch.clear();
        }
    });
    kept?;
    store.keep_panel_forms(&batch)?;
    Ok(())
}

/// The run lock. A drain started by a BILLmanager hook is short, so the backfill waits for
/// it (up to two minutes) instead of failing; any other holder (another backfill, a replay)
/// means exit 6 at once.
fn run_lock(store: &std::path::Path) -> anyhow::Result<crate::lock::FileLock> {
    match try_lock(store, LockKind::Run, "backfill") {
        Err(e) => match e.downcast_ref::<crate::lock::LockHeld>() {
            Some(held) if held.holder.contains("drain") => crate::lock::lock_within(
                store,
                LockKind::Run,
                "backfill",
                std::time::Duration::from_secs(120),
            ),
            _ => Err(e),
        },
        ok => ok,
    }
}

/// Runs a backfill, reporting progress to `progress`.
pub fn backfill(
    ctx: &Context,
    req: &BackfillRequest,
    progress: &dyn Progress,
) -> anyhow::Result<Backfilled> {
    let since = req.since;
    let (rules, store) = (&ctx.rules, &ctx.store);
    let run_lock = if req.dry_run {
        None
    } else {
        Some(run_lock(store.path())?)
    };
    let run = store.start_run("backfill")?;
    let started = Instant::now();
    let billing = ctx.billing()?;
    // Forms kept from earlier runs: read again only when a list row changed or they aged.
    let max_age = (rules.file.billmanager.form_max_age_hours * 3600) as i64;
    store.each_panel_form(max_age, &mut |f| billing.keep_form(f))?;
    let crm = ctx
        .batched_crm()?
        .with_in_flight(rules.file.amocrm.max_in_flight);
    let engine = Engine::new(rules, store, &crm, billing.as_ref(), req.dry_run)?;
    let opts = BackfillOptions {
        since,
        only: req.only,
        chunk: 500,
    };
    if !req.detailed {
        engine.summary_only();
    }
    // Notes and tasks queued before (by an earlier run that failed or died) go out too.
    let outcome = engine
        .backfill(&opts, progress)
        .and_then(|()| engine.flush_followups());
    let report = engine.report();
    let stats = crm.requests();
    keep_fresh_forms(store, billing.as_ref())?;
    // Nothing is lost: every failed entity is queued for `drain` / the next run.
    if !req.dry_run {
        for o in report
            .outcomes
            .iter()
            .filter(|o| o.action == Action::Failed)
        {
            // A rejection parks at once; anything else waits for the park threshold.
            store.outbox_failed(
                o.origin.0.as_str(),
                &o.origin.1,
                &o.detail,
                o.rejected,
                PARK_AFTER,
            )?;
        }
        for g in &report.unlinked {
            if let Some((kind, id)) = &g.requeue {
                store.outbox_failed(kind.as_str(), id, &g.reason, false, PARK_AFTER)?;
            }
        }
    }
    let ran = Ran { report, stats };
    let report = &ran.report;
    let mut summary = ran.summary();
    summary["since"] = json!(since.to_string());
    summary["seconds"] = json!((started.elapsed().as_secs_f64() * 100.0).round() / 100.0);
    summary["peak_rss_kib"] = json!(peak_rss_kib());
    let failures: Vec<_> = report
        .outcomes
        .iter()
        .filter(|o| o.action == Action::Failed)
        .map(|o| json!({"kind": o.kind, "key": o.key, "error": o.detail}))
        .collect();
    summary["failures"] = json!(failures);
    if !report.degraded.is_empty() {
        summary["degraded"] = json!(report.degraded);
    }
    if let Err(e) = outcome {
        let (status, hint) = crate::exit::classify(&e);
        let stopped = e.downcast_ref::<Stopped>().map(|s| json!(s.unsent));
        if let Some(unsent) = &stopped {
            summary["stopped"] = unsent.clone();
        }
        store.finish_run(run, status.code() as i32, &summary.to_string())?;
        return Ok(Backfilled {
            ran,
            started,
            summary,
            status,
            stopped: stopped.is_some(),
            error: Some(e),
            hint,
        });
    }
    let status = report.exit_status();
    store.finish_run(run, status.code() as i32, &summary.to_string())?;
    // Hook events that arrived while this run held the lock are pushed now, by a drain of
    // their own (its output must not mix with this summary).
    drop(run_lock);
    if !req.dry_run && !store.due_items(1)?.is_empty() {
        if let Err(e) = super::hook::spawn_drain(&rules.path) {
            crate::log::warn(&format!(
                "could not start a drain for queued events: {e}; cron's `drain` will push them"
            ));
        }
    }
    Ok(Backfilled {
        ran,
        started,
        summary,
        status,
        error: None,
        hint: None,
        stopped: false,
    })
}
