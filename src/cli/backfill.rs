//! `backfill --since DATE`: everything created since a date, batched at the API's limit.

use std::io::IsTerminal;
use std::time::Instant;

use amocrm_bin::app::backfill::{peak_rss_kib, BackfillRequest, Backfilled};
use amocrm_bin::app::{self, RequestStats};
use amocrm_bin::engine::backfill::{Progress, Silent};
use amocrm_bin::engine::report::Report;
use amocrm_bin::engine::Action;
use amocrm_bin::exit::ExitStatus;
use amocrm_bin::rules::EntityKind;
use chrono::NaiveDate;
use indicatif::{MultiProgress, ProgressBar, ProgressState, ProgressStyle};

use super::args::BackfillArgs;
use super::{output, Cli};

/// Progress bars per kind under a line saying the phase, drawn only when stderr is a
/// terminal.
struct Bars {
    multi: MultiProgress,
    bars: std::cell::RefCell<Vec<(EntityKind, ProgressBar)>>,
    phase: std::cell::OnceCell<ProgressBar>,
}

impl Progress for Bars {
    fn phase(&self, what: &'static str) {
        let line = self.phase.get_or_init(|| {
            let p = self.multi.add(ProgressBar::new_spinner());
            p.set_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            p.enable_steady_tick(std::time::Duration::from_millis(200));
            p
        });
        line.set_message(what);
    }

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
                        let _ = w.write_str(&eta_text(s.pos(), s.len(), s.elapsed(), s.eta()));
                    },
                )
                .progress_chars("=> "),
        );
        // What the bars count: the panel's clients (each makes its contacts and companies,
        // which the summary counts in rows of their own) and services (leads).
        bar.set_prefix(match kind {
            EntityKind::Lead => "services",
            _ => "clients",
        });
        self.bars.borrow_mut().push((kind, bar));
    }

    fn advance(&self, kind: EntityKind, n: u64) {
        if let Some((_, b)) = self.bars.borrow().iter().rev().find(|(k, _)| *k == kind) {
            b.inc(n);
        }
    }
}

/// How long a bar runs before it shows an ETA.
const ETA_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// Items per second as a whole number ("12/s", not "12.3456/s").
fn rate_text(per_sec: f64) -> String {
    format!("{}/s", per_sec.round() as u64)
}

/// " ETA 41s" once there is a rate to estimate from: none before the first item (it said
/// "ETA 0s" at 0/N), none in the first seconds (a first chunk read at panel speed is no rate
/// for the run) and none when done.
fn eta_text(
    pos: u64,
    len: Option<u64>,
    elapsed: std::time::Duration,
    eta: std::time::Duration,
) -> String {
    if pos > 0 && pos < len.unwrap_or(0) && elapsed >= ETA_AFTER {
        format!(" ETA {}s", eta.as_secs())
    } else {
        String::new()
    }
}

/// Runs `backfill`.
pub fn exec(cli: &Cli, args: &BackfillArgs) -> anyhow::Result<ExitStatus> {
    let given = args
        .since
        .as_deref()
        .map(app::backfill::parse_since)
        .transpose()?;
    let ctx = app::Context::open(&cli.config)?;
    let since = app::backfill::first_day(given, &ctx.rules)?;
    let show_bars = std::io::stderr().is_terminal() && !cli.quiet && !cli.json;
    let bars = Bars {
        multi: MultiProgress::new(),
        bars: Default::default(),
        phase: Default::default(),
    };
    let progress: &dyn Progress = if show_bars { &bars } else { &Silent };
    let req = BackfillRequest {
        since,
        only: args.entity.map(super::args::EntityArg::kind),
        dry_run: args.dry_run,
        detailed: cli.verbose > 0 || args.dry_run,
    };
    let done = app::backfill::backfill(&ctx, &req, progress);
    for (_, b) in bars.bars.borrow().iter() {
        b.finish();
    }
    if let Some(p) = bars.phase.get() {
        p.finish_and_clear();
    }
    let done = done?;
    match done.error {
        Some(ref e) if done.stopped && cli.json => {
            // The summary, with what was not sent, is the one JSON answer; the error and its
            // hint go to stderr as for any failure.
            let _ = super::report(e, false);
        }
        Some(e) => {
            // An outage stopped it: what was sent, before the error says what was not.
            // A failure: printed under `-q` too, so cron's mail says what was sent.
            if done.stopped {
                let report = &done.ran.report;
                println!("backfill since {since} stopped (amoCRM unreachable); sent before it:");
                print_counts(report, &done.ran.stats, done.started, "created", "updated");
                let queued = report
                    .outcomes
                    .iter()
                    .filter(|o| o.action == Action::Failed)
                    .count();
                println!(
                    "  {queued} entities whose request failed or was not sent are queued in the \
                     outbox (`amocrm-bin drain` or the next run sends them)"
                );
            }
            return Err(e);
        }
        None => {}
    }
    output::print_run(cli, &done, done.status, |b| text(cli, args, since, b))?;
    Ok(done.status)
}

/// The summary a person reads.
fn text(cli: &Cli, args: &BackfillArgs, since: NaiveDate, done: &Backfilled) {
    let ran = &done.ran;
    let (report, stats) = (&ran.report, &ran.stats);
    if cli.verbose > 0 || args.dry_run {
        // Each entity's line; the counts follow once, in the table below.
        output::entity_lines(cli, ran);
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
    print_counts(report, stats, done.started, created, updated);
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
    print_failed(report);
    if report.followups.any() {
        println!("  {}", report.followups.line());
    }
    for line in output::queued_lines(report) {
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
}

/// The per-kind counts and the request line of the summary.
fn print_counts(
    report: &Report,
    stats: &RequestStats,
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
fn print_failed(report: &Report) {
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
        let s = Duration::from_secs;
        assert_eq!(eta_text(0, Some(100), s(9), Duration::ZERO), "");
        assert_eq!(eta_text(10, Some(100), s(9), s(41)), " ETA 41s");
        assert_eq!(eta_text(10, Some(100), s(2), s(41)), "", "no rate yet");
        assert_eq!(eta_text(100, Some(100), s(9), Duration::ZERO), "");
    }
}
