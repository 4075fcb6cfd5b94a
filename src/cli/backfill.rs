//! `backfill --since DATE`: everything created since a date, batched at the API's limit.

use std::io::IsTerminal;
use std::time::Instant;

use amocrm_bin::crm::amo::AmoCrm;
use amocrm_bin::crm::Crm as _;
use amocrm_bin::engine::backfill::{BackfillOptions, Progress, Silent, Stopped};
use amocrm_bin::engine::outbox::PARK_AFTER;
use amocrm_bin::engine::{Action, Engine};
use amocrm_bin::exit::{ExitStatus, Failure};
use amocrm_bin::lock::{try_lock, LockKind};
use amocrm_bin::rules::EntityKind;
use indicatif::{MultiProgress, ProgressBar, ProgressState, ProgressStyle};
use serde_json::json;

use super::args::BackfillArgs;
use super::{context, output, Cli};

/// Progress bars per kind, drawn only when stderr is a terminal.
struct Bars {
    multi: MultiProgress,
    bars: std::cell::RefCell<Vec<(EntityKind, ProgressBar)>>,
}

impl Progress for Bars {
    fn start(&self, kind: EntityKind, total: u64) {
        let bar = self.multi.add(ProgressBar::new(total));
        bar.set_style(
            ProgressStyle::with_template("{prefix:>15} [{bar:30}] {pos}/{len} {rate}{eta_known}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = w.write_str(&rate_text(s.per_sec()));
                })
                .with_key(
                    "eta_known",
                    |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = w.write_str(&eta_text(s.pos(), s.len(), s.eta()));
                    },
                )
                .progress_chars("=> "),
        );
        // The summary's names: the client bar makes contacts and companies, the other leads.
        bar.set_prefix(match kind {
            EntityKind::Lead => "lead",
            _ => "contact/company",
        });
        self.bars.borrow_mut().push((kind, bar));
    }

    fn advance(&self, kind: EntityKind, n: u64) {
        if let Some((_, b)) = self.bars.borrow().iter().rev().find(|(k, _)| *k == kind) {
            b.inc(n);
        }
    }
}

/// Items per second as a whole number ("12/s", not "12.3456/s").
fn rate_text(per_sec: f64) -> String {
    format!("{}/s", per_sec.round() as u64)
}

/// " ETA 41s" once there is something to estimate from: none before the first item (it
/// said "ETA 0s" at 0/N) and none when done.
fn eta_text(pos: u64, len: Option<u64>, eta: std::time::Duration) -> String {
    if pos > 0 && pos < len.unwrap_or(0) {
        format!(" ETA {}s", eta.as_secs())
    } else {
        String::new()
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
    store: &amocrm_bin::store::Store,
    billing: &dyn amocrm_bin::billing::BillingSource,
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
fn run_lock(store: &std::path::Path) -> anyhow::Result<amocrm_bin::lock::FileLock> {
    match try_lock(store, LockKind::Run, "backfill") {
        Err(e) => match e.downcast_ref::<amocrm_bin::lock::LockHeld>() {
            Some(held) if held.holder.contains("drain") => amocrm_bin::lock::lock_within(
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

/// Runs `backfill`.
pub fn exec(cli: &Cli, args: &BackfillArgs) -> anyhow::Result<ExitStatus> {
    let since = chrono::NaiveDate::parse_from_str(args.since.trim(), "%Y-%m-%d").map_err(|_| {
        Failure::usage(
            format!("`--since {}` is not a date", args.since),
            "write it as YYYY-MM-DD, e.g. `--since 2024-01-01`",
        )
    })?;
    let rules = context::rules(cli)?;
    let store = context::store(&rules)?;
    let run_lock = if args.dry_run {
        None
    } else {
        Some(run_lock(store.path())?)
    };
    let run = store.start_run("backfill")?;
    let started = Instant::now();
    let billing = amocrm_bin::billing::open(&rules.file.billmanager)?;
    // Forms kept from earlier runs: read again only when a list row changed or they aged.
    let max_age = (rules.file.billmanager.form_max_age_hours * 3600) as i64;
    store.each_panel_form(max_age, &mut |f| billing.keep_form(f))?;
    let crm = AmoCrm::new(context::client(&rules, &store, true)?)
        .with_batch_size(rules.file.amocrm.batch_size)
        .with_in_flight(rules.file.amocrm.max_in_flight);
    let engine = Engine::new(&rules, &store, &crm, billing.as_ref(), args.dry_run)?;
    let opts = BackfillOptions {
        since,
        only: args.entity.map(super::args::EntityArg::kind),
        chunk: 500,
    };
    let show_bars = std::io::stderr().is_terminal() && !cli.quiet && !cli.json;
    let bars = Bars {
        multi: MultiProgress::new(),
        bars: Default::default(),
    };
    let progress: &dyn Progress = if show_bars { &bars } else { &Silent };
    if !(cli.verbose > 0 || args.dry_run) {
        engine.summary_only();
    }
    // Notes and tasks queued before (by an earlier run that failed or died) go out too.
    let outcome = engine
        .backfill(&opts, progress)
        .and_then(|()| engine.flush_followups());
    for (_, b) in bars.bars.borrow().iter() {
        b.finish();
    }
    let report = engine.report();
    let stats = crm.requests();
    keep_fresh_forms(&store, billing.as_ref())?;
    // Nothing is lost: every failed entity is queued for `drain` / the next run.
    if !args.dry_run {
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
    let mut summary = output::summary_json(&report, &stats);
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
        let (status, hint) = amocrm_bin::exit::classify(&e);
        let stopped = e.downcast_ref::<Stopped>().map(|s| json!(s.unsent));
        if let Some(unsent) = &stopped {
            summary["stopped"] = unsent.clone();
        }
        store.finish_run(run, status.code() as i32, &summary.to_string())?;
        if stopped.is_some() && cli.json {
            // The summary, with what was not sent, is the one JSON answer; the error and its
            // hint go to stderr as for any failure.
            let _ = super::report(&e, false);
            summary["ok"] = json!(false);
            summary["exit_code"] = json!(status.code());
            summary["error"] = json!(format!("{e}"));
            let causes: Vec<String> = e.chain().skip(1).map(|c| c.to_string()).collect();
            summary["causes"] = json!(causes);
            summary["hint"] = json!(hint);
            println!("{}", amocrm_bin::log::redact(&summary.to_string()));
            return Ok(status);
        }
        // An outage stopped it: what was sent, before the error says what was not.
        if stopped.is_some() && !cli.quiet {
            println!("backfill since {since} stopped (amoCRM unreachable); sent before it:");
            print_counts(&report, &stats, started, "created", "updated");
            let queued = report
                .outcomes
                .iter()
                .filter(|o| o.action == Action::Failed)
                .count();
            println!(
                "  {queued} entities whose request failed or was not sent are queued in the outbox \
                 (`amocrm-bin drain` or the next run sends them)"
            );
        }
        return Err(e);
    }
    let status = report.exit_status();
    store.finish_run(run, status.code() as i32, &summary.to_string())?;
    // Hook events that arrived while this run held the lock are pushed now, by a drain of
    // their own (its output must not mix with this summary).
    drop(run_lock);
    if !args.dry_run && !store.due_items(1)?.is_empty() {
        if let Err(e) = super::hook::spawn_drain(&cli.config) {
            amocrm_bin::log::warn(&format!(
                "could not start a drain for queued events: {e}; cron's `drain` will push them"
            ));
        }
    }
    if cli.json {
        summary["ok"] = json!(status == ExitStatus::Ok);
        println!("{}", amocrm_bin::log::redact(&summary.to_string()));
        return Ok(status);
    }
    if cli.verbose > 0 || args.dry_run {
        output::report(cli, &report, &stats)?;
    }
    println!(
        "backfill since {since}{}:",
        if args.dry_run {
            " (dry run, nothing written)"
        } else {
            ""
        }
    );
    let (created, updated) = if args.dry_run {
        ("to create", "to update")
    } else {
        ("created", "updated")
    };
    print_counts(&report, &stats, started, created, updated);
    println!(
        "  BILLmanager: {} calls ({} forms) in {:.1} s",
        report.panel.calls,
        report.panel.forms,
        report.panel.millis as f64 / 1000.0
    );
    if !(cli.verbose > 0 || args.dry_run) {
        for g in &report.unlinked {
            println!("  NOT LINKED {} {}: {}", g.kind.as_str(), g.key, g.reason);
        }
    }
    print_failed(&report);
    if report.followups.any() {
        println!("  {}", report.followups.line());
    }
    for line in output::queued_lines(&report) {
        println!("  {line}");
    }
    for d in &report.degraded {
        println!(
            "  NOT DONE {}: {} (the sync went on without it; {})",
            d.part, d.error, d.fix
        );
    }
    if let Some(line) = report.phoneless_line() {
        println!("  NO PHONE {line}");
    }
    Ok(status)
}

/// The per-kind counts and the request line of the summary.
fn print_counts(
    report: &amocrm_bin::engine::report::Report,
    stats: &amocrm_bin::crm::amo::RequestStats,
    started: Instant,
    created: &str,
    updated: &str,
) {
    for (kind, c) in report.counts() {
        println!(
            "  {:<8} {:>6} {created} {:>6} {updated} {:>6} unchanged {:>6} skipped {:>6} joined {:>6} failed {:>6} not linked",
            kind.as_str(), c.created, c.updated, c.unchanged, c.skipped, c.joined, c.failed, c.unlinked
        );
    }
    println!(
        "  requests: {} ({} writes, {} × 429, {} retries) in {:.1} s; peak memory {} KiB",
        stats.requests,
        stats.writes,
        stats.status_429,
        stats.retries,
        started.elapsed().as_secs_f64(),
        peak_rss_kib().unwrap_or(0)
    );
}

/// One line per failed entity, each queued in the outbox.
fn print_failed(report: &amocrm_bin::engine::report::Report) {
    for f in report
        .outcomes
        .iter()
        .filter(|o| o.action == Action::Failed)
    {
        println!(
            "  FAILED {} {}: {} (queued; `amocrm-bin drain` retries it)",
            f.kind.as_str(),
            f.key,
            f.detail
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{eta_text, rate_text};
    use std::time::Duration;

    #[test]
    fn progress_shows_whole_rates_and_no_eta_before_the_first_item() {
        assert_eq!(rate_text(12.3456), "12/s");
        assert_eq!(rate_text(0.0), "0/s");
        assert_eq!(eta_text(0, Some(100), Duration::ZERO), "");
        assert_eq!(eta_text(10, Some(100), Duration::from_secs(41)), " ETA 41s");
        assert_eq!(eta_text(100, Some(100), Duration::ZERO), "");
    }
}
