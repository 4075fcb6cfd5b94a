//! `replay-calls --days N`: fetch what Ringostat's call log holds for the period (when
//! `[calls.ringostat_api]` is set), store what is new with the same dedupe as webhooks,
//! then send every stored call amoCRM has not acknowledged, oldest first.

use std::io::IsTerminal;

use amocrm_bin::calls::calllog::{CallLog, CallLogError};
use amocrm_bin::calls::parse::parse_call_log_row;
use amocrm_bin::calls::{CallSetup, Format, PushOutcome};
use amocrm_bin::exit::{ExitStatus, Failure};
use amocrm_bin::lock::{try_lock, LockKind};
use amocrm_bin::rules::RingostatApi;
use amocrm_bin::store::{Intake, Store};
use chrono::TimeDelta;
use serde_json::json;

use super::push::{outcome_json, outcome_line, push_all, worst, Pushed};
use super::ReplayArgs;
use crate::cli::{context, Cli};

/// What reading the call log brought.
#[derive(Debug, Default)]
struct Fetched {
    /// Calls the call log returned.
    rows: usize,
    /// Stored now for the first time.
    new: usize,
    /// Already in the store (a webhook or an earlier replay brought them).
    known: usize,
    /// Of those, stored ones this row reported better (a call in progress now finished, an
    /// answered leg after a missed one): their stored report was replaced.
    updated: usize,
    /// Rows that could not be read (logged with the reason).
    unreadable: usize,
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
    cli: &Cli,
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
    let bar = (!cli.quiet && !cli.json && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new((to - from).num_seconds().max(1) as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "Ringostat call log {bar:30} {percent:>3}% {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let mut fetched_rows = 0usize;
    let rows = log
        .fetch_range(from, to, &mut |w, n| {
            fetched_rows += n;
            if let Some(b) = &bar {
                b.inc((w.to - w.from).num_seconds().max(0) as u64 + 1);
                b.set_message(format!("{fetched_rows} call(s), up to {}", w.to));
            }
        })
        .map_err(failure)?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
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
                amocrm_bin::log::warn(&format!("Ringostat call log: a row cannot be read: {why}"));
            }
        }
    }
    amocrm_bin::log::record(&format!(
        "replay-calls: call log {} row(s), {} new, {} already known, {} unreadable",
        out.rows, out.new, out.known, out.unreadable
    ));
    Ok(out)
}

/// Runs `replay-calls --days N`.
pub fn replay(cli: &Cli, args: &ReplayArgs) -> anyhow::Result<ExitStatus> {
    let rules = context::rules(cli)?;
    let store = context::store(&rules)?;
    let setup = CallSetup::from_rules(&rules)?;
    let _run = try_lock(store.path(), LockKind::Run, "replay-calls")?;
    // A call log that cannot be read (Ringostat down, the key refused) does not keep the
    // stored calls from being sent: its failure is reported, and sets the exit code, after.
    let (fetched, fetch_failed) = match &setup.calls.ringostat_api {
        Some(api) => match fetch(cli, api, &store, &setup, args.days) {
            Ok(f) => (Some(f), None),
            Err(e) => (None, Some(e.downcast::<Failure>()?)),
        },
        None => (None, None),
    };
    let since = amocrm_bin::store::now() - i64::from(args.days) * 86_400;
    let due: Vec<i64> = store
        .calls_unacknowledged(since)?
        .iter()
        .map(|c| c.id)
        .collect();
    let older = store.calls_unacknowledged(0)?.len() - due.len();
    let pushed = push_all(&rules, &store, &setup, &due);
    let count = |f: &dyn Fn(&Pushed) -> bool| pushed.iter().filter(|p| f(p)).count();
    let delivered = count(&|p| matches!(p.outcome, Ok(PushOutcome::Delivered { .. })));
    let skipped = count(&|p| matches!(p.outcome, Ok(PushOutcome::Skipped(_))));
    let failed = count(&|p| p.outcome.is_err());
    let (mut status, hint) = worst(&pushed).unwrap_or((ExitStatus::Ok, None));
    if status == ExitStatus::Ok && fetched.as_ref().is_some_and(|f| f.unreadable > 0) {
        status = ExitStatus::Partial;
    }
    if let Some(f) = &fetch_failed {
        status = status.max(f.status);
    }
    if cli.json {
        println!(
            "{}",
            json!({
                "ok": status == ExitStatus::Ok,
                "exit_code": status.code(),
                "days": args.days,
                "call_log_error": fetch_failed.as_ref().map(|f| json!({
                    "error": f.message, "hint": f.hint,
                })),
                "call_log": fetched.as_ref().map(|f| json!({
                    "fetched": f.rows, "new": f.new, "already_known": f.known,
                    "updated": f.updated, "unreadable": f.unreadable,
                })),
                "pushed": delivered,
                "delivered": delivered,
                "skipped": skipped,
                "failed": failed,
                "older_pending": older,
                "calls": pushed.iter().map(outcome_json).collect::<Vec<_>>(),
                "hint": hint,
            })
        );
    } else {
        for p in &pushed {
            println!("{}", outcome_line(p));
        }
        if !cli.quiet {
            if let Some(f) = &fetched {
                let mut notes = String::new();
                if f.updated > 0 {
                    notes.push_str(&format!(
                        " ({} of them reported better now and updated)",
                        f.updated
                    ));
                }
                if f.unreadable > 0 {
                    notes.push_str(&format!(", {} unreadable (see the log)", f.unreadable));
                }
                eprintln!(
                    "Ringostat call log, last {} day(s): {} fetched, {} new, {} already known{notes}",
                    args.days, f.rows, f.new, f.known
                );
            }
            eprintln!(
                "replay-calls --days {}: {} to send, {delivered} pushed, {skipped} skipped, {failed} still pending",
                args.days,
                due.len()
            );
            if older > 0 {
                eprintln!(
                    "{older} unacknowledged call(s) are older than {} day(s) and were not sent; use a larger --days to include them",
                    args.days
                );
            }
        }
        if let Some(h) = hint {
            eprintln!("hint: {h}");
        }
        if let Some(f) = &fetch_failed {
            eprintln!(
                "error: {} (the stored calls above were still sent)",
                f.message
            );
            if let Some(h) = &f.hint {
                eprintln!("hint: {h}");
            }
        }
    }
    Ok(status)
}
